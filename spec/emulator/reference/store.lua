-- Reference model (spec/emulator/model_equiv_spec.lua): lua/otarun/emulator/store.lua before the C fleet core.
-- The emulator's entities and their indexes. Devices and tasks are columns (arrays indexed by a
-- device or task number) rather than a table each, so 100,000 devices cost a few arrays. Each job
-- keeps its tasks in one bucket per status (swap-remove, O(1) moves), which gives
-- ListOTATaskByJob its Total and any page of a status without scanning the fleet.
-- Used by every ops_*.lua, sim.lua and fleet.lua.
local ids = require("otarun.emulator.ids")

local M = {}

-- Task statuses, as small integers; NAME gives the wire spelling.
local ST = { CONFIRM = 1, QUEUED = 2, NOTIFIED = 3, IN_PROGRESS = 4, SUCCEEDED = 5, FAILED = 6, CANCELED = 7 }
M.ST = ST
M.NAME = { "CONFIRM", "QUEUED", "NOTIFIED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELED" }
M.NST = 7

local Store = {}
Store.__index = Store

function M.new(seed)
  local s = setmetatable({
    seed = seed,
    gen = ids.generator(seed),
    -- devices
    ndev = 0,
    d_name = {}, d_prod = {}, d_ver = {}, d_online = {}, d_task = {}, d_groups = {},
    d_vpos = {}, d_created = {}, d_online_at = {},
    -- tasks
    ntask = 0,
    t_job = {}, t_dev = {}, t_status = {}, t_src = {}, t_created = {}, t_modified = {},
    t_retries = {}, t_started = {}, t_astart = {}, t_dur = {}, t_gen = {}, t_pos = {},
    t_desc = {}, t_retry_wait = {}, t_inq = {}, t_timeout = {},
    t_json = {}, t_json_progress = {},   -- cached API views (ops_tasks.lua); not saved
    -- entities
    products = {}, product_list = {},
    groups = {}, group_list = {},
    firmware = {}, firmware_list = {},
    jobs = {}, job_list = {},        -- job_list[serial] = job
    task_prefix = nil,
    counts = { tasks = {}, events = 0, calls = {} },
    trace = nil,                     -- function(task, old_status, new_status, now), for tests
  }, Store)
  s.task_prefix = s.gen:alnum(12)
  for i = 1, M.NST do s.counts.tasks[i] = 0 end
  return s
end

-- Products ---------------------------------------------------------------------------------

function Store:product(key) return self.products[key] end

