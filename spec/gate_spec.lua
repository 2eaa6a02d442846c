-- Health gates: judging counts against a gate (pure), check functions in the sandbox, describing a
-- reading for status, and reading counts from a real in-process emulator through the local
-- transport, with the cost of a reading independent of the fleet size.
local gate = require("otarun.run.gate")
local emulator = require("otarun.emulator")
local tl = require("otarun.platform.transport_local")

local T0 = 1798761600 -- 2027-01-01T00:00:00Z

local function counts(s, f, extra)
  local c = { succeeded = s, failed = f }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

describe("gate.evaluate", function()
  local G = { soak = 3600, min_devices = 50, min_success = 0.98, max_failed_ratio = 0.02 }

  it("passes with no gate", function()
    assert.are.equal("pass", (gate.evaluate(counts(0, 0), nil, {})))
  end)

  it("waits for soak and for min_devices, naming both", function()
    local v, why = gate.evaluate(counts(10, 0, { queued = 40 }), G, { now = T0 + 600, started_at = T0 })
    assert.are.equal("wait", v)
    assert.matches("soaking until 1h after the start", why, 1, true)
    assert.matches("10 of 50 devices finished (40 pending)", why, 1, true)
  end)

  it("passes once soak elapsed, enough devices finished and every threshold holds", function()
    local v, why, checks = gate.evaluate(counts(99, 1), G, { now = T0 + 3600, started_at = T0 })
    assert.are.equal("pass", v, why)
    assert.are.equal(4, #checks)
    for _, c in ipairs(checks) do assert.is_true(c.ok, c.text) end
  end)

  it("does not judge ratios before min_devices finished", function()
    local v = gate.evaluate(counts(5, 5), G, { now = T0, started_at = T0 })
    assert.are.equal("wait", v)
  end)

  it("trips on a ratio as soon as min_devices finished, even while soaking", function()
    local v, why = gate.evaluate(counts(40, 10), G, { now = T0 + 60, started_at = T0 })
    assert.are.equal("fail", v)
    assert.matches("10 of 50 finished devices failed (20%), more than max_failed_ratio = 2%", why, 1, true)
    assert.matches("40 of 50 finished devices succeeded (80%), less than min_success = 98%", why, 1, true)
  end)

  it("trips on max_failed at once, whatever min_devices says", function()
    local v, why = gate.evaluate(counts(1, 3), { max_failed = 2, min_devices = 100 }, { now = T0, started_at = T0 })
    assert.are.equal("fail", v)
    assert.matches("3 devices failed, more than max_failed = 2", why, 1, true)
    assert.are.equal("pass", (gate.evaluate(counts(100, 2), { max_failed = 2, min_devices = 100 }, {})))
  end)

  it("counts cancelled tasks as neither success nor failure", function()
    local v = gate.evaluate(counts(50, 0, { cancelled = 500 }), { min_devices = 50, min_success = 1 }, {})
    assert.are.equal("pass", v)
    v = gate.evaluate(counts(49, 0, { cancelled = 500 }), { min_devices = 50 }, {})
    assert.are.equal("wait", v)
  end)

  it("judges ratios from the first finished device when min_devices is not set", function()
    assert.are.equal("fail", (gate.evaluate(counts(0, 1), { max_failed_ratio = 0.5 }, {})))
    assert.are.equal("pass", (gate.evaluate(counts(0, 0), { max_failed_ratio = 0.5 }, {})))
  end)

  it("runs check functions with the counts, the history and the timing", function()
    local seen
    local g = { check = function(c, history, info)
      seen = { c.succeeded, c.finished, #history, history[1].counts.succeeded, info.elapsed, info.wave }
      if c.failed > history[#history].counts.failed then return "fail", "failures are rising" end
      return "pass", "steady"
    end }
    local hist = { { at = T0, counts = counts(1, 0), verdict = "wait" } }
    local v, why = gate.evaluate(counts(3, 0), g, { now = T0 + 90, started_at = T0, history = hist, wave = "canary" })
    assert.are.equal("pass", v, why)
    assert.are.same({ 3, 3, 1, 1, 90, "canary" }, seen)
    v, why = gate.evaluate(counts(3, 1), g, { now = T0, started_at = T0, history = hist })
    assert.are.equal("fail", v)
    assert.are.equal("check failed: failures are rising", why)
  end)

  it("lets a check hold the gate with wait", function()
    local v, why = gate.evaluate(counts(100, 0), { check = function() return "wait", "quiet hours" end }, {})
    assert.are.equal("wait", v)
    assert.matches("check says wait: quiet hours", why, 1, true)
  end)

  it("turns a check that raises, loops or answers nonsense into a clear failure", function()
    local v, why = gate.evaluate(counts(1, 0), { check = function() error("boom") end }, {})
    assert.are.equal("fail", v)
    assert.matches("gate check raised an error: .*boom", why)
    v, why = gate.evaluate(counts(1, 0), { check = function() while true do end end },
      { check_limits = { instructions = 100000 } })
    assert.are.equal("fail", v)
    assert.matches("instruction limit exceeded", why, 1, true)
    v, why = gate.evaluate(counts(1, 0), { check = function() return "ok" end }, {})
    assert.are.equal("fail", v)
    assert.matches('gate check returned "ok"; it must return "pass", "wait" or "fail"', why, 1, true)
  end)

  it("does not let a check change the counts it is given", function()
    local c = counts(5, 0)
    gate.evaluate(c, { check = function(x) x.succeeded = 0; return "pass" end }, {})
    assert.are.equal(5, c.succeeded)
  end)
end)

describe("gate.describe", function()
  it("shows counts and each threshold with its value against the limit", function()
    local text, checks = gate.describe({ at = T0 + 1800, counts = '{"succeeded":40,"failed":2,"queued":8}',
      verdict = "fail", reason = "too many failures" },
      { soak = 3600, min_devices = 20, max_failed_ratio = 0.02 }, { started_at = T0 })
    assert.matches("40 succeeded, 2 failed, 8 pending, 0 cancelled (of 50)", text, 1, true)
    assert.matches("✗ soak 30m of 1h", text, 1, true)
    assert.matches("✓ 42 of 20 devices finished", text, 1, true)
    assert.matches("✗ failed 4.76% (max 2%)", text, 1, true)
    assert.matches("-> fail: too many failures", text, 1, true)
    assert.are.equal(3, #checks)
    assert.are.equal("gate: no reading yet", (gate.describe(nil, {})))
  end)
end)

describe("gate.read against the emulator", function()
  local function emu_with(n, fail_odds)
    local emu = emulator.new{ clock = "manual", now = T0 }
    assert(emu:load_fleet{ product = "pk1", failure = { ["1.0"] = fail_odds },
      duration = { min = "5m", max = "10m" },
      devices = { { version = "1.0", count = n } },
      firmware = { { id = "fw2", version = "2.0", verified = true } } })
    return emu
  end

  local function start_job(c)
    local res = assert(c:call("CreateOTADynamicUpgradeJob", { FirmwareId = "fw2", ProductKey = "pk1",
      SrcVersion = { "1.0" }, MaximumPerMinute = 1000 }))
    return res.Data.JobId
  end

  it("reads device counts per status, consistent with the emulator's own view", function()
    local emu = emu_with(300, 0.2)
    local c = tl.client(emu, { pace = false })
    local job = start_job(c)
    emu:advance(3600)
    local got, calls = assert(gate.read(c, job))
    assert.are.equal(gate.CALLS_PER_READING, calls)
    local truth = emu:jobs()[1].Tasks
    assert.are.same({ truth.SUCCEEDED, truth.FAILED, truth.QUEUED, truth.CANCELED },
      { got.succeeded, got.failed, got.queued, got.cancelled })
    assert.are.equal(300, got.total)
    assert.are.equal(got.succeeded + got.failed, got.finished)
    assert.is_true(got.failed > 30 and got.failed < 90, "about 20% of 300 failed, got " .. got.failed)
    assert.are.equal("fail", (gate.evaluate(got, { min_devices = 50, max_failed_ratio = 0.05 }, {})))
  end)

  it("costs the same number of calls with 1,000 and 100,000 devices", function()
    local per = {}
    for _, n in ipairs({ 1000, 100000 }) do
      local emu = emu_with(n, 0)
      local c = tl.client(emu, { pace = false })
      local job = start_job(c)
      emu:advance(600)
      local before = emu:counters().calls.ListOTATaskByJob or 0
      local got = assert(gate.read(c, job))
      assert.are.equal(n, got.total)
      per[#per + 1] = emu:counters().calls.ListOTATaskByJob - before
    end
    assert.are.same({ gate.CALLS_PER_READING, gate.CALLS_PER_READING }, per)
  end)

  it("paces readings at the documented 10/s in the emulator's simulated time", function()
    local emu = emu_with(10, 0)
    local c = tl.client(emu)
    local job = start_job(c)
    local t0 = emu:now()
    for _ = 1, 3 do assert(gate.read(c, job)) end
    -- 21 ListOTATaskByJob at 10/s need a little over 2 simulated seconds
    assert.is_true(emu:now() - t0 >= 2.0, "took " .. (emu:now() - t0))
  end)

  it("returns the client's error for an unknown job", function()
    local emu = emu_with(1, 0)
    local c = tl.client(emu, { pace = false })
    local got, err = gate.read(c, "nosuchjob")
    assert.is_nil(got)
    assert.are.equal("business", err.kind)
    assert.matches("does not exist", tostring(err))
  end)
end)
