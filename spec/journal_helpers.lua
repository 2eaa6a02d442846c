-- Crash trials of the journal's other callers (docs/architecture.md, "The journal"): `otarun run
-- --once` starting waves and `otarun abort` cancelling them, SIGKILLed at a given moment, then run
-- again; the emulator's admin API and the store are compared. Shared by spec/journal_crash_spec.lua
-- and bench/crash. Uses apply_helpers.lua.
local ah = require("apply_helpers")

local M = {}

local function by_action(server, action)
  local c = ah.admin(server, "GET", "counters")
  return c.requests.by_action[action] or 0
end

-- Seconds one uninterrupted command takes against a fresh emulator with n rollouts set up by
-- `prepare(server, db, script)` (nil: nothing). -> seconds
function M.typical(n, argv_of, prepare)
  local sys = require("otarun.core.sys")
  local dir = ah.tmpdir()
  local server = ah.start(dir, n, { qps = { "*=0" } })
  local db, script = dir .. "/state.db", ah.rollouts(dir .. "/cams.lua", n)
  if prepare then prepare(server, db, script) end
  local t0 = sys.monotonic()
  local code, out, err = ah.otarun(server, db, argv_of(script))
  local secs = sys.monotonic() - t0
  server.stop()
  ah.rm_rf(dir)
  assert(code == 0, out .. err)
  return secs
end

function M.run_argv(script) return { "run", script, "--once" } end
function M.abort_argv(script) return { "abort", script, "--reason", "crash trial" } end

-- Every rollout's wave started by an uninterrupted apply (the jobs abort then cancels).
function M.applied(server, db, script)
  local code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve", "--qps", "*=0" })
  assert(code == 0, out .. err)
  ah.admin(server, "POST", "counters/reset")
end

-- `otarun run --once` over n one-wave rollouts (n creates) killed after `delay` s, then run
-- --once again (must exit 0 and leave no open intent) and a third time (must create nothing).
-- -> { created_before, unsettled, rerun, again, open_after, creates_again, duplicates, lost,
--      missing, total, err }
function M.run_trial(n, delay)
  local dir = ah.tmpdir()
  local server = ah.start(dir, n, { qps = { "*=0" } })
  local db, script = dir .. "/state.db", ah.rollouts(dir .. "/cams.lua", n)
  ah.kill_after(server, db, M.run_argv(script), delay, dir)
  local r = { created_before = #ah.jobs(server), unsettled = ah.open_intents(db) }
  local code, out, err = ah.otarun(server, db, M.run_argv(script))
  r.rerun = code
  if code ~= 0 then r.err = out .. err end
  r.open_after = ah.open_intents(db)
  local creates = by_action(server, "CreateOTADynamicUpgradeJob")
  code, out, err = ah.otarun(server, db, M.run_argv(script))
  r.again = code
  if code ~= 0 then r.err = (r.err or "") .. out .. err end
  r.creates_again = by_action(server, "CreateOTADynamicUpgradeJob") - creates
  for k, v in pairs(ah.audit_jobs(server, db, n)) do r[k] = v end
  server.stop()
  ah.rm_rf(dir)
  return r
end

-- `otarun abort` of n running rollouts (n strategy cancels, n task cancels) killed after `delay`
-- s, then abort again (must exit 0). -> { strategy = CancelOTAStrategyByJob requests, tasks =
-- CancelOTATaskByJob requests, running = jobs not CANCELED, unsettled (when killed), open_after,
-- rerun, err }
function M.abort_trial(n, delay)
  local dir = ah.tmpdir()
  local server = ah.start(dir, n, { qps = { "*=0" } })
  local db, script = dir .. "/state.db", ah.rollouts(dir .. "/cams.lua", n)
  M.applied(server, db, script)
  ah.kill_after(server, db, M.abort_argv(script), delay, dir)
  local r = { unsettled = ah.open_intents(db), strategy_before = by_action(server, "CancelOTAStrategyByJob") }
  local code, out, err = ah.otarun(server, db, M.abort_argv(script))
  r.rerun = code
  if code ~= 0 then r.err = out .. err end
  r.open_after = ah.open_intents(db)
  r.strategy = by_action(server, "CancelOTAStrategyByJob")
  r.tasks = by_action(server, "CancelOTATaskByJob")
  r.running, r.total = 0, 0
  for _, j in ipairs(ah.jobs(server)) do
    r.total = r.total + 1
    if j.JobStatus ~= "CANCELED" then r.running = r.running + 1 end
  end
  server.stop()
  ah.rm_rf(dir)
  return r
end

return M
