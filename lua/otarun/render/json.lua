-- The plan as JSON, the plan JSON document (plus a few added fields: rollout instance,
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

-- The diagnostics as a generated array: one table, refilled for each diagnostic as it is written.
function M.diagnostics_list(list)
  list = list or {}
  local out = {}
  return json.generated(#list, function(i)
    local d = list[i]
    out.severity = d.severity == "error" and "error" or "warning"
    out.rule, out.message, out.file = orNull(d.rule), orNull(d.message), orNull(d.file)
    out.line = d.line or 0
    out.rollout, out.wave, out.param = orNull(d.rollout), orNull(d.wave), orNull(d.param)
    return out
  end)
end

local function firmware(fw)
  local out = json.object({ id = orNull(fw and fw.id) })
  for k, v in pairs(fw or {}) do
    if type(v) ~= "table" and type(v) ~= "function" then out[k] = v end
  end
  return out
end

-- What a waiting wave waits for, as typed conditions (docs/json.md, "Wait conditions"): the
-- timeline's list (otarun.plan.timeline) with its epochs as RFC 3339 times; a saved plan read back
-- carries the times as text already.
local CONDITION = json.ordered({ "kind", "wave", "after", "seconds", "window", "opens_at", "never", "at", "command" })
local TIME_FIELDS = { opens_at = true, at = true }

-- out: an earlier result to refill (its tables are reused).
function M.conditions(list, offset, out)
  out = out or json.array({})
  local n = 0
  for i, c in ipairs(list or {}) do
    local o = out[i]
    if o then
      for k in pairs(o) do o[k] = nil end
    else
      o = setmetatable({}, CONDITION)
      out[i] = o
    end
    for k, v in pairs(c) do
      if TIME_FIELDS[k] and type(v) == "number" then v = util.format_time(v, offset or 0) end
      o[k] = v
    end
    n = i
  end
  for i = #out, n + 1, -1 do out[i] = nil end
  return out
end

-- The conditions of a wave that waits (a wave the diff found running waits for nothing).
function M.waits(w)
  return w.status == "waiting" and w.waiting_for or nil
end

-- Earliest starts as RFC 3339 text; many waves share one (the memo lives for one document).
local times = {}
local function time_text(plan, epoch)
  local r = times[epoch]
  if not r then
    r = util.format_time(epoch, plan.offset or 0)
    times[epoch] = r
  end
  return r
end

local EMPTY_PARAMS = json.object({})

local function call_doc(c, out)
  out = out or {}
  -- the call's own table, unless empty (an unmarked empty table would be written as [])
  out.action, out.params = c.action, next(c.params) == nil and EMPTY_PARAMS or c.params
  return out
end

-- The wave's document, in `out` (refilled: every member is set) when given.
local function wave_doc(plan, w, out)
  out = out or {}
  local calls = out.calls or json.array({})
  local n = 0
  for i, c in ipairs(w.calls or {}) do
    calls[i] = call_doc(c, calls[i])
    n = i
  end
  for i = #calls, n + 1, -1 do calls[i] = nil end
  out.name, out.kind, out.status, out.action = w.name, orNull(w.kind), w.status, w.action
  out.reason, out.waiting_for, out.job_id = w.reason or "", M.conditions(M.waits(w), plan.offset, out.waiting_for), orNull(w.job_id)
  out.earliest_start = w.earliest_start and time_text(plan, w.earliest_start) or null
  out.calls, out.line = calls, orNull(w.line)
  return out
end
M.wave_doc = function(plan, w) return wave_doc(plan, w) end

local function policy_doc(p)
  return { policy = orNull(p.policy), rule = orNull(p.rule), level = orNull(p.level),
           passed = p.passed == true, overridden = p.overridden == true, message = orNull(p.message),
           rollout = orNull(p.rollout), wave = orNull(p.wave), reason = orNull(p.reason) }
end

-- The plan table -> the plan JSON document (a Lua table ready for otarun.json).
function M.document(plan)
  times = {}
  local doc = {}
  local rollouts = json.array({})
  for i, r in ipairs(plan.rollouts) do
    -- one wave document, refilled for each wave as the encoder reaches it
    local waves = json.generated(#r.waves, function(j) return wave_doc(plan, r.waves[j], doc) end)
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

-- Streams the plan's JSON to a sink (otarun.json.file_sink(io.stdout)), for large plans.
function M.write_plan(plan, sink)
  json.write(M.document(plan), sink, { indent = "  " })
  sink({ "\n" }, 1)
end

-- `otarun validate --format json` and a plan that stopped at errors.
function M.diagnostics(list, summary)
  return json.encode({ format_version = "1.0", diagnostics = M.diagnostics_list(list), summary = summary }, { indent = "  " }) .. "\n"
end

return M
