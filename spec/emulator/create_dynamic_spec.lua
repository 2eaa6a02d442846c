-- CreateOTADynamicUpgradeJob: one spec per usage note of the reference page, then its limits.
local S = require("emulator.support")

describe("CreateOTADynamicUpgradeJob usage notes", function()
  it("requires a verified package unless it was created with NeedToVerify=false", function()
    local emu = S.new()
    local fid = S.firmware(emu, "2.4.0", { NeedToVerify = "true" })
    S.fails(emu, "CreateOTADynamicUpgradeJob", { FirmwareId = fid, ProductKey = S.PK, ["SrcVersion.1"] = "2.3.0" },
      "iot.ota.FirmwareNotVerified")
    S.call(emu, "CreateOTAVerifyJob", { FirmwareId = fid, ProductKey = S.PK, ["TargetDeviceName.1"] = "dev000001" })
    assert.are.equal(2, S.call(emu, "QueryOTAFirmware", { FirmwareId = fid }).FirmwareInfo.Status)
    S.fails(emu, "CreateOTADynamicUpgradeJob", { FirmwareId = fid, ProductKey = S.PK, ["SrcVersion.1"] = "2.3.0" },
      "iot.ota.FirmwareNotVerified")
    emu:advance(3600)
    assert.are.equal(1, S.call(emu, "QueryOTAFirmware", { FirmwareId = fid }).FirmwareInfo.Status)
    S.dynamic(emu, fid)
    local free = S.firmware(emu, "2.5.0")
    assert.are.equal(-1, S.call(emu, "QueryOTAFirmware", { FirmwareId = free }).FirmwareInfo.Status)
    S.dynamic(emu, free, { ["SrcVersion.1"] = "2.3.1" })
  end)

  it("lets a device be pending in one job only: keep leaves it to the old job", function()
    local emu = S.new()
    local old = S.dynamic(emu, S.firmware(emu, "2.4.0"), { MaximumPerMinute = "10" })
    assert.are.equal(80, S.totals(emu, old).QUEUED + S.totals(emu, old).NOTIFIED)
    -- a static job targeting a pending device records a FAILED task ("the update task fails")
    local fid2 = S.firmware(emu, "2.5.0")
    local st = S.call(emu, "CreateOTAStaticUpgradeJob", { FirmwareId = fid2, ProductKey = S.PK,
      TargetSelection = "SPECIFIC", ["TargetDeviceName.1"] = "dev000021", ["TargetDeviceName.2"] = "dev000001" }).Data.JobId
    local t = S.task(emu, st, "dev000021")
    assert.are.equal("FAILED", t.TaskStatus)
    assert.matches(old, t.TaskDesc, 1, true)
    assert.are_not.equal("FAILED", S.task(emu, st, "dev000001").TaskStatus)
    -- a dynamic job in keep mode leaves pending devices alone
    local fid3 = S.firmware(emu, "2.6.0")
    local dyn = S.dynamic(emu, fid3, { OverwriteMode = "1" })
    assert.is_nil(S.task(emu, dyn, "dev000030"))
    assert.are.equal(0, S.totals(emu, old).CANCELED)
  end)

  it("with OverwriteMode=2 cancels the old pending task but never an in-progress one", function()
    local emu = S.new({ duration = { min = "2h", max = "2h" } })
    local old = S.dynamic(emu, S.firmware(emu, "2.4.0"), { MaximumPerMinute = "10" })
    emu:advance(120)                      -- 20 notified, some in progress, 60 queued
    local before = S.totals(emu, old)
    assert.is_true(before.IN_PROGRESS > 0)
    local newer = S.dynamic(emu, S.firmware(emu, "2.5.0"), { OverwriteMode = "2" })
    local after = S.totals(emu, old)
    assert.are.equal(before.IN_PROGRESS, after.IN_PROGRESS)
    assert.are.equal(before.QUEUED + before.NOTIFIED, after.CANCELED)
    assert.are.equal(80 - before.IN_PROGRESS, S.call(emu, "ListOTATaskByJob", { JobId = newer, PageSize = "1" }).Total)
    local canceled = S.call(emu, "ListOTATaskByJob", { JobId = old, TaskStatus = "CANCELED", PageSize = "1" }).Data.SimpleOTATaskInfo[1]
    assert.matches("overwritten by batch " .. newer, canceled.TaskDesc, 1, true)
  end)

  it("allows one running dynamic job per package", function()
    local emu = S.new()
    local fid = S.firmware(emu, "2.4.0")
    local first = S.dynamic(emu, fid)
    local msg = S.fails(emu, "CreateOTADynamicUpgradeJob", { FirmwareId = fid, ProductKey = S.PK, ["SrcVersion.1"] = "2.3.1" },
      "iot.ota.DynamicJobAlreadyExisted")
    assert.matches(first, msg, 1, true)
    S.call(emu, "CancelOTAStrategyByJob", { JobId = first })
    S.dynamic(emu, fid, { ["SrcVersion.1"] = "2.3.1" })
    -- static jobs of the same package are not limited
    S.call(emu, "CreateOTAStaticUpgradeJob", { FirmwareId = fid, ProductKey = S.PK, TargetSelection = "ALL" })
  end)

  it("gives a device covered by policies of several packages the latest one", function()
    local emu = S.new()
    local a = S.dynamic(emu, S.firmware(emu, "2.4.0"), { ["SrcVersion.1"] = "2.2.0", DynamicMode = "2" })
    local b = S.dynamic(emu, S.firmware(emu, "2.5.0"), { ["SrcVersion.1"] = "2.2.0", DynamicMode = "2" })
    assert.is_true(emu:report_version(S.PK, "dev000005", "2.2.0"))
    assert.is_nil(S.task(emu, a, "dev000005"))
    assert.is_table(S.task(emu, b, "dev000005"))
    emu:advance(3600)
    assert.are.equal("2.5.0", S.device(emu, "dev000005").FirmwareVersion)
  end)

  it("creates a strategy that CancelOTAStrategyByJob stops, while upgrading devices carry on", function()
    local emu = S.new({ duration = { min = "30m", max = "30m" } })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { MaximumPerMinute = "10" })
    emu:advance(180)
    local before = S.totals(emu, job)
    assert.is_true(before.IN_PROGRESS > 0)
    S.call(emu, "CancelOTAStrategyByJob", { JobId = job })
    assert.are.equal("CANCELED", S.call(emu, "QueryOTAJob", { JobId = job }).Data.JobStatus)
    emu:report_version(S.PK, "dev000001", "2.3.0")          -- reports a covered version later
    assert.is_nil(S.task(emu, job, "dev000001"))
    emu:advance(3600)
    local after = S.totals(emu, job)
    assert.are.equal(0, after.IN_PROGRESS)
    assert.is_true(after.SUCCEEDED >= before.IN_PROGRESS)
    S.fails(emu, "CancelOTAStrategyByJob", { JobId = job }, "iot.ota.JobStatusNotSupport")
  end)

  it("supports dynamic groups only in cn-shanghai, and only dynamic groups", function()
    local emu = S.new({ groups = { { id = "StaticGrp1", type = "static" } } })
    local fid = S.firmware(emu, "2.4.0")
    local p = { FirmwareId = fid, ProductKey = S.PK, GroupId = "IwOwQj7DJ", GroupType = "LINK_PLATFORM_DYNAMIC" }
    S.fails(emu, "CreateOTADynamicUpgradeJob", p, "iot.ota.DynamicGroupNotSupportedInRegion", { region = "cn-beijing" })
    S.fails(emu, "CreateOTADynamicUpgradeJob", { FirmwareId = fid, ProductKey = S.PK, GroupId = "IwOwQj7DJ", GroupType = "LINK_PLATFORM" },
      "iot.ota.InvalidGroupType")
    S.fails(emu, "CreateOTADynamicUpgradeJob", { FirmwareId = fid, ProductKey = S.PK, GroupId = "StaticGrp1", GroupType = "LINK_PLATFORM_DYNAMIC" },
      "iot.ota.InvalidGroupType")
    S.fails(emu, "CreateOTADynamicUpgradeJob", { FirmwareId = fid, ProductKey = S.PK, GroupId = "Nope", GroupType = "LINK_PLATFORM_DYNAMIC" },
      "iot.group.NotExistedGroup")
    local job = S.call(emu, "CreateOTADynamicUpgradeJob", p, { region = "cn-shanghai" }).Data.JobId
    assert.are.equal(80, S.call(emu, "ListOTATaskByJob", { JobId = job, PageSize = "1" }).Total)
  end)

  it("downloads over MQTT only in cn-shanghai, cn-beijing, cn-shenzhen and for one file of at most 16 MB", function()
    local emu = S.new()
    local small = S.firmware(emu, "2.4.0", { FirmwareSize = tostring(16 * 1024 * 1024) })
    local big = S.firmware(emu, "2.5.0", { FirmwareSize = tostring(16 * 1024 * 1024 + 1) })
    local multi = S.call(emu, "CreateOTAFirmware", { FirmwareName = "multi", DestVersion = "2.6.0", ProductKey = S.PK, NeedToVerify = "false",
      ["MultiFiles.1.Name"] = "a", ["MultiFiles.1.Url"] = "https://x/a", ["MultiFiles.2.Name"] = "b", ["MultiFiles.2.Url"] = "https://x/b" }).Data.FirmwareId
    local function p(fid) return { FirmwareId = fid, ProductKey = S.PK, ["SrcVersion.1"] = "2.3.0", DownloadProtocol = "MQTT" } end
    S.fails(emu, "CreateOTADynamicUpgradeJob", p(small), "iot.ota.MqttNotSupportedInRegion", { region = "cn-hangzhou" })
    S.fails(emu, "CreateOTADynamicUpgradeJob", p(big), "iot.ota.MqttPackageNotSupported", { region = "cn-beijing" })
    S.fails(emu, "CreateOTADynamicUpgradeJob", p(multi), "iot.ota.MqttPackageNotSupported", { region = "cn-shenzhen" })
    S.fails(emu, "CreateOTADynamicUpgradeJob", { FirmwareId = small, ProductKey = S.PK, ["SrcVersion.1"] = "2.3.0", DownloadProtocol = "FTP" },
      "iot.common.InvalidFormattedParameter")
    S.call(emu, "CreateOTADynamicUpgradeJob", p(small), { region = "cn-shenzhen" })
  end)

  it("keeps MultiModuleMode and OverwriteMode of group jobs consistent, and never both overwrite and multi-module", function()
    local emu = S.new()
    local a = S.firmware(emu, "2.4.0")
    local g = { ProductKey = S.PK, GroupId = "IwOwQj7DJ", GroupType = "LINK_PLATFORM_DYNAMIC" }
    S.fails(emu, "CreateOTADynamicUpgradeJob", { FirmwareId = a, ProductKey = S.PK, ["SrcVersion.1"] = "2.3.0", OverwriteMode = "2", MultiModuleMode = "true" },
      "iot.ota.OverwriteModeConflictsMultiModule")
    S.dynamic(emu, a, { ["SrcVersion.1"] = false, GroupId = g.GroupId, GroupType = g.GroupType, MultiModuleMode = "true" })
    local b = S.firmware(emu, "2.5.0")
    S.fails(emu, "CreateOTADynamicUpgradeJob", { FirmwareId = b, ProductKey = S.PK, GroupId = g.GroupId, GroupType = g.GroupType },
      "iot.ota.GroupJobModeInconsistent")
    S.fails(emu, "CreateOTADynamicUpgradeJob", { FirmwareId = b, ProductKey = S.PK, GroupId = g.GroupId, GroupType = g.GroupType, MultiModuleMode = "true", OverwriteMode = "2" },
      "iot.ota.OverwriteModeConflictsMultiModule")
    S.dynamic(emu, b, { ["SrcVersion.1"] = false, GroupId = g.GroupId, GroupType = g.GroupType, MultiModuleMode = "true" })
  end)
