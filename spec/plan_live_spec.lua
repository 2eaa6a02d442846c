-- `otarun plan` against the real emulator over 127.0.0.1 (spec/emu_helper.lua): the plan's calls
-- are carried out through otarun.platform.client and recorded in the state store the way apply does
-- (intent, call, record_call), then the next plan is read. Covers: nothing left to do after a
-- create; a rate change planned as `~` UpdateOTAJob with every tag resent; drift made through the
-- admin API; a group change planned as `-/+`; removed waves cancelled; a superseding dynamic wave
-- cancelling the real JobId; the platform checks; --refresh=false; --out; an unreachable endpoint.
local h = require("helpers")
local emu = require("emu_helper")
local cjson = require("cjson")
local state = require("otarun.state")

local FLEET = emu.FLEET:gsub("firmware = {", [[firmware = {
    { id = "fwUnverif01", version = "2.5.0", verified = false },
    { id = "fwDiffPkg01", version = "2.5.1", type = "diff", src_version = "2.3.1", verified = true },
    { id = "fwBigPkg001", version = "2.5.2", verified = true, size = "20MB" },
    { id = "fwForeign01", version = "2.5.3", verified = true },
    { id = "fwRemoved01", version = "2.5.4", verified = true },]], 1)

local e, c, STATE

local function script(text) return h.script(text) end

local function rollout_text(name, fw, waves)
  return string.format([[
rollout %q {
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = %q,
%s
}
]], name, fw, waves)
end

-- plan(files, extra_args, env_extra) -> exit code, decoded JSON (or nil), stdout, stderr
local function plan(files, extra, env)
  local argv = { "plan", "--format", "json", "--state", STATE }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  for _, f in ipairs(files) do argv[#argv + 1] = f end
  local code, out, err = h.run(argv, { env = e:env(env) })
  local ok, doc = pcall(cjson.decode, out)
  return code, ok and doc or nil, out, err
end

local function wave_of(doc, rollout, wave)
  for _, r in ipairs(doc.rollouts) do
    if r.name == rollout then
      for _, w in ipairs(r.waves) do
        if w.name == wave then return w end
      end
    end
  end
  error("no wave " .. rollout .. "/" .. wave .. " in the plan")
end

local function identity_of(params)
  for i = 1, 20 do
    if params["Tag." .. i .. ".Key"] == "otarun" then return params["Tag." .. i .. ".Value"] end
  end
end

-- Carries out one wave's calls as apply does: an intent, the call, record_call.
local function apply_wave(file, doc, rollout, wave)
  local res = assert(require("otarun.plan.pipeline").check({ file }, { vars = {}, now = os.time(), limits = {} }))
  local r = res.rollouts[1]
  local st <close> = assert(state.open{ state = STATE, command = "spec" })
  assert(st:lock(5))
  assert(st:record_rollout(r))
  local ids = {}
  for _, call in ipairs(wave_of(doc, rollout, wave).calls) do
    local identity = identity_of(call.params)
    local id = assert(st:intent{ rollout = rollout, wave = wave, action = call.action, params = call.params,
      identity = identity })
    local answer = assert(c:call(call.action, call.params))
    local job_id = answer.Data and answer.Data.JobId or call.params.JobId
    local creates = call.action:match("^CreateOTA") ~= nil
    assert(st:record_call(id, { state = "settled", job_id = job_id,
      job = creates and { rollout = rollout, wave = wave, firmware = call.params.FirmwareId,
        kind = call.action:match("Dynamic") and "dynamic" or "static", identity = identity,
        params_fingerprint = require("otarun.plan.diff").params_fingerprint(call.params) } or nil,
      transition = creates and { rollout = rollout, wave = wave, to = "running", why = "created" } or nil,
      audit = { action = call.action, rollout = rollout, wave = wave, params = call.params } }))
    ids[#ids + 1] = job_id
  end
  st:unlock()
  return ids
end

describe("otarun plan against the emulator", function()
  setup(function()
    e = emu.start{ fleet = FLEET }
    c = e:client()
    STATE = os.tmpname() .. ".db"
  end)
  teardown(function() if e then e:stop() end end)

  local A = [[
  wave "canary" { versions = { "2.3.0" }, rate = %d, tags = { channel = "beta" }, gate = { soak = "1h" } },
  wave "rest"   { versions = { "2.3.0", "2.3.1" }, rate = 1000 },]]
  local file_a
  local job_a

  it("plans a create, and nothing once the job exists", function()
    file_a = script(rollout_text("cam-a", "fwHelper0001", A:format(100)))
    local code, doc, out, err = plan({ file_a }, { "--detailed-exitcode" })
    assert.are.equal(2, code, err .. out)
    assert.are.equal("live", doc.mode)
    assert.is_string(doc.state_fingerprint)
    local w = wave_of(doc, "cam-a", "canary")
    assert.are.same({ "ready", "create", "CreateOTADynamicUpgradeJob" }, { w.status, w.action, w.calls[1].action })
    job_a = apply_wave(file_a, doc, "cam-a", "canary")[1]

    code, doc, out, err = plan({ file_a }, { "--detailed-exitcode" })
    assert.are.equal(0, code, err .. out)
    w = wave_of(doc, "cam-a", "canary")
    assert.are.same({ "running", "none", job_a }, { w.status, w.action, w.job_id })
    assert.are.same({}, w.calls)
    local rest = wave_of(doc, "cam-a", "rest")
    assert.are.equal("wait", rest.action)
    assert.matches('waiting for gate of "canary"', rest.reason, 1, true)
    assert.are.same({ 0, 0, 0, 0 }, { doc.summary.create, doc.summary.update, doc.summary.replace, doc.summary.cancel })
  end)

  it("plans a changed rate as an update in place that resends every tag", function()
    local f = h.write(file_a, rollout_text("cam-a", "fwHelper0001", A:format(200)))
    local code, doc, out, err = plan({ f }, { "--detailed-exitcode" })
    assert.are.equal(2, code, err .. out)
    local w = wave_of(doc, "cam-a", "canary")
    assert.are.same({ "update", 1, "UpdateOTAJob" }, { w.action, #w.calls, w.calls[1].action })
    local p = w.calls[1].params
    assert.are.same({ job_a, "200" }, { p.JobId, p.MaximumPerMinute })
    assert.are.same({ "channel", "beta", "otarun", "cam-a/canary" },
      { p["Tags.1.Key"], p["Tags.1.Value"], p["Tags.2.Key"], p["Tags.2.Value"] })
    assert.matches("MaximumPerMinute: 200 (script) vs 100 (platform)", w.reason, 1, true)
    assert.is_nil(w.reason:find("drift", 1, true))  -- the script moved, not the platform
    apply_wave(f, doc, "cam-a", "canary")
    assert.are.equal(200, e:job(job_a).MaximumPerMinute)
    assert.are.equal(2, #e:job(job_a).Tags)
    code = plan({ f }, { "--detailed-exitcode" })
    assert.are.equal(0, code)
  end)

  it("shows a job edited behind otarun's back as drift, with the action that closes it", function()
    e:edit_job(job_a, { MaximumPerMinute = 800 })
    local code, doc = plan({ file_a })
    assert.are.equal(0, code)
    local w = wave_of(doc, "cam-a", "canary")
    assert.are.equal("update", w.action)
    assert.matches("changed outside otarun: drift MaximumPerMinute: 200 (script) vs 800 (platform)", w.reason, 1, true)
    assert.matches("UpdateOTAJob", w.reason, 1, true)
    assert.are.equal("200", w.calls[1].params.MaximumPerMinute)
  end)

  it("plans a changed group as replace: cancel the job, then create", function()
    local f = script(rollout_text("cam-a", "fwHelper0001", [[
  wave "canary" { group = "DynGrp1", rate = 200, tags = { channel = "beta" }, gate = { soak = "1h" } },]]))
    local code, doc, out, err = plan({ f })
    assert.are.equal(0, code, err .. out)
    local w = wave_of(doc, "cam-a", "canary")
    assert.are.equal("replace", w.action)
    assert.are.same({ "CancelOTAStrategyByJob", "CreateOTADynamicUpgradeJob" }, { w.calls[1].action, w.calls[2].action })
    assert.are.equal(job_a, w.calls[1].params.JobId)
    assert.are.equal("DynGrp1", w.calls[2].params.GroupId)
    assert.matches("GroupId: DynGrp1 (script) vs (none) (platform)", w.reason, 1, true)
    -- and the wave "rest", gone from this script, has no job: nothing to cancel for it
    assert.are.equal(1, #doc.rollouts[1].waves)
  end)

  it("cancels the jobs of waves removed from the script (identity tag or store), first", function()
    -- a static job tagged as wave "old" of cam-r, and an untagged dynamic one the store knows as "pilot"
    local old = assert(c:call("CreateOTAStaticUpgradeJob", { FirmwareId = "fwRemoved01", ProductKey = emu.PRODUCT,
      TargetSelection = "ALL", ["SrcVersion.1"] = "2.3.1", ["Tag.1.Key"] = "otarun", ["Tag.1.Value"] = "cam-r/old" })).Data.JobId
    local f = script(rollout_text("cam-r", "fwRemoved01", [[
  wave "pilot" { versions = { "2.3.0" } },
  wave "canary" { versions = { "2.3.0" } },]]))
    local pilot_doc = select(2, plan({ f }))
    local pilot = apply_wave(f, pilot_doc, "cam-r", "pilot")[1]
    local f2 = script(rollout_text("cam-r", "fwRemoved01", [[
  wave "canary" { versions = { "2.3.0" } },]]))
    local code, doc, out, err = plan({ f2 }, { "--detailed-exitcode" })
    assert.are.equal(2, code, err .. out)
    local waves = doc.rollouts[1].waves
    assert.are.same({ "old", "pilot", "canary" }, { waves[1].name, waves[2].name, waves[3].name })
    assert.are.same({ "cancel", "CancelOTATaskByJob", old }, { waves[1].action, waves[1].calls[1].action, waves[1].calls[1].params.JobId })
    assert.are.same({ "cancel", "CancelOTAStrategyByJob", pilot }, { waves[2].action, waves[2].calls[1].action, waves[2].calls[1].params.JobId })
    assert.are.equal(2, doc.summary.cancel)
    assert.matches('wave "pilot" was removed from the script', waves[2].reason, 1, true)
  end)

  it("supersedes the running dynamic job with its real JobId when the next dynamic wave starts", function()
    local f = script(rollout_text("cam-s", "fwHelper0003", [[
  wave "a" { versions = { "2.3.0" } },
  wave "b" { versions = { "2.3.0", "2.3.1" } },]]))
    local doc = select(2, plan({ f }))
    local ja = apply_wave(f, doc, "cam-s", "a")[1]
    do
      local st <close> = assert(state.open{ state = STATE })
      assert(st:transition("cam-s", "a", "passed", "gate passed (spec)"))
    end
    local code, doc2, out, err = plan({ f })
    assert.are.equal(0, code, err .. out)
    local b = wave_of(doc2, "cam-s", "b")
    assert.are.equal("create", b.action)
    assert.are.same({ "CancelOTAStrategyByJob", "CreateOTADynamicUpgradeJob" }, { b.calls[1].action, b.calls[2].action })
    assert.are.equal(ja, b.calls[1].params.JobId)
    assert.are.equal("passed", wave_of(doc2, "cam-s", "a").status)
  end)

  it("runs the checks that need the platform", function()
    assert(c:call("CreateOTADynamicUpgradeJob", { FirmwareId = "fwForeign01", ProductKey = emu.PRODUCT,
      ["SrcVersion.1"] = "2.3.1" }))
    local files = {
      script(rollout_text("p-unverified", "fwUnverif01", [[  wave "w" { versions = { "2.3.0" } },]])),
      script(rollout_text("p-diff", "fwDiffPkg01", [[  wave "w" { versions = { "2.3.0" } },]])),
      script(rollout_text("p-mqtt", "fwBigPkg001", [[  wave "w" { versions = { "2.3.0" }, protocol = "MQTT" },]])),
      script(rollout_text("p-foreign", "fwForeign01", [[  wave "w" { versions = { "2.3.0" } },]])),
      script(rollout_text("p-group", "fwHelper0002", [[  wave "w" { group = "StaticGrp1" },]])),
    }
    local code, doc, out, err = plan(files)
    assert.are.equal(3, code, err .. out)
    local got = {}
    for _, d in ipairs(doc.diagnostics) do
      if d.severity == "error" then got[#got + 1] = d.rollout .. " " .. d.rule end
    end
    table.sort(got)
    assert.are.same({ "p-diff src-version-diff-package", "p-foreign one-dynamic-per-firmware",
      "p-group group-type", "p-mqtt mqtt-package", "p-unverified firmware-unverified" }, got)
    -- offline, the same scripts are valid and the plan says the checks were skipped
    code, doc, out, err = plan(files, { "--offline" })
    assert.are.equal(0, code, err)
    -- with a state store, --offline plans from its records (never from nothing), unappliable
    assert.are.equal("state", doc.mode)
    assert.are.equal(require("cjson").null, doc.state_fingerprint)
    assert.matches("were skipped", err, 1, true)
  end)

  it("with --refresh=false compares with the store only: no platform call", function()
    local before = e:counters().model.calls
    local code, doc, out, err = plan({ file_a }, { "--refresh=false" })
    assert.are.equal(0, code, err .. out)
    assert.are.same(before, e:counters().model.calls)
    assert.are.equal("state", doc.mode)
    assert.is_string(doc.state_fingerprint)
    local w = wave_of(doc, "cam-a", "canary")
    assert.are.same({ "running", job_a }, { w.status, w.job_id })
    assert.are.equal("none", w.action) -- the store says otarun last sent rate 200, as the script
  end)

  it("saves the plan with the fingerprint of the state it saw and the scripts' hashes", function()
    local out_file = os.tmpname()
    local code, doc, out, err = plan({ file_a }, { "--out", out_file })
    assert.are.equal(0, code, err .. out)
    local saved = cjson.decode(h.slurp(out_file))
    assert.are.equal(doc.state_fingerprint, saved.state_fingerprint)
    local st <close> = assert(state.open{ state = STATE, readonly = true })
    assert.are.equal(st:fingerprint({ "cam-a" }), saved.state_fingerprint)
    assert.are.same({ "cam-a" }, saved.saved.rollouts)
    assert.are.equal(file_a, saved.saved.scripts[1].path)
    assert.are.equal(require("otarun.core.sign").sha256_hex(h.slurp(file_a)), saved.saved.scripts[1].sha256)
    assert.are.same({}, require("otarun.plan.saved").changed_scripts(saved))
    assert.are.equal("update", wave_of(saved, "cam-a", "canary").action) -- the drift from above
    os.remove(out_file)
  end)

  it("plans live in-process through pipeline.plan with one client and a store", function()
    local st <close> = assert(state.open{ state = STATE, readonly = true })
    local res = assert(require("otarun.plan.pipeline").plan({ file_a }, { vars = {}, now = os.time(), limits = {},
      mode = "live", client = c, state = st }))
    assert.are.equal("live", res.plan.mode)
    assert.are.equal(st:fingerprint({ "cam-a" }), res.plan.state_fingerprint)
    assert.are.equal(3, res.plan.refresh_calls) -- QueryOTAFirmware, one page, QueryOTAJob of canary
    assert.are.equal("update", res.plan.rollouts[1].waves[1].action)
  end)

  it("exits 1 with a clear message when the platform cannot be reached", function()
    local code, out, err = h.run({ "plan", "--state", STATE, "--endpoint", "http://127.0.0.1:1", file_a },
      { env = e:env() })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("cannot read the platform", err, 1, true)
    assert.matches("--offline", err, 1, true)
    assert.is_nil(err:find(emu.SECRET, 1, true))
  end)

  it("exits 1 when the key is refused, naming no secret", function()
    local code, _, err = h.run({ "plan", "--state", STATE, file_a },
      { env = e:env{ ALIBABA_CLOUD_ACCESS_KEY_SECRET = "wrong-secret-123" } })
    assert.are.equal(1, code)
    assert.matches("check the credentials", err, 1, true)
    assert.is_nil(err:find("wrong-secret-123", 1, true))
  end)
end)
