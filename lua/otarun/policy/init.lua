-- Policies against a plan: loads the policy files (otarun.policy.loader), judges the
-- built-in rule kinds natively (otarun.core.policy), runs the custom checks in the sandbox
-- (otarun.policy.custom), then applies the levels: advisory warns; soft denies unless overridden
-- with `--override POLICY.RULE --reason TEXT`; hard always denies. The results go into
-- plan.policies with `overridden` and `reason`, for the renderers and the audit log.
local core = require("otarun.core.policy")
local custom = require("otarun.policy.custom")
local loader = require("otarun.policy.loader")
local util = require("otarun.util")

local M = {}

M.load = loader.load

-- ["POLICY.RULE"] = reason, from the repeatable --override and the one --reason.
-- Returns the map, or nil and a usage message.
function M.parse_overrides(list, reason)
  local map = {}
  if list == nil or #list == 0 then
    if reason ~= nil then return nil, "--reason needs an --override POLICY.RULE to explain" end
    return map
  end
  if type(reason) ~= "string" or reason:match("^%s*$") then
    return nil, "--override needs --reason TEXT: say why the policy does not hold here (it is recorded)"
  end
  for _, key in ipairs(list) do
    if not key:match("^[%w_-]+%.[%w_-]+$") then
      return nil, string.format("--override %s: expected POLICY.RULE, like production.min_waves", key)
    end
    map[key] = reason
  end
  return map
end

local function key_of(r) return r.policy .. "." .. r.rule end

