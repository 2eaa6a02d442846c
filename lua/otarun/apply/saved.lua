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

-- load(path) -> plan | nil, message. The file's format is otarun.plan.saved's (the plan's JSON plus a
-- `saved` section: the rollouts the fingerprint covers, the scripts' hashes, endpoint, store).
function M.load(path)
  local plan, err = require("otarun.plan.saved").read(path)
  if not plan then return nil, err end
  if type(plan.rollouts) ~= "table" then return nil, path .. " is not a saved plan (no rollouts)" end
  plan = denull(plan)
  if plan.format_version ~= "1.0" then
    return nil, string.format("%s has plan format %s; this otarun reads 1.0", path, tostring(plan.format_version))
  end
  plan.now = plan.generated_at and util.parse_time(plan.generated_at) or 0
  plan.offset = 0
  for _, r in ipairs(plan.rollouts) do
    r.firmware = r.firmware or {}
    for _, w in ipairs(r.waves or {}) do
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

return M
