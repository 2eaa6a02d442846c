-- ListOTATaskByJob (Total per status, paging, device lists), CancelOTATaskByJob for each kind of
-- task, ReupgradeOTATask.
local S = require("emulator.support")
local store_mod = require("otarun.emulator.store")

describe("ListOTATaskByJob", function()
  it("gives each status's Total, equal to the tasks listed in that status", function()
    local emu = S.new({ devices = { { version = "2.3.0", count = 500 } }, failure = { ["2.3.0"] = 0.2 },
                        duration = { min = "1m", max = "30m" } })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { MaximumPerMinute = "50" })
    local mixed = false
    for _ = 1, 4 do
      emu:advance(300)
      local t = S.totals(emu, job)
      mixed = mixed or (t.FAILED > 0 and t.SUCCEEDED > 0 and t.QUEUED > 0 and t.IN_PROGRESS > 0)
      local all = {}
      local page = 1
      repeat
        local b = S.call(emu, "ListOTATaskByJob", { JobId = job, PageSize = "100", CurrentPage = tostring(page) })
        for _, t in ipairs(b.Data.SimpleOTATaskInfo) do all[t.TaskStatus] = (all[t.TaskStatus] or 0) + 1 end
        page = page + 1
      until page > b.PageCount
      local sum = 0
      for _, name in ipairs(store_mod.NAME) do
        local total = S.total(emu, job, name)
        assert.are.equal(all[name] or 0, total, name)
        sum = sum + total
      end
      assert.are.equal(500, sum)
    end
    assert.is_true(mixed, "the job went through several statuses at once")
  end)

  it("pages through one status without repeating a task", function()
    local emu = S.new({ devices = { { version = "2.3.0", count = 250 } } })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { NeedConfirm = "true" })
    local seen, n = {}, 0
    for page = 1, 3 do
      local b = S.call(emu, "ListOTATaskByJob", { JobId = job, TaskStatus = "CONFIRM", PageSize = "100", CurrentPage = tostring(page) })
      assert.are.equal(250, b.Total)
      assert.are.equal(3, b.PageCount)
      for _, t in ipairs(b.Data.SimpleOTATaskInfo) do
        assert.is_nil(seen[t.TaskId])
        seen[t.TaskId] = true
        n = n + 1
      end
    end
    assert.are.equal(250, n)
  end)

  it("answers with the platform's task fields", function()
    local emu = S.new()
    local fid = S.firmware(emu, "2.4.0")
    local job = S.dynamic(emu, fid, { TimeoutInMinutes = "60" })
    local t = S.task(emu, job, "dev000021")
    assert.are.equal(job, t.JobId)
    assert.are.equal(fid, t.FirmwareId)
    assert.are.equal("2.3.0", t.SrcVersion)
    assert.are.equal("2.4.0", t.DestVersion)
    assert.are.equal("60", t.Timeout)
    assert.are.equal("0.00", t.Progress)
    assert.are.equal(22, #t.TaskId)
    assert.are.equal(S.device(emu, "dev000021").IotId, t.IotId)
    assert.are.equal(S.PK, t.ProductKey)
  end)

  it("checks its parameters", function()
    local emu = S.new()
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"))
    S.fails(emu, "ListOTATaskByJob", { JobId = job, PageSize = "101" }, "iot.common.InvalidPageParams")
    S.fails(emu, "ListOTATaskByJob", { JobId = job, PageSize = "0" }, "iot.common.InvalidPageParams")
    S.fails(emu, "ListOTATaskByJob", { JobId = job, PageSize = "100", CurrentPage = "1001" }, "iot.common.InvalidPageParams")
    S.fails(emu, "ListOTATaskByJob", { JobId = job, TaskStatus = "DONE" }, "iot.common.InvalidFormattedParameter")
    S.fails(emu, "ListOTATaskByJob", { JobId = "nope" }, "iot.ota.JobNotExist")
    local p = { JobId = job }
    for i = 1, 51 do p["DeviceNames." .. i] = "dev" .. i end
    S.fails(emu, "ListOTATaskByJob", p, "iot.common.InvalidFormattedParameter")
    local status, body = emu:call("ListOTATaskByJob", {})
    assert.are.equal(400, status)
    assert.are.equal("MissingJobId", body.Code)
  end)
end)

