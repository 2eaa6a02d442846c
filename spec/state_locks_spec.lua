-- Locks per rollout between real processes (docs/state.md, "Locks"), on SQLite and on PostgreSQL
-- (OTARUN_TEST_PG, ctest's scripts/pg-test-server), against the real emulator over 127.0.0.1:
-- `otarun apply` takes the locks of the rollouts it plans, not the whole store. It waits for a held
-- one (saying who holds it) and goes on when it is released, gives up after --lock-timeout with
-- exit 1 naming the holder, goes ahead beside a process holding another rollout without touching
-- that rollout's open intents, and finds the lock of a SIGKILLed holder free; a runner holds one
-- rollout's lock at a time, letting each go once its part of the tick is done. And the audit log
-- read as the notification outbox (docs/notifications.md): a reader that has seen a later entry
-- has seen every earlier one, whatever order the writers' transactions commit in.
local h = require("helpers")
local ah = require("apply_helpers")
local sys = require("otarun.core.sys")

local ENGINES = { { name = "SQLite", path = function(dir, name) return dir .. "/" .. name .. ".db" end } }
local PG = os.getenv("OTARUN_TEST_PG")
if PG and PG ~= "" then
  ENGINES[2] = { name = "PostgreSQL", pg = true, path = function(_, name)
    return string.format("%s?schema=l%d_%s", PG, sys.getpid(), name)
  end }
end

-- Holds the lock of rollout arg[2] (recording it first), as `otarun run` would, with an open
-- intent for its wave "all" when arg[5] is "intent"; writes its pid to arg[3] once it holds, then
-- sleeps arg[4] seconds and lets go.
local HOLDER = [[
local state = require("otarun.state")
local sys = require("otarun.core.sys")
local db, name, pidfile, hold, intent = arg[1], arg[2], arg[3], tonumber(arg[4]), arg[5]
local st = assert(state.open({ state = db, command = "run" }))
assert(st:record_rollout({ name = name, waves = { { name = "all", kind = "dynamic" } } }))
assert(st:lock_rollout(name, 0))
if intent == "intent" then
  assert(st:intent({ rollout = name, wave = "all", action = "CreateOTADynamicUpgradeJob",
    params = { FirmwareId = "fwNone" }, identity = name .. "/all" }))
end
local fh = assert(io.open(pidfile .. ".tmp", "w"))
fh:write(tostring(sys.getpid()))
fh:close()
os.rename(pidfile .. ".tmp", pidfile)
sys.sleep(hold)
st:close()
]]

local wait_for, gone = h.wait_for, h.process_gone

for _, engine in ipairs(ENGINES) do
describe("apply and the locks per rollout on " .. engine.name, function()
  local dir, server, holder, pids

  setup(function()
    dir, server = ah.up(4)
    holder = h.write(dir .. "/holder.lua", HOLDER)
  end)
  teardown(function() ah.down(server, dir) end)
  before_each(function() pids = {} end)
  after_each(function()
    for _, pid in ipairs(pids) do os.execute("kill -KILL " .. pid .. " 2>/dev/null") end
  end)

  -- Starts a holder of `rollout` in the background for `seconds`. -> its pid
  local function hold(db, rollout, seconds, intent)
    local pidfile = h.tmpname()
    os.remove(pidfile)
    os.execute(string.format("%s lua %s %s %s %s %d %s >/dev/null 2>&1 &", h.shell_quote(h.bin),
      h.shell_quote(holder), h.shell_quote(db), h.shell_quote(rollout), h.shell_quote(pidfile), seconds,
      intent and "intent" or "-"))
    assert(wait_for(function() return h.slurp(pidfile) ~= "" end, 20), "the holder never took the lock")
    local pid = tonumber(h.slurp(pidfile))
    os.remove(pidfile)
    pids[#pids + 1] = pid
    return pid
  end

  local function holder_text(rollout, pid)
    return string.format('rollout "%s" locked by pid %d on host %s since %%d%%d%%d%%d%%-[^\n]*%%(run%%)',
      rollout:gsub("%-", "%%-"), pid, sys.hostname():gsub("%p", "%%%0"))
  end

  it("waits for a held rollout, naming the holder, and goes on once it is released", function()
    local db = engine.path(dir, "wait")
    local script = ah.rollouts(dir .. "/one.lua", 1)
    local pid = hold(db, "cam-0001", 3)
    local t0 = sys.monotonic()
    local code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve", "--lock-timeout", "30" })
    assert.are.equal(0, code, out .. err)
    assert.matches(holder_text("cam-0001", pid) .. "; waiting up to 30s", err)
    assert.matches("Apply complete: 1 waves", out, 1, true)
    assert.is_true(sys.monotonic() - t0 >= 1, "apply did not wait")
    assert.is_true(gone(pid) or wait_for(function() return gone(pid) end, 5))
  end)

  it("gives up after --lock-timeout with exit 1 naming the holder; a SIGKILLed holder's lock is free", function()
    local db = engine.path(dir, "timeout")
    local script = ah.rollouts(dir .. "/two.lua", 2, { first = 2 })
    local pid = hold(db, "cam-0002", 120)
    local t0 = sys.monotonic()
    local code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve", "--lock-timeout", "1" })
    assert.are.equal(1, code, out .. err)
    assert.matches(holder_text("cam-0002", pid) .. "; gave up after waiting 1s", err)
    assert.is_true(sys.monotonic() - t0 < 15)
    assert.is_nil(err:find("traceback", 1, true), err)
    assert.is_nil(ah.jobs_by_identity(server)["cam-0002/all"])
    -- killed: the kernel drops the flock, PostgreSQL ends the session and its advisory lock
    os.execute("kill -KILL " .. pid)
    assert(wait_for(function() return gone(pid) end, 10), "the holder did not die")
    code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve", "--lock-timeout", "10" })
    assert.are.equal(0, code, out .. err)
    assert.matches("Apply complete: 1 waves", out, 1, true)
  end)

  it("applies rollout A while another process holds rollout B, leaving B's open intent alone", function()
    local db = engine.path(dir, "beside")
    local a = ah.rollouts(dir .. "/three.lua", 3, { first = 3 })
    local pid = hold(db, "cam-0004", 120, true)
    local t0 = sys.monotonic()
    local code, out, err = ah.otarun(server, db, { "apply", a, "--auto-approve", "--lock-timeout", "0" })
    assert.are.equal(0, code, out .. err)
    assert.matches("Apply complete: 1 waves", out, 1, true)
    assert.is_true(sys.monotonic() - t0 < 20)
    -- the holder's intent is its own to resolve: still open, nothing sent for cam-0004
    local _, open = ah.store_jobs(db)
    assert.are.equal(1, #open)
    assert.are.same({ "cam-0004", "pending" }, { open[1].rollout, open[1].state })
    assert.is_nil(ah.jobs_by_identity(server)["cam-0004/all"])
    -- and B itself waits for its holder
    local b = ah.rollouts(dir .. "/four.lua", 4, { first = 4 })
    code, out, err = ah.otarun(server, db, { "apply", b, "--auto-approve", "--lock-timeout", "0" })
    assert.are.equal(1, code, out .. err)
    assert.matches(holder_text("cam-0004", pid), err)
    assert.is_true(gone(pid) == false)
  end)

  it("a runner holds one rollout's lock at a time, letting each go once its part of the tick is done", function()
    local rdir, rserver = ah.up(4, { prefix = "fwRel" })
    finally(function() ah.down(rserver, rdir) end)
    local db = engine.path(rdir, "release")
    local script = ah.rollouts(rdir .. "/rel.lua", 4, { name = "rel", prefix = "fwRel" })
    -- each create takes 0.8 s, so the tick is seconds long
    ah.admin(rserver, "POST", "faults", { action = "CreateOTADynamicUpgradeJob", latency_ms = 800 })
    local pidfile = rdir .. "/run.pid"
    os.execute(string.format("%s >%s 2>&1 </dev/null & echo $! >%s",
      ah.cmdline(rserver, db, { "run", script, "--once" }), h.shell_quote(rdir .. "/run.log"), h.shell_quote(pidfile)))
    local pid = tonumber(h.slurp(pidfile):match("%d+"))
    pids[#pids + 1] = pid
    local most, seen = 0, 0
    while not gone(pid) do
      local st = require("otarun.state").open{ state = db, readonly = true }
      if st then
        local mine = 0
        for _, l in ipairs(st:list("locks") or {}) do
          if l.pid == pid then mine = mine + 1 end
        end
        st:close()
        most = math.max(most, mine)
        if mine > 0 then seen = seen + 1 end
      end
      sys.sleep(0.05)
    end
    ah.admin(rserver, "DELETE", "faults")
    assert.are.equal(4, #ah.jobs(rserver), h.slurp(rdir .. "/run.log"))
    assert.is_true(seen > 0, "never saw the runner holding a lock")
    assert.are.equal(1, most)
  end)
end)
end

-- ---- the audit log as the outbox ------------------------------------------------------------

-- Writes one audit entry (arg[2] names it) inside a transaction held open arg[4] seconds, its pid
-- to arg[3] once the entry is written (before the commit).
local SLOW_WRITER = [[
local st = assert(require("otarun.state").open({ state = arg[1], command = "run" }))
local sys = require("otarun.core.sys")
st:transaction(function()
  assert(st:audit({ kind = "decision", action = "event:" .. arg[2], rollout = "cam", result = arg[2] }))
  local fh = assert(io.open(arg[3] .. ".tmp", "w"))
  fh:write(tostring(sys.getpid()))
  fh:close()
  os.rename(arg[3] .. ".tmp", arg[3])
  sys.sleep(tonumber(arg[4]))
end)
st:close()
]]

for _, engine in ipairs(ENGINES) do
describe("the audit log read as the notification outbox on " .. engine.name, function()
  it("never moves its cursor past an entry whose transaction commits later", function()
    local dir = h.tmpdir()
    finally(function() ah.rm_rf(dir) end)
    local db = engine.path(dir, "outbox")
    local writer = h.write(dir .. "/writer.lua", SLOW_WRITER)
    local outbox = require("otarun.notify.outbox")
    local st = assert(require("otarun.state").open({ state = db, command = "run" }))
    assert(st:audit({ kind = "decision", action = "event:first", rollout = "cam", result = "first" }))
    local ix = outbox.index(st)
    local function ran(name, seconds)
      local pidfile = dir .. "/" .. name .. ".pid"
      os.execute(string.format("%s lua %s %s %s %s %s >%s 2>&1 &", h.shell_quote(h.bin), h.shell_quote(writer),
        h.shell_quote(db), name, h.shell_quote(pidfile), seconds, h.shell_quote(dir .. "/" .. name .. ".log")))
      return pidfile
    end
    -- "slow" has its entry written, its transaction open for 2 s; "quick" writes one meanwhile
    local slow = ran("slow", 2)
    assert(wait_for(function() return h.slurp(slow) ~= "" end, 20), "the slow writer never wrote")
    local quick = ran("quick", 0)
    local function has(result)
      for _, ev in pairs(outbox.index(st).events) do
        if ev.text == result then return true end
      end
      return false
    end
    -- read as a runner would, again and again, until the quick entry is in
    assert(wait_for(function() return has("quick") end, 30), "the quick entry never showed: "
      .. h.slurp(dir .. "/quick.log") .. h.slurp(dir .. "/slow.log"))
    assert(wait_for(function() return gone(h.slurp(slow)) end, 20))
    assert.is_true(has("slow"), "the cursor moved past the slow writer's entry (last " .. ix.last .. ")")
    assert.is_true(h.slurp(quick) ~= "")
    st:close()
  end)
end)
end

describe("--lock-timeout", function()
  it("is whole seconds, 0 or more, in apply as in the other commands (exit 64 otherwise)", function()
    local script = h.write(h.tmpname() .. ".lua", "-- no rollout\n")
    for _, cmd in ipairs({ "apply", "approve", "abort" }) do
      local argv = { cmd, script, "--lock-timeout", "1.5" }
      if cmd == "apply" then argv[#argv + 1] = "--auto-approve" end
      local code, out, err = h.run(argv)
      assert.are.equal(64, code, cmd .. ": " .. out .. err)
      assert.matches('--lock-timeout needs an integer, got "1.5"', err, 1, true)
    end
    local code, out, err = h.run({ "apply", script, "--auto-approve", "--lock-timeout", "-1" })
    assert.are.equal(64, code, out .. err)
    assert.matches("--lock-timeout must be 0 or more seconds, got -1", err, 1, true)
    os.remove(script)
  end)
end)
