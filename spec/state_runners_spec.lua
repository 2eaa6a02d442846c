-- Several runners on one PostgreSQL state store (docs/state.md, "Locks", "Shared API quota"),
-- against the real emulator over 127.0.0.1 enforcing the documented per-action QPS: three
-- `otarun run --once` loops in three working directories over 60 rollouts, one SIGKILLed
-- mid-tick; then exactly one job per wave, not one throttled answer, and `status` from a fourth
-- directory sees every wave. And the fault: the PostgreSQL server restarted mid-apply makes apply
-- exit 1 with a clear message, and the next apply converges with no duplicate job.
local h = require("helpers")
local ah = require("apply_helpers")
local sys = require("otarun.core.sys")
local cjson = require("cjson")

local PG = os.getenv("OTARUN_TEST_PG")
assert(PG and PG ~= "", "state_runners_spec needs OTARUN_TEST_PG (ctest starts scripts/pg-test-server)")
local PG_DIR = os.getenv("OTARUN_TEST_PG_DIR")

local N = 60

local function url(tag)
  return string.format("%s?schema=r%d_%s", PG, sys.getpid(), tag)
end

-- Starts `otarun ARGV` in the background in directory cwd. -> pid, log path
local function spawn(server, db, cwd, argv, log)
  local pidfile = cwd .. "/pid"
  os.execute(string.format("cd %s && %s >%s 2>&1 </dev/null & echo $! >%s", h.shell_quote(cwd),
    ah.cmdline(server, db, argv), h.shell_quote(log), h.shell_quote(pidfile)))
  return tonumber(h.slurp(pidfile):match("%d+"))
end

local function wait_exit(pid, seconds)
  local t0 = sys.monotonic()
  while sys.monotonic() - t0 < seconds do
    if os.execute("kill -0 " .. pid .. " 2>/dev/null") ~= true then return true end
    local stat = h.slurp("/proc/" .. pid .. "/stat")
    if stat:match("^%d+ %b() Z") then return true end
    sys.sleep(0.05)
  end
  return false
end

