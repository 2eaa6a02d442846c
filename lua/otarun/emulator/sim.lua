-- The simulated fleet moving through task states on the emulator's clock: an event queue (C,
-- otarun.core.fleet: by whole second, first in first out within one), the device/task state machine
-- (CONFIRM -> QUEUED -> NOTIFIED -> IN_PROGRESS -> SUCCEEDED | FAILED, retries, timeouts, offline
-- devices, NeedPush polling), each job's notification rate window, and dynamic matching (a device
-- that reports a version joins the latest running dynamic job that covers it). Events are packed
-- integers, (id << 12 | generation) << 4 | kind; a task's generation changes when an API call
-- changes it, which turns its scheduled events stale. Uses store.lua, ids.lua and
-- otarun.core.fleet (src/fleet.c).
local core = require("otarun.core.fleet")
local store_mod = require("otarun.emulator.store")
local ids = require("otarun.emulator.ids")

local ST = store_mod.ST
local CONFIRM, QUEUED, NOTIFIED, IN_PROGRESS = ST.CONFIRM, ST.QUEUED, ST.NOTIFIED, ST.IN_PROGRESS
local SUCCEEDED, FAILED, CANCELED = ST.SUCCEEDED, ST.FAILED, ST.CANCELED
local hash01 = ids.hash01
local ceil, floor, log = math.ceil, math.floor, math.log

local M = {}

local K_NOTIFY, K_START, K_FINISH, K_TIMEOUT, K_RETRY, K_POLL, K_ONLINE, K_PUMP, K_SCHED_START, K_SCHED_END =
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10
-- what a hash01 draw is for
M.H_ONLINE, M.H_FAIL, M.H_DUR, M.H_START, M.H_POLL, M.H_RECONNECT, M.H_GRAY = 1, 2, 3, 4, 5, 6, 7
local H_FAIL, H_DUR, H_START, H_POLL, H_RECONNECT = M.H_FAIL, M.H_DUR, M.H_START, M.H_POLL, M.H_RECONNECT

local Sim = {}
Sim.__index = Sim

function M.new(store, now)
  return setmetatable({ s = store, now = now, queue = core.queue(), events = 0 }, Sim)
end

-- Event queue -------------------------------------------------------------------------------

function Sim:push(time, kind, id, gen)
  local sec = ceil(time)
  local cur = ceil(self.now)
  if sec < cur then sec = cur end
  self.queue:push(sec, (((id << 12) | (gen & 0xFFF)) << 4) | kind)
end

function Sim:next_event_time() return self.queue:next() end

-- For state.lua: the queued events as { { sec, { code... } }, ... } by second, and one back in.
function Sim:queued() return self.queue:list() end
function Sim:queue_raw(sec, code) self.queue:push(sec, code) end

-- Task life ---------------------------------------------------------------------------------

local function gen_ok(s, t, g) return (s.t_gen[t] & 0xFFF) == g end

function Sim:unbind(t)
  local s = self.s
  local d = s.t_dev[t]
  if s.d_task[d] == t then
    s.d_task[d] = nil
    local job = s.job_list[s.t_job[t]]
    job.active = job.active - 1
    self:check_done(job)
  end
end

function Sim:check_done(job)
  if job.selection == "DYNAMIC" or job.status ~= "IN_PROGRESS" or job.active > 0 then return end
  job.status = "COMPLETED"
  job.end_time = self.now
  if job.on_done then job.on_done(job, self.now) end
end

function Sim:bind(job, d, t)
  self.s.d_task[d] = t
  job.active = job.active + 1
end

