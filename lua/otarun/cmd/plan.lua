-- otarun plan FILE...: validate, plan, check policies, render (SPEC §1, §4, §5, §7a). Invalid
-- scripts print their diagnostics and no plan (exit 3). A plan denied by policy is printed with
-- the denials (exit 4). --out saves the plan's JSON atomically; --detailed-exitcode exits 2 when
-- the plan has changes.
local args = require("otarun.args")
local pipeline = require("otarun.pipeline")

local M = {}

M.OPTIONS = { ["--detailed-exitcode"] = "bool", ["--out"] = "string", ["--refresh"] = "bool",
              ["--override"] = "list", ["--reason"] = "string" }

M.HELP = [[
usage: otarun plan [OPTIONS] FILE...

Validates rollout scripts, works out when each wave can start, and prints one action per wave
with the exact API calls it makes. Without credentials, or with --offline, the plan is computed
offline and marked "platform state unknown".

options:
  --format text|json|markdown   output format (text)
  --out FILE                    also save the plan as JSON to FILE
  --detailed-exitcode           exit 2 when the plan has changes (create, update, replace, cancel)
  --offline                     never contact the platform
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

-- Comparing with the platform (modes "state" and "live") comes with the apply work; until then
-- every plan is offline, marked "platform state unknown", and a user with credentials is told so.
local function mode_of(opts)
  local key = os.getenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
  if not opts.offline and key ~= nil and key ~= "" then
    io.stderr:write("otarun plan: note: comparing with the platform is not in this build yet; planning offline\n")
  end
  return "offline"
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

-- Prints the plan in ctx.format and saves its JSON to `out` (unless nil). -> true | nil, message
local function emit(plan, ctx, out)
  local rjson = require("otarun.render.json")
  if out then
    local ok, err = require("otarun.core.sys").write_atomic(out, rjson.plan(plan))
    if not ok then return nil, string.format("cannot save the plan to %s: %s", out, tostring(err)) end
  end
  if ctx.format == "json" then
    rjson.write_plan(plan, require("otarun.json").file_sink(io.stdout))
  else
    io.stdout:write(pipeline.render_plan(plan, ctx))
  end
  return true
end

function M.main(argv)
  local opts, files = args.parse(argv, M.OPTIONS)
  if opts.help then
    io.stdout:write(M.HELP)
    return 0
  end
  if #files == 0 then args.usage_error("plan needs at least one FILE") end
  local ctx = pipeline.context(opts)
  local policy = require("otarun.policy")
  local overrides, oerr = policy.parse_overrides(opts.override, opts.reason)
  if not overrides then args.usage_error("%s", oerr) end
  ctx.mode = mode_of(opts)
  local res, err = pipeline.plan(files, ctx)
  if not res then
    io.stderr:write("otarun plan: ", err, "\n")
    return 1
  end
  if not res.ok then
    io.stdout:write(pipeline.render_diagnostics(res, ctx))
    return 3
  end
  local _, denied, denials, info = policy.evaluate(res.plan, { dirs = opts.policy, overrides = overrides,
                                                               now = ctx.now })
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
