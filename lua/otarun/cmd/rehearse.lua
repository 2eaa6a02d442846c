-- otarun rehearse FILE --fleet FLEET: the whole rollout against a simulated fleet in simulated time,
-- through the same scheduler as `otarun run` (otarun.run.rehearsal). Prints the timeline
-- (text or JSON) and, with --svg, writes the picture. With --runs N, rehearses N times with the
-- fleet's seed varied and reports how often each rollout halts (otarun.run.rehearsal_runs;
-- docs/rehearse.md).
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local util = require("otarun.util")

local M = {}

M.OPTIONS = { ["--fleet"] = "string", ["--set"] = "list", ["--until"] = "string", ["--svg"] = "string",
              ["--interval"] = "string", ["--approve"] = "list", ["--rollout"] = "string", ["--runs"] = "int",
              ["--seed"] = "int", ["--jobs"] = "int" }

M.MAX_RUNS = 10000

M.HELP = [[
usage: otarun rehearse FILE... --fleet FLEET [OPTIONS]

Runs the rollouts against an in-process emulator with a simulated fleet and a simulated clock
(days in seconds), through the same loop as `otarun run`: wave starts, gate readings, halts and
devices upgraded over time, and the notifications the rollouts' `notify` targets would get
(listed, never sent; docs/notifications.md). Nothing is sent to the platform; the state store is
a scratch one.
The firmware the scripts name is created (verified) in the simulation from their firmware facts.

options:
  --fleet FILE                 the simulated fleet (a fleet { ... } file, see otarun emulator)
  --set VERSION=ODDS           the chance an upgrade from VERSION fails, 0..1 (repeatable)
  --until TIME|DURATION        stop at this time, or this long after the start (default 14d)
  --interval DURATION          simulated time between gate readings (default 10m)
  --approve WAVE|all|none      waves approved in advance (default all; repeatable)
  --rollout NAME               rehearse only this rollout
  --svg FILE                   also write the picture of the rehearsal (SVG)
  --runs N                     rehearse N times, the fleet's seed varied (seeds S..S+N-1), each run
                               until every rollout completed or halted; report how often each
                               rollout halts (95% CI), at which wave, after how many failed devices
  --seed S                     the run seed: one reproducible run with other devices online, other
                               durations and failures than the fleet's own seed (default for
                               --runs: 1)
  --jobs J                     with --runs: share the runs among J processes (default 1)
  --format text|json           output format (text)
  --now TIME                   when the simulation starts (default: now, or an hour before the
                               first wave's start when that is later)
  --var NAME=VALUE             set var.NAME for the scripts (repeatable)

exit: 0 every rollout finished within the simulation; 1 an error, or the rehearsal shows a rollout
      that will not finish (halted, a gate that can never pass, a group or version the fleet lacks,
      still running at --until: one line each on stderr; with --runs: in any run), 3 invalid script,
      64 usage error
]]

local function parse_set(list)
  local set = {}
  for _, item in ipairs(list or {}) do
    local v, odds = item:match("^([^=]+)=(.*)$")
    odds = tonumber(odds)
    if not v or not odds or odds < 0 or odds > 1 then
      failure.raise("usage", "--set needs VERSION=ODDS with odds between 0 and 1 (e.g. 2.3.1=0.2), got %q", item)
    end
    set[v] = odds
  end
  return set
end

local function start_of(rollouts, ctx, given)
  if given then return ctx.now end
  local first
  for _, r in ipairs(rollouts) do
    local w = r.waves[1]
    if w and w.start and (not first or w.start < first) then first = w.start end
  end
  if first and first - 3600 > ctx.now then return first - 3600 end
  return ctx.now
end

