-- Saved plans (`otarun plan --out FILE`, the plan's JSON) read back for `otarun apply PLAN`: told
-- apart from rollout scripts, decoded into the plan table the executor and the text renderer
-- take (nulls gone, times as epochs), and checked against the store's fingerprint.
-- Uses: otarun.plan.saved (the file format), cjson, otarun.util.
local cjson = require("cjson")
local util = require("otarun.util")

local M = {}

local read = util.read_file

local function denull(v)
  if v == cjson.null then return nil end
  if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2^53 then return math.tointeger(v) end
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = denull(x) end
  end
  return v
end

-- Is this file a saved plan (JSON with format_version and rollouts) rather than a script?
function M.is_plan(path)
  local text = read(path)
  return text ~= nil and text:match("^%s*{") ~= nil and text:find('"format_version"', 1, true) ~= nil
end

-- The shape a saved plan must have before anything reads it (docs/trust.md): a document that
-- fails here is an error (exit 1), never applied. -> true | nil, "what: expected"
local function is_array(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  return n == #v
end
local function is_map(v, value_types)
  if type(v) ~= "table" then return false end
  for k, x in pairs(v) do
    if type(k) ~= "string" or not value_types[type(x)] then return false end
  end
  return true
end
local SCALAR = { string = true, number = true }
local PARAM_VALUE = { string = true, number = true, table = true }
function M.check_shape(doc)
  local function opt(v, t) return v == nil or v == cjson.null or type(v) == t end
  if not opt(doc.state_fingerprint, "string") then return nil, "state_fingerprint must be a string of hex digits" end
  if not opt(doc.mode, "string") then return nil, "mode must be a string" end
  if not opt(doc.generated_at, "string") then return nil, "generated_at must be a time string" end
  if not is_array(doc.rollouts) then return nil, "rollouts must be an array" end
  for _, k in ipairs({ "diagnostics", "policies" }) do
    if not (doc[k] == nil or is_array(doc[k])) then return nil, k .. " must be an array" end
    for i, d in ipairs(doc[k] or {}) do
      if type(d) ~= "table" then return nil, string.format("%s[%d] must be an object", k, i) end
    end
  end
  if doc.summary ~= nil then
    if type(doc.summary) ~= "table" then return nil, "summary must be an object" end
    for _, k in ipairs({ "create", "update", "replace", "cancel", "wait" }) do
      local n = doc.summary[k]
      if type(n) ~= "number" or n ~= math.floor(n) or n < 0 or n > 2^53 then
        return nil, "summary." .. k .. " must be a whole number"
      end
    end
  end
  for i, r in ipairs(doc.rollouts) do
    local where = string.format("rollouts[%d]", i)
    if type(r) ~= "table" or type(r.name) ~= "string" then return nil, where .. " must be an object with a name" end
    if not (r.waves == nil or is_array(r.waves)) then return nil, where .. ".waves must be an array" end
    if not (r.firmware == nil or r.firmware == cjson.null or type(r.firmware) == "table") then
      return nil, where .. ".firmware must be an object"
    end
    for j, w in ipairs(r.waves or {}) do
      local ww = string.format("%s.waves[%d]", where, j)
      if type(w) ~= "table" or type(w.name) ~= "string" then return nil, ww .. " must be an object with a name" end
      if not opt(w.action, "string") then return nil, ww .. ".action must be a string" end
      if not (opt(w.earliest_start, "string") or type(w.earliest_start) == "number") then
        return nil, ww .. ".earliest_start must be a time"
      end
      if not (w.calls == nil or is_array(w.calls)) then return nil, ww .. ".calls must be an array" end
      for k, c in ipairs(w.calls or {}) do
        local cw = string.format("%s.calls[%d]", ww, k)
        if type(c) ~= "table" or type(c.action) ~= "string" then return nil, cw .. " must be an object with an action" end
        -- strings, numbers, or a typed reference to an earlier call's result (otarun.plan.calls.ref_from
        -- checks its shape when the plan is read)
        if not (c.params == nil or is_map(c.params, PARAM_VALUE)) then
          return nil, cw .. ".params must be an object of strings (or references)"
        end
      end
    end
  end
  local sv = doc.saved
  if not is_array(sv.scripts) then return nil, "saved.scripts must be an array" end
  for i, sc in ipairs(sv.scripts) do
    if type(sc) ~= "table" or type(sc.path) ~= "string" or type(sc.sha256) ~= "string" then
      return nil, string.format("saved.scripts[%d] must be { path, sha256 }", i)
    end
  end
  if not (sv.rollouts == nil or is_array(sv.rollouts)) then return nil, "saved.rollouts must be an array" end
  for i, n in ipairs(sv.rollouts or {}) do
    if type(n) ~= "string" then return nil, string.format("saved.rollouts[%d] must be a string", i) end
  end
  if type(sv.now) ~= "number" or sv.now ~= sv.now or math.abs(sv.now) > 2^53 then
    return nil, "saved.now must be an epoch"
  end
  if not (sv.offset == nil or (type(sv.offset) == "number" and math.abs(sv.offset) <= 86400)) then
    return nil, "saved.offset must be seconds east of UTC"
  end
  if not (sv.vars == nil or is_map(sv.vars, { string = true })) then return nil, "saved.vars must be an object of strings" end
  for _, k in ipairs({ "region", "endpoint", "state" }) do
    if not opt(sv[k], "string") then return nil, "saved." .. k .. " must be a string" end
  end
  return true
end

-- load(path) -> plan | nil, message. The file's format is otarun.plan.saved's (the plan's JSON plus a
-- `saved` section: the rollouts the fingerprint covers, the scripts' hashes, endpoint, store).
function M.load(path)
  local plan, err = require("otarun.plan.saved").read(path)
  if not plan then return nil, err end
  if type(plan.rollouts) ~= "table" then return nil, path .. " is not a saved plan (no rollouts)" end
  local shaped, why = M.check_shape(plan)
  if not shaped then
    return nil, string.format("%s is not a valid saved plan: %s (plan again: otarun plan --out %s FILE...)", path, why, path)
  end
  plan = denull(plan)
  if plan.format_version ~= "1.0" then
    return nil, string.format("%s has plan format %s; this otarun reads 1.0", path, tostring(plan.format_version))
  end
  plan.now = plan.generated_at and util.parse_time(plan.generated_at) or 0
  plan.offset = 0
  for _, r in ipairs(plan.rollouts) do
    r.firmware = r.firmware or {}
    r.waves = r.waves or {}
    for _, w in ipairs(r.waves) do
      if type(w.earliest_start) == "string" then w.earliest_start = util.parse_time(w.earliest_start) end
      w.calls = w.calls or {}
      for _, c in ipairs(w.calls) do
        c.params = c.params or {}
        for k, v in pairs(c.params) do
          if type(v) == "table" then
            -- a reference to a job or device list URL of an earlier call (otarun.plan.calls.ref)
            local ref, rerr = require("otarun.plan.calls").ref_from(v)
            if not ref then return nil, string.format("%s: %s/%s %s %s: %s", path, r.name, w.name, c.action, k, rerr) end
            c.params[k] = ref
          else
            c.params[k] = tostring(v)
          end
        end
      end
    end
  end
  plan.diagnostics = plan.diagnostics or {}
  plan.policies = plan.policies or {}
  plan.summary = plan.summary or require("otarun.plan").summarize(plan.rollouts, plan.diagnostics)
  return plan
end

-- The rollout names a plan covers (what its fingerprint is over).
function M.rollout_names(plan)
  if plan.saved and type(plan.saved.rollouts) == "table" then return plan.saved.rollouts end
  local names = {}
  for i, r in ipairs(plan.rollouts) do names[i] = r.name end
  return names
end

-- check(st, plan, path) -> true | nil, message (stale)
function M.check(st, plan, path)
  if not plan.state_fingerprint then
    return nil, string.format("%s was planned without the state store (mode %s): there is no "
      .. "fingerprint to prove it is still current. Plan again with credentials: otarun plan --out %s FILE...",
      path, tostring(plan.mode), path)
  end
  local changed = plan.saved and require("otarun.plan.saved").changed_scripts(plan) or {}
  if #changed > 0 then
    return nil, string.format("%s is stale: %s. Plan again: otarun plan --out %s FILE...", path,
      table.concat(changed, "; "), path)
  end
  local now, err = st:fingerprint(M.rollout_names(plan))
  if not now then return nil, err end
  if now ~= plan.state_fingerprint then
    return nil, string.format("%s is stale: the state changed since it was planned (fingerprint %s, "
      .. "now %s). Plan again: otarun plan --out %s FILE...", path, plan.state_fingerprint:sub(1, 12),
      now:sub(1, 12), path)
  end
  return true
end

-- The calls a plan would send, one line per wave with calls, in order: what rederive compares.
local function call_lines(plan)
  local out = {}
  for _, r in ipairs(plan.rollouts or {}) do
    for _, w in ipairs(r.waves or {}) do
      local parts = { string.format("%s/%s %s", r.name, w.name, tostring(w.action)) }
      for _, c in ipairs(w.calls or {}) do
        local keys = {}
        for k in pairs(c.params or {}) do keys[#keys + 1] = k end
        table.sort(keys)
        local ps = {}
        for i, k in ipairs(keys) do ps[i] = k .. "=" .. tostring(c.params[k]) end
        parts[#parts + 1] = c.action .. "(" .. table.concat(ps, "&") .. ")"
      end
      out[#out + 1] = table.concat(parts, " ")
    end
  end
  return out
end

-- rederive(plan, path, st, client_for, ctx) -> fresh plan | nil, message, exit code
-- Plans the hashed scripts again, against the recorded state (and the platform, for a live plan),
-- with the saved vars, time and region. The saved plan is applied only when every wave's action
-- and calls are the ones the planner produces now; what is then sent is the planner's own plan, so
-- an edited file can neither change a parameter nor add an action (docs/trust.md).
function M.rederive(plan, path, st, client_for, ctx)
  local sv = plan.saved
  local files = {}
  for i, sc in ipairs(sv.scripts) do files[i] = sc.path end
  if plan.mode ~= "live" and plan.mode ~= "state" then
    return nil, string.format("%s was planned in mode %s, which cannot be applied; plan again with "
      .. "credentials: otarun plan --out %s FILE...", path, tostring(plan.mode), path), 5
  end
  local pipeline = require("otarun.plan.pipeline")
  local c = { now = math.tointeger(sv.now) or sv.now, offset = sv.offset or 0, vars = sv.vars or {},
              region = sv.region, limits = ctx.limits, format = ctx.format, mode = plan.mode,
              state = st, client_for = client_for }
  local res, err = pipeline.plan(files, c)
  if not res then return nil, err, 1 end
  if not res.ok then
    return nil, string.format("%s is stale: its scripts no longer plan without errors. Plan again: "
      .. "otarun plan --out %s FILE...", path, path), 5
  end
  local fresh = res.plan
  for _, r in ipairs(fresh.rollouts) do
    for _, w in ipairs(r.waves) do w.spec = nil end
  end
  local want, have = call_lines(fresh), call_lines(plan)
  for i = 1, math.max(#want, #have) do
    if want[i] ~= have[i] then
      return nil, string.format("%s does not match what its scripts and the recorded state produce "
        .. "(it was edited, or the platform moved on): the plan says %s, the planner %s; nothing was "
        .. "sent. Plan again: otarun plan --out %s FILE...", path, have[i] or "nothing more",
        want[i] or "nothing more", path), 5
    end
  end
  fresh.saved = plan.saved
  return fresh
end

return M
