-- Stable JSON (docs/json.md): two identical runs give identical bytes (plan offline and against the
-- emulator, `run --once` against two emulators started alike); API parameters hold typed
-- references, never placeholder text; waiting waves carry typed wait conditions in plan, status and
-- run's summary; `run --once --format json` always ends with one summary document, also when
-- there was nothing to do.
local h = require("helpers")
local emu = require("emu_helper")
local cjson = require("cjson")

local EXAMPLE = h.src .. "/examples/version-waves.lua"
local FLEET = h.src .. "/examples/fleets/camera.lua"
local NOW = "2026-12-01T00:00:00Z"
-- two dynamic waves: the second cancels the first's strategy
local PAIR = h.script([[
rollout "pair" {
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = firmware { id = "nx3xxVvFdwvn6dim50PY03", version = "2.4.0", verified = true },
  wave "one" { versions = { "2.3.1" }, rate = 10 },
  wave "two" { versions = { "2.3.0" }, rate = 10 },
}
]])

local function lines_of(out)
  local lines = {}
  for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
  return lines
end

-- Runs fn(env, e, dir) against a fresh emulator and state store; stops and cleans up after.
local function with_emulator(fn)
  local e = emu.start{ fleet_file = FLEET }
  local dir = h.tmpdir()
  local ok, res = pcall(fn, e:env{ OTARUN_STATE = dir .. "/state.db" }, e, dir)
  e:stop()
  os.execute("rm -rf " .. h.shell_quote(dir))
  assert(ok, res)
  return res
end

