-- Reading and changing existing jobs: QueryOTAJob, ListOTAJobByFirmware, UpdateOTAJob,
-- CancelOTAStrategyByJob. UpdateOTAJob follows the platform's page: MaximumPerMinute must always
-- be sent, tags are replaced by what is sent as Tags.N.Key/Value (and cleared when none are: the
-- create calls' spellings Tag.N and SrcVersion.N are not this operation's and are ignored, as the
-- platform ignores them), TimeoutInMinutes and SrcVersionList.N change only dynamic batches, and a
-- new TimeoutInMinutes reaches only tasks made after the change (docs/platform-assumptions.md,
-- "UpdateOTAJob"). Uses store.lua, sim.lua through the emulator.
local errors = require("otarun.emulator.errors")
local ids = require("otarun.emulator.ids")
local shape = require("otarun.emulator.shape")
local jobs = require("otarun.emulator.ops_jobs")
local firmware = require("otarun.emulator.ops_firmware")

local M = {}

function M.find(emu, id)
  return emu.store.jobs[id] or errors.fail("job", "The batch " .. id .. " does not exist.")
end

local function tags_dto(tags)
  local list = shape.array()
  for i, t in ipairs(tags or {}) do list[i] = { Key = t.Key, Value = t.Value } end
  return { OtaTagDTO = list }
end
M.tags_dto = tags_dto

function M.view(emu, job)
  local g = job.group and emu.store.groups[job.group]
  return {
    JobId = job.id, JobStatus = job.status, JobType = job.type, JobDesc = job.desc,
    Name = job.firmware.name, FirmwareId = job.firmware.id, ProductKey = job.product.key,
    DestVersion = job.dest, SelectionType = job.selection, TargetSelection = job.target,
    GrayPercent = job.gray, GroupId = job.group, GroupName = g and g.name,
    SrcVersions = { SrcVersion = shape.array({ table.unpack(job.src_list or {}) }) },
    Tags = tags_dto(job.tags),
    DynamicMode = job.selection == "DYNAMIC" and job.mode or nil,
    OverwriteMode = job.overwrite, RetryCount = job.retry_count, RetryInterval = job.retry_interval,
    TimeoutInMinutes = job.timeout, MaximumPerMinute = job.rate,
    MultiModuleMode = job.multi_module, NeedPush = job.need_push, NeedConfirm = job.need_confirm,
    DownloadProtocol = job.protocol,
    UtcCreate = ids.utc(job.created), UtcModified = ids.utc(job.modified),
    UtcStartTime = ids.utc(job.start_time), UtcEndTime = ids.utc(job.end_time),
    UtcScheduleTime = ids.utc(job.schedule_time), UtcScheduleFinishTime = ids.utc(job.schedule_finish),
  }
end

local ops = {}

function ops.QueryOTAJob(emu, P)
  return { Data = M.view(emu, M.find(emu, P:req("JobId"))) }
end

