-- The emulator against the platform's documentation (docs/platform-assumptions.md): tag lengths
-- in characters, UpdateOTAJob's reach, the task operations' batch limits and confirmation, and the
-- device operations ListOTAUnfinishedTaskByDevice, ListOTAJobByDevice, CancelOTATaskByDevice.
local S = require("emulator.support")

local BAD = "iot.common.InvalidFormattedParameter"

describe("tags", function()
  it("count characters, not bytes: 400 Chinese characters are a valid value, 1025 are not", function()
    local emu = S.new()
    local fid = S.firmware(emu, "2.4.0")
    local value = string.rep("中", 400)           -- 1,200 bytes
    local job = S.dynamic(emu, fid, { ["Tag.1.Key"] = "note", ["Tag.1.Value"] = value })
    assert.are.equal(value, S.call(emu, "QueryOTAJob", { JobId = job }).Data.Tags.OtaTagDTO[1].Value)
    local msg = S.fails(emu, "UpdateOTAJob", { JobId = job, MaximumPerMinute = "100",
      ["Tags.1.Key"] = "note", ["Tags.1.Value"] = string.rep("中", 1025) }, BAD)
    assert.matches("got 1025", msg, 1, true)
  end)
end)

describe("UpdateOTAJob", function()
  it("reads SrcVersionList.N only: SrcVersion.N changes nothing", function()
    local emu = S.new()
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"))
    S.call(emu, "UpdateOTAJob", { JobId = job, MaximumPerMinute = "100", ["SrcVersion.1"] = "2.3.1" })
    assert.are.same({ "2.3.0" }, S.call(emu, "QueryOTAJob", { JobId = job }).Data.SrcVersions.SrcVersion)
    S.call(emu, "UpdateOTAJob", { JobId = job, MaximumPerMinute = "100", ["SrcVersionList.1"] = "2.3.1" })
    assert.are.same({ "2.3.1" }, S.call(emu, "QueryOTAJob", { JobId = job }).Data.SrcVersions.SrcVersion)
  end)

  it("gives a new TimeoutInMinutes only to devices added after the change", function()
    local emu = S.new({ duration = { min = "50m", max = "50m" } })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { TimeoutInMinutes = "30" })
    local before = S.task(emu, job, "dev000021")
    assert.are.equal("30", before.Timeout)
    S.call(emu, "UpdateOTAJob", { JobId = job, MaximumPerMinute = "10000", TimeoutInMinutes = "120",
      ["SrcVersionList.1"] = "2.3.0", ["SrcVersionList.2"] = "2.3.1" })
    assert.are.equal("30", S.task(emu, job, "dev000021").Timeout)
    local added = S.task(emu, job, "dev000001")      -- on 2.3.1: joins after the change
    assert.are.equal("120", added.Timeout)
    emu:advance(3 * 3600)
    -- 50-minute upgrades: the old tasks time out at 30 minutes, the new ones finish
    assert.are.equal("FAILED", S.task(emu, job, "dev000021").TaskStatus)
    assert.are.equal("SUCCEEDED", S.task(emu, job, "dev000001").TaskStatus)
  end)
end)

describe("ReupgradeOTATask and ConfirmOTATask", function()
  it("take 1 to 10 task ids a call", function()
    local emu = S.new()
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { NeedConfirm = "true" })
    local p = {}
    local b = S.call(emu, "ListOTATaskByJob", { JobId = job, PageSize = "11" })
    for i, t in ipairs(b.Data.SimpleOTATaskInfo) do p["TaskId." .. i] = t.TaskId end
    assert.matches("at most 10", S.fails(emu, "ConfirmOTATask", p, BAD), 1, true)
    p.JobId = job
    assert.matches("at most 10", S.fails(emu, "ReupgradeOTATask", p, BAD), 1, true)
    p["TaskId.11"], p.JobId = nil, nil
    S.call(emu, "ConfirmOTATask", p)
  end)

  it("are limited to 20 calls a second", function()
    local emulator = require("otarun.emulator.gateway")
    assert.are.equal(20, emulator.DEFAULT_QPS.ReupgradeOTATask)
    assert.are.equal(20, emulator.DEFAULT_QPS.ConfirmOTATask)
  end)

  it("re-upgrading a task of a NeedConfirm batch waits for confirmation again", function()
    local emu = S.new({ failure = { ["2.3.0"] = 1 } })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { NeedConfirm = "true" })
    local t = S.task(emu, job, "dev000021")
    S.call(emu, "ConfirmOTATask", { ["TaskId.1"] = t.TaskId })
    emu:advance(3600)
    assert.are.equal("FAILED", S.task(emu, job, "dev000021").TaskStatus)
    S.call(emu, "ReupgradeOTATask", { JobId = job, ["TaskId.1"] = t.TaskId })
    assert.are.equal("CONFIRM", S.task(emu, job, "dev000021").TaskStatus)
    emu:advance(3600)
    assert.are.equal("CONFIRM", S.task(emu, job, "dev000021").TaskStatus)
    S.call(emu, "ConfirmOTATask", { ["TaskId.1"] = t.TaskId })
    assert.are_not.equal("CONFIRM", S.task(emu, job, "dev000021").TaskStatus)
  end)
end)

