-- The simulated fleet: notification rate, retries, timeouts, confirmation, push/poll, offline
-- devices, dynamic matching of devices that report later, superseding.
local S = require("emulator.support")

local function by_minute(log, job, status, t0)
  local per = {}
  for _, e in ipairs(log) do
    if e.job == job and e.new == status then
      local m = (e.now - t0) // 60
      per[m] = (per[m] or 0) + 1
    end
  end
  return per
end

describe("simulation", function()
  it("notifies at most MaximumPerMinute devices in each minute", function()
    local emu = S.new()
    local log = S.trace(emu)
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { MaximumPerMinute = "10" })
    emu:advance(3600)
    local per = by_minute(log, job, "NOTIFIED", S.T0)
    for m = 0, 7 do assert.are.equal(10, per[m], "minute " .. m) end
    assert.is_nil(per[8])
    assert.are.equal(80, S.totals(emu, job).SUCCEEDED)
  end)

  it("follows a raised rate from UpdateOTAJob", function()
    local emu = S.new({ devices = { { version = "2.3.0", count = 300 } } })
    local log = S.trace(emu)
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { MaximumPerMinute = "10" })
    emu:advance(120)
    S.call(emu, "UpdateOTAJob", { JobId = job, MaximumPerMinute = "100" })
    emu:advance(600)
    local per = by_minute(log, job, "NOTIFIED", S.T0)
    assert.are.equal(10, per[0])
    assert.are.equal(10, per[1])
    assert.are.equal(100, per[2])
    assert.are.equal(100, per[3])
    assert.are.equal(80, per[4])
  end)

  it("retries a failed device RetryCount times after RetryInterval, counting devices not attempts", function()
    local emu = S.new({ failure = { ["2.3.0"] = 1 } })
    local log = S.trace(emu)
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { RetryInterval = "10", RetryCount = "2" })
    emu:advance(86400)
    local totals = S.totals(emu, job)
    assert.are.equal(80, totals.FAILED)
    assert.are.equal(80, S.call(emu, "ListOTATaskByJob", { JobId = job, PageSize = "1" }).Total)
    local attempts, fails = {}, {}
    for _, e in ipairs(log) do
      if e.job == job and e.new == "IN_PROGRESS" then attempts[e.task] = (attempts[e.task] or 0) + 1 end
      if e.job == job and e.new == "FAILED" then fails[e.task] = fails[e.task] or {}; table.insert(fails[e.task], e.now) end
      if e.job == job and e.old == "FAILED" and e.new == "QUEUED" then
        local f = fails[e.task]
        assert.is_true(e.now - f[#f] >= 600)
      end
    end
    local n = 0
    for _, a in pairs(attempts) do assert.are.equal(3, a); n = n + 1 end
    assert.are.equal(80, n)
    assert.are.equal("upgrade failed", S.task(emu, job, "dev000021").TaskDesc)
  end)

  it("fails an upgrade that outlasts TimeoutInMinutes, and does not retry it", function()
    local emu = S.new({ duration = { min = "2h", max = "2h" } })
    local log = S.trace(emu)
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { TimeoutInMinutes = "30", RetryInterval = "10", RetryCount = "1" })
    emu:advance(86400)
    assert.are.equal(80, S.totals(emu, job).FAILED)
    local started = {}
    for _, e in ipairs(log) do
      if e.job == job and e.new == "IN_PROGRESS" then
        assert.is_nil(started[e.task], "no retry after a timeout")
        started[e.task] = e.now
      elseif e.job == job and e.new == "FAILED" then
        assert.are.equal(started[e.task] + 1800, e.now)
      end
    end
    assert.matches("timed out after 30 minutes", S.task(emu, job, "dev000021").TaskDesc)
    assert.are.equal("2.3.0", S.device(emu, "dev000021").FirmwareVersion)
  end)

  it("holds NeedConfirm tasks in CONFIRM until ConfirmOTATask", function()
    local emu = S.new()
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { NeedConfirm = "true" })
    emu:advance(7200)
    assert.are.equal(80, S.totals(emu, job).CONFIRM)
    local t = S.task(emu, job, "dev000021")
    S.call(emu, "ConfirmOTATask", { ["TaskId.1"] = t.TaskId })
    assert.are.equal("NOTIFIED", S.task(emu, job, "dev000021").TaskStatus)   -- queued and pushed at once
    S.fails(emu, "ConfirmOTATask", { ["TaskId.1"] = t.TaskId }, "iot.ota.TaskStatusNotSupport")
    S.fails(emu, "ConfirmOTATask", { ["TaskId.1"] = "nope" }, "iot.ota.TaskNotExist")
    local status, body = emu:call("ConfirmOTATask", {})
    assert.are.equal(400, status)
    assert.are.equal("MissingTaskId", body.Code)
    emu:advance(3600)
    assert.are.equal("SUCCEEDED", S.task(emu, job, "dev000021").TaskStatus)
    assert.are.equal(79, S.totals(emu, job).CONFIRM)
  end)

  it("with NeedPush=false waits for devices to poll", function()
    local emu = S.new({ poll = "30m" })
    local pushed = S.dynamic(emu, S.firmware(emu, "2.4.0"), { ["SrcVersion.1"] = "2.3.1" })
    local polled = S.dynamic(emu, S.firmware(emu, "2.5.0"), { NeedPush = "false" })
    emu:advance(1)
    assert.are.equal(20, S.totals(emu, pushed).NOTIFIED)
    local early = S.totals(emu, polled)
    assert.is_true(early.QUEUED > 60, "most devices have not polled yet")
    emu:advance(1800)
    assert.are.equal(0, S.totals(emu, polled).QUEUED)
    emu:advance(3600)
    assert.are.equal(80, S.totals(emu, polled).SUCCEEDED)
  end)

  it("leaves offline devices queued until they come online", function()
    local emu = S.new({ online = 0.5, reconnect = "10000h" })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"))
    emu:advance(3600)
    local t = S.totals(emu, job)
    assert.is_true(t.QUEUED > 20 and t.QUEUED < 60)
    assert.are.equal(80, t.QUEUED + t.SUCCEEDED)
    local offline = emu:devices({ product = S.PK, version = "2.3.0", online = false, limit = 1 })[1]
    assert.are.equal("OFFLINE", offline.Status)
    assert.are.equal("QUEUED", offline.TaskStatus)
    emu:set_online(S.PK, offline.DeviceName, true)
    emu:advance(3600)
    assert.are.equal("SUCCEEDED", S.task(emu, job, offline.DeviceName).TaskStatus)
    assert.is_true(S.totals(emu, job).QUEUED <= t.QUEUED - 1)
  end)

  it("brings offline devices online over time", function()
    local emu = S.new({ online = 0.5, reconnect = "1h" })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"))
    emu:advance(86400)
    assert.are.equal(80, S.totals(emu, job).SUCCEEDED)
  end)

  it("lets a device that later reports a covered version join a running dynamic job", function()
    local emu = S.new()
    local cont = S.dynamic(emu, S.firmware(emu, "2.4.0"), { ["SrcVersion.1"] = "2.2.0" })
    assert.are.equal(0, S.call(emu, "ListOTATaskByJob", { JobId = cont, PageSize = "1" }).Total)
    emu:report_version(S.PK, "dev000003", "2.2.0")
    assert.are.equal("NOTIFIED", S.task(emu, cont, "dev000003").TaskStatus)
    emu:advance(3600)
    assert.are.equal("SUCCEEDED", S.task(emu, cont, "dev000003").TaskStatus)
    assert.are.equal("2.4.0", S.device(emu, "dev000003").FirmwareVersion)
  end)

  it("in new-reports mode takes only devices that report after the job started", function()
    local emu = S.new()
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { DynamicMode = "2" })
    assert.are.equal(0, S.call(emu, "ListOTATaskByJob", { JobId = job, PageSize = "1" }).Total)
    emu:report_version(S.PK, "dev000001", "2.3.0")
    assert.are.equal(1, S.call(emu, "ListOTATaskByJob", { JobId = job, PageSize = "1" }).Total)
    assert.are.equal(2, S.call(emu, "QueryOTAJob", { JobId = job }).Data.DynamicMode)
  end)

  it("moves a succeeded device on to the dynamic job of its new version", function()
    local emu = S.new()
    local first = S.dynamic(emu, S.firmware(emu, "2.4.0"))
    local second = S.dynamic(emu, S.firmware(emu, "2.5.0"), { ["SrcVersion.1"] = "2.4.0" })
    emu:advance(7200)
    assert.are.equal(80, S.totals(emu, first).SUCCEEDED)
    assert.are.equal(80, S.totals(emu, second).SUCCEEDED)
    assert.are.equal("2.5.0", S.device(emu, "dev000050").FirmwareVersion)
  end)

  it("when superseded, keeps the old job's upgrading devices going and leaves new ones to the new job", function()
    local emu = S.new({ duration = { min = "1h", max = "1h" } })
    local fid = S.firmware(emu, "2.4.0")
    local old = S.dynamic(emu, fid, { MaximumPerMinute = "10" })
    emu:advance(240)
    local before = S.totals(emu, old)
    S.call(emu, "CancelOTAStrategyByJob", { JobId = old })
    local new = S.dynamic(emu, fid, { ["SrcVersion.2"] = "2.3.1", OverwriteMode = "2" })
    emu:advance(86400)
    local after = S.totals(emu, old)
    assert.are.equal(before.IN_PROGRESS, after.SUCCEEDED)
    assert.are.equal(80 - before.IN_PROGRESS + 20, S.totals(emu, new).SUCCEEDED)
  end)

  it("fails upgrades with the fleet's odds for the source version", function()
    local emu = S.new({ devices = { { version = "2.3.0", count = 1000 }, { version = "2.3.1", count = 1000 } },
                        failure = { ["2.3.0"] = 0.3 } })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { ["SrcVersion.2"] = "2.3.1" })
    emu:advance(86400)
    local t = S.totals(emu, job)
    assert.is_true(t.FAILED > 240 and t.FAILED < 360, "got " .. t.FAILED)
    assert.are.equal(2000, t.FAILED + t.SUCCEEDED)
    local failed = S.call(emu, "ListOTATaskByJob", { JobId = job, TaskStatus = "FAILED", PageSize = "100" })
    for _, task in ipairs(failed.Data.SimpleOTATaskInfo) do assert.are.equal("2.3.0", task.SrcVersion) end
  end)

  it("completes a static job when every task finished", function()
    local emu = S.new()
    local job = S.call(emu, "CreateOTAStaticUpgradeJob", { FirmwareId = S.firmware(emu, "2.4.0"), ProductKey = S.PK,
      TargetSelection = "ALL" }).Data.JobId
    local q = S.call(emu, "QueryOTAJob", { JobId = job }).Data
    assert.are.equal("IN_PROGRESS", q.JobStatus)
    assert.is_nil(q.UtcEndTime)
    emu:advance(7200)
    q = S.call(emu, "QueryOTAJob", { JobId = job }).Data
    assert.are.equal("COMPLETED", q.JobStatus)
    assert.is_string(q.UtcEndTime)
    assert.are.equal(100, S.totals(emu, job).SUCCEEDED)
  end)

  it("reports progress while a device upgrades", function()
    local emu = S.new({ duration = { min = "100m", max = "100m" } })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"))
    emu:advance(60 + 50 * 60)
    local t = S.call(emu, "ListOTATaskByJob", { JobId = job, TaskStatus = "IN_PROGRESS", PageSize = "1" }).Data.SimpleOTATaskInfo[1]
    local pct = tonumber(t.Progress)
    assert.is_true(pct >= 45 and pct <= 51, t.Progress)
  end)
end)