function ops.ListOTAJobByFirmware(emu, P)
  local fid = P:req("FirmwareId")
  local page, size = P:paging(200, 10, true)
  local fw = firmware.find(emu, fid)
  local match = {}
  local list = emu.store.job_list
  for i = #list, 1, -1 do          -- newest first
    if list[i].firmware == fw then match[#match + 1] = list[i] end
  end
  local items = shape.array()
  for i = (page - 1) * size + 1, math.min(#match, page * size) do
    local j = match[i]
    items[#items + 1] = {
      JobId = j.id, FirmwareId = fw.id, ProductKey = j.product.key, JobStatus = j.status,
      JobType = j.type, SelectionType = j.selection, TargetSelection = j.target,
      UtcCreate = ids.utc(j.created), UtcModified = ids.utc(j.modified),
      UtcStartTime = ids.utc(j.start_time), UtcEndTime = ids.utc(j.end_time), Tags = tags_dto(j.tags),
    }
  end
  return shape.paging({ Data = { SimpleOTAJobInfo = items } }, #match, page, size)
end

-- Applies new source versions to a running dynamic job: devices on an added version are offered
-- to the latest covering job (continuous mode only).
function M.set_versions(emu, job, list)
  local added = {}
  for _, v in ipairs(list) do
    if not job.versions[v] then added[#added + 1] = v end
  end
  job.src_list = list
  local set = {}
  for _, v in ipairs(list) do set[v] = true end
  job.versions = set     -- one assignment: the store keeps the versions in C (store.lua)
  if job.mode == 1 and #added > 0 then
    local s = emu.store
    local candidates = {}
    for _, v in ipairs(added) do
      local devs = s.ver_devices and s:ver_devices(job.product, v) or job.product.by_ver[v] or {}
      for _, d in ipairs(devs) do candidates[#candidates + 1] = d end
    end
    table.sort(candidates)
    for _, d in ipairs(candidates) do
      if s.d_ver[d] then emu.sim:report(d) end
    end
  end
end

function ops.UpdateOTAJob(emu, P)
  local id = P:req("JobId")
  local rate = P:int("MaximumPerMinute", 10, 10000, nil)
  if rate == nil then errors.missing("MaximumPerMinute") end
  local tags = P:tags("Tags")
  local timeout = P:int("TimeoutInMinutes", 1, 1440, nil)
  local list = P:unique_list("SrcVersionList", 10)
  local upgrade_type = P:enum("UpgradeType", { "STATIC", "DYNAMIC" }, nil)
  local target = P:enum("TargetSelection", { "ALL", "SPECIFIC", "GRAY", "GROUP" }, nil)
  local job = M.find(emu, id)
  if job.type ~= "UPGRADE_FIRMWARE" then
    errors.fail("job_status", "The batch " .. id .. " is a verification batch; it cannot be updated.")
  end
  if upgrade_type and upgrade_type ~= job.selection then
    errors.fail("format", string.format("UpgradeType %s does not match the batch, which is %s.", upgrade_type, job.selection))
  end
  if target and target ~= job.target then
    errors.fail("format", string.format("TargetSelection %s does not match the batch, which is %s.", target, job.target))
  end
  if job.status == "COMPLETED" or job.status == "CANCELED" then
    errors.fail("job_status", "The batch " .. id .. " is " .. job.status .. "; only planned or running batches can be updated.")
  end
  local dynamic = job.selection == "DYNAMIC"
  if timeout and not dynamic then
    errors.fail("format", "TimeoutInMinutes can be changed only on dynamic batches.")
  end
  if dynamic and #list > 0 then
    if not job.versions then
      errors.fail("format", "SrcVersionList.N applies only to dynamic batches that target versions, not groups.")
    end
    local fw = job.firmware
    if fw.type == 1 and (#list ~= 1 or list[1] ~= fw.src) then
      errors.fail("src_version_diff", "A differential package upgrades only from its SrcVersion " .. fw.src .. ".")
    end
  end
  jobs.check_retry_timeout(job.retry_interval, job.retry_count or 1, timeout or job.timeout)
  local faster = rate > job.rate
  job.rate = rate
  job.tags = tags
  if faster and job.qhead <= job.qtail then emu.sim:kick(job) end
  if timeout then job.timeout = timeout end
  job.modified = emu.sim.now
  if dynamic and #list > 0 then M.set_versions(emu, job, list) end
  return {}
end

function ops.CancelOTAStrategyByJob(emu, P)
  local job = M.find(emu, P:req("JobId"))
  if job.selection ~= "DYNAMIC" then
    errors.fail("not_dynamic", "The batch " .. job.id .. " is a static batch; only dynamic batches have a strategy to cancel.")
  end
  if job.status ~= "IN_PROGRESS" then
    errors.fail("job_status", "The dynamic batch " .. job.id .. " is " .. job.status .. "; its strategy is no longer running.")
  end
  M.cancel_strategy(emu, job)
  return {}
end

-- Stops a dynamic job from taking new devices; tasks it already made carry on.
function M.cancel_strategy(emu, job)
  local list = job.product.dyn_jobs
  for i = #list, 1, -1 do
    if list[i] == job then table.remove(list, i) end
  end
  if emu.store.sync_product then emu.store:sync_product(job.product) end
  job.status = "CANCELED"
  job.end_time = emu.sim.now
  job.modified = emu.sim.now
end

M.ops = ops
return M
