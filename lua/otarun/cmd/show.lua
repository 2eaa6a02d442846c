-- otarun show PLAN: renders a plan saved with `otarun plan --out` as text, markdown or JSON, the
-- way `otarun plan` printed it, without contacting the platform or the state store. The saved
-- file is read by otarun.apply.saved, exactly as `otarun apply PLAN` reads it.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local pipeline = require("otarun.plan.pipeline")

local M = {}

M.OPTIONS = {}

M.HELP = [[
usage: otarun show [OPTIONS] PLAN

Renders a plan saved with `otarun plan --out PLAN`: its waves, actions and the exact API calls
`otarun apply PLAN` would make, its diagnostics and policy results. Reads only the file.

options:
  --format text|json|markdown   output format (text; markdown for a pull-request comment)
  --no-color                    never colour the output

exit: 0 shown, 1 the file cannot be read or is not a saved plan, 64 usage error
]]

function M.main(argv)
  local opts, files = command.parse(argv, M)
  if #files ~= 1 then failure.raise("usage", "show needs exactly one PLAN (a file saved with otarun plan --out)") end
  local ctx = pipeline.context(opts)
  local saved = require("otarun.apply.saved")
  if not saved.is_plan(files[1]) then
    local fh = io.open(files[1], "rb")
    if fh then fh:close() end
    io.stderr:write("otarun show: ", files[1], fh and " is not a saved plan (write one with otarun plan --out FILE)"
      or ": cannot read it", "\n")
    return 1
  end
  local plan, err = saved.load(files[1])
  if not plan then
    io.stderr:write("otarun show: ", err, "\n")
    return 1
  end
  io.stdout:write(pipeline.render_plan(plan, ctx))
  return 0
end

return M
