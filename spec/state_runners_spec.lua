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

local N = 60

local function url(tag)
  return string.format("%s?schema=r%d_%s", PG, sys.getpid(), tag)
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
    -- both surviving runners did a fair part of the work (each walks the rollouts in an order of
    -- its own, docs/state.md "Locks"), and skipped what the other held
    local logs = h.slurp(runners[1].log) .. h.slurp(runners[2].log)
    assert.matches('"kind":"skip"', logs, 1, true)
    assert.matches('locked by pid', logs, 1, true)
    local split = {}
    for i = 1, 3 do
      split[i] = select(2, h.slurp(runners[i].log):gsub('"kind":"start"', ""))
    end
    for i = 1, 2 do
      assert.is_true(split[i] >= N // 6, "runner " .. i .. " started few jobs: " .. table.concat(split, " / "))
    end
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

  -- A PostgreSQL of the test's own, restarted under a command: the suite's is shared with other
  -- specs running at the same time.
  local function own_pg()
    local pgdir = ah.tmpdir()
    local script_dir = h.src .. "/scripts"
    local _, _, rc = os.execute(string.format("%s/pg-test-server start %s >/dev/null", h.shell_quote(script_dir),
      h.shell_quote(pgdir)))
    assert(rc == 0, "starting a PostgreSQL for the fault")
    local u = h.slurp(pgdir .. "/url"):gsub("%s+$", "")
    local pw = h.slurp(pgdir .. "/pgpass"):match(":([^:\n]+)\n?$")
    return {
      url = u .. "?schema=fault",
      -- for this process, whose PGPASSFILE is the suite's server's
      url_pw = u:gsub("^(postgresql://[^@/]+)@", "%1:" .. pw .. "@") .. "?schema=fault",
      env = { PGPASSFILE = pgdir .. "/pgpass" },
      restart = function()
        local _, _, r = os.execute(string.format("%s/pg-test-server restart %s >/dev/null 2>&1",
          h.shell_quote(script_dir), h.shell_quote(pgdir)))
        return r
      end,
      stop = function()
        os.execute(string.format("%s/pg-test-server stop %s >/dev/null 2>&1", h.shell_quote(script_dir),
          h.shell_quote(pgdir)))
        ah.rm_rf(pgdir)
      end,
    }
  end

  -- Starts `command` against the server, restarts PostgreSQL once `jobs` jobs exist, and returns
  -- its exit code and output. Creates are slowed (300 ms each) so the restart lands mid-command.
  local function restarted_under(pg, fserver, argv, jobs)
    ah.admin(fserver, "POST", "faults", { action = "CreateOTADynamicUpgradeJob", latency_ms = 300 })
    local cwd = ah.tmpdir()
    local log = cwd .. "/log"
    os.execute(string.format("(cd %s && PGPASSFILE=%s %s >%s 2>&1 </dev/null; echo $? >%s) &", h.shell_quote(cwd),
      h.shell_quote(pg.env.PGPASSFILE), ah.cmdline(fserver, pg.url, argv), h.shell_quote(log),
      h.shell_quote(cwd .. "/rc")))
    local t0 = sys.monotonic()
    while #ah.jobs(fserver) < jobs and sys.monotonic() - t0 < 60 do sys.sleep(0.05) end
    assert.are.equal(0, pg.restart(), "restarting PostgreSQL")
    while h.slurp(cwd .. "/rc") == "" and sys.monotonic() - t0 < 120 do sys.sleep(0.05) end
    ah.admin(fserver, "DELETE", "faults")
    local code, out = tonumber(h.slurp(cwd .. "/rc")), h.slurp(log)
    ah.rm_rf(cwd)
    return code, out
  end

  for _, cmd in ipairs({ "apply", "run" }) do
    it("stops with exit 1 when PostgreSQL restarts mid-" .. cmd .. ", and the next one converges without a duplicate", function()
      local pg = own_pg()
      local fdir, fserver = ah.up(20, { prefix = "fwFault" })
      finally(function()
        ah.down(fserver, fdir)
        pg.stop()
      end)
      local M = 20
      local more = ah.rollouts(fdir .. "/more.lua", M, { name = "lamp", prefix = "fwFault" })
      local argv = cmd == "apply" and { "apply", more, "--auto-approve" } or { "run", more, "--once" }
      local code, log = restarted_under(pg, fserver, argv, 3)
      assert.are.equal(1, code, log)
      assert.matches("lost the connection to the state database", log, 1, true)
      assert.is_nil(log:find("traceback", 1, true), log)
      assert.is_true(#ah.jobs(fserver) < M, "the restart landed after the last create")
      local out, err
      code, out, err = ah.otarun(fserver, pg.url, argv, { env = pg.env })
      assert.are.equal(0, code, out .. err)
      local a = ah.audit_jobs(fserver, pg.url_pw, M, "lamp")
      assert.are.same({ duplicates = 0, missing = 0, lost = 0 },
        { duplicates = a.duplicates, missing = a.missing, lost = a.lost })
    end)
  end
end)
