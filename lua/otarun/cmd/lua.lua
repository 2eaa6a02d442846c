-- otarun lua FILE [ARGS]: a trusted Lua interpreter with otarun's modules, as `lua FILE` would run
-- it (global `arg`, full standard library). It runs the busted specs. os.exit is turned into a
-- return from here, so the host closes the state and exits from main.
local failure = require("otarun.failure")

local M = {}

local Exit = {}

function M.main(argv)
  local file = argv[1]
  if file == nil or file == "-h" or file == "--help" then
    io.stdout:write("usage: otarun lua FILE [ARGS]\n\nRuns FILE as trusted Lua with otarun's modules.\n")
    if file == nil then failure.exit("usage") end
    return failure.CODES.ok
  end
  local fn, err = loadfile(file, "t")
  if not fn then failure.raise("error", "%s", err) end
  local script_arg = { [0] = file }
  for i = 2, #argv do script_arg[i - 1] = argv[i] end
  _G.arg = script_arg
  local real_exit = os.exit
  os.exit = function(code)
    if code == true or code == nil then code = 0 elseif code == false then code = 1 end
    error(setmetatable({ code = code }, Exit), 0)
  end
  local ok, res = xpcall(fn, function(e)
    if getmetatable(e) == Exit then return e end
    return debug.traceback(tostring(e), 2)
  end, table.unpack(script_arg, 1, #script_arg))
  os.exit = real_exit
  if ok then return 0 end
  if getmetatable(res) == Exit then return res.code end
  failure.raise("error", "%s", tostring(res))
end

return M
