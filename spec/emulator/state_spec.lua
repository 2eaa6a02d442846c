-- Saving and restoring the emulator (state.lua, otarun emulator --state): a model exported mid-run
-- and imported into a fresh emulator behaves exactly like the original from then on (task states,
-- events, next identifiers); damaged, foreign and incompatible states are refused with a reason;
-- the real binary saves on SIGTERM and on POST /_emulator/shutdown and carries on after a restart.
local S = require("emulator.support")
local H = require("emulator.http_support")
local emulator = require("otarun.emulator")
local state = require("otarun.emulator.state")
local cjson = require("cjson")
local helpers = require("helpers")
local sys = require("otarun.core.sys")

-- A model in the middle of everything: offline devices, failures with retries, a rate-limited
-- queue, a scheduled gray batch polling without push, a verification waiting for confirmation.
local function busy_model()
  local emu = S.new({
    online = 0.7, reconnect = "1h", failure = { ["2.3.0"] = 0.2, ["2.3.1"] = 0.1 },
    duration = { min = "5m", max = "40m" },
    devices = { { version = "2.3.1", count = 20, groups = { "StaticG" } },
                { version = "2.3.0", count = 80, groups = { "IwOwQj7DJ" } } },
    groups = { { id = "StaticG", type = "static", name = "static group" } },
  })
  S.dynamic(emu, S.firmware(emu, "2.4.0"), { MaximumPerMinute = "10", RetryInterval = "10",
    RetryCount = "2", TimeoutInMinutes = "60", ["Tag.1.Key"] = "wave", ["Tag.1.Value"] = "w1" })
  S.call(emu, "CreateOTAStaticUpgradeJob", { FirmwareId = S.firmware(emu, "2.3.5"), ProductKey = S.PK,
    TargetSelection = "GRAY", GrayPercent = "50", ["SrcVersion.1"] = "2.3.1", NeedPush = "false",
    ScheduleTime = tostring((S.T0 + 600) * 1000), ScheduleFinishTime = tostring((S.T0 + 600 + 7200) * 1000) })
  local vfw = S.firmware(emu, "2.5.0", { NeedToVerify = "true" })
  S.call(emu, "CreateOTAVerifyJob", { FirmwareId = vfw, ProductKey = S.PK, ["TargetDeviceName.1"] = "dev000003",
    NeedConfirm = "true" })
  emu:advance(1800)
  return emu
end

-- Everything the admin API can see of a model.
local function snapshot(emu)
  local out = { counters = emu:counters(), jobs = emu:jobs(), devices = emu:devices({ limit = 100000 }), tasks = {} }
  for _, j in ipairs(out.jobs) do out.tasks[j.JobId] = emu:tasks(j.JobId, { limit = 100000 }) end
  return out
end

local function restored(emu)
  local copy = emulator.new({ now = 1, seed = 99 })          -- both replaced by the saved ones
  local text = state.encode(emu)
  local ok, err = state.decode(copy, text)
  assert(ok, err)
  return copy, text
end

-- The same steps on both models; returns the trace of status changes and the answers.
local function carry_on(emu)
  local log = S.trace(emu)
  local answers = {}
  emu:advance(600)
  for _, j in ipairs(emu:jobs()) do
    for _, t in ipairs(emu:tasks(j.JobId, { status = "CONFIRM" })) do
      S.call(emu, "ConfirmOTATask", { ["TaskId.1"] = t.TaskId })
    end
  end
  assert(emu:report_version(S.PK, "dev000021", "2.3.0"))
  answers.fw = S.firmware(emu, "2.6.0")
  answers.job = S.dynamic(emu, answers.fw, { ["SrcVersion.1"] = "2.3.1", MaximumPerMinute = "20" })
  answers.page = S.call(emu, "ListOTATaskByJob", { JobId = answers.job, PageSize = "100" }).Data
  emu:advance(86400)
  answers.snapshot = snapshot(emu)
  return log, answers
