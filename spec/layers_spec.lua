-- The layering of lua/otarun (docs/architecture.md, "Layers"), read from the tree itself: every
-- require of every module is checked against what its layer may require, so a module below the
-- command line that reaches up into cli/ or cmd/ (or a base module into the domain) fails here.
local ROOT = os.getenv("OTARUN_SRC") or "."

-- module file (relative to lua/otarun) -> its layer
local function layer_of(rel)
  local top = rel:match("^([^/]+)/") or rel:gsub("%.lua$", "")
  return top
end

-- What each layer must not require (the module names' second part: otarun.X...). Every layer but
-- the command line itself (a new folder too) must not require the command line.
local DOMAIN = { "lang", "plan", "apply", "run", "policy", "journal", "render", "notify" }
local FORBIDDEN = setmetatable({ cli = {}, cmd = {} }, { __index = function(t, l)
  local f = { cli = true, cmd = true }
  t[l] = f
  return f
end })
-- the base: the platform client, the state store and the small shared modules know no domain
for _, l in ipairs({ "platform", "state", "util", "json", "failure" }) do
  for _, d in ipairs(DOMAIN) do FORBIDDEN[l][d] = true end
end

-- The otarun modules a source text requires: require("x"), require "x", pcall(require, "x").
local function requires(text)
  local out = {}
  for line in text:gmatch("[^\n]*") do
    local code = line:gsub("%-%-.*$", "")
    for name in code:gmatch("require%s*%(?%s*[\"'](otarun%.[%w_.]+)[\"']") do out[#out + 1] = name end
    for name in code:gmatch("pcall%(%s*require%s*,%s*[\"'](otarun%.[%w_.]+)[\"']") do out[#out + 1] = name end
  end
  return out
end

-- The violations of one module. -> { "plan/x.lua requires otarun.cli.args" ... }
local function violations(rel, text)
  local bad = {}
  local forbidden = FORBIDDEN[layer_of(rel)]
  for _, name in ipairs(requires(text)) do
    local target = name:match("^otarun%.([%w_]+)")
    if forbidden[target] then bad[#bad + 1] = rel .. " requires " .. name end
  end
  return bad
end

local function tree()
  local files = {}
  local p = assert(io.popen("cd '" .. ROOT .. "/lua/otarun' && find . -name '*.lua' | sort"))
  for line in p:lines() do files[#files + 1] = line:gsub("^%./", "") end
  p:close()
  return files
end

describe("the Lua layers", function()
  it("finds the modules and their requires", function()
    local files = tree()
    assert.is_true(#files > 50, "only " .. #files .. " modules found under " .. ROOT .. "/lua/otarun")
    assert.are.same({ "otarun.cli.args", "otarun.cmd.run", "otarun.util" },
      requires('local a = require("otarun.cli.args")\nlocal ok, r = pcall(require, "otarun.cmd.run")\n'
        .. '-- require("otarun.plan") in a comment\nlocal u = require "otarun.util"'))
  end)

  it("flags a module below the command line that requires cli or cmd, and a base module that requires the domain", function()
    assert.are.same({ "run/x.lua requires otarun.cli.command" },
      violations("run/x.lua", 'local c = require("otarun.cli.command")'))
    assert.are.same({ "plan/x.lua requires otarun.cmd.plan" }, violations("plan/x.lua", 'require("otarun.cmd.plan")'))
    assert.are.same({ "state/x.lua requires otarun.plan.diff" }, violations("state/x.lua", 'require("otarun.plan.diff")'))
    assert.are.same({}, violations("cmd/x.lua", 'require("otarun.cli.command") require("otarun.plan")'))
    assert.are.same({ "newlayer/x.lua requires otarun.cli.args" }, violations("newlayer/x.lua", 'require("otarun.cli.args")'))
  end)

  it("holds for every module of lua/otarun", function()
    local bad = {}
    for _, rel in ipairs(tree()) do
      local fh = assert(io.open(ROOT .. "/lua/otarun/" .. rel, "rb"))
      local text = fh:read("a")
      fh:close()
      for _, v in ipairs(violations(rel, text)) do bad[#bad + 1] = v end
    end
    assert.are.same({}, bad)
  end)
end)
