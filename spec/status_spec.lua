-- otarun status against the real emulator: before anything is applied (waves not recorded, what
-- happens next), after apply (state, job, job status, devices counted per task status with one
-- PageSize=1 ListOTATaskByJob per status), as the emulator's clock moves devices along, as JSON,
-- offline (the store alone), and with the platform unreachable. Never a changing call.
local ah = require("apply_helpers")
local cjson = require("cjson")

describe("otarun status", function()
  local dir, server, db, script
  setup(function()
    dir, server, db = ah.up(2)
    script = ah.rollouts(dir .. "/cams.lua", 2)
  end)
  teardown(function() ah.down(server, dir) end)

  it("says what happens next before anything is applied", function()
    local code, out, err = ah.otarun(server, db, { "status", script })
    assert.are.equal(0, code, out .. err)
    assert.matches("rollout cam%-0001  %(firmware fwApply0001 2%.4%.0", out)
    assert.matches("all%s+not recorded", out)
    assert.matches("next: create now: due now", out, 1, true)
    assert.matches("not created yet", out, 1, true)
    assert.is_nil(io.open(db, "rb")) -- status never creates the store
  end)

  it("shows state, job, job status and device counts per task status after apply", function()
    assert.are.equal(0, (ah.otarun(server, db, { "apply", script, "--auto-approve" })))
    ah.admin(server, "POST", "counters/reset")
    local code, out, err = ah.otarun(server, db, { "status", script })
    assert.are.equal(0, code, out .. err)
    local jobs = ah.jobs(server)
    assert.matches("all%s+running%s+job " .. jobs[1].JobId .. "  IN_PROGRESS", out)
    assert.matches("20 devices: 20 queued", out, 1, true)
    assert.matches("platform: reachable", out, 1, true)
    local c = ah.admin(server, "GET", "counters")
    -- per job: QueryOTAJob + 7 ListOTATaskByJob (one per task status), nothing else
    assert.are.same({ QueryOTAJob = 2, ListOTATaskByJob = 14 }, c.requests.by_action)
  end)

  it("follows the devices as the platform's clock moves, as JSON", function()
    ah.admin(server, "POST", "clock/advance?seconds=7200")
    local code, out, err = ah.otarun(server, db, { "status", script, "--format", "json" })
    assert.are.equal(0, code, out .. err)
    local doc = cjson.decode(out)
    local w = doc.rollouts[1].waves[1]
    assert.are.equal("running", w.state)
    assert.are.equal(20, w.devices.total)
    assert.are.equal(20, w.devices.SUCCEEDED + w.devices.FAILED)
    assert.are.equal(0, w.devices.QUEUED)
    assert.are.equal("none", w.next.action)
    assert.are.equal("reachable", doc.platform)
  end)

  it("reads only the store with --offline, and says when the platform is unreachable", function()
    local code, out, err = ah.otarun(server, db, { "status", script, "--offline" })
    assert.are.equal(0, code, out .. err)
    assert.matches("all%s+running%s+job %w+\n", out)
    assert.is_nil(out:find("devices", 1, true))
    assert.matches("platform: offline", out, 1, true)
    local dead = { url = "http://127.0.0.1:1" }
    code, out, err = ah.otarun(dead, db, { "status", script })
    assert.are.equal(1, code, out .. err) -- the store's view is shown, but a cron check must see it failed
    assert.matches("platform: unreachable: ", out, 1, true)
    assert.matches("what is shown comes from the state store", err, 1, true)
  end)
end)
