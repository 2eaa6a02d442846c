-- When each wave of a rollout can start: its status (waiting / ready, or what the state
-- store observed), the reasons it waits, and a lower bound of its start: the predecessor's earliest
-- start + the predecessor's gate soak + this wave's delay, at least `start`, moved to the next
-- opening of its window. One pass in wave order, so the cost grows linearly with the waves.
local util = require("otarun.util")
local calls = require("otarun.plan.calls")

local M = {}

-- Statuses that mean the wave's job exists or existed: the plan leaves them alone.
local SETTLED = { running = true, passed = true, done = true, superseded = true, failed = true,
                  cancelled = true }
M.SETTLED = SETTLED

local function fmt_time(ctx, epoch)
  return util.format_time(epoch, ctx.offset or 0)
end


-- -> reason, condition (docs/json.md, "Wait conditions")
local function pred_reason(pred)
  if pred.spec.gate then return string.format("waiting for gate of %q", pred.name), { kind = "gate", wave = pred.name } end
  return string.format("waiting for %q to pass", pred.name), { kind = "pass", wave = pred.name }
end

-- Places t inside the wave's window. -> t' (nil when the window never opens), reason|nil, condition|nil
local function apply_window(ctx, wave, t)
  if not wave.window or not t then return t, nil end
  local text = wave.window.text or "?"
  local open = util.next_window_open(wave.window, t)
  if not open then
    return nil, string.format("window %s never opens", text), { kind = "window", window = text, never = true }
  end
  if open > t then
    return open, string.format("window %s opens at %s", text, fmt_time(ctx, open)),
      { kind = "window", window = text, opens_at = open }
  end
  return t, nil
end

-- A settled wave, as the state store saw it.
local function settled_entry(wave, obs)
  return { name = wave.name, spec = wave, status = obs.status, action = "none", job_id = obs.job_id,
           reason = obs.reason or ("job " .. tostring(obs.job_id or "?") .. " is " .. obs.status),
           earliest_start = obs.started_at, started_at = obs.started_at, passed_at = obs.passed_at }
end

-- A static wave that can be created now (or up to 7 days ahead) with ScheduleTime = start.
-- -> "ready" | "far" | nil
local function schedulable(ctx, wave, blocked)
  if wave.kind ~= "static" or not wave.start or blocked or wave.approve then return nil end
  local ahead = wave.start - ctx.now
  if ahead < calls.SCHEDULE_MIN then return nil end
  if wave.window and util.next_window_open(wave.window, wave.start) ~= wave.start then return nil end
  return ahead <= calls.SCHEDULE_MAX and "ready" or "far"
end

