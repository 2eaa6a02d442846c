-- What percent waves reach, from the platform's counts: after the first wave of a 1% -> 10% -> 50%
-- ramp ran, a live plan reads its job's task count once and says about how many devices each later
-- wave reaches (GrayPercent applies to the devices still on the source versions).
local ah = require("apply_helpers")
local h = require("helpers")

describe("percent waves against the platform's counts", function()
  local dir, server, db
  setup(function()
    dir, server, db = ah.up(0, { fleet = [[
fleet {
  product = "a1Le6d0abcd",
  devices = { { version = "1.7.2", count = 1000 } },
  firmware = { { id = "fwReach001", version = "1.8.0", verified = true } },
  duration = { min = "5m", max = "10m" }, online = 1, seed = 7,
}
]] })
  end)
  teardown(function() ah.down(server, dir) end)

  it("says about how many devices each later wave reaches, with one extra call", function()
    local script = h.write(dir .. "/ramp.lua", [[
rollout "ramp" {
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = firmware { id = "fwReach001", version = "1.8.0", verified = true },
  defaults = { kind = "static", versions = { "1.7.2" }, rate = 1000, overwrite = "replace",
               gate = { soak = "1h", min_devices = 5 } },
  wave "one"  { percent = 10 },
  wave "ten"  { percent = { total = 20 } },
  wave "half" { percent = 50 },
}
]])
    local code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    assert.are.equal(100, ah.jobs(server)[1].Tasks.QUEUED + ah.jobs(server)[1].Tasks.NOTIFIED
      + ah.jobs(server)[1].Tasks.IN_PROGRESS)
    ah.admin(server, "POST", "counters/reset")
    code, out, err = ah.otarun(server, db, { "plan", script })
    assert.are.equal(0, code, out .. err)
    -- 10% took 100 tasks: about 1000 devices; total 20% sends GrayPercent 11.112 and reaches 100 more
    assert.matches("GrayPercent 11.112 of the devices still on the source versions", out, 1, true)
    assert.matches('about 100 devices (wave "one"\'s job took 100 tasks: about 1000 devices were on these versions)', out, 1, true)
    -- half: 50% of the 80% left = 40% of 1000
    assert.matches("about 400 devices", out, 1, true)
    local c = ah.admin(server, "GET", "counters")
    assert.are.equal(1, c.requests.by_action.ListOTATaskByJob)
  end)
end)