describe("three runners on one PostgreSQL store", function()
  local dir, server, script

  setup(function()
    dir, server = ah.up(N) -- the emulator enforces the documented QPS
    script = ah.rollouts(dir .. "/cams.lua", N)
  end)
  teardown(function() ah.down(server, dir) end)

  it("split 60 rollouts: one job per wave, nothing throttled, every wave seen from a fourth directory", function()
    local db = url("split")
    local runners = {}
    for i = 1, 3 do
      local cwd = dir .. "/runner" .. i
      os.execute("mkdir -p " .. h.shell_quote(cwd))
      -- two ticks each, in its own working directory
      local loop = h.write(cwd .. "/loop.sh", string.format(
        "for i in 1 2; do %s || echo \"tick exit $?\"; done\n",
        ah.cmdline(server, db, { "run", script, "--once", "--format", "json" })))
      runners[i] = { cwd = cwd, log = cwd .. "/log" }
      os.execute(string.format("cd %s && sh %s >%s 2>&1 </dev/null & echo $! >%s", h.shell_quote(cwd),
        h.shell_quote(loop), h.shell_quote(runners[i].log), h.shell_quote(cwd .. "/pid")))
      runners[i].pid = tonumber(h.slurp(cwd .. "/pid"):match("%d+"))
    end
    -- the third runner's first tick is SIGKILLed once it has started creating jobs
    local t0 = sys.monotonic()
    while #ah.jobs(server) < 5 and sys.monotonic() - t0 < 60 do sys.sleep(0.05) end
    os.execute("pkill -KILL -P " .. runners[3].pid .. " 2>/dev/null; kill -KILL " .. runners[3].pid .. " 2>/dev/null")
    for i = 1, 2 do assert.is_true(wait_exit(runners[i].pid, 240), "runner " .. i .. " did not finish") end
    local by = ah.jobs_by_identity(server)
    local missing, dupes = 0, 0
    for i = 1, N do
      local list = by[string.format("cam-%04d/all", i)] or {}
      if #list == 0 then missing = missing + 1 end
      if #list > 1 then dupes = dupes + #list - 1 end
    end
    assert.are.same({ missing = 0, duplicates = 0 }, { missing = missing, duplicates = dupes })
    local counters = ah.admin(server, "GET", "counters")
    assert.are.equal(0, counters.throttled.total, cjson.encode(counters.throttled))
    -- both surviving runners did some of the work, and skipped what the other held
    local logs = h.slurp(runners[1].log) .. h.slurp(runners[2].log)
    assert.matches('"kind":"skip"', logs, 1, true)
    assert.matches('locked by pid', logs, 1, true)
    -- a fourth directory: status sees all 60 waves running with their job
    local cwd = dir .. "/viewer"
    os.execute("mkdir -p " .. h.shell_quote(cwd))
    local out = cwd .. "/status.json"
    local _, _, code = os.execute(string.format("cd %s && %s >%s 2>%s", h.shell_quote(cwd),
      ah.cmdline(server, db, { "status", script, "--format", "json" }), h.shell_quote(out), h.shell_quote(out .. ".err")))
    assert.are.equal(0, code, h.slurp(out .. ".err"))
    local doc = cjson.decode(h.slurp(out))
    local seen, states = 0, {}
    for _, r in ipairs(doc.rollouts) do
      for _, w in ipairs(r.waves) do
        -- started by some runner: running, or passed/done already (later jobs find no device left)
        if w.job_id and w.job_id ~= cjson.null and w.state ~= "waiting" and w.state ~= "not recorded" then
          seen = seen + 1
        end
        states[w.state] = (states[w.state] or 0) + 1
      end
    end
    assert.are.equal(N, seen, cjson.encode(states))
    assert.is_nil(io.open(cwd .. "/.otarun/state.db"), "status made no local store")
  end)

  it("stops with exit 1 when PostgreSQL restarts mid-apply, and the next apply converges without a duplicate", function()
    assert(PG_DIR, "needs OTARUN_TEST_PG_DIR (scripts/pg-test-server exec)")
    local db = url("fault")
    local fdir, fserver = ah.up(20, { prefix = "fwFault" })
    finally(function() ah.down(fserver, fdir) end)
    local server = fserver
    local M = 20
    local more = ah.rollouts(fdir .. "/more.lua", M, { name = "lamp", prefix = "fwFault" })
    local cwd = fdir .. "/fault"
    os.execute("mkdir -p " .. h.shell_quote(cwd))
    -- slow creates (2/s) so the restart lands mid-apply
    local pid = spawn(server, db, cwd, { "apply", more, "--auto-approve", "--qps", "CreateOTADynamicUpgradeJob=2" },
      cwd .. "/apply.log")
    local before = #ah.jobs(server)
    local t0 = sys.monotonic()
    while #ah.jobs(server) < before + 3 and sys.monotonic() - t0 < 60 do sys.sleep(0.05) end
    local _, _, rc = os.execute(string.format("%s/../scripts/pg-test-server restart %s >/dev/null 2>&1",
      h.shell_quote(h.src .. "/spec"), h.shell_quote(PG_DIR)))
    assert.are.equal(0, rc, "restarting PostgreSQL")
    assert.is_true(wait_exit(pid, 60))
    local log = h.slurp(cwd .. "/apply.log")
    assert.matches("lost the connection to the state database", log, 1, true)
    assert.is_nil(log:find("Apply complete", 1, true))
    local code, out, err = ah.otarun(server, db, { "apply", more, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    local a = ah.audit_jobs(server, db, M, "lamp")
    assert.are.equal(0, a.duplicates)
    assert.are.equal(0, a.missing)
    assert.are.equal(0, a.lost)
    code, out, err = ah.otarun(server, db, { "apply", more, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    assert.is_nil(out:find("CreateOTA", 1, true))
  end)
end)
