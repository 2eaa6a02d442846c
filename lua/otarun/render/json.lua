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

local function wave_doc(plan, w)
  local calls = json.array({})
  for i, c in ipairs(w.calls or {}) do
    calls[i] = { action = c.action, params = json.object(c.params) }
  end
  return { name = w.name, kind = orNull(w.kind), status = w.status, action = w.action,
           reason = w.reason or "", waiting_for = M.conditions(M.waits(w), plan.offset), job_id = orNull(w.job_id),
           earliest_start = w.earliest_start and util.format_time(w.earliest_start, plan.offset or 0) or null,
           calls = calls, line = orNull(w.line) }
end
M.wave_doc = wave_doc

-- The text json.encode(wave_doc(plan, w), { indent = "  " }) gives at depth 4 (plan > rollouts >
-- rollout > waves > wave), written directly (the waves array itself at depth 3): at 10,000 waves the generic encoder is the slowest
-- part of `otarun plan`. spec/render_spec.lua holds the two to the same bytes.
local P = {}
for d = 3, 9 do P[d] = "\n" .. string.rep("  ", d) end

-- Quoted strings, memoised when short: names, ids, versions and statuses repeat from wave to
-- wave. The memo lives for one document (M.document resets it).
local quoted = {}
local function q(s)
  if s == nil or s == null then return "null" end
  local r = quoted[s]
  if r then return r end
  r = '"' .. json.escaped(s) .. '"'
  if #s <= 40 then quoted[s] = r end
  return r
end

-- Earliest starts as quoted RFC 3339 text; many waves share one.
local times = {}
local function q_time(plan, epoch)
  local r = times[epoch]
  if not r then
    r = '"' .. util.format_time(epoch, plan.offset or 0) .. '"'
    times[epoch] = r
  end
  return r
end

-- Scratch lists reused from wave to wave, so 10,000 waves do not leave 20,000 lists behind.
local names, out = {}, {}

-- Appends the params object's pieces to out from index n; returns the new n.
local function params_text(params, n)
  local count = 0
  for k in pairs(params) do
    count = count + 1
    names[count] = k
  end
  for i = #names, count + 1, -1 do names[i] = nil end
  if count == 0 then
    out[n + 1] = "{}"
    return n + 1
  end
  table.sort(names)
  for i = 1, count do
    local k = names[i]
    out[n + 1] = i == 1 and "{" or ","
    out[n + 2] = P[8]
    out[n + 3] = q(k)
    out[n + 4] = ": "
    local v = params[k]
    if type(v) == "table" then
      -- a reference (otarun.plan.calls.ref): { "ref": KIND, "wave": NAME }
      out[n + 5] = "{" .. P[9] .. '"ref": ' .. q(v.ref) .. "," .. P[9] .. '"wave": ' .. q(v.wave) .. P[8] .. "}"
    else
      out[n + 5] = q(v)
    end
    n = n + 5
  end
  out[n + 1] = P[7]
  out[n + 2] = "}"
  return n + 2
end

-- The wave's waiting_for as the generic writer puts it at depth 5: written directly for the
-- conditions the timeline makes (most of 10,000 waiting waves), through the generic writer for
-- anything else. spec/render_spec.lua holds the two to the same bytes.
local CONDITION_KEYS = CONDITION.__json_order
local CONDITION_KEY = {}
for _, k in ipairs(CONDITION_KEYS) do CONDITION_KEY[k] = true end

local function condition_text(plan, c)
  local fields = {}
  for k in pairs(c) do
    if not CONDITION_KEY[k] then return nil end
  end
  for _, k in ipairs(CONDITION_KEYS) do
    local v = c[k]
    if v ~= nil then
      if TIME_FIELDS[k] and type(v) == "number" then v = util.format_time(v, plan.offset or 0) end
      local t, s = type(v), nil
      if t == "string" then s = q(v)
      elseif t == "boolean" then s = v and "true" or "false"
      elseif math.type(v) == "integer" then s = string.format("%d", v)
      else return nil end
      fields[#fields + 1] = P[7] .. '"' .. k .. '": ' .. s
    end
  end
  if #fields == 0 then return nil end
  return P[6] .. "{" .. table.concat(fields, ",") .. P[6] .. "}"
end

local function waiting_text(plan, w)
  local list = M.waits(w)
  if not list or #list == 0 then return "[]" end
  local parts = {}
  for i, c in ipairs(list) do
    parts[i] = condition_text(plan, c)
    if not parts[i] then
      return (json.encode(M.conditions(list, plan.offset), { indent = "  " }):gsub("\n", P[5]))
    end
  end
  return "[" .. table.concat(parts, ",") .. P[5] .. "]"
end

-- The wave's JSON text (one string).
local function wave_text(plan, w)
  local P5 = P[5]
  out[1] = "{" out[2] = P5 out[3] = '"name": ' out[4] = q(w.name) out[5] = "," out[6] = P5
  out[7] = '"line": ' out[8] = w.line and string.format("%d", w.line) or "null" out[9] = "," out[10] = P5
  out[11] = '"kind": ' out[12] = q(w.kind) out[13] = "," out[14] = P5
  out[15] = '"status": ' out[16] = q(w.status) out[17] = "," out[18] = P5
  out[19] = '"action": ' out[20] = q(w.action) out[21] = "," out[22] = P5
  out[23] = '"reason": ' out[24] = q(w.reason or "") out[25] = "," out[26] = P5
  out[27] = '"waiting_for": ' out[28] = waiting_text(plan, w) out[29] = "," out[30] = P5
  out[31] = '"job_id": ' out[32] = q(w.job_id) out[33] = "," out[34] = P5
  out[35] = '"earliest_start": ' out[36] = w.earliest_start and q_time(plan, w.earliest_start) or "null"
  out[37] = "," out[38] = P5 out[39] = '"calls": '
  local n = 39
  local calls = w.calls or {}
  if #calls == 0 then
    n = n + 1
    out[n] = "[]"
  else
    for i, c in ipairs(calls) do
      out[n + 1] = i == 1 and "[" or ","
      out[n + 2] = P[6] out[n + 3] = "{" out[n + 4] = P[7] out[n + 5] = '"action": ' out[n + 6] = q(c.action)
      out[n + 7] = "," out[n + 8] = P[7] out[n + 9] = '"params": '
      n = params_text(c.params, n + 9)
      out[n + 1] = P[6]
      out[n + 2] = "}"
      n = n + 2
    end
    out[n + 1] = P5
    out[n + 2] = "]"
    n = n + 2
  end
  out[n + 1] = P[4]
  out[n + 2] = "}"
  return table.concat(out, "", 1, n + 2)
end
M.wave_text = wave_text

local function policy_doc(p)
  return { policy = orNull(p.policy), rule = orNull(p.rule), level = orNull(p.level),
           passed = p.passed == true, overridden = p.overridden == true, message = orNull(p.message),
           rollout = orNull(p.rollout), wave = orNull(p.wave), reason = orNull(p.reason) }
end

-- The plan table -> the plan JSON document (a Lua table ready for otarun.json).
function M.document(plan)
  quoted, times = {}, {}
  local rollouts = json.array({})
  for i, r in ipairs(plan.rollouts) do
    local waves = json.array({})
    if #r.waves > 0 then
      waves = json.lazy(function(put)
        for j, w in ipairs(r.waves) do
          put(j == 1 and "[" or ",")
          put(P[4])
          put(wave_text(plan, w))
        end
        put(P[3])
        put("]")
      end)
    end
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
