-- The exact API calls of a wave: the business
-- parameters of CreateOTADynamicUpgradeJob / CreateOTAStaticUpgradeJob / CancelOTAStrategyByJob,
-- flattened to the strings that are sent. Only what the wave sets, plus what the platform
-- requires, is sent: the platform's own defaults stay the platform's.
local params = require("otarun.platform.params")

local M = {}

M.SCHEDULE_MIN = 5 * 60          -- ScheduleTime: 5 minutes to 7 days ahead of the call
M.SCHEDULE_MAX = 7 * 86400
-- A wave with a finish but no start far enough ahead is scheduled this long after its create: the
-- platform takes ScheduleFinishTime only with ScheduleTime (docs/platform-assumptions.md,
-- "Schedules"); the extra minute covers the time between planning the call and sending it.
M.SCHEDULE_FOR_FINISH = M.SCHEDULE_MIN + 60

local OVERWRITE = { keep = 1, replace = 2 }
local DYNAMIC_MODE = { continuous = 1, ["new-reports"] = 2 }

local function tags_of(wave)
  local list = {}
  for _, t in ipairs(wave.tags or {}) do list[#list + 1] = { Key = t.key, Value = t.value } end
  local id = wave.identity_tag
  if id then list[#list + 1] = { Key = id.key, Value = id.value } end
  return list
end

-- Parameters shared by both create actions.
local function common(rollout, wave)
  local fw = rollout.firmware or {}
  local r = { FirmwareId = fw.id, ProductKey = rollout.product, IotInstanceId = rollout.instance }
  r.MaximumPerMinute = wave.rate
  r.RetryInterval = wave.retry_interval
  r.RetryCount = wave.retry_count
  r.TimeoutInMinutes = wave.timeout
  r.OverwriteMode = wave.overwrite and OVERWRITE[wave.overwrite]
  if wave.push ~= nil then r.NeedPush = wave.push end
  if wave.confirm ~= nil then r.NeedConfirm = wave.confirm end
  if wave.multi_module ~= nil then r.MultiModuleMode = wave.multi_module end
  r.DownloadProtocol = wave.protocol
  local tags = tags_of(wave)
  if #tags > 0 then r.Tag = tags end
  return r
end

local function list_or_nil(t)
  if t and #t > 0 then return t end
  return nil
end

function M.dynamic_create(rollout, wave)
  local r = common(rollout, wave)
  if wave.group then
    r.GroupId = wave.group
    r.GroupType = "LINK_PLATFORM_DYNAMIC"
  else
    r.SrcVersion = list_or_nil(wave.versions)
  end
  r.DynamicMode = wave.mode and DYNAMIC_MODE[wave.mode]
  return { action = "CreateOTADynamicUpgradeJob", params = params.flatten(r) }
end

-- created_at: when the job would be created (epoch), to decide ScheduleTime and to place a
-- finish given as a duration.
function M.static_create(rollout, wave, created_at)
  local r = common(rollout, wave)
  if wave.devices then
    r.TargetSelection = "SPECIFIC"
    if #wave.devices > M.MAX_NAMES then
      r.DnListFileUrl = M.device_list_placeholder(wave)
    else
      r.TargetDeviceName = list_or_nil(wave.devices)
    end
  elseif wave.group then
    r.TargetSelection = "GROUP"
    r.GroupId = wave.group
    r.GroupType = "LINK_PLATFORM"
  elseif wave.percent_text or wave.percent then
    r.TargetSelection = "GRAY"
    -- `percent = { total = N }`: the GrayPercent that brings the total to N% (otarun.plan.reach)
    r.GrayPercent = wave.percent_total and require("otarun.plan.reach").of(rollout, wave).gray
      or wave.percent_text or params.text(wave.percent)
    r.SrcVersion = list_or_nil(wave.versions)
  else
    r.TargetSelection = "ALL"
    r.SrcVersion = list_or_nil(wave.versions)
  end
  local begins = created_at
  if wave.start and created_at and wave.start - created_at >= M.SCHEDULE_MIN then
    r.ScheduleTime = wave.start * 1000
    begins = wave.start
  elseif (wave.finish_at or wave.finish_after) and created_at then
    begins = created_at + M.SCHEDULE_FOR_FINISH
    r.ScheduleTime = begins * 1000
  end
  if wave.finish_at then
    r.ScheduleFinishTime = wave.finish_at * 1000
  elseif wave.finish_after and begins then
    r.ScheduleFinishTime = (begins + wave.finish_after) * 1000
  end
  return { action = "CreateOTAStaticUpgradeJob", params = params.flatten(r) }
end

-- More than MAX_NAMES devices go out as a device list file: GenerateDeviceNameListURL, the upload
-- (otarun.platform.device_list), then the create with DnListFileUrl (docs/commands-ota.md).
M.MAX_NAMES = 200
M.DEVICE_LIST = '^%(FileUrl of the device list of wave "(.-)"'

function M.device_list_placeholder(wave)
  return string.format('(FileUrl of the device list of wave "%s": %d names)', wave.name, #wave.devices)
end

-- The call that precedes a create with a device list file; apply uploads `names` after it. The
-- names ride on the call, not in its params (a plan shows the parameters sent, not the file).
function M.device_list_url(rollout, wave)
  return { action = "GenerateDeviceNameListURL", params = params.flatten({ IotInstanceId = rollout.instance }),
           names = wave.devices }
end

-- job_id: the real id, or a placeholder text while the job does not exist yet.
function M.cancel_strategy(rollout, job_id)
  return { action = "CancelOTAStrategyByJob",
           params = params.flatten({ JobId = job_id, IotInstanceId = rollout.instance }) }
end

function M.placeholder(wave_name)
  return string.format("(job of wave %q)", wave_name)
end

return M
