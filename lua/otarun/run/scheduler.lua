-- One tick of `otarun run` (and of a rehearsal): for each rollout whose lock it gets (see tick()),
--   1. settle what a crash left open (otarun.journal.recover: a create is adopted by its identity
--      tag, or forgotten when certainly absent; nothing starts while an outcome is unknown);
--   1b. read the platform (otarun.plan.refresh: the firmware, one walk of its job pages, QueryOTAJob
--      for its running jobs; skipped for a rollout that is done or halted) and plan through the
--      same diff as `otarun plan` (otarun.plan.diff), then close what that plan shows: drift and script
--      edits of a running wave through UpdateOTAJob (an audit entry names the drift), the job of a
--      wave removed from the script cancelled. A wave whose job was cancelled outside otarun, or
--      that needs `-/+ replace`, halts the rollout with the reason: replacing restarts a wave's
--      job and its gate, which an unattended loop does not decide on its own (otarun apply does,
--      then otarun resume). A failed read starts and changes nothing this tick;
--   2. finish decisions already made (a failed wave's strategy and, with on_fail = "abort", its
--      pending tasks cancelled), so a kill between a decision and its calls loses nothing;
--   3. judge the gates of running waves (otarun.run.gate; FAILED tasks that are not the firmware's
--      left out by otarun.run.failures; every reading recorded): pass -> `passed`,
--      trip -> `failed`, rollout halted, strategy cancelled (tasks too with "abort");
--   4. start the waves that are due, one at a time, re-planning after each (otarun.plan's timeline
--      decides due-ness: time, after, delay from the predecessor's passed_at, window, approval);
--      a dynamic wave first cancels the running dynamic strategy it supersedes (both calls through
--      apply's executor, otarun.apply);
--   5. work out when the next thing can happen.
-- The waves are planned from that tick's snapshot, updated with the calls the tick made, so a
-- tick reads the platform once per rollout. Every changing call goes through the intent journal
-- (otarun.journal, through otarun.apply and otarun.run.stop), and every decision is a wave transition in the store, so
-- a restarted run continues where the last one stopped and never acts twice on one decision. The
-- lock of each rollout is released once its part of the tick is done.
-- Uses otarun.run.judging (steps 2 and 3), otarun.run.walk (which rollouts, in what order), otarun.plan,
-- otarun.plan.refresh, otarun.plan.diff, otarun.apply, otarun.journal, otarun.util, otarun.state
-- (through the handle it is given), otarun.notify (events recorded with their decisions;
-- env.notifier delivers each rollout's before its lock is released).
local notify = require("otarun.notify")
local util = require("otarun.util")
local walk = require("otarun.run.walk")

local M = {}

M.DEFAULT_INTERVAL = 60
local TERMINAL = { passed = true, done = true, superseded = true, cancelled = true, failed = true }
local SETTLED = { running = true, passed = true, done = true, superseded = true, failed = true,
                  cancelled = true }

local Sched = {}
Sched.__index = Sched
require("otarun.run.judging").install(Sched)

-- new{ state = handle, client =, rollouts = list | load = fn() -> rollouts, now = fn() -> epoch,
--      interval = seconds between gate readings, on_event = fn(ev), offset = display offset,
--      lock_timeout =, check_limits =, fixed = true (the rollouts never change: recorded once) }
-- events: { t, kind = "start"|"pass"|"fail"|"halt"|"supersede"|"gate"|"error"|"adopt"|"drift"|
--           "update"|"cancel"|"cancelled"|"confirm", rollout, wave, job_id, text, counts, verdict }
-- env.auto_confirm: confirm waiting devices of confirm = true waves in their window (run --auto-confirm).
-- env.spread: walk the rollouts in an order of this process's own (several runners split them);
-- env.skip_ticked: leave a rollout another process ticked since this tick began (see tick()).
-- s.calls counts gate readings' calls; s.refresh_calls the platform reads of the ticks' plans.
function M.new(env)
  assert(env.state and env.client and (env.rollouts or env.load) and env.now, "scheduler.new: state, client, rollouts and now are required")
  local s = setmetatable({ env = env, state = env.state, client = env.client,
    interval = env.interval or M.DEFAULT_INTERVAL, history = {}, calls = 0, refresh_calls = 0,
    failures = {}, snaps = {}, unread = {}, firmware = {}, diffs = {}, plans = {}, fresh = {}, recorded = {} }, Sched)
  return s
end

function Sched:emit(ev)
  ev.t = ev.t or self.now
  notify.record(self.state, ev) -- a notification event, in the decision's transaction when one is open
  -- what this tick could not read or do: `run --once` exits 1 with these (docs/run.md)
  if ev.kind == "error" and self.errors then self.errors[#self.errors + 1] = ev end
  if self.env.on_event then self.env.on_event(ev) end
end

-- ---- 1. what a crash left open ---------------------------------------------------------------

-- What a crash left open, through the journal's recovery (otarun.journal.recover): a create is adopted
-- by its identity tag or marked absent, a cancel settled by the job's status. When the platform
-- cannot tell, nothing starts this tick (never risk a duplicate job).
function Sched:resolve(rollout)
  local counts, err = require("otarun.journal").recover(self.state, function() return self.client end,
    { rollout = rollout })
  if not counts then
    self.blocked = true
    self:emit{ kind = "error", text = "cannot settle what an earlier run left open: " .. tostring(err) }
    return
  end
  if counts.adopted > 0 then
    self:emit{ kind = "adopt", text = string.format("adopted %d job(s) created before a crash", counts.adopted) }
  end
end

function Sched:wave_of(r, name)
  for _, w in ipairs(r.waves) do if w.name == name then return w end end
  return nil
end

-- ---- 1b. what the platform says -----------------------------------------------------------------

local function done_in_store(r, rec)
  for _, w in ipairs(r.waves) do
    local row = rec.wave[w.name]
    if not (row and TERMINAL[row.state]) then return false end
  end
  return true
end

-- Reads the platform for one rollout into this tick's snapshot, unless it is done or halted
-- (those are planned from the store: nothing of theirs starts or changes). known: the jobs the
-- store recorded for r (otarun.plan.diff.known_jobs), when already read. -> true | nil
function Sched:refresh(r, rec, known)
  self.snaps[r.name], self.unread[r.name] = nil, nil
  if rec.halted or done_in_store(r, rec) then return true end
  local diff = require("otarun.plan.diff")
  local snap, err = require("otarun.plan.refresh").read(self.client, { r },
    { known_jobs = known or diff.known_jobs(self.state, { r }), groups = false, firmware = self.firmware })
  if not snap then
    self.unread[r.name] = true
    self:emit{ kind = "error", rollout = r.name, text = "reading the platform: " .. tostring(err)
      .. "; nothing is started or changed in this rollout until it answers" }
    return nil
  end
  self.refresh_calls = self.refresh_calls + snap.calls
  self.snaps[r.name] = snap
  for id, facts in pairs(snap.firmware) do
    if not facts.missing then self.firmware[id] = facts end
  end
  return true
end

-- What the snapshot would have shown had it been read after these calls of wave w succeeded:
-- the created job (running; its parameters unknown until the next read, so not compared) and
-- the cancelled strategies.
function Sched:note_calls(r, w, calls, job_id)
  self:changed(r)
  local snap = self.snaps[r.name]
  if not snap then return end
  local apply = require("otarun.apply")
  for _, c in ipairs(calls) do
    local target = c.params and snap.jobs[c.params.JobId]
    if c.action == "CancelOTAStrategyByJob" and target then
      target.status = "CANCELED"
    elseif c.action == "UpdateOTAJob" and target then
      target.params = nil -- compared again after the next read
    elseif apply.CREATES[c.action] and job_id then
      local job = { job_id = job_id, firmware_id = c.params.FirmwareId, status = "IN_PROGRESS", kind = w.kind,
        identity = apply.identity_of(c.params), created = util.format_time(self.now, 0), tags = {} }
      snap.jobs[job_id] = job
      local list = snap.by_firmware[job.firmware_id or ""]
      if list then list[#list + 1] = job end
      if job.identity then snap.by_identity[job.identity] = job end
    end
  end
end

-- Carries out one planned entry's calls through apply's executor. -> report
function Sched:execute(r, pw, calls)
  self:changed(r)
  local step = setmetatable({ calls = calls or pw.calls }, { __index = pw })
  local plan = { rollouts = { setmetatable({ waves = { step } }, { __index = r }) } }
  return require("otarun.apply").execute(self.state, plan, {
    client_for = function() return self.client end, log = self.env.log })
end

function Sched:halt_for(r, wave, why)
  self:changed(r)
  local st = self.state
  notify.decide(st, function()
    st:halt(r.name, why)
    self:emit{ kind = "halt", rollout = r.name, wave = wave, text = "rollout " .. r.name .. " halted: " .. why }
  end)
end

-- Closes what the tick's plan shows for waves that already have jobs (see the header, 1b).
function Sched:reconcile(r, rec)
  if not self.snaps[r.name] then return end
  local st = self.state
  for _, pw in ipairs(self:plan(r, rec)) do
    local row = rec.wave[pw.name]
    local where = string.format("wave %q", pw.name)
    if pw.status == "cancelled" and row and row.state == "running" and not pw.removed then
      self:changed(r)
      st:transition(r.name, pw.name, "cancelled", pw.reason, pw.job_id)
      self:emit{ kind = "cancelled", rollout = r.name, wave = pw.name, job_id = pw.job_id, text = pw.reason }
      if pw.cancelled_outside then
        self:halt_for(r, pw.name, string.format("job %s of %s was cancelled outside otarun, so no later wave "
          .. "can follow it; remove the wave from the script or give it a new name, then otarun resume",
          tostring(pw.job_id), where))
        return
      end
    elseif pw.action == "replace" then
      self:halt_for(r, pw.name, string.format("%s needs -/+ replace (%s); otarun run does not restart a "
        .. "running wave on its own: review it with otarun plan, carry it out with otarun apply, then "
        .. "otarun resume", where, pw.reason))
      return
    elseif pw.action == "update" or pw.action == "cancel" then
      local kind = pw.drift and "drift" or pw.action
      notify.decide(st, function()
        st:audit{ kind = "decision", action = kind, rollout = r.name, wave = pw.name, result = pw.reason }
        self:emit{ kind = kind, rollout = r.name, wave = pw.name, job_id = pw.job_id, text = pw.reason }
      end)
      local report = self:execute(r, pw)
      if #report.errors > 0 then
        self:emit{ kind = "error", rollout = r.name, wave = pw.name, text = table.concat(report.errors, "; ") }
        if report.fatal then self.blocked = true end
        return
      end
      self:note_calls(r, pw, pw.calls)
    end
  end
end

-- ---- 2 and 3. gates and halts: otarun.run.judging ---------------------------------------------

-- ---- 4. starting waves -----------------------------------------------------------------------

local function observed_from(rec)
  return function(_, wave)
    local row = rec.wave[wave.name]
    if row and SETTLED[row.state] then
      return { status = row.state, job_id = row.job_id, started_at = row.started_at, passed_at = row.passed_at }
    end
    return nil
  end
end

-- The tick changed the store or the snapshot for r: its diff and plan are made again, and its
-- record read again (called before the change is written).
function Sched:changed(r)
  self.diffs[r.name], self.plans[r.name], self.fresh[r.name] = nil, nil, nil
end

-- The rollout's record in the store, read again only after this tick changed r (a tick holds
-- the rollout's lock: nothing else moves its waves meanwhile).
function Sched:record(r)
  local rec = self.fresh[r.name]
  if not rec then
    rec = self.state:rollout(r.name)
    self.fresh[r.name] = rec
  end
  return rec
end

-- The rollout's planned waves: from this tick's snapshot through otarun.plan.diff, as `otarun plan`
-- shows them, or from the store alone for a rollout that was not read (done, halted, unreadable).
function Sched:plan(r, rec)
  local snap = self.snaps[r.name]
  if snap and self.plans[r.name] then return self.plans[r.name] end
  local rollout = {}
  for k, v in pairs(r) do rollout[k] = v end
  -- approved waves no longer wait for approval (otarun.plan.timeline shows who approved)
  local ctx = { now = self.now, offset = self.env.offset or 0, approval = function(ro, w)
    local list = self.state:approvals(ro.name, w.name) or {}
    return list[#list]
  end }
  if snap then
    ctx.mode = "live"
    -- the diff reads the store once; kept until this tick changes the store or the snapshot
    local d = self.diffs[r.name]
    if not d then
      d = require("otarun.plan.diff").new{ rollouts = { rollout }, snapshot = snap, state = self.state,
        mode = "live", now = self.now }
      self.diffs[r.name] = d
    end
    ctx.diff = d
  else
    ctx.observed = observed_from(rec)
  end
  local waves = require("otarun.plan").build({ rollout }, ctx).rollouts[1].waves
  if snap then self.plans[r.name] = waves end
  return waves
end

-- A reference to the job of an earlier wave that was never created (otarun.plan.calls.ref).
local function placeholder(job) return require("otarun.plan.calls").is_ref(job) end

M.MAX_START_FAILURES = 3

-- Starts one due wave through apply's executor (intent, call, record; a create whose outcome is
-- unknown is resolved by its identity tag at once). A cancel of a wave that has no job yet is
-- dropped: there is no strategy to supersede. -> true | nil (stop starting waves of this rollout)
function Sched:start(r, pw, rec)
  local w = pw.spec
  local calls, stopped = {}, {}
  local cancelled = {}
  for _, j in ipairs(self.state:jobs(r.name) or {}) do
    if j.status == "CANCELED" then cancelled[j.job_id] = true end
  end
  for _, c in ipairs(pw.calls) do
    local job = c.action == "CancelOTAStrategyByJob" and c.params.JobId
    if job and cancelled[job] then
      stopped[#stopped + 1] = job -- a halt (then a resume) already cancelled it
    elseif not (job and placeholder(job)) then
      calls[#calls + 1] = c
    end
  end
  local report = self:execute(r, pw, calls)
  for _, c in ipairs(calls) do
    if c.action == "CancelOTAStrategyByJob" then
      local prev
      for name, row in pairs(rec.wave) do if row.job_id == c.params.JobId then prev = name end end
      local now = self.state:rollout(r.name).wave[prev or ""]
      if now and now.state == "superseded" then
        self:emit{ kind = "supersede", rollout = r.name, wave = prev, job_id = c.params.JobId,
          text = string.format("wave %q superseded by %q (strategy of job %s cancelled)", prev, w.name, c.params.JobId) }
      end
    end
  end
  local key = r.name .. "/" .. w.name
  local job = report.jobs[key]
  if job then
    self:note_calls(r, w, calls, job)
    self.failures[key] = nil
    for _, old in ipairs(stopped) do
      for name, row in pairs(rec.wave) do
        if row.job_id == old and row.state == "passed" then
          self.state:transition(r.name, name, "superseded",
            string.format("superseded by wave %q (its strategy was already cancelled)", w.name), old)
        end
      end
    end
    self:changed(r)
    self:emit{ kind = "start", rollout = r.name, wave = w.name, job_id = job,
      text = string.format("wave %q started: job %s (%s)", w.name, job, pw.reason) }
    return true
  end
  local why = table.concat(report.errors, "; ")
  self:emit{ kind = "error", rollout = r.name, wave = w.name, text = "starting the wave: " .. why }
  if report.fatal then self.blocked = true return nil end
  self.failures[key] = (self.failures[key] or 0) + 1
  if self.failures[key] >= M.MAX_START_FAILURES then
    notify.decide(self.state, function()
      self.state:halt(r.name, string.format("could not start wave %q (%d tries): %s", w.name, self.failures[key], why))
      self:emit{ kind = "halt", rollout = r.name, wave = w.name,
        text = string.format("rollout %s halted: wave %s could not be started", r.name, w.name) }
    end)
  end
  return nil
end

function Sched:start_due(r)
  for _ = 1, #r.waves do
    if self.blocked or self.unread[r.name] then return end
    local rec = self:record(r)
    if rec.halted then return end
    local due
    for _, pw in ipairs(self:plan(r, rec)) do
      if pw.action == "create" and pw.status == "ready" then
        due = pw
        break
      end
    end
    if not due or not self:start(r, due, rec) then return end
  end
end

-- ---- the tick --------------------------------------------------------------------------------

-- tick() -> report { at, rollouts = { { name, halted, halt_reason, done, unread, waves = { planned waves } } },
--                   next_at, done (every rollout done), finished (every rollout done or halted),
--                   skipped (rollouts left to another process this tick),
--                   quiet_until (until when ticks can only read: see the end of tick_locked),
--                   wake_at (with quiet_until: the next waiting wave's earliest start),
--                   errors = { error events of this tick: what could not be read or done } }
-- One lock per rollout (docs/state.md, "Locks"), taken as the tick reaches the rollout and let go
-- once its part of the tick is done (its notifications delivered): a rollout another process
-- holds is skipped this tick (a `skip` event naming the holder).
function Sched:tick()
  local st = self.state
  self.now = math.floor(self.env.now())
  local res = table.pack(pcall(self.tick_locked, self, self.env.rollouts or self.env.load()))
  st:unlock_rollouts()
  -- a lost database session: the store's message, not a traceback (docs/state.md, "Locks")
  if not res[1] and not st:connected() then return nil, tostring(res[2]) end
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

function Sched:tick_locked(rollouts)
  local st = self.state
  self.blocked = false
  self.errors = {}
  local report = { at = self.now, rollouts = {}, done = true, finished = true, skipped = 0, errors = self.errors }
  if self.env.notifier then self.env.notifier:begin(st, {}) end
  -- q.quiet: no gate to read, nothing owed, nothing failed to read or do (see quiet_until below)
  local q = { quiet = true }
  function q.wake(t) if t and (not q.next_at or t < q.next_at) then q.next_at = t end end
  self.snaps, self.unread, self.diffs, self.plans, self.recs, self.fresh = {}, {}, {}, {}, {}, {}
  self.quiet_known = nil
  for _, r in ipairs(walk.order(self, rollouts)) do
    local took, terr = walk.take(self, r)
    if took == nil then return nil, terr end
    if took then
      self:tick_rollout(r, report, q)
      if self.env.notifier then
        self.env.notifier:finish_rollout(st, report.rollouts[#report.rollouts], report.at,
          function(ev) self:emit(ev) end)
      end
      st:unlock_rollout(r.name)
    else
      report.skipped = report.skipped + 1
      report.done, report.finished, q.quiet = false, false, false
    end
  end
  -- the report in the scripts' order, whatever order the rollouts were walked in
  local pos = {}
  for i, r in ipairs(rollouts) do pos[r.name] = i end
  table.sort(report.rollouts, function(a, b) return pos[a.name] < pos[b.name] end)
  -- never sleep past the poll interval: approvals, resumes and the platform change meanwhile
  report.next_at = math.min(q.next_at or (self.now + self.interval), self.now + self.interval)
  -- With no wave running (no gate to read) and nothing owed or failed, the ticks before the next
  -- waiting wave's earliest start can only find what this one found, unless something outside
  -- this loop changes the platform, the scripts or the store: a rehearsal, whose world is closed,
  -- may make only their reads (quiet_tick; docs/rehearse.md, "How a rehearsal ticks"). nil when a
  -- tick may act sooner.
  if q.quiet and not self.blocked and #self.errors == 0 then
    report.wake_at = q.due_at or math.huge
    report.quiet_until = math.min(report.wake_at, q.change_at or math.huge)
  end
  return report
end

-- One held rollout's part of the tick: steps 1 to 5 (the header), its line added to the report;
-- q gathers what the tick's end needs (wake, next_at, due_at, change_at, quiet).
function Sched:tick_rollout(r, report, q)
  local st = self.state
  -- a rehearsal's rollouts never change (env.fixed): recorded by their first tick only
  if not (self.env.fixed and self.recorded[r.name]) then
    assert(st:record_rollout(r))
    self.recorded[r.name] = true
  end
  if self.env.notifier then self.env.notifier:include(st, r) end
  if not self.blocked then self:resolve(r.name) end
  local rec = self:record(r)
  if not self.blocked and self:refresh(r, rec) then
    self:reconcile(r, rec)
    rec = self:record(r)
  end
  for _, w in ipairs(r.waves) do
    local row = rec.wave[w.name]
    if row.state == "failed" and row.job_id then self:follow_up(r, w, row.job_id) end
  end
  for _, w in ipairs(r.waves) do
    local row = rec.wave[w.name]
    if row.state == "running" and row.job_id then
      self:judge(r, w, row)
      if self:record(r).halted then break end
    end
  end
  if self.env.auto_confirm then self:confirm_waiting(r) end
  self:start_due(r)
  rec = self:record(r)
  local waves = self:plan(r, rec)
  local done, running = true, false
  for _, pw in ipairs(waves) do
    if not TERMINAL[pw.status] then done = false end
    if pw.status == "running" then running = true end
    if pw.status == "waiting" and pw.earliest_start and pw.earliest_start > self.now then
      q.wake(pw.earliest_start)
      if not q.due_at or pw.earliest_start < q.due_at then q.due_at = pw.earliest_start end
    end
    -- a static wave with a start more than 7 days ahead is created earlier (ScheduleTime)
    if pw.status == "waiting" and pw.created_at and pw.created_at > self.now then
      if not q.change_at or pw.created_at < q.change_at then q.change_at = pw.created_at end
    end
    -- due but held (an approval, a predecessor): what it and its followers wait for moves with
    -- the time (a window closes and opens again, estimates follow the clock)
    if pw.status == "waiting" and pw.earliest_start and pw.earliest_start <= self.now then q.quiet = false end
  end
  for _, row in ipairs(rec.waves) do
    if row.state == "running" or row.state == "failed" then q.quiet = false end
  end
  -- read this tick but done now: the next tick plans it from the store instead; a halted
  -- rollout's waiting waves are planned from the store at each tick's time
  if rec.halted or (self.snaps[r.name] ~= nil) == done_in_store(r, rec) then q.quiet = false end
  if running or (not done and not rec.halted) then q.wake(self.now + self.interval) end
  self.recs[r.name] = rec
  report.rollouts[#report.rollouts + 1] = { name = r.name, halted = rec.halted, halt_reason = rec.halt_reason,
    done = done and not rec.halted, waves = waves, rollout = r, unread = self.unread[r.name] or self.blocked }
  if not done or rec.halted then report.done = false end
  if not (done or rec.halted) then report.finished = false end
end

-- A tick inside a quiet stretch (report.quiet_until of the last full tick `last`), for a
-- rehearsal, whose world is closed (docs/rehearse.md, "How a rehearsal ticks"): only the platform
-- reads a full tick would make (the same calls, in the same order), since judging, planning and
-- starting would find what `last` found. -> a report like tick's; quiet_until is dropped when a
-- read failed (the next tick is a full one).
function Sched:quiet_tick(last)
  self.now = math.floor(self.env.now())
  self.blocked, self.errors = false, {}
  local quiet = true
  -- the store does not change in a quiet stretch: the jobs it recorded are read once
  self.quiet_known = self.quiet_known or {}
  for _, rr in ipairs(last.rollouts) do
    local known = self.quiet_known[rr.name] or require("otarun.plan.diff").known_jobs(self.state, { rr.rollout })
    self.quiet_known[rr.name] = known
    if not self:refresh(rr.rollout, self.recs[rr.name], known) then quiet = false end
  end
  self.diffs, self.plans = {}, {}
  return { at = self.now, rollouts = last.rollouts, done = last.done, finished = last.finished, skipped = 0,
    errors = self.errors, quiet_until = quiet and last.quiet_until or nil, wake_at = last.wake_at,
    next_at = math.min(last.wake_at, self.now + self.interval) }
end

return M