end)

describe("CreateOTADynamicUpgradeJob parameters", function()
  local emu, fid
  before_each(function()
    emu = S.new()
    fid = S.firmware(emu, "2.4.0")
  end)
  local function with(extra)
    local p = { FirmwareId = fid, ProductKey = S.PK, ["SrcVersion.1"] = "2.3.0" }
    for k, v in pairs(extra) do p[k] = v ~= false and v or nil end
    return p
  end
  local BAD = "iot.common.InvalidFormattedParameter"

  it("answers a missing FirmwareId or ProductKey with 400 Missing<Param>", function()
    local status, body = emu:call("CreateOTADynamicUpgradeJob", { ProductKey = S.PK, ["SrcVersion.1"] = "2.3.0" })
    assert.are.equal(400, status)
    assert.are.equal("MissingFirmwareId", body.Code)
    assert.are.equal("FirmwareId is mandatory for this action.", body.Message)
    assert.is_nil(body.Success)
    status, body = emu:call("CreateOTADynamicUpgradeJob", { FirmwareId = fid })
    assert.are.equal(400, status)
    assert.are.equal("MissingProductKey", body.Code)
  end)

  it("refuses unknown products and packages, and packages of another product", function()
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ ProductKey = "nope" }), "iot.prod.NotExistedProduct")
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ FirmwareId = "x" }), "iot.ota.FirmwareNotExist")
    emu:load_fleet({ product = "otherPK", devices = { { version = "1.0", count = 1 } } })
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ ProductKey = "otherPK" }), "iot.ota.FirmwareProductMismatch")
  end)

  it("takes MaximumPerMinute from 10 to 10000", function()
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ MaximumPerMinute = "9" }), BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ MaximumPerMinute = "10001" }), BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ MaximumPerMinute = "ten" }), BAD)
    local job = S.dynamic(emu, fid, { MaximumPerMinute = "10" })
    assert.are.equal(10, S.call(emu, "QueryOTAJob", { JobId = job }).Data.MaximumPerMinute)
    S.call(emu, "CancelOTAStrategyByJob", { JobId = job })
    job = S.dynamic(emu, fid, { MaximumPerMinute = "10000" })
    assert.are.equal(10000, S.call(emu, "QueryOTAJob", { JobId = job }).Data.MaximumPerMinute)
  end)

  it("takes RetryInterval from {0,10,30,60,1440}, RetryCount from {1,2,5}, and a count with every interval", function()
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ RetryInterval = "15", RetryCount = "1" }), BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ RetryInterval = "10", RetryCount = "3" }), BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ RetryInterval = "10" }), BAD)
    S.dynamic(emu, fid, { RetryInterval = "1440", RetryCount = "5" })
  end)

  it("wants RetryInterval below TimeoutInMinutes, and TimeoutInMinutes from 1 to 1440", function()
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ RetryInterval = "60", RetryCount = "1", TimeoutInMinutes = "60" }),
      "iot.check.ParameterIsNotLessThanMax")
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ TimeoutInMinutes = "0" }), BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ TimeoutInMinutes = "1441" }), BAD)
    S.dynamic(emu, fid, { RetryInterval = "30", RetryCount = "1", TimeoutInMinutes = "60" })
  end)

  it("takes at most 10 unique source versions, and either versions or a group", function()
    local p = with({})
    for i = 1, 11 do p["SrcVersion." .. i] = "1.0." .. i end
    S.fails(emu, "CreateOTADynamicUpgradeJob", p, BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ ["SrcVersion.2"] = "2.3.0" }), BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ ["SrcVersion.1"] = false }), BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ GroupId = "IwOwQj7DJ", GroupType = "LINK_PLATFORM_DYNAMIC" }), BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ ["SrcVersion.1"] = false, GroupId = "IwOwQj7DJ" }), BAD)
    p["SrcVersion.11"] = nil
    S.dynamic(emu, fid, p)
  end)

  it("limits tags: paired, keys of [A-Za-z0-9.] up to 30, values up to 1024, 10 tags, 4096 characters", function()
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ ["Tag.1.Key"] = "k" }), BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ ["Tag.1.Key"] = "bad-key", ["Tag.1.Value"] = "v" }), BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ ["Tag.1.Key"] = string.rep("k", 31), ["Tag.1.Value"] = "v" }), BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ ["Tag.1.Key"] = "k", ["Tag.1.Value"] = string.rep("v", 1025) }), BAD)
    local eleven = with({})
    for i = 1, 11 do eleven["Tag." .. i .. ".Key"], eleven["Tag." .. i .. ".Value"] = "k" .. i, "v" end
    S.fails(emu, "CreateOTADynamicUpgradeJob", eleven, BAD)
    local long = with({})
    for i = 1, 5 do long["Tag." .. i .. ".Key"], long["Tag." .. i .. ".Value"] = "k" .. i, string.rep("v", 1000) end
    S.fails(emu, "CreateOTADynamicUpgradeJob", long, BAD)
    local job = S.dynamic(emu, fid, { ["Tag.1.Key"] = "otarun", ["Tag.1.Value"] = "camera/canary", ["Tag.2.Key"] = "a.b", ["Tag.2.Value"] = "x" })
    local tags = S.call(emu, "QueryOTAJob", { JobId = job }).Data.Tags.OtaTagDTO
    assert.are.same({ { Key = "otarun", Value = "camera/canary" }, { Key = "a.b", Value = "x" } }, tags)
  end)

  it("makes a differential package's versions equal its SrcVersion", function()
    local diff = S.firmware(emu, "2.5.0", { Type = "1", SrcVersion = "2.3.0" })
    S.fails(emu, "CreateOTADynamicUpgradeJob", { FirmwareId = diff, ProductKey = S.PK, ["SrcVersion.1"] = "2.3.1" },
      "iot.ota.SrcVersionMismatchDiffPackage")
    S.fails(emu, "CreateOTADynamicUpgradeJob", { FirmwareId = diff, ProductKey = S.PK, ["SrcVersion.1"] = "2.3.0", ["SrcVersion.2"] = "2.3.1" },
      "iot.ota.SrcVersionMismatchDiffPackage")
    S.dynamic(emu, diff)
  end)

  it("refuses bad enumerations and booleans", function()
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ OverwriteMode = "3" }), BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ DynamicMode = "0" }), BAD)
    S.fails(emu, "CreateOTADynamicUpgradeJob", with({ NeedPush = "yes" }), BAD)
  end)

  it("answers with a JobId and UtcCreate in the platform's formats", function()
    local body = S.call(emu, "CreateOTADynamicUpgradeJob", with({}), { request_id = "REQ-1" })
    assert.are.equal("REQ-1", body.RequestId)
    assert.matches("^%w+$", body.Data.JobId)
    assert.are.equal(26, #body.Data.JobId)
    assert.are.equal("2026-01-01T00:00:00.000Z", body.Data.UtcCreate)
  end)
end)
