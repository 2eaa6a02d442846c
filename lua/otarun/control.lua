-- What run, rehearse, approve, abort, resume and log share: loading the scripts into normalised
-- rollouts, picking a rollout and a wave by name (with suggestions), opening and locking the state
-- store, building the API client from the common options (with plan, apply and status too: the
-- endpoint and one client per region), and the changing calls of a running rollout (cancel a
-- wave's strategy, cancel its pending tasks) made through the intent journal: intent first, then
-- the call, then the outcome, the job's status and the audit row together.
-- Uses otarun.cli.args, otarun.plan.pipeline, otarun.state, otarun.platform.client, otarun.platform.credentials, otarun.util.
local args = require("otarun.cli.args")
local util = require("otarun.util")

local M = {}

-- A failure a person reads, with the exit code it maps to (SPEC §1).
M.Failure = {}
M.Failure.__index = M.Failure
M.Failure.__tostring = function(e) return e.message end

function M.fail(code, fmt, ...)
  error(setmetatable({ code = code, message = string.format(fmt, ...) }, M.Failure), 0)
end

-- Runs fn(...) and turns a Failure into "otarun CMD: message" on stderr and its exit code.
function M.guard(cmd, fn, ...)
  local res = table.pack(pcall(fn, ...))
  if res[1] then return table.unpack(res, 2, res.n) end
  local e = res[2]
  if getmetatable(e) == M.Failure then
    io.stderr:write("otarun ", cmd, ": ", e.message, "\n")
    return e.code
  end
  error(e, 0)
end

-- argv against cmd.OPTIONS (and the common options); --help prints cmd.HELP.
-- -> opts, positional | nil (the help was printed: exit 0)
function M.parse(argv, cmd)
  local opts, pos = args.parse(argv, cmd.OPTIONS)
  if opts.help then
    io.stdout:write(cmd.HELP)
    return nil
  end
  return opts, pos
end

-- --format of the commands that print text or JSON lines (run, rehearse, log). The scripts are
-- then loaded as for text: pipeline.context would accept markdown, which these do not print.
-- -> "text" | "json"
function M.line_format(opts)
  local format = opts.format or "text"
  if format ~= "text" and format ~= "json" then
    args.usage_error("--format must be text or json, got %q", format)
  end
  opts.format = "text"
  return format
end

-- A duration option (--interval, --until): plain seconds or a duration such as 10m.
function M.seconds(text, what)
  if text:match("^%d+$") then return tonumber(text) end
  local n, err = util.parse_duration(text)
  if not n then args.usage_error("%s: %s", what, err) end
  return n
end

-- The exit code of a run or a rehearsal: 1 when a rollout halted.
function M.halted_exit(rollouts)
  for _, r in ipairs(rollouts) do
    if r.halted then return 1 end
  end
  return 0
end

-- Scripts -> ctx, normalised rollouts. Invalid scripts print their diagnostics and fail with 3.
function M.load(files, opts, cmd)
  local pipeline = require("otarun.plan.pipeline")
  local ctx = pipeline.context(opts)
  local res, err = pipeline.check(files, ctx)
  if not res then M.fail(1, "%s", err) end
  if not res.ok then
    io.stderr:write(pipeline.render_diagnostics(res, { format = "text" }))
    M.fail(3, "%s is invalid; fix the errors above (otarun validate %s)", table.concat(files, " "),
      table.concat(files, " "))
  end
  if #res.rollouts == 0 then M.fail(1, "%s declares no rollout", table.concat(files, " ")) end
  return ctx, res.rollouts, res
end

-- load, keeping only the rollout named by --rollout when it is given. -> ctx, rollouts
function M.load_selected(files, opts, cmd)
  local ctx, rollouts = M.load(files, opts, cmd)
  if opts.rollout then rollouts = { M.pick_rollout(rollouts, opts.rollout) } end
  return ctx, rollouts
end

-- The rollout named `name` (or the only one). -> rollout
function M.pick_rollout(rollouts, name)
  if name then
    local names = {}
    for _, r in ipairs(rollouts) do
      if r.name == name then return r end
      names[#names + 1] = r.name
    end
    local best = util.closest(name, names)
    M.fail(64, "no rollout %q in the scripts%s (rollouts: %s)", name,
      best and (", did you mean " .. best .. "?") or "", table.concat(names, ", "))
  end
  if #rollouts > 1 then
    local names = {}
    for _, r in ipairs(rollouts) do names[#names + 1] = r.name end
    M.fail(64, "the scripts declare %d rollouts (%s); choose one with --rollout NAME", #rollouts,
      table.concat(names, ", "))
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
    local names = {}
    for _, r in ipairs(candidates) do names[#names + 1] = r.name end
    M.fail(64, "wave %q exists in several rollouts (%s); choose one with --rollout NAME", name,
      table.concat(names, ", "))
  end
  local r = candidates[1]
  local names = {}
  for _, w in ipairs(r.waves) do
    if w.name == name then return r, w end
    names[#names + 1] = w.name
  end
  local best = util.closest(name, names)
  M.fail(64, "rollout %q has no wave %q%s (waves: %s)", r.name, name,
    best and (", did you mean " .. best .. "?") or "", table.concat(names, ", "))
end

-- Opens the store (creating it) and records the rollouts. -> state
function M.open_state(opts, command, rollouts, now)
  local state = require("otarun.state")
  local st, err = state.open{ state = opts.state, command = command, now = now,
    lock_timeout = opts.lock_timeout or 30 }
  if not st then M.fail(1, "%s", err) end
  for _, r in ipairs(rollouts or {}) do
    local ok, rerr = st:record_rollout(r)
    if not ok then M.fail(1, "%s", rerr) end
  end
  return st
end

function M.lock(st, timeout)
  local ok, err = st:lock(timeout)
  if not ok then M.fail(1, "%s", err) end
  return true
end

-- --endpoint, else OTARUN_ENDPOINT (an empty one counts as unset), else `default`.
function M.endpoint(opts, default)
  local endpoint = opts.endpoint or os.getenv("OTARUN_ENDPOINT")
  if endpoint == nil or endpoint == "" then return default end
  return endpoint
end

-- client_for(rollout) -> client, key | nil, message: one client per endpoint, or per region when
-- no endpoint is given (plan, apply and status reach rollouts of several regions this way).
-- The region: the rollout's, else --region, the profile's, ALIBABA_CLOUD_REGION_ID (as `call` and
-- the aliyun CLI). o: { creds, endpoint, opts (the command's), new = extra options for
-- otarun.platform.client.new (log, retries, timeouts) }.
-- -> client_for, close (closes every client made)
function M.client_cache(o)
  local client = require("otarun.platform.client")
  local cache, list = {}, {}
  local function client_for(rollout)
    local region = rollout and rollout.region or o.opts.region or o.creds.region
      or os.getenv("ALIBABA_CLOUD_REGION_ID")
    local key = o.endpoint or region
    if not key then
      return nil, string.format("rollout %q names no region: give region in the script, --region, or --endpoint",
        tostring(rollout and rollout.name))
    end
    local c = cache[key]
    if not c then
      local new_opts = { endpoint = o.endpoint, region = region, credentials = o.creds }
      for k, v in pairs(o.new or {}) do new_opts[k] = v end
      local cerr
      c, cerr = client.new(new_opts)
      if not c then return nil, cerr end
      cache[key] = c
      list[#list + 1] = c
    end
    return c, key
  end
  return client_for, function() for _, c in ipairs(list) do c:close() end end
end

-- The API client from the common options (credentials, --endpoint, --region, --profile).
function M.client(opts, region, log)
  local creds, err = require("otarun.platform.credentials").load{ profile = opts.profile }
  if not creds then M.fail(1, "%s", err) end
  local endpoint = M.endpoint(opts)
  local c, cerr = require("otarun.platform.client").new{ endpoint = endpoint, credentials = creds,
    region = opts.region or region or creds.region or os.getenv("ALIBABA_CLOUD_REGION_ID"), log = log }
  if not c then M.fail(1, "%s", cerr) end
  return c
end

-- ---- journaled calls -----------------------------------------------------------------------------

-- call(st, client, { rollout, wave, action, params, identity, job_id, job, transition,
--                    job_from = fn(result) -> job id (a create), accept = fn(err) })
-- -> result | nil, err. The intent is written first (the lock must be held). A business error that
-- `accept` recognises (say "already cancelled") settles the intent as failed but counts as done.
function M.call(st, client, c)
  local id, ierr = st:intent{ rollout = c.rollout, wave = c.wave, action = c.action, params = c.params,
    identity = c.identity }
  if not id then return nil, { kind = "store", message = ierr } end
  local res, err = client:call(c.action, c.params)
  local audit = { action = c.action, rollout = c.rollout, wave = c.wave, params = c.params }
  if res then
    local job_id, job, transition = c.job_id, c.job, c.transition
    if c.job_from then
      job_id = c.job_from(res)
      local function with_id(t)
        if not t then return nil end
        local out = { job_id = job_id }
        for k, v in pairs(t) do if k ~= "job_id" then out[k] = v end end
        return out
      end
      job, transition = with_id(job), with_id(transition)
    end
    local ok, rerr = st:record_call(id, { state = "settled", result = "ok", request_id = res.RequestId,
      job_id = job_id, job = job, transition = transition, audit = audit })
    if not ok then return nil, { kind = "store", message = rerr } end
    return res
  end
  local outcome = err.kind == "unknown_outcome" and "unknown" or "failed"
  local accepted = err.kind == "business" and c.accept and c.accept(err)
  st:record_call(id, { state = outcome, result = (accepted and M.ALREADY or "") .. tostring(err),
    request_id = err.request_id,
    job_id = c.job_id, transition = accepted and c.transition or nil, audit = audit })
  if accepted then return { accepted = true, message = tostring(err) } end
  return nil, err
end

M.ALREADY = "already done: "

-- A cancel that finds the strategy already stopped has nothing left to do.
local function already_stopped(err)
  local m = tostring(err.message or "")
  return m:find("no longer running", 1, true) or m:find("is CANCELED", 1, true)
    or m:find("is COMPLETED", 1, true) or m:find("not running", 1, true) ~= nil
end
M.already_stopped = already_stopped

-- Has a settled intent of `action` for this job already been recorded? (acting once per decision)
function M.done_before(st, rollout, wave, action, job_id)
  local rows = st:list("intents", { rollout = rollout, wave = wave }) or {}
  for _, row in ipairs(rows) do
    if row.action == action and (row.state == "settled"
          or (row.state == "failed" and (row.result or ""):sub(1, #M.ALREADY) == M.ALREADY))
        and row.params and row.params:find(job_id, 1, true) then
      return true
    end
  end
  return false
end

-- Cancels a dynamic wave's strategy (devices already upgrading continue). -> true | nil, err
function M.cancel_strategy(st, client, rollout, wave_name, job_id, transition)
  if M.done_before(st, rollout.name, wave_name, "CancelOTAStrategyByJob", job_id) then return true end
  local res, err = M.call(st, client, { rollout = rollout.name, wave = wave_name,
    action = "CancelOTAStrategyByJob", params = { JobId = job_id, IotInstanceId = rollout.instance },
    job_id = job_id, transition = transition, accept = already_stopped })
  if not res then return nil, err end
  st:job_status(job_id, "CANCELED")
  return true
end

-- Cancels the job's pending tasks: queued, notified, waiting for confirmation, scheduled.
function M.cancel_pending(st, client, rollout, wave_name, job_id)
  if M.done_before(st, rollout.name, wave_name, "CancelOTATaskByJob", job_id) then return true end
  local res, err = M.call(st, client, { rollout = rollout.name, wave = wave_name,
    action = "CancelOTATaskByJob", params = { JobId = job_id, IotInstanceId = rollout.instance,
      CancelQueuedTask = true, CancelNotifiedTask = true, CancelUnconfirmedTask = true,
      CancelScheduledTask = true }, job_id = job_id })
  if not res then return nil, err end
  return true
end

-- The job ids the store knows for a wave (the wave's current job first).
function M.wave_jobs(st, rollout_name, wave_name)
  local ids, seen = {}, {}
  local rec = st:rollout(rollout_name)
  local row = rec and rec.wave[wave_name]
  if row and row.job_id then ids[1], seen[row.job_id] = row.job_id, true end
  for _, j in ipairs(st:jobs(rollout_name, wave_name) or {}) do
    if not seen[j.job_id] then ids[#ids + 1], seen[j.job_id] = j.job_id, true end
  end
  return ids
end

return M
