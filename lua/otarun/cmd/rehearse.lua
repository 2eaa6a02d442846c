-- otarun rehearse FILE --fleet FLEET: the whole rollout against a simulated fleet in simulated time,
-- through the same scheduler as `otarun run` (otarun.run.rehearsal). Prints the timeline
-- (text or JSON) and, with --svg, writes the picture.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local util = require("otarun.util")

local M = {}

M.OPTIONS = { ["--fleet"] = "string", ["--set"] = "list", ["--until"] = "string", ["--svg"] = "string",
              ["--interval"] = "string", ["--approve"] = "list", ["--rollout"] = "string" }

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
  --format text|json           output format (text)
  --now TIME                   when the simulation starts (default: now, or an hour before the
                               first wave's start when that is later)
  --var NAME=VALUE             set var.NAME for the scripts (repeatable)

exit: 0 every rollout finished within the simulation; 1 an error, or the rehearsal shows a rollout
      that will not finish (halted, a gate that can never pass, a group or version the fleet lacks,
      still running at --until: one line each on stderr), 3 invalid script, 64 usage error
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
    approve = approve, offset = ctx.offset, region = opts.region, files = files }
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
