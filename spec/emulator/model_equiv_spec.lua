-- The emulator's model against its reference (spec/emulator/reference/: the pure-Lua store, sim
-- and hash as they were before the fleet core moved into C, docs/emulator-scale.md): random small
-- fleets and random operation sequences run on both, side by side, and every answer, every status
-- change (time, task, old and new status) and the saved state must be the same.
local assert = require("luassert")

local SRC = os.getenv("OTARUN_SRC") or "."
local EMU_PREFIX = "^otarun%.emulator"

-- A separate copy of the otarun.emulator modules; `overrides` replaces some of them.
local function emulator_module(overrides)
  local saved = {}
  for k, v in pairs(package.loaded) do
    if k:match(EMU_PREFIX) then saved[k] = v; package.loaded[k] = nil end
  end
  for _, o in ipairs(overrides) do package.loaded[o[1]] = dofile(o[2]) end
  local mod = require("otarun.emulator")
  local state = require("otarun.emulator.state")
  local store = require("otarun.emulator.store")
  for k in pairs(package.loaded) do
    if k:match(EMU_PREFIX) then package.loaded[k] = nil end
  end
  for k, v in pairs(saved) do package.loaded[k] = v end
  return { emulator = mod, state = state, store = store }
end

local REF = emulator_module({
  { "otarun.emulator.ids", SRC .. "/spec/emulator/reference/ids.lua" },
  { "otarun.emulator.store", SRC .. "/spec/emulator/reference/store.lua" },
  { "otarun.emulator.sim", SRC .. "/spec/emulator/reference/sim.lua" },
  { "otarun.emulator.state", SRC .. "/spec/emulator/reference/state.lua" },
})
local NEW = emulator_module({})

local PK = "a1Le6d0prop"
local VERSIONS = { "1.0.0", "1.1.0", "1.2.0" }

-- A random fleet table (the same for both models).
local function random_fleet(rnd)
  local devices = {}
  for i = 1, rnd(1, 3) do
    devices[i] = { version = VERSIONS[rnd(1, 3)], count = rnd(0, 25),
                   groups = rnd(1, 2) == 1 and { "GDyn1" } or nil }
  end
  local failure = {}
  for _, v in ipairs(VERSIONS) do failure[v] = ({ 0, 0.1, 0.5, 1 })[rnd(1, 4)] end
  return {
    product = PK, devices = devices, failure = failure, online = ({ 0.3, 0.8, 1 })[rnd(1, 3)],
    duration = { min = rnd(60, 600), max = rnd(600, 3000) }, seed = rnd(1, 1000),
    poll = rnd(60, 3600), reconnect = rnd(600, 20000),
    groups = { { id = "GStat1", type = "static" } },
  }
end

-- Everything a model can tell: the answer and the admin views after it.
local function observe(m, emu, status, body)
  return {
    status = status, body = body, jobs = emu:jobs(), counters = emu:counters(),
    devices = emu:devices({}),
  }
end

