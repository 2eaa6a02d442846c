-- A rehearsal: the whole rollout driven by the same scheduler as `otarun run`, against an
-- in-process emulator on a manual clock (days pass in seconds), through the real client over
-- otarun.platform.transport_local and a throw-away state store (SQLite in memory). It collects the
-- timeline (wave starts, gate readings, halts), samples devices upgraded per wave, lists the
-- notifications the rollouts' `notify` targets would get (recorded, never sent: otarun.notify), and
-- renders it as text, JSON or SVG.
-- Uses otarun.emulator, otarun.run.scheduler, otarun.platform.transport_local, otarun.state, otarun.render.svg.
local emulator = require("otarun.emulator")
local scheduler = require("otarun.run.scheduler")
local tl = require("otarun.platform.transport_local")
local util = require("otarun.util")
local gate = require("otarun.run.gate")

local M = {}

M.DEFAULT_DAYS = 14
M.DEFAULT_INTERVAL = 600 -- simulated seconds between gate readings
M.MAX_POINTS = 300       -- samples kept for the picture

-- The seed a fleet's devices use in run `seed` (--seed, --runs; docs/rehearse.md): derived from
-- the fleet's own seed (the emulator's default 7 when it has none) and the run's, so each run draws
-- other devices online, other durations and other failures, and any run can be replayed.
function M.fleet_seed(own, seed)
  return require("otarun.emulator.ids").mix((own or 7) * 1000003 + seed) & 0x3fffffffffffff
end

-- Builds the emulator: the fleets of the fleet file (or `fleets`, already loaded from it), their
-- seeds varied by `seed` (nil: as declared), failure odds overridden by `set` ({ [version] = odds }),
-- and the scripts' firmware created (verified) from their facts.
function M.emulator(rollouts, fleet_path, set, start, region, seed, fleets)
  local emu = emulator.new{ clock = "manual", now = start, region = region or "cn-shanghai" }
  local err
  if not fleets then
    fleets, err = emulator.load_fleet_file(fleet_path)
    if not fleets then return nil, err end
  end
  for _, f in ipairs(fleets) do
    if seed then
      local g = {}
      for k, v in pairs(f) do g[k] = v end
      g.seed = M.fleet_seed(f.seed, seed)
      f = g
    end
    local ok, ferr = emu:load_fleet(f)
    if not ok then return nil, fleet_path .. ": " .. ferr end
  end
  for _, p in ipairs(emu.store.product_list) do
    for v, odds in pairs(set or {}) do p.failure[v] = odds end
  end
  for _, r in ipairs(rollouts) do
    local fw = r.firmware or {}
    if not emu.store.firmware[fw.id] then
      local p = emu.store:product(r.product)
      if not p then
        return nil, string.format("the fleet %s has no product %s, which rollout %q upgrades", fleet_path,
          tostring(r.product), r.name)
      end
      if not fw.version then
        return nil, string.format("rollout %q names firmware %s without its version; write firmware { id =, version = } so the rehearsal can create it",
          r.name, tostring(fw.id))
      end
      emu:add_firmware_record(p, { id = fw.id, version = fw.version, verified = true,
        type = fw.type == "diff" and 1 or 0, src_version = fw.src_version, size = fw.size, files = fw.files })
    end
  end
  return emu
end

-- Devices upgraded per wave, failed devices, from the emulator's own view (not API calls: the
-- rehearsal's call counts stay what `otarun run` would make).
local function sample(emu, wave_of_job, names)
  local per, failed = {}, 0
  for _, n in ipairs(names) do per[n] = 0 end
  local pending = 0
  for _, j in ipairs(emu:jobs()) do
    local key = wave_of_job[j.JobId]
    if key then per[key] = (per[key] or 0) + (j.Tasks.SUCCEEDED or 0) end
    failed = failed + (j.Tasks.FAILED or 0)
    pending = pending + (j.Tasks.CONFIRM or 0) + (j.Tasks.QUEUED or 0) + (j.Tasks.NOTIFIED or 0) + (j.Tasks.IN_PROGRESS or 0)
  end
  return per, failed, pending
end

