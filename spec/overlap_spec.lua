-- Live plans warn when a static wave due now targets devices still pending in an earlier static
-- wave's job (otarun.plan.overlap), reading that job's pending counts from a real in-process
-- emulator, and stay quiet when the targets do not meet or the wave replaces pending tasks.
local overlap = require("otarun.plan.overlap")
local emulator = require("otarun.emulator")
local tl = require("otarun.platform.transport_local")

describe("plan.overlap", function()
  it("names how many devices are still pending in the earlier wave's job", function()
    local emu = emulator.new{ clock = "manual", now = 1798761600 }
    assert(emu:load_fleet{ product = "pk1", devices = { { version = "1.0", count = 300 } },
      duration = { min = "5m", max = "10m" }, firmware = { { id = "fw2", version = "2.0", verified = true } } })
    local c = tl.client(emu, { pace = false })
    local job = assert(c:call("CreateOTAStaticUpgradeJob", { FirmwareId = "fw2", ProductKey = "pk1",
      TargetSelection = "GRAY", GrayPercent = "50", SrcVersion = { "1.0" }, MaximumPerMinute = 10 })).Data.JobId
    local function setup(b)
      local rollouts = { { name = "r", file = "r.lua", waves = {
        { name = "a", kind = "static", percent = 50, versions = { "1.0" }, line = 3 }, b } } }
      local plan = { rollouts = { { name = "r", waves = { { name = "a", action = "none", job_id = job },
        { name = b.name, action = "create" } } } } }
      return overlap.check(plan, rollouts, function() return c end)
    end
    local found, calls = setup({ name = "b", kind = "static", all = true, versions = { "1.0" }, line = 4 })
    assert.are.equal(4, calls)
    assert.are.equal(1, #found)
    assert.are.equal("static-overlap", found[1].rule)
    assert.are.equal("warning", found[1].severity)
    assert.matches("150 devices are still pending in job " .. job .. ' of wave "a"', found[1].message, 1, true)
    assert.are.equal(0, #setup({ name = "b", kind = "static", all = true, versions = { "1.0" }, overwrite = "replace", line = 4 }))
    assert.are.equal(0, #setup({ name = "b", kind = "static", all = true, versions = { "0.9" }, line = 4 }))
    emu:advance(6 * 3600)       -- the earlier job is done: nothing pending any more
    assert.are.equal(0, #setup({ name = "b", kind = "static", all = true, versions = { "1.0" }, line = 4 }))
  end)
end)
