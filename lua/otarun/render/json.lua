-- The plan as JSON, exactly the document of SPEC §7a (plus a few added fields: rollout instance,
-- file and line, wave line). Internal fields (the normalised `spec`, reasons list, epochs) stay
-- out; times are RFC 3339; absent values are null. Deterministic key order (otarun.json).
local json = require("otarun.json")
local util = require("otarun.util")

local M = {}

local null = json.null

local function orNull(v)
  if v == nil then return null end
  return v
end

function M.diagnostic(d)
  return { severity = d.severity == "error" and "error" or "warning", rule = orNull(d.rule),
           message = orNull(d.message), file = orNull(d.file), line = d.line or 0,
           rollout = orNull(d.rollout), wave = orNull(d.wave), param = orNull(d.param) }
end

function M.diagnostics_list(list)
  local out = json.array({})
  for i, d in ipairs(list or {}) do out[i] = M.diagnostic(d) end
  return out
end

local function firmware(fw)
  local out = json.object({ id = orNull(fw and fw.id) })
  for k, v in pairs(fw or {}) do
    if type(v) ~= "table" and type(v) ~= "function" then out[k] = v end
  end
  return out
end

local function wave_doc(plan, w)
  local calls = json.array({})
  for i, c in ipairs(w.calls or {}) do
    calls[i] = { action = c.action, params = json.object(c.params) }
  end
  return { name = w.name, kind = orNull(w.kind), status = w.status, action = w.action,
           reason = w.reason or "", job_id = orNull(w.job_id),
           earliest_start = w.earliest_start and util.format_time(w.earliest_start, plan.offset or 0) or null,
           calls = calls, line = orNull(w.line) }
end

local function policy_doc(p)
  return { policy = orNull(p.policy), rule = orNull(p.rule), level = orNull(p.level),
           passed = p.passed == true, overridden = p.overridden == true, message = orNull(p.message),
           rollout = orNull(p.rollout), wave = orNull(p.wave), reason = orNull(p.reason) }
end

-- The plan table -> the §7a document (a Lua table ready for otarun.json).
function M.document(plan)
  local rollouts = json.array({})
  for i, r in ipairs(plan.rollouts) do
    local waves = json.array({})
    for j, w in ipairs(r.waves) do waves[j] = wave_doc(plan, w) end
    rollouts[i] = { name = r.name, product = orNull(r.product), region = orNull(r.region),
                    instance = orNull(r.instance), file = orNull(r.file), line = orNull(r.line),
                    firmware = firmware(r.firmware), waves = waves }
  end
  local policies = json.array({})
  for i, p in ipairs(plan.policies or {}) do policies[i] = policy_doc(p) end
  local s = plan.summary
  return {
    format_version = plan.format_version, generated_at = plan.generated_at, mode = plan.mode,
    state_fingerprint = orNull(plan.state_fingerprint), rollouts = rollouts,
    diagnostics = M.diagnostics_list(plan.diagnostics), policies = policies,
    summary = { create = s.create, update = s.update, replace = s.replace, cancel = s.cancel,
                wait = s.wait, errors = s.errors, warnings = s.warnings },
  }
end

function M.plan(plan)
  return json.encode(M.document(plan), { indent = "  " }) .. "\n"
end

-- `otarun validate --format json` and a plan that stopped at errors.
function M.diagnostics(list, summary)
  return json.encode({ diagnostics = M.diagnostics_list(list), summary = summary }, { indent = "  " }) .. "\n"
end

return M