-- run{ rollouts, fleet = path, set = { version = odds }, start = epoch, stop = epoch,
--      interval =, approve = "all"|"none"|{ wave names }, offset =, region =, on_event = fn(ev),
--      seed = run seed (nil: the fleet's own), fleets = the fleet file already loaded,
--      decided = true: stop as soon as every rollout completed or halted (no picture samples),
--      full_ticks = true: every tick a full one (no quiet ticks; the same result, slower),
--      before = the fleet checks of an earlier run over the same fleet (result.before) }
-- -> result | nil, message
-- result = { start, stop, ended, events, times, series = { name -> values }, names, failed, calls,
--            calls_by_action, wall, devices, report (last tick), seed, quiet_ticks (how many), before,
--            outcomes = { { rollout, outcome = "halted"|"completed"|"running", wave (halted at),
--                           failed (devices failed in the rollout's jobs at the halt, or at the end),
--                           seconds (from the start to the halt or to the last gate passed) } } }
function M.run(o)
  local sys = require("otarun.core.sys")
  local wall0 = sys.monotonic()
  local emu, err = M.emulator(o.rollouts, o.fleet, o.set, o.start, o.region, o.seed, o.fleets)
  if not emu then return nil, err end
  local now = function() return emu:now() end
  local st, serr = require("otarun.state").open{ state = ":memory:", command = "rehearse", now = now,
    who = "rehearsal@otarun", scratch = true }
  if not st then return nil, serr end
  local checks = require("otarun.run.rehearsal_checks")
  -- what the fleet's devices cannot serve does not depend on the run's seed: --runs checks once
  local before = o.before or checks.before(o.rollouts, emu)
  local problems = table.move(before, 1, #before, 1, {})
  local ok, res = pcall(M.drive, o, emu, st, now)
  st:close()
  if not ok then error(res, 0) end
  res.wall = sys.monotonic() - wall0
  res.seed, res.before = o.seed, before
  for _, line in ipairs(checks.after(res.report, util.format_time(res.ended, o.offset or 0))) do
    problems[#problems + 1] = line
  end
  res.problems = problems
  return res
end

-- Devices failed in the jobs of each rollout (emulator's view). -> { [rollout] = n }
local function failed_by_rollout(emu, rollout_of_job)
  local out = {}
  for _, j in ipairs(emu:jobs()) do
    local r = rollout_of_job[j.JobId]
    if r then out[r] = (out[r] or 0) + (j.Tasks.FAILED or 0) end
  end
  return out
end

function M.drive(o, emu, st, now)
  local client = tl.client(emu)
  local events, wave_of_job, names, rollout_of_job, halts = {}, {}, {}, {}, {}
  for _, r in ipairs(o.rollouts) do
    assert(st:record_rollout(r))
    for _, w in ipairs(r.waves) do
      local key = #o.rollouts > 1 and (r.name .. "/" .. w.name) or w.name
      names[#names + 1] = key
      if w.approve and (o.approve == nil or o.approve == "all" or (type(o.approve) == "table" and o.approve[w.name])) then
        assert(st:approve(r.name, w.name, "approved in advance for the rehearsal"))
      end
    end
  end
  local function on_event(ev)
    if ev.kind == "start" and ev.job_id then
      wave_of_job[ev.job_id] = #o.rollouts > 1 and (ev.rollout .. "/" .. ev.wave) or ev.wave
      rollout_of_job[ev.job_id] = ev.rollout
    end
    if ev.kind == "halt" and ev.rollout and not halts[ev.rollout] then
      halts[ev.rollout] = { wave = ev.wave, t = ev.t or emu:now(),
        failed = failed_by_rollout(emu, rollout_of_job)[ev.rollout] or 0 }
    end
    events[#events + 1] = ev
    if o.on_event then o.on_event(ev) end
  end
  local notify = require("otarun.notify")
  local sched = scheduler.new{ state = st, client = client, rollouts = o.rollouts, now = now,
    interval = o.interval or M.DEFAULT_INTERVAL, on_event = on_event, offset = o.offset,
    notifier = notify.new{ send = false }, fixed = true }
  local times, series, failed = {}, {}, {}
  for _, n in ipairs(names) do series[n] = {} end
  local report
  local stop = o.stop
  local completed = {}
  local quiet_ticks = 0
  while true do
    local rep, terr
    local tick_at = math.floor(emu:now())
    -- a stretch the last full tick found quiet: only its platform reads (scheduler.quiet_tick);
    -- the last tick, at --until, is always a full one
    if report and report.quiet_until and tick_at < report.quiet_until and tick_at < stop and not o.full_ticks then
      rep, terr = sched:quiet_tick(report)
      quiet_ticks = quiet_ticks + 1
    else
      rep, terr = sched:tick()
    end
    if not rep then error(terr, 0) end
    report = rep
    local t = emu:now()
    for _, r in ipairs(report.rollouts) do
      if r.done and not completed[r.name] then completed[r.name] = t end
    end
    if o.decided then
      if t >= stop or report.finished then break end
    else
      local per, nfailed, pending = sample(emu, wave_of_job, names)
      times[#times + 1] = t
      for _, n in ipairs(names) do table.insert(series[n], per[n] or 0) end
      failed[#failed + 1] = nfailed
      if t >= stop or (report.finished and pending == 0) then break end
    end
    local next_at = math.min(report.next_at, stop)
    if next_at > t then emu:advance(next_at - t) end
  end
  local counters = emu:counters()
  local total = 0
  for _, n in pairs(counters.calls) do total = total + n end
  local outcomes, at_end = {}, failed_by_rollout(emu, rollout_of_job)
  for _, r in ipairs(report.rollouts) do
    local h = halts[r.name]
    if r.halted and h then
      outcomes[#outcomes + 1] = { rollout = r.name, outcome = "halted", wave = h.wave, failed = h.failed,
        seconds = math.floor(h.t - o.start) }
    elseif r.halted then -- halted by what the store already said (not by this run's gates)
      outcomes[#outcomes + 1] = { rollout = r.name, outcome = "halted", failed = at_end[r.name] or 0, seconds = 0 }
    elseif completed[r.name] then
      outcomes[#outcomes + 1] = { rollout = r.name, outcome = "completed", failed = at_end[r.name] or 0,
        seconds = math.floor(completed[r.name] - o.start) }
    else
      outcomes[#outcomes + 1] = { rollout = r.name, outcome = "running", failed = at_end[r.name] or 0,
        seconds = math.floor(emu:now() - o.start) }
    end
  end
  if o.decided and #failed == 0 then failed[1] = 0 end
  return { start = o.start, stop = stop, ended = emu:now(), events = events, times = times, series = series,
    names = names, failed = failed, calls = total, calls_by_action = counters.calls, devices = counters.devices,
    report = report, gate_calls = sched.calls, refresh_calls = sched.refresh_calls, outcomes = outcomes,
    quiet_ticks = quiet_ticks,
    notifications = notify.would_send(st, o.rollouts) }
end

-- ---- rendering ---------------------------------------------------------------------------------

-- "day N HH:MM": calendar days from the start's date, in the display offset.
local function clock(res, t, offset)
  offset = offset or 0
  local d = (t + offset) // 86400 - (res.start + offset) // 86400
  return string.format("day %d %s", d, os.date("!%H:%M", t + (offset or 0)))
end

-- Events worth a line: every decision, and gate readings when the verdict changes (or every 6
-- simulated hours while it stays the same and the counts move).
function M.timeline_events(res)
  local out, last = {}, {}
  for _, ev in ipairs(res.events) do
    if ev.kind == "gate" then
      local key = ev.rollout .. "/" .. ev.wave
      local l = last[key]
      local changed = not l or l.verdict ~= ev.verdict
      local moved = l and (ev.counts.finished ~= l.counts.finished or ev.counts.pending ~= l.counts.pending)
      if changed or (moved and ev.t - l.t >= 6 * 3600) then
        out[#out + 1] = ev
        last[key] = ev
      end
    else
      out[#out + 1] = ev
    end
  end
  return out
end

function M.summary(res)
  local waves = {}
  for _, r in ipairs(res.report.rollouts) do
    for _, pw in ipairs(r.waves) do
      local key = #res.report.rollouts > 1 and (r.name .. "/" .. pw.name) or pw.name
      local s = res.series[key] or {}
      waves[#waves + 1] = { rollout = r.name, wave = pw.name, status = pw.status, job_id = pw.job_id,
        started_at = pw.started_at, passed_at = pw.passed_at, upgraded = s[#s] or 0, reason = pw.reason }
    end
  end
  return waves
end

function M.text(res, o)
  local offset = o.offset or 0
  local lines = {}
  local days = (res.ended - res.start) / 86400
  lines[#lines + 1] = string.format("rehearsal of %s against %s: %d devices, from %s, %.1f simulated days",
    table.concat(o.files or {}, " "), o.fleet, res.devices, util.format_time(res.start, offset), days)
  lines[#lines + 1] = ""
  local timeline = {}
  local function where(ev)
    return ev.wave and (ev.rollout and #res.report.rollouts > 1 and (ev.rollout .. "/" .. ev.wave) or ev.wave) or (ev.rollout or "")
  end
  for _, ev in ipairs(M.timeline_events(res)) do
    local text = ev.text
    if ev.kind == "gate" then text = string.format("gate %s: %s", ev.verdict, gate.counts_text(ev.counts)) end
    timeline[#timeline + 1] = { t = ev.t,
      line = string.format("  %-13s %-10s %-9s %s", clock(res, ev.t, offset), where(ev), ev.kind, text) }
  end
  for _, n in ipairs(res.notifications or {}) do -- after the events of their tick
    local to = {}
    for _, t in ipairs(n.targets) do to[#to + 1] = t.format .. " " .. t.url end
    timeline[#timeline + 1] = { t = n.at, late = true, line = string.format("  %-13s %-10s %-9s would send %s to %s",
      clock(res, n.at, offset), where(n), "notify", n.event, table.concat(to, ", ")) }
  end
  for i, e in ipairs(timeline) do e.i = i end
  table.sort(timeline, function(a, b)
    if a.t ~= b.t then return a.t < b.t end
    if (a.late or false) ~= (b.late or false) then return not a.late end
    return a.i < b.i
  end)
  for _, e in ipairs(timeline) do lines[#lines + 1] = e.line end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "waves:"
  for _, w in ipairs(M.summary(res)) do
    lines[#lines + 1] = string.format("  %-12s %-10s started %-13s passed %-13s %d devices upgraded",
      w.wave, w.status, w.started_at and clock(res, w.started_at, offset) or "-",
      w.passed_at and clock(res, w.passed_at, offset) or "-", w.upgraded)
  end
  for _, r in ipairs(res.report.rollouts) do
    if r.halted then lines[#lines + 1] = string.format("rollout %s HALTED: %s", r.name, tostring(r.halt_reason)) end
  end
  local failed = res.failed[#res.failed] or 0
  lines[#lines + 1] = string.format("devices failed at the end: %d", failed)
  lines[#lines + 1] = string.format("API calls: %d (%.0f per simulated day; %d to read gates, %d to read "
    .. "jobs); wall time %.2f s", res.calls, res.calls / math.max(days, 1 / 24), res.gate_calls,
    res.refresh_calls or 0, res.wall or 0)
  return table.concat(lines, "\n") .. "\n"
end

function M.json(res, o)
  local json = require("otarun.json")
  local evs = json.array{}
  for _, ev in ipairs(M.timeline_events(res)) do
    evs[#evs + 1] = { at = util.format_time(ev.t, o.offset or 0), kind = ev.kind, rollout = ev.rollout,
      wave = ev.wave, job_id = ev.job_id, verdict = ev.verdict, counts = ev.counts, text = ev.text }
  end
  local waves = M.summary(res)
  for _, w in ipairs(waves) do
    w.started_at = w.started_at and util.format_time(w.started_at, o.offset or 0)
    w.passed_at = w.passed_at and util.format_time(w.passed_at, o.offset or 0)
  end
  local halted = json.array{}
  for _, r in ipairs(res.report.rollouts) do if r.halted then halted[#halted + 1] = { rollout = r.name, reason = r.halt_reason } end end
  return json.line({ format_version = "1.0", start = util.format_time(res.start, o.offset or 0), ended = util.format_time(res.ended, o.offset or 0),
    simulated_days = (res.ended - res.start) / 86400, devices = res.devices, events = evs, waves = waves,
    halted = halted, failed = res.failed[#res.failed] or 0, api_calls = res.calls, gate_calls = res.gate_calls,
    refresh_calls = res.refresh_calls,
    calls_by_action = json.object(res.calls_by_action or {}), wall_seconds = res.wall,
    notifications = M.notifications_json(res, o) })
end

-- The notifications the rehearsal would have sent (docs/notifications.md), as JSON values.
function M.notifications_json(res, o)
  local out = require("otarun.json").array({})
  for _, n in ipairs(res.notifications or {}) do
    out[#out + 1] = { at = util.format_time(n.at, o.offset or 0), event = n.event, rollout = n.rollout,
      wave = n.wave, job_id = n.job_id, text = n.text, targets = n.targets, sent = false }
  end
  return out
end

-- Evenly thinned samples (always keeping the last) for the picture.
local function thin(res)
  local n = #res.times
  local step = math.max(1, math.ceil(n / M.MAX_POINTS))
  local idx = {}
  for i = 1, n, step do idx[#idx + 1] = i end
  if idx[#idx] ~= n then idx[#idx + 1] = n end
  return idx
end

function M.svg(res, o)
  local idx = thin(res)
  local times, failed, series = {}, {}, {}
  for _, i in ipairs(idx) do
    times[#times + 1] = res.times[i]
    failed[#failed + 1] = res.failed[i]
  end
  for _, n in ipairs(res.names) do
    local vals = {}
    for _, i in ipairs(idx) do vals[#vals + 1] = res.series[n][i] end
    series[#series + 1] = { name = n, values = vals }
  end
  local marks = {}
  for _, ev in ipairs(res.events) do
    local label
    if ev.kind == "start" then label = ev.wave .. " started"
    elseif ev.kind == "pass" then label = ev.wave .. " passed"
    elseif ev.kind == "fail" then label = ev.wave .. " gate failed"
    elseif ev.kind == "halt" then label = "halted"
    end
    if label then marks[#marks + 1] = { t = ev.t, kind = ev.kind, wave = ev.wave, label = label } end
  end
  local names = {}
  for _, r in ipairs(res.report.rollouts) do names[#names + 1] = r.name end
  return require("otarun.render.svg").timeline{
    title = "rehearsal: " .. table.concat(names, ", "),
    subtitle = string.format("%d devices (%s), %d API calls", res.devices, o.fleet, res.calls),
    t0 = res.start, t1 = math.max(res.ended, res.start + 3600), offset = o.offset or 0,
    times = times, series = series, failed = failed, marks = marks, total = res.devices }
end

return M
