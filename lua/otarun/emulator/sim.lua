-- The simulated fleet moving through task states on the emulator's clock: an event queue (by whole
-- second, first in first out within one), the device/task state machine (CONFIRM -> QUEUED ->
-- NOTIFIED -> IN_PROGRESS -> SUCCEEDED | FAILED, retries, timeouts, offline devices, NeedPush
-- polling), each job's notification rate window, and dynamic matching (a device that reports a
-- version joins the latest running dynamic job that covers it). The machine runs in C
-- (otarun.core.fleet_model, src/fleet_model.c, over the store's columns); this module is its Lua
-- face, and runs what only Lua can: a static job's completion hook and its schedule's start and
-- end. Events are packed integers, (id << 12 | generation) << 4 | kind; a task's generation
-- changes when an API call changes it, which turns its scheduled events stale.
local core_fleet = require("otarun.core.fleet")
local store_mod = require("otarun.emulator.store")

local ST = store_mod.ST
local CONFIRM, QUEUED, NOTIFIED = ST.CONFIRM, ST.QUEUED, ST.NOTIFIED
local ceil = math.ceil

local M = {}

local K_ONLINE, K_SCHED_START, K_SCHED_END = 7, 9, 10
-- what a hash01 draw is for
M.H_ONLINE, M.H_FAIL, M.H_DUR, M.H_START, M.H_POLL, M.H_RECONNECT, M.H_GRAY = 1, 2, 3, 4, 5, 6, 7

local Sim = {}
Sim.__index = Sim

function M.new(store, now)
  local sim = setmetatable({ s = store, core = store.core, now = now, events = 0 }, Sim)
  store._complete = function(serial, t) sim.now = t; sim:complete(store.job_list[serial]) end
  store._sched = function(kind, serial, g, t)
    sim.now = t
    if kind == K_SCHED_START then sim:sched_start(serial, g)
    elseif kind == K_SCHED_END then sim:sched_end(serial, g) end
  end
  return sim
end

-- Event queue -------------------------------------------------------------------------------

function Sim:push(time, kind, id, gen)
  self.core:push(self.now, time, kind, id, gen)
end

function Sim:next_event_time() return self.core:q_next() end

-- For state.lua: the queued events as { { sec, { code... } }, ... } by second, and one back in.
function Sim:queued() return self.core:q_list() end
function Sim:queue_raw(sec, code) self.core:q_push(sec, code) end

-- Runs every event due at or before T (epoch seconds); the clock ends at T.
function Sim:run_until(T)
  local due = self.core:q_next()
  if due and due <= T then self.s:sync_products() end   -- the handlers read them
  local now, n = self.core:run_until(self.now, T)
  self.now = now
  self.s.counts.events = self.s.counts.events + n
end

-- Task life ---------------------------------------------------------------------------------

function Sim:unbind(t) self.core:unbind(self.now, t) end

function Sim:check_done(job) self.core:check_done(self.now, job.serial) end

-- A static job with no active task left (called by the model).
function Sim:complete(job)
  job.status = "COMPLETED"
  job.end_time = self.now
  if job.on_done then job.on_done(job, self.now) end
end

function Sim:bind(job, d, t) self.core:bind(job.serial, d, t) end

-- An API (or the schedule's end) stops a pending task.
function Sim:cancel_task(t, desc)
  self.core:cancel_task(self.now, t, self.s:desc_code(desc))
end

-- Runs the job's pump now (a new chain: an earlier scheduled pump becomes stale).
function Sim:kick(job) self.core:kick(self.now, job.serial) end

function Sim:sched_start(serial, g)
  local job = self.s.job_list[serial]
  if job.status ~= "PLANNED" or (job.gen & 0xFFF) ~= g then return end
  job.status = "IN_PROGRESS"
  job.start_time = self.now
  job.wstart = ceil(self.now)
  job.start_fn(job)
  self:check_done(job)
end

function Sim:sched_end(serial, g)
  local job = self.s.job_list[serial]
  if (job.gen & 0xFFF) ~= g or job.status ~= "IN_PROGRESS" then return end
  for _, st in ipairs({ CONFIRM, QUEUED, NOTIFIED }) do
    local b = job.bucket[st]
    while #b > 0 do self:cancel_task(b[#b], "the batch's ScheduleFinishTime passed") end
  end
end

-- Devices -----------------------------------------------------------------------------------

function Sim:schedule_online(d, delay)
  self:push(self.now + delay, K_ONLINE, d, 0)
end

-- Exponential reconnect delay with the product's mean, deterministic per device.
function Sim:reconnect_delay(d) return self.core:reconnect_delay(d) end

function Sim:set_online(d, online)
  self.s:sync_products()
  self.core:set_online(self.now, d, online)
end

-- The device reports its version: the latest running dynamic job of its product that covers it
-- takes it ("the device performs the latest dynamic update").
function Sim:report(d)
  self.s:sync_products()
  self.core:report(self.now, d)
end

function Sim:covers(job, d, v)
  return self.core:covers(job.serial, d, self.s:sym(v))
end

-- Gives device d a task in job, honouring "one pending or updating task per device": with
-- OverwriteMode 2 the old task is cancelled unless it is in progress; otherwise a static job
-- records a FAILED task and a dynamic job leaves the device alone. Returns the task or nil.
function Sim:assign(job, d)
  self.s:sync_products()
  return self.core:assign(self.now, job.serial, d)
end

-- assign() for each device of list in order; with `sweep`, only the devices the job covers and
-- has no task for yet (a dynamic job's continuous mode).
function Sim:assign_many(job, list, sweep)
  self.s:sync_products()
  self.core:assign_many(self.now, job.serial, list, sweep)
end

-- A scheduled static job starts at ScheduleTime and stops taking new devices at its finish.
function Sim:schedule_job(job, at, finish_at)
  if at then self:push(at, K_SCHED_START, job.serial, job.gen) end
  if finish_at then self:push(finish_at, K_SCHED_END, job.serial, job.gen) end
end

-- ConfirmOTATask, ReupgradeOTATask: the task (re)enters the queue, or waits for confirmation
-- again (confirm: a re-upgrade in a batch with NeedConfirm).
function Sim:requeue(t, reset, confirm)
  self.s:sync_products()
  self.core:requeue(self.now, t, reset, confirm)
end

-- GrayPercent: the k devices of list with the lowest gray hash, in device order (a new list).
function Sim:gray_pick(list, k, seed)
  return core_fleet.gray_pick(list, k, seed, M.H_GRAY)
end

-- Progress of a task in percent, derived from the clock while it is in progress.
function Sim:progress(t) return self.core:progress(self.now, t) end

M.QUEUED, M.NOTIFIED = QUEUED, NOTIFIED
return M
