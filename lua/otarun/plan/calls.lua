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
      r.DnListFileUrl = true -- the reference, put in after flattening (M.ref)
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
  local flat = params.flatten(r)
  if flat.DnListFileUrl then flat.DnListFileUrl = M.ref("device_list_url", wave.name) end
  return { action = "CreateOTAStaticUpgradeJob", params = flat }
end

-- More than MAX_NAMES devices go out as a device list file: GenerateDeviceNameListURL, the upload
-- (otarun.platform.device_list), then the create with DnListFileUrl (docs/commands-ota.md).
M.MAX_NAMES = 200

-- The call that precedes a create with a device list file; apply uploads `names` after it. The
-- names ride on the call, not in its params (a plan shows the parameters sent, not the file).
function M.device_list_url(rollout, wave)
  return { action = "GenerateDeviceNameListURL", params = params.flatten({ IotInstanceId = rollout.instance }),
           names = wave.devices }
end

-- job_id: the real id, or a reference (M.ref) while the job does not exist yet.
function M.cancel_strategy(rollout, job_id)
  local flat = params.flatten({ JobId = not M.is_ref(job_id) and job_id or nil, IotInstanceId = rollout.instance })
  if M.is_ref(job_id) then flat.JobId = job_id end
  return { action = "CancelOTAStrategyByJob", params = flat }
end

-- ---- references (docs/json.md, "References in API parameters") ----------------------------------
-- A parameter whose value exists only once an earlier call of the same apply has run: the job of an
-- earlier wave (`job`), the FileUrl GenerateDeviceNameListURL returns for a wave's device list
-- (`device_list_url`). The plan JSON writes it as { "ref": KIND, "wave": NAME }; text and markdown
-- show it as readable text; apply and run put in the real value before sending (otarun.apply).
local REF_TEXT = {
  job = function(r) return string.format("(job of wave %q)", r.wave) end,
  device_list_url = function(r) return string.format("(FileUrl of the device list of wave %q)", r.wave) end,
}
M.REF_KINDS = { "job", "device_list_url" }

local Ref = require("otarun.json").ordered({ "ref", "wave" })
Ref.__tostring = function(r) return REF_TEXT[r.ref](r) end
Ref.__concat = function(a, b) return tostring(a) .. tostring(b) end

function M.ref(kind, wave_name)
  assert(REF_TEXT[kind], "unknown reference kind")
  return setmetatable({ ref = kind, wave = wave_name }, Ref)
end

function M.is_ref(v) return getmetatable(v) == Ref end

-- A reference read back from JSON (a saved plan). -> ref | nil, message
function M.ref_from(v)
  if type(v) == "table" and REF_TEXT[v.ref] and type(v.wave) == "string" then return M.ref(v.ref, v.wave) end
  return nil, string.format("a parameter object must be a reference { \"ref\": %s, \"wave\": NAME }",
    table.concat(M.REF_KINDS, " | "))
end

return M