-- One waiting-or-ready wave. entries: name -> entry of the earlier waves of the rollout. Each
-- reason (prose) has its typed condition in `conds`, in the same order (docs/json.md).
local function open_entry(ctx, rollout, wave, entries)
  local now, reasons, conds = ctx.now, {}, {}
  local pred = wave.after and entries[wave.after]
  local base, blocked = now, false
  if wave.after and not pred then
    blocked, base = true, nil
    reasons[#reasons + 1] = string.format("waiting for %q, which is not a wave of this rollout", wave.after)
    conds[#conds + 1] = { kind = "missing_wave", wave = wave.after }
  elseif pred then
    if pred.passed_at then
      base = pred.passed_at + (wave.delay or 0)
    else
      blocked = true
      reasons[#reasons + 1], conds[#conds + 1] = pred_reason(pred)
      local soak = pred.spec.gate and pred.spec.gate.soak or 0
      base = pred.earliest_start and (pred.earliest_start + soak + (wave.delay or 0))
    end
    if wave.delay and (blocked or base > now) then
      reasons[#reasons + 1] = string.format("delay %s after %q", util.format_duration(wave.delay), pred.name)
      conds[#conds + 1] = { kind = "delay", after = pred.name, seconds = wave.delay }
    end
  end
  local t = base and math.max(base, now)
  if wave.start and wave.start > now and (not t or wave.start >= t) then
    -- only when the start is what binds: a later predecessor makes it moot
    reasons[#reasons + 1] = "start at " .. fmt_time(ctx, wave.start)
    conds[#conds + 1] = { kind = "start", at = wave.start }
    if t then t = wave.start end
  end
  local window_reason, window_cond
  t, window_reason, window_cond = apply_window(ctx, wave, t)
  reasons[#reasons + 1] = window_reason
  conds[#conds + 1] = window_cond
  -- a recorded approval (ctx.approval, from the state store) no longer holds the wave back; it is
  -- shown with who gave it, when and why
  local approval = wave.approve and ctx.approval and ctx.approval(rollout, wave)
  if wave.approve and not approval then
    local command = string.format("otarun approve %s %s", rollout.file or "FILE", wave.name)
    reasons[#reasons + 1] = string.format("approval (%s)", command)
    conds[#conds + 1] = { kind = "approval", command = command }
  end

  local entry = { name = wave.name, spec = wave, earliest_start = t }
  local sched = schedulable(ctx, wave, blocked)
  if sched == "ready" and #reasons == 1 then
    -- only the start holds it back, and the platform can hold it instead
    entry.status, entry.action = "ready", "create"
    entry.reason = "scheduled on the platform for " .. fmt_time(ctx, wave.start) .. " (ScheduleTime)"
    entry.created_at = now
  elseif #reasons == 0 and t == now then
    entry.status, entry.action, entry.reason, entry.created_at = "ready", "create", "due now", now
  else
    entry.status, entry.action = "waiting", "wait"
    if #reasons == 0 then reasons[1], conds[1] = "not yet due", { kind = "due", at = t } end
    entry.waiting_for = conds
    if sched == "far" and #reasons == 1 then
      reasons[1] = reasons[1] .. string.format(" (created with ScheduleTime from %s)",
        fmt_time(ctx, wave.start - calls.SCHEDULE_MAX))
      entry.created_at = wave.start - calls.SCHEDULE_MAX
    else
      entry.created_at = t
    end
    entry.reason = table.concat(reasons, "; ")
  end
  if approval then
    local text = string.format("approved by %s at %s%s", tostring(approval.who), fmt_time(ctx, approval.at),
      approval.why and approval.why ~= "" and (": " .. approval.why) or "")
    entry.approval = { who = approval.who, at = approval.at, why = approval.why }
    entry.reason = entry.reason .. "; " .. text
  end
  entry.reasons = reasons
  return entry
end

-- The calls a wave makes when it starts; prev_dynamic is the entry of the nearest earlier dynamic
-- wave of the same rollout, whose strategy this wave supersedes.
local function wave_calls(rollout, entry, prev_dynamic)
  local wave, list = entry.spec, {}
  if wave.kind == "static" then
    list[1] = calls.static_create(rollout, wave, entry.created_at)
    if list[1].params.DnListFileUrl then
      table.insert(list, 1, calls.device_list_url(rollout, wave))
      entry.reason = entry.reason .. string.format("; its %d devices go out as a device list file "
        .. "(GenerateDeviceNameListURL, an upload, then DnListFileUrl)", #wave.devices)
    end
    -- what a percent wave reaches of the fleet (docs/platform-assumptions.md, "Percentages")
    local reach = require("otarun.plan.reach")
    local words = reach.text(rollout, wave)
    if words then
      entry.reason = entry.reason .. "; " .. words
      local r = reach.of(rollout, wave)
      entry.reach = { gray_percent = r.gray, share = r.share, before = r.before, total = r.total }
    end
    return list
  end
  if prev_dynamic and not (prev_dynamic.status == "superseded" or prev_dynamic.status == "cancelled"
      or prev_dynamic.status == "failed" or prev_dynamic.status == "done") then
    local job = prev_dynamic.job_id
    local note
    if job then
      note = string.format("cancels the dynamic strategy of wave %q (job %s) first", prev_dynamic.name, job)
    else
      job = calls.ref("job", prev_dynamic.name)
      note = string.format("cancels the dynamic strategy of wave %q first (its job id is known once it is created)",
        prev_dynamic.name)
    end
    list[#list + 1] = calls.cancel_strategy(rollout, job)
    entry.reason = entry.reason .. "; " .. note
  end
  list[#list + 1] = calls.dynamic_create(rollout, wave)
  return list
end

-- The planned waves of one rollout. ctx: now, offset, observed(rollout, wave) -> obs | nil
function M.rollout_waves(ctx, rollout)
  local entries, out, prev_dynamic = {}, {}, nil
  for i, wave in ipairs(rollout.waves or {}) do
    local obs = ctx.observed and ctx.observed(rollout, wave)
    local entry
    if obs and SETTLED[obs.status] then
      entry = settled_entry(wave, obs)
      entry.calls = {}
    else
      entry = open_entry(ctx, rollout, wave, entries)
      entry.calls = wave_calls(rollout, entry, prev_dynamic)
    end
    entry.kind = wave.kind
    entry.line = wave.line
    entries[wave.name] = entry
    if wave.kind == "dynamic" then prev_dynamic = entry end
    out[i] = entry
  end
  return out
end

return M
