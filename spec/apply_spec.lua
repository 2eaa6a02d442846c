-- otarun apply end to end over 127.0.0.1 against the real emulator: creating jobs with intents
-- recorded, a second apply that plans nothing, the confirmation rules (64 without a terminal and
-- without --auto-approve; anything but "yes" cancels), saved plans (applied exactly, refused when
-- stale with exit 5), the state lock between two applies (waiting, naming the holder), policy
-- denial before any call (exit 4) and overrides in the audit log, a failed call naming its wave,
-- and, in process, a create whose answer was lost being adopted rather than sent twice.
local h = require("helpers")
local ah = require("apply_helpers")
local sys = require("otarun.core.sys")

local N = 6

local function changing_requests(server)
  local c = ah.admin(server, "GET", "counters")
  local n = 0
  for action, count in pairs(c.requests.by_action or {}) do
    if action:match("^Create") or action:match("^Cancel") or action:match("^Update") then n = n + count end
  end
  return n
end

describe("otarun apply against the emulator", function()
  local dir, server, db, script

  setup(function()
    dir, server, db = ah.up(20)
    script = ah.rollouts(dir .. "/cams.lua", 3)
  end)
  teardown(function() ah.down(server, dir) end)

  it("refuses to run without a terminal unless --auto-approve, before any call", function()
    local code, out, err = ah.otarun(server, db, { "apply", script })
    assert.are.equal(64, code, out .. err)
    assert.matches("--auto-approve", err, 1, true)
    assert.are.equal(0, #ah.jobs(server))
    assert.is_nil(io.open(db, "rb")) -- not even the store was created
  end)

  it("creates the due jobs, recording an intent, the job and the audit entry for each", function()
    local code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    assert.matches("Apply complete: 3 waves, 3 calls", out, 1, true)
    assert.matches("[3/3] cam-0003/all: CreateOTADynamicUpgradeJob job ", err, 1, true)
    local a = ah.audit_jobs(server, db, 3)
    assert.are.same({ duplicates = 0, lost = 0, missing = 0, total = 3 }, a)
    local jobs, open, waves = ah.store_jobs(db)
    assert.are.equal(0, #open)
    for _, w in ipairs(waves) do
      assert.are.equal("running", w.state)
      assert.is_truthy(jobs[w.job_id], "wave " .. w.rollout .. " has an unknown job")
    end
    local st = assert(require("otarun.state").open{ state = db, readonly = true })
    local calls, intents = 0, st:list("intents")
    for _, e in ipairs(st:log()) do
      if e.kind == "call" then
        calls = calls + 1
        assert.are.equal("CreateOTADynamicUpgradeJob", e.action)
        assert.matches("^RequestId ", e.result)
      end
    end
    st:close()
    assert.are.equal(3, calls)
    assert.are.equal(3, #intents)
    for _, i in ipairs(intents) do
      assert.are.equal("settled", i.state)
      assert.matches("^cam%-%d+/all$", i.identity)
    end
  end)

  it("plans nothing the second time and makes no changing call", function()
    ah.admin(server, "POST", "counters/reset")
    local code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    assert.matches("No changes.", out, 1, true)
    assert.are.equal(0, changing_requests(server))
    assert.are.equal(3, #ah.jobs(server))
  end)

  it("cancels on anything but yes", function()
    -- a terminal is needed for the question; script(1) gives one when it is installed
    if os.execute("command -v script >/dev/null 2>&1") ~= true then return pending("script(1) not installed") end
    local more = ah.rollouts(dir .. "/more.lua", 4, { first = 4 })
    local cmd = ah.cmdline(server, db, { "apply", more })
    local log = dir .. "/tty.log"
    os.execute(string.format("printf 'no\\n' | script -qec %s %s >/dev/null 2>&1", h.shell_quote(cmd), h.shell_quote(log)))
    local text = h.slurp(log)
    assert.matches("Only 'yes' will be accepted", text, 1, true)
    assert.matches("Apply cancelled.", text, 1, true)
    assert.are.equal(3, #ah.jobs(server))
  end)

  it("applies a saved plan exactly, and refuses it once the state changed (exit 5)", function()
    local s5 = ah.rollouts(dir .. "/five.lua", 5, { first = 4 })
    local p1 = dir .. "/p1.json"
    local code, out, err = ah.otarun(server, db, { "plan", s5, "--out", p1 })
    assert.are.equal(0, code, out .. err)
    assert.matches('"state_fingerprint": "%x+"', h.slurp(p1))
    h.write(dir .. "/p2.json", h.slurp(p1))
    code, out, err = ah.otarun(server, db, { "apply", p1 })
    assert.are.equal(0, code, out .. err)
    assert.matches("Apply complete: 2 waves, 2 calls", out, 1, true)
    assert.are.same({ duplicates = 0, lost = 0, missing = 0, total = 5 }, ah.audit_jobs(server, db, 5))
    -- the same plan again: its fingerprint no longer matches the store
    ah.admin(server, "POST", "counters/reset")
    code, out, err = ah.otarun(server, db, { "apply", dir .. "/p2.json" })
    assert.are.equal(5, code, out .. err)
    assert.matches("is stale: the state changed since it was planned", err, 1, true)
    assert.are.equal(0, changing_requests(server))
    assert.are.equal(5, #ah.jobs(server))
  end)

  it("refuses a saved plan without a fingerprint", function()
    local s6 = ah.rollouts(dir .. "/six.lua", 6, { first = 6 })
    local p = dir .. "/offline.json"
    assert.are.equal(0, (ah.otarun(server, db, { "plan", s6, "--out", p, "--offline" })))
    local code, out, err = ah.otarun(server, db, { "apply", p })
    assert.are.equal(5, code, out .. err)
    assert.matches("no fingerprint", err, 1, true)
    assert.are.equal(5, #ah.jobs(server))
  end)

  it("waits for the rollout's lock held by another apply, naming the holder", function()
    local s6 = ah.rollouts(dir .. "/six.lua", 6, { first = 6 })
    ah.admin(server, "POST", "faults", { action = "CreateOTADynamicUpgradeJob", latency_ms = 2500 })
    local log, pidfile = dir .. "/first.log", dir .. "/first.pid"
    os.execute(string.format("%s >%s 2>&1 </dev/null & echo $! >%s",
      ah.cmdline(server, db, { "apply", s6, "--auto-approve" }), h.shell_quote(log), h.shell_quote(pidfile)))
    local pid = tonumber(h.slurp(pidfile):match("%d+"))
    local deadline = sys.monotonic() + 20
    local held
    repeat
      sys.sleep(0.05)
      local st = require("otarun.state").open{ state = db, readonly = true }
      if st then
        for _, l in ipairs(st:list("locks") or {}) do
          if l.rollout == "cam-0006" and l.pid == pid then held = true end
        end
        st:close()
      end
    until held or sys.monotonic() > deadline
    assert.is_truthy(held, "the first apply never took the lock: " .. h.slurp(log))
    local code, out, err = ah.otarun(server, db, { "apply", s6, "--auto-approve", "--lock-timeout", "0" })
    assert.are.equal(1, code, out .. err)
    assert.matches(string.format('rollout "cam%%-0006" locked by pid %d on host %s since %%d%%d%%d%%d%%-[^\n]*%%(apply%%)',
      pid, sys.hostname()), err)
    code, out, err = ah.otarun(server, db, { "apply", s6, "--auto-approve", "--lock-timeout", "30" })
    ah.admin(server, "DELETE", "faults")
    assert.are.equal(0, code, out .. err)
    assert.matches("waiting up to 30s", err, 1, true)
    assert.matches("No changes.", out, 1, true) -- the first one created it meanwhile
    assert.matches("Apply complete: 1 waves", h.slurp(log), 1, true)
    assert.are.same({ duplicates = 0, lost = 0, missing = 0, total = 6 }, ah.audit_jobs(server, db, 6))
  end)

  it("denies by policy before any call (exit 4), and records overrides", function()
    local pol = dir .. "/pol"
    os.execute("mkdir -p " .. h.shell_quote(pol))
    h.write(pol .. "/caps.lua", [[
policy "caps" { level = "hard", rules = { max_rate = 50 } }
policy "soft-caps" { level = "soft", rules = { max_first_wave_rate = 50 } }
]])
    local s7 = ah.rollouts(dir .. "/seven.lua", 7, { first = 7, rate = 100 })
    ah.admin(server, "POST", "counters/reset")
    local code, out, err = ah.otarun(server, db, { "apply", s7, "--auto-approve", "--policy", pol })
    assert.are.equal(4, code, out .. err)
    assert.matches("caps.max_rate (hard)", err, 1, true)
    assert.matches("nothing was sent", err, 1, true)
    assert.are.equal(0, changing_requests(server))
    assert.are.equal(6, #ah.jobs(server))
    -- only the soft rule fails at rate 40: an override lets it through and is recorded
    s7 = ah.rollouts(dir .. "/seven.lua", 7, { first = 7, rate = 40 })
    h.write(pol .. "/caps.lua", [[
policy "caps" { level = "hard", rules = { max_rate = 50 } }
policy "soft-caps" { level = "soft", rules = { max_first_wave_rate = 30 } }
]])
    code, out, err = ah.otarun(server, db, { "apply", s7, "--auto-approve", "--policy", pol,
      "--override", "soft-caps.max_first_wave_rate", "--reason", "lab devices, INC-42" })
    assert.are.equal(0, code, out .. err)
    local st = assert(require("otarun.state").open{ state = db, readonly = true })
    local found
    for _, e in ipairs(st:log{ rollout = "cam-0007" }) do
      if e.kind == "override" then found = e end
    end
    st:close()
    assert.is_truthy(found, "no override in the audit log")
    assert.are.equal("soft-caps.max_first_wave_rate", found.action)
    assert.are.equal("lab devices, INC-42", found.result)
  end)

  it("names the wave whose call failed, keeps going with the others, and records both", function()
    local s9 = ah.rollouts(dir .. "/nine.lua", 9, { first = 8 })
    ah.admin(server, "POST", "faults", { action = "CreateOTADynamicUpgradeJob", error = "business",
      code = "iot.ota.SystemBusy", message = "try later", count = 1 })
    local code, out, err = ah.otarun(server, db, { "apply", s9, "--auto-approve" })
    ah.admin(server, "DELETE", "faults")
    assert.are.equal(1, code, out .. err)
    assert.matches("cam-0008/all: CreateOTADynamicUpgradeJob failed: iot.ota.SystemBusy: try later", err, 1, true)
    assert.matches("Apply incomplete: 1 waves", out, 1, true)
    local a = ah.audit_jobs(server, db, 9)
    assert.are.same({ duplicates = 0, lost = 0, missing = 1, total = 8 }, a)
    local st = assert(require("otarun.state").open{ state = db, readonly = true })
    local failed = st:list("intents", { rollout = "cam-0008" })
    st:close()
    assert.are.equal("failed", failed[#failed].state)
    code, out, err = ah.otarun(server, db, { "apply", s9, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    assert.are.same({ duplicates = 0, lost = 0, missing = 0, total = 9 }, ah.audit_jobs(server, db, 9))
  end)

  it("resends a create that certainly did not arrive (a 5xx before the model), once", function()
    local s10 = ah.rollouts(dir .. "/ten.lua", 10, { first = 10 })
    ah.admin(server, "POST", "faults", { action = "CreateOTADynamicUpgradeJob", status = 503, count = 1 })
    local code, out, err = ah.otarun(server, db, { "apply", s10, "--auto-approve", "-v" })
    ah.admin(server, "DELETE", "faults")
    assert.are.equal(0, code, out .. err)
    assert.matches("sending again", err, 1, true)
    assert.are.same({ duplicates = 0, lost = 0, missing = 0, total = 10 }, ah.audit_jobs(server, db, 10))
  end)

  it("prints one result document with --format json: waves, calls, jobs, errors", function()
    local cjson = require("cjson")
    local s12 = ah.rollouts(dir .. "/twelve.lua", 12, { first = 11 })
    ah.admin(server, "POST", "faults", { action = "CreateOTADynamicUpgradeJob", error = "business",
      code = "iot.ota.SystemBusy", message = "try later", count = 1 })
    local code, out, err = ah.otarun(server, db, { "apply", s12, "--auto-approve", "--format", "json" })
    ah.admin(server, "DELETE", "faults")
    assert.are.equal(1, code, out .. err)
    local doc = cjson.decode(out) -- stdout is the document alone
    assert.are.same({ "1.0", "incomplete", 2, 1, 2 }, { doc.format_version, doc.result, doc.calls, doc.created,
      doc.summary.create })
    assert.are.equal(1, #doc.errors)
    assert.matches("cam-0011/all: CreateOTADynamicUpgradeJob failed: iot.ota.SystemBusy", doc.errors[1], 1, true)
    local w1, w2 = doc.waves[1], doc.waves[2]
    assert.are.same({ "cam-0011", "all", "create", "failed", false }, { w1.rollout, w1.wave, w1.action, w1.status,
      w1.calls[1].ok })
    assert.matches("SystemBusy", w1.calls[1].error, 1, true)
    local job = ah.jobs_by_identity(server)["cam-0012/all"][1].JobId
    assert.are.same({ "applied", job, "CreateOTADynamicUpgradeJob", true, job, false },
      { w2.status, w2.job_id, w2.calls[1].action, w2.calls[1].ok, w2.calls[1].job_id, w2.calls[1].adopted })
    assert.are.equal(cjson.null, w2.calls[1].error)
    assert.matches("cam-0011/all", err, 1, true)
    -- the rest, then nothing
    code, out, err = ah.otarun(server, db, { "apply", s12, "--auto-approve", "--format", "json" })
    assert.are.equal(0, code, out .. err)
    doc = cjson.decode(out)
    assert.are.same({ "applied", 1, 1, 0 }, { doc.result, #doc.waves, doc.created, #doc.errors })
    code, out, err = ah.otarun(server, db, { "apply", s12, "--auto-approve", "--format", "json" })
    assert.are.equal(0, code, out .. err)
    doc = cjson.decode(out)
    assert.are.same({ "no changes", 0, 0 }, { doc.result, #doc.waves, doc.calls })
    assert.is_string(doc.state_fingerprint)
  end)
end)

describe("apply.execute with a create whose answer is lost", function()
  local dir, server
  setup(function() dir, server = ah.up(4) end)
  teardown(function() ah.down(server, dir) end)

  -- A real client whose creates reach the emulator but whose answers are then "lost".
  local function lossy_client()
    local client = require("otarun.platform.client")
    local c = assert(client.new{ endpoint = server.url, credentials = require("otarun.platform.credentials").static{
      access_key_id = ah.KEY, access_key_secret = ah.SECRET }, limiter = require("otarun.platform.ratelimit").new{} })
    local real = c.call
    local lost = 0
    c.call = function(self, action, params)
      local res, err = real(self, action, params)
      if res and action:match("^Create") then
        lost = lost + 1
        return nil, setmetatable({ kind = "unknown_outcome", message = "recv error: connection reset" },
          client.Error)
      end
      return res, err
    end
    return c, function() return lost end
  end

  local function plan_for(first, last)
    local ctx = { now = os.time(), vars = {}, limits = {}, mode = "state" }
    local res = assert(require("otarun.plan.pipeline").plan({ ah.rollouts(dir .. "/x.lua", last, { first = first }) }, ctx))
    assert(res.ok, "invalid test script")
    return res.plan
  end

  it("adopts the job it finds by identity tag instead of sending again", function()
    local apply = require("otarun.apply")
    local st = assert(require("otarun.state").open{ state = dir .. "/s.db", command = "apply" })
    assert(st:lock(0))
    local plan = plan_for(1, 2)
    assert(apply.record_rollouts(st, plan))
    local c, lost = lossy_client()
    local report = apply.execute(st, plan, { client_for = function() return c end })
    assert.are.same({}, report.errors)
    assert.are.equal(2, lost())
    assert.are.equal(2, report.adopted)
    assert.are.same({ duplicates = 0, lost = 0, missing = 0, total = 2 }, ah.audit_jobs(server, dir .. "/s.db", 2))
    local intents = st:list("intents")
    assert.are.equal(2, #intents)
    assert.matches("adopted job", intents[1].result, 1, true)
    c:close()
    st:close()
  end)

  it("stops without sending again when the lookup cannot tell", function()
    local apply = require("otarun.apply")
    local st = assert(require("otarun.state").open{ state = dir .. "/s.db", command = "apply" })
    assert(st:lock(0))
    local plan = plan_for(3, 4)
    assert(apply.record_rollouts(st, plan))
    local c = lossy_client()
    c.retries.max = 0
    local report = apply.execute(st, plan, { client_for = function() return c end,
      before_call = function() ah.admin(server, "POST", "faults", { action = "ListOTAJobByFirmware", status = 503 }) end })
    ah.admin(server, "DELETE", "faults")
    assert.is_true(report.fatal)
    assert.are.equal(1, #report.errors)
    assert.matches("cam%-0003/all: CreateOTADynamicUpgradeJob: the outcome is unknown", report.errors[1])
    assert.are.equal(1, #st:unsettled()) -- left for the next run, which resolves it first
    assert.are.equal(3, #ah.jobs(server)) -- cam-0004 was never tried
    c:close()
    st:close()
  end)
end)

describe("apply closes differences: update, replace, cancel", function()
  local dir, server, db
  setup(function() dir, server, db = ah.up(3, { prefix = "fwChg" }) end)
  teardown(function() ah.down(server, dir) end)

  local function job_of(identity)
    local list = ah.jobs_by_identity(server)[identity] or {}
    return list[#list], #list
  end

  local function script(text) return h.write(dir .. "/chg.lua", text) end

  local BASE = [[
rollout "chg" {
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = firmware { id = "fwChg0001", version = "2.4.0", verified = true },
  wave "one" { versions = { "2.3.1" }, rate = %d, timeout = "1h" },
}
rollout "ramp" {
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = firmware { id = "fwChg0002", version = "2.4.0", verified = true },
  wave "some" { kind = "static", percent = %s, versions = { "2.3.0" }, timeout = "1h" },
}
%s
]]
  local EXTRA = [[
rollout "gone" {
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = firmware { id = "fwChg0003", version = "2.4.0", verified = true },
  wave %q { versions = { "2.3.1" }, rate = 50, timeout = "1h" },
}
]]

  it("creates, then updates a rate in place, replaces a static percent and cancels a removed wave", function()
    local s = script(BASE:format(100, "10", EXTRA:format("field")))
    local code, out, err = ah.otarun(server, db, { "apply", s, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    assert.are.equal(3, #ah.jobs(server), out .. err)
    local first = job_of("ramp/some")
    -- rate 100 -> 300, percent 10 -> 20, wave "field" replaced by a new wave "lab"
    s = script(BASE:format(300, "20", EXTRA:format("lab")))
    code, out, err = ah.otarun(server, db, { "apply", s, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    assert.matches("~ one: update", out, 1, true)
    assert.matches("-/+ some: replace", out, 1, true)
    assert.matches("- field: cancel", out, 1, true)
    local one, n = job_of("chg/one")
    assert.are.equal(1, n)
    assert.are.equal(300, one.MaximumPerMinute)
    local some, m = job_of("ramp/some")
    assert.are.equal(2, m) -- the old one cancelled, a new one created
    assert.are_not.equal(first.JobId, some.JobId)
    local field = job_of("gone/field")
    assert.are.equal("CANCELED", field.JobStatus)
    local st = assert(require("otarun.state").open{ state = db, readonly = true })
    local r = st:rollout("ramp")
    assert.are.equal(some.JobId, r.wave.some.job_id)
    assert.are.equal("running", r.wave.some.state)
    assert.are.equal("cancelled", st:rollout("gone").wave.field.state)
    assert.are.equal("running", st:rollout("gone").wave.lab.state)
    st:close()
    code, out, err = ah.otarun(server, db, { "apply", s, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    assert.matches("No changes.", out, 1, true)
  end)
end)

describe("a replace whose create did not happen after its cancel", function()
  local dir, server, db
  setup(function() dir, server, db = ah.up(1, { prefix = "fwRep" }) end)
  teardown(function() ah.down(server, dir) end)

  local function script(push)
    return h.write(dir .. "/rep.lua", string.format([[
rollout "rep" {
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = firmware { id = "fwRep0001", version = "2.4.0", verified = true },
  wave "all" { versions = { "2.3.1" }, rate = 100, timeout = "1h", push = %s },
}
]], tostring(push)))
  end

  local function jobs_of_wave()
    local list = ah.jobs_by_identity(server)["rep/all"] or {}
    local running = {}
    for _, j in ipairs(list) do
      if j.JobStatus == "IN_PROGRESS" then running[#running + 1] = j.JobId end
    end
    return list, running
  end

  local function plan_json(s)
    local code, out, err = ah.otarun(server, db, { "plan", s, "--format", "json", "--detailed-exitcode" })
    return code, require("cjson").decode(out), err
  end

  local function store_wave()
    local st = assert(require("otarun.state").open{ state = db, readonly = true })
    local row = st:rollout("rep").wave.all
    st:close()
    return row
  end

  it("plans the create again after the create failed, and the next apply makes it", function()
    local code, out, err = ah.otarun(server, db, { "apply", script(true), "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    local _, running = jobs_of_wave()
    local first = running[1]
    -- NeedPush cannot be updated in place: -/+ replace; the create is refused once
    ah.admin(server, "POST", "faults", { action = "CreateOTADynamicUpgradeJob", error = "business",
      code = "iot.ota.SystemBusy", message = "try later", count = 1 })
    code, out, err = ah.otarun(server, db, { "apply", script(false), "--auto-approve" })
    ah.admin(server, "DELETE", "faults")
    assert.are.equal(1, code, out .. err)
    assert.matches("-/+ all: replace", out, 1, true)
    assert.matches("rep/all: CreateOTADynamicUpgradeJob failed: iot.ota.SystemBusy", err, 1, true)
    local list
    list, running = jobs_of_wave()
    assert.are.same({ 1, 0 }, { #list, #running }) -- cancelled, nothing new
    -- the next plan creates it again (before this fix: nothing to do, and no job)
    local doc
    code, doc, err = plan_json(script(false))
    assert.are.equal(2, code, err)
    local w = doc.rollouts[1].waves[1]
    assert.are.same({ "ready", "create", 1, "CreateOTADynamicUpgradeJob" },
      { w.status, w.action, #w.calls, w.calls[1].action })
    assert.are.equal("false", w.calls[1].params.NeedPush)
    assert.matches("job " .. first .. " was cancelled to replace it, but its new job was never created", w.reason, 1, true)
    assert.are.equal(1, doc.summary.create)
    code, out, err = ah.otarun(server, db, { "apply", script(false), "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    assert.matches("+ all: create", out, 1, true)
    list, running = jobs_of_wave()
    assert.are.equal(2, #list)
    assert.are.equal(1, #running)
    assert.are_not.equal(first, running[1])
    local row = store_wave()
    assert.are.same({ "running", running[1] }, { row.state, row.job_id })
    code, out, err = ah.otarun(server, db, { "apply", script(false), "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    assert.matches("No changes.", out, 1, true)
  end)

  it("plans the create again when the process died between the cancel and the create", function()
    local _, running = jobs_of_wave()
    local current = running[1]
    -- what a SIGKILL right after the cancel leaves: its intent open, the job cancelled
    local st = assert(require("otarun.state").open{ state = db, command = "apply" })
    assert(st:lock(0))
    local params = { JobId = current }
    assert(st:intent{ rollout = "rep", wave = "all", action = "CancelOTAStrategyByJob", params = params,
      identity = "rep/all" })
    local c = assert(require("otarun.platform.client").new{ endpoint = server.url, credentials =
      require("otarun.platform.credentials").static{ access_key_id = ah.KEY, access_key_secret = ah.SECRET },
      limiter = require("otarun.platform.ratelimit").new{} })
    assert(c:call("CancelOTAStrategyByJob", params))
    c:close()
    st:close()
    local code, out, err = ah.otarun(server, db, { "apply", script(true), "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    assert.matches("+ all: create", out, 1, true)
    local list
    list, running = jobs_of_wave()
    assert.are.equal(3, #list)
    assert.are.equal(1, #running)
    assert.are.same({ "running", running[1] }, { store_wave().state, store_wave().job_id })
  end)

  it("leaves a job cancelled outside otarun cancelled, and says what to do", function()
    local _, running = jobs_of_wave()
    local c = assert(require("otarun.platform.client").new{ endpoint = server.url, credentials =
      require("otarun.platform.credentials").static{ access_key_id = ah.KEY, access_key_secret = ah.SECRET },
      limiter = require("otarun.platform.ratelimit").new{} })
    assert(c:call("CancelOTAStrategyByJob", { JobId = running[1] }))
    c:close()
    local code, doc, err = plan_json(script(true))
    assert.are.equal(0, code, err)
    local w = doc.rollouts[1].waves[1]
    assert.are.same({ "cancelled", "none", running[1] }, { w.status, w.action, w.job_id })
    assert.matches("cancelled outside otarun; remove the wave from the script, or give it a new name", w.reason, 1, true)
  end)
end)
