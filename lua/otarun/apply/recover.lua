-- What a crash (or an unanswered call) left open, resolved before anything else is sent (SPEC §4):
-- every unsettled intent of the store is looked up on the platform. A create is adopted when a
-- job carrying its identity tag (otarun = ROLLOUT/WAVE) exists that the store does not know yet,
-- marked "not created" when every page of the firmware's jobs was read and none carries it, and
-- left open (the run stops) when a read failed: never risk a duplicate. The lookup is
-- otarun.plan.refresh.find_by_identity with the store's jobs as `known` (after a replace, the cancelled
-- old job carries the same identity tag; adopting it would leave the wave without its new job).
-- A cancel is settled by the job's status; other changes are re-planned (the next plan compares
-- with the platform again).
-- Uses: otarun.plan.refresh, the client (ListOTAJobByFirmware, QueryOTAJob), the state handle given.
local refresh = require("otarun.plan.refresh")

local M = {}

M.IDENTITY_KEY = refresh.IDENTITY_KEY

local CREATES = { CreateOTADynamicUpgradeJob = true, CreateOTAStaticUpgradeJob = true }

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

local function describe(i)
  return string.format("intent %d (%s for %s/%s)", i.id, i.action, tostring(i.rollout), tostring(i.wave))
end

local function known_jobs(st)
  local known = {}
  for _, j in ipairs(st:jobs() or {}) do known[j.job_id] = j end
  return known
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
      params_fingerprint = require("otarun.core.sign").sha256_hex(require("otarun.state").json(p)) },
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

-- resolve(st, client_for, { log }) -> { adopted = n, absent = n, settled = n, replanned = n }
--   | nil, message (a read failed: the run must stop; nothing was sent)
-- client_for(rollout_row) -> client; needs the store lock.
function M.resolve(st, client_for, opts)
  opts = opts or {}
  local open, err = st:unsettled()
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
    elseif CREATES[i.action] then
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
