-- The executor of `otarun apply` (docs/architecture.md, "The journal"): performs the due waves of
-- a plan table, call by call in the order the planner gave (cancel before the create that
-- supersedes it), through the clients' shared rate limiter. Every changing call goes through the
-- intent journal (otarun.journal: intent, call, unknown outcome resolved, outcome recorded in one
-- transaction); this module says what a success records (the job, the wave's transition).
-- Resolving what a crash left open: otarun.journal.recover. Display: otarun.render.progress.
-- Uses: otarun.journal, otarun.state (via the handle given).
local journal = require("otarun.journal")

local M = {}

M.ACTIONS = { create = true, update = true, replace = true, cancel = true }

local CREATES, CANCELS = journal.CREATES, journal.CANCELS
M.CREATES = CREATES
M.identity_of = journal.identity_of

-- The waves a plan wants changed now, in plan order: { { rollout = r, wave = w, index = i } }.
function M.steps(plan)
  local out = {}
  for _, r in ipairs(plan.rollouts or {}) do
    for i, w in ipairs(r.waves or {}) do
      if M.ACTIONS[w.action] and w.calls and #w.calls > 0 then
        out[#out + 1] = { rollout = r, wave = w, index = i }
      end
    end
  end
  return out
end

function M.count_calls(steps)
  local n = 0
  for _, s in ipairs(steps) do n = n + #s.wave.calls end
  return n
end

-- Records every rollout of the plan (and its waves) in the store; existing waves keep their state.
function M.record_rollouts(st, plan)
  for _, r in ipairs(plan.rollouts or {}) do
    local waves = {}
    for _, w in ipairs(r.waves or {}) do
      -- a wave removed from the script (listed first, to cancel its job) keeps its old row
      if not w.removed and w.action ~= "cancel" then
        waves[#waves + 1] = { name = w.name, kind = w.kind, index = #waves + 1 }
      end
    end
    local ok, err = st:record_rollout{ name = r.name, file = r.file, product = r.product,
      region = r.region, firmware = r.firmware, waves = waves }
    if not ok then return nil, err end
  end
  return true
end

-- The call with its references (otarun.plan.calls.ref: the job of an earlier wave, the FileUrl of
-- this wave's device list) replaced by the values this run got: created (wave name -> job id) and
-- file_url (what GenerateDeviceNameListURL returned before this call). -> call | nil, message
local function concrete(call, created, where, file_url)
  local is_ref = require("otarun.plan.calls").is_ref
  local params = {}
  for k, v in pairs(call.params or {}) do
    if is_ref(v) and v.ref == "job" then
      local job = created[v.wave]
      if not job then
        return nil, string.format("%s: %s needs the job of wave %q, which this apply did not create",
          where, call.action, v.wave)
      end
      v = job
    elseif is_ref(v) then
      if not file_url then
        return nil, string.format("%s: %s needs the device list URL of wave %q, which this apply did not get",
          where, call.action, v.wave)
      end
      v = file_url
    end
    params[k] = v
  end
  return { action = call.action, params = params }
end

-- GenerateDeviceNameListURL of a wave with more than 200 devices: the URL, then the upload of the
-- wave's names (otarun.platform.device_list); the create that follows takes the FileUrl. Nothing
-- on the platform's jobs changes, so no intent is written. -> FileUrl | nil, message
local function device_list(self, step, call)
  local r, w = step.rollout, step.wave
  local where = r.name .. "/" .. w.name
  local names = call.names
  if type(names) ~= "table" or #names == 0 then
    return nil, where .. ": the device list is not in this plan (a saved plan carries no names): run otarun apply with the script"
  end
  local client, cerr = self.client_for(r)
  if not client then return nil, where .. ": " .. tostring(cerr) end
  local url, err = require("otarun.platform.device_list").upload(client, names, call.params.IotInstanceId)
  self.stats.requests = self.stats.requests + 2
  if not url then return nil, string.format("%s: device list of %d names: %s", where, #names, tostring(err.message or err)) end
  return url
end

-- The store's job rows of a rollout by job id (to name the wave a cancel supersedes).
local function job_owner(st, rollout, job_id)
  for _, j in ipairs(st:jobs(rollout) or {}) do
    if j.job_id == job_id then return j end
  end
  return nil
end

local Run = {}
Run.__index = Run

-- What a success of `call` records besides the intent (the journal adds the audit row):
-- the job a create made and the wave's transition, the job a cancel stopped.
function Run:success(step, call, res, identity)
  local r, w = step.rollout, step.wave
  local out = {}
  if CREATES[call.action] then
    local job_id = type(res.Data) == "table" and res.Data.JobId
    if type(job_id) ~= "string" then
      return nil, string.format("%s answered without Data.JobId (%s)", call.action,
        res.RequestId and ("RequestId " .. res.RequestId) or "no RequestId")
    end
    out.job_id = job_id
    out.job = { job_id = job_id, rollout = r.name, wave = w.name, firmware = r.firmware and r.firmware.id,
      kind = w.kind, identity = identity, params_fingerprint = journal.params_fingerprint(call.params),
      status = "IN_PROGRESS" }
    out.transition = { rollout = r.name, wave = w.name, to = "running", job_id = job_id,
      why = "created by otarun apply" }
  elseif CANCELS[call.action] then
    local job_id = call.params.JobId
    out.job_id = job_id
    local owner = job_owner(self.st, r.name, job_id)
    if call.action == "CancelOTAStrategyByJob" then out.job = { job_id = job_id, status = "CANCELED" } end
    -- a replace keeps its wave as it is until the new job exists (recorded by the create)
    if owner and owner.wave and w.action ~= "replace" then
      out.transition = { rollout = r.name, wave = owner.wave, to = w.action == "cancel" and "cancelled"
        or "superseded", job_id = job_id,
        why = w.action == "cancel" and "cancelled by otarun apply"
          or string.format("superseded by wave %q", w.name) }
    end
  end
  return out
end

-- Sends one changing call through the journal.
-- -> job_id|true | nil, message, fatal (true: stop the whole run, an outcome is unknown)
function Run:send(step, call)
  local r, w = step.rollout, step.wave
  local where = r.name .. "/" .. w.name
  local identity = CREATES[call.action] and M.identity_of(call.params) or nil
  -- the cancel of a replace names the identity of the create that follows it, so a plan made
  -- after the create failed (or after a crash between the two) knows to create the wave again
  if CANCELS[call.action] and w.action == "replace" then identity = r.name .. "/" .. w.name end
  local client, cerr = self.client_for(r)
  if not client then return nil, where .. ": " .. tostring(cerr) end
  local out, err, fatal = journal.send(self.st, client, { rollout = r.name, wave = w.name,
    action = call.action, params = call.params, identity = identity }, {
    settle = function(res) return self:success(step, call, res, identity) end,
    firmware = r.firmware and r.firmware.id, stats = self.stats,
    before_send = self.before_call and function() self.before_call(step, call) end,
    log = self.log and function(line) self.log(where .. ": " .. line) end })
  if not out then return nil, where .. ": " .. err, fatal end
  return out.job_id or true
end

-- execute(st, plan, opts) -> report
-- opts: client_for(rollout) -> client (required), progress (otarun.render.progress or nil), log(line),
--       before_call(step, call) (tests).
-- report = { waves = n done, calls = n, requests = n, created = n, adopted = n, unknown = n,
--            errors = { "ROLLOUT/WAVE: ..." }, fatal = bool, jobs = { [ROLLOUT/WAVE] = job },
--            steps = { { rollout, wave, action, status = "applied"|"failed"|"not started", job_id,
--                        calls = { { action, ok, job_id, adopted, error } } } } }
-- A failed wave stops its rollout (later waves depend on it); other rollouts go on. An unknown
-- outcome that cannot be resolved stops everything.
function M.execute(st, plan, opts)
  local run = setmetatable({ st = st, client_for = assert(opts.client_for), log = opts.log,
    before_call = opts.before_call, stats = { requests = 0, unknown = 0, adopted = 0 } }, Run)
  local report = { waves = 0, calls = 0, created = 0, errors = {}, jobs = {}, fatal = false, steps = {} }
  local progress = opts.progress
  local stopped = {}
  for _, step in ipairs(M.steps(plan)) do
    local r, w = step.rollout, step.wave
    local where = r.name .. "/" .. w.name
    local outcome = { rollout = r.name, wave = w.name, action = w.action, status = "not started", calls = {} }
    report.steps[#report.steps + 1] = outcome
    if report.fatal then break end
    if stopped[r.name] then
      report.errors[#report.errors + 1] = string.format("%s: not started (an earlier wave of %s failed)",
        where, r.name)
      if progress then progress:skip(#w.calls) end
      goto continue
    end
    local created = {}
    for _, prev in ipairs(r.waves) do created[prev.name] = prev.job_id end
    for k, v in pairs(report.jobs) do
      local rn, wn = k:match("^(.-)/([^/]*)$")
      if rn == r.name then created[wn] = v end
    end
    local failed = false
    local file_url
    for ci, call in ipairs(w.calls) do
      local c, cerr = concrete(call, created, where, file_url)
      local res, err, fatal
      local adopted = run.stats.adopted
      if c and call.action == "GenerateDeviceNameListURL" then
        file_url, err = device_list(run, step, call)
        res = file_url and true or nil
      elseif c then res, err, fatal = run:send(step, c) else err = cerr end
      report.calls = report.calls + 1
      outcome.calls[#outcome.calls + 1] = { action = call.action, ok = res ~= nil, error = err,
        job_id = (res ~= nil and res ~= true) and res or (c and c.params.JobId) or nil,
        adopted = run.stats.adopted > adopted or nil }
      if progress then progress:step(where, c and c.action or call.action, res and res ~= true and res or nil, err) end
      if not res then
        report.errors[#report.errors + 1] = err
        report.fatal = report.fatal or fatal == true
        failed = true
        if progress then progress:skip(#w.calls - ci) end
        break
      end
      if CREATES[call.action] then
        report.created = report.created + 1
        report.jobs[where] = res
        created[w.name] = res
      end
    end
    outcome.status = failed and "failed" or "applied"
    outcome.job_id = report.jobs[where] or w.job_id
    if failed then stopped[r.name] = true else report.waves = report.waves + 1 end
    ::continue::
  end
  report.requests, report.unknown, report.adopted = run.stats.requests, run.stats.unknown, run.stats.adopted
  return report
end

return M