describe("stable JSON", function()
  it("plan --format json gives the same bytes twice, offline and against the emulator", function()
    local argv = { "plan", "--offline", "--format", "json", "--now", NOW, EXAMPLE }
    local c1, a = h.run(argv)
    local c2, b = h.run(argv)
    assert.are.same({ 0, 0 }, { c1, c2 })
    assert.are.equal(a, b)
    with_emulator(function(env)
      local live = { "plan", "--format", "json", "--now", NOW, EXAMPLE }
      local d1, x, err = h.run(live, { env = env })
      assert.are.equal(0, d1, err)
      local d2, y = h.run(live, { env = env })
      assert.are.equal(0, d2)
      assert.are.equal("live", cjson.decode(x).mode)
      assert.are.equal(x, y)
    end)
  end)

  it("run --once --format json gives the same bytes from the same start", function()
    local function once()
      return with_emulator(function(env)
        local code, out, err = h.run({ "run", "--once", "--format", "json", "--now", NOW, EXAMPLE }, { env = env })
        assert.are.equal(0, code, err)
        return out
      end)
    end
    local a, b = once(), once()
    assert.are.equal(a, b)
    local lines = lines_of(a)
    assert.matches('"kind":"start"', lines[1], 1, true)
    local sum = cjson.decode(lines[#lines])
    assert.are.same({ "summary", 0, NOW }, { sum.kind, sum.exit, sum.at })
    -- the key order is the documented one (docs/json.md)
    assert.matches('^{"format_version":"1.0","kind":"summary","at":', lines[#lines])
    local w = sum.rollouts[1].waves
    assert.are.same({ "running", "waiting", "waiting" }, { w[1].status, w[2].status, w[3].status })
    assert.are.same({ { kind = "gate", wave = "canary" } }, w[2].waiting_for)
    assert.are.same({}, w[1].waiting_for)
    assert.are.same({}, sum.errors)
  end)

  it("run --once --format json prints the summary when there is nothing to do", function()
    local script = h.script([[
rollout "later" {
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = firmware { id = "nx3xxVvFdwvn6dim50PY03", version = "2.4.0", verified = true },
  wave "first" { versions = { "2.3.1" }, rate = 10, start = "2026-12-20T00:00:00Z" },
}
]])
    with_emulator(function(env, e)
      local code, out, err = h.run({ "run", "--once", "--format", "json", "--now", NOW, script }, { env = env })
      assert.are.equal(0, code, err)
      local lines = lines_of(out)
      assert.are.equal(1, #lines, out)
      local sum = cjson.decode(lines[1])
      assert.are.same({ "summary", 0, false, false }, { sum.kind, sum.exit, sum.rollouts[1].halted, sum.rollouts[1].done })
      assert.are.same({ { kind = "start", at = "2026-12-20T00:00:00Z" } }, sum.rollouts[1].waves[1].waiting_for)
      assert.are.equal("start at 2026-12-20T00:00:00Z", sum.rollouts[1].waves[1].reason)
      assert.are.equal(0, #e:jobs())
    end)
  end)

  it("run --once --format json ends with exit 1 and the errors when the platform refuses", function()
    with_emulator(function(env)
      env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = "wrong-secret"
      local code, out = h.run({ "run", "--once", "--format", "json", "--now", NOW, EXAMPLE }, { env = env })
      assert.are.equal(1, code)
      local lines = lines_of(out)
      local sum = cjson.decode(lines[#lines])
      assert.are.same({ "summary", 1 }, { sum.kind, sum.exit })
      assert.is_true(#sum.errors > 0)
      assert.is_string(sum.errors[1].text)
      assert.is_nil(out:find("wrong-secret", 1, true))
    end)
  end)

  it("status --format json carries the wait conditions in next", function()
    with_emulator(function(env)
      local code, _, err = h.run({ "apply", "--auto-approve", EXAMPLE }, { env = env })
      assert.are.equal(0, code, err)
      local out
      code, out, err = h.run({ "status", "--format", "json", EXAMPLE }, { env = env })
      assert.are.equal(0, code, err)
      local w = cjson.decode(out).rollouts[1].waves
      assert.are.same({}, w[1].next.waiting_for)
      assert.are.same({ { kind = "gate", wave = "canary" } }, w[2].next.waiting_for)
      local kinds = {}
      for i, c in ipairs(w[3].next.waiting_for) do kinds[i] = c.kind end
      assert.are.same({ "gate", "delay", "window", "approval" }, kinds)
    end)
  end)

  it("a saved plan's references survive show; once the job exists the plan names it by id", function()
    with_emulator(function(env, _, dir)
      local path = dir .. "/p.json"
      local code, out, err = h.run({ "plan", "--format", "json", "--out", path, PAIR }, { env = env })
      assert.are.equal(0, code, err)
      local cancel = cjson.decode(out).rollouts[1].waves[2].calls[1]
      assert.are.same({ "CancelOTAStrategyByJob", { ref = "job", wave = "one" } }, { cancel.action, cancel.params.JobId })
      local shown
      code, shown = h.run({ "show", "--format", "json", path })
      assert.are.equal(0, code)
      assert.are.equal(out, shown)
      code, shown = h.run({ "show", path })
      assert.matches('JobId = (job of wave "one")', shown, 1, true)
      code, out, err = h.run({ "apply", "--auto-approve", path }, { env = env })
      assert.are.equal(0, code, out .. err)
      code, out, err = h.run({ "plan", "--format", "json", PAIR }, { env = env })
      assert.are.equal(0, code, err)
      local w = cjson.decode(out).rollouts[1].waves
      assert.is_string(w[1].job_id)
      assert.are.equal(w[1].job_id, w[2].calls[1].params.JobId)
    end)
  end)

  it("apply puts the job created earlier in the same apply in place of a reference", function()
    with_emulator(function(_, e, dir)
      local pipeline = require("otarun.plan.pipeline")
      local ctx = pipeline.context({})
      ctx.mode = "offline"
      local res = assert(pipeline.plan({ PAIR }, ctx))
      assert(res.ok, "invalid test script")
      local plan = res.plan
      local two = plan.rollouts[1].waves[2]
      assert.is_true(require("otarun.plan.calls").is_ref(two.calls[1].params.JobId))
      two.action, two.status = "create", "ready" -- as if both were due in one apply
      local apply = require("otarun.apply")
      local st = assert(require("otarun.state").open{ state = dir .. "/s.db", command = "apply" })
      assert(st:lock(0))
      assert(apply.record_rollouts(st, plan))
      local c = e:client()
      local report = apply.execute(st, plan, { client_for = function() return c end })
      assert.are.same({}, report.errors)
      local one_job = report.jobs["pair/one"]
      assert.is_string(one_job)
      local sent
      for _, i in ipairs(st:list("intents")) do
        if i.action == "CancelOTAStrategyByJob" then sent = i.params end
      end
      assert.matches('"JobId":"' .. one_job .. '"', sent, 1, true)
      -- wave two alone: its reference cannot be resolved, and nothing is sent for it
      plan.rollouts[1].waves[1].action = "none"
      plan.rollouts[1].waves[1].job_id = nil
      report = apply.execute(st, plan, { client_for = function() return c end })
      assert.are.equal(1, #report.errors)
      assert.matches('pair/two: CancelOTAStrategyByJob needs the job of wave "one", which this apply did not create',
        report.errors[1], 1, true)
      c:close()
      st:close()
    end)
  end)

  it("a saved plan with a malformed reference is refused, naming the parameter", function()
    local dir = h.tmpdir()
    local path = dir .. "/p.json"
    local code, out = h.run({ "plan", "--offline", "--format", "json", "--now", NOW, "--out", path, EXAMPLE })
    assert.are.equal(0, code, out)
    local text = h.slurp(path):gsub('"ref": "job"', '"ref": "jobb"', 1)
    h.write(path, text)
    local err
    code, out, err = h.run({ "show", path })
    os.execute("rm -rf " .. h.shell_quote(dir))
    assert.are.equal(1, code, out)
    assert.matches("camera%-2%.4%.0/%S+ %S+ JobId: a parameter object must be a reference", err)
  end)
end)
