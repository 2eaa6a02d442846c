-- Tasks (one device in one job): ListOTATaskByJob, CancelOTATaskByJob, ConfirmOTATask,
-- ReupgradeOTATask. Listing by status reads the job's per-status bucket, so Total and a page cost
-- O(PageSize) whatever the fleet size. A task's view (SimpleOTATaskInfo) is kept as JSON text in
-- the store's t_json column, built when first listed and again only after the task changed (its
-- t_stamp, which every status change moves, differs) or its progress moved; a page is then
-- a slice of ready texts (shape.raw_array) that the gateway splices into the answer. Uses store.lua
-- and sim.lua through the emulator, shape.lua.
local cjson = require("cjson")
local errors = require("otarun.emulator.errors")
local ids = require("otarun.emulator.ids")
local shape = require("otarun.emulator.shape")
local store_mod = require("otarun.emulator.store")
local update = require("otarun.emulator.ops_update")

local ST, NAME = store_mod.ST, store_mod.NAME
local IN_PROGRESS = ST.IN_PROGRESS
local jstr, format, utc = cjson.encode, string.format, ids.utc
local M = {}

-- `"TaskStatus":"QUEUED"` per status, ready to splice.
local STATUS_JSON = {}
for i, n in ipairs(NAME) do STATUS_JSON[i] = ',"TaskStatus":' .. jstr(n) end

-- The job's share of each task view (fixed for the job's life).
local function job_piece(s, job)
  local piece = job.json_piece
  if piece then return piece end
  local p = job.product
  piece = format(',"JobId":%s,"FirmwareId":%s,"ProductKey":%s,"ProductName":%s,"DestVersion":%s',
    jstr(job.id), jstr(job.firmware.id), jstr(p.key), jstr(p.name), jstr(job.dest))
  job.json_piece = piece
  return piece
end

local function build_json(emu, s, job, t, progress)
  local d = s.t_dev[t]
  local desc = s.t_desc[t]
  local timeout = s.t_timeout[t]
  local text = format('{"TaskId":"%s","IotId":"%s","DeviceName":%s,"SrcVersion":%s%s%s%s%s,"Progress":"%d.00","UtcCreate":"%s","UtcModified":"%s"}',
    s:task_id(t), s:iot_id(d), jstr(s.d_name[d]), jstr(s.t_src[t]), job_piece(s, job),
    timeout and (',"Timeout":' .. jstr(tostring(timeout))) or "",
    STATUS_JSON[s.t_status[t]], desc and (',"TaskDesc":' .. jstr(desc)) or "", progress,
    utc(s.t_created[t]), utc(s.t_modified[t]))
  s.t_json[t] = text
  s.t_json_progress[t] = progress
  if s.t_stamp then s.t_json_stamp[t] = s.t_stamp[t] end
  return text
end

-- JSON text of task t's SimpleOTATaskInfo (job: its job, already checked for a Timeout change).
local function task_json(emu, s, job, t)
  local text = s.t_json[t]
  if text and s.core then   -- the model in C: its status and change stamp in one call
    local st, stamp = s.core:task_state(t)
    if s.t_json_stamp[t] == stamp then
      if st ~= IN_PROGRESS then return text end
      local progress = emu.sim:progress(t)
      if progress == s.t_json_progress[t] then return text end
    end
  elseif text then
    if s.t_status[t] ~= IN_PROGRESS then return text end
    local progress = emu.sim:progress(t)
    if progress == s.t_json_progress[t] then return text end
    return build_json(emu, s, job, t, progress)
  end
  return build_json(emu, s, job, t, emu.sim:progress(t))
end

function M.json(emu, t)
  local s = emu.store
  local job = s:job_of_task(t)
  job_piece(s, job)
  return task_json(emu, s, job, t)
end

-- The task's view as a table (admin API); the same text the API sends, decoded.
function M.view(emu, t)
  return cjson.decode(M.json(emu, t))
end

local function status_of(P)
  local name = P:str("TaskStatus")
  if not name then return nil end
  return ST[name] or errors.fail("format", "TaskStatus must be one of " .. table.concat(NAME, ", ") .. ", got " .. string.format("%q", name) .. ".")
end

local ops = {}

