-- The intent journal: the one place that sends a changing call to the platform (docs/architecture.md,
-- "The journal"). apply, run's scheduler, abort and resume all go through it, so every changing
-- call behaves the same:
--   1. an intent is written to the store before the call leaves (the store lock or the rollout's must be held);
--   2. the call is sent;
--   3. an outcome the platform certainly did not act on (throttled after the client's retries,
--      never connected) gets a fresh intent and is sent again, up to MAX_SENDS times;
--   4. an unknown outcome (a 5xx, a dropped connection, a timeout after sending) is resolved at
--      once: a create is looked up by its identity tag (adopted if found, sent again only if
--      certainly absent, and the caller stops when the platform cannot tell); a strategy cancel
--      by the job's status; other changes say the same thing twice, so they are sent again;
--   5. the result (intent settled, job row, wave transition, audit row) is recorded in one
--      transaction (state:record_call).
-- recover() settles what a crash left open (intents never settled) the same way, before anything
-- else is sent. Uses otarun.plan.refresh (find_by_identity), otarun.core.sys, otarun.core.sign,
-- otarun.state (canonical JSON), the client and the state handle given.
local refresh = require("otarun.plan.refresh")

local M = {}

-- How often one call is tried when the platform certainly did not get it, or answered with an
-- unknown outcome that says it may be sent again: each try has its own intent.
M.MAX_SENDS = 4
M.RESEND_PAUSE = 1 -- seconds, times the attempt, before a call refused by flow control is resent

-- The result prefix of a call refused because what it asks for is already so ("already cancelled").
M.ALREADY = "already done: "

M.IDENTITY_KEY = refresh.IDENTITY_KEY
M.CREATES = { CreateOTADynamicUpgradeJob = true, CreateOTAStaticUpgradeJob = true }
M.CANCELS = { CancelOTAStrategyByJob = true, CancelOTATaskByJob = true }

-- Client error kinds that mean the request was certainly not processed.
local NOT_SENT = { throttled = true, transport = true }

-- The identity tag's value in a create's flattened params (Tag.N.Key = "otarun"), or nil.
function M.identity_of(params)
  for k, v in pairs(params or {}) do
    local n = type(k) == "string" and k:match("^Tag%.(%d+)%.Key$")
    if n and v == M.IDENTITY_KEY then return params["Tag." .. n .. ".Value"] end
  end
  return nil
end

-- The job's JobStatus, or nil, err.
function M.job_status(client, job_id, instance)
  local res, err = client:call("QueryOTAJob", { JobId = job_id, IotInstanceId = instance })
  if not res then return nil, err end
  return type(res.Data) == "table" and res.Data.JobStatus or nil
end

-- The fingerprint of a create's params, kept with its job (a later plan compares with it).
function M.params_fingerprint(params)
  return require("otarun.core.sign").sha256_hex(require("otarun.state").json(params))
end

local function known_jobs(st)
  local known = {}
  for _, j in ipairs(st:jobs() or {}) do known[j.job_id] = j end
  return known
end

local function with(t, extra)
  local out = {}
  for k, v in pairs(t or {}) do out[k] = v end
  for k, v in pairs(extra or {}) do out[k] = v end
  return out
end

-- send(st, client, call, o) -> outcome | nil, message, fatal
-- call = { rollout, wave, action, params, identity }
-- o.settle(answer) -> outcome | nil, why: what a success records besides the intent: { job_id,
--   job = {...}, transition = {...}, result }. `answer` is the platform's, or { Data = { JobId } }
--   for a create adopted by its identity tag. Default: nothing more than the audit row.
-- o.accept(err) -> bool: a business error meaning what was asked is already so (a cancel of a
--   stopped strategy); it is recorded as failed with M.ALREADY and counts as done.
-- o.stats = { requests, unknown, adopted } (counted), o.log(line), o.before_send() (tests),
-- o.sleep(seconds) (default otarun.core.sys.sleep).
-- outcome: what was recorded, plus .adopted (found by identity tag) or .accepted. fatal: stop
-- everything (an outcome is unknown and could not be resolved, or the store failed).
function M.send(st, client, call, o)
  o = o or {}
  local stats = o.stats or {}
  for _, k in ipairs({ "requests", "unknown", "adopted" }) do stats[k] = stats[k] or 0 end
  local settle = o.settle or function() return {} end
  local action, params = call.action, call.params
  local audit = { action = action, rollout = call.rollout, wave = call.wave, params = params }
  local function note(err, text)
    return { state = "failed", result = tostring(err) .. text, request_id = err.request_id, audit = audit }
  end
  local function success(id, answer, extra)
    local out, why = settle(answer)
    if not out then
      st:record_call(id, { state = "unknown", result = why, audit = audit })
      return nil, why, true
    end
    out = with(out, extra)
    out.state, out.audit = "settled", audit
    if out.request_id == nil then out.request_id = answer.RequestId end
    if out.result == nil then out.result = answer.RequestId and ("RequestId " .. answer.RequestId) or nil end
    local ok, rerr = st:record_call(id, out)
    if not ok then return nil, "the call succeeded but recording it failed: " .. tostring(rerr), true end
    return out
  end
  for attempt = 1, M.MAX_SENDS do
    local id, ierr = st:intent{ rollout = call.rollout, wave = call.wave, action = action, params = params,
      identity = call.identity }
    if not id then return nil, "cannot record the intent: " .. tostring(ierr), true end
    if o.before_send then o.before_send() end
    local res, err = client:call(action, params)
    stats.requests = stats.requests + 1
    if res then return success(id, res) end
    local again = false
    if NOT_SENT[err.kind] then
      -- refused by flow control or never connected, after the client's own retries: the
      -- platform certainly did nothing, so a fresh intent and another try are safe
      if attempt < M.MAX_SENDS then
        st:record_call(id, note(err, "; not processed, sent again"))
        if o.log then o.log(string.format("%s: %s; sending again (%d/%d)", action, tostring(err), attempt,
          M.MAX_SENDS)) end
        ;(o.sleep or require("otarun.core.sys").sleep)(M.RESEND_PAUSE * attempt)
        goto next_attempt
      end
    elseif err.kind == "unknown_outcome" then
      again = true
    end
    if not again then
      local accepted = err.kind == "business" and o.accept and o.accept(err)
      if accepted then
        local out = settle({}) or {}
        local ok, rerr = st:record_call(id, { state = "failed", result = M.ALREADY .. tostring(err),
          request_id = err.request_id, job_id = out.job_id, job = out.job, transition = out.transition,
          audit = audit })
        if not ok then return nil, "recording the answer failed: " .. tostring(rerr), true end
        return with(out, { accepted = true, result = M.ALREADY .. tostring(err) })
      end
      st:record_call(id, note(err, ""))
      return nil, string.format("%s failed: %s", action, tostring(err))
    end
    -- the platform may or may not have acted
    stats.unknown = stats.unknown + 1
    if M.CREATES[action] then
      local job, lerr = refresh.find_by_identity(client, params.FirmwareId or o.firmware, call.identity,
        { instance = params.IotInstanceId, known = known_jobs(st), log = o.log })
      if job == nil then
        st:record_call(id, { state = "unknown", result = tostring(err) .. "; lookup failed: " .. tostring(lerr),
          request_id = err.request_id, audit = audit })
        return nil, string.format("%s: the outcome is unknown (%s) and looking the job up by its identity "
          .. "tag failed (%s); nothing more was sent. Run otarun apply again once the platform answers: it "
          .. "resolves this intent before doing anything else", action, tostring(err), tostring(lerr)), true
      end
      if job then
        stats.adopted = stats.adopted + 1
        local out, why, fatal = success(id, { Data = { JobId = job.job_id } }, { request_id = err.request_id,
          result = string.format("outcome unknown (%s); adopted job %s found by its identity tag", tostring(err),
            job.job_id) })
        if out then out.adopted = true end
        return out, why, fatal
      end
      st:record_call(id, note(err, "; certainly not created (no job carries its identity tag)"))
    elseif action == "CancelOTAStrategyByJob" then
      local status = M.job_status(client, params.JobId, params.IotInstanceId)
      if status == "CANCELED" or status == "COMPLETED" or status == "COMPLETE" then
        return success(id, {}, { request_id = err.request_id,
          result = "outcome unknown (" .. tostring(err) .. "); the job is " .. status })
      end
      st:record_call(id, note(err, "; job still " .. tostring(status)))
    else
      -- updates and task cancellations say the same thing twice: sending again is safe
      st:record_call(id, note(err, "; sent again"))
    end
    if o.log then o.log(string.format("%s: %s; sending again (%d/%d)", action, tostring(err), attempt,
      M.MAX_SENDS)) end
    ::next_attempt::
  end
  return nil, string.format("%s: no answer after %d tries", action, M.MAX_SENDS)
end

-- Has a settled intent of `action` for this job already been recorded? (acting once per decision)
function M.done_before(st, rollout, wave, action, job_id)
  local rows = st:list("intents", { rollout = rollout, wave = wave }) or {}
  for _, row in ipairs(rows) do
    if row.action == action and (row.state == "settled"
          or (row.state == "failed" and (row.result or ""):sub(1, #M.ALREADY) == M.ALREADY))
        and row.params and row.params:find(job_id, 1, true) then
      return true
    end
  end
  return false
end

-- ---- what a crash left open ----------------------------------------------------------------------

local function describe(i)
  return string.format("intent %d (%s for %s/%s)", i.id, i.action, tostring(i.rollout), tostring(i.wave))
end

local function resolve_create(st, client, i, known, rollout_row, wave_row, log)
  local p = type(i.params) == "table" and i.params or {}
  local identity = i.identity or M.identity_of(p)
  local job, err = refresh.find_by_identity(client, p.FirmwareId, identity,
    { instance = p.IotInstanceId, known = known, log = log })
  if job == nil then
    return nil, string.format("%s: cannot tell whether it created a job: %s. Nothing was sent; run "
      .. "otarun apply again once the platform answers%s", describe(i), tostring(err),
      identity and "" or " (or check the platform by hand: this create had no identity tag)")
  end
  local audit = { action = i.action, rollout = i.rollout, wave = i.wave, params = p }
  if not job then
    local ok, serr = st:record_call(i.id, { state = "failed", audit = audit,
      result = "resolved after a crash: not created (no job carries identity " .. tostring(identity) .. ")" })
    if not ok then return nil, serr end
    return "absent"
  end
  local kind = wave_row and wave_row.kind or (i.action == "CreateOTAStaticUpgradeJob" and "static" or "dynamic")
  local ok, serr = st:record_call(i.id, { state = "settled", job_id = job.job_id, audit = audit,
    result = "resolved after a crash: adopted job " .. job.job_id .. " found by its identity tag",
    job = { job_id = job.job_id, rollout = i.rollout, wave = i.wave, kind = kind, identity = identity,
      firmware = p.FirmwareId or (rollout_row and rollout_row.firmware), status = job.status,
      params_fingerprint = M.params_fingerprint(p) },
    transition = i.wave and { rollout = i.rollout, wave = i.wave, to = "running", job_id = job.job_id,
      why = "adopted after a crash (found by identity tag)" } or nil })
  if not ok then return nil, serr end
  known[job.job_id] = true
  return "adopted", job.job_id
end

local function resolve_cancel(st, client, i, known)
  local p = type(i.params) == "table" and i.params or {}
  local status, err = M.job_status(client, p.JobId, p.IotInstanceId)
  if status == nil and err then
    return nil, string.format("%s: cannot read job %s: %s", describe(i), tostring(p.JobId), tostring(err))
  end
  local audit = { action = i.action, rollout = i.rollout, wave = i.wave, params = p }
  if status == "CANCELED" then
    local owner = type(known[p.JobId]) == "table" and known[p.JobId] or nil
    -- the first half of a replace (its intent names the create that follows): the wave stays
    -- as it is, and the next plan creates its new job
    if i.identity and owner and owner.wave == i.wave then owner = nil end
    local ok, serr = st:record_call(i.id, { state = "settled", job_id = p.JobId, audit = audit,
      result = "resolved after a crash: job " .. tostring(p.JobId) .. " is CANCELED",
      job = { job_id = p.JobId, status = "CANCELED" },
      transition = owner and owner.wave and { rollout = i.rollout, wave = owner.wave,
        to = owner.wave == i.wave and "cancelled" or "superseded", job_id = p.JobId,
        why = "cancelled (resolved after a crash)" } or nil })
    if not ok then return nil, serr end
    return "settled"
  end
  local ok, serr = st:record_call(i.id, { state = "failed", audit = audit,
    result = "resolved after a crash: job " .. tostring(p.JobId) .. " is " .. tostring(status) .. ", not cancelled" })
  if not ok then return nil, serr end
  return "absent"
end

-- recover(st, client_for, { log, rollout }) -> { adopted = n, absent = n, settled = n, replanned = n, open = n }
--   | nil, message (a read failed: the caller must stop; nothing was sent)
-- Every intent a crash (or an unanswered call) left open is looked up on the platform: a create
-- is adopted when a job carrying its identity tag exists that the store does not know yet, marked
-- "not created" when every page of the firmware's jobs was read and none carries it, and left
-- open when a read failed (never risk a duplicate). The store's jobs are skipped in that lookup:
-- after a replace, the cancelled old job carries the same identity tag. A strategy cancel is
-- settled by the job's status; other changes are re-planned (the next plan, or the next abort,
-- compares with the platform again and sends what is still needed).
-- client_for(rollout_row) -> client; needs the store lock or the rollouts' locks: only the intents
-- of the rollouts held are looked at (opts.rollout: only that one's).
function M.recover(st, client_for, opts)
  opts = opts or {}
  -- only the intents of the rollouts this process holds (all of them under the whole-store lock)
  local open, err = st:unsettled(opts.rollout, true)
  if not open then return nil, err end
  local counts = { adopted = 0, absent = 0, settled = 0, replanned = 0, open = #open }
  if #open == 0 then return counts end
  local known = known_jobs(st)
  local rollouts = {}
  for _, i in ipairs(open) do
    local r = i.rollout and rollouts[i.rollout]
    if i.rollout and r == nil then
      r = st:rollout(i.rollout) or false
      rollouts[i.rollout] = r
    end
    local client, cerr = client_for(r or { name = i.rollout })
    local outcome, detail
    if not client then
      outcome, detail = nil, describe(i) .. ": " .. tostring(cerr)
    elseif M.CREATES[i.action] then
      outcome, detail = resolve_create(st, client, i, known, r or nil, r and r.wave[i.wave], opts.log)
    elseif i.action == "CancelOTAStrategyByJob" then
      outcome, detail = resolve_cancel(st, client, i, known)
    else
      local ok, serr = st:record_call(i.id, { state = "failed",
        result = "resolved after a crash: outcome unknown; the next plan compares with the platform again",
        audit = { action = i.action, rollout = i.rollout, wave = i.wave, params = i.params } })
      outcome, detail = ok and "replanned" or nil, serr
    end
    if not outcome then return nil, detail end
    counts[outcome] = counts[outcome] + 1
    if opts.log then
      opts.log(string.format("%s: %s%s", describe(i), outcome == "adopted" and "adopted job " or outcome,
        outcome == "adopted" and detail or ""))
    end
  end
  return counts
end

return M
