-- Custom policy rules: `check = function(plan, report)` run in the sandbox under the policy's own
-- memory and instruction budgets. The check sees a read-only view of the plan (scoped to the
-- rollouts its policy applies to, functions and host values left out) and records findings with
-- report:fail(rule, message, where) / report:pass(rule, message, where). An error or a blown
-- budget becomes a failed result "POLICY.check" with the error: it never stops the plan.
local loader = require("otarun.policy.loader")
local sandbox = require("otarun.lang.sandbox")

local M = {}

M.MAX_REPORTS = 10000

local function plain(v)
  local t = type(v)
  return t == "string" or t == "number" or t == "boolean"
end

-- A view factory: wrap(t) gives a read-only proxy of t, made lazily and shared by every check of
-- one evaluation, so the cost follows what the checks read rather than the size of the plan.
-- All proxies share one metatable and find their table through a weak map.
function M.view_factory()
  local cache = setmetatable({}, { __mode = "k" })  -- table -> proxy
  local target = setmetatable({}, { __mode = "k" }) -- proxy -> table
  local wrap
  local function value(v)
    local ty = type(v)
    if ty == "table" then return cache[v] or wrap(v) end
    if ty == "string" or ty == "number" or ty == "boolean" then return v end
    return nil
  end
  local mt = {
    __index = function(p, k) return value(rawget(target[p], k)) end,
    __newindex = function() error("the plan is read-only in a policy check", 2) end,
    __len = function(p) return rawlen(target[p]) end,
    __pairs = function(p)
      local t = target[p]
      return function(_, k)
        local nk, nv = next(t, k)
        while nk ~= nil and not (plain(nv) or type(nv) == "table") do nk, nv = next(t, nk) end
        return nk, value(nv)
      end, p, nil
    end,
    __metatable = false,
  }
  wrap = function(t)
    local p = cache[t]
    if p then return p end
    p = setmetatable({}, mt)
    cache[t], target[p] = p, t
    loader.readonly[p] = true
    return p
  end
  return wrap
end

-- The plan as one policy sees it: its top-level fields, with only the rollouts in scope.
function M.scoped_plan(plan, indexes)
  local scoped = {}
  for k, v in pairs(plan) do
    if k ~= "rollouts" and k ~= "policies" then scoped[k] = v end
  end
  local rollouts = {}
  for i, idx in ipairs(indexes) do rollouts[i] = plan.rollouts[idx] end
  scoped.rollouts = rollouts
  return scoped
end

local function name_of(v, what)
  if v == nil then return nil end
  if type(v) == "string" then return v end
  if type(v) == "table" and type(v.name) == "string" then return v.name end
  error(string.format("report: %s must be a name or a %s from the plan", what, what), 3)
end

local function new_report(policy, out)
  local report = {}
  local function add(passed, rule, message, where)
    if type(rule) ~= "string" or not rule:match("^[%w_-]+$") then
      error("report: the rule name must be letters, digits, '_' or '-', like \"firmware-signed\"", 3)
    end
    if message ~= nil and type(message) ~= "string" then error("report: the message must be a string", 3) end
    if where ~= nil and type(where) ~= "table" then error("report: where must be { rollout =, wave = }", 3) end
    if #out >= M.MAX_REPORTS then error("report: more than " .. M.MAX_REPORTS .. " results", 3) end
    where = where or {}
    out[#out + 1] = { policy = policy.name, rule = rule, level = policy.level, passed = passed,
                      message = message, rollout = name_of(where.rollout, "rollout"),
                      wave = name_of(where.wave, "wave") }
  end
  function report.fail(_, rule, message, where) add(false, rule, message or "failed", where) end
  function report.pass(_, rule, message, where) add(true, rule, message, where) end
  return setmetatable(report, { __newindex = function() error("report is read-only", 2) end,
                                __metatable = false })
end

-- Runs policy.check against the view of the scoped plan; returns its results.
function M.run(policy, view)
  local out = {}
  local report = new_report(policy, out)
  local ok, msg, _, kind = sandbox.run(policy.check, policy.limits, view, report)
  if not ok then
    local what = kind == "error" and "failed" or "was stopped"
    out[#out + 1] = { policy = policy.name, rule = "check", level = policy.level, passed = false,
                      message = string.format("custom check (%s:%d) %s: %s", policy.file, policy.line,
                                              what, tostring(msg)) }
  elseif #out == 0 then
    out[1] = { policy = policy.name, rule = "check", level = policy.level, passed = true }
  end
  return out
end

return M
