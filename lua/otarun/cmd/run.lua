-- otarun run FILE...: drives staged rollouts until every one is done or halted (SPEC §1, §3), one
-- scheduler tick at a time (otarun.run.scheduler), sleeping until the next thing can happen but never
-- longer than --interval. Everything is in the state store, so a killed run continues where it
-- stopped; SIGINT/SIGTERM end it cleanly after the current tick; the store's lock is held only
-- during a tick, so approve, abort, resume and status work meanwhile. --once: one tick (cron).
local args = require("otarun.cli.args")
local control = require("otarun.control")
local util = require("otarun.util")

local M = {}

M.OPTIONS = { ["--once"] = "bool", ["--interval"] = "string", ["--rollout"] = "string",
              ["--lock-timeout"] = "int" }

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
  --lock-timeout SECONDS  how long to wait for another otarun holding the state store (30)
  --state PATH            the state store (.otarun/state.db; also OTARUN_STATE)
  --endpoint URL, --region R, --profile P   where and as whom to call the platform
  --now TIME              with --once: evaluate as if it were TIME (RFC 3339)
  --format text|json      log lines as text or JSON lines
  -v, --verbose           also log every API call attempt

exit: 0 every rollout done (with --once: the tick completed and nothing is halted),
      1 error or a rollout halted, 3 invalid script, 64 usage error
]]

-- Prints one event: text lines, or JSON lines with --format json. Gate readings only when the
-- verdict or the counts changed since the last one printed.
local function printer(format, offset)
  local cjson = require("cjson")
  local last = {}
  return function(ev)
    if ev.kind == "gate" then
      local key = ev.rollout .. "/" .. ev.wave
      local sig = ev.verdict .. cjson.encode({ ev.counts.succeeded, ev.counts.failed, ev.counts.pending })
      if last[key] == sig then return end
      last[key] = sig
    end
    local at = util.format_time(ev.t, offset)
    if format == "json" then
      io.stdout:write(cjson.encode({ format_version = "1.0", at = at, kind = ev.kind, rollout = ev.rollout, wave = ev.wave,
        job_id = ev.job_id, verdict = ev.verdict, counts = ev.counts, text = ev.text }), "\n")
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

-- Sleeps until `t` (wall clock) in short steps, so a signal ends the wait. -> signal name | nil
local function sleep_until(t)
  local sys = require("otarun.core.sys")
  while true do
    local sig = sys.signalled()
    if sig then return sig end
    local left = t - sys.now()
    if left <= 0 then return nil end
    sys.sleep(math.min(left, 0.2))
  end
end

local function run(argv)
  local opts, files = control.parse(argv, M)
  if not opts then return 0 end
  if #files == 0 then args.usage_error("run needs at least one FILE") end
  local format = control.line_format(opts)
  if opts.now and not opts.once then args.usage_error("--now only makes sense with --once") end
  local interval = opts.interval and control.seconds(opts.interval, "--interval") or 60
  if interval < 1 then args.usage_error("--interval must be at least 1s") end
  local sys = require("otarun.core.sys")
  local ctx, rollouts = control.load_selected(files, opts, "run")
  local fixed_now = opts.now and ctx.now
  local now = function() return fixed_now or sys.now() end
  local log
  if opts.verbose then log = function(line) io.stderr:write("otarun run: ", line, "\n") end end
  local client = control.client(opts, rollouts[1].region, log)
  local st = control.open_state(opts, "run", nil, now)
  local last_good = rollouts
  local function load()
    if opts.once then return last_good end
    -- the scripts are read again every tick, so an edit (a fixed gate, a new wave) takes effect;
    -- a script that no longer validates leaves the last good one in charge
    local ok, _, rs = pcall(control.load, files, opts, "run")
    if ok then
      if opts.rollout then rs = { control.pick_rollout(rs, opts.rollout) } end
      last_good = rs
    else
      io.stderr:write("otarun run: the scripts no longer validate (", tostring(_), "); keeping the last valid version\n")
    end
    return last_good
  end
  local sched = require("otarun.run.scheduler").new{ state = st, client = client, load = load, now = now,
    interval = interval, on_event = printer(format, ctx.offset), offset = ctx.offset,
    lock_timeout = opts.lock_timeout or 30 }
  sys.catch_signals(true)
  local report, code
  while true do
    local rep, err = sched:tick()
    if not rep then
      sys.catch_signals(false)
      control.fail(1, "%s", err)
    end
    report = rep
    if report.finished or opts.once then break end
    local sig = sys.signalled() or sleep_until(report.next_at)
    if sig then
      io.stderr:write(string.format("otarun run: stopping on %s; the state store has everything, run again to continue\n", sig))
      code = 0
      break
    end
  end
  sys.catch_signals(false)
  st:close()
  summary(report, format)
  if code then return code end
  return control.halted_exit(report.rollouts)
end

function M.main(argv)
  return control.guard("run", run, argv)
end

return M
