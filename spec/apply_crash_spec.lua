-- Crash safety: `otarun apply` creating 50 jobs (50 one-wave rollouts, each its own
-- firmware) is SIGKILLed at a random moment, 20 times, each against a fresh emulator and store;
-- one rerun must finish, a third run must plan nothing, and the emulator's admin API must show
-- exactly 50 jobs, one per rollout, every one known to the store. Kill delays are stratified over
-- the length of an uninterrupted run so kills land before, during and after the creates. Quotas
-- are lifted on both sides (--qps '*=0') except the client paces creates at 100/s, so the
-- creates take about half a second and the kills spread over them.
local ah = require("apply_helpers")

local N, TRIALS = 50, 20

describe("apply killed at random points", function()
  it("converges with no duplicate and no lost job, 20 times out of 20", function()
    local typical = ah.typical_run(N, 100)
    local midway, lines = 0, {}
    for t = 1, TRIALS do
      local delay = typical * (t - 1 + math.random()) / TRIALS
      local r = ah.crash_trial(N, delay, { client_qps = 100 })
      local line = string.format("trial %2d: killed after %.3fs with %d/%d jobs, %d open intents; rerun %d, "
        .. "then %d; %d jobs, %d duplicates, %d lost, %d missing", t, delay, r.created_before, N, r.unsettled,
        r.rerun, r.again, r.total, r.duplicates, r.lost, r.missing)
      lines[#lines + 1] = line
      assert.are.equal(0, r.rerun, line .. "\n" .. tostring(r.err))
      assert.are.equal(0, r.again, line .. "\n" .. tostring(r.err))
      assert.is_true(r.no_changes, line)
      assert.are.same({ 0, 0, 0, N }, { r.duplicates, r.lost, r.missing, r.total }, line)
      if (r.created_before > 0 and r.created_before < N) or r.unsettled > 0 then midway = midway + 1 end
    end
    io.stderr:write("\n", table.concat(lines, "\n"), "\n")
    -- the test means something only if some kills landed while jobs were being created
    assert.is_true(midway >= 3, string.format("only %d of %d kills landed during the creates", midway, TRIALS))
  end)
end)
