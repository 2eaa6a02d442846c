-- otarun run FILE...: drives staged rollouts until every one is done or halted, one
-- scheduler tick at a time (otarun.run.scheduler), sleeping until the next thing can happen but never
-- longer than --interval. Everything is in the state store, so a killed run continues where it
-- stopped; SIGINT/SIGTERM end it cleanly after the current tick; the rollouts' locks are held only
-- during a tick, so approve, abort, resume and status work meanwhile. --once: one tick (cron).
-- Notifications (otarun.notify, docs/notifications.md) are delivered as each rollout's part of a
-- tick ends; metrics (otarun.notify.metrics, docs/metrics.md) go to --metrics-file after each
-- tick and to --metrics-listen, served while the loop sleeps.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local util = require("otarun.util")

local M = {}

M.OPTIONS = { ["--once"] = "bool", ["--interval"] = "string", ["--rollout"] = "string",
              ["--lock-timeout"] = "int", ["--notify"] = "list", ["--metrics-file"] = "string",
              ["--metrics-listen"] = "string", ["--auto-confirm"] = "bool" }

M.HELP = [[
usage: otarun run FILE... [OPTIONS]

Drives the rollouts wave by wave: each tick reads the gates of running waves (a pass lets the
next wave start; a trip halts the rollout and cancels the wave's dynamic strategy, and with
on_fail = "abort" its pending tasks), starts the waves that are due (time, after, delay, window,
approval), cancelling the dynamic strategy each one supersedes, and records every decision in
the state store. Each tick plans against the platform as `otarun plan` does: a running job
changed outside otarun is logged as drift and updated back (so is a rate or tag edited in the
script); a job cancelled outside otarun, or a change that needs -/+ replace, halts the rollout
with the reason. Then it sleeps until the next thing can happen, at most --interval.

options:
  --once                  one tick, then exit (for cron, a CI schedule or a Kubernetes CronJob)
  --interval DURATION     longest sleep between ticks, i.e. how often gates are read (60s)
  --rollout NAME          drive only this rollout
  --auto-confirm          confirm the devices that wait for confirmation in waves with
                          confirm = true, while the wave's window is open (docs/commands-ota.md)
  --lock-timeout SECONDS  accepted and unused: run never waits, a rollout another otarun
                          holds is skipped this tick (docs/state.md, "Locks")
  --notify URL            also send every rollout's events to URL as (unsigned) JSON (repeatable;
                          https://, or http:// to loopback; see docs/notifications.md)
  --metrics-file PATH     write Prometheus metrics to PATH after each tick (atomically)
  --metrics-listen HOST:PORT  serve them on http://HOST:PORT/metrics (loopback only)
  --state PATH            the state store (.otarun/state.db; also OTARUN_STATE)
  --endpoint URL, --region R, --profile P   where and as whom to call the platform
  --now TIME              with --once: evaluate as if it were TIME (RFC 3339)
  --format text|json      log lines as text or JSON lines
  -v, --verbose           also log every API call attempt

exit (for a scheduler's wrapper: docs/run.md):
  0   healthy: with --once, the tick read and did everything it had to (waiting for a soak, a
      window or an approval is healthy); without --once, every rollout is done
  1   could not run: the platform or the state store could not be read, a call failed, the key
      was refused; the lines on stderr say what failed and what was left untouched
  6   halted: a rollout is halted (a gate tripped, an abort, drift that needs a human); the
      summary names it and `otarun status` the command that moves it on
  3   invalid script, 64 usage error
]]

-- Prints one event: text lines, or JSON lines with --format json. Gate readings only when the
-- verdict or the counts changed since the last one printed.
local function printer(format, offset, metrics)
  local json = require("otarun.json")
  local last = {}
  return function(ev)
    if metrics then metrics:event(ev) end
    if ev.kind == "gate" then
      local key = ev.rollout .. "/" .. ev.wave
      local sig = string.format("%s %s %s %s", ev.verdict, ev.counts.succeeded, ev.counts.failed, ev.counts.pending)
      if last[key] == sig then return end
      last[key] = sig
    end
    local at = util.format_time(ev.t, offset)
    if format == "json" then
      io.stdout:write(json.line(json.object{ format_version = "1.0", at = at, kind = ev.kind, rollout = ev.rollout, wave = ev.wave,
        job_id = ev.job_id, verdict = ev.verdict, counts = ev.counts, text = ev.text }))
    else
      io.stdout:write(string.format("%s %s%s %s: %s\n", at, ev.rollout or "", ev.wave and ("/" .. ev.wave) or "",
        ev.kind, ev.text))
    end
    io.stdout:flush()
  end
end

local function summary(report, format)
  if format == "json" then return end
  for _, r in ipairs(report.rollouts) do
    local head = r.halted and ("HALTED: " .. tostring(r.halt_reason)) or (r.done and "done" or "in progress")
    io.stdout:write(string.format("%s: %s\n", r.name, head))
    for _, w in ipairs(r.waves) do
      io.stdout:write(string.format("  %-12s %-10s %s\n", w.name, w.status, w.reason or ""))
    end
  end
end

-- The last line of `run --once --format json` (docs/run.md, docs/schema/run-summary.schema.json):
-- the exit code and every rollout's waves as this tick left them, so a wrapper gets a document even
-- when nothing happened. report: the tick's (nil when the tick could not run); errors: its error
-- events, or { { text = why } }.
local SUMMARY = { "format_version", "kind", "at", "exit", "rollouts", "errors" }
local ROLLOUT = { "name", "halted", "halt_reason", "done", "waves" }
local WAVE = { "name", "status", "action", "reason", "waiting_for", "job_id", "earliest_start" }
local ERROR = { "rollout", "wave", "text" }

function M.summary_line(report, exit, at, offset)
  local json, rj = require("otarun.json"), require("otarun.render.json")
  local null = json.null
  local O = function(keys, t) return setmetatable(t, json.ordered(keys)) end
  local rollouts, errors = json.array({}), json.array({})
  for i, r in ipairs(report and report.rollouts or {}) do
    local waves = json.array({})
    for j, w in ipairs(r.waves or {}) do
      waves[j] = O(WAVE, { name = w.name, status = w.status, action = w.action, reason = w.reason or null,
        waiting_for = rj.conditions(rj.waits(w), offset), job_id = w.job_id or null,
        earliest_start = w.earliest_start and util.format_time(w.earliest_start, offset) or null })
    end
    rollouts[i] = O(ROLLOUT, { name = r.name, halted = r.halted == true, halt_reason = r.halt_reason or null,
      done = r.done == true, waves = waves })
  end
  for i, ev in ipairs(report and report.errors or {}) do
    errors[i] = O(ERROR, { rollout = ev.rollout or null, wave = ev.wave or null, text = tostring(ev.text) })
  end
  return json.line(O(SUMMARY, { format_version = "1.0", kind = "summary", at = util.format_time(at, offset),
    exit = exit, rollouts = rollouts, errors = errors }))
end

-- Sleeps until `t` (wall clock) in short steps, so a signal ends the wait; a metrics server
-- answers meanwhile. -> signal name | nil
local function sleep_until(t, server, handler)
  local sys = require("otarun.core.sys")
  while true do
    local sig = sys.signalled()
    if sig then return sig end
    local left = t - sys.now()
    if left <= 0 then return nil end
    if server then server:poll(math.floor(math.min(left, 0.2) * 1000), handler)
    else sys.sleep(math.min(left, 0.2)) end
  end
end

-- The notifier and the metrics of this run, from --notify, --metrics-file and --metrics-listen.
local function observers(opts, log)
  local notify = require("otarun.notify")
  for _, url in ipairs(opts.notify or {}) do
    local ok, why = require("otarun.core.http").check_url(url)
    if not ok then
      local f = require("otarun.notify.formats")
      failure.raise("usage", "--notify %s: %s", f.redact(url), f.scrub(why, f.url_secrets(url)))
    end
  end
  local warn = function(line) io.stderr:write("otarun run: ", line, "\n") end
  local notifier = notify.new{ extra = opts.notify, log = function(line)
    if log or not line:find("^notify: delivered") then warn(line) end
  end }
  local metrics, server
  if opts.metrics_file or opts.metrics_listen then metrics = require("otarun.notify.metrics").new() end
  if opts.metrics_listen then
    local err
    server, err = require("otarun.notify.metrics").listen(opts.metrics_listen)
    if not server then failure.raise("usage", "%s", err) end
    local host = opts.metrics_listen:match("^%[?([%w%.:]-)%]?:%d+$")
    io.stderr:write(string.format("otarun run: metrics on http://%s:%d/metrics\n",
      host:find(":", 1, true) and ("[" .. host .. "]") or host, server:port()))
  end
  return notifier, metrics, server
end

function M.main(argv)
  local opts, files = command.parse(argv, M, "some")
  local format = command.line_format(opts)
  if opts.now and not opts.once then failure.raise("usage", "--now only makes sense with --once") end
  local interval = opts.interval and command.seconds(opts.interval, "--interval") or 60
  if interval < 1 then failure.raise("usage", "--interval must be at least 1s") end
  local sys = require("otarun.core.sys")
  local ctx, rollouts = command.load_selected(files, opts)
  local fixed_now = opts.now and ctx.now
  local now = function() return fixed_now or sys.now() end
  local log
  if opts.verbose then log = function(line) io.stderr:write("otarun run: ", line, "\n") end end
  local client = command.client(opts, rollouts[1].region, log)
  local notifier, metrics, server = observers(opts, log)
  local st = command.open_state(opts, "run", nil, now)
  local last_good = rollouts
  local function load()
    if opts.once then return last_good end
    -- the scripts are read again every tick, so an edit (a fixed gate, a new wave) takes effect;
    -- a script that no longer validates leaves the last good one in charge
    local ok, _, rs = pcall(command.load, files, opts)
    if ok then
      if opts.rollout then rs = { command.pick_rollout(rs, opts.rollout) } end
      last_good = rs
    else
      io.stderr:write("otarun run: the scripts no longer validate (", tostring(_), "); keeping the last valid version\n")
    end
    return last_good
  end
  local sched = require("otarun.run.scheduler").new{ state = st, client = client, load = load, now = now,
    interval = interval, on_event = printer(format, ctx.offset, metrics), offset = ctx.offset,
    lock_timeout = command.lock_timeout(opts), notifier = notifier, auto_confirm = opts.auto_confirm,
    spread = true, skip_ticked = fixed_now == nil }
  sys.catch_signals(true)
  local report, code
  while true do
    local t0 = sys.monotonic()
    local rep, err = sched:tick()
    if metrics then
      metrics:tick{ report = rep, seconds = sys.monotonic() - t0, finished_at = sys.now(), client_stats = client.stats,
        notifications = notifier:totals(st), state = st }
      if opts.metrics_file then
        local ok, werr = metrics:write(opts.metrics_file)
        if not ok then io.stderr:write("otarun run: --metrics-file: ", tostring(werr), "\n") end
      end
    end
    if not rep then
      sys.catch_signals(false)
      if opts.once and format == "json" then
        io.stdout:write(M.summary_line({ errors = { { text = err } } }, failure.CODES.error, math.floor(now()), ctx.offset))
      end
      failure.raise("error", "%s", err)
    end
    report = rep
    if report.finished or opts.once then break end
    local sig = sys.signalled() or sleep_until(report.next_at, server, metrics and metrics:handler())
    if sig then
      io.stderr:write(string.format("otarun run: stopping on %s; the state store has everything, run again to continue\n", sig))
      code = 0
      break
    end
  end
  sys.catch_signals(false)
  notifier:close()
  if server then server:close() end
  st:close()
  summary(report, format)
  if code then return code end
  local exit
  if opts.once and #report.errors > 0 then
    io.stderr:write(M.failure_text(report))
    exit = failure.CODES.error
  else
    exit = command.halted_exit(report.rollouts)
  end
  if opts.once and format == "json" then io.stdout:write(M.summary_line(report, exit, report.at, ctx.offset)) end
  return exit
end

-- What a tick could not do, and what it therefore left alone, for stderr.
function M.failure_text(report)
  local out = { string.format("otarun run: this tick could not read or act (%d error%s):", #report.errors,
    #report.errors == 1 and "" or "s") }
  for _, ev in ipairs(report.errors) do
    local where = ev.rollout and (ev.rollout .. (ev.wave and ("/" .. ev.wave) or "") .. ": ") or ""
    out[#out + 1] = "  " .. where .. tostring(ev.text)
  end
  local untouched = {}
  for _, r in ipairs(report.rollouts) do
    if r.unread then untouched[#untouched + 1] = r.name end
  end
  if #untouched > 0 then
    out[#out + 1] = "left untouched (nothing started, changed or judged): " .. table.concat(untouched, ", ")
  end
  out[#out + 1] = "every decision made is in the state store; run again once the cause is fixed"
  return table.concat(out, "\n") .. "\n"
end

return M
