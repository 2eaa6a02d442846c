-- The planner: normalised rollouts (from otarun.core.validate) -> the plan table
-- (docs/architecture.md, "The plan table"), which policies read and the renderers print. Timeline and
-- statuses: otarun.plan.timeline; exact API calls: otarun.plan.calls.
local timeline = require("otarun.plan.timeline")
local util = require("otarun.util")

local M = {}

M.FORMAT_VERSION = "1.0"

local ACTIONS = { "create", "update", "replace", "cancel", "wait" }

local function firmware_copy(fw)
  local out = {}
  for k, v in pairs(fw or {}) do out[k] = v end
  return out
end

-- Counts of wave actions and of diagnostics by severity.
function M.summarize(rollouts, diagnostics)
  local s = { errors = 0, warnings = 0 }
  for _, a in ipairs(ACTIONS) do s[a] = 0 end
  for _, r in ipairs(rollouts) do
    for _, w in ipairs(r.waves) do
      if s[w.action] then s[w.action] = s[w.action] + 1 end
    end
  end
  for _, d in ipairs(diagnostics or {}) do
    if d.severity == "error" then s.errors = s.errors + 1 else s.warnings = s.warnings + 1 end
  end
  return s
end

-- Policies judge the waves of the scripts: entries for waves removed from a script (their jobs
-- are cancelled) are set aside while they run, then put back. -> restore function
function M.without_removed(plan)
  local kept = {}
  for i, r in ipairs(plan.rollouts) do
    local all, rest = r.waves, {}
    for _, w in ipairs(all) do
      if not w.removed then rest[#rest + 1] = w end
    end
    if #rest ~= #all then
      kept[i] = all
      r.waves = rest
    end
  end
  return function()
    for i, all in pairs(kept) do plan.rollouts[i].waves = all end
  end
end

-- True when applying the plan would change the platform.
function M.has_changes(plan)
  local s = plan.summary
  return s.create + s.update + s.replace + s.cancel > 0
end

-- build(rollouts, ctx) -> plan
-- ctx: now (epoch, required), offset (seconds east of UTC for displayed times; default 0),
--      mode ("offline" default), state_fingerprint, diagnostics (list),
--      observed(rollout, wave) -> { status, job_id, started_at, passed_at, reason } | nil,
--      approval(rollout, wave) -> { who, at, why } | nil: a recorded approval (default: the newest
--      in the diff's state store),
--      diff: an otarun.plan.diff object (live and state modes): its observed() is used when
--      ctx.observed is not given, and its finish(rollout, entries) turns the timeline's entries
--      into update / replace / cancel actions against what exists
function M.build(rollouts, ctx)
  assert(type(ctx) == "table" and type(ctx.now) == "number", "plan.build needs ctx.now (epoch)")
  local now = math.floor(ctx.now)
  local d = ctx.diff
  local observed = ctx.observed or (d and function(r, w) return d:observed(r, w) end)
  -- the newest recorded approval of a wave, from the store the diff reads (live and state modes)
  local approval = ctx.approval or (d and d.state and function(r, w)
    local list = d.state:approvals(r.name, w.name) or {}
    return list[#list]
  end)
  local tctx = { now = now, offset = ctx.offset or 0, observed = observed, approval = approval }
  local out = {}
  for i, r in ipairs(rollouts) do
    local waves = timeline.rollout_waves(tctx, r)
    if d then waves = d:finish(r, waves) end
    out[i] = { name = r.name, product = r.product, region = r.region, instance = r.instance,
               file = r.file, line = r.line, firmware = firmware_copy(r.firmware), waves = waves }
  end
  local diagnostics = ctx.diagnostics or {}
  return {
    format_version = M.FORMAT_VERSION,
    generated_at = util.format_time(now, tctx.offset),
    now = now,
    offset = tctx.offset,
    mode = ctx.mode or "offline",
    state_fingerprint = ctx.state_fingerprint,
    rollouts = out,
    diagnostics = diagnostics,
    policies = ctx.policies or {},
    summary = M.summarize(out, diagnostics),
  }
end

return M
