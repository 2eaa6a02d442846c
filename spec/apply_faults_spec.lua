-- Faults (issue 5): with the emulator answering 10% of requests with a 5xx, dropping 5% of
-- connections without an answer, and throttling (its create quota is 20/s while the client is told
-- it may send 60/s), ONE `otarun apply` of 100 one-wave rollouts completes: unknown outcomes are
-- resolved through the identity tag, refused requests are sent again, and the emulator ends with
-- exactly one job per wave, every one known to the store. The faults must really have happened.
local ah = require("apply_helpers")

local N = 100

describe("apply under injected faults", function()
  local dir, server
  setup(function() dir, server = ah.up(N, { qps = { "ListOTAJobByFirmware=50" } }) end)
  teardown(function() ah.down(server, dir) end)

  it("creates 100 jobs in one run with 10% 5xx, 5% dropped connections and throttling", function()
    local fault = { error_rate = 0.10, status = 503, drop_rate = 0.05 }
    ah.admin(server, "POST", "faults", { ["*"] = fault })
    local db = dir .. "/state.db"
    local script = ah.rollouts(dir .. "/cams.lua", N)
    local code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve",
      "--qps", "CreateOTADynamicUpgradeJob=60", "--qps", "ListOTAJobByFirmware=50", "-v" })
    local counters = ah.admin(server, "GET", "counters")
    ah.admin(server, "DELETE", "faults")
    assert.are.equal(0, code, out .. err:sub(-3000))
    assert.matches("Apply complete: 100 waves, 100 calls", out, 1, true)
    assert.are.same({ duplicates = 0, lost = 0, missing = 0, total = N }, ah.audit_jobs(server, db, N))
    local _, open = ah.store_jobs(db)
    assert.are.equal(0, #open)
    -- the faults happened, and apply went through each kind
    assert.is_true(counters.faults.errors >= 5, "5xx injected: " .. counters.faults.errors)
    assert.is_true(counters.faults.dropped >= 2, "dropped: " .. counters.faults.dropped)
    assert.is_true(counters.throttled.total >= 3, "throttled: " .. counters.throttled.total)
    assert.matches("sending again", err, 1, true)
    io.stderr:write(string.format("\n%d requests: %d 5xx, %d dropped, %d throttled; %s\n",
      counters.requests.total, counters.faults.errors, counters.faults.dropped, counters.throttled.total,
      out:match("Apply complete: ([^\n]*)")))
  end)
end)