-- Applies the levels and overrides to results in place. Returns denied, denials (one message per
-- denying POLICY.RULE: its first finding and how many more), recorded overrides ({ policy, rule,
-- reason, rollout, wave, message }), unmatched override messages.
function M.judge(results, overrides, policies)
  overrides = overrides or {}
  local any_override = next(overrides) ~= nil
  local denying, order, recorded, used = {}, {}, {}, {}
  for _, r in ipairs(results) do
    r.overridden = false
    if not r.passed and r.level ~= "advisory" then
      local key = key_of(r)
      local reason = any_override and overrides[key] or nil
      if reason then used[key] = true end
      if r.level == "soft" and reason then
        r.overridden, r.reason = true, reason
        recorded[#recorded + 1] = { policy = r.policy, rule = r.rule, reason = reason,
                                    rollout = r.rollout, wave = r.wave, message = r.message }
      else
        local d = denying[key]
        if d then d.more = d.more + 1
        else
          denying[key] = { first = r, more = 0, reason = reason }
          order[#order + 1] = key
        end
      end
    end
  end
  local denials = {}
  for _, key in ipairs(order) do
    local d, r = denying[key], denying[key].first
    local where = r.rollout and (r.rollout .. (r.wave and ("/" .. r.wave) or "") .. ": ") or ""
    local more = d.more > 0 and string.format(" (and %d more)", d.more) or ""
    if r.level == "soft" then
      denials[#denials + 1] = string.format("%s (soft): %s%s%s; override with --override %s --reason TEXT",
        key, where, r.message or "failed", more, key)
    else
      denials[#denials + 1] = string.format("%s (hard): %s%s%s%s", key, where, r.message or "failed", more,
        d.reason and "; a hard policy cannot be overridden" or "")
    end
  end
  local unmatched = {}
  if any_override then
    local known, list = {}, {}
    for _, r in ipairs(results) do known[key_of(r)] = true end
    for _, p in ipairs(policies or {}) do
      for kind in pairs(p.rules or {}) do known[p.name .. "." .. kind] = true end
      known[p.name .. ".check"] = true
    end
    for k in pairs(known) do list[#list + 1] = k end
    table.sort(list)
    for key in pairs(overrides) do
      if not used[key] and not known[key] then
        local best = util.closest(key, list)
        unmatched[#unmatched + 1] = string.format("--override %s names no policy rule%s", key,
          best and (" (did you mean " .. best .. "?)") or "")
      end
    end
    table.sort(unmatched)
  end
  return #denials > 0, denials, recorded, unmatched
end

-- Judges the plan. opts: dirs, overrides (map), now (epoch; default plan.now), builtin (default
-- true), local_dir (default "policies"), policies (already loaded; skips loading).
-- Returns results (also plan.policies), denied, denials, info = { errors, overrides, unmatched,
-- policies }. A policy file that does not load denies (fail closed) and is listed in info.errors.
function M.evaluate(plan, opts)
  opts = opts or {}
  local now = opts.now or plan.now
  local policies, errors = opts.policies, {}
  if not policies then policies, errors = loader.load(opts) end
  local compiled = {}
  for i, p in ipairs(policies) do compiled[i] = p.compiled end
  local native, scopes = core.evaluate(plan, compiled, now)

  local by_policy = {}
  for _, r in ipairs(native) do
    local list = by_policy[r.policy]
    if not list then list = {}; by_policy[r.policy] = list end
    list[#list + 1] = r
  end
  local wrap
  local results = {}
  for i, p in ipairs(policies) do
    for _, r in ipairs(by_policy[p.name] or {}) do results[#results + 1] = r end
    if p.check and #scopes[i] > 0 then
      wrap = wrap or custom.view_factory()
      for _, r in ipairs(custom.run(p, wrap(custom.scoped_plan(plan, scopes[i])))) do
        results[#results + 1] = r
      end
    end
  end

  local denied, denials, recorded, unmatched = M.judge(results, opts.overrides, policies)
  for _, e in ipairs(errors) do
    denied = true
    denials[#denials + 1] = string.format("%s:%d: %s", e.file, e.line, e.message)
  end
  plan.policies = results
  return results, denied, denials,
         { errors = errors, overrides = recorded, unmatched = unmatched, policies = policies }
end

-- Counts: passed, warnings (advisory failures), overridden, denials.
function M.summary(results)
  local s = { passed = 0, warnings = 0, overridden = 0, denied = 0 }
  for _, r in ipairs(results) do
    if r.passed then s.passed = s.passed + 1
    elseif r.overridden then s.overridden = s.overridden + 1
    elseif r.level == "advisory" then s.warnings = s.warnings + 1
    else s.denied = s.denied + 1 end
  end
  return s
end

local function where_of(r)
  if not r.rollout then return "" end
  return r.rollout .. (r.wave and ("/" .. r.wave) or "")
end

-- The failed results as text lines for the plan's text output ("!" warn, "x" deny, "~" overridden).
function M.lines(results)
  local lines = {}
  for _, r in ipairs(results) do
    if not r.passed then
      local mark = r.overridden and "~" or (r.level == "advisory" and "!" or "x")
      local line = string.format("%s %s.%s (%s) %s: %s", mark, r.policy, r.rule, r.level, where_of(r),
        r.message or "failed")
      if r.overridden then line = line .. string.format(" [overridden: %s]", r.reason) end
      lines[#lines + 1] = line
    end
  end
  return lines
end

local function md_escape(s) return (tostring(s or ""):gsub("|", "\\|"):gsub("\n", " ")) end

-- A markdown section for the plan's markdown output: one row per failed result, overrides with
-- their reasons, and a count of what passed.
function M.markdown(results)
  local s = M.summary(results)
  local out = { "## Policies", "",
    string.format("%d passed, %d warnings, %d overridden, %d denying", s.passed, s.warnings, s.overridden, s.denied), "" }
  local rows = {}
  for _, r in ipairs(results) do
    if not r.passed then
      local verdict = r.overridden and ("overridden: " .. md_escape(r.reason))
        or (r.level == "advisory" and "warning" or "**denied**")
      rows[#rows + 1] = string.format("| `%s.%s` | %s | %s | %s | %s |", r.policy, r.rule, r.level,
        md_escape(where_of(r)), md_escape(r.message), verdict)
    end
  end
  if #rows > 0 then
    out[#out + 1] = "| rule | level | where | finding | verdict |"
    out[#out + 1] = "|---|---|---|---|---|"
    for _, row in ipairs(rows) do out[#out + 1] = row end
    out[#out + 1] = ""
  end
  return table.concat(out, "\n")
end

return M
