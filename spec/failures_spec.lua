-- FAILED tasks a gate counts (otarun.run.failures): tasks failed because their device was busy in
-- another batch (overlapping static waves) and tasks that may still be retried are left out, read
-- with a bounded number of calls, against a real in-process emulator.
local failures = require("otarun.run.failures")
local gate = require("otarun.run.gate")
local emulator = require("otarun.emulator")
local tl = require("otarun.platform.transport_local")

local T0 = 1798761600 -- 2027-01-01T00:00:00Z
local function utc(t) return os.date("!%Y-%m-%dT%H:%M:%S.000Z", t) end

describe("failures.classify", function()
  it("separates busy-device failures from the firmware's, and holds young ones of a wave with retries", function()
    local tasks = {
      { TaskDesc = "the device already has a pending or in-progress task in batch X", UtcModified = utc(T0) },
      { TaskDesc = "upgrade failed", UtcModified = utc(T0 - 3600) },
      { TaskDesc = "upgrade failed", UtcModified = utc(T0 - 60) },
    }
    assert.are.same({ 1, 1 }, { failures.classify(tasks, { retry_interval = 10, retry_count = 1 }, T0) })
    assert.are.same({ 1, 0 }, { failures.classify(tasks, {}, T0) })
  end)
end)

describe("failures.adjust against the emulator", function()
  local function emu_with(n, odds)
    local emu = emulator.new{ clock = "manual", now = T0 }
    assert(emu:load_fleet{ product = "pk1", failure = { ["1.0"] = odds }, duration = { min = "20m", max = "30m" },
      devices = { { version = "1.0", count = n } },
      firmware = { { id = "fw2", version = "2.0", verified = true } } })
    return emu, tl.client(emu, { pace = false })
  end

  it("does not count tasks of a second GRAY wave failed by the first wave's pending tasks", function()
    local emu, c = emu_with(200, 0)
    local function gray(pct)
      return assert(c:call("CreateOTAStaticUpgradeJob", { FirmwareId = "fw2", ProductKey = "pk1",
        TargetSelection = "GRAY", GrayPercent = pct, SrcVersion = { "1.0" }, MaximumPerMinute = 10 })).Data.JobId
    end
    gray("50")
    local second = gray("50")
    emu:advance(60)
    local counts = assert(gate.read(c, second))
    assert.is_true(counts.failed > 10, "overlap failures: " .. counts.failed)
    local before = emu:counters().calls.ListOTATaskByJob or 0
    local adjusted, calls = assert(failures.adjust(c, second, counts, {}, nil, { now = emu:now() }))
    assert.are.equal(0, adjusted.failed)
    assert.are.equal(adjusted.failed_raw, adjusted.failed_other)
    assert.is_true(calls >= 1 and calls <= failures.MAX_PAGES)
    assert.are.equal(calls, emu:counters().calls.ListOTATaskByJob - before)
    assert.matches("pending task in another batch", failures.note(adjusted))
    -- the gate passes on the firmware's own results instead of tripping on the overlap
    assert.are.equal("wait", (gate.evaluate(adjusted, { max_failed = 0, min_devices = 1 }, {})))
    -- the count did not move: the next reading reuses the classification without a call
    local again = assert(gate.read(c, second))
    local _, calls2 = failures.adjust(c, second, again, {}, adjusted, { now = emu:now() })
    assert.are.equal(0, calls2)
  end)

  it("counts a failure of a wave with retries only once its retry interval passed", function()
    local emu, c = emu_with(50, 1)
    local job = assert(c:call("CreateOTADynamicUpgradeJob", { FirmwareId = "fw2", ProductKey = "pk1",
      SrcVersion = { "1.0" }, MaximumPerMinute = 1000, RetryInterval = 30, RetryCount = 1 })).Data.JobId
    local wave = { retry_interval = 30, retry_count = 1 }
    emu:advance(45 * 60)          -- every first attempt failed; retries are pending
    local counts = assert(gate.read(c, job))
    assert.is_true(counts.failed > 0)
    local a = assert(failures.adjust(c, job, counts, wave, nil, { now = emu:now() }))
    assert.are.equal(0, a.failed)
    assert.are.equal(a.failed_raw, a.failed_young)
    emu:advance(6 * 3600)         -- retries done and failed again, long ago
    local later = assert(gate.read(c, job))
    local b = assert(failures.adjust(c, job, later, wave, a, { now = emu:now() }))
    assert.are.equal(50, b.failed)
    assert.are.equal(0, b.failed_young)
    assert.is_nil(failures.note(b))
  end)

  it("reads at most MAX_PAGES pages and judges the rest by the shares found in them", function()
    local emu, c = emu_with(700, 1)
    local job = assert(c:call("CreateOTADynamicUpgradeJob", { FirmwareId = "fw2", ProductKey = "pk1",
      SrcVersion = { "1.0" }, MaximumPerMinute = 10000 })).Data.JobId
    emu:advance(3 * 3600)
    local counts = assert(gate.read(c, job))
    assert.are.equal(700, counts.failed)
    local a, calls = assert(failures.adjust(c, job, counts, {}, nil, { now = emu:now() }))
    assert.are.equal(failures.MAX_PAGES, calls)
    assert.are.equal(700, a.failed)
    -- a wave with retries, all failed a moment ago: every one may still be retried
    local young = assert(failures.adjust(c, job, assert(gate.read(c, job)), { retry_interval = 1440, retry_count = 1 },
      nil, { now = emu:now() + 60 }))
    assert.are.equal(0, young.failed)
    assert.are.equal(700, young.failed_young)
  end)
end)