function ops.ListOTATaskByJob(emu, P)
  local id = P:req("JobId")
  local page, size = P:paging(100, 10)
  if page * size > 100000 then
    errors.fail("page", "CurrentPage x PageSize must be at most 100000.")
  end
  local st = status_of(P)
  local names = P:unique_list("DeviceNames", 50)
  local job = update.find(emu, id)
  local s = emu.store
  job_piece(s, job)
  local items = {}
  if #names > 0 then               -- a device list ignores paging
    for _, n in ipairs(names) do
      local d = job.product.by_name[n]
      local t = d and job.task_of[d]
      if t and (not st or s.t_status[t] == st) then items[#items + 1] = task_json(emu, s, job, t) end
    end
    return shape.paging({ Data = { SimpleOTATaskInfo = shape.raw_array(items) } }, #items, 1, math.max(size, #items))
  end
  local list = st and job.bucket[st] or job.tasks
  local total = #list
  local first, last = (page - 1) * size + 1, math.min(total, page * size)
  if s.core and first <= last then list, first, last = s.core:list_slice(first, last, job.serial, st or 0), 1, last - first + 1 end
  local n = 0
  for i = first, last do
    n = n + 1
    items[n] = task_json(emu, s, job, list[i])
  end
  return shape.paging({ Data = { SimpleOTATaskInfo = shape.raw_array(items) } }, total, page, size)
end

function ops.CancelOTATaskByJob(emu, P)
  local id = P:req("JobId")
  local scheduled = P:bool("CancelScheduledTask", false)
  local queued = P:bool("CancelQueuedTask", false)
  local in_progress = P:bool("CancelInProgressTask", false)
  local notified = P:bool("CancelNotifiedTask", false)
  local unconfirmed_given = P:has("CancelUnconfirmedTask")
  local unconfirmed = P:bool("CancelUnconfirmedTask", false)
  if not (scheduled or queued or in_progress or notified or unconfirmed) then
    errors.fail("no_cancel_kind", "Set at least one of CancelScheduledTask, CancelQueuedTask, CancelInProgressTask, CancelNotifiedTask, CancelUnconfirmedTask to true.")
  end
  local job = update.find(emu, id)
  local sim = emu.sim
  local kinds = {}
  if queued then kinds[#kinds + 1] = ST.QUEUED end
  -- CancelQueuedTask alone also cancels tasks waiting for confirmation
  if unconfirmed or (queued and not unconfirmed_given) then kinds[#kinds + 1] = ST.CONFIRM end
  if notified then kinds[#kinds + 1] = ST.NOTIFIED end
  if in_progress then kinds[#kinds + 1] = ST.IN_PROGRESS end
  for _, st in ipairs(kinds) do
    local b = job.bucket[st]
    while #b > 0 do sim:cancel_task(b[#b], "canceled by CancelOTATaskByJob") end
  end
  if scheduled and job.status == "PLANNED" then
    job.status = "CANCELED"
    job.gen = job.gen + 1
    job.end_time = sim.now
  end
  job.modified = sim.now
  return {}
end

-- TaskId.N -> task numbers, each checked to exist (and to belong to job when given). Both
-- operations take 1 to 10 task ids a call (docs/platform-assumptions.md, "Task operations").
M.MAX_TASK_IDS = 10
local function tasks_of(emu, P, job)
  local ids_list = P:unique_list("TaskId", M.MAX_TASK_IDS)
  if #ids_list == 0 then errors.missing("TaskId.N") end
  local out = {}
  for i, tid in ipairs(ids_list) do
    local t = emu.store:task_by_id(tid)
    if not t or (job and emu.store:job_of_task(t) ~= job) then
      errors.fail("task", "The task " .. tid .. " does not exist" .. (job and (" in batch " .. job.id) or "") .. ".")
    end
    out[i] = t
  end
  return out, ids_list
end

function ops.ConfirmOTATask(emu, P)
  local s = emu.store
  local list, names = tasks_of(emu, P, nil)
  for i, t in ipairs(list) do
    if s.t_status[t] ~= ST.CONFIRM then
      errors.fail("task_status", string.format("The task %s is %s; only tasks waiting for confirmation (CONFIRM) can be confirmed.", names[i], NAME[s.t_status[t]]))
    end
  end
  for _, t in ipairs(list) do emu.sim:requeue(t, false) end
  return {}
end

function ops.ReupgradeOTATask(emu, P)
  local s, sim = emu.store, emu.sim
  local job = update.find(emu, P:req("JobId"))
  local list, names = tasks_of(emu, P, job)
  for i, t in ipairs(list) do
    local st = s.t_status[t]
    if not ((st == ST.FAILED and not s.t_retry_wait[t]) or st == ST.CANCELED) then
      errors.fail("task_status", string.format("The task %s is %s; only FAILED or CANCELED tasks can be upgraded again.", names[i], NAME[st]))
    end
    local busy = s.d_task[s.t_dev[t]]
    if busy then
      errors.fail("device_busy", string.format("The device of task %s already has a pending or in-progress task in batch %s.", names[i], s:job_of_task(busy).id))
    end
  end
  for _, t in ipairs(list) do
    sim:bind(job, s.t_dev[t], t)
    if job.status == "COMPLETED" then job.status, job.end_time = "IN_PROGRESS", nil end
    -- a batch that needs confirmation needs it again for the new attempt
    sim:requeue(t, true, job.need_confirm)
  end
  return {}
end

M.ops = ops
return M
