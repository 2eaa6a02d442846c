-- otarun state show | push --to URL | pull --from URL (docs/state.md): what a state store holds
-- (engine, schema version, rollouts, lock holders, row counts), and moving a whole store, audit log
-- included, between a file and a PostgreSQL database (or any two stores) with the counts checked.
-- A password in a URL is never printed: every path shown goes through state.redact.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local state = require("otarun.state")

local M = {}

M.OPTIONS = { ["--to"] = "string", ["--from"] = "string", ["--lock-timeout"] = "int" }

M.HELP = [[
usage: otarun state show [--state PATH|URL] [--format text|json]
       otarun state push --to URL [--state PATH]
       otarun state pull --from URL [--state PATH]

show    the store's engine (sqlite or postgresql), schema version, rollouts with their halts and
        wave states, who holds a lock, and how many rows each table has. Never takes a lock.
push    copies everything in the store (--state, OTARUN_STATE, .otarun/state.db) into the empty
        store at --to, ids and the audit log included, then checks the row counts of both.
pull    the other way: copies the store at --from into the empty store --state names.

Both ends of a copy are locked while it runs (runners pointed at either wait or skip).
A URL is postgres://[USER@]HOST[:PORT]/DB[?schema=NAME]; the password comes from ~/.pgpass or
PGPASSWORD (libpq), and is never printed.

options:
  --state PATH|URL        the store (.otarun/state.db; also OTARUN_STATE)
  --to URL, --from URL    the other store (a path works too)
  --lock-timeout SECONDS  how long to wait for a runner holding either store (30)
  --format text|json      show's output

exit: 0 ok, 1 error (nothing copied, or the counts differ), 64 usage error
]]

local function shown(path) return state.redact(path) end

local function open_or_fail(path, opts, readonly, cmd)
  local st, err, code = state.open{ state = path, readonly = readonly, command = cmd,
    lock_timeout = command.lock_timeout(opts) }
  if not st then
    if code == "notfound" then failure.raise("error", "%s: no state recorded there", shown(path)) end
    failure.raise("error", "%s", err)
  end
  return st
end

local TABLES = { "rollouts", "waves", "wave_transitions", "jobs", "intents", "audit",
  "gate_readings", "approvals", "overrides" }

local function counts_text(counts)
  local parts = {}
  for _, t in ipairs(TABLES) do parts[#parts + 1] = string.format("%s %d", t, counts[t] or 0) end
  return table.concat(parts, ", ")
end

-- Copies from -> to, both locked. -> exit code
local function copy(from_path, to_path, opts, verb)
  if from_path == to_path then failure.raise("usage", "%s: the source and the target are the same store", verb) end
  open_or_fail(from_path, opts, true, "state " .. verb):close() -- there is something to copy
  local from = open_or_fail(from_path, opts, false, "state " .. verb)
  local to = open_or_fail(to_path, opts, false, "state " .. verb)
  command.lock(from)
  command.lock(to)
  local counts, err = from.h:copy_to(to.h.raw or to.h)
  from:close()
  to:close()
  if not counts then failure.raise("error", "%s", err) end
  io.stdout:write(string.format("copied %s -> %s: %s (row counts verified)\n", shown(from_path),
    shown(to_path), counts_text(counts)))
  return 0
end

local function fmt_time(t)
  return t and os.date("!%Y-%m-%dT%H:%M:%SZ", t) or "?"
end

local function show(opts)
  local path = state.resolve(opts)
  local st, err, code = state.open{ state = path, readonly = true, command = "state show" }
  local format = opts.format or "text"
  if format ~= "text" and format ~= "json" then failure.raise("usage", "--format for state show must be text or json") end
  if not st then
    if code ~= "notfound" then failure.raise("error", "%s", err) end
    if format == "json" then
      io.stdout:write(require("cjson").encode({ state = shown(path), recorded = false }), "\n")
    else
      io.stdout:write(string.format("state: %s\nno state recorded yet\n", shown(path)))
    end
    return 0
  end
  local doc = { state = st:path(), recorded = true, engine = st:engine(), schema_version = st:version(),
    otarun_schema_version = state.SCHEMA_VERSION, rollouts = {}, locks = {} }
  doc.counts = assert(st.h:counts())
  for _, r in ipairs(assert(st:rollouts())) do
    local waves = {}
    for _, w in ipairs(assert(st:list("waves", { rollout = r.name }))) do
      waves[#waves + 1] = { name = w.name, state = w.state, job_id = w.job_id }
    end
    doc.rollouts[#doc.rollouts + 1] = { name = r.name, halted = r.halted == 1,
      halt_reason = r.halt_reason, waves = setmetatable(waves, state.array_mt) }
  end
  for _, l in ipairs(assert(st:list("locks"))) do
    doc.locks[#doc.locks + 1] = { rollout = l.rollout ~= "" and l.rollout or nil, scope = l.rollout == "" and "store" or "rollout",
      host = l.host, pid = l.pid, since = l.since, command = l.command }
  end
  st:close()
  if format == "json" then
    setmetatable(doc.rollouts, state.array_mt)
    setmetatable(doc.locks, state.array_mt)
    io.stdout:write(state.json(doc), "\n")
    return 0
  end
  local out = { string.format("state: %s", doc.state), string.format("engine: %s", doc.engine),
    string.format("schema version: %d (this otarun: %d)", doc.schema_version, doc.otarun_schema_version),
    string.format("rollouts: %d", #doc.rollouts) }
  for _, r in ipairs(doc.rollouts) do
    local ws = {}
    for _, w in ipairs(r.waves) do ws[#ws + 1] = w.name .. "=" .. w.state end
    out[#out + 1] = string.format("  %s%s: %s", r.name, r.halted and (" (halted: " .. tostring(r.halt_reason) .. ")") or "",
      table.concat(ws, " "))
  end
  if #doc.locks == 0 then
    out[#out + 1] = "lock holders: none"
  else
    out[#out + 1] = "lock holders:"
    for _, l in ipairs(doc.locks) do
      out[#out + 1] = string.format("  %s: pid %d on host %s since %s (%s)", l.rollout or "(whole store)",
        l.pid, l.host, fmt_time(l.since), l.command or "?")
    end
  end
  out[#out + 1] = "rows: " .. counts_text(doc.counts)
  io.stdout:write(table.concat(out, "\n"), "\n")
  return 0
end

function M.main(argv)
  local opts, pos = command.parse(argv, M)
  local sub = pos[1]
  if #pos ~= 1 or (sub ~= "show" and sub ~= "push" and sub ~= "pull") then
    failure.raise("usage", "state needs one of show, push --to URL, pull --from URL")
  end
  if sub == "show" then
    if opts.to or opts.from then failure.raise("usage", "state show takes neither --to nor --from") end
    return show(opts)
  end
  local here = state.resolve(opts)
  if sub == "push" then
    if not opts.to or opts.from then failure.raise("usage", "state push needs --to URL (and no --from)") end
    return copy(here, opts.to, opts, "push")
  end
  if not opts.from or opts.to then failure.raise("usage", "state pull needs --from URL (and no --to)") end
  return copy(opts.from, here, opts, "pull")
end

return M
