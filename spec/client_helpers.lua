-- Helpers for the signed-client specs: start a background server that prints
-- `listening on http://127.0.0.1:PORT` (the emulator, or spec/fixtures/fake_platform.py), stop it
-- by its own pid, and remember every text a spec saw so the last test can look for secrets in it.
local h = require("helpers")
local sys = require("otarun.core.sys")

local M = {}

M.seen = {}
function M.saw(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "string" then M.seen[#M.seen + 1] = v end
  end
  return ...
end

-- Runs the otarun binary like helpers.run and records what it printed.
function M.run(argv, opts)
  local code, out, err = h.run(argv, opts)
  M.saw(out, err)
  return code, out, err
end

function M.have(cmd)
  local ok = os.execute("command -v " .. cmd .. " >/dev/null 2>&1")
  return ok == true
end

-- start("python3 spec/fixtures/fake_platform.py") -> server { url, port, pid, log, stop() }
function M.start(cmdline, timeout)
  local log, pidfile = os.tmpname(), os.tmpname()
  os.execute(string.format("%s >%s 2>&1 </dev/null & echo $! >%s", cmdline,
    h.shell_quote(log), h.shell_quote(pidfile)))
  local pid = tonumber((h.slurp(pidfile):match("%d+")))
  os.remove(pidfile)
  local deadline = sys.monotonic() + (timeout or 10)
  local server = { pid = pid, log = log }
  function server.stop()
    if server.pid then os.execute("kill " .. server.pid .. " 2>/dev/null") end
    server.pid = nil
    M.saw(h.slurp(log))
    os.remove(log)
  end
  while sys.monotonic() < deadline do
    local text = h.slurp(log)
    local url = text:match("listening on (http://127%.0%.0%.1:%d+)")
    if url then
      server.url = url
      server.port = tonumber(url:match(":(%d+)$"))
      return server
    end
    sys.sleep(0.05)
  end
  local text = h.slurp(log)
  server.stop()
  error("server did not start: " .. cmdline .. "\n" .. text)
end

-- GET a loopback URL and decode its JSON.
function M.get_json(url)
  local http = require("otarun.core.http")
  local c = http.client()
  local r = assert(c:request{ method = "GET", url = url })
  c:close()
  return require("cjson").decode(r.body)
end

return M
