-- Crash safety of the journal's other callers (docs/architecture.md, "The journal"): `otarun run
-- --once` starting 20 waves and `otarun abort` cancelling 20 running ones are SIGKILLed at random
-- moments, spread over the length of an uninterrupted run, each against a fresh emulator and store.
-- A rerun must finish with no open intent; the emulator must show no duplicate job and no lost
-- one (run), and every job cancelled with each strategy cancelled exactly once and at most one
-- task cancel sent twice, the one in flight when the process died (abort).
local jh = require("journal_helpers")

local N, TRIALS = 20, 8

local function delays(typical)
  local out = {}
  for t = 1, TRIALS do out[t] = typical * (t - 1 + math.random()) / TRIALS end
  return out
end

describe("the journal under SIGKILL", function()
  it("run --once killed at random points: no duplicate, no lost job", function()
    local typical = jh.typical(N, jh.run_argv)
    local midway, lines = 0, {}
    for t, delay in ipairs(delays(typical)) do
      local r = jh.run_trial(N, delay)
      local line = string.format("run trial %d: killed after %.3fs with %d/%d jobs, %d open intents; rerun %d, "
        .. "then %d (%d creates); %d jobs, %d duplicates, %d lost, %d missing, %d open after", t, delay,
        r.created_before, N, r.unsettled, r.rerun, r.again, r.creates_again, r.total, r.duplicates, r.lost,
        r.missing, r.open_after)
      lines[#lines + 1] = line
      assert.are.same({ 0, 0, 0 }, { r.rerun, r.again, r.open_after }, line .. "\n" .. tostring(r.err))
      assert.are.same({ 0, 0, 0, N, 0 }, { r.duplicates, r.lost, r.missing, r.total, r.creates_again }, line)
      if (r.created_before > 0 and r.created_before < N) or r.unsettled > 0 then midway = midway + 1 end
    end
    io.stderr:write("\n", table.concat(lines, "\n"), "\n")
    assert.is_true(midway >= 2, string.format("only %d of %d kills landed while waves were starting", midway, TRIALS))
  end)

  it("abort killed at random points: every job cancelled, no strategy cancel sent twice", function()
    local typical = jh.typical(N, jh.abort_argv, jh.applied)
    local midway, lines = 0, {}
    for t, delay in ipairs(delays(typical)) do
      local r = jh.abort_trial(N, delay)
      local line = string.format("abort trial %d: killed after %.3fs with %d/%d strategies cancelled, %d open "
        .. "intents; rerun %d; %d strategy cancels, %d task cancels, %d of %d jobs still running, %d open after",
        t, delay, r.strategy_before, N, r.unsettled, r.rerun, r.strategy, r.tasks, r.running, r.total, r.open_after)
      lines[#lines + 1] = line
      assert.are.same({ 0, 0, 0, N }, { r.rerun, r.open_after, r.running, r.total }, line .. "\n" .. tostring(r.err))
      assert.are.equal(N, r.strategy, line)
      assert.is_true(r.tasks >= N and r.tasks <= N + 1, line)
      if (r.strategy_before > 0 and r.strategy_before < N) or r.unsettled > 0 then midway = midway + 1 end
    end
    io.stderr:write("\n", table.concat(lines, "\n"), "\n")
    assert.is_true(midway >= 2, string.format("only %d of %d kills landed while abort was cancelling", midway, TRIALS))
  end)
end)