end

describe("emulator state", function()
  it("round-trips mid-run: the restored model carries on exactly like the original", function()
    local a = busy_model()
    local b = restored(a)
    assert.are.same(snapshot(a), snapshot(b))
    local log_a, ans_a = carry_on(a)
    local log_b, ans_b = carry_on(b)
    assert.are.equal(ans_a.fw, ans_b.fw)                  -- same next identifiers
    assert.are.equal(ans_a.job, ans_b.job)
    assert.are.same(ans_a.page, ans_b.page)
    assert.are.same(log_a, log_b)                         -- same transitions at the same times
    assert.is_true(#log_a > 100)
    assert.are.same(ans_a.snapshot, ans_b.snapshot)
    local c = ans_a.snapshot.counters.tasks
    assert.is_true(c.SUCCEEDED > 0 and c.FAILED > 0, cjson.encode(c))
  end)

  it("exports what it imported", function()
    local a = busy_model()
    local b, text = restored(a)
    assert.are.same(cjson.decode(text), cjson.decode(state.encode(b)))
  end)

  it("keeps fractional times and identifiers beyond 14 digits exact", function()
    local emu = S.new({}, { now = S.T0 + 0.123456789 })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"))
    emu:advance(61.25)
    local b = restored(emu)
    assert.are.equal(emu.sim.now, b.sim.now)
    assert.are.equal(emu.store.gen.s, b.store.gen.s)
    assert.are.same(emu:tasks(job), b:tasks(job))
  end)

  it("resumes a real clock from the saved time", function()
    local emu = S.new({}, { clock = "real", speed = 1 })
    local saved = emu:now()
    local b = emulator.new({ clock = "real" })
    assert(b:import_state(cjson.decode(state.encode(emu))))
    assert.is_true(math.abs(b:now() - saved) < 5)
  end)

  describe("refuses", function()
    local function refused(text, want)
      local emu = emulator.new({ now = S.T0 })
      local ok, err = state.decode(emu, text)
      assert.is_nil(ok)
      assert.truthy(err:find(want, 1, true), err)
      assert.are.equal(0, emu.store.ndev)                 -- left empty, still usable
      assert(emu:load_fleet({ product = S.PK, devices = { { version = "1.0", count = 2 } } }))
    end

    it("text that is not JSON", function() refused("{\"format\": ", "not JSON") end)
    it("JSON that is not a saved state", function() refused("{\"devices\": []}", "not a saved emulator state") end)

    it("a state of another version", function()
      local t = cjson.decode(state.encode(S.new()))
      t.version = 99
      refused(cjson.encode(t), "incompatible emulator: state version 99")
    end)

    it("a damaged state, naming what is wrong", function()
      local t = cjson.decode(state.encode(busy_model()))
      table.remove(t.store.tasks.status)
      refused(cjson.encode(t), "damaged: column status has")
      t = cjson.decode(state.encode(busy_model()))
      t.store.devices.version[3] = 7
      refused(cjson.encode(t), "damaged: column version: expected string")
      t = cjson.decode(state.encode(busy_model()))
      t.store.jobs[1].bucket[2][1] = t.store.jobs[1].bucket[5][1]
      refused(cjson.encode(t), "damaged")
    end)

    it("to load into an emulator that already has a fleet", function()
      local ok, err = state.decode(S.new(), state.encode(S.new()))
      assert.is_nil(ok)
      assert.truthy(err:find("only into an empty emulator", 1, true), err)
    end)
  end)
end)

describe("otarun emulator --state", function()
  local FLEET = helpers.src .. "/spec/emulator/fixture_fleet.lua"
  local path

  local function start()
    return H.start({ "--fleet", FLEET, "--clock", "manual", "--key", "AKSPEC:spec-secret", "--state", path })
  end

  local function call(em, action, params)
    local status, text = H.send(em.url, (H.v1({ id = "AKSPEC", secret = "spec-secret", host = "127.0.0.1:" .. em.port,
      action = action, params = params })))
    local body = H.decode(text)
    assert.are.equal(200, status, text)
    assert.is_true(body.Success, text)
    return body
  end

  local function stopped(em, how)
    if how == "TERM" then os.execute("kill -TERM " .. em.pid) else em.stop() end
    local err = ""
    for _ = 1, 100 do
      err = H.slurp(em.stderr_path)
      if err:find("stopped", 1, true) then break end
      sys.sleep(0.05)
    end
    return err
  end

  before_each(function() path = os.tmpname(); os.remove(path) end)
  after_each(function() os.remove(path) end)

  it("keeps jobs and tasks across a SIGTERM and a restart, and they progress", function()
    local em = start()
    local job = call(em, "CreateOTADynamicUpgradeJob", { FirmwareId = "fw-240", ProductKey = "a1Le6d0abcd",
      ["SrcVersion.1"] = "2.3.0", MaximumPerMinute = "10" }).Data.JobId
    H.admin(em, "POST", "/_emulator/clock/advance?seconds=120")
    local _, before = H.admin(em, "GET", "/_emulator/jobs/" .. job .. "/tasks")
    local _, clock = H.admin(em, "GET", "/_emulator/clock")
    local err = stopped(em, "TERM")
    assert.truthy(err:find("stopped (signal SIGTERM)", 1, true), err)
    assert.truthy(err:find("state saved to " .. path, 1, true), err)

    em = start()
    local ok, e = pcall(function()
      assert.truthy(H.slurp(em.stderr_path):find("--fleet files not loaded again", 1, true))
      local _, after = H.admin(em, "GET", "/_emulator/jobs/" .. job .. "/tasks")
      assert.are.same(before, after)
      local _, clock2 = H.admin(em, "GET", "/_emulator/clock")
      assert.are.equal(clock.now, clock2.now)
      local _, devices = H.admin(em, "GET", "/_emulator/devices?limit=1000")
      assert.are.equal(52, #devices.devices)              -- the fleet once, not twice
      H.admin(em, "POST", "/_emulator/clock/advance?seconds=86400")
      local page = call(em, "ListOTATaskByJob", { JobId = job, TaskStatus = "SUCCEEDED", PageSize = "1" })
      assert.is_true(page.Total >= 25, tostring(page.Total))
      local fw = call(em, "CreateOTAFirmware", { FirmwareName = "after-restart", DestVersion = "2.5.0",
        ProductKey = "a1Le6d0abcd", FirmwareUrl = "https://example/fw.bin" }).Data.FirmwareId
      assert.is_string(fw)
    end)
    local err2 = stopped(em, "shutdown")
    assert(ok, e)
    assert.truthy(err2:find("state saved to", 1, true), err2)

    em = start()                                          -- the shutdown saved the firmware too
    ok, e = pcall(function()
      local body = call(em, "ListOTAFirmware", { PageSize = "10" })
      assert.are.equal(2, body.Total)
      local _, clock3 = H.admin(em, "GET", "/_emulator/clock")
      assert.are.equal(clock.now + 86400, clock3.now)
    end)
    em.stop()
    assert(ok, e)
  end)

  it("refuses to start from a damaged state file rather than starting empty", function()
    helpers.write(path, '{"format": "otarun-emulator-state", "version": 1, "store": ')
    local code, _, err = helpers.run({ "emulator", "--listen", "127.0.0.1:0", "--clock", "manual",
      "--key", "A:B", "--fleet", FLEET, "--state", path })
    assert.are.equal(1, code)
    assert.truthy(err:find(path, 1, true), err)
    assert.truthy(err:find("not JSON", 1, true), err)
    assert.are.equal('{"format": "otarun-emulator-state", "version": 1, "store": ', helpers.slurp(path))
  end)
end)