describe("device operations", function()
  it("ListOTAUnfinishedTaskByDevice gives the device's pending task, by name or IotId, with a status filter", function()
    local emu = S.new()
    local fid = S.firmware(emu, "2.4.0")
    local job = S.dynamic(emu, fid, { NeedConfirm = "true" })
    local b = S.call(emu, "ListOTAUnfinishedTaskByDevice", { ProductKey = S.PK, DeviceName = "dev000021" })
    local info = b.Data.SimpleOTATaskInfo[1]
    assert.are.equal(job, info.JobId)
    assert.are.equal("CONFIRM", info.TaskStatus)
    assert.are.equal("2.3.0", info.SrcVersion)
    assert.are.equal("2.4.0", info.DestVersion)
    assert.are.equal(fid, info.FirmwareId)
    local by_id = S.call(emu, "ListOTAUnfinishedTaskByDevice", { IotId = info.IotId })
    assert.are.equal(info.TaskId, by_id.Data.SimpleOTATaskInfo[1].TaskId)
    local none = S.call(emu, "ListOTAUnfinishedTaskByDevice", { ProductKey = S.PK, DeviceName = "dev000021", TaskStatus = "QUEUED" })
    assert.are.equal(0, #none.Data.SimpleOTATaskInfo)
    S.fails(emu, "ListOTAUnfinishedTaskByDevice", { ProductKey = S.PK, DeviceName = "dev000021", TaskStatus = "FAILED" }, BAD)
    S.fails(emu, "ListOTAUnfinishedTaskByDevice", { ProductKey = S.PK, DeviceName = "nope" }, "iot.device.NotExistedDevice")
    -- a device on 2.3.1 has no task
    local other = S.call(emu, "ListOTAUnfinishedTaskByDevice", { ProductKey = S.PK, DeviceName = "dev000001" })
    assert.are.equal(0, #other.Data.SimpleOTATaskInfo)
  end)

  it("ListOTAJobByDevice lists the firmware's batches that gave the device a task, newest first", function()
    local emu = S.new()
    local fid = S.firmware(emu, "2.4.0")
    local a = S.dynamic(emu, fid, { NeedConfirm = "true" })
    S.call(emu, "CancelOTATaskByJob", { JobId = a, CancelUnconfirmedTask = "true" })
    local b = S.call(emu, "CreateOTAStaticUpgradeJob", { FirmwareId = fid, ProductKey = S.PK, TargetSelection = "SPECIFIC",
      ["TargetDeviceName.1"] = "dev000021" }).Data.JobId
    local got = S.call(emu, "ListOTAJobByDevice", { FirmwareId = fid, ProductKey = S.PK, DeviceName = "dev000021",
      CurrentPage = "1", PageSize = "10" })
    assert.are.equal(2, got.Total)
    assert.are.equal(b, got.Data.SimpleOTAJobInfo[1].JobId)
    assert.are.equal(a, got.Data.SimpleOTAJobInfo[2].JobId)
    local other = S.call(emu, "ListOTAJobByDevice", { FirmwareId = fid, ProductKey = S.PK, DeviceName = "dev000022",
      CurrentPage = "1", PageSize = "10" })
    assert.are.equal(1, other.Total)
    S.fails(emu, "ListOTAJobByDevice", { FirmwareId = fid, ProductKey = S.PK, DeviceName = "dev000021",
      CurrentPage = "1", PageSize = "101" }, "iot.common.InvalidPageParams")
  end)

  it("CancelOTATaskByDevice cancels the named devices' pending tasks of the firmware (of one batch when given)", function()
    local emu = S.new()
    local fid = S.firmware(emu, "2.4.0")
    local job = S.dynamic(emu, fid, { NeedConfirm = "true" })
    S.call(emu, "CancelOTATaskByDevice", { ProductKey = S.PK, FirmwareId = fid, ["DeviceName.1"] = "dev000021",
      ["DeviceName.2"] = "dev000022" })
    assert.are.equal("CANCELED", S.task(emu, job, "dev000021").TaskStatus)
    assert.are.equal("CANCELED", S.task(emu, job, "dev000022").TaskStatus)
    assert.are.equal("CONFIRM", S.task(emu, job, "dev000023").TaskStatus)
    -- another batch's id: nothing of this batch is cancelled
    local other = S.call(emu, "CreateOTAStaticUpgradeJob", { FirmwareId = fid, ProductKey = S.PK, TargetSelection = "SPECIFIC",
      ["TargetDeviceName.1"] = "dev000001" }).Data.JobId
    S.call(emu, "CancelOTATaskByDevice", { ProductKey = S.PK, FirmwareId = fid, JobId = other, ["DeviceName.1"] = "dev000023" })
    assert.are.equal("CONFIRM", S.task(emu, job, "dev000023").TaskStatus)
    local status, body = emu:call("CancelOTATaskByDevice", { ProductKey = S.PK, FirmwareId = fid })
    assert.are.equal(400, status)
    assert.are.equal("MissingDeviceName", body.Code)
    local p = { ProductKey = S.PK, FirmwareId = fid }
    for i = 1, 201 do p["DeviceName." .. i] = string.format("dev%06d", i) end
    S.fails(emu, "CancelOTATaskByDevice", p, BAD)
  end)
end)
