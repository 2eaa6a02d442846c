-- Helpers shared by the specs: run the real otarun binary and capture what it prints, temp files.
local M = {}

M.bin = os.getenv("OTARUN_BIN") or "./build/otarun"
M.src = os.getenv("OTARUN_SRC") or "."

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.shell_quote = shell_quote

local function slurp(path)
  local fh = io.open(path, "rb")
  if not fh then return "" end
  local s = fh:read("a")
  fh:close()
  return s
end
M.slurp = slurp

-- A fresh empty directory under the temp dir (the caller removes it).
function M.tmpdir()
  local base = os.tmpname()
  os.remove(base)
  assert(require("otarun.core.sys").mkdirs(base))
  return base
end

function M.tmpname()
  local p = os.tmpname()
  return p
end

function M.write(path, text)
  local fh = assert(io.open(path, "wb"))
  fh:write(text)
  fh:close()
  return path
end

-- Writes text to a fresh temporary .lua file and returns its path.
function M.script(text)
  local p = os.tmpname() .. ".lua"
  return M.write(p, text)
end

-- run({ "plan", "x.lua" }, { env = { NO_COLOR = "1" }, stdin = "..." }) -> code, stdout, stderr
function M.run(argv, opts)
  opts = opts or {}
  local out, err = os.tmpname(), os.tmpname()
  local parts = {}
  for k, v in pairs(opts.env or {}) do parts[#parts + 1] = k .. "=" .. shell_quote(v) end
  parts[#parts + 1] = shell_quote(M.bin)
  for _, a in ipairs(argv) do parts[#parts + 1] = shell_quote(a) end
  local cmd = table.concat(parts, " ")
  if opts.stdin then
    local inp = M.write(os.tmpname(), opts.stdin)
    cmd = cmd .. " <" .. shell_quote(inp)
  else
    cmd = cmd .. " </dev/null"
  end
  cmd = cmd .. " >" .. shell_quote(out) .. " 2>" .. shell_quote(err)
  local _, _, code = os.execute(cmd)
  local o, e = slurp(out), slurp(err)
  os.remove(out)
  os.remove(err)
  return code, o, e
end

-- wait_for(pred, seconds) -> true once pred() is, false when the seconds ran out
function M.wait_for(pred, seconds)
  local sys = require("otarun.core.sys")
  local deadline = sys.monotonic() + seconds
  while sys.monotonic() < deadline do
    if pred() then return true end
    sys.sleep(0.05)
  end
  return false
end

-- Gone, or a zombie nobody reaps (it holds no files any more).
function M.process_gone(pid)
  local fh = io.open("/proc/" .. pid .. "/stat", "r")
  if not fh then return true end
  local stat = fh:read("a") or ""
  fh:close()
  local st = stat:match("%) (%a)")
  return st == nil or st == "Z" or st == "X"
end

return M
