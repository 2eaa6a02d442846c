-- otarun apply FILE... | PLAN: takes the locks of the rollouts it plans (waiting up to
-- --lock-timeout for each one another process holds), resolves what a crash left open in them,
-- plans (or reads a saved plan and refuses it when stale, exit 5), shows the plan, checks
-- policies (a denial exits 4 before any call), asks for `yes` on a terminal unless
-- --auto-approve, then performs the due waves through otarun.apply with a progress display.
-- Exit 0 done (or nothing to do), 1 a call or the store failed, 3 invalid script, 4 denied,
-- 5 stale plan, 64 usage (otarun.failure). Uses: otarun.cli.command, otarun.platform.clients (the
-- client cache), otarun.plan.pipeline, otarun.policy, otarun.state, otarun.platform.credentials,
-- otarun.platform.ratelimit, otarun.journal (recover), otarun.apply (+ saved), otarun.render.progress,
-- otarun.core.sys.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local clients = require("otarun.platform.clients")
local pipeline = require("otarun.plan.pipeline")
local sys = require("otarun.core.sys")

local M = {}

M.OPTIONS = { ["--auto-approve"] = "bool", ["--lock-timeout"] = "int", ["--override"] = "list",
              ["--reason"] = "string", ["--qps"] = "list" }

M.HELP = [[
usage: otarun apply [OPTIONS] FILE...
       otarun apply [OPTIONS] PLAN        (a plan saved with otarun plan --out)

Plans, shows the plan, asks for "yes", then makes the API calls of the waves that are due now:
an intent is written to the state store before each changing call and settled after it, so an
interrupted apply can simply be run again. A saved plan is applied exactly as saved (it was
reviewed when it was saved), or refused when the state changed since (exit 5).

options:
  --auto-approve                do not ask (required when stdin is not a terminal)
  --lock-timeout SECONDS        wait this long for each rollout another otarun holds (30)
  --state PATH                  state store (.otarun/state.db; also OTARUN_STATE)
  --endpoint URL                API endpoint (https://iot.<region>.aliyuncs.com; OTARUN_ENDPOINT)
  --region REGION, --profile P  region for rollouts that do not name one; credentials profile
  --qps ACTION=N                client-side rate of an operation (repeatable; '*=N' all; 0 removes
                                the limit) for accounts with raised quotas
  --policy DIR                  also judge the plan by the policies in DIR (repeatable)
  --override POLICY.RULE        accept a failed soft policy rule (repeatable; needs --reason)
  --reason TEXT                 why the overrides are acceptable (recorded in the audit log)
  --format text|json            text shows the plan, then the outcome; json prints one result
                                document (waves applied, calls made, jobs created or adopted, errors)
  --var NAME=VALUE, --now TIME, --no-color, -v/--verbose

exit: 0 applied (or no changes), 1 error (a failed call names its wave), 3 invalid script,
      4 denied by policy, 5 saved plan is stale, 64 usage error
]]

local PREFIX = "otarun apply"

local function say(fmt, ...)
  io.stderr:write(PREFIX, ": ", string.format(fmt, ...), "\n")
end

-- --qps ACTION=N... -> limits table for the shared limiter (N = 0: no limit).
local function parse_qps(list)
  local limits, all = {}, nil
  for _, item in ipairs(list or {}) do
    local action, n = item:match("^([%w%*]+)=(%d+%.?%d*)$")
    if not action then failure.raise("usage", "--qps needs ACTION=N (e.g. CreateOTADynamicUpgradeJob=40), got %q", item) end
    n = tonumber(n)
    local v = n > 0 and n or false
    if action == "*" then all = v else limits[action] = v end
  end
  if all ~= nil then
    for action in pairs(require("otarun.platform.ratelimit").DEFAULT_LIMITS) do
      if limits[action] == nil then limits[action] = all end
    end
    for _, a in ipairs({ "UpdateOTAJob", "QueryOTAJob", "ListOTATaskByJob" }) do
      if limits[a] == nil then limits[a] = all end
    end
  end
  return limits
end

-- client_for(rollout) -> client, key | nil, message: one client per region (or one for the
-- endpoint), all sharing the process-wide rate limiter. -> client_for, close | nil, message
local function client_cache(opts, log, default_endpoint)
  local creds, err = require("otarun.platform.credentials").load{ profile = opts.profile }
  if not creds then return nil, err end
  -- more patience than a single call: a read failing every retry stops the whole run
  return clients.cache{ creds = creds, endpoint = clients.endpoint(opts, default_endpoint),
    opts = opts, new = { log = log, retries = { max = 6 } } }
end

-- What a crash left open in the rollouts this apply holds, resolved through the journal: only
-- their intents, since a runner may be ticking another rollout (and have its calls in flight) at
-- this moment. -> recovery counts
local function recover(st, client_for)
  return failure.check(require("otarun.journal").recover(st, client_for,
    { log = function(line) say("%s", line) end }))
end

-- The locks of the rollouts this apply plans (docs/state.md, "Locks"), then recover().
local function lock_and_recover(st, names, timeout, client_for)
  command.lock_rollouts(st, names, timeout, "apply")
  return recover(st, client_for)
end

local function confirm()
  io.stderr:write("\nDo you want to perform these actions?\n"
    .. "  otarun will make the API calls shown above. Only 'yes' will be accepted.\n\n"
    .. "  Enter a value: ")
  io.stderr:flush()
  local line = io.stdin:read("l")
  return line ~= nil and line:match("^%s*(.-)%s*$") == "yes"
end

-- Plans FILE... under the locks of their rollouts, taken once the scripts validate, against the
-- platform (live: refresh + diff, otarun.plan.pipeline).
-- -> plan, info (policy info); raises a failure (invalid, denied, a lock not had in time)
local function plan_files(files, ctx, st, client_for, opts, overrides, timeout)
  ctx.mode, ctx.state, ctx.client_for = "live", st, client_for
  function ctx.before_compare(rollouts)
    local names = {}
    for i, r in ipairs(rollouts) do names[i] = r.name end
    lock_and_recover(st, names, timeout, client_for)
  end
  local res, err = pipeline.plan(files, ctx)
  if not res then failure.raise("error", "%s", err) end
  if not res.ok then
    io.stdout:write(pipeline.render_diagnostics(res, ctx))
    failure.exit("invalid")
  end
  local policy = require("otarun.policy")
  local restore = require("otarun.plan").without_removed(res.plan)
  local _, denied, denials, info = policy.evaluate(res.plan, { dirs = opts.policy,
    overrides = overrides, now = ctx.now })
  restore()
  for _, msg in ipairs(info.unmatched or {}) do say("warning: %s", msg) end
  for _, r in ipairs(res.plan.rollouts) do
    for _, w in ipairs(r.waves) do w.spec = nil end
  end
  -- with --format json, stdout carries one document: the result (or, when denied, the plan)
  if ctx.format ~= "json" or denied then io.stdout:write(pipeline.render_plan(res.plan, ctx)) end
  if denied then
    failure.raise("denied", "denied by policy (nothing was sent):\n  %s", table.concat(denials, "\n  "))
  end
  return res.plan, info
end

local function summary_text(report, secs)
  return string.format("%d waves, %d calls%s in %.1f s%s%s", report.waves, report.calls,
    report.requests > report.calls and string.format(" (%d sent)", report.requests) or "", secs,
    report.adopted > 0 and string.format("; %d unknown outcomes resolved by adopting the job", report.adopted) or "",
    report.unknown > report.adopted and string.format("; %d unknown outcomes", report.unknown) or "")
end

-- `apply --format json`: what was done, as one document on stdout.
-- { format_version, result = "applied"|"incomplete"|"stopped"|"no changes"|"cancelled",
--   state_fingerprint, summary = { create, update, replace, cancel, wait },
--   waves = [ { rollout, wave, action, status = "applied"|"failed"|"not started", job_id,
--               calls = [ { action, ok, job_id, adopted, error } ] } ],
--   calls, requests, created, adopted, unknown, errors = [ "ROLLOUT/WAVE: ..." ], seconds }
function M.result_doc(plan, result, report, secs)
  local json = require("otarun.json")
  local null = json.null
  report = report or { calls = 0, requests = 0, created = 0, adopted = 0, unknown = 0, errors = {}, steps = {} }
  local waves = json.array({})
  for i, step in ipairs(report.steps or {}) do
    local calls = json.array({})
    for j, c in ipairs(step.calls) do
      calls[j] = json.object({ action = c.action, ok = c.ok, job_id = c.job_id or null,
        adopted = c.adopted == true, error = c.error and tostring(c.error) or null })
    end
    waves[i] = json.object({ rollout = step.rollout, wave = step.wave, action = step.action,
      status = step.status, job_id = step.job_id or null, calls = calls })
  end
  local errors = json.array({})
  for i, e in ipairs(report.errors) do errors[i] = tostring(e) end
  local s = plan and plan.summary or {}
  return json.encode(json.object({ format_version = "1.0", result = result,
    state_fingerprint = plan and plan.state_fingerprint or null,
    summary = json.object({ create = s.create or 0, update = s.update or 0, replace = s.replace or 0,
      cancel = s.cancel or 0, wait = s.wait or 0 }),
    waves = waves, calls = report.calls, requests = report.requests or 0, created = report.created,
    adopted = report.adopted or 0, unknown = report.unknown or 0, errors = errors,
    seconds = secs and math.floor(secs * 1000 + 0.5) / 1000 or 0 }), { indent = "  " }) .. "\n"
end

local function execute(st, plan, client_for, opts, ctx)
  local apply = require("otarun.apply")
  local steps = apply.steps(plan)
  local progress = require("otarun.render.progress").new{ total = apply.count_calls(steps),
    tty = sys.isatty(2) }
  local report = apply.execute(st, plan, { client_for = client_for, progress = progress,
    log = function(line) progress:log(line) end })
  local secs = progress:finish()
  if ctx.format == "json" then
    local result = #report.errors == 0 and "applied" or (report.fatal and "stopped" or "incomplete")
    io.stdout:write(M.result_doc(plan, result, report, secs))
  elseif #report.errors == 0 then
    io.stdout:write(string.format("Apply complete: %s.\n", summary_text(report, secs)))
  else
    io.stdout:write(string.format("Apply %s: %s; what succeeded is recorded in %s.\n",
      report.fatal and "stopped" or "incomplete", summary_text(report, secs), st:path()))
  end
  if #report.errors > 0 then
    failure.raise("error", "%s not applied:\n  %s", #report.errors == 1 and "1 wave" or (#report.errors .. " waves"),
      table.concat(report.errors, "\n  "))
  end
  return failure.CODES.ok
end

function M.main(argv)
  local opts, files = command.parse(argv, M)
  if #files == 0 then failure.raise("usage", "apply needs FILE... (rollout scripts) or a saved PLAN") end
  if opts.offline then failure.raise("usage", "apply changes the platform; it cannot run with --offline") end
  local saved = require("otarun.apply.saved")
  local plan_path = #files == 1 and saved.is_plan(files[1]) and files[1] or nil
  if not plan_path and not opts.auto_approve and not sys.isatty(0) then
    failure.raise("usage", "stdin is not a terminal, so nobody can answer the confirmation: "
      .. "review the plan (otarun plan) and run apply with --auto-approve")
  end
  local timeout = command.lock_timeout(opts)
  local overrides, oerr = require("otarun.policy").parse_overrides(opts.override, opts.reason)
  if not overrides then failure.raise("usage", "%s", oerr) end
  local ctx = pipeline.context(opts)
  if ctx.format == "markdown" then failure.raise("usage", "--format for apply must be text or json") end
  require("otarun.platform.ratelimit").shared():configure(parse_qps(opts.qps))
  local log
  if opts.verbose then log = function(line) say("%s", line) end end
  local plan, info
  if plan_path then
    local perr
    plan, perr = saved.load(plan_path)
    failure.check(plan, perr)
    -- the store and endpoint the plan was made against, unless told otherwise
    local sv = plan.saved or {}
    if opts.state == nil and (os.getenv("OTARUN_STATE") or "") == "" then opts.state = sv.state end
    if sv.endpoint then opts.saved_endpoint = sv.endpoint end
  end
  local client_for, close_clients = failure.check(client_cache(opts, log, opts.saved_endpoint))
  local _ <close> = setmetatable({}, { __close = function() close_clients() end })

  local st <close> = failure.check(require("otarun.state").open{ state = opts.state, command = "apply" })

  if plan_path then
    -- the rollouts the plan covers, locked before anything is compared (docs/state.md, "Locks")
    local names = {}
    for _, n in ipairs(saved.rollout_names(plan)) do names[#names + 1] = n end
    for _, r in ipairs(plan.rollouts) do names[#names + 1] = r.name end
    command.lock_rollouts(st, names, timeout, "apply")
    local fresh, why = saved.check(st, plan, plan_path)
    if not fresh then failure.raise("stale", "%s", why) end
    local derived, derr, dcode = saved.rederive(plan, plan_path, st, client_for, ctx)
    if not derived then failure.raise(dcode == 5 and "stale" or "error", "%s", derr) end
    plan = derived -- what is sent is the planner's, equal call for call to the reviewed file
    local counts = recover(st, client_for)
    if counts.adopted > 0 then
      failure.raise("stale", "%s is stale: resolving what an interrupted apply left open found %d job(s) it "
        .. "created; plan again", plan_path, counts.adopted)
    end
    if ctx.format ~= "json" then io.stdout:write(pipeline.render_plan(plan, ctx)) end
  else
    plan, info = plan_files(files, ctx, st, client_for, opts, overrides, timeout)
  end

  local apply = require("otarun.apply")
  local steps = apply.steps(plan)
  if #steps == 0 then
    io.stdout:write(ctx.format == "json" and M.result_doc(plan, "no changes") or "No changes. Nothing is due now.\n")
    return failure.CODES.ok
  end
  if not plan_path and not opts.auto_approve then
    if not confirm() then
      io.stdout:write(ctx.format == "json" and M.result_doc(plan, "cancelled") or "Apply cancelled.\n")
      failure.exit("error")
    end
  end
  for _, o in ipairs(info and info.overrides or {}) do
    failure.check(st:override(o.policy .. "." .. o.rule, o.reason, o.rollout, plan.state_fingerprint))
  end
  failure.check(apply.record_rollouts(st, plan))
  return execute(st, plan, client_for, opts, ctx)
end

return M
