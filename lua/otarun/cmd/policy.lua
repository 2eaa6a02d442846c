-- otarun policy test [DIR]: runs policy test cases (otarun.policy.testing), like `opa test`.
-- Without DIR it runs the built-in policies' own tests. Exit 0 when every case passes, 1 otherwise.
local args = require("otarun.cli.args")
local failure = require("otarun.failure")

local M = {}

M.HELP = [[
usage: otarun policy test [DIR] [-v]

Runs the test cases beside the policies of DIR (DIR/tests/*.lua and DIR/*_test.lua) against the
policies of DIR; without DIR, the built-in policies and their tests. Prints each failing case
(every case with -v) and "N passed, N failed"; exits 1 when a case fails.
]]

function M.main(argv)
  local opts, pos = args.parse(argv, {})
  if opts.help then
    io.stdout:write(M.HELP)
    return 0
  end
  local sub = pos[1]
  if sub ~= "test" then
    failure.raise("usage", sub and ("unknown subcommand %q; the policy command has: test") or "expected a subcommand: policy test [DIR]", sub)
  end
  if #pos > 2 then failure.raise("usage", "policy test takes at most one DIR") end
  local testing = require("otarun.policy.testing")
  local _, failed = testing.run(pos[2], function(line) io.stdout:write(line, "\n") end,
                                { verbose = opts.verbose })
  return failed == 0 and failure.CODES.ok or failure.CODES.error
end

return M
