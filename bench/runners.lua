-- bench/runners.lua: K runners on one PostgreSQL store (OTARUN_TEST_PG) over N one-wave dynamic
-- rollouts (each its own firmware) against `otarun emulator` at its default per-account QPS.
-- Each runner is an `otarun run` in its own working directory, started together. Timed: from the
-- start to the last job created (the work), and to the last runner's exit after SIGTERM. The
-- floor is what the quotas allow for one pass: N ListOTAJobByFirmware at 10/s. "ticks" counts
-- distinct event times (a tick that starts nothing emits none). The split: jobs started by each
-- runner (runners walk the rollouts in orders of their own, docs/state.md "Locks"). Lock waits:
-- an `otarun apply` of 10 of the rollouts started beside the runners once 20 jobs exist, the
-- rollout locks it waited for and the rollouts the runners skipped while it held them, its exit
-- code and time. Then the cost of one tick with
-- nothing to do, on SQLite and on PostgreSQL, against an unthrottled emulator.
-- Run: bench/runners [N] (starts the PostgreSQL).
local here = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = here .. "/../spec/?.lua;" .. package.path
local h = require("helpers")
local ah = require("apply_helpers")
local sys = require("otarun.core.sys")

local n = tonumber(arg[1]) or 200
local PG = assert(os.getenv("OTARUN_TEST_PG"), "run through bench/runners (it starts PostgreSQL)")

local function started(server) return #ah.jobs(server) end

-- `otarun apply` of rollouts cam-0001..cam-0010 started in the background once `after` jobs
-- exist, beside the runners: it waits for the rollout locks a runner holds. -> poll() -> nil while
-- it runs, then { code, seconds, waits (rollout locks it waited for), log }
local APPLY_ROLLOUTS = 10
local function apply_beside(dir, server, db)
  local script = ah.rollouts(dir .. "/apply.lua", APPLY_ROLLOUTS)
  local cwd = dir .. "/apply"
  os.execute("mkdir -p " .. h.shell_quote(cwd))
  -- the shell notes the start and end times (epoch seconds with nanoseconds) beside the exit code
  os.execute(string.format("(cd %s && t0=$(date +%%s.%%N) && %s >%s 2>&1 </dev/null; echo $? $t0 $(date +%%s.%%N) >%s.tmp && mv %s.tmp %s) &",
    h.shell_quote(cwd), ah.cmdline(server, db, { "apply", script, "--auto-approve", "--lock-timeout", "120" }),
    h.shell_quote(cwd .. "/log"), h.shell_quote(cwd .. "/rc"), h.shell_quote(cwd .. "/rc"), h.shell_quote(cwd .. "/rc")))
  local done
  return function()
    if done then return done end
    local rc, t0, t1 = h.slurp(cwd .. "/rc"):match("^(%d+) (%S+) (%S+)")
    if not rc then return nil end
    local log = h.slurp(cwd .. "/log")
    local waits = 0
    for _ in log:gmatch("waiting up to") do waits = waits + 1 end
    done = { code = tonumber(rc), seconds = tonumber(t1) - tonumber(t0), waits = waits, log = log }
    return done
  end
end

-- K runners (`otarun run`, ticking every 10 minutes at most) until all N waves have a job, then
-- SIGTERM (each stops cleanly after its tick); an apply of 10 of the rollouts beside them once
-- 20 jobs exist. -> seconds to the last job, seconds to the last exit, counters, ticks, skips,
-- audit, jobs started by each runner, the apply's outcome, skips of rollouts the apply held
local function trial(k)
  local dir = ah.tmpdir()
  local server = ah.start(dir, n)
  local script = ah.rollouts(dir .. "/cams.lua", n)
  local db = string.format("%s?schema=bench_%d_%d", PG, sys.getpid(), k)
  local pids = {}
  local t0 = sys.monotonic()
  for i = 1, k do
    local cwd = dir .. "/runner" .. i
    os.execute("mkdir -p " .. h.shell_quote(cwd))
    os.execute(string.format("cd %s && %s >%s 2>&1 </dev/null & echo $! >%s", h.shell_quote(cwd),
      ah.cmdline(server, db, { "run", script, "--interval", "10m", "--format", "json" }),
      h.shell_quote(cwd .. "/log"), h.shell_quote(cwd .. "/pid")))
    pids[i] = h.slurp(cwd .. "/pid"):match("%d+")
  end
  local apply
  while started(server) < n do
    if not apply and started(server) >= 20 then apply = apply_beside(dir, server, db) end
    sys.sleep(0.1)
  end
  local work = sys.monotonic() - t0
  for _, pid in ipairs(pids) do os.execute("kill -TERM " .. pid) end
  for _, pid in ipairs(pids) do
    while os.execute("kill -0 " .. pid .. " 2>/dev/null") == true do sys.sleep(0.02) end
  end
  local secs = sys.monotonic() - t0
  apply = apply or apply_beside(dir, server, db)
  while not apply() do sys.sleep(0.1) end
  local ticks, skips, by_apply, split = 0, 0, 0, {}
  for i = 1, k do
    local log = h.slurp(dir .. "/runner" .. i .. "/log")
    local seen = {}
    for at in log:gmatch('"at":"([^"]+)"') do if not seen[at] then seen[at], ticks = true, ticks + 1 end end
    for line in log:gmatch('[^\n]*"kind":"skip"[^\n]*') do
      skips = skips + 1
      if line:find("(apply)", 1, true) then by_apply = by_apply + 1 end
    end
    split[i] = 0
    for _ in log:gmatch('"kind":"start"') do split[i] = split[i] + 1 end
  end
  local c = ah.admin(server, "GET", "counters")
  if c.throttled.total > 0 then io.stderr:write("throttled: ", require("cjson").encode(c.throttled), "\n") end
  local audit = ah.audit_jobs(server, db, n)
  server.stop()
  ah.rm_rf(dir)
  return work, secs, c, ticks, skips, audit, split, apply(), by_apply