-- The saved state, with the event queue in time order (its order in the file is the heap's).
local function saved(m, emu)
  local t = emu:export_state()
  table.sort(t.sim.queue, function(a, b) return a[1] < b[1] end)
  return t
end

-- One random step: an API call, a device event, or time passing. Returns a description and a
-- function running it on an emulator (the same call on both models).
local function random_step(rnd, known)
  local k = rnd(1, 16)
  local function job() return known.jobs[rnd(1, math.max(1, #known.jobs))] or "nojob" end
  local function fw() return known.fw[rnd(1, math.max(1, #known.fw))] or "nofw" end
  local function dev() return string.format("dev%06d", rnd(1, 40)) end
  if k <= 2 then
    local secs = rnd(0, 3) == 0 and rnd(0, 5) or rnd(10, 20000)
    return "advance", function(emu) emu:advance(secs); return 200, {} end
  elseif k == 3 then
    local v = string.format("2.%d.0", rnd(0, 5))
    return "CreateOTAFirmware", { FirmwareName = "fw" .. rnd(1, 1e6), DestVersion = v, ProductKey = PK,
                                  FirmwareUrl = "https://example/fw.bin", NeedToVerify = "false" }
  elseif k == 4 then
    local p = { FirmwareId = fw(), ProductKey = PK, MaximumPerMinute = tostring(rnd(10, 40)),
                NeedConfirm = rnd(1, 4) == 1 and "true" or nil, NeedPush = rnd(1, 4) == 1 and "false" or nil,
                OverwriteMode = tostring(rnd(1, 2)), DynamicMode = tostring(rnd(1, 2)) }
    if rnd(1, 3) == 1 then p.GroupId, p.GroupType = "GDyn1", "LINK_PLATFORM_DYNAMIC"
    else p["SrcVersion.1"] = VERSIONS[rnd(1, 3)]; if rnd(1, 2) == 1 then p["SrcVersion.2"] = VERSIONS[rnd(1, 3)] end end
    if rnd(1, 2) == 1 then p.RetryInterval, p.RetryCount = tostring(({ 10, 30, 60 })[rnd(1, 3)]), tostring(rnd(1, 3)) end
    if rnd(1, 2) == 1 then p.TimeoutInMinutes = tostring(rnd(5, 60)) end
    return "CreateOTADynamicUpgradeJob", p
  elseif k == 5 then
    local target = ({ "ALL", "GRAY", "SPECIFIC", "GROUP" })[rnd(1, 4)]
    local p = { FirmwareId = fw(), ProductKey = PK, TargetSelection = target, MaximumPerMinute = tostring(rnd(10, 40)),
                OverwriteMode = tostring(rnd(1, 2)), NeedConfirm = rnd(1, 5) == 1 and "true" or nil }
    if target == "GRAY" then p.GrayPercent = tostring(rnd(1, 100)) end
    if target == "SPECIFIC" then for i = 1, rnd(1, 4) do p["TargetDeviceName." .. i] = dev() end end
    if target == "GROUP" then p.GroupId, p.GroupType = "GStat1", "LINK_PLATFORM" end
    if (target == "ALL" or target == "GRAY") and rnd(1, 2) == 1 then p["SrcVersion.1"] = VERSIONS[rnd(1, 3)] end
    if rnd(1, 2) == 1 then p.RetryInterval, p.RetryCount = "10", tostring(rnd(1, 3)) end
    if rnd(1, 3) == 1 then p.TimeoutInMinutes = tostring(rnd(5, 60)) end
    if rnd(1, 4) == 1 then
      p.ScheduleTime = tostring((known.now() + rnd(300, 7200)) * 1000)
      if rnd(1, 2) == 1 then p.ScheduleFinishTime = tostring(math.tointeger(p.ScheduleTime) + rnd(3600, 20000) * 1000) end
    end
    return "CreateOTAStaticUpgradeJob", p
  elseif k == 6 then
    return "ListOTATaskByJob", { JobId = job(), PageSize = tostring(rnd(1, 50)), CurrentPage = tostring(rnd(1, 3)),
                                 TaskStatus = rnd(1, 2) == 1 and known.st[rnd(1, #known.st)] or nil }
  elseif k == 7 then
    return "QueryOTAJob", { JobId = job() }
  elseif k == 8 then
    return "CancelOTATaskByJob", { JobId = job(), CancelQueuedTask = "true", CancelNotifiedTask = tostring(rnd(1, 2) == 1),
                                   CancelInProgressTask = tostring(rnd(1, 2) == 1), CancelScheduledTask = tostring(rnd(1, 2) == 1) }
  elseif k == 9 then
    return "CancelOTAStrategyByJob", { JobId = job() }
  elseif k == 10 then
    return "ListOTAJobByFirmware", { FirmwareId = fw(), PageSize = "50" }
  elseif k == 11 then
    local name, v = dev(), VERSIONS[rnd(1, 3)]
    return "report_version", function(emu) return 200, { emu:report_version(PK, name, v) } end
  elseif k == 12 then
    local name, on = dev(), rnd(1, 2) == 1
    return "set_online", function(emu) return 200, { emu:set_online(PK, name, on) } end
  elseif k == 13 then
    return "UpdateOTAJob", { JobId = job(), MaximumPerMinute = tostring(rnd(10, 100)),
                             TimeoutInMinutes = rnd(1, 2) == 1 and tostring(rnd(5, 90)) or nil }
  elseif k == 14 or k == 15 then
    -- confirm or re-upgrade the tasks of a page (TaskIds read from the model at run time)
    local action = k == 14 and "ConfirmOTATask" or "ReupgradeOTATask"
    local j, st = job(), k == 14 and "CONFIRM" or "FAILED"
    return action, function(emu)
      local status, body = emu:call("ListOTATaskByJob", { JobId = j, PageSize = "5", TaskStatus = st })
      if status ~= 200 or not body.Success or #body.Data.SimpleOTATaskInfo == 0 then return status, body end
      local p = { JobId = j }
      for i, t in ipairs(body.Data.SimpleOTATaskInfo) do p["TaskId." .. i] = t.TaskId end
      return emu:call(action, p)
    end
  else
    return "CancelOTATaskByDevice", { ProductKey = PK, FirmwareId = fw(), ["DeviceName.1"] = dev() }
  end
end

local function run_case(case)
  math.randomseed(case)
  local function rnd(a, b) return math.random(a, b) end  -- drawn once per step, for both models
  local fleet = random_fleet(rnd)
  local models = {}
  for i, m in ipairs({ REF, NEW }) do
    local emu = m.emulator.new({ now = 1767225600, seed = case })
    local ok, err = emu:load_fleet(fleet)
    assert(ok, err)
    local log = {}
    emu.store.trace = function(t, old, new, now) log[#log + 1] = { t, old or 0, new, now } end
    models[i] = { m = m, emu = emu, log = log }
  end
  local known = { jobs = {}, fw = {}, st = REF.store.NAME, now = function() return models[1].emu:now() end }
  for step = 1, 60 do
    local name, action = random_step(rnd, known)
    local answers = {}
    for i, mdl in ipairs(models) do
      local status, body
      if type(action) == "function" then status, body = action(mdl.emu)
      else status, body = mdl.emu:call(name, action) end
      answers[i] = observe(mdl.m, mdl.emu, status, body)
    end
    local where = string.format("case %d step %d %s", case, step, name)
    assert.are.same(answers[1], answers[2], where)
    assert.are.same(models[1].log, models[2].log, where .. ": status changes")
    local b = answers[1].body
    if b and b.Success and b.Data and b.Data.JobId then known.jobs[#known.jobs + 1] = b.Data.JobId end
    if b and b.Success and b.Data and b.Data.FirmwareId then known.fw[#known.fw + 1] = b.Data.FirmwareId end
    if step % 20 == 0 then
      assert.are.same(saved(REF, models[1].emu), saved(NEW, models[2].emu), where .. ": saved state")
    end
  end
  models[1].emu:advance(7 * 86400)
  models[2].emu:advance(7 * 86400)
  assert.are.same(models[1].log, models[2].log, "case " .. case .. ": status changes after a week")
  assert.are.same(saved(REF, models[1].emu), saved(NEW, models[2].emu), "case " .. case .. ": final state")
  return #models[1].log
end

describe("the emulator's model against its reference", function()
  it("writes long integer columns as cjson would: the saved text reads back the same", function()
    local cjson = require("cjson")
    local a = NEW.emulator.new({ now = 1767225600, seed = 3 })
    assert(a:load_fleet({ product = PK, devices = { { version = "1.0.0", count = 700 }, { version = "1.1.0", count = 300 } },
                          failure = { ["1.0.0"] = 0.2 }, online = 0.7, seed = 3 }))
    local _, fw = a:call("CreateOTAFirmware", { FirmwareName = "f", DestVersion = "2.0.0", ProductKey = PK,
                                               FirmwareUrl = "https://example/fw.bin", NeedToVerify = "false" })
    a:call("CreateOTADynamicUpgradeJob", { FirmwareId = fw.Data.FirmwareId, ProductKey = PK, ["SrcVersion.1"] = "1.0.0",
                                           ["SrcVersion.2"] = "1.1.0", RetryInterval = "10", RetryCount = "2" })
    a:advance(5000)
    local text = NEW.state.encode(a)
    assert.are.same(cjson.decode(cjson.encode(a:export_state())), cjson.decode(text))
    assert.is_truthy(text:find("[1,2,3,4,5,", 1, true))          -- a spliced column
    -- the reference model reads it and carries on like the model that wrote it
    local b = REF.emulator.new({ now = 1, seed = 1 })
    assert(REF.state.decode(b, text))
    a:advance(86400)
    b:advance(86400)
    assert.are.same(saved(NEW, a), saved(REF, b))
  end)

  it("saves fractional times exactly: both models read them back and carry on the same", function()
    local a = NEW.emulator.new({ now = 1767225600.37, seed = 5 })
    assert(a:load_fleet({ product = PK, devices = { { version = "1.0.0", count = 400 }, { version = "1.1.0", count = 3,
                          names = { "a/b", "c\"d", "e\\f" } } }, failure = { ["1.0.0"] = 0.3 }, online = 0.6, seed = 5 }))
    local _, fw = a:call("CreateOTAFirmware", { FirmwareName = "f", DestVersion = "2.0.0", ProductKey = PK,
                                               FirmwareUrl = "https://example/fw.bin", NeedToVerify = "false" })
    a:call("CreateOTADynamicUpgradeJob", { FirmwareId = fw.Data.FirmwareId, ProductKey = PK, ["SrcVersion.1"] = "1.0.0",
                                           ["SrcVersion.2"] = "1.1.0", RetryInterval = "10", RetryCount = "2",
                                           TimeoutInMinutes = "30" })
    a:advance(5000.25)
    local text = NEW.state.encode(a)
    assert.is_truthy(text:find("1767225600.3", 1, true))           -- a fractional time as a plain number
    local b = REF.emulator.new({ now = 1, seed = 1 })
    assert(REF.state.decode(b, text))
    local c = NEW.emulator.new({ now = 1, seed = 1 })
    assert(NEW.state.decode(c, text))
    assert.are.same(saved(NEW, a), saved(NEW, c))
    for _, e in ipairs({ a, b, c }) do e:advance(86400.5) end
    assert.are.same(saved(NEW, a), saved(REF, b))
    assert.are.same(saved(NEW, a), saved(NEW, c))
    -- and the reference's file, fractional times as {"$f": ...}, read by the new model
    local rtext = REF.state.encode(b)
    assert.is_truthy(rtext:find('"$f"', 1, true))
    local d = NEW.emulator.new({ now = 1, seed = 1 })
    assert(NEW.state.decode(d, rtext))
    assert.are.same(saved(REF, b), saved(NEW, d))
  end)

  it("gives the same answers and status changes on random fleets and operation sequences", function()
    local changes = 0
    for case = 1, 120 do changes = changes + run_case(case) end
    assert.is_true(changes > 2000, "the random cases exercised too few status changes: " .. changes)
  end)

  it("restores a saved reference model into the new one and carries on the same", function()
    for case = 200, 215 do
      math.randomseed(case)
      local function rnd(a, b) return math.random(a, b) end
      local fleet = random_fleet(rnd)
      local a = REF.emulator.new({ now = 1767225600, seed = case })
      assert(a:load_fleet(fleet))
      local _, fw = a:call("CreateOTAFirmware", { FirmwareName = "f", DestVersion = "2.0.0", ProductKey = PK,
                                               FirmwareUrl = "https://example/fw.bin", NeedToVerify = "false" })
      a:call("CreateOTADynamicUpgradeJob", { FirmwareId = fw.Data.FirmwareId, ProductKey = PK, ["SrcVersion.1"] = "1.0.0",
                                             ["SrcVersion.2"] = "1.1.0", RetryInterval = "10", RetryCount = "2" })
      a:advance(rnd(100, 5000))
      local text = REF.state.encode(a)
      local b = NEW.emulator.new({ now = 1, seed = 1 })
      assert(NEW.state.decode(b, text))
      local c = REF.emulator.new({ now = 1, seed = 1 })
      assert(REF.state.decode(c, text))
      c:advance(86400)
      b:advance(86400)
      assert.are.same(saved(REF, c), saved(NEW, b), "case " .. case)
      assert.are.same(c:jobs(), b:jobs(), "case " .. case)
    end
  end)
end)