describe("CancelOTATaskByJob", function()
  local function cancel(emu, job, flags)
    local p = { JobId = job }
    for k, v in pairs(flags) do p[k] = v end
    S.call(emu, "CancelOTATaskByJob", p)
  end

  it("cancels queued tasks only with CancelQueuedTask", function()
    local emu = S.new()
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { MaximumPerMinute = "10" })
    local before = S.totals(emu, job)
    assert.is_true(before.QUEUED > 0 and before.NOTIFIED > 0)
    cancel(emu, job, { CancelQueuedTask = "true" })
    local after = S.totals(emu, job)
    assert.are.equal(0, after.QUEUED)
    assert.are.equal(before.QUEUED, after.CANCELED)
    assert.are.equal(before.NOTIFIED, after.NOTIFIED)
    emu:advance(86400)
    assert.are.equal(before.QUEUED, S.totals(emu, job).CANCELED)
  end)

  it("cancels notified tasks only with CancelNotifiedTask", function()
    local emu = S.new()
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { MaximumPerMinute = "10" })
    local before = S.totals(emu, job)
    cancel(emu, job, { CancelNotifiedTask = "true" })
    local after = S.totals(emu, job)
    assert.are.equal(0, after.NOTIFIED)
    assert.are.equal(before.NOTIFIED, after.CANCELED)
    assert.are.equal(before.QUEUED, after.QUEUED)
  end)

  it("cancels in-progress tasks only with CancelInProgressTask", function()
    local emu = S.new({ duration = { min = "2h", max = "2h" } })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { MaximumPerMinute = "10" })
    emu:advance(300)
    local before = S.totals(emu, job)
    assert.is_true(before.IN_PROGRESS > 0 and before.QUEUED > 0)
    cancel(emu, job, { CancelInProgressTask = "true" })
    local after = S.totals(emu, job)
    assert.are.equal(0, after.IN_PROGRESS)
    assert.are.equal(before.IN_PROGRESS, after.CANCELED)
    assert.are.equal(before.QUEUED, after.QUEUED)
    emu:advance(86400)
    assert.are.equal(before.IN_PROGRESS, S.totals(emu, job).CANCELED)
    assert.are.equal(80 - before.IN_PROGRESS, S.totals(emu, job).SUCCEEDED)
  end)

  it("cancels unconfirmed tasks with CancelUnconfirmedTask, or with CancelQueuedTask when that flag is absent", function()
    local emu = S.new()
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { NeedConfirm = "true" })
    cancel(emu, job, { CancelQueuedTask = "true", CancelUnconfirmedTask = "false" })
    assert.are.equal(80, S.totals(emu, job).CONFIRM)
    cancel(emu, job, { CancelQueuedTask = "true" })
    assert.are.equal(80, S.totals(emu, job).CANCELED)
    local emu2 = S.new()
    local job2 = S.dynamic(emu2, S.firmware(emu2, "2.4.0"), { NeedConfirm = "true" })
    cancel(emu2, job2, { CancelUnconfirmedTask = "true" })
    assert.are.equal(80, S.totals(emu2, job2).CANCELED)
  end)

  it("cancels a scheduled static job with CancelScheduledTask", function()
    local emu = S.new()
    local at = (S.T0 + 3600) * 1000
    local job = S.call(emu, "CreateOTAStaticUpgradeJob", { FirmwareId = S.firmware(emu, "2.4.0"), ProductKey = S.PK,
      TargetSelection = "ALL", ScheduleTime = tostring(at) }).Data.JobId
    assert.are.equal("PLANNED", S.call(emu, "QueryOTAJob", { JobId = job }).Data.JobStatus)
    cancel(emu, job, { CancelScheduledTask = "true" })
    emu:advance(7200)
    assert.are.equal("CANCELED", S.call(emu, "QueryOTAJob", { JobId = job }).Data.JobStatus)
    assert.are.equal(0, S.call(emu, "ListOTATaskByJob", { JobId = job, PageSize = "1" }).Total)
  end)

  it("needs at least one kind of task, and frees canceled devices for another job", function()
    local emu = S.new()
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { MaximumPerMinute = "10" })
    S.fails(emu, "CancelOTATaskByJob", { JobId = job }, "iot.ota.NoCancelTaskTypeSpecified")
    S.fails(emu, "CancelOTATaskByJob", { JobId = job, CancelQueuedTask = "false" }, "iot.ota.NoCancelTaskTypeSpecified")
    cancel(emu, job, { CancelQueuedTask = "true" })
    local canceled = S.call(emu, "ListOTATaskByJob", { JobId = job, TaskStatus = "CANCELED", PageSize = "1" }).Data.SimpleOTATaskInfo[1]
    local st = S.call(emu, "CreateOTAStaticUpgradeJob", { FirmwareId = S.firmware(emu, "2.5.0"), ProductKey = S.PK,
      TargetSelection = "SPECIFIC", ["TargetDeviceName.1"] = canceled.DeviceName }).Data.JobId
    assert.are_not.equal("FAILED", S.task(emu, st, canceled.DeviceName).TaskStatus)
  end)
end)

describe("ReupgradeOTATask", function()
  it("sends failed and canceled tasks through again, once their device is free", function()
    local emu = S.new({ failure = { ["2.3.0"] = 1 } })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"))
    emu:advance(7200)
    local t = S.task(emu, job, "dev000021")
    assert.are.equal("FAILED", t.TaskStatus)
    S.fails(emu, "ReupgradeOTATask", { JobId = job, ["TaskId.1"] = "nope" }, "iot.ota.TaskNotExist")
    local busy = S.call(emu, "CreateOTAStaticUpgradeJob", { FirmwareId = S.firmware(emu, "2.5.0"), ProductKey = S.PK,
      TargetSelection = "SPECIFIC", ["TargetDeviceName.1"] = "dev000021", NeedConfirm = "true" }).Data.JobId
    S.fails(emu, "ReupgradeOTATask", { JobId = job, ["TaskId.1"] = t.TaskId }, "iot.ota.DeviceHasUnfinishedTask")
    S.call(emu, "CancelOTATaskByJob", { JobId = busy, CancelUnconfirmedTask = "true" })
    emu:load_fleet({ product = S.PK, devices = {}, failure = { ["2.3.0"] = 0 } })
    S.call(emu, "ReupgradeOTATask", { JobId = job, ["TaskId.1"] = t.TaskId })
    S.fails(emu, "ReupgradeOTATask", { JobId = job, ["TaskId.1"] = t.TaskId }, "iot.ota.TaskStatusNotSupport")
    emu:advance(7200)
    assert.are.equal("SUCCEEDED", S.task(emu, job, "dev000021").TaskStatus)
    assert.are.equal(79, S.totals(emu, job).FAILED)
  end)
end)
