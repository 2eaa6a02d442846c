-- What the commands share (run, rehearse, approve, abort, resume, log, plan, apply, status): their
-- options parsed against cmd.OPTIONS with --help, the --format of the line-printing commands,
-- duration options, loading the scripts into normalised rollouts, picking a rollout and a wave
-- by name (with suggestions), opening and locking the state store, and the API client from the
-- common options. Every problem is raised as an otarun.failure (rendered by otarun.cli).
-- Only cmd/ and cli/ require this module (docs/architecture.md).
local args = require("otarun.cli.args")
local failure = require("otarun.failure")
local util = require("otarun.util")

local M = {}

-- Writes a generated file (after prepare(path) -> ok, err when given), then says `LABEL PATH` on
-- stdout; on failure says `otarun CMD: cannot write PATH: why` on stderr. -> true | false
function M.write_out(cmd, path, text, label, prepare)
  local ok, err = true, nil
  if prepare then ok, err = prepare(path) end
  if ok then ok, err = util.write_file(path, text) end
  if not ok then
    io.stderr:write("otarun ", cmd, ": cannot write ", path, ": ", tostring(err), "\n")
    return false
  end
  io.stdout:write(label, path, "\n")
  return true
end

-- argv against cmd.OPTIONS (and the common options); --help prints cmd.HELP and ends the command
-- (exit 0). With `files`, the positional arguments are counted: "one" (exactly one FILE) or
-- "some" (at least one). -> opts, positional
function M.parse(argv, cmd, files)
  local opts, pos = args.parse(argv, cmd.OPTIONS)
  if opts.help then
    io.stdout:write(cmd.HELP)
    failure.exit("ok")
  end
  if (files == "one" and #pos ~= 1) or (files == "some" and #pos == 0) then
    failure.raise("usage", "%s needs %s", cmd.HELP:match("usage: otarun (%S+)") or "this command",
      files == "one" and "exactly one FILE" or "at least one FILE")
  end
  return opts, pos
end

-- --format of the commands that print text or JSON lines (run, rehearse, log). The scripts are
-- then loaded as for text: pipeline.context would accept markdown, which these do not print.
-- -> "text" | "json"
function M.line_format(opts)
  local format = opts.format or "text"
  if format ~= "text" and format ~= "json" then
    failure.raise("usage", "--format must be text or json, got %q", format)
  end
  opts.format = "text"
  return format
end

-- A duration option (--interval, --until): plain seconds or a duration such as 10m.
function M.seconds(text, what)
  if text:match("^%d+$") then return tonumber(text) end
  local n, err = util.parse_duration(text)
  if not n then failure.raise("usage", "%s: %s", what, err) end
  return n
end

-- The exit code of a run: "halted" (6) when a rollout is halted, told apart from "could not
-- run" (1) by a scheduler's wrapper (docs/run.md).
function M.halted_exit(rollouts)
  for _, r in ipairs(rollouts) do
    if r.halted then return failure.CODES.halted end
  end
  return failure.CODES.ok
end

-- Scripts -> ctx, normalised rollouts, the check's result. Invalid scripts print their
-- diagnostics and fail with "invalid".
function M.load(files, opts)
  local pipeline = require("otarun.plan.pipeline")
  local ctx = pipeline.context(opts)
  local res, err = pipeline.check(files, ctx)
  if not res then failure.raise("error", "%s", err) end
  if not res.ok then
    io.stderr:write(pipeline.render_diagnostics(res, { format = "text" }))
    failure.raise("invalid", "%s is invalid; fix the errors above (otarun validate %s)",
      table.concat(files, " "), table.concat(files, " "))
  end
  if #res.rollouts == 0 then failure.raise("error", "%s declares no rollout", table.concat(files, " ")) end
  return ctx, res.rollouts, res
end

-- load, keeping only the rollout named by --rollout when it is given. -> ctx, rollouts
function M.load_selected(files, opts)
  local ctx, rollouts = M.load(files, opts)
  if opts.rollout then rollouts = { M.pick_rollout(rollouts, opts.rollout) } end
  return ctx, rollouts
end

local function names_of(list)
  local names = {}
  for _, x in ipairs(list) do names[#names + 1] = x.name end
  return names
end

local function suggestion(name, names)
  local best = util.closest(name, names)
  return best and (", did you mean " .. best .. "?") or ""
end

-- The rollout named `name` (or the only one). -> rollout
function M.pick_rollout(rollouts, name)
  if name then
    for _, r in ipairs(rollouts) do
      if r.name == name then return r end
    end
    local names = names_of(rollouts)
    failure.raise("usage", "no rollout %q in the scripts%s (rollouts: %s)", name, suggestion(name, names),
      table.concat(names, ", "))
  end
  if #rollouts > 1 then
    failure.raise("usage", "the scripts declare %d rollouts (%s); choose one with --rollout NAME", #rollouts,
      table.concat(names_of(rollouts), ", "))
  end
  return rollouts[1]
end

-- The wave named `name` of rollout r; with no --rollout, the rollout that has such a wave.
-- -> rollout, wave
function M.pick_wave(rollouts, rollout_name, name)
  local candidates = {}
  if rollout_name then candidates = { M.pick_rollout(rollouts, rollout_name) }
  else
    for _, r in ipairs(rollouts) do
      for _, w in ipairs(r.waves) do
        if w.name == name then candidates[#candidates + 1] = r break end
      end
    end
    if #candidates == 0 then candidates = rollouts end
  end
  if #candidates > 1 then
    failure.raise("usage", "wave %q exists in several rollouts (%s); choose one with --rollout NAME", name,
      table.concat(names_of(candidates), ", "))
  end
  local r = candidates[1]
  for _, w in ipairs(r.waves) do
    if w.name == name then return r, w end
  end
  local names = names_of(r.waves)
  failure.raise("usage", "rollout %q has no wave %q%s (waves: %s)", r.name, name, suggestion(name, names),
    table.concat(names, ", "))
end

-- Opens the store (creating it) and records the rollouts. -> state
function M.open_state(opts, command, rollouts, now)
  local state = require("otarun.state")
  local st, err = state.open{ state = opts.state, command = command, now = now,
    lock_timeout = M.lock_timeout(opts) }
  if not st then failure.raise("error", "%s", err) end
  for _, r in ipairs(rollouts or {}) do
    local ok, rerr = st:record_rollout(r)
    if not ok then failure.raise("error", "%s", rerr) end
  end
  return st
end

function M.lock(st, timeout)
  local ok, err = st:lock(timeout)
  if not ok then failure.raise("error", "%s", err) end
  return true
end

M.DEFAULT_LOCK_TIMEOUT = 30

-- --lock-timeout SECONDS (an "int" option in every command): 0 or more, default 30.
function M.lock_timeout(opts)
  local t = opts.lock_timeout
  if t == nil then return M.DEFAULT_LOCK_TIMEOUT end
  if t < 0 then failure.raise("usage", "--lock-timeout must be 0 or more seconds, got %d", t) end
  return t
end

-- Takes the lock of each rollout named (docs/state.md, "Locks"), one name at a time in sorted
-- order, so two commands wanting some of the same rollouts never wait for each other in a circle.
-- A rollout another process holds is waited for, up to `timeout` seconds each, saying who holds it
-- on stderr ("otarun CMD: ...; waiting up to Ns"); when the wait runs out the command fails
-- (exit 1) with the holder's host, pid, since and command. -> sorted names
function M.lock_rollouts(st, names, timeout, cmd)
  local seen, sorted = {}, {}
  for _, n in ipairs(names) do
    if not seen[n] then seen[n], sorted[#sorted + 1] = true, n end
  end
  table.sort(sorted)
  for _, name in ipairs(sorted) do
    local ok, err, code = st:lock_rollout(name, 0)
    if not ok and code == "locked" and timeout > 0 then
      io.stderr:write(string.format("otarun %s: %s; waiting up to %ds\n", cmd, tostring(err), timeout))
      ok, err = st:lock_rollout(name, timeout)
    end
    if not ok then failure.raise("error", "%s", err) end
  end
  return sorted
end

-- The API client from the common options (credentials, --endpoint, --region, --profile).
function M.client(opts, region, log)
  local creds, err = require("otarun.platform.credentials").load{ profile = opts.profile }
  if not creds then failure.raise("error", "%s", err) end
  local clients = require("otarun.platform.clients")
  local c, cerr = require("otarun.platform.client").new{ endpoint = clients.endpoint(opts),
    credentials = creds, log = log,
    region = opts.region or region or creds.region or os.getenv("ALIBABA_CLOUD_REGION_ID") }
  if not c then failure.raise("error", "%s", cerr) end
  return c
end

return M
