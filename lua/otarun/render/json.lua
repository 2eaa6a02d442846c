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
M.wave_doc = wave_doc

-- The text json.encode(wave_doc(plan, w), { indent = "  " }) gives at depth 4 (plan > rollouts >
-- rollout > waves > wave), written directly: at 10,000 waves the generic encoder is the slowest
-- part of `otarun plan`. spec/render_spec.lua holds the two to the same bytes.
local P = {}
for d = 4, 8 do P[d] = "\n" .. string.rep("  ", d) end

-- Quoted strings, memoised: names, ids, versions and statuses repeat from wave to wave.
-- The memo lives for one document (M.document resets it).
local quoted = {}
local function q(s)
  if s == nil or s == null then return "null" end
  local r = quoted[s]
  if not r then
    r = '"' .. json.escaped(s) .. '"'
    quoted[s] = r
  end
  return r
end

local function params_text(params, put)
  local names = {}
  for k in pairs(params) do names[#names + 1] = k end
  if #names == 0 then put("{}") return end
  table.sort(names)
  for i, k in ipairs(names) do
    put(i == 1 and "{" or ",")
    put(P[8])
    put(q(k))
    put(": ")
    put(q(params[k]))
  end
  put(P[7])
  put("}")
end

-- put(piece) for each piece of the wave's JSON text.
local function wave_text(plan, w, put)
  put("{") put(P[5]) put('"name": ') put(q(w.name)) put(",") put(P[5])
  put('"line": ') put(w.line and string.format("%d", w.line) or "null") put(",") put(P[5])
  put('"kind": ') put(q(w.kind)) put(",") put(P[5])
  put('"status": ') put(q(w.status)) put(",") put(P[5])
  put('"action": ') put(q(w.action)) put(",") put(P[5])
  put('"reason": ') put(q(w.reason or "")) put(",") put(P[5])
  put('"job_id": ') put(q(w.job_id)) put(",") put(P[5])
  put('"earliest_start": ')
  put(w.earliest_start and q(util.format_time(w.earliest_start, plan.offset or 0)) or "null")
  put(",") put(P[5]) put('"calls": ')
  local calls = w.calls or {}
  if #calls == 0 then
    put("[]")
  else
    for i, c in ipairs(calls) do
      put(i == 1 and "[" or ",") put(P[6]) put("{") put(P[7]) put('"action": ') put(q(c.action))
      put(",") put(P[7]) put('"params": ')
      params_text(c.params, put)
      put(P[6]) put("}")
    end
    put(P[5]) put("]")
  end
  put(P[4]) put("}")
end
M.wave_text = wave_text

local function policy_doc(p)
  return { policy = orNull(p.policy), rule = orNull(p.rule), level = orNull(p.level),
           passed = p.passed == true, overridden = p.overridden == true, message = orNull(p.message),
           rollout = orNull(p.rollout), wave = orNull(p.wave), reason = orNull(p.reason) }
end

-- The plan table -> the §7a document (a Lua table ready for otarun.json).
function M.document(plan)
  quoted = {}
  local rollouts = json.array({})
  for i, r in ipairs(plan.rollouts) do
    local waves = json.array({})
    for j, w in ipairs(r.waves) do waves[j] = json.lazy(function(put) wave_text(plan, w, put) end) end
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
  return json.encode({ diagnostics = M.diagnostics_list(list), summary = summary }, { indent = "  " }) .. "\n"
end

return M
