-- otarun.plan.diff and otarun.plan.platform_checks on hand-made snapshots (the shape otarun.plan.refresh returns)
-- and hand-written normalised rollouts: which action each wave gets, the calls in their order,
-- drift from the intent journal, removed and superseded waves, and the platform rules.
local plan = require("otarun.plan")
local diff = require("otarun.plan.diff")
local checks = require("otarun.plan.platform_checks")
local calls = require("otarun.plan.calls")
local F = require("fixtures_plan")

local FW = "nx3xxVvFdwvn6dim50PY03"

-- A running job whose params are exactly what the wave's create call sends.
local function job_for(rollout, wave, fields)
  local call = wave.kind == "static" and calls.static_create(rollout, wave, F.NOW) or calls.dynamic_create(rollout, wave)
  local p = {}
  for k, v in pairs(call.params) do p[k] = v end
  p.ProductKey, p.GroupType = nil, nil
  local job = { job_id = "JOB-" .. wave.name, firmware_id = FW, status = "IN_PROGRESS", kind = wave.kind,
    target = "ALL", identity = wave.identity_tag and wave.identity_tag.value, params = p,
    created = "2026-11-30T09:00:00.000Z", detailed = true }
  for k, v in pairs(fields or {}) do job[k] = v end
  return job
end

local function snapshot(jobs, fw)
  local s = { firmware = { [FW] = fw or { id = FW, status = 1, verified = true, type = "full", files = 1 } },
              jobs = {}, by_identity = {}, by_firmware = { [FW] = {} }, calls = 0 }
  for _, j in ipairs(jobs) do
    s.jobs[j.job_id] = j
    table.insert(s.by_firmware[FW], j)
    if j.identity then s.by_identity[j.identity] = j end
  end
  return s
end

-- A fake store: what otarun.state answers for one rollout.
local function store(t)
  t = t or {}
  return {
    rollout = function(_, name)
      local waves = {}
      for _, w in ipairs(t.waves or {}) do waves[w.name] = w end
      return { name = name, waves = t.waves or {}, wave = waves }
    end,
    jobs = function() return t.jobs or {} end,
    list = function(_, what) return what == "intents" and (t.intents or {}) or {} end,
    fingerprint = function() return "fp-1" end,
  }
end

local function live(rollout, jobs, o)
  o = o or {}
  local snap = snapshot(jobs, o.fw)
  local d = diff.new{ rollouts = { rollout }, snapshot = snap, state = o.state, mode = "live", now = F.NOW }
  return plan.build({ rollout }, { now = F.NOW, mode = "live", diff = d }).rollouts[1].waves, d
end

describe("diff.compare", function()
  it("finds nothing when the job has what the wave sends, defaults included", function()
    assert.are.same({}, diff.compare({ FirmwareId = "f", ["SrcVersion.1"] = "2.3.0" },
      { FirmwareId = "f", ["SrcVersion.1"] = "2.3.0", MaximumPerMinute = "10000", NeedPush = "true",
        OverwriteMode = "1", DynamicMode = "1" }, "dynamic"))
  end)

  it("updates rate, tags, dynamic timeout and versions in place; replaces the rest", function()
    local c = diff.compare({ MaximumPerMinute = "500", TimeoutInMinutes = "60", ["SrcVersion.1"] = "2.3.1",
        ["Tag.1.Key"] = "otarun", ["Tag.1.Value"] = "r/w" },
      { MaximumPerMinute = "800", TimeoutInMinutes = "30", ["SrcVersion.1"] = "2.3.0" }, "dynamic")
    local how = {}
    for _, x in ipairs(c) do how[x.param] = x.how end
    assert.are.same({ MaximumPerMinute = "update", TimeoutInMinutes = "update", SrcVersion = "update",
      Tags = "update" }, how)
    c = diff.compare({ TimeoutInMinutes = "60", TargetSelection = "GRAY", GrayPercent = "10" },
      { TimeoutInMinutes = "30", TargetSelection = "GRAY", GrayPercent = "10.000" }, "static")
    assert.are.same({ { param = "TimeoutInMinutes", script = "60", platform = "30", how = "replace" } }, c)
    c = diff.compare({ GroupId = "G2", GroupType = "LINK_PLATFORM_DYNAMIC" }, { GroupId = "G1" }, "dynamic")
    assert.are.equal("replace", c[1].how)
    assert.are.equal("GroupId: G2 (script) vs G1 (platform)", diff.describe(c[1]))
  end)
end)

