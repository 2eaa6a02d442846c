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

-- What a waiting wave waits for, as typed conditions (docs/json.md, "Wait conditions"): the
-- timeline's list (otarun.plan.timeline) with its epochs as RFC 3339 times; a saved plan read back
-- carries the times as text already.
local CONDITION = json.ordered({ "kind", "wave", "after", "seconds", "window", "opens_at", "never", "at", "command" })
local TIME_FIELDS = { opens_at = true, at = true }

function M.conditions(list, offset)
  local out = json.array({})
  for i, c in ipairs(list or {}) do
    local o = setmetatable({}, CONDITION)
    for k, v in pairs(c) do
      if TIME_FIELDS[k] and type(v) == "number" then v = util.format_time(v, offset or 0) end
      o[k] = v
    end
    out[i] = o
  end
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

local function wave_doc(plan, w)
  local calls = json.array({})
  for i, c in ipairs(w.calls or {}) do
    -- the call's own table, unless empty (an unmarked empty table would be written as [])
    calls[i] = { action = c.action, params = next(c.params) == nil and EMPTY_PARAMS or c.params }
  end
  return { name = w.name, kind = orNull(w.kind), status = w.status, action = w.action,
           reason = w.reason or "", waiting_for = M.conditions(M.waits(w), plan.offset), job_id = orNull(w.job_id),
           earliest_start = w.earliest_start and time_text(plan, w.earliest_start) or null,
           calls = calls, line = orNull(w.line) }
end
M.wave_doc = wave_doc

local function policy_doc(p)
  return { policy = orNull(p.policy), rule = orNull(p.rule), level = orNull(p.level),
           passed = p.passed == true, overridden = p.overridden == true, message = orNull(p.message),
           rollout = orNull(p.rollout), wave = orNull(p.wave), reason = orNull(p.reason) }
end

-- The plan table -> the plan JSON document (a Lua table ready for otarun.json).
function M.document(plan)
  times = {}
  local rollouts = json.array({})
  for i, r in ipairs(plan.rollouts) do
    -- each rollout's wave documents exist only while the encoder writes them
    local waves = json.deferred(function()
      local list = json.array({})
      for j, w in ipairs(r.waves) do list[j] = wave_doc(plan, w) end
      return list
    end)
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
