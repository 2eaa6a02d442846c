-- Fleets (tables and files), determinism for a seed, the real clock, and the admin views.
local S = require("emulator.support")
local emulator = require("otarun.emulator")
local h = require("helpers")

-- Runs a fixed scenario and returns a fingerprint of everything observable.
local function scenario(seed)
  local emu = emulator.new({ now = S.T0, seed = seed })
  assert(emu:load_fleet({ product = S.PK, online = 0.8, reconnect = "2h", failure = { ["2.3.0"] = 0.2 },
    duration = { min = "1m", max = "50m" },
    devices = { { version = "2.3.0", count = 300 }, { version = "2.3.1", count = 100 } } }))
  local fid = S.firmware(emu, "2.4.0")
  local job = S.dynamic(emu, fid, { ["SrcVersion.2"] = "2.3.1", MaximumPerMinute = "20", RetryInterval = "10", RetryCount = "1" })
  S.call(emu, "CreateOTAStaticUpgradeJob", { FirmwareId = S.firmware(emu, "2.5.0"), ProductKey = S.PK, TargetSelection = "GRAY",
    GrayPercent = "30", ["SrcVersion.1"] = "2.4.0" })
  emu:advance(4 * 3600)
  local parts = { fid, job }
  for _, j in ipairs(emu:jobs()) do
    for _, t in ipairs(emu:tasks(j.JobId, { limit = 100000 })) do
      parts[#parts + 1] = table.concat({ t.TaskId, t.DeviceName, t.TaskStatus, t.UtcModified }, "|")
    end
  end
  return table.concat(parts, "\n"), emu
end

describe("determinism", function()
  it("gives the same outcome, ids and times for the same seed", function()
    local a = scenario(7)
    local b = scenario(7)
    assert.are.equal(a, b)
    assert.is_true(#a > 10000)
  end)

  it("gives another outcome for another seed", function()
    assert.are_not.equal(scenario(7), scenario(8))
  end)
end)

describe("fleets", function()
  it("loads several products and adds devices to a known product", function()
    local emu = emulator.new({ now = S.T0 })
    local res = assert(emu:load_fleet({ online = 1, products = {
      { product = "pA", devices = { { version = "1.0", count = 3 } } },
      { product = "pB", name = "Camera", devices = { { version = "2.0", count = 2, prefix = "cam" } } } } }))
    assert.are.same({ "pA", "pB" }, res.products)
    assert.are.equal(5, res.devices)
    assert(emu:load_fleet({ product = "pA", devices = { { version = "1.1", count = 2 } } }))
    assert.are.equal(7, emu:counters().devices)
    assert.are.equal("dev000005", emu:devices({ product = "pA", version = "1.1" })[2].DeviceName)
    assert.are.equal("Camera", S.call(emu, "QueryDeviceDetail", { ProductKey = "pB", DeviceName = "cam000002" }).Data.ProductName)
  end)

  it("declares groups with a type and firmware the scripts name by id", function()
    local emu = emulator.new({ now = S.T0 })
    assert(emu:load_fleet({ product = S.PK,
      groups = { { id = "Shelf", type = "static", name = "lab shelf" } },
      firmware = { { id = "nx3xxVvFdwvn6dim50PY03", version = "2.4.0", size = "12MB" },
                   { id = "diffPkg0000000000000001", version = "2.4.1", type = "diff", src_version = "2.4.0", verified = false } },
      devices = { { version = "2.3.0", count = 4, groups = { "Shelf", "Dyn1" } }, { version = "2.4.0", names = { "alpha", "beta" } } } }))
    local fw = S.call(emu, "QueryOTAFirmware", { FirmwareId = "nx3xxVvFdwvn6dim50PY03" }).FirmwareInfo
    assert.are.equal(12 * 1024 * 1024, fw.FirmwareSize)
    assert.are.equal(-1, fw.Status)
    local diff = S.call(emu, "QueryOTAFirmware", { FirmwareId = "diffPkg0000000000000001" }).FirmwareInfo
    assert.are.equal(1, diff.Type)
    assert.are.equal(0, diff.Status)
    assert.are.equal("2.4.0", diff.SrcVersion)
    assert.are.equal("LINK_PLATFORM", S.call(emu, "QueryDeviceGroupList", {}).Data.GroupInfo[1].GroupType)
    assert.are.equal(1, S.call(emu, "QueryDeviceGroupList", { ["GroupTypes.1"] = "LINK_PLATFORM_DYNAMIC" }).Total)
    assert.are.equal(4, #emu:devices({ group = "Dyn1" }))
    S.call(emu, "QueryDeviceDetail", { ProductKey = S.PK, DeviceName = "beta" })
  end)

  it("refuses a bad fleet with a message naming the field", function()
    local emu = emulator.new({ now = S.T0 })
    local ok, err = emu:load_fleet({ product = S.PK, devices = { { version = "1", cuont = 3 } } })
    assert.is_nil(ok)
    assert.matches('fleet.devices%[1%]: unknown field "cuont" %(did you mean count%?%)', err)
    ok, err = emu:load_fleet({ product = S.PK, devices = {}, online = 2 })
    assert.is_nil(ok)
    assert.matches("fleet.online", err)
    ok, err = emu:load_fleet({ devices = {} })
    assert.matches("product", err)
    ok, err = emu:load_fleet({ product = S.PK, devices = {}, duration = { min = "5x" } })
    assert.matches("duration.min", err)
  end)

  it("runs fleet files in the sandbox", function()
    local path = h.script([[
      for i = 1, 2 do
        fleet { product = "p" .. i, devices = { { version = "2.3.0", count = 10 * i } }, online = 0.9, seed = 3 }
      end
    ]])
    local fleets = assert(emulator.load_fleet_file(path))
    assert.are.equal(2, #fleets)
    local emu = emulator.new({ now = S.T0 })
    for _, f in ipairs(fleets) do assert(emu:load_fleet(f)) end
    assert.are.equal(30, emu:counters().devices)
    local _, err = emulator.load_fleet_file(h.script([[os.execute("true")]]))
    assert.matches("os.execute is blocked", err)
    _, err = emulator.load_fleet_file(h.script([[fleet { product = "x", devices = { { version = "1", count = "many" } } }]]))
    assert.matches("count", err)
    _, err = emulator.load_fleet_file(h.script("x = 1"))
    assert.matches("declares no fleet", err)
    _, err = emulator.load_fleet_file("/nonexistent/fleet.lua")
    assert.matches("cannot read", err)
  end)
end)

describe("clock", function()
  it("runs the real clock at speed and catches the simulation up on request", function()
    local emu = emulator.new({ clock = "real", speed = 3600, now = S.T0 })
    assert(emu:load_fleet({ product = S.PK, devices = { { version = "2.3.0", count = 10 } }, duration = { min = "5m", max = "5m" } }))
    local fid = S.firmware(emu, "2.4.0")
    local job = S.dynamic(emu, fid)
    local sys = require("otarun.core.sys")
    sys.sleep(0.5)                          -- half a second is half an hour at speed 3600
    emu:advance_to_real()
    assert.is_true(emu:now() >= S.T0 + 1700)
    assert.are.equal(10, S.totals(emu, job).SUCCEEDED)
  end)

  it("moves the manual clock only when told", function()
    local emu = S.new()
    assert.are.equal(S.T0, emu:now())
    emu:advance(90)
    assert.are.equal(S.T0 + 90, emu:now())
    assert.has_error(function() emu:advance(-1) end)
  end)
end)

describe("admin views", function()
  it("lists jobs with counts, tasks by status, devices, counters, and changes a job behind otarun's back", function()
    local emu = S.new()
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { MaximumPerMinute = "10" })
    local j = emu:jobs()[1]
    assert.are.equal(job, j.JobId)
    assert.are.equal(80, j.Total)
    assert.are.equal(80, j.Tasks.QUEUED + j.Tasks.NOTIFIED)
    emu:advance(59)
    assert.are.equal(70, #emu:tasks(job, { status = "QUEUED" }))
    assert.are.equal(1, #emu:tasks(job, { device = "dev000021" }))
    assert.is_nil(emu:tasks("nope"))
    local c = emu:counters()
    assert.are.equal(100, c.devices)
    assert.are.equal(1, c.calls.CreateOTADynamicUpgradeJob)
    assert.is_true(emu:update_job_admin(job, { MaximumPerMinute = 20, Tags = { otarun = "r/w" }, SrcVersions = { "2.3.0", "2.3.1" } }))
    local q = S.call(emu, "QueryOTAJob", { JobId = job }).Data
    assert.are.equal(20, q.MaximumPerMinute)
    assert.are.same({ { Key = "otarun", Value = "r/w" } }, q.Tags.OtaTagDTO)
    assert.are.equal(100, S.call(emu, "ListOTATaskByJob", { JobId = job, PageSize = "1" }).Total)
    assert.is_true(emu:update_job_admin(job, { JobStatus = "CANCELED" }))
    assert.are.equal("CANCELED", S.call(emu, "QueryOTAJob", { JobId = job }).Data.JobStatus)
    local ok, err = emu:update_job_admin(job, { Bogus = 1 })
    assert.is_nil(ok)
    assert.matches("Bogus", err)
  end)
end)
