-- The run loop in process: the real scheduler, client, limiter and state store against an
-- in-process emulator on a manual clock (otarun.platform.transport_local), ticking and advancing simulated
-- time as `otarun run` would sleep. Proves that waves start only after the previous gate
-- passed and their delay and window allow (across time zones and a day boundary), a failing canary
-- halts the rollout (abort cancels its pending tasks), resume and approve continue it, and crashes
-- at random points of random ticks converge with no duplicate job and no skipped gate.
local h = require("helpers")
local emulator = require("otarun.emulator")
local tl = require("otarun.platform.transport_local")
local scheduler = require("otarun.run.scheduler")
local pipeline = require("otarun.plan.pipeline")
local state = require("otarun.state")
local util = require("otarun.util")

local MONDAY = 1799020800 -- 2027-01-04T00:00:00Z, a Monday
local HOUR, DAY = 3600, 86400

local tmpdir = h.tmpdir

local function fleet(failure)
  return { product = "pkRun", failure = failure or {}, duration = { min = "5m", max = "20m" }, seed = 5,
    groups = { { id = "Canary", type = "dynamic" } },
    devices = { { version = "2.3.1", count = 200, prefix = "can", groups = { "Canary" } },
                { version = "2.3.1", count = 200, prefix = "a" }, { version = "2.3.0", count = 600, prefix = "b" } },
    firmware = { { id = "fwRun240", version = "2.4.0", verified = true } } }
end

