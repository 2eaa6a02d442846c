-- otarun plan FILE...: validate, plan, check policies, render (SPEC §1, §4, §5, §7a). With
-- credentials the plan is the diff against the platform ("live": otarun.refresh, otarun.diff,
-- otarun.platform_checks); --refresh=false diffs against the state store alone ("state");
-- --offline or no credentials plans from nothing ("offline"). Invalid scripts (including the
-- platform checks' errors) print their diagnostics and no plan (exit 3). A plan denied by policy
-- is printed with the denials (exit 4). An unreadable platform exits 1. --out saves the plan
-- (otarun.plan.saved, with the state fingerprint); --detailed-exitcode exits 2 on changes.
local args = require("otarun.args")
local control = require("otarun.control")
local pipeline = require("otarun.pipeline")

local M = {}

M.OPTIONS = { ["--detailed-exitcode"] = "bool", ["--out"] = "string", ["--refresh"] = "bool",
              ["--override"] = "list", ["--reason"] = "string" }

M.HELP = [[
usage: otarun plan [OPTIONS] FILE...

Validates rollout scripts, reads what runs on the platform, works out when each wave can start,
and prints one action per wave (+ create, ~ update, -/+ replace, - cancel, ... wait) with the
exact API calls it makes. Without credentials, or with --offline, the plan is computed offline
and marked "platform state unknown"; --refresh=false compares with the recorded state only.

options:
  --format text|json|markdown   output format (text)
  --out FILE                    also save the plan (JSON, with the state fingerprint) to FILE
  --detailed-exitcode           exit 2 when the plan has changes (create, update, replace, cancel)
  --offline                     never contact the platform
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
  --max-memory BYTES, --max-instructions N   script limits
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

-- Credentials, or false (none: plan offline; a half-done setup is said on stderr), or nil,
-- message (a profile asked for by name cannot be used).
local function load_credentials(opts)
  local creds, err = require("otarun.credentials").load{ profile = opts.profile }
  if creds then return creds end
  if opts.profile then return nil, err end
  if not tostring(err):match("^no credentials") then
    io.stderr:write("otarun plan: note: planning offline: ", tostring(err), "\n")
  end
  return false
end

-- Mode and what it needs: "offline" (--offline, or no credentials), "state" (--refresh=false:
-- the store only), "live" (the platform, through one client per endpoint). -> mode | nil, message
local function connect(opts, ctx)
  if opts.offline then return "offline" end
  if opts.refresh ~= false then
    local creds, err = load_credentials(opts)
    if creds == nil then return nil, err end
    if not creds then return "offline" end
    ctx.client_for, ctx.close = control.client_cache{ creds = creds, endpoint = control.endpoint(opts),
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
  local opts, files = control.parse(argv, M)
  if not opts then return 0 end
  if #files == 0 then args.usage_error("plan needs at least one FILE") end
  local ctx = pipeline.context(opts)
  local policy = require("otarun.policy")
  local overrides, oerr = policy.parse_overrides(opts.override, opts.reason)
  if not overrides then args.usage_error("%s", oerr) end
  local mode, cerr = connect(opts, ctx)
  if not mode then
    io.stderr:write("otarun plan: ", cerr, "\n")
    return 1
  end
  ctx.mode = mode
  ctx.saved_info = { files = files, vars = ctx.vars, region = opts.region,
    endpoint = control.endpoint(opts), state = require("otarun.state").redact(require("otarun.state").resolve(opts)) }
  local res, err = pipeline.plan(files, ctx)
  if ctx.close then ctx.close() end
  if ctx.state then ctx.state:close() end
  if not res then
    io.stderr:write("otarun plan: ", err, "\n")
    return 1
  end
  if not res.ok then
    io.stdout:write(pipeline.render_diagnostics(res, ctx))
    return 3
  end
  local restore = require("otarun.plan").without_removed(res.plan)
  local _, denied, denials, info = policy.evaluate(res.plan, { dirs = opts.policy, overrides = overrides,
                                                               now = ctx.now })
  restore()
  for _, note in ipairs(res.plan.notes or {}) do io.stderr:write("otarun plan: note: ", note, "\n") end
  for _, msg in ipairs(info.unmatched or {}) do io.stderr:write("otarun plan: warning: ", msg, "\n") end
  release_specs(res)
  -- a denied plan is shown but not saved: there is nothing to apply
  local ok, werr = emit(res.plan, ctx, not denied and opts.out or nil)
  if not ok then
    io.stderr:write("otarun plan: ", werr, "\n")
    return 1
  end
  if denied then
    io.stderr:write("otarun plan: denied by policy:\n")
    for _, d in ipairs(denials) do io.stderr:write("  ", d, "\n") end
    return 4
  end
  if opts.detailed_exitcode and require("otarun.plan").has_changes(res.plan) then return 2 end
  return 0
end

return M
