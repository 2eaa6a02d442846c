-- Every JSON document a command prints (plan, show, validate, apply, status, log, run, rehearse)
-- carries format_version and conforms to its schema in docs/schema/, checked on real output:
-- offline for validate, plan and rehearse, against the emulator over 127.0.0.1 for the others.
local h = require("helpers")
local emu = require("emu_helper")
local schema = require("json_schema")
local cjson = require("cjson")

local function load_schema(name)
  return cjson.decode(h.slurp(h.src .. "/docs/schema/" .. name .. ".schema.json"))
end

local function conforms(name, text)
  local ok, doc = pcall(cjson.decode, text)
  assert.is_true(ok, name .. " output is not JSON: " .. tostring(text):sub(1, 300))
  assert.are.equal("1.0", doc.format_version, name)
  assert.are.same({}, schema.validate(load_schema(name), doc), name)
  return doc
end

local EXAMPLE = h.src .. "/examples/version-waves.lua"

describe("JSON documents", function()
  it("every schema is JSON with a title and format_version", function()
    for _, name in ipairs({ "plan", "validate", "apply", "status", "log", "run-event", "run-summary", "rehearse" }) do
      local s = load_schema(name)
      assert.is_string(s.title)
      assert.are.equal("1.0", s.properties.format_version.const, name)
    end
  end)

  it("validate, plan, show and rehearse offline", function()
    local code, out = h.run({ "validate", "--format", "json", EXAMPLE })
    assert.are.equal(0, code)
    conforms("validate", out)
    local bad = h.script('rollout "x" { product = "p", region = "cn-shanghai", firmware = "f", wave "w" { rate = 1 } }')
    code, out = h.run({ "validate", "--format", "json", bad })
    assert.are.equal(3, code)
    assert.is_true(#conforms("validate", out).diagnostics > 0)
    local dir = h.tmpdir()
    code, out = h.run({ "plan", "--offline", "--format", "json", "--now", "2026-12-01T00:00:00Z", "--out", dir .. "/p.json", EXAMPLE })
    assert.are.equal(0, code, out)
    conforms("plan", out)
    local code2, shown = h.run({ "show", "--format", "json", dir .. "/p.json" })
    assert.are.equal(0, code2)
    assert.are.equal(out, shown)
    code, out = h.run({ "rehearse", "--format", "json", h.src .. "/examples/rehearsal.lua", "--fleet",
      h.src .. "/examples/fleets/cameras-100k.lua", "--now", "2027-01-04T09:00:00+08:00", "--until", "1d" })
    assert.is_true(code == 0 or code == 1, out)
    conforms("rehearse", out)
    os.execute("rm -rf " .. h.shell_quote(dir))
  end)

  it("apply, status, log and run --once against the emulator", function()
    local e = emu.start{ fleet_file = h.src .. "/examples/fleets/camera.lua" }
    local dir = h.tmpdir()
    local env = e:env{ OTARUN_STATE = dir .. "/state.db" }
    local ok, err = pcall(function()
      local code, out, stderr = h.run({ "apply", "--auto-approve", "--format", "json", EXAMPLE }, { env = env })
      assert.are.equal(0, code, stderr)
      assert.are.equal("applied", conforms("apply", out).result)
      code, out, stderr = h.run({ "status", "--format", "json", EXAMPLE }, { env = env })
      assert.are.equal(0, code, stderr)
      assert.are.equal("running", conforms("status", out).rollouts[1].waves[1].state)
      code, out, stderr = h.run({ "log", "--format", "json", EXAMPLE }, { env = env })
      assert.are.equal(0, code, stderr)
      assert.is_true(#conforms("log", out).entries > 0)
      code, out, stderr = h.run({ "run", "--once", "--format", "json", EXAMPLE }, { env = env })
      assert.are.equal(0, code, stderr)
      local lines = {}
      for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.is_true(#lines > 1)
      -- event lines, then one summary document (docs/run.md)
      for i = 1, #lines - 1 do conforms("run-event", lines[i]) end
      local sum = conforms("run-summary", lines[#lines])
      assert.are.same({ "summary", 0 }, { sum.kind, sum.exit })
    end)
    e:stop()
    os.execute("rm -rf " .. h.shell_quote(dir))
    assert(ok, err)
  end)
end)
