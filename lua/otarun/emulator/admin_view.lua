-- What the admin API (admin.lua, the gateway's) reads and changes behind otarun's back: lists of
-- plain tables for jobs, tasks and devices, counters, drift on a job, and device events (a device
-- reports a version, goes online). Installed as methods of the emulator object by init.lua.
local store_mod = require("otarun.emulator.store")
local ids = require("otarun.emulator.ids")
local update = require("otarun.emulator.ops_update")
local tasks = require("otarun.emulator.ops_tasks")
local devices = require("otarun.emulator.ops_devices")
local jobs_mod = require("otarun.emulator.ops_jobs")
local errors = require("otarun.emulator.errors")

local ST, NAME = store_mod.ST, store_mod.NAME
local methods = {}

local function counts_of(job)
  local c = {}
  for i, n in ipairs(NAME) do c[n] = #job.bucket[i] end
  return c
end

-- emu:jobs() -> { { JobId, FirmwareId, ProductKey, JobStatus, JobType, SelectionType,
-- TargetSelection, SrcVersions = {...}, GroupId, MaximumPerMinute, Tags = { {Key, Value} },
-- UtcCreate, Tasks = { QUEUED = n, ... }, Total = n }, ... } in creation order.
function methods:jobs()
  local out = {}
  for i, job in ipairs(self.store.job_list) do
    out[i] = {
      JobId = job.id, FirmwareId = job.firmware.id, ProductKey = job.product.key,
      JobStatus = job.status, JobType = job.type, SelectionType = job.selection,
      TargetSelection = job.target, SrcVersions = { table.unpack(job.src_list or {}) },
      GroupId = job.group, MaximumPerMinute = job.rate, DestVersion = job.dest,
      Tags = job.tags, UtcCreate = ids.utc(job.created), Tasks = counts_of(job), Total = #job.tasks,
    }
  end
  return out
end

-- emu:tasks(job_id, filter) -> list of task tables (ListOTATaskByJob's shape), or nil, message.
-- filter: status = "QUEUED"..., device = name, offset = 0, limit = 1000.
function methods:tasks(job_id, filter)
  filter = filter or {}
  local job = self.store.jobs[job_id]
  if not job then return nil, "no batch " .. tostring(job_id) end
  local list = job.tasks
  if filter.status then
    local st = ST[filter.status]
    if not st then return nil, "unknown task status " .. tostring(filter.status) end
    list = job.bucket[st]
  end
  local out = {}
  if filter.device then
    local d = job.product.by_name[filter.device]
    local t = d and job.task_of[d]
    if t and (not filter.status or self.store.t_status[t] == ST[filter.status]) then out[1] = tasks.view(self, t) end
    return out
  end
  local first = (filter.offset or 0) + 1
  local last = math.min(#list, first + (filter.limit or 1000) - 1)
  for i = first, last do out[#out + 1] = tasks.view(self, list[i]) end
  return out
end

-- emu:counters() -> { now, devices, products, firmware, jobs, tasks = { QUEUED = n, ... },
-- events, calls = { Action = n } }
function methods:counters()
  local s = self.store
  local t = {}
  for i, n in ipairs(NAME) do t[n] = s.counts.tasks[i] end
  local calls = {}
  for k, v in pairs(s.counts.calls) do calls[k] = v end
  local online = 0
  if s.online_count then
    online = s:online_count()
  else
    for d = 1, s.ndev do if s.d_online[d] then online = online + 1 end end
  end
  return { now = self:now(), devices = s.ndev, online = online, products = #s.product_list,
           firmware = #s.firmware_list, jobs = #s.job_list, tasks = t, events = s.counts.events,
           calls = calls }
end

-- emu:devices(filter) -> list of QueryDeviceDetail-shaped tables plus TaskId/JobId/TaskStatus of
-- the device's pending task. filter: product, version, online (bool), group, offset, limit (1000).
function methods:devices(filter)
  filter = filter or {}
  local s = self.store
  local out, skipped = {}, 0
  local offset, limit = filter.offset or 0, filter.limit or 1000
  local p = filter.product and s.products[filter.product]
  if filter.product and not p then return out end
  local list = p and (filter.version and (p.by_ver[filter.version] or {}) or p.devices) or nil
  local n = list and #list or s.ndev
  for i = 1, n do
    local d = list and list[i] or i
    if (not filter.version or s.d_ver[d] == filter.version)
        and (filter.online == nil or s.d_online[d] == filter.online)
        and (not filter.group or s:in_group(d, filter.group)) then
      if skipped < offset then skipped = skipped + 1
      else
        local v = devices.view(self, d)
        v.DeviceSecret = nil
        local t = s.d_task[d]
        if t then
          v.TaskId, v.JobId, v.TaskStatus = s:task_id(t), s:job_of_task(t).id, NAME[s.t_status[t]]
        end
        out[#out + 1] = v
        if #out >= limit then break end
      end
    end
  end
  return out
end

-- emu:update_job_admin(job_id, fields): drift. fields (wire names): MaximumPerMinute,
-- TimeoutInMinutes, RetryInterval, RetryCount, Tags ({ {Key=,Value=} } or { key = value }),
-- SrcVersions (list), JobStatus ("CANCELED" cancels a dynamic strategy), NeedPush, NeedConfirm,
-- OverwriteMode, DynamicMode. No validation beyond types: drift may be anything the console allows.
-- Returns true or nil, message.
function methods:update_job_admin(job_id, fields)
  local job = self.store.jobs[job_id]
  if not job then return nil, "no batch " .. tostring(job_id) end
  local direct = { MaximumPerMinute = "rate", TimeoutInMinutes = "timeout", RetryInterval = "retry_interval",
                   RetryCount = "retry_count", NeedPush = "need_push", NeedConfirm = "need_confirm",
                   OverwriteMode = "overwrite", DynamicMode = "mode" }
  for k, v in pairs(fields) do
    if direct[k] then
      job[direct[k]] = v
    elseif k == "Tags" then
      local tags = {}
      if v[1] then
        for i, t in ipairs(v) do tags[i] = { Key = t.Key, Value = t.Value } end
      else
        local keys = {}
        for key in pairs(v) do keys[#keys + 1] = key end
        table.sort(keys)
        for i, key in ipairs(keys) do tags[i] = { Key = key, Value = tostring(v[key]) } end
      end
      job.tags = tags
    elseif k == "SrcVersions" then
      if not job.versions then return nil, "batch " .. job_id .. " does not target versions" end
      update.set_versions(self, job, { table.unpack(v) })
    elseif k == "JobStatus" then
      if v == "CANCELED" and job.selection == "DYNAMIC" and job.status == "IN_PROGRESS" then
        update.cancel_strategy(self, job)
      else
        job.status = v
      end
    else
      return nil, "update_job_admin: unknown field " .. tostring(k)
    end
  end
  job.modified = self.sim.now
  self.sim:run_until(self.sim.now)
  return true
end

local function device(self, pk, name)
  local d = self.store:device_by_name(pk, name)
  if not d then return nil, string.format("no device %s in product %s", tostring(name), tostring(pk)) end
  return d
end

-- emu:report_version(pk, name, version): the device reports a firmware version (it may then join
-- a running dynamic job). Returns true or nil, message.
function methods:report_version(pk, name, version)
  local d, err = device(self, pk, name)
  if not d then return nil, err end
  self.store:set_version(d, version)
  if self.store.d_online[d] then self.sim:report(d) end
  self.sim:run_until(self.sim.now)
  return true
end

-- emu:set_online(pk, name, online): a device connects (reports its version) or disconnects.
function methods:set_online(pk, name, online)
  local d, err = device(self, pk, name)
  if not d then return nil, err end
  self.sim:set_online(d, online and true or false)
  self.sim:run_until(self.sim.now)
  return true
end

return { methods = methods }