describe("diff against a snapshot", function()
  it("leaves a running job that matches alone and holds the next wave for its gate", function()
    local r = F.rollout({ F.wave("canary", { versions = { "2.3.0" }, rate = 100, gate = { soak = 3600 } }),
      F.wave("rest", { versions = { "2.3.0", "2.3.1" } }) }, { firmware = { id = FW } })
    local waves = live(r, { job_for(r, r.waves[1]) })
    assert.are.equal("running", waves[1].status)
    assert.are.equal("none", waves[1].action)
    assert.are.equal("JOB-canary", waves[1].job_id)
    assert.are.equal("wait", waves[2].action)
    assert.matches('waiting for gate of "canary"', waves[2].reason, 1, true)
  end)

  it("updates a changed rate with UpdateOTAJob, resending every tag with the identity tag", function()
    local r = F.rollout({ F.wave("canary", { versions = { "2.3.0" }, rate = 500,
      tags = { { key = "channel", value = "beta" } } }) }, { firmware = { id = FW } })
    local job = job_for(r, r.waves[1])
    job.params.MaximumPerMinute = "100"
    local w = live(r, { job })[1]
    assert.are.equal("update", w.action)
    assert.are.equal(1, #w.calls)
    assert.are.equal("UpdateOTAJob", w.calls[1].action)
    local p = w.calls[1].params
    assert.are.equal("JOB-canary", p.JobId)
    assert.are.equal("500", p.MaximumPerMinute)
    assert.are.same({ "channel", "beta", "otarun", "camera-2.4.0/canary" },
      { p["Tags.1.Key"], p["Tags.1.Value"], p["Tags.2.Key"], p["Tags.2.Value"] })
    assert.are.equal("2.3.0", p["SrcVersionList.1"])
    assert.matches("MaximumPerMinute: 500 (script) vs 100 (platform)", w.reason, 1, true)
    assert.is_nil(w.drift) -- no record of what otarun sent: a difference, not drift
  end)

  it("calls a value otarun did not send drift, and a script change not", function()
    local r = F.rollout({ F.wave("canary", { versions = { "2.3.0" }, rate = 500 }) }, { firmware = { id = FW } })
    local job = job_for(r, r.waves[1])
    local sent = {}
    for k, v in pairs(job.params) do sent[k] = v end
    job.params.MaximumPerMinute = "800"           -- someone changed it on the console
    local st = store{ intents = { { wave = "canary", action = "CreateOTADynamicUpgradeJob", state = "settled",
      job_id = job.job_id, params = sent } } }
    local w = live(r, { job }, { state = st })[1]
    assert.are.equal("update", w.action)
    assert.are.equal(1, #w.drift)
    assert.matches("changed outside otarun: drift MaximumPerMinute: 500 (script) vs 800 (platform)", w.reason, 1, true)
    -- the script moved from 500 to 600 and the platform still has what otarun sent: no drift
    r.waves[1].rate = 600
    job.params.MaximumPerMinute = "500"
    w = live(r, { job }, { state = st })[1]
    assert.are.equal("update", w.action)
    assert.is_nil(w.drift)
  end)

  it("replaces a job whose group changed: cancel first, then create", function()
    local r = F.rollout({ F.wave("canary", { group = "G2" }) }, { firmware = { id = FW } })
    local job = job_for(r, r.waves[1])
    job.params.GroupId = "G1"
    local w = live(r, { job })[1]
    assert.are.equal("replace", w.action)
    assert.are.same({ "CancelOTAStrategyByJob", "CreateOTADynamicUpgradeJob" }, { w.calls[1].action, w.calls[2].action })
    assert.are.equal("JOB-canary", w.calls[1].params.JobId)
  end)

  it("cancels the running jobs of waves removed from the script, before the others", function()
    local r = F.rollout({ F.wave("canary", { versions = { "2.3.0" } }) }, { firmware = { id = FW } })
    local old = { job_id = "JOB-old", firmware_id = FW, status = "IN_PROGRESS", kind = "static",
      identity = "camera-2.4.0/old", tags = {} }
    local gone = { job_id = "JOB-gone", firmware_id = FW, status = "COMPLETED", kind = "dynamic",
      identity = "camera-2.4.0/gone" }
    local waves = live(r, { old, gone })
    assert.are.equal(2, #waves)
    assert.are.same({ "old", "cancel", "CancelOTATaskByJob" }, { waves[1].name, waves[1].action, waves[1].calls[1].action })
    assert.are.equal("JOB-old", waves[1].calls[1].params.JobId)
    assert.are.equal("create", waves[2].action)
    local p = plan.build({ r }, { now = F.NOW, diff = diff.new{ rollouts = { r }, snapshot = snapshot({ old }),
      mode = "live", now = F.NOW } })
    assert.are.equal(1, p.summary.cancel)
    local restore = plan.without_removed(p)
    assert.are.equal(1, #p.rollouts[1].waves)
    restore()
    assert.are.equal(2, #p.rollouts[1].waves)
  end)

  it("supersedes the running dynamic job with its real JobId once its wave passed", function()
    local r = F.rollout({ F.wave("a", { versions = { "2.3.0" } }), F.wave("b", { versions = { "2.3.0", "2.3.1" } }) },
      { firmware = { id = FW } })
    local st = store{ waves = { { name = "a", state = "passed", job_id = "JOB-a", passed_at = F.NOW - 60,
      started_at = F.NOW - 7200 } } }
    local waves = live(r, { job_for(r, r.waves[1]) }, { state = st })
    assert.are.equal("passed", waves[1].status)
    assert.are.equal("create", waves[2].action)
    assert.are.same({ "CancelOTAStrategyByJob", "CreateOTADynamicUpgradeJob" },
      { waves[2].calls[1].action, waves[2].calls[2].action })
    assert.are.equal("JOB-a", waves[2].calls[1].params.JobId)
  end)

  it("marks finished jobs done, and a cancelled dynamic job superseded by a later one", function()
    local r = F.rollout({ F.wave("a", { versions = { "2.3.0" } }), F.wave("b", { versions = { "2.3.1" } }) },
      { firmware = { id = FW } })
    local a = job_for(r, r.waves[1], { status = "CANCELED" })
    local b = job_for(r, r.waves[2], { status = "COMPLETED" })
    local waves = live(r, { a, b })
    assert.are.equal("superseded", waves[1].status)
    assert.are.equal("done", waves[2].status)
    assert.are.equal(0, #waves[2].calls)
  end)

  it("creates again a wave whose replace was cancelled but never created (live and state modes)", function()
    local r = F.rollout({ F.wave("canary", { versions = { "2.3.0" }, push = false }) }, { firmware = { id = FW } })
    local old = job_for(r, r.waves[1], { status = "CANCELED" })
    local sent = calls.dynamic_create(r, r.waves[1]).params
    local intents = { { wave = "canary", action = "CreateOTADynamicUpgradeJob", state = "settled", job_id = "JOB-canary",
        params = sent },
      { wave = "canary", action = "CancelOTAStrategyByJob", state = "settled", identity = "camera-2.4.0/canary",
        params = '{"JobId":"JOB-canary"}' },
      { wave = "canary", action = "CreateOTADynamicUpgradeJob", state = "failed", params = sent } }
    local st = store{ waves = { { name = "canary", state = "running", job_id = "JOB-canary" } },
      jobs = { { job_id = "JOB-canary", wave = "canary" } }, intents = intents }
    local w = live(r, { old }, { state = st })[1]
    assert.are.same({ "ready", "create", "CreateOTADynamicUpgradeJob" }, { w.status, w.action, w.calls[1].action })
    assert.matches("job JOB-canary was cancelled to replace it, but its new job was never created", w.reason, 1, true)
    local d = diff.new{ rollouts = { r }, state = st, mode = "state", now = F.NOW }
    w = plan.build({ r }, { now = F.NOW, mode = "state", diff = d }).rollouts[1].waves[1]
    assert.are.same({ "ready", "create" }, { w.status, w.action })
    -- once the new job's create settled, the wave is what that job says
    intents[#intents + 1] = { wave = "canary", action = "CreateOTADynamicUpgradeJob", state = "settled",
      job_id = "JOB-new", params = sent }
    local new = job_for(r, r.waves[1], { job_id = "JOB-new", created = "2026-11-30T10:00:00.000Z" })
    w = live(r, { old, new }, { state = st })[1]
    assert.are.same({ "running", "none", "JOB-new" }, { w.status, w.action, w.job_id })
  end)

  it("says whether a cancelled job was cancelled by otarun or outside it", function()
    local r = F.rollout({ F.wave("canary", { versions = { "2.3.0" } }) }, { firmware = { id = FW } })
    local job = job_for(r, r.waves[1], { status = "CANCELED" })
    local st = store{ waves = { { name = "canary", state = "running", job_id = "JOB-canary" } } }
    local w = live(r, { job }, { state = st })[1]
    assert.are.same({ "cancelled", "none" }, { w.status, w.action })
    assert.matches("cancelled outside otarun; remove the wave from the script, or give it a new name", w.reason, 1, true)
    -- an abort (a cancel without the replace mark) is otarun's own: still cancelled, not created again
    st = store{ waves = { { name = "canary", state = "cancelled", job_id = "JOB-canary" } },
      intents = { { wave = "canary", action = "CancelOTAStrategyByJob", state = "settled",
        params = { JobId = "JOB-canary" } } } }
    w = live(r, { job }, { state = st })[1]
    assert.are.same({ "cancelled", "none" }, { w.status, w.action })
    assert.matches("(cancelled by otarun)", w.reason, 1, true)
  end)

  it("in state mode compares with what otarun last sent, without the platform", function()
    local r = F.rollout({ F.wave("canary", { versions = { "2.3.0" }, rate = 300 }) }, { firmware = { id = FW } })
    local sent = calls.dynamic_create(r, r.waves[1]).params
    local st = store{ waves = { { name = "canary", state = "running", job_id = "J1" } },
      jobs = { { job_id = "J1", wave = "canary" } },
      intents = { { wave = "canary", action = "CreateOTADynamicUpgradeJob", state = "settled", job_id = "J1",
        params = sent },
        { wave = "canary", action = "UpdateOTAJob", state = "settled", params = { JobId = "J1", MaximumPerMinute = "200" } } } }
    local d = diff.new{ rollouts = { r }, state = st, mode = "state", now = F.NOW }
    local w = plan.build({ r }, { now = F.NOW, mode = "state", diff = d }).rollouts[1].waves[1]
    assert.are.equal("update", w.action)
    assert.matches("MaximumPerMinute: 300 (script) vs 200 (recorded state)", w.reason, 1, true)
    assert.are.equal("fp-1", d:fingerprint({ r }))
  end)
end)

describe("platform checks", function()
  local function run(r, snap) return checks.run({ r }, snap, function() return false end) end
  local function rules(list)
    local out = {}
    for _, d in ipairs(list) do out[#out + 1] = d.rule end
    table.sort(out)
    return out
  end

  it("flags unverified, differential and MQTT-incompatible firmware as the platform reports it", function()
    local r = F.rollout({ F.wave("canary", { versions = { "2.3.0" }, protocol = "MQTT" }) }, { firmware = { id = FW } })
    local snap = snapshot({}, { id = FW, status = 0, type = "diff", src_version = "2.3.1", files = 2 })
    assert.are.same({ "firmware-unverified", "mqtt-package", "src-version-diff-package" }, rules(run(r, snap)))
    snap = snapshot({}, { id = FW, status = 1, type = "full", files = 1, size = 20 * 1024 * 1024 })
    local d = run(r, snap)
    assert.are.same({ "mqtt-package" }, rules(d))
    assert.matches("20971520 bytes", d[1].message, 1, true)
    snap = snapshot({}, { id = FW, missing = true, error = "iot.ota.FirmwareNotExist: no" })
    assert.are.same({ "required-firmware" }, rules(run(r, snap)))
  end)

  it("flags a running dynamic job of the firmware that is not this rollout's", function()
    local r = F.rollout({ F.wave("canary", { versions = { "2.3.0" } }) }, { firmware = { id = FW } })
    local foreign = { job_id = "J9", firmware_id = FW, status = "IN_PROGRESS", kind = "dynamic", tags = {} }
    local d = run(r, snapshot({ foreign }))
    assert.are.same({ "one-dynamic-per-firmware" }, rules(d))
    assert.matches("J9 (not created by otarun)", d[1].message, 1, true)
    foreign.identity = "camera-2.4.0/old"  -- this rollout's own (removed) wave: cancelled by the plan
    assert.are.same({}, rules(run(r, snapshot({ foreign }))))
  end)

  it("checks group types against the platform's groups", function()
    local r = F.rollout({ F.wave("a", { group = "S1" }), F.wave("b", { kind = "static", group = "D1" }),
      F.wave("c", { group = "NOPE" }) }, { firmware = { id = FW } })
    local snap = snapshot({})
    snap.groups = { [""] = { S1 = "LINK_PLATFORM", D1 = "LINK_PLATFORM_DYNAMIC" } }
    local d = run(r, snap)
    assert.are.same({ "group-type", "group-type", "group-type" }, rules(d))
    assert.matches("group S1 is a static group", d[1].message, 1, true)
    assert.matches("does not exist", d[3].message, 1, true)
  end)

  it("makes a differential package's static wave without versions a warning: the platform skips the rest", function()
    local r = F.rollout({ F.wave("all", { kind = "static", all = true }) }, { firmware = { id = FW } })
    local d = run(r, snapshot({}, { id = FW, status = 1, type = "diff", src_version = "2.3.1", files = 1 }))
    assert.are.same({ "src-version-diff-package" }, rules(d))
    assert.are.equal("warning", d[1].severity)
    assert.matches("skips every device of this wave that is not on 2.3.1", d[1].message, 1, true)
  end)

  it("checks a dynamic group wave's MultiModuleMode and OverwriteMode against the group's running batch", function()
    local r = F.rollout({ F.wave("g", { group = "D1", overwrite = "replace" }) }, { firmware = { id = FW } })
    local other = { job_id = "J7", firmware_id = "fw-other", status = "IN_PROGRESS", kind = "dynamic",
      params = { GroupId = "D1", ProductKey = r.product, FirmwareId = "fw-other", MultiModuleMode = "false", OverwriteMode = "1" } }
    local snap = snapshot({})
    snap.jobs.J7 = other
    local d = run(r, snap)
    assert.are.same({ "group-mode" }, rules(d))
    assert.matches("job J7) with MultiModuleMode=false and OverwriteMode=1", d[1].message, 1, true)
    r.waves[1].overwrite = nil
    assert.are.same({}, rules(run(r, snap)))
    -- two pending waves of different firmware on one group in one plan must agree too
    local r2 = F.rollout({ F.wave("g2", { group = "D1", multi_module = true }) }, { name = "other", firmware = { id = "fw-x" } })
    local both = checks.run({ r, r2 }, snapshot({}), function() return false end)
    assert.are.same({ "group-mode" }, rules(both))
  end)
end)
