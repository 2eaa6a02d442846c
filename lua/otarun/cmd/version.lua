-- otarun version
local M = {}

function M.main()
  local sys = require("otarun.core.sys")
  io.stdout:write(string.format("otarun %s (%s)\n", sys.version or "dev", _VERSION))
  return 0
end

return M
