-- Stopping a wave's job on the platform, as run's scheduler (a tripped gate) and `otarun abort`
-- do it: cancel the dynamic strategy (devices already upgrading continue), cancel the pending
-- tasks (queued, notified, waiting for confirmation, scheduled). Both go through the intent
-- journal (otarun.journal), once per decision: a call already settled for this job is not sent
-- again, and a cancel refused because the strategy already stopped counts as done.
-- Uses otarun.journal, the state handle and client given.
local journal = require("otarun.journal")

local M = {}

-- A cancel that finds the strategy already stopped has nothing left to do.
function M.already_stopped(err)
  local m = tostring(err.message or "")
  return m:find("no longer running", 1, true) or m:find("is CANCELED", 1, true)
    or m:find("is COMPLETED", 1, true) or m:find("not running", 1, true) ~= nil
end

-- One cancel through the journal, unless an earlier one for this job settled. -> true | nil, message
local function cancel(st, client, rollout, wave_name, action, params, settle, accept)
  if journal.done_before(st, rollout.name, wave_name, action, params.JobId) then return true end
  local out, err = journal.send(st, client, { rollout = rollout.name, wave = wave_name, action = action,
    params = params }, { settle = settle, accept = accept })
  if not out then return nil, err end
  return true
end

-- Cancels a dynamic wave's strategy; the job is recorded CANCELED with the call (and the wave's
-- `transition`, when given). -> true | nil, message
function M.cancel_strategy(st, client, rollout, wave_name, job_id, transition)
  return cancel(st, client, rollout, wave_name, "CancelOTAStrategyByJob",
    { JobId = job_id, IotInstanceId = rollout.instance },
    function() return { job_id = job_id, job = { job_id = job_id, status = "CANCELED" }, transition = transition } end,
    M.already_stopped)
end

-- Cancels the job's pending tasks: queued, notified, waiting for confirmation, scheduled.
-- -> true | nil, message
function M.cancel_pending(st, client, rollout, wave_name, job_id)
  return cancel(st, client, rollout, wave_name, "CancelOTATaskByJob",
    { JobId = job_id, IotInstanceId = rollout.instance, CancelQueuedTask = true, CancelNotifiedTask = true,
      CancelUnconfirmedTask = true, CancelScheduledTask = true },
    function() return { job_id = job_id } end)
end

-- Stops one job of a wave: its dynamic strategy (o.strategy), then its pending tasks (o.pending);
-- o.first_failure: nothing more after a failed cancel.
-- -> the failures: { { what = "the strategy" | "the pending tasks", err = message } }
function M.job(st, client, rollout, wave_name, job_id, o)
  local failures = {}
  local steps = { { o.strategy, M.cancel_strategy, "the strategy" }, { o.pending, M.cancel_pending, "the pending tasks" } }
  for _, s in ipairs(steps) do
    if s[1] then
      local ok, err = s[2](st, client, rollout, wave_name, job_id)
      if not ok then
        failures[#failures + 1] = { what = s[3], err = err }
        if o.first_failure then break end
      end
    end
  end
  return failures
end

-- The job ids the store knows for a wave (the wave's current job first).
function M.wave_jobs(st, rollout_name, wave_name)
  local ids, seen = {}, {}
  local rec = st:rollout(rollout_name)
  local row = rec and rec.wave[wave_name]
  if row and row.job_id then ids[1], seen[row.job_id] = row.job_id, true end
  for _, j in ipairs(st:jobs(rollout_name, wave_name) or {}) do
    if not seen[j.job_id] then ids[#ids + 1], seen[j.job_id] = j.job_id, true end
  end
  return ids
end

return M