end

-- One `run --once` with nothing to do (every wave running), timed, on the given store.
local function tick_cost(db, server, script)
  assert(ah.otarun(server, db, { "apply", script, "--auto-approve" }) == 0)
  local best
  for _ = 1, 3 do
    local t0 = sys.monotonic()
    local code, out, err = ah.otarun(server, db, { "run", script, "--once" })
    assert(code == 0, out .. err)
    local s = sys.monotonic() - t0
    best = best and math.min(best, s) or s
  end
  return best
end

local floor = n / 10
local lines = { string.format("bench/runners: %d one-wave dynamic rollouts, one PostgreSQL store, emulator at the documented quotas", n) }
local ok = true
local results = {}
for _, k in ipairs({ 1, 3 }) do
  local work, secs, c, ticks, skips, audit, split, ap, by_apply = trial(k)
  results[k] = work
  lines[#lines + 1] = string.format(
    "%d runner%s  all jobs created %6.2f s  floor %5.1f s (ListOTAJobByFirmware 10/s)  %+6.1f%%  runners stopped %6.2f s  ticks %d  rollouts skipped (held by another) %d  throttled %d  jobs %d, duplicates %d, missing %d",
    k, k == 1 and " " or "s", work, floor, (work / floor - 1) * 100, secs, ticks, skips, c.throttled.total, audit.total,
    audit.duplicates, audit.missing)
  lines[#lines + 1] = string.format("          jobs started by each runner: %s (of %d; the apply started %d)",
    table.concat(split, " / "), n, audit.total - (function() local t = 0 for _, x in ipairs(split) do t = t + x end return t end)())
  lines[#lines + 1] = string.format(
    "          apply of %d rollouts beside them: exit %d in %.2f s, waited for %d rollout lock(s) a runner held; runners skipped %d rollout(s) the apply held",
    APPLY_ROLLOUTS, ap.code, ap.seconds, ap.waits, by_apply)
  if ap.code ~= 0 then io.stderr:write(ap.log) end
  ok = ok and c.throttled.total == 0 and audit.duplicates == 0 and audit.missing == 0 and ap.code == 0
end
ok = ok and results[3] <= results[1] * 1.05

-- the cost of a tick with nothing to do: SQLite vs PostgreSQL, emulator unthrottled
local dir = ah.tmpdir()
local server = ah.start(dir, n, { qps = { "*=0" } })
local script = ah.rollouts(dir .. "/cams.lua", n)
local sqlite = tick_cost(dir .. "/state.db", server, script)
server.stop()
server = ah.start(dir, n, { qps = { "*=0" } })
local pg = tick_cost(string.format("%s?schema=bench_%d_tick", PG, sys.getpid()), server, script)
server.stop()
ah.rm_rf(dir)
lines[#lines + 1] = string.format("one tick, nothing due, %d rollouts, emulator unthrottled (best of 3): SQLite %.2f s, PostgreSQL %.2f s (%+.0f%%)",
  n, sqlite, pg, (pg / sqlite - 1) * 100)
lines[#lines + 1] = ok and "targets met (3 runners no slower than 1, zero throttled, no duplicate)" or "targets NOT met"
io.stdout:write(table.concat(lines, "\n"), "\n")
os.exit(ok and 0 or 1)
