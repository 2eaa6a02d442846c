-- Helpers for the apply / status specs: a fleet with one verified firmware per rollout, a script of
-- N one-wave dynamic rollouts (each its own firmware), an emulator started on 127.0.0.1:0 with a
-- manual clock, otarun commands run against it with credentials from the environment and a
-- private state store, and the emulator's admin API (jobs, counters, faults, qps).
local h = require("helpers")
local ch = require("client_helpers")
local cjson = require("cjson")

local M = {}

M.KEY, M.SECRET = "LTAI5tApplySpecKey", "applySpecSecret-5e6f7a8b9c0d1e2f"
M.PK = "a1Le6d0abcd"

M.tmpdir = h.tmpdir

function M.rm_rf(dir) os.execute("rm -rf " .. h.shell_quote(dir)) end

-- What the apply specs set up and tear down around a describe: a temp dir with an emulator in
-- it serving `n` firmware packages (start's options `o`), and where the state store goes.
-- -> dir, server, db
function M.up(n, o)
  local dir = M.tmpdir()
  local ok, server = pcall(M.start, dir, n, o)
  if not ok then
    M.rm_rf(dir)
    error(server, 0)
  end
  return dir, server, dir .. "/state.db"
end

function M.down(server, dir)
  if server then server.stop() end
  if dir then M.rm_rf(dir) end
end

function M.firmware_id(i, prefix) return string.format("%s%04d", prefix or "fwApply", i) end

-- A fleet with `n` verified firmware packages (ids fwApply0001...) and 20 devices on 2.3.1.
function M.fleet(dir, n, prefix)
  local fw = {}
  for i = 1, n do
    fw[i] = string.format('{ id = %q, version = "2.4.0", name = "cam-240-%d", verified = true }',
      M.firmware_id(i, prefix), i)
  end
  return h.write(dir .. "/fleet.lua", string.format([[
fleet {
  product = %q,
  devices = { { version = "2.3.1", count = 20 }, { version = "2.3.0", count = 10 } },
  firmware = { %s },
  duration = { min = "5m", max = "40m" }, online = 1, seed = 7,
}
]], M.PK, table.concat(fw, ",\n    ")))
end

-- A script of rollouts cam-0001..cam-N (from `first`), one dynamic wave "all" each, rate `rate`.
function M.rollouts(path, n, o)
  o = o or {}
  local text = {}
  for i = o.first or 1, n do
    text[#text + 1] = string.format([[
rollout %q {
  product = %q, region = "cn-shanghai",
  firmware = firmware { id = %q, version = "2.4.0", verified = true },
  wave "all" { versions = { "2.3.1" }, rate = %d, timeout = "1h" },
}
]], string.format("%s-%04d", o.name or "cam", i), M.PK, M.firmware_id(i, o.prefix), o.rate or 100)
  end
  return h.write(path, table.concat(text))
end