-- This command line for a child of --jobs: the program and its arguments without --runs, --seed,
-- --jobs and --format, and the start fixed with --now (the children must start where this did).
local STRIPPED = { ["--runs"] = true, ["--seed"] = true, ["--jobs"] = true, ["--format"] = true }
local function child_argv(o)
  local out, i = { arg[0] }, 1
  while arg[i] do
    local a = arg[i]
    local name = a:match("^(%-%-[^=]+)=") or a
    if STRIPPED[name] then
      if name == a then i = i + 1 end -- its value is the next word
    else
      out[#out + 1] = a
    end
    i = i + 1
  end
  out[#out + 1] = "--now"
  out[#out + 1] = util.format_time(o.start, o.offset or 0)
  return out
end

-- --runs N: the Monte Carlo summary; exit 1 when any run shows a rollout that will not finish (the
-- problems of the first such run on stderr, with its seed).
local function monte_carlo(o, opts, format)
  if opts.runs < 1 or opts.runs > M.MAX_RUNS then
    failure.raise("usage", "--runs must be between 1 and %d, got %d", M.MAX_RUNS, opts.runs)
  end
  if opts.svg then
    failure.raise("usage", "--svg draws one rehearsal; leave it out with --runs, or replay one run with --seed")
  end
  local runs = require("otarun.run.rehearsal_runs")
  local sys = require("otarun.core.sys")
  local wall0 = sys.monotonic()
  local jobs = opts.jobs or 1
  if jobs < 1 or jobs > 64 then failure.raise("usage", "--jobs must be between 1 and 64, got %d", jobs) end
  local results, err
  if jobs > 1 and opts.runs > 1 then
    results, err = runs.run_parallel(opts.runs, opts.seed or 1, math.min(jobs, opts.runs), child_argv(o))
  else
    results, err = runs.run(o, opts.runs, opts.seed or 1)
  end
  if not results then failure.raise("error", "%s", err) end
  local wall = sys.monotonic() - wall0
  io.stdout:write(format == "json" and runs.json(results, o, wall) or runs.text(results, o, wall))
  local first, more = nil, 0
  for _, r in ipairs(results) do
    if #r.problems > 0 then
      if first then more = more + 1 else first = r end
    end
  end
  if not first then return failure.CODES.ok end
  for _, line in ipairs(first.problems) do io.stderr:write("otarun rehearse: seed ", first.seed, ": ", line, "\n") end
  if more > 0 then io.stderr:write(string.format("otarun rehearse: and %d more run%s\n", more, more == 1 and "" or "s")) end
  return failure.CODES.error
end

function M.main(argv)
  local opts, files = command.parse(argv, M, "some")
  if not opts.fleet then failure.raise("usage", "rehearse needs --fleet FILE (a simulated fleet)") end
  local format = command.line_format(opts)
  local set = parse_set(opts.set)
  local interval = opts.interval and command.seconds(opts.interval, "--interval") or nil
  if interval and interval < 1 then failure.raise("usage", "--interval must be at least 1s") end
  local approve = "all"
  for _, a in ipairs(opts.approve or {}) do
    if a == "none" then approve = {} elseif a ~= "all" then
      if approve == "all" then approve = {} end
      approve[a] = true
    end
  end
  local ctx, rollouts = command.load_selected(files, opts)
  local start = start_of(rollouts, ctx, opts.now)
  local stop = start + 14 * 86400
  if opts["until"] then
    local t = util.parse_time(opts["until"])
    stop = t or (start + command.seconds(opts["until"], "--until"))
    if stop <= start then failure.raise("usage", "--until must be after the start (%s)", util.format_time(start, ctx.offset)) end
  end
  local o = { rollouts = rollouts, fleet = opts.fleet, set = set, start = start, stop = stop, interval = interval,
    approve = approve, offset = ctx.offset, region = opts.region, files = files, seed = opts.seed }
  if opts.runs then return monte_carlo(o, opts, format) end
  local rehearsal = require("otarun.run.rehearsal")
  local res, err = rehearsal.run(o)
  if not res then failure.raise("error", "%s", err) end
  if format == "json" then io.stdout:write(rehearsal.json(res, o)) else io.stdout:write(rehearsal.text(res, o)) end
  if opts.svg then
    local ok, werr = require("otarun.core.sys").write_atomic(opts.svg, rehearsal.svg(res, o))
    if not ok then failure.raise("error", "cannot write %s: %s", opts.svg, tostring(werr)) end
  end
  -- a rehearsal that shows the rollout cannot finish is a failed one (docs/rehearse.md)
  for _, line in ipairs(res.problems) do io.stderr:write("otarun rehearse: ", line, "\n") end
  return #res.problems > 0 and failure.CODES.error or failure.CODES.ok
end

return M