local HEAD = [[
rollout "cam" {
  product = "pkRun", region = "cn-shanghai",
  firmware = firmware { id = "fwRun240", version = "2.4.0", verified = true },
  defaults = { gate = { soak = "2h", min_devices = 20, max_failed_ratio = 0.05 } },
]]

-- A world: script file, emulator, client, store, scheduler. opts: failure, interval, client (wrap)
local function world(waves_text, opts)
  opts = opts or {}
  local w = { dir = tmpdir(), events = {} }
  w.file = h.write(w.dir .. "/cam.lua", HEAD .. waves_text .. "\n}\n")
  local res = assert(pipeline.check({ w.file }, pipeline.context({ now = "2027-01-04T00:00:00Z" })))
  assert(res.ok, require("cjson").encode(res.diagnostics))
  w.rollouts = res.rollouts
  w.emu = emulator.new{ clock = "manual", now = MONDAY }
  assert(w.emu:load_fleet(fleet(opts.failure)))
  w.client = tl.client(w.emu)
  w.now = function() return w.emu:now() end
  function w.open()
    w.st = assert(state.open{ state = w.dir .. "/state.db", command = "run", now = w.now })
    w.sched = scheduler.new{ state = w.st, client = opts.client and opts.client(w.client) or w.client,
      rollouts = w.rollouts, now = w.now, interval = opts.interval or 600, auto_confirm = opts.auto_confirm,
      on_event = function(ev) w.events[#w.events + 1] = ev end }
  end
  w.open()
  -- ticks until `t` (or until every rollout is finished and no task is pending)
  function w.run_until(t)
    while true do
      local rep = assert(w.sched:tick())
      w.report = rep
      if w.emu:now() >= t then return rep end
      local pending = 0
      for _, j in ipairs(w.emu:jobs()) do
        pending = pending + j.Tasks.QUEUED + j.Tasks.NOTIFIED + j.Tasks.IN_PROGRESS + j.Tasks.CONFIRM
      end
      if rep.finished and pending == 0 then return rep end
      w.emu:advance(math.max(1, math.min(rep.next_at, t) - w.emu:now()))
    end
  end
  function w.wave(name) return w.st:rollout("cam").wave[name] end
  function w.close()
    w.st:close()
    os.execute("rm -rf " .. h.shell_quote(w.dir))
  end
  return w
end

local function upgraded(emu)
  local n = 0
  for d = 1, emu.store.ndev do if emu.store.d_ver[d] == "2.4.0" then n = n + 1 end end
  return n
end

local function local_time(t, offset)
  local s = util.format_time(t, offset)
  return s
end

describe("scheduler (run loop) against the in-process emulator", function()
  it("drives 3 waves to every device, each after the previous gate, its delay and its window", function()
    local w = world([[
  wave "canary" { group = "Canary", rate = 100 },
  wave "early"  { versions = { "2.3.1" }, rate = 1000, delay = "6h" },
  wave "all"    { versions = { "2.3.0", "2.3.1" }, rate = 1000, delay = "1h",
                  window = { days = "mon-fri", from = "01:00", to = "03:00", tz = "+08:00" } },
]])
    local rep = w.run_until(MONDAY + 7 * DAY)
    assert.is_true(rep.done)
    assert.are.equal(1000, upgraded(w.emu))
    assert.are.equal(3, #w.emu:jobs())
    local c, e, a = w.wave("canary"), w.wave("early"), w.wave("all")
    assert.are.same({ "superseded", "superseded", "passed" }, { c.state, e.state, a.state })
    assert.is_true(c.passed_at >= c.started_at + 2 * HOUR)
    assert.is_true(e.started_at >= c.passed_at + 6 * HOUR and e.started_at < c.passed_at + 6 * HOUR + 600,
      "early started at " .. local_time(e.started_at, 0))
    assert.is_true(e.passed_at >= e.started_at + 2 * HOUR)
    assert.is_true(a.started_at >= e.passed_at + HOUR)
    -- inside mon-fri 01:00-03:00 at +08:00
    local wd = tonumber(os.date("!%w", a.started_at + 8 * HOUR))
    local hh = tonumber(os.date("!%H", a.started_at + 8 * HOUR))
    assert.is_true(wd >= 1 and wd <= 5 and hh >= 1 and hh < 3, "all started at " .. local_time(a.started_at, 8 * HOUR))
    -- every gate reading was recorded, and each wave passed with one
    for _, name in ipairs({ "canary", "early", "all" }) do
      local readings = w.st:gate_readings("cam", name)
      assert.is_true(#readings >= 2)
      assert.are.equal("pass", readings[#readings].verdict)
    end
    w.close()
  end)

  it("defers a wave to its window's next opening across time zones and a day boundary", function()
    -- Monday 23:00-23:59 at -05:00 is Tuesday 04:00-04:59 UTC; "first" passes early on Monday UTC
    local w = world([[
  wave "first"  { group = "Canary", rate = 1000, gate = { soak = "1h" } },
  wave "second" { versions = { "2.3.1" }, rate = 1000,
                  window = { days = "mon", from = "23:00", to = "23:59", tz = "-05:00" } },
]], { interval = 300 })
    w.run_until(MONDAY + 2 * DAY)
    local f, s = w.wave("first"), w.wave("second")
    assert.is_true(f.passed_at < MONDAY + 3 * HOUR)
    local open = MONDAY + DAY + 4 * HOUR
    assert.is_true(s.started_at >= open and s.started_at < open + 300,
      "second started at " .. local_time(s.started_at, -5 * HOUR))
    assert.are.equal("2027-01-04T23:0", local_time(s.started_at, -5 * HOUR):sub(1, 15))
    w.close()
  end)

  it("halts before wave 2 when the canary's source version fails 20%; the strategy is cancelled", function()
    local w = world([[
  wave "canary" { group = "Canary", rate = 10 },
  wave "early"  { versions = { "2.3.1" }, rate = 1000 },
]], { failure = { ["2.3.1"] = 0.2 } })
    local rep = w.run_until(MONDAY + 2 * DAY)
    assert.is_true(rep.rollouts[1].halted)
    assert.matches('gate of wave "canary" tripped', rep.rollouts[1].halt_reason, 1, true)
    assert.are.equal("failed", w.wave("canary").state)
    assert.are.equal("waiting", w.wave("early").state)
    local jobs = w.emu:jobs()
    assert.are.equal(1, #jobs) -- wave 2 never started
    assert.are.equal("CANCELED", jobs[1].JobStatus)
    -- on_fail = "halt" leaves the canary's pending tasks alone
    assert.are.equal(0, jobs[1].Tasks.CANCELED)
    local kinds = {}
    for _, ev in ipairs(w.events) do kinds[ev.kind] = (kinds[ev.kind] or 0) + 1 end
    assert.are.equal(1, kinds.fail)
    assert.are.equal(1, kinds.halt)
    -- the halt and the cancel call are in the audit log
    local log = w.st:log{ rollout = "cam" }
    local seen = {}
    for _, row in ipairs(log) do seen[row.kind .. ":" .. tostring(row.action)] = true end
    assert.is_true(seen["halt:nil"])
    assert.is_true(seen["call:CancelOTAStrategyByJob"])
    w.close()
  end)

  it("with on_fail = abort also cancels the canary's pending tasks; resume continues with wave 2", function()
    local w = world([[
  wave "canary" { group = "Canary", rate = 10, on_fail = "abort" },
  wave "early"  { versions = { "2.3.1" }, rate = 1000, delay = "1h", gate = { soak = "1h" } },
]], { failure = { ["2.3.1"] = 0.2 } })
    w.run_until(MONDAY + DAY)
    local job = w.emu:jobs()[1]
    assert.is_true(job.Tasks.CANCELED > 0, "pending tasks cancelled")
    assert.are.equal(0, job.Tasks.QUEUED + job.Tasks.NOTIFIED + job.Tasks.CONFIRM)
    assert.are.equal(1, #w.emu:jobs())
    -- a human decides to go on, through the real command, as of the simulated time
    local at = w.emu:now()
    local code, out, err = h.run({ "resume", w.file, "--state", w.dir .. "/state.db", "--reason", "known flaky batch",
      "--now", util.format_time(at, 0) })
    assert.are.equal(0, code, out .. err)
    assert.matches('resumed rollout "cam"', out, 1, true)
    local rep = w.run_until(MONDAY + 4 * DAY)
    assert.is_false(rep.rollouts[1].halted)
    local e = w.wave("early")
    assert.are.equal("passed", e.state)
    assert.is_true(e.started_at >= at + HOUR and e.started_at < at + HOUR + 600)
    assert.are.equal(2, #w.emu:jobs())
    local resumed = w.st:log{ rollout = "cam" }
    local found
    for _, row in ipairs(resumed) do if row.kind == "resume" then found = row end end
    assert.are.equal("known flaky batch", found.result)
    w.close()
  end)

  it("with --auto-confirm confirms waiting devices of a confirm = true wave only while its window is open", function()
    local w = world([[
  wave "canary" { group = "Canary", rate = 1000, confirm = true,
                  window = { from = "01:00", to = "03:00", tz = "Z" },
                  gate = { soak = "1h", min_devices = 20, max_failed_ratio = 1 } },
]], { failure = { ["2.3.1"] = 1 }, auto_confirm = true })
    w.run_until(MONDAY + 4 * HOUR)
    local job = w.wave("canary").job_id
    assert.is_string(job)
    local tasks = w.emu:jobs()[1].Tasks
    assert.are.equal(0, tasks.CONFIRM)
    assert.are.equal(200, tasks.FAILED)
    local confirmed = 0
    for _, ev in ipairs(w.events) do
      if ev.kind == "confirm" then
        confirmed = confirmed + tonumber(ev.text:match("^(%d+)"))
        assert.is_true(ev.t >= MONDAY + HOUR and ev.t < MONDAY + 3 * HOUR, "confirmed at " .. ev.t)
      end
    end
    assert.are.equal(200, confirmed)
    -- every ConfirmOTATask call is journaled, at most 10 ids each
    local n = 0
    for _, row in ipairs(w.st:list("intents", { rollout = "cam" })) do
      if row.action == "ConfirmOTATask" then
        n = n + 1
        local ids = 0
        for _ in row.params:gmatch("TaskId") do ids = ids + 1 end
        assert.is_true(ids >= 1 and ids <= 10)
      end
    end
    assert.are.equal(20, n)
    -- re-upgraded after the window: they wait for confirmation until it opens again
    local failed = assert(w.client:call("ListOTATaskByJob", { JobId = job, TaskStatus = "FAILED", PageSize = 10 }))
    local p = { JobId = job, TaskId = {} }
    for _, t in ipairs(failed.Data.SimpleOTATaskInfo) do p.TaskId[#p.TaskId + 1] = t.TaskId end
    w.emu:advance(MONDAY + 4 * HOUR - w.emu:now())   -- the window closed at 03:00
    assert(w.client:call("ReupgradeOTATask", p))
    w.run_until(MONDAY + 20 * HOUR)
    assert.are.equal(10, w.emu:jobs()[1].Tasks.CONFIRM)
    w.run_until(MONDAY + DAY + 2 * HOUR)
    assert.are.equal(0, w.emu:jobs()[1].Tasks.CONFIRM)
    w.close()
  end)

  it("waits for approve, then starts the wave at the next tick", function()
    local w = world([[
  wave "canary" { group = "Canary", rate = 1000, gate = { soak = "1h" } },
  wave "rest"   { versions = { "2.3.0" }, rate = 1000, approve = true },
]])
    w.run_until(MONDAY + 2 * DAY)
    assert.are.equal("passed", w.wave("canary").state)
    assert.are.equal("waiting", w.wave("rest").state)
    assert.are.equal(1, #w.emu:jobs())
    local planned = w.report.rollouts[1].waves[2]
    assert.matches("approval (otarun approve", planned.reason, 1, true)
    local at = w.emu:now()
    local code, out, err = h.run({ "approve", w.file, "rest", "--state", w.dir .. "/state.db", "--reason", "ok by ops",
      "--now", util.format_time(at, 0) })
    assert.are.equal(0, code, out .. err)
    code, out = h.run({ "approve", w.file, "rest", "--state", w.dir .. "/state.db" })
    assert.are.equal(0, code)
    assert.matches("already approved", out, 1, true)
    code, _, err = h.run({ "approve", w.file, "canary", "--state", w.dir .. "/state.db" })
    assert.are.equal(1, code)
    assert.matches("does not wait for approval", err, 1, true)
    w.run_until(MONDAY + 3 * DAY)
    assert.are.equal(2, #w.emu:jobs())
    assert.is_true(w.wave("rest").started_at >= at)
    assert.are.equal(1, #w.st:approvals("cam", "rest"))
    w.close()
  end)

  it("converges with no duplicate job and no skipped gate when crashes hit random points of random ticks", function()
    for trial = 1, 12 do
      math.randomseed(trial)
      local crash_at, calls, crashes = math.random(1, 40), 0, 0
      local function crashing(real)
        return { call = function(_, action, params)
          calls = calls + 1
          if calls == crash_at then
            crash_at = calls + math.random(1, 40)
            crashes = crashes + 1
            if math.random() < 0.5 then error("CRASH before " .. action, 0) end
            real:call(action, params)
            error("CRASH after " .. action, 0)
          end
          return real:call(action, params)
        end }
      end
      local w = world([[
  wave "canary" { group = "Canary", rate = 100, gate = { soak = "1h", min_devices = 20 } },
  wave "early"  { versions = { "2.3.1" }, rate = 1000, delay = "1h", gate = { soak = "1h", min_devices = 20 } },
  wave "all"    { versions = { "2.3.0", "2.3.1" }, rate = 1000, gate = { soak = "1h", min_devices = 20 } },
]], { client = crashing })
      local done = false
      for _ = 1, 2000 do
        local ok, rep = pcall(w.sched.tick, w.sched)
        if ok then
          if rep.done then done = true break end
          w.emu:advance(math.max(1, rep.next_at - w.emu:now()))
        else
          assert.matches("^CRASH", tostring(rep))
          w.st:close() -- the process died: its lock goes with it; nothing in memory survives
          w.open()
        end
      end
      assert.is_true(done, "trial " .. trial .. " converged")
      assert.is_true(crashes > 0)
      local jobs = w.emu:jobs()
      assert.are.equal(3, #jobs, "trial " .. trial .. ": one job per wave")
      local ids = {}
      for _, j in ipairs(jobs) do
        for _, t in ipairs(j.Tags) do if t.Key == "otarun" then ids[t.Value] = (ids[t.Value] or 0) + 1 end end
      end
      assert.are.same({ ["cam/canary"] = 1, ["cam/early"] = 1, ["cam/all"] = 1 }, ids)
      -- no skipped gate: each later wave started after a recorded passing reading of its predecessor
      local prev
      for _, name in ipairs({ "canary", "early", "all" }) do
        local row = w.wave(name)
        if prev then
          local passed_reading
          for _, g in ipairs(w.st:gate_readings("cam", prev)) do
            if g.verdict == "pass" then passed_reading = g end
          end
          assert.is_truthy(passed_reading, "trial " .. trial .. ": " .. prev .. " has a passing reading")
          assert.is_true(passed_reading.at <= row.started_at)
        end
        prev = name
      end
      assert.are.equal(0, #w.st:unsettled("cam"))
      w.close()
    end
  end)
end)

describe("scheduler: each tick plans live, as otarun plan does", function()
  local function count(emu, action) return emu:counters().calls[action] or 0 end

  it("closes drift on a running job with UpdateOTAJob, logging it, and reads the platform boundedly", function()
    local w = world([[
  wave "canary" { group = "Canary", rate = 100, gate = { soak = "6h" } },
  wave "rest"   { versions = { "2.3.0" }, rate = 1000 },
]])
    w.run_until(MONDAY + HOUR)
    local job = w.wave("canary").job_id
    assert.is_string(job)
    -- one tick's reads: one page of jobs, QueryOTAJob for the one running job; the firmware was
    -- read once, on the first tick
    local lists, queries, firmware = count(w.emu, "ListOTAJobByFirmware"), count(w.emu, "QueryOTAJob"),
      count(w.emu, "QueryOTAFirmware")
    assert.are.equal(1, firmware)
    assert(w.sched:tick())
    assert.are.same({ lists + 1, queries + 1, 1 },
      { count(w.emu, "ListOTAJobByFirmware"), count(w.emu, "QueryOTAJob"), count(w.emu, "QueryOTAFirmware") })
    -- someone raises the rate on the console
    assert(w.emu:update_job_admin(job, { MaximumPerMinute = 800 }))
    local before = #w.events
    assert(w.sched:tick())
    local drift
    for i = before + 1, #w.events do
      if w.events[i].kind == "drift" then drift = w.events[i] end
    end
    assert.is_truthy(drift, "the tick reported the drift")
    assert.are.same({ "canary", job }, { drift.wave, drift.job_id })
    assert.matches("drift MaximumPerMinute: 100 (script) vs 800 (platform)", drift.text, 1, true)
    assert.are.equal(100, w.emu:jobs()[1].MaximumPerMinute)
    local seen = {}
    for _, row in ipairs(w.st:log{ rollout = "cam", wave = "canary" }) do seen[row.kind .. ":" .. tostring(row.action)] = row end
    assert.matches("changed outside otarun", seen["decision:drift"].result, 1, true)
    assert.is_truthy(seen["call:UpdateOTAJob"])
    -- closed: the next tick finds nothing to do
    before = #w.events
    assert(w.sched:tick())
    for i = before + 1, #w.events do assert.are_not.equal("drift", w.events[i].kind) end
    assert.are.equal(1, #w.emu:jobs())
    assert.are.equal("running", w.wave("canary").state)
    w.close()
  end)

  it("applies a rate edited in the script while it loops, and does not read a done rollout", function()
    local w = world([[
  wave "canary" { group = "Canary", rate = 100, gate = { soak = "1h" } },
]])
    w.run_until(MONDAY + 30 * 60)
    w.rollouts[1].waves[1].rate = 250
    local before = #w.events
    assert(w.sched:tick())
    local update
    for i = before + 1, #w.events do if w.events[i].kind == "update" then update = w.events[i] end end
    assert.is_truthy(update, "the tick updated the job")
    assert.matches("MaximumPerMinute: 250 (script) vs 100 (platform)", update.text, 1, true)
    assert.are.equal(250, w.emu:jobs()[1].MaximumPerMinute)
    local rep = w.run_until(MONDAY + DAY)
    assert.is_true(rep.done)
    local lists = count(w.emu, "ListOTAJobByFirmware")
    assert(w.sched:tick())
    assert.are.equal(lists, count(w.emu, "ListOTAJobByFirmware")) -- done: planned from the store
    w.close()
  end)

  it("halts when a running wave's job was cancelled outside otarun, saying what to do", function()
    local w = world([[
  wave "canary" { group = "Canary", rate = 100, gate = { soak = "6h" } },
  wave "rest"   { versions = { "2.3.0" }, rate = 1000 },
]])
    w.run_until(MONDAY + HOUR)
    local job = w.wave("canary").job_id
    assert(w.client:call("CancelOTAStrategyByJob", { JobId = job }))
    local rep = assert(w.sched:tick())
    assert.is_true(rep.rollouts[1].halted)
    assert.matches("job " .. job .. " of wave \"canary\" was cancelled outside otarun", rep.rollouts[1].halt_reason, 1, true)
    assert.matches("otarun resume", rep.rollouts[1].halt_reason, 1, true)
    assert.are.equal("cancelled", w.wave("canary").state)
    assert.are.equal("cancelled", rep.rollouts[1].waves[1].status)
    w.run_until(MONDAY + 2 * DAY)
    assert.are.equal(1, #w.emu:jobs()) -- nothing started after it
    w.close()
  end)
end)