function Store:add_product(key, name, params)
  local p = {
    key = key, name = name or key, serial = #self.product_list + 1,
    iot_prefix = self.gen:alnum(12),
    by_name = {}, by_ver = {}, devices = {}, dyn_jobs = {}, name_seq = {},
    failure = params.failure or {}, dmin = params.dmin, dmax = params.dmax,
    poll = params.poll, reconnect = params.reconnect,
  }
  self.products[key] = p
  self.product_list[#self.product_list + 1] = p
  return p
end

-- Devices ----------------------------------------------------------------------------------

-- Unordered lists with O(1) removal: pos[x] is x's index in list (removal moves the last in).
local function ilist_add(list, pos, x)
  local n = #list + 1
  list[n] = x
  pos[x] = n
end

local function ilist_remove(list, pos, x)
  local i, n = pos[x], #list
  local last = list[n]
  list[i] = last
  pos[last] = i
  list[n] = nil
end

local function ver_add(self, p, d, v)
  local list = p.by_ver[v]
  if not list then list = {}; p.by_ver[v] = list end
  ilist_add(list, self.d_vpos, d)
end

local function ver_remove(self, p, d, v)
  ilist_remove(p.by_ver[v], self.d_vpos, d)
end

function Store:add_device(p, name, version, online, groups, now)
  local d = self.ndev + 1
  self.ndev = d
  self.d_name[d] = name
  self.d_prod[d] = p
  self.d_ver[d] = version
  self.d_online[d] = online
  self.d_groups[d] = groups
  self.d_created[d] = now
  if online then self.d_online_at[d] = now end
  p.by_name[name] = d
  p.devices[#p.devices + 1] = d
  ver_add(self, p, d, version)
  return d
end

function Store:set_version(d, v)
  local p, old = self.d_prod[d], self.d_ver[d]
  if old == v then return end
  ver_remove(self, p, d, old)
  self.d_ver[d] = v
  ver_add(self, p, d, v)
end

function Store:iot_id(d)
  local p = self.d_prod[d]
  return string.format("%s%09d00100", p.iot_prefix, d)
end

function Store:device_by_iot_id(iot_id)
  local prefix, n = tostring(iot_id):match("^(%w%w%w%w%w%w%w%w%w%w%w%w)(%d%d%d%d%d%d%d%d%d)00100$")
  if not prefix then return nil end
  local d = tonumber(n)
  if d < 1 or d > self.ndev or self.d_prod[d].iot_prefix ~= prefix then return nil end
  return d
end

function Store:device_by_name(pk, name)
  local p = self.products[pk]
  return p and p.by_name[name]
end

function Store:in_group(d, gid)
  local gs = self.d_groups[d]
  if not gs then return false end
  for i = 1, #gs do
    if gs[i] == gid then return true end
  end
  return false
end

-- Groups -----------------------------------------------------------------------------------

function Store:add_group(id, gtype, name, now)
  local g = { id = id, type = gtype, name = name or id, created = now, members = {} }
  self.groups[id] = g
  self.group_list[#self.group_list + 1] = g
  return g
end

-- Jobs and tasks ---------------------------------------------------------------------------

function Store:add_job(job)
  local serial = #self.job_list + 1
  job.serial = serial
  job.tasks = {}
  job.task_of = {}
  job.bucket = {}
  for i = 1, M.NST do job.bucket[i] = {} end
  job.active = 0
  job.gen = 0
  self.job_list[serial] = job
  if job.id then self.jobs[job.id] = job end
  return job
end

function Store:task_id(t)
  return string.format("%s%010d", self.task_prefix, t)
end

function Store:task_by_id(id)
  id = tostring(id)
  if #id ~= 22 or id:sub(1, 12) ~= self.task_prefix then return nil end
  local t = tonumber(id:sub(13))
  if not t or t < 1 or t > self.ntask then return nil end
  return math.tointeger(t)
end

local function bucket_add(self, job, t, st)
  ilist_add(job.bucket[st], self.t_pos, t)
  self.counts.tasks[st] = self.counts.tasks[st] + 1
end

local function bucket_remove(self, job, t, st)
  ilist_remove(job.bucket[st], self.t_pos, t)
  self.counts.tasks[st] = self.counts.tasks[st] - 1
end

function Store:new_task(job, d, st, now, desc)
  local t = self.ntask + 1
  self.ntask = t
  self.t_job[t] = job.serial
  self.t_dev[t] = d
  self.t_status[t] = st
  self.t_src[t] = self.d_ver[d]
  self.t_created[t] = now
  self.t_modified[t] = now
  self.t_retries[t] = 0
  self.t_gen[t] = 0
  self.t_desc[t] = desc
  -- the job's timeout when the task was made: UpdateOTAJob reaches only later tasks
  -- (docs/platform-assumptions.md, "UpdateOTAJob")
  self.t_timeout[t] = job.timeout
  job.tasks[#job.tasks + 1] = t
  job.task_of[d] = t
  bucket_add(self, job, t, st)
  if self.trace then self.trace(t, nil, st, now) end
  return t
end

function Store:set_status(t, st, now, desc)
  local job = self.job_list[self.t_job[t]]
  local old = self.t_status[t]
  if old ~= st then
    bucket_remove(self, job, t, old)
    self.t_status[t] = st
    bucket_add(self, job, t, st)
  end
  self.t_modified[t] = now
  self.t_desc[t] = desc
  self.t_json[t] = nil
  if self.trace then self.trace(t, old, st, now) end
end

-- A change made by an API call: events scheduled for the task's old life become stale.
function Store:bump(t)
  self.t_gen[t] = self.t_gen[t] + 1
  self.t_inq[t] = nil
  self.t_retry_wait[t] = nil
end

function Store:job_of_task(t) return self.job_list[self.t_job[t]] end

return M
