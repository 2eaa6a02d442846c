-- bench/crash.lua: crash safety at scale. TRIALS times, `otarun apply` creating N jobs (N one-wave
-- rollouts, each its own firmware) against a fresh emulator and store is SIGKILLed after a random
-- delay (uniform over the length of an uninterrupted run), then run again; the emulator's admin
-- API and the store are compared: duplicates (a wave with two jobs), lost jobs (on the platform
-- but unknown to the store), missing jobs (a wave without one) and reruns that did not finish.
-- MODE run or abort: the same for `otarun run --once` (the scheduler's creates) and `otarun abort`
-- (its cancels), through the intent journal too.
-- Run: bench/crash [TRIALS] [N] [apply|run|abort], or otarun lua bench/crash.lua TRIALS N MODE.
local here = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = here .. "/../spec/?.lua;" .. package.path
local ah = require("apply_helpers")
local sys = require("otarun.core.sys")

local trials = tonumber(arg[1]) or 500
local n = tonumber(arg[2]) or 50
local mode = arg[3] or "apply"
local client_qps = tonumber(os.getenv("BENCH_CLIENT_QPS") or "100")
math.randomseed(tonumber(os.getenv("BENCH_SEED") or "") or os.time())

-- `run --once` (the scheduler's creates) and `abort` (its cancels), through spec/journal_helpers.lua
if mode == "run" or mode == "abort" then
  local jh = require("journal_helpers")
  local typical = mode == "run" and jh.typical(n, jh.run_argv) or jh.typical(n, jh.abort_argv, jh.applied)
  io.stdout:write(string.format("bench/crash %s: %d trials of %d rollouts; an uninterrupted %s takes %.2f s\n",
    mode, trials, n, mode, typical))
  local t0 = sys.monotonic()
  local bad, midway, extra_tasks = 0, 0, 0
  for t = 1, trials do
    local delay = math.random() * typical
    local r = mode == "run" and jh.run_trial(n, delay) or jh.abort_trial(n, delay)
    local ok
    if mode == "run" then
      ok = r.rerun == 0 and r.again == 0 and r.open_after == 0 and r.creates_again == 0
        and r.duplicates + r.lost + r.missing == 0 and r.total == n
      if (r.created_before > 0 and r.created_before < n) or r.unsettled > 0 then midway = midway + 1 end
    else
      ok = r.rerun == 0 and r.open_after == 0 and r.running == 0 and r.strategy == n and r.tasks <= n + 1
      extra_tasks = extra_tasks + (r.tasks - n)
      if (r.strategy_before > 0 and r.strategy_before < n) or r.unsettled > 0 then midway = midway + 1 end
    end
    if not ok then
      bad = bad + 1
      io.stdout:write(string.format("trial %d (killed after %.3f s) failed: %s\n", t, delay, (r.err or ""):sub(-400)))
    end
  end
  io.stdout:write(string.format("trials: %d (killed midway: %d)\nfailed trials (duplicate, lost or unfinished): %d\n%s"
    .. "time: %.0f s\n", trials, midway, bad,
    mode == "abort" and string.format("task cancels sent twice (in flight at the kill): %d\n", extra_tasks) or "",
    sys.monotonic() - t0))
  os.exit(bad == 0 and 0 or 1)
end

local typical = ah.typical_run(n, client_qps)
io.stdout:write(string.format("bench/crash: %d trials of %d creates; an uninterrupted apply takes %.2f s "
  .. "(client %s/s, emulator quotas lifted)\n", trials, n, typical, client_qps))
local t0 = sys.monotonic()
local sum = { duplicates = 0, lost = 0, missing = 0, failed_reruns = 0, midway = 0, before = 0, after = 0,
  adopted = 0, absent = 0 }
for t = 1, trials do
  local delay = math.random() * typical
  local r = ah.crash_trial(n, delay, { client_qps = client_qps, skip_again = true })
  sum.duplicates = sum.duplicates + r.duplicates
  sum.lost = sum.lost + r.lost
  sum.missing = sum.missing + r.missing
  sum.adopted = sum.adopted + r.adopted
  sum.absent = sum.absent + r.absent
  if r.rerun ~= 0 then
    sum.failed_reruns = sum.failed_reruns + 1
    io.stdout:write(string.format("trial %d: rerun exited %d: %s\n", t, r.rerun, (r.err or ""):sub(-400)))
  end
  if r.created_before == 0 and r.unsettled == 0 then sum.before = sum.before + 1
  elseif r.created_before == n and r.unsettled == 0 then sum.after = sum.after + 1
  else sum.midway = sum.midway + 1 end
  if r.duplicates + r.lost + r.missing > 0 then
    io.stdout:write(string.format("trial %d: killed after %.3f s: %d duplicates, %d lost, %d missing\n", t,
      delay, r.duplicates, r.lost, r.missing))
  end
  if t % 50 == 0 then
    io.stdout:write(string.format("  %d trials, %.0f s: %d duplicates, %d lost so far\n", t,
      sys.monotonic() - t0, sum.duplicates, sum.lost))
    io.stdout:flush()
  end
end
io.stdout:write(string.format([[
trials: %d (killed before the first create: %d, while creating: %d, after the last: %d)
open intents resolved on rerun: %d adopted (the job existed), %d not created (sent again)
duplicates: %d
lost jobs: %d
missing jobs: %d
reruns that did not finish: %d
time: %.0f s
]], trials, sum.before, sum.midway, sum.after, sum.adopted, sum.absent, sum.duplicates, sum.lost,
  sum.missing, sum.failed_reruns, sys.monotonic() - t0))
os.exit((sum.duplicates + sum.lost + sum.missing + sum.failed_reruns) == 0 and 0 or 1)
