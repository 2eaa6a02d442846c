-- CreateOTAStaticUpgradeJob: targets (ALL, SPECIFIC, GRAY, GROUP), skipping devices already on the
-- destination version, gray selection, schedules.
local S = require("emulator.support")

local emu

local function static(extra)
  local p = { FirmwareId = emu.fid, ProductKey = S.PK, TargetSelection = "ALL" }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end
local BAD = "iot.common.InvalidFormattedParameter"

describe("CreateOTAStaticUpgradeJob", function()
  before_each(function()
    emu = S.new({ groups = { { id = "StaticGrp1", type = "static", name = "shelf" } },
                  devices = { { version = "2.3.1", count = 20 }, { version = "2.3.0", count = 80, groups = { "IwOwQj7DJ" } },
                              { version = "2.4.0", count = 5, groups = { "StaticGrp1" } },
                              { version = "2.3.0", count = 5, prefix = "shelf", groups = { "StaticGrp1" } } } })
    emu.fid = S.firmware(emu, "2.4.0")
  end)

  it("targets every device not yet on the destination version, narrowed by SrcVersion", function()
    local all = S.call(emu, "CreateOTAStaticUpgradeJob", static()).Data.JobId
    assert.are.equal(105, S.call(emu, "ListOTATaskByJob", { JobId = all, PageSize = "1" }).Total)
    local emu2 = S.new()
    emu2.fid = S.firmware(emu2, "2.4.0")
    local some = S.call(emu2, "CreateOTAStaticUpgradeJob", static({ FirmwareId = emu2.fid, ["SrcVersion.1"] = "2.3.1" })).Data.JobId
    assert.are.equal(20, S.call(emu2, "ListOTATaskByJob", { JobId = some, PageSize = "1" }).Total)
    assert.are.same({ "2.3.1" }, S.call(emu2, "QueryOTAJob", { JobId = some }).Data.SrcVersions.SrcVersion)
  end)

  it("targets named devices: at most 200, unique, of the product, without SrcVersion", function()
    local p = static({ TargetSelection = "SPECIFIC" })
    for i = 1, 201 do p["TargetDeviceName." .. i] = string.format("dev%06d", i) end
    S.fails(emu, "CreateOTAStaticUpgradeJob", p, BAD)
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ TargetSelection = "SPECIFIC", ["TargetDeviceName.1"] = "dev000001",
      ["TargetDeviceName.2"] = "dev000001" }), BAD)
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ TargetSelection = "SPECIFIC", ["TargetDeviceName.1"] = "ghost" }),
      "iot.device.NotExistedDevice")
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ TargetSelection = "SPECIFIC", ["TargetDeviceName.1"] = "dev000001",
      ["SrcVersion.1"] = "2.3.1" }), BAD)
    local status, body = emu:call("CreateOTAStaticUpgradeJob", static({ TargetSelection = "SPECIFIC" }))
    assert.are.equal(400, status)
    assert.are.equal("MissingTargetDeviceName", body.Code)
    local job = S.call(emu, "CreateOTAStaticUpgradeJob", static({ TargetSelection = "SPECIFIC",
      ["TargetDeviceName.1"] = "dev000001", ["TargetDeviceName.2"] = "dev000101" })).Data.JobId
    -- dev000101 is already on 2.4.0: skipped
    assert.are.equal(1, S.call(emu, "ListOTATaskByJob", { JobId = job, PageSize = "1" }).Total)
  end)

  it("takes GrayPercent in (0, 100] with 3 decimals, and picks the same devices for a seed", function()
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ TargetSelection = "GRAY", GrayPercent = "0" }), BAD)
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ TargetSelection = "GRAY", GrayPercent = "100.5" }), BAD)
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ TargetSelection = "GRAY", GrayPercent = "1.2345" }), BAD)
    local status, body = emu:call("CreateOTAStaticUpgradeJob", static({ TargetSelection = "GRAY" }))
    assert.are.equal(400, status)
    assert.are.equal("MissingGrayPercent", body.Code)
    local function pick(e, pct)
      local job = S.call(e, "CreateOTAStaticUpgradeJob", static({ FirmwareId = e.fid, TargetSelection = "GRAY", GrayPercent = pct })).Data.JobId
      local names = {}
      for _, t in ipairs(S.call(e, "ListOTATaskByJob", { JobId = job, PageSize = "100" }).Data.SimpleOTATaskInfo) do names[#names + 1] = t.DeviceName end
      table.sort(names)
      return names, job
    end
    local a, job = pick(emu, "10.5")
    assert.are.equal(11, #a)                               -- floor(105 * 10.5%)
    assert.are.equal("10.5", S.call(emu, "QueryOTAJob", { JobId = job }).Data.GrayPercent)
    local twin = S.new({ groups = { { id = "StaticGrp1", type = "static" } },
                         devices = { { version = "2.3.1", count = 20 }, { version = "2.3.0", count = 80, groups = { "IwOwQj7DJ" } },
                                     { version = "2.4.0", count = 5, groups = { "StaticGrp1" } },
                                     { version = "2.3.0", count = 5, prefix = "shelf", groups = { "StaticGrp1" } } } })
    twin.fid = S.firmware(twin, "2.4.0")
    assert.are.same(a, (pick(twin, "10.5")))
    local other = S.new({ devices = { { version = "2.3.0", count = 105 } } }, { seed = 8 })
    other.fid = S.firmware(other, "2.4.0")
    local tiny = pick(other, "0.001")
    assert.are.equal(1, #tiny)                              -- at least one device
  end)

  it("targets a static group with GroupType LINK_PLATFORM", function()
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ TargetSelection = "GROUP", GroupId = "IwOwQj7DJ", GroupType = "LINK_PLATFORM" }),
      "iot.ota.InvalidGroupType")
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ TargetSelection = "GROUP", GroupId = "StaticGrp1", GroupType = "LINK_PLATFORM_DYNAMIC" }),
      "iot.ota.InvalidGroupType")
    local job = S.call(emu, "CreateOTAStaticUpgradeJob", static({ TargetSelection = "GROUP", GroupId = "StaticGrp1", GroupType = "LINK_PLATFORM" })).Data.JobId
    assert.are.equal(5, S.call(emu, "ListOTATaskByJob", { JobId = job, PageSize = "1" }).Total)
    local q = S.call(emu, "QueryOTAJob", { JobId = job }).Data
    assert.are.equal("shelf", q.GroupName)
    assert.are.equal("GROUP", q.TargetSelection)
    assert.are.equal("STATIC", q.SelectionType)
  end)

  it("schedules 5 minutes to 7 days ahead and finishes 1 hour to 30 days after", function()
    local ms = function(t) return tostring(math.floor(t * 1000)) end
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ ScheduleTime = ms(S.T0 + 299) }), "iot.ota.InvalidScheduleTime")
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ ScheduleTime = ms(S.T0 + 7 * 86400 + 1) }), "iot.ota.InvalidScheduleTime")
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ ScheduleTime = ms(S.T0 + 600), ScheduleFinishTime = ms(S.T0 + 600 + 3599) }),
      "iot.ota.InvalidScheduleTime")
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ ScheduleTime = ms(S.T0 + 600), ScheduleFinishTime = ms(S.T0 + 600 + 30 * 86400 + 1) }),
      "iot.ota.InvalidScheduleTime")
    local job = S.call(emu, "CreateOTAStaticUpgradeJob", static({ ScheduleTime = ms(S.T0 + 600), MaximumPerMinute = "10",
      ScheduleFinishTime = ms(S.T0 + 600 + 3600) })).Data.JobId
    local q = S.call(emu, "QueryOTAJob", { JobId = job }).Data
    assert.are.equal("PLANNED", q.JobStatus)
    assert.are.equal("2026-01-01T00:10:00.000Z", q.UtcScheduleTime)
    assert.are.equal(0, S.call(emu, "ListOTATaskByJob", { JobId = job, PageSize = "1" }).Total)
    emu:advance(600)
    assert.are.equal("IN_PROGRESS", S.call(emu, "QueryOTAJob", { JobId = job }).Data.JobStatus)
    assert.are.equal(105, S.call(emu, "ListOTATaskByJob", { JobId = job, PageSize = "1" }).Total)
    emu:advance(3600)
    -- at 10 per minute, 60 minutes notify 600 > 105: all done; nothing left to cancel at the finish time
    assert.are.equal(105, S.totals(emu, job).SUCCEEDED)
  end)

  it("cancels what has not started when ScheduleFinishTime passes", function()
    -- the finish counts from ScheduleTime: it is refused without one
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ ScheduleFinishTime = tostring((S.T0 + 3600) * 1000) }),
      "iot.ota.InvalidScheduleTime")
    local job = S.call(emu, "CreateOTAStaticUpgradeJob", static({ NeedConfirm = "true",
      ScheduleTime = tostring((S.T0 + 300) * 1000), ScheduleFinishTime = tostring((S.T0 + 300 + 3600) * 1000) })).Data.JobId
    emu:advance(300)
    local t1 = S.task(emu, job, "dev000001")
    S.call(emu, "ConfirmOTATask", { ["TaskId.1"] = t1.TaskId })
    emu:advance(3599)
    assert.are.equal(104, S.totals(emu, job).CONFIRM)
    emu:advance(1)
    local t = S.totals(emu, job)
    assert.are.equal(104, t.CANCELED)
    assert.are.equal(1, t.SUCCEEDED)
    assert.matches("ScheduleFinishTime", S.task(emu, job, "dev000002").TaskDesc)
    assert.are.equal("COMPLETED", S.call(emu, "QueryOTAJob", { JobId = job }).Data.JobStatus)
  end)

  it("needs TargetSelection from the four kinds", function()
    local status, body = emu:call("CreateOTAStaticUpgradeJob", { FirmwareId = emu.fid, ProductKey = S.PK })
    assert.are.equal(400, status)
    assert.are.equal("MissingTargetSelection", body.Code)
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ TargetSelection = "SOME" }), BAD)
    -- a DnListFileUrl must name a file uploaded after GenerateDeviceNameListURL (spec/device_list_spec.lua)
    S.fails(emu, "CreateOTAStaticUpgradeJob", static({ DnListFileUrl = "https://x/list", TargetSelection = "SPECIFIC" }),
      "iot.ota.InvalidDnListFile")
  end)
end)
