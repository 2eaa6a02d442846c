-- otarun validate FILE...: load each script, run every offline check, print the diagnostics and a
-- summary. Exit 3 when any diagnostic is an error, else 0; 64 for a usage error.
local args = require("otarun.cli.args")
local failure = require("otarun.failure")
local pipeline = require("otarun.plan.pipeline")

local M = {}

M.HELP = [[
usage: otarun validate [OPTIONS] FILE...

Checks rollout scripts offline: syntax, the rollout language, every API constraint.
Prints one line per finding (file:line: error[rule] rollout/wave: message (param)) and a summary.

options:
  --format text|json|markdown   output format (text)
  --var NAME=VALUE              set var.NAME for the scripts (repeatable)
  --now TIME                    evaluate as if it were TIME (RFC 3339)
  --region REGION               region for rollouts that do not name one
  --max-memory BYTES, --max-instructions N, --max-seconds S   script limits
  --no-color                    never colour the output

exit: 0 valid, 3 invalid (any error), 64 usage error
]]

function M.main(argv)
  local opts, files = args.parse(argv)
  if opts.help then
    io.stdout:write(M.HELP)
    return 0
  end
  if #files == 0 then failure.raise("usage", "validate needs at least one FILE") end
  local ctx = pipeline.context(opts)
  local res, err = pipeline.check(files, ctx)
  if not res then failure.raise("error", "%s", err) end
  io.stdout:write(pipeline.render_diagnostics(res, ctx))
  if not res.ok then failure.exit("invalid") end
  return failure.CODES.ok
end

return M
