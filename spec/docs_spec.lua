-- The reference cannot drift from the code: every field the validator accepts is described and in
-- docs/rollout.md with an example that validates, every option a command's parser accepts is in
-- its --help and docs/commands.md, the committed pages equal `otarun docs` output, and the man
-- page, completions and editor definitions are generated from the same tables.
local h = require("helpers")
local validate = require("otarun.core.validate")
local fields = require("otarun.cli.docs.fields")
local pages = require("otarun.cli.docs.pages")
local commands = require("otarun.cli.docs.commands")

local function read(path) return h.slurp(h.src .. "/" .. path) end

local function check_script(text)
  local path = h.script(text)
  local pipeline = require("otarun.plan.pipeline")
  local res = assert(pipeline.check({ path }, pipeline.context({ now = "2026-11-30T00:00:00Z" })))
  os.remove(path)
  return res
end

local function errors_of(res)
  local out = {}
  for _, d in ipairs(res.diagnostics) do
    if d.severity == "error" then out[#out + 1] = d.rule .. ": " .. d.message end
  end
  return out
end

-- A rollout around one documented example.
local function rollout_with(tname, example, context)
  local rollout_fields = 'product = "a1Le6d0abcd", region = "cn-shanghai", firmware = "fwDoc0001",'
  local wave = 'wave "w" { versions = { "2.3.1" } },'
  if tname == "rollout" then
    rollout_fields = rollout_fields:gsub(example:match("^(%w+) =") .. ' = [^,]*,', "") .. example .. ","
    if example:match("^firmware") then rollout_fields = rollout_fields:gsub('firmware = "fwDoc0001",', "") end
  elseif tname == "firmware" then
    rollout_fields = 'product = "a1Le6d0abcd", region = "cn-shanghai", firmware = firmware { id = "fwDoc0001", '
      .. (example:match("^id =") and "" or example) .. " },"
  else
    wave = (context and ('wave "' .. context .. '" { versions = { "2.3.1" } },') or "") .. 'wave "w" { ' .. example .. " },"
  end
  return 'rollout "doc" { ' .. rollout_fields .. "\n" .. wave .. " }"
end

-- How the old texts pointed at the build contract outside the repository (spelt in two pieces so
-- this check does not match itself).
local OUTSIDE_CONTRACT = "SPEC " .. "\u{A7}"

describe("docs: the rollout language", function()
  it("describes every field the validator accepts, and no other", function()
    assert.are.same({}, pages.field_problems())
    local f = validate.fields()
    for _, t in ipairs(fields.TABLES) do
      assert.is_true(#f[t[1]] > 0, t[1])
    end
  end)

  it("documents every validator field in docs/rollout.md", function()
    local doc = read("docs/rollout.md")
    local f = validate.fields()
    for _, t in ipairs(fields.TABLES) do
      for _, name in ipairs(f[t[1]]) do
        assert.is_truthy(doc:find("### " .. t[1] .. " `" .. name .. "`", 1, true),
          t[1] .. " field " .. name .. " is missing from docs/rollout.md (run otarun docs --write .)")
      end
    end
    for wave_field, param in pairs(f.params) do
      if param ~= wave_field then assert.is_truthy(doc:find(param, 1, true), param) end
    end
  end)

  it("has an example for every field that validates", function()
    for _, t in ipairs(fields.TABLES) do
      for name, d in pairs(fields[t[1]]) do
        local script = rollout_with(t[1], d.example, d.context)
        local res = check_script(script)
        assert.are.same({}, errors_of(res), t[1] .. "." .. name .. ": " .. script)
        assert.is_truthy(d.text and d.type and d.default, t[1] .. "." .. name)
      end
    end
  end)

  it("lists exactly the allowed values the validator accepts", function()
    for _, t in ipairs({ "wave", "firmware", "retry" }) do
      for name, d in pairs(fields[t]) do
        if d.allowed then
          for _, v in ipairs(d.allowed) do
            local lit = type(v) == "string" and string.format("%q", v) or tostring(v)
            local ex = t == "retry" and ('versions = { "2.3.1" }, retry = { interval = 10, count = 2, ' .. name .. " = " .. lit .. " }")
              or t == "firmware" and (name .. " = " .. lit .. (v == "diff" and ', src_version = "2.3.1"' or ""))
              or ('versions = { "2.3.1" }, ' .. name .. " = " .. lit)
            if t == "retry" and name == "interval" then ex = ex:gsub("interval = 10, ", "") end
            if t == "retry" and name == "count" then ex = ex:gsub("count = 2, ", "") end
            if name == "overwrite" or name == "mode" then ex = ex end
            local res = check_script(rollout_with(t, ex))
            local errs = errors_of(res)
            for _, e in ipairs(errs) do
              assert.is_falsy(e:match("^field%-type") or e:match("values"), t .. "." .. name .. " = " .. lit .. ": " .. e)
            end
          end
          local bad = type(d.allowed[1]) == "string" and '"bogus"' or "7"
          local ex = t == "retry" and ('versions = { "2.3.1" }, retry = { interval = 10, count = 2, ' .. name .. " = " .. bad .. " }")
            or t == "firmware" and (name .. " = " .. bad) or ('versions = { "2.3.1" }, ' .. name .. " = " .. bad)
          if t == "retry" then ex = ex:gsub(name .. " = %d+, ", "", 1) end
          local errs = table.concat(errors_of(check_script(rollout_with(t, ex))), "\n")
          assert.is_truthy(errs ~= "", t .. "." .. name .. " = " .. bad .. " should be refused")
          for _, v in ipairs(d.allowed) do
            assert.is_truthy(errs:find(tostring(v), 1, true), t .. "." .. name .. ": the validator's message does not list " .. tostring(v) .. ": " .. errs)
          end
        end
      end
    end
  end)
end)

describe("docs: the command line", function()
  it("has every option a command's parser accepts in its --help", function()
    for _, c in ipairs(commands.list()) do
      for _, o in ipairs(c.option_names) do
        assert.is_truthy(c.help:find(o, 1, true), "otarun " .. c.name .. " accepts " .. o .. " but its --help does not say so")
      end
      assert.is_falsy(c.help:find(OUTSIDE_CONTRACT, 1, true), "otarun " .. c.name .. " --help points outside the repository")
    end
  end)

  it("describes every common option and puts every option in docs/commands.md", function()
    local doc = read("docs/commands.md")
    for _, o in ipairs(commands.common_names()) do
      assert.is_truthy(commands.COMMON_HELP[o], o .. " has no description in lua/otarun/cli/docs/commands.lua")
      assert.is_truthy(doc:find("`" .. o, 1, true), o)
    end
    for _, c in ipairs(commands.list()) do
      assert.is_truthy(doc:find("## otarun " .. c.name, 1, true), c.name)
      for _, o in ipairs(c.option_names) do assert.is_truthy(doc:find("`" .. o .. "`", 1, true), c.name .. " " .. o) end
    end
    for _, code in ipairs({ 0, 1, 2, 3, 4, 5, 64 }) do assert.is_truthy(doc:find("| " .. code .. " |", 1, true), code) end
  end)

  it("commits exactly what otarun docs generates", function()
    local code, _, err = h.run({ "docs", "--check", h.src })
    assert.are.equal(0, code, err)
  end)

  it("renders a man page with every command and option", function()
    local code, man = h.run({ "docs", "--man" })
    assert.are.equal(0, code)
    assert.is_truthy(man:match("^%.TH OTARUN 1"))
    for _, c in ipairs(commands.list()) do
      assert.is_truthy(man:find(".SH OTARUN " .. c.name:upper(), 1, true), c.name)
      for _, o in ipairs(c.option_names) do assert.is_truthy(man:find(o:gsub("%-", "\\-"), 1, true), o) end
    end
    if os.execute("command -v man >/dev/null 2>&1") then
      local path = h.write(os.tmpname(), man)
      local p = io.popen("MANWIDTH=100 man --warnings -l " .. h.shell_quote(path) .. " 2>&1 >/dev/null")
      local warnings = p:read("a")
      p:close()
      os.remove(path)
      assert.are.equal("", warnings)
    end
  end)

  it("points at docs/, not at documents outside the repository", function()
    for _, path in ipairs({ "README.md", "policies/README.md", "docs/rollout.md", "docs/commands.md",
                            "docs/editor.md", "docs/ci.md", "docs/install.md", "docs/json.md", "docs/emulator.md" }) do
      assert.is_falsy(read(path):find(OUTSIDE_CONTRACT, 1, true), path)
    end
  end)
end)

describe("docs: validation rules", function()
  -- Rule ids as the code reports them: the validator's vx_diag calls, the platform checks'
  -- diag calls, the script loader's diagnostics.
  local function code_rules()
    local rules = {}
    local function scan(path, pattern)
      for rule in h.slurp(h.src .. "/" .. path):gmatch(pattern) do rules[rule] = path end
    end
    local p = io.popen("cd " .. h.shell_quote(h.src) .. " && ls src/validate*.c")
    for path in p:read("a"):gmatch("[^\n]+") do scan(path, 'vx_diag%(c,%s*VALIDATE_%u+,%s*"([%w%-]+)"') end
    p:close()
    scan("lua/otarun/plan/platform_checks.lua", 'diag%(out,%s*[%w_]+,%s*[%w_]+,%s*"([%w%-]+)"')
    scan("lua/otarun/lang/script.lua", 'diagnostic%("([%w%-]+)"')
    scan("lua/otarun/lang/script.lua", 'rule = "([%w%-]+)"')
    return rules
  end

  it("lists every rule id the code reports in docs/validation.md", function()
    local doc = read("docs/validation.md")
    local n = 0
    for rule, path in pairs(code_rules()) do
      n = n + 1
      assert.is_truthy(doc:find("`" .. rule .. "`", 1, true), rule .. " (reported in " .. path .. ") is missing from docs/validation.md")
    end
    assert.is_true(n >= 30, "found only " .. n .. " rule ids in the code")
  end)
end)

describe("docs: policies and fleets", function()
  it("documents every rule kind and policy field in policies/README.md", function()
    local doc = read("policies/README.md")
    for _, k in ipairs(require("otarun.core.policy").kinds()) do
      assert.is_truthy(doc:find("`" .. k .. "`", 1, true), k)
    end
    for _, f in ipairs(require("otarun.policy.loader").FIELDS) do
      assert.is_truthy(doc:find(f .. " =", 1, true), f)
    end
  end)

  it("documents every fleet field in docs/fleet.md", function()
    local doc = read("docs/fleet.md")
    for k in pairs(require("otarun.emulator.fleet").FIELDS) do assert.is_truthy(doc:find("`" .. k .. "`", 1, true), k) end
  end)
end)

describe("docs: editor definitions", function()
  it("are a Lua chunk annotating every field of every language", function()
    local code, text = h.run({ "docs", "--definitions" })
    assert.are.equal(0, code)
    assert.is_truthy(load(text, "=definitions", "t"))
    assert.is_truthy(text:match("^%-%-%-@meta"))
    local f = validate.fields()
    local classes = require("otarun.cli.docs.definitions").CLASS
    for _, t in ipairs(fields.TABLES) do
      local class = text:match("\n%-%-%-@class " .. classes[t[1]]:gsub("%.", "%%.") .. "[^\n]*\n(.-)\n\n")
      assert.is_truthy(class, t[1])
      for _, name in ipairs(f[t[1]]) do
        assert.is_truthy(class:find("---@field " .. name .. "?", 1, true) or class:find("---@field " .. name .. " ", 1, true),
          t[1] .. "." .. name)
      end
    end
    for _, k in ipairs(require("otarun.core.policy").kinds()) do assert.is_truthy(text:find("---@field " .. k .. "?", 1, true), k) end
    for _, fn in ipairs({ "rollout", "wave", "firmware", "policy", "fleet" }) do
      assert.is_truthy(text:find("\nfunction " .. fn .. "(", 1, true), fn)
    end
    assert.is_truthy(text:find("\nvar = {}", 1, true))
  end)
end)