-- An API (or the schedule's end) stops a pending task.
function Sim:cancel_task(t, desc)
  local s = self.s
  s:bump(t)
  s:set_status(t, CANCELED, self.now, desc)
  self:unbind(t)
end

-- The task is QUEUED and its device may take it: pushed through the job's rate window, or, with
-- NeedPush=false, when the device next polls. Offline devices wait for their ONLINE event.
function Sim:arrive(t)
  local s = self.s
  local d = s.t_dev[t]
  if not s.d_online[d] then return end
  local job = s.job_list[s.t_job[t]]
  if job.need_push then
    self:enqueue(job, t)
  else
    local p = s.d_prod[d]
    local delay = floor(hash01(p.seed, H_POLL, t, s.t_retries[t]) * p.poll)
    self:push(self.now + delay, K_POLL, t, s.t_gen[t])
  end
end

function Sim:enqueue(job, t)
  local s = self.s
  if s.t_inq[t] then return end
  s.t_inq[t] = true
  local tail = job.qtail + 1
  job.qtail = tail
  job.queue[tail] = (t << 12) | (s.t_gen[t] & 0xFFF)
  if not job.pump_at then self:kick(job) end
end

-- Runs the job's pump now (a new chain: an earlier scheduled pump becomes stale).
function Sim:kick(job)
  job.pump_gen = (job.pump_gen or 0) + 1
  job.pump_at = self.now
  self:push(self.now, K_PUMP, job.serial, job.pump_gen)
end

-- Notifications per minute: fixed one-minute windows from the job's start, at most `rate` per
-- window, spread evenly across it.
function Sim:pump(job)
  local s = self.s
  local now = self.now
  job.pump_at = nil
  if now >= job.wstart + 60 then
    job.wstart = job.wstart + 60 * ((now - job.wstart) // 60)
    job.wcount = 0
  end
  local rate = job.rate
  local q, head, tail = job.queue, job.qhead, job.qtail
  local t_status, t_gen, t_dev, d_online, t_inq = s.t_status, s.t_gen, s.t_dev, s.d_online, s.t_inq
  while head <= tail and job.wcount < rate do
    local code = q[head]
    q[head] = nil
    head = head + 1
    local t, g = code >> 12, code & 0xFFF
    if (t_gen[t] & 0xFFF) == g then
      if t_status[t] == QUEUED and d_online[t_dev[t]] then
        local at = job.wstart + (job.wcount * 60) // rate
        if at < now then at = now end
        self:push(at, K_NOTIFY, t, g)
        job.wcount = job.wcount + 1
      else
        t_inq[t] = nil
      end
    end
  end
  job.qhead = head
  if head <= tail then
    job.pump_at = job.wstart + 60
    self:push(job.pump_at, K_PUMP, job.serial, job.pump_gen)
  end
end

local function on_notify(self, t, g)
  local s = self.s
  if s.t_status[t] ~= QUEUED or not gen_ok(s, t, g) then return end
  s.t_inq[t] = nil
  s:set_status(t, NOTIFIED, self.now)
  local delay = 5 + floor(hash01(s.d_prod[s.t_dev[t]].seed, H_START, t, s.t_retries[t]) * 55)
  self:push(self.now + delay, K_START, t, g)
end

local function on_start(self, t, g)
  local s = self.s
  if s.t_status[t] ~= NOTIFIED or not gen_ok(s, t, g) then return end
  local d = s.t_dev[t]
  if not s.d_online[d] then return end        -- resumed by the device's ONLINE event
  local now = self.now
  s:set_status(t, IN_PROGRESS, now)
  if not s.t_started[t] then s.t_started[t] = now end
  local p = s.d_prod[d]
  local dur = p.dmin + floor(hash01(p.seed, H_DUR, t, s.t_retries[t]) * (p.dmax - p.dmin + 1))
  s.t_astart[t], s.t_dur[t] = now, dur
  local timeout = s.t_timeout[t]
  if timeout then
    local deadline = s.t_started[t] + timeout * 60
    if now + dur >= deadline then
      self:push(deadline, K_TIMEOUT, t, g)
      return
    end
  end
  self:push(now + dur, K_FINISH, t, g)
end

local function on_finish(self, t, g)
  local s = self.s
  if s.t_status[t] ~= IN_PROGRESS or not gen_ok(s, t, g) then return end
  local d = s.t_dev[t]
  local job = s.job_list[s.t_job[t]]
  local p = s.d_prod[d]
  local attempt = s.t_retries[t]
  local odds = p.failure[s.t_src[t]] or 0
  local now = self.now
  if hash01(p.seed, H_FAIL, d, job.serial * 64 + attempt) >= odds then
    s:set_status(t, SUCCEEDED, now, "upgrade succeeded")
    self:unbind(t)
    s:set_version(d, job.dest)
    self:report(d)
    return
  end
  if job.retry_interval and attempt < (job.retry_count or 0) then
    s:set_status(t, FAILED, now, string.format("upgrade failed; automatic retry %d of %d in %d minutes",
      attempt + 1, job.retry_count, job.retry_interval))
    s.t_retry_wait[t] = true
    self:push(now + job.retry_interval * 60, K_RETRY, t, g)
    return
  end
  s:set_status(t, FAILED, now, "upgrade failed")
  self:unbind(t)
  self:report(d)
end

local function on_timeout(self, t, g)
  local s = self.s
  if s.t_status[t] ~= IN_PROGRESS or not gen_ok(s, t, g) then return end
  s:set_status(t, FAILED, self.now, string.format("upgrade timed out after %d minutes", s.t_timeout[t]))
  self:unbind(t)
end

local function on_retry(self, t, g)
  local s = self.s
  if s.t_status[t] ~= FAILED or not s.t_retry_wait[t] or not gen_ok(s, t, g) then return end
  s.t_retry_wait[t] = nil
  s.t_retries[t] = s.t_retries[t] + 1
  s:set_status(t, QUEUED, self.now, nil)
  self:arrive(t)
end

local function on_poll(self, t, g)
  local s = self.s
  if s.t_status[t] ~= QUEUED or not gen_ok(s, t, g) then return end
  self:enqueue(s.job_list[s.t_job[t]], t)
end

local function on_online(self, d)
  self:set_online(d, true)
end

local function on_pump(self, serial, g)
  local job = self.s.job_list[serial]
  if (job.pump_gen & 0xFFF) ~= g then return end
  self:pump(job)
end

local function on_sched_start(self, serial, g)
  local job = self.s.job_list[serial]
  if job.status ~= "PLANNED" or (job.gen & 0xFFF) ~= g then return end
  job.status = "IN_PROGRESS"
  job.start_time = self.now
  job.wstart = ceil(self.now)
  job.start_fn(job)
  self:check_done(job)
end

local function on_sched_end(self, serial, g)
  local s = self.s
  local job = s.job_list[serial]
  if (job.gen & 0xFFF) ~= g or job.status ~= "IN_PROGRESS" then return end
  for _, st in ipairs({ CONFIRM, QUEUED, NOTIFIED }) do
    local b = job.bucket[st]
    while #b > 0 do self:cancel_task(b[#b], "the batch's ScheduleFinishTime passed") end
  end
end

local HANDLERS = { on_notify, on_start, on_finish, on_timeout, on_retry, on_poll, on_online, on_pump,
                   on_sched_start, on_sched_end }

-- Runs every event due at or before T (epoch seconds); the clock ends at T.
function Sim:run_until(T)
  local q = self.queue
  local pop_due = q.pop_due
  local n = 0
  while true do
    local sec, code = pop_due(q, T)
    if not sec then break end
    if sec > self.now then self.now = sec end
    local rest = code >> 4
    HANDLERS[code & 15](self, rest >> 12, rest & 0xFFF)
    n = n + 1
  end
  if T > self.now then self.now = T end
  self.s.counts.events = self.s.counts.events + n
end

-- Devices -----------------------------------------------------------------------------------

function Sim:schedule_online(d, delay)
  self:push(self.now + delay, K_ONLINE, d, 0)
end

-- Exponential reconnect delay with the product's mean, deterministic per device.
function Sim:reconnect_delay(d)
  local s = self.s
  local u = hash01(s.d_prod[d].seed, H_RECONNECT, d, 0)
  return floor(-s.d_prod[d].reconnect * log(1 - u)) + 1
end

function Sim:set_online(d, online)
  local s = self.s
  if s.d_online[d] == online then return end
  s.d_online[d] = online
  if not online then return end
  s.d_online_at[d] = self.now
  local t = s.d_task[d]
  if t then
    local st = s.t_status[t]
    if st == QUEUED then self:arrive(t)
    elseif st == NOTIFIED then self:push(self.now, K_START, t, s.t_gen[t]) end
  end
  self:report(d)
end

-- The device reports its version: the latest running dynamic job of its product that covers it
-- takes it ("the device performs the latest dynamic update").
function Sim:report(d)
  local s = self.s
  local jobs = s.d_prod[d].dyn_jobs
  local v = s.d_ver[d]
  for i = #jobs, 1, -1 do
    local job = jobs[i]
    if self:covers(job, d, v) then
      if not job.task_of[d] then self:assign(job, d) end
      return
    end
  end
end

function Sim:covers(job, d, v)
  if v == job.dest then return false end
  if job.versions then return job.versions[v] == true end
  if job.need_src and v ~= job.need_src then return false end
  return job.group ~= nil and self.s:in_group(d, job.group)
end

-- Gives device d a task in job, honouring "one pending or updating task per device": with
-- OverwriteMode 2 the old task is cancelled unless it is in progress; otherwise a static job
-- records a FAILED task and a dynamic job leaves the device alone. Returns the task or nil.
function Sim:assign(job, d)
  local s = self.s
  local now = self.now
  local cur = s.d_task[d]
  if cur then
    local other = s.job_list[s.t_job[cur]]
    if job.overwrite == 2 and s.t_status[cur] ~= IN_PROGRESS then
      self:cancel_task(cur, "overwritten by batch " .. job.id)
    else
      if job.selection ~= "DYNAMIC" then
        s:new_task(job, d, FAILED, now, "the device already has a pending or in-progress task in batch " .. other.id)
      end
      return nil
    end
  end
  local st = job.need_confirm and CONFIRM or QUEUED
  local t = s:new_task(job, d, st, now, nil)
  self:bind(job, d, t)
  if st == QUEUED then self:arrive(t) end
  return t
end

-- A scheduled static job starts at ScheduleTime and stops taking new devices at its finish.
function Sim:schedule_job(job, at, finish_at)
  if at then self:push(at, K_SCHED_START, job.serial, job.gen) end
  if finish_at then self:push(finish_at, K_SCHED_END, job.serial, job.gen) end
end

-- ConfirmOTATask, ReupgradeOTATask: the task (re)enters the queue, or waits for confirmation
-- again (confirm: a re-upgrade in a batch with NeedConfirm).
function Sim:requeue(t, reset, confirm)
  local s = self.s
  s:bump(t)
  if reset then
    s.t_retries[t] = 0
    s.t_started[t] = nil
  end
  s:set_status(t, confirm and CONFIRM or QUEUED, self.now, nil)
  if not confirm then self:arrive(t) end
end

-- GrayPercent: the k devices of list with the lowest gray hash, in device order (a new list).
function Sim:gray_pick(list, k, seed)
  return core.gray_pick(list, k, seed, M.H_GRAY)
end

-- Progress of a task in percent, derived from the clock while it is in progress.
function Sim:progress(t)
  local s = self.s
  local st = s.t_status[t]
  if st == SUCCEEDED then return 100 end
  if st ~= IN_PROGRESS then return 0 end
  local dur = s.t_dur[t]
  if not dur or dur <= 0 then return 0 end
  local p = (self.now - s.t_astart[t]) / dur * 100
  if p > 99 then p = 99 end
  if p < 0 then p = 0 end
  return floor(p)
end

return M