-- start(dir, n, { qps = { "*=0" }, fleet = TEXT }) -> server { url, port, pid, stop() }
-- o.fleet: the fleet file's text instead of the generated one (n is then ignored).
function M.start(dir, n, o)
  o = o or {}
  local fleet = o.fleet and h.write(dir .. "/fleet.lua", o.fleet) or M.fleet(dir, n, o.prefix)
  local qps = {}
  for _, q in ipairs(o.qps or {}) do qps[#qps + 1] = "--qps " .. h.shell_quote(q) end
  return ch.start(string.format("%s emulator --listen 127.0.0.1:0 --fleet %s --key %s:%s --clock manual --quiet %s",
    h.shell_quote(h.bin), h.shell_quote(fleet), M.KEY, M.SECRET, table.concat(qps, " ")))
end

function M.env(extra)
  local env = { ALIBABA_CLOUD_ACCESS_KEY_ID = M.KEY, ALIBABA_CLOUD_ACCESS_KEY_SECRET = M.SECRET,
    HOME = "/nonexistent-home", NO_COLOR = "1" }
  for k, v in pairs(extra or {}) do env[k] = v end
  return env
end

-- otarun CMD ARGS... --endpoint URL --state DB -> code, stdout, stderr
function M.otarun(server, db, argv, opts)
  local full = {}
  for _, a in ipairs(argv) do full[#full + 1] = a end
  for _, a in ipairs({ "--endpoint", server.url, "--state", db }) do full[#full + 1] = a end
  opts = opts or {}
  return ch.run(full, { env = M.env(opts.env), stdin = opts.stdin })
end

-- The shell command line of an otarun command against the server (for background runs).
function M.cmdline(server, db, argv)
  local parts = {}
  for k, v in pairs(M.env()) do parts[#parts + 1] = k .. "=" .. h.shell_quote(v) end
  parts[#parts + 1] = h.shell_quote(h.bin)
  for _, a in ipairs(argv) do parts[#parts + 1] = h.shell_quote(a) end
  for _, a in ipairs({ "--endpoint", server.url, "--state", db }) do parts[#parts + 1] = h.shell_quote(a) end
  return table.concat(parts, " ")
end

function M.admin(server, method, path, body)
  local http = require("otarun.core.http")
  local c = http.client()
  local r = assert(c:request{ method = method, url = server.url .. "/_emulator/" .. path,
    body = body and cjson.encode(body), headers = body and { ["content-type"] = "application/json" } })
  c:close()
  assert(r.status == 200, "admin " .. method .. " " .. path .. ": " .. r.body)
  return cjson.decode(r.body)
end

function M.jobs(server) return M.admin(server, "GET", "jobs").jobs end

-- identity tag value -> list of jobs carrying it
function M.jobs_by_identity(server)
  local by = {}
  for _, j in ipairs(M.jobs(server)) do
    for _, t in ipairs(j.Tags or {}) do
      if t.Key == "otarun" then
        by[t.Value] = by[t.Value] or {}
        table.insert(by[t.Value], j)
      end
    end
  end
  return by
end

-- The jobs the store knows: job_id -> row (opened read-only, while no apply runs).
function M.store_jobs(db)
  local state = require("otarun.state")
  local st = assert(state.open{ state = db, readonly = true })
  local out = {}
  for _, j in ipairs(st:jobs()) do out[j.job_id] = j end
  local open = st:unsettled()
  local waves = st:list("waves")
  st:close()
  return out, open, waves
end

-- Duplicates (identities with more than one job) and lost jobs (on the platform, unknown to the
-- store, or a rollout with no job) for rollouts NAME-0001..NAME-n.
function M.audit_jobs(server, db, n, name)
  local by = M.jobs_by_identity(server)
  local known = M.store_jobs(db)
  local dupes, lost, missing = 0, 0, 0
  for i = 1, n do
    local id = string.format("%s-%04d/all", name or "cam", i)
    local list = by[id] or {}
    if #list == 0 then missing = missing + 1 end
    if #list > 1 then dupes = dupes + #list - 1 end
    for _, j in ipairs(list) do
      if not known[j.JobId] then lost = lost + 1 end
    end
  end
  return { duplicates = dupes, lost = lost, missing = missing, total = #M.jobs(server) }
end

-- ---- kill and rerun ----------------------------------------------------------------------------

-- A zombie counts as gone: it holds nothing (its locks are released), and the reaper of orphans
-- may take a second or more to collect it.
local function alive(pid)
  local fh = io.open("/proc/" .. pid .. "/stat", "rb")
  if not fh then return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true end
  local stat = fh:read("a") or ""
  fh:close()
  local state = stat:match("^%d+ %b() (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

-- Starts `otarun ARGV` against the server in the background and SIGKILLs it `delay` seconds after
-- t0 (sys.monotonic()); returns once it is gone. -> the output it wrote before the kill
function M.kill_after(server, db, argv, delay, dir, t0)
  local sys = require("otarun.core.sys")
  local log, pidfile = dir .. "/killed.log", dir .. "/killed.pid"
  t0 = t0 or sys.monotonic()
  os.execute(string.format("%s >%s 2>&1 </dev/null & echo $! >%s", M.cmdline(server, db, argv),
    h.shell_quote(log), h.shell_quote(pidfile)))
  local pid = tonumber(h.slurp(pidfile):match("%d+"))
  local left = delay - (sys.monotonic() - t0)
  if left > 0 then sys.sleep(left) end
  os.execute("kill -9 " .. pid .. " 2>/dev/null")
  while alive(pid) do sys.sleep(0.005) end
  return h.slurp(log)
end

-- Open intents in the store (0 when there is no store yet).
function M.open_intents(db)
  local f = io.open(db, "rb")
  if not f then return 0 end
  f:close()
  local ok, _, open = pcall(M.store_jobs, db)
  return ok and #open or 0
end

-- One crash trial against a fresh emulator and store: `otarun apply` of n one-wave rollouts is
-- SIGKILLed after `delay` seconds, then run again (once, it must finish) and a third time (it
-- must plan nothing). -> { created_before = jobs when killed, unsettled = open intents it left,
--   finished = the killed run had completed already, rerun = exit code, again = exit code,
--   duplicates, lost, missing, total, err = stderr of a failed rerun }
function M.crash_trial(n, delay, o)
  o = o or {}
  local sys = require("otarun.core.sys")
  local dir = M.tmpdir()
  local server = o.server or M.start(dir, n, { qps = { "*=0" } })
  local db = dir .. "/state.db"
  local script = M.rollouts(dir .. "/cams.lua", n)
  local argv = { "apply", script, "--auto-approve", "--qps", "*=0", "--qps",
    "CreateOTADynamicUpgradeJob=" .. (o.client_qps or 0) }
  local t0 = sys.monotonic()
  local out = M.kill_after(server, db, argv, delay, dir, t0)
  local r = { finished = out:find("Apply complete", 1, true) ~= nil }
  r.created_before = #M.jobs(server)
  r.unsettled = M.open_intents(db)
  local code, err
  code, out, err = M.otarun(server, db, argv)
  r.rerun = code
  if code ~= 0 then r.err = out .. err end
  r.adopted, r.absent = 0, 0
  local st = require("otarun.state").open{ state = db, readonly = true }
  for _, i in ipairs(st and st:list("intents") or {}) do
    local res = i.result or ""
    if res:find("resolved after a crash: adopted", 1, true) then r.adopted = r.adopted + 1 end
    if res:find("resolved after a crash: not created", 1, true) then r.absent = r.absent + 1 end
  end
  if st then st:close() end
  if o.skip_again then
    r.again, r.no_changes = 0, true
  else
    code, out, err = M.otarun(server, db, argv)
    r.again = code
    r.no_changes = out:find("No changes.", 1, true) ~= nil
    if code ~= 0 then r.err = (r.err or "") .. out .. err end
  end
  local a = M.audit_jobs(server, db, n)
  for k, v in pairs(a) do r[k] = v end
  r.seconds = sys.monotonic() - t0
  if not o.server then server.stop() end
  M.rm_rf(dir)
  return r
end

-- Seconds one uninterrupted apply of n rollouts takes (process start to exit), for the kill delays.
function M.typical_run(n, client_qps)
  local sys = require("otarun.core.sys")
  local dir = M.tmpdir()
  local server = M.start(dir, n, { qps = { "*=0" } })
  local script = M.rollouts(dir .. "/cams.lua", n)
  local t0 = sys.monotonic()
  local code, out, err = M.otarun(server, dir .. "/state.db", { "apply", script, "--auto-approve", "--qps",
    "*=0", "--qps", "CreateOTADynamicUpgradeJob=" .. (client_qps or 0) })
  local secs = sys.monotonic() - t0
  server.stop()
  M.rm_rf(dir)
  assert(code == 0, out .. err)
  return secs
end

return M
