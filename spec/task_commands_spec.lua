-- otarun confirm, otarun retry, otarun abort --device and otarun status --device through the real
-- binary against the real emulator on 127.0.0.1: confirmation and re-upgrade in batches of at
-- most 10 task ids, every call journaled, one device's task shown and cancelled, and usage errors.
local ah = require("apply_helpers")
local h = require("helpers")
local cjson = require("cjson")

local FLEET = [[
fleet {
  product = "a1Le6d0abcd",
  devices = { { version = "2.3.1", count = 20 }, { version = "2.3.0", count = 10 } },
  firmware = { { id = "fwTask0001", version = "2.4.0", verified = true },
               { id = "fwTask0002", version = "2.4.1", verified = true } },
  failure = { ["2.3.0"] = 1 },
  duration = { min = "5m", max = "10m" }, online = 1, seed = 7,
}
]]

local SCRIPT = [[
rollout "conf" {
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = firmware { id = "fwTask0001", version = "2.4.0", verified = true },
  wave "w" { versions = { "2.3.1" }, rate = 1000, confirm = true },
}
rollout "fail" {
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = firmware { id = "fwTask0002", version = "2.4.1", verified = true },
  wave "w2" { versions = { "2.3.0" }, rate = 1000, timeout = "1h" },
}
]]

local function calls(server, action)
  return ah.admin(server, "GET", "counters").requests.by_action[action] or 0
end

local function task_status(server, job_id, name)
  for _, t in ipairs(ah.admin(server, "GET", "jobs/" .. job_id .. "/tasks?PageSize=100").tasks) do
    if t.DeviceName == name then return t.TaskStatus end
  end
end

describe("task commands", function()
  local dir, server, db, script, jobs
  setup(function()
    dir, server, db = ah.up(0, { fleet = FLEET })
    script = h.write(dir .. "/tasks.lua", SCRIPT)
    local code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve" })
    assert(code == 0, out .. err)
    jobs = {}
    for value, list in pairs(ah.jobs_by_identity(server)) do jobs[value] = list[1].JobId end
  end)
  teardown(function() ah.down(server, dir) end)

  it("confirm confirms named devices, then every waiting one, 10 task ids a call, journaled", function()
    local code, out, err = ah.otarun(server, db, { "confirm", script, "--wave", "w", "--devices", "dev000001,dev000002",
      "--devices", "dev000021", "--reason", "app down" })
    assert.are.equal(0, code, out .. err)
    assert.matches("conf/w: job " .. jobs["conf/w"] .. ": 2 devices confirmed", out, 1, true)
    assert.matches("dev000021 (no task in job", out, 1, true)
    assert.are_not.equal("CONFIRM", task_status(server, jobs["conf/w"], "dev000001"))
    assert.are.equal("CONFIRM", task_status(server, jobs["conf/w"], "dev000003"))
    ah.admin(server, "POST", "counters/reset")
    code, out, err = ah.otarun(server, db, { "confirm", script, "--wave", "w" })
    assert.are.equal(0, code, out .. err)
    assert.matches("18 devices confirmed", out, 1, true)
    assert.are.equal(2, calls(server, "ConfirmOTATask"))    -- 10 + 8
    local st = assert(require("otarun.state").open{ state = db, readonly = true })
    local n = 0
    for _, row in ipairs(st:list("intents", { rollout = "conf" })) do
      if row.action == "ConfirmOTATask" then
        n = n + 1
        assert.are.equal("settled", row.state)
      end
    end
    local audited = false
    for _, a in ipairs(st:log({ rollout = "conf" })) do
      audited = audited or (a.kind == "decision" and a.action == "confirm" and a.result == "app down")
    end
    st:close()
    assert.are.equal(3, n)
    assert.is_true(audited)
  end)

  it("retry re-upgrades a wave's FAILED devices in calls of at most 10 ids", function()
    ah.admin(server, "POST", "clock/advance?seconds=7200")
    assert.are.equal("FAILED", task_status(server, jobs["fail/w2"], "dev000021"))
    ah.admin(server, "POST", "counters/reset")
    local code, out, err = ah.otarun(server, db, { "retry", script, "--wave", "w2", "--reason", "fixed the CDN" })
    assert.are.equal(0, code, out .. err)
    assert.matches("fail/w2: job " .. jobs["fail/w2"] .. ": 10 devices upgraded again", out, 1, true)
    assert.are.equal(1, calls(server, "ReupgradeOTATask"))
    assert.are_not.equal("FAILED", task_status(server, jobs["fail/w2"], "dev000021"))
    -- nothing failed any more: a second retry has nothing to do
    code, out = ah.otarun(server, db, { "retry", script, "--wave", "w2" })
    assert.are.equal(0, code)
    assert.matches(": 0 devices upgraded again", out, 1, true)
  end)

  it("status --device shows the device's pending task and its jobs, by wave; abort --device cancels it", function()
    local code, out, err = ah.otarun(server, db, { "status", script, "--rollout", "fail", "--device", "dev000021" })
    assert.are.equal(0, code, out .. err)
    assert.matches("device dev000021  (rollout fail", out, 1, true)
    assert.matches("in job " .. jobs["fail/w2"] .. " (wave fail/w2)", out, 1, true)
    assert.matches("job " .. jobs["fail/w2"] .. "  DYNAMIC IN_PROGRESS", out, 1, true)
    code, out, err = ah.otarun(server, db, { "status", script, "--rollout", "fail", "--device", "dev000021", "--format", "json" })
    assert.are.equal(0, code, out .. err)
    local doc = cjson.decode(out)
    assert.are.equal(jobs["fail/w2"], doc.pending.job_id)
    assert.are.equal(1, #doc.jobs)

    code, out, err = ah.otarun(server, db, { "abort", script, "--rollout", "fail", "--device", "dev000021", "--reason", "RMA" })
    assert.are.equal(0, code, out .. err)
    assert.matches("device dev000021: its pending task of firmware fwTask0002 cancelled", out, 1, true)
    assert.are.equal("CANCELED", task_status(server, jobs["fail/w2"], "dev000021"))
    code, out = ah.otarun(server, db, { "status", script, "--rollout", "fail", "--device", "dev000021" })
    assert.matches("pending: no unfinished task of this firmware", out, 1, true)
    -- the rollout is not halted by a device abort
    local st = assert(require("otarun.state").open{ state = db, readonly = true })
    assert.is_false(st:rollout("fail").halted and true or false)
    st:close()
    -- and --canceled brings the device back
    code, out = ah.otarun(server, db, { "retry", script, "--wave", "w2", "--canceled" })
    assert.are.equal(0, code, out)
    assert.are_not.equal("CANCELED", task_status(server, jobs["fail/w2"], "dev000021"))
  end)

  it("says what is wrong with bad usage", function()
    local code, _, err = ah.otarun(server, db, { "retry", script })
    assert.are.equal(64, code)
    assert.matches("retry needs --wave W", err, 1, true)
    code, _, err = ah.otarun(server, db, { "confirm", script, "--rollout", "conf", "--wave", "ww" })
    assert.are.equal(64, code)
    assert.matches('no wave "ww"', err, 1, true)
    code, _, err = ah.otarun(server, db, { "status", script, "--device", "dev000001" })
    assert.are.equal(64, code)
    assert.matches("choose one with --rollout NAME", err, 1, true)
    code, _, err = ah.otarun(server, db, { "status", script, "--rollout", "conf", "--device", "dev000001", "--offline" })
    assert.are.equal(64, code)
    assert.matches("it cannot be --offline", err, 1, true)
  end)
end)
