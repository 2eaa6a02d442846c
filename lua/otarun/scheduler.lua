-- One tick of `otarun run` (and of a rehearsal): under the store's lock, for each rollout,
--   1. settle what a crash left open (unsettled intents: a create is adopted by its identity tag,
--      or forgotten when certainly absent; nothing starts while an outcome is unknown);
--   2. finish decisions already made (a failed wave's strategy and, with on_fail = "abort", its
--      pending tasks cancelled), so a kill between a decision and its calls loses nothing;
--   3. judge the gates of running waves (otarun.gate; every reading recorded): pass -> `passed`,
--      trip -> `failed`, rollout halted, strategy cancelled (tasks too with "abort");
--   4. start the waves that are due, one at a time, re-planning after each (otarun.plan's timeline
--      decides due-ness: time, after, delay from the predecessor's passed_at, window, approval);
--      a dynamic wave first cancels the running dynamic strategy it supersedes;
--   5. work out when the next thing can happen.
-- Every changing call goes through the intent journal (otarun.control.call), and every decision is
-- a wave transition in the store, so a restarted run continues where the last one stopped and
-- never acts twice on one decision. The lock is released at the end of each tick.
-- Uses otarun.gate, otarun.plan, otarun.control, otarun.state (through the handle it is given).
local gate = require("otarun.gate")
local control = require("otarun.control")

local M = {}

M.DEFAULT_INTERVAL = 60
local TERMINAL = { passed = true, done = true, superseded = true, cancelled = true, failed = true }
local SETTLED = { running = true, passed = true, done = true, superseded = true, failed = true,
                  cancelled = true }

local Sched = {}
Sched.__index = Sched

-- new{ state = handle, client =, rollouts = list | load = fn() -> rollouts, now = fn() -> epoch,
--      interval = seconds between gate readings, on_event = fn(ev), offset = display offset,
--      lock_timeout =, check_limits = }
-- events: { t, kind = "start"|"pass"|"fail"|"halt"|"supersede"|"gate"|"error"|"adopt", rollout,
--           wave, job_id, text, counts, verdict }
function M.new(env)
  assert(env.state and env.client and (env.rollouts or env.load) and env.now, "scheduler.new: state, client, rollouts and now are required")
  local s = setmetatable({ env = env, state = env.state, client = env.client,
    interval = env.interval or M.DEFAULT_INTERVAL, history = {}, calls = 0 }, Sched)
  return s
end

function Sched:emit(ev)
  ev.t = ev.t or self.now
  if self.env.on_event then self.env.on_event(ev) end
end

-- ---- 1. what a crash left open ---------------------------------------------------------------

-- The platform's job carrying identity tag `otarun` = value, by reading every page of
-- ListOTAJobByFirmware (its items carry tags). -> job { JobId, JobStatus } | false | nil, err
function M.find_by_identity(client, firmware_id, value, instance)
  local ok, refresh = pcall(require, "otarun.refresh")
  if ok and type(refresh) == "table" and refresh.find_by_identity then
    local job, err = refresh.find_by_identity(client, firmware_id, value)
    if job then return { JobId = job.job_id or job.JobId, JobStatus = job.status or job.JobStatus } end
    return job, err
  end
  local page = 1
  while true do
    local res, err = client:call("ListOTAJobByFirmware", { FirmwareId = firmware_id, CurrentPage = page,
      PageSize = 200, IotInstanceId = instance })
    if not res then return nil, err end
    local items = res.Data and res.Data.SimpleOTAJobInfo or {}
    for _, j in ipairs(items) do
      local tags = j.Tags and j.Tags.OtaTagDTO or {}
      for _, t in ipairs(tags) do
        if t.Key == "otarun" and t.Value == value then return j end
      end
    end
    if #items == 0 or page >= (tonumber(res.PageCount) or page) then return false end
    page = page + 1
  end
end

local function job_record(r, w, job_id, identity)
  return { job_id = job_id, rollout = r.name, wave = w.name, firmware = r.firmware and r.firmware.id,
           kind = w.kind, identity = identity, status = "IN_PROGRESS" }
end

function Sched:resolve(r)
  local st = self.state
  self.unknown = self.unknown or {}
  for _, row in ipairs(st:unsettled(r.name) or {}) do
    local w = row.wave and self:wave_of(r, row.wave)
    if row.action:match("^Create") and row.identity and w then
      local job, err = M.find_by_identity(self.client, r.firmware.id, row.identity, r.instance)
      if job then
        st:record_call(row.id, { state = "settled", job_id = job.JobId, result = "adopted after a crash",
          job = job_record(r, w, job.JobId, row.identity),
          transition = { rollout = r.name, wave = w.name, to = "running", why = "created (adopted by its identity tag after a crash)" },
          audit = { action = row.action, rollout = r.name, wave = w.name, params = row.params } })
        self:emit{ kind = "adopt", rollout = r.name, wave = w.name, job_id = job.JobId,
          text = string.format("adopted job %s of wave %q created before a crash", job.JobId, w.name) }
      elseif job == false then
        st:settle(row.id, { state = "failed", result = "never created: absent on the platform" })
      else
        self.unknown[r.name .. "/" .. row.wave] = true
        self:emit{ kind = "error", rollout = r.name, wave = row.wave,
          text = "cannot tell whether a job was created before a crash: " .. tostring(err) }
      end
    else
      -- cancels are safe to repeat: the decision they belong to makes them again
      st:settle(row.id, { state = "failed", result = "outcome unknown after a crash; repeated if still needed" })
    end
  end
end

function Sched:wave_of(r, name)
  for _, w in ipairs(r.waves) do if w.name == name then return w end end
  return nil
end

-- ---- 2 and 3. gates and halts --------------------------------------------------------------------

-- The calls a tripped gate owes: cancel the strategy (dynamic), and the pending tasks ("abort").
function Sched:follow_up(r, w, job_id)
  local st = self.state
  if w.kind == "dynamic" then
    local ok, err = control.cancel_strategy(st, self.client, r, w.name, job_id)
    if not ok then
      self:emit{ kind = "error", rollout = r.name, wave = w.name, text = "cancelling the strategy: " .. tostring(err.message or err) }
      return
    end
  end
  if w.on_fail == "abort" then
    local ok, err = control.cancel_pending(st, self.client, r, w.name, job_id)
    if not ok then
      self:emit{ kind = "error", rollout = r.name, wave = w.name, text = "cancelling pending tasks: " .. tostring(err.message or err) }
    end
  end
end

function Sched:readings(r, w)
  local key = r.name .. "/" .. w.name
  local h = self.history[key]
  if not h then
    h = {}
    local cjson = require("cjson")
    for _, row in ipairs(self.state:gate_readings(r.name, w.name) or {}) do
      local ok, c = pcall(cjson.decode, row.counts or "{}")
      h[#h + 1] = { at = row.at, verdict = row.verdict, reason = row.reason, counts = ok and c or {} }
    end
    self.history[key] = h
  end
  while #h > gate.HISTORY do table.remove(h, 1) end
  return h
end

function Sched:judge(r, w, row)
  local st = self.state
  if not w.gate then
    st:transition(r.name, w.name, "passed", "no gate")
    st:audit{ kind = "decision", action = "passed", rollout = r.name, wave = w.name, result = "no gate" }
    self:emit{ kind = "pass", rollout = r.name, wave = w.name, text = string.format("wave %q passed (no gate)", w.name) }
    return
  end
  local counts, err, calls = gate.read(self.client, row.job_id, { instance = r.instance })
  if counts then calls = err end
  self.calls = self.calls + (calls or 0)
  if not counts then
    self:emit{ kind = "error", rollout = r.name, wave = w.name, text = "reading the gate: " .. tostring(err) }
    return
  end
  local started = row.started_at or self.now
  if w.start and w.start > started then started = w.start end -- a scheduled static job
  local history = w.gate.check and self:readings(r, w) or {}
  local verdict, reason = gate.evaluate(counts, w.gate, { now = self.now, started_at = started,
    history = history, rollout = r.name, wave = w.name, check_limits = self.env.check_limits })
  st:gate(r.name, w.name, counts, verdict, reason)
  if w.gate.check then history[#history + 1] = { at = self.now, verdict = verdict, reason = reason, counts = counts } end
  self:emit{ kind = "gate", rollout = r.name, wave = w.name, job_id = row.job_id, counts = counts,
    verdict = verdict, text = string.format("gate of %q: %s: %s", w.name, verdict, reason) }
  if verdict == "pass" then
    st:transition(r.name, w.name, "passed", "gate passed: " .. reason)
    st:audit{ kind = "decision", action = "passed", rollout = r.name, wave = w.name, result = reason }
    self:emit{ kind = "pass", rollout = r.name, wave = w.name, text = string.format("wave %q passed its gate", w.name) }
  elseif verdict == "fail" then
    -- the decision first, durably; the calls it owes follow (and are finished by a later tick
    -- if this process dies in between)
    st:transition(r.name, w.name, "failed", "gate tripped: " .. reason)
    local why = string.format("gate of wave %q tripped: %s", w.name, reason)
    st:halt(r.name, why)
    self:emit{ kind = "fail", rollout = r.name, wave = w.name, text = why }
    self:emit{ kind = "halt", rollout = r.name, wave = w.name, text = "rollout " .. r.name .. " halted" }
    self:follow_up(r, w, row.job_id)
  end
end

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

-- The rollout as the planner should see it: approved waves no longer wait for approval.
function Sched:as_planned(r)
  local copy
  for i, w in ipairs(r.waves) do
    if w.approve then
      local list = self.state:approvals(r.name, w.name) or {}
      if #list > 0 then
        copy = copy or setmetatable({ waves = { table.unpack(r.waves) } }, { __index = r })
        local wc = setmetatable({ approve = false, approved_by = list[#list].who }, { __index = w })
        copy.waves[i] = wc
      end
    end
  end
  return copy or r
end

function Sched:plan(r, rec)
  local planned = self:as_planned(r)
  local rollout = {}
  for k, v in pairs(r) do rollout[k] = v end
  rollout.waves = planned.waves
  local p = require("otarun.plan").build({ rollout }, { now = self.now, offset = self.env.offset or 0,
    observed = observed_from(rec) })
  return p.rollouts[1].waves
end

local function placeholder(job) return job:sub(1, 1) == "(" end

-- Runs the planned calls of one due wave. -> true | nil (stop starting waves of this rollout)
function Sched:start(r, pw, rec)
  local w = pw.spec
  for _, c in ipairs(pw.calls) do
    if c.action == "CancelOTAStrategyByJob" then
      local job = c.params.JobId
      if not placeholder(job) then
        local prev
        for name, row in pairs(rec.wave) do if row.job_id == job then prev = name end end
        local res, err = control.call(self.state, self.client, { rollout = r.name, wave = prev, action = c.action,
          params = c.params, job_id = job, accept = control.already_stopped,
          transition = prev and { rollout = r.name, wave = prev, to = "superseded",
            why = string.format("superseded by wave %q", w.name), job_id = job } or nil })
        if not res then
          self:emit{ kind = "error", rollout = r.name, wave = w.name, text = "cancelling the superseded strategy: " .. tostring(err.message or err) }
          return nil
        end
        self:emit{ kind = "supersede", rollout = r.name, wave = prev, job_id = job,
          text = string.format("wave %q superseded by %q (strategy of job %s cancelled)", tostring(prev), w.name, job) }
      end
    else
      local identity = w.identity_tag and w.identity_tag.value
      local res, err = control.call(self.state, self.client, { rollout = r.name, wave = w.name, action = c.action,
        params = c.params, identity = identity,
        job_from = function(res) return res.Data and res.Data.JobId end,
        job = job_record(r, w, nil, identity),
        transition = { rollout = r.name, wave = w.name, to = "running", why = pw.reason } })
      if not res then
        self:emit{ kind = "error", rollout = r.name, wave = w.name, text = "starting the wave: " .. tostring(err.message or err) }
        if err.kind == "business" or err.kind == "malformed" then
          self.state:halt(r.name, string.format("could not start wave %q: %s", w.name, tostring(err.message or err)))
          self:emit{ kind = "halt", rollout = r.name, wave = w.name, text = "rollout " .. r.name .. " halted: the platform refused wave " .. w.name }
        end
        return nil
      end
      self:emit{ kind = "start", rollout = r.name, wave = w.name, job_id = res.Data and res.Data.JobId,
        text = string.format("wave %q started: job %s (%s)", w.name, tostring(res.Data and res.Data.JobId), pw.reason) }
    end
  end
  return true
end

function Sched:start_due(r)
  for _ = 1, #r.waves do
    local rec = self.state:rollout(r.name)
    if rec.halted then return end
    local due
    for _, pw in ipairs(self:plan(r, rec)) do
      if pw.action == "create" and pw.status == "ready" and not self.unknown[r.name .. "/" .. pw.name] then
        due = pw
        break
      end
    end
    if not due or not self:start(r, due, rec) then return end
  end
end

-- ---- the tick --------------------------------------------------------------------------------

-- tick() -> report { at, rollouts = { { name, halted, halt_reason, done, waves = { planned waves } } },
--                   next_at, done (every rollout done), finished (every rollout done or halted) }
function Sched:tick()
  local st = self.state
  self.now = math.floor(self.env.now())
  local ok, err = st:lock(self.env.lock_timeout)
  if not ok then return nil, err end
  local res = table.pack(pcall(self.tick_locked, self))
  st:unlock()
  if not res[1] then error(res[2], 0) end
  return res[2]
end

function Sched:tick_locked()
  local st = self.state
  local rollouts = self.env.rollouts or self.env.load()
  self.unknown = {}
  local report = { at = self.now, rollouts = {}, done = true, finished = true }
  local next_at
  local function wake(t) if t and (not next_at or t < next_at) then next_at = t end end
  for _, r in ipairs(rollouts) do
    assert(st:record_rollout(r))
    self:resolve(r)
    local rec = st:rollout(r.name)
    for _, w in ipairs(r.waves) do
      local row = rec.wave[w.name]
      if row.state == "failed" and row.job_id then self:follow_up(r, w, row.job_id) end
    end
    for _, w in ipairs(r.waves) do
      local row = rec.wave[w.name]
      if row.state == "running" and row.job_id then
        self:judge(r, w, row)
        if st:rollout(r.name).halted then break end
      end
    end
    self:start_due(r)
    rec = st:rollout(r.name)
    local waves = self:plan(r, rec)
    local done, running = true, false
    for _, pw in ipairs(waves) do
      if not TERMINAL[pw.status] then done = false end
      if pw.status == "running" then running = true end
      if pw.status == "waiting" and pw.earliest_start and pw.earliest_start > self.now then wake(pw.earliest_start) end
    end
    if running or (not done and not rec.halted) then wake(self.now + self.interval) end
    report.rollouts[#report.rollouts + 1] = { name = r.name, halted = rec.halted, halt_reason = rec.halt_reason,
      done = done and not rec.halted, waves = waves, rollout = r }
    if not done or rec.halted then report.done = false end
    if not (done or rec.halted) then report.finished = false end
  end
  -- never sleep past the poll interval: approvals, resumes and the platform change meanwhile
  report.next_at = math.min(next_at or (self.now + self.interval), self.now + self.interval)
  return report
end

return M
