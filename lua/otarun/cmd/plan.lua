-- otarun plan FILE...: validate, plan, check policies, render. With
-- credentials the plan is the diff against the platform ("live": otarun.plan.refresh, otarun.plan.diff,
-- otarun.plan.platform_checks); --refresh=false diffs against the state store alone ("state");
-- --offline plans from the store's records when there is a store, else from nothing ("offline");
-- no credentials without --offline is an error (exit 1). Invalid scripts (including the
-- platform checks' errors) print their diagnostics and no plan (exit 3). A plan denied by policy
-- is printed with the denials (exit 4). An unreadable platform exits 1. --out saves the plan
-- (otarun.plan.saved, with the state fingerprint); --detailed-exitcode exits 2 on changes.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local clients = require("otarun.platform.clients")
local pipeline = require("otarun.plan.pipeline")

local M = {}

M.OPTIONS = { ["--detailed-exitcode"] = "bool", ["--out"] = "string", ["--refresh"] = "bool",
              ["--override"] = "list", ["--reason"] = "string" }

M.HELP = [[
usage: otarun plan [OPTIONS] FILE...

Validates rollout scripts, reads what runs on the platform, works out when each wave can start,
and prints one action per wave (+ create, ~ update, -/+ replace, - cancel, ... wait) with the
exact API calls it makes. It needs credentials (ALIBABA_CLOUD_ACCESS_KEY_ID and
ALIBABA_CLOUD_ACCESS_KEY_SECRET, or a profile of ~/.aliyun/config.json): without them it fails
(exit 1) unless --offline is given. With --offline the platform is not contacted: the plan compares
with the state store's records when there is a store (a running wave is not shown as a create),
else it is marked "platform state unknown". --refresh=false compares with the recorded state only.

options:
  --format text|json|markdown   output format (text)
  --out FILE                    also save the plan (JSON, with the state fingerprint) to FILE
  --detailed-exitcode           exit 2 when the plan has changes (create, update, replace, cancel)
  --offline                     never contact the platform (no credentials needed)
  --refresh=false               compare with the state store only (no platform calls)
  --state PATH                  state store (.otarun/state.db; also OTARUN_STATE)
  --endpoint URL                API endpoint (https://iot.<region>.aliyuncs.com; also OTARUN_ENDPOINT)
  --profile NAME                profile of ~/.aliyun/config.json
  --policy DIR                  also judge the plan by the policies in DIR (repeatable)
  --override POLICY.RULE        accept a failed soft policy rule (repeatable; needs --reason)
  --reason TEXT                 why the overrides are acceptable (recorded in the plan)
  --now TIME                    evaluate as if it were TIME (RFC 3339)
  --var NAME=VALUE              set var.NAME for the scripts (repeatable)
  --region REGION               region for rollouts that do not name one
  --max-memory BYTES, --max-instructions N, --max-seconds S   script limits
  --no-color                    never colour the output

exit: 0 no changes (or changes without --detailed-exitcode), 1 error, 2 changes,
      3 invalid script, 4 denied by policy, 64 usage error
]]

-- The store the plan compares with, read-only (plan never takes the lock). Without a store yet,
-- an empty one in memory gives the same answers and the same fingerprint apply will see.
local function open_state(opts)
  local state = require("otarun.state")
  local st, err, code = state.open{ state = opts.state, readonly = true, command = "plan" }
  if st then return st end
  if code ~= "notfound" then return nil, err end
  return state.open{ state = ":memory:", command = "plan" }
end

-- Credentials for a live plan, or nil and why: a live plan without them is an error that names
-- where otarun looked, never a silent offline plan (--offline says that on purpose).
local function load_credentials(opts)
  local creds, err = require("otarun.platform.credentials").load{ profile = opts.profile }
  if creds then return creds end
  return nil, tostring(err) .. "; or plan without the platform: otarun plan --offline"
end

-- Mode and what it needs: "offline" (--offline: no platform; with a state store, its records,
-- so a running rollout is not shown as a create), "state" (--refresh=false: the store only),
-- "live" (the platform, through one client per endpoint). -> mode | nil, message
local function connect(opts, ctx)
  if opts.offline then
    local st, _, code = require("otarun.state").open{ state = opts.state, readonly = true, command = "plan" }
    if not st then
      if code ~= "notfound" then return nil, _ end
      return "offline"
    end
    ctx.state = st
    ctx.no_fingerprint = true -- the platform was not read: this plan cannot be applied
    return "state"
  end
  if opts.refresh ~= false then
    local creds, err = load_credentials(opts)
    if not creds then return nil, err end
    ctx.client_for, ctx.close = clients.cache{ creds = creds, endpoint = clients.endpoint(opts),
      opts = opts, new = { log = opts.verbose and function(line) io.stderr:write("otarun plan: ", line, "\n") end or nil } }
  end
  local st, err = open_state(opts)
  if not st then return nil, err end
  ctx.state = st
  return opts.refresh == false and "state" or "live"
end

-- The renderers never read the normalised waves (`spec`, for policies): let them go before
-- rendering, so a plan of 10,000 waves is printed in about half the memory.
local function release_specs(res)
  for _, r in ipairs(res.plan.rollouts) do
    for _, w in ipairs(r.waves) do w.spec = nil end
  end
  res.rollouts = nil
  pipeline.collect()
end

-- Prints the plan in ctx.format and saves it (otarun.plan.saved) to `out` (unless nil).
-- -> true | nil, message
local function emit(plan, ctx, out)
  local rjson = require("otarun.render.json")
  if out then
    local ok, err = require("otarun.plan.saved").write(out, plan, ctx.saved_info)
    if not ok then return nil, err end
  end
  if ctx.format == "json" then
    rjson.write_plan(plan, require("otarun.json").file_sink(io.stdout))
  else
    io.stdout:write(pipeline.render_plan(plan, ctx))
  end
  return true
end

function M.main(argv)
  local opts, files = command.parse(argv, M, "some")
  for _, f in ipairs(files) do
    if require("otarun.apply.saved").is_plan(f) then
      failure.raise("usage", "%s is a saved plan, not a rollout script: show it with otarun show %s, apply it with otarun apply %s", f, f, f)
    end
  end
  local ctx = pipeline.context(opts)
  local policy = require("otarun.policy")
  local overrides, oerr = policy.parse_overrides(opts.override, opts.reason)
  if not overrides then failure.raise("usage", "%s", oerr) end
  local mode = failure.check(connect(opts, ctx))
  ctx.mode = mode
  ctx.saved_info = { files = files, vars = ctx.vars, region = opts.region,
    endpoint = clients.endpoint(opts), state = require("otarun.state").redact(require("otarun.state").resolve(opts)) }
  local res, err = pipeline.plan(files, ctx)
  if ctx.close then ctx.close() end
  if ctx.state then ctx.state:close() end
  if not res then failure.raise("error", "%s", err) end
  if not res.ok then
    io.stdout:write(pipeline.render_diagnostics(res, ctx))
    failure.exit("invalid")
  end
  local restore = require("otarun.plan").without_removed(res.plan)
  local _, denied, denials, info = policy.evaluate(res.plan, { dirs = opts.policy, overrides = overrides,
                                                               now = ctx.now })
  restore()
  for _, note in ipairs(res.plan.notes or {}) do io.stderr:write("otarun plan: note: ", note, "\n") end
  for _, msg in ipairs(info.unmatched or {}) do io.stderr:write("otarun plan: warning: ", msg, "\n") end
  release_specs(res)
  -- a denied plan is shown but not saved: there is nothing to apply
  failure.check(emit(res.plan, ctx, not denied and opts.out or nil))
  if denied then
    failure.raise("denied", "denied by policy:\n  %s", table.concat(denials, "\n  "))
  end
  if opts.detailed_exitcode and require("otarun.plan").has_changes(res.plan) then return failure.CODES.changes end
  return failure.CODES.ok
end

return M
