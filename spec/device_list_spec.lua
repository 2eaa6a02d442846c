-- Static waves of more than 200 devices: the emulator's GenerateDeviceNameListURL, its object
-- storage upload (an OSS PostObject form) and DnListFileUrl, the client's upload, and a script
-- with devices_file going out as one job through `otarun apply` against the emulator on 127.0.0.1.
local emulator = require("otarun.emulator")
local tl = require("otarun.platform.transport_local")
local device_list = require("otarun.platform.device_list")
local ah = require("apply_helpers")
local h = require("helpers")

local T0 = 1798761600

local function names(from, to)
  local out = {}
  for i = from, to do out[#out + 1] = string.format("dev%06d", i) end
  return out
end

describe("device list files in the emulator", function()
  local emu, c
  before_each(function()
    emu = emulator.new{ clock = "manual", now = T0 }
    assert(emu:load_fleet{ product = "pk1", devices = { { version = "1.0", count = 600 } },
      duration = { min = "5m", max = "10m" }, firmware = { { id = "fw2", version = "2.0", verified = true } } })
    c = tl.client(emu, { pace = false })
  end)

  it("takes an uploaded list of 450 names as one static job", function()
    local url = assert(device_list.upload(c, names(1, 450)))
    local job = assert(c:call("CreateOTAStaticUpgradeJob", { FirmwareId = "fw2", ProductKey = "pk1",
      TargetSelection = "SPECIFIC", DnListFileUrl = url })).Data.JobId
    assert.are.equal(450, assert(c:call("ListOTATaskByJob", { JobId = job, PageSize = 1 })).Total)
    local none = assert(c:call("ListOTATaskByJob", { JobId = job, ["DeviceNames.1"] = "dev000451" }))
    assert.are.equal(0, #none.Data.SimpleOTATaskInfo)
  end)

  it("refuses a form it did not issue, a wrong signature, an expired form and an unknown file", function()
    local d = assert(c:call("GenerateDeviceNameListURL", {})).Data
    assert.are.equal("OSS", d.ObjectStorage)
    local ops = require("otarun.emulator.ops_device_list")
    local function post(fields)
      local b = "XyZ"
      local body = {}
      for k, v in pairs(fields) do body[#body + 1] = "--" .. b .. '\r\nContent-Disposition: form-data; name="' .. k .. '"\r\n\r\n' .. v .. "\r\n" end
      body[#body + 1] = "--" .. b .. '\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\ndev000001\r\n--' .. b .. "--\r\n"
      return ops.upload(emu, { method = "POST", headers = { ["content-type"] = "multipart/form-data; boundary=" .. b },
        body = table.concat(body) })
    end
    local good = { key = d.Key, OSSAccessKeyId = d.AccessKeyId, policy = d.Policy, Signature = d.Signature }
    local status, _, body = post({ key = "dnlist/other.txt", OSSAccessKeyId = d.AccessKeyId, policy = d.Policy, Signature = d.Signature })
    assert.are.equal(403, status)
    assert.matches("<Code>AccessDenied</Code>", body, 1, true)
    status, _, body = post({ key = d.Key, OSSAccessKeyId = d.AccessKeyId, policy = d.Policy, Signature = "bad" })
    assert.are.equal(403, status)
    assert.matches("SignatureDoesNotMatch", body, 1, true)
    assert.are.equal(204, (post(good)))
    emu:advance(2 * 3600)
    assert.are.equal(403, (post(good)))
    local _, err = c:call("CreateOTAStaticUpgradeJob", { FirmwareId = "fw2", ProductKey = "pk1",
      TargetSelection = "SPECIFIC", DnListFileUrl = d.FileUrl .. "x" })
    assert.are.equal("iot.ota.InvalidDnListFile", err.code)
    _, err = c:call("CreateOTAStaticUpgradeJob", { FirmwareId = "fw2", ProductKey = "pk1",
      TargetSelection = "SPECIFIC", DnListFileUrl = d.FileUrl, TargetDeviceName = { "dev000001" } })
    assert.are.equal("iot.common.InvalidFormattedParameter", err.code)
  end)
end)

describe("otarun apply with devices_file", function()
  local dir, server, db
  setup(function()
    dir, server, db = ah.up(0, { fleet = [[
fleet {
  product = "a1Le6d0abcd",
  devices = { { version = "2.3.1", count = 600 } },
  firmware = { { id = "fwList0001", version = "2.4.0", verified = true } },
  duration = { min = "5m", max = "10m" }, online = 1, seed = 7,
}
]] })
  end)
  teardown(function() ah.down(server, dir) end)

  it("plans GenerateDeviceNameListURL and a DnListFileUrl create, and applies them as one job of 450 devices", function()
    local list = { "# the lab's cameras" }
    for _, n in ipairs(names(1, 450)) do list[#list + 1] = n end
    h.write(dir .. "/lab.txt", table.concat(list, "\n") .. "\n")
    local script = h.write(dir .. "/lab.lua", [[
rollout "lab" {
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = firmware { id = "fwList0001", version = "2.4.0", verified = true },
  wave "lab" { kind = "static", devices_file = "lab.txt", rate = 1000 },
}
]])
    local code, out, err = ah.otarun(server, db, { "plan", script })
    assert.are.equal(0, code, out .. err)
    assert.matches("its 450 devices go out as a device list file", out, 1, true)
    assert.matches("GenerateDeviceNameListURL", out, 1, true)
    assert.matches('DnListFileUrl    = (FileUrl of the device list of wave "lab")', out, 1, true)
    code, out, err = ah.otarun(server, db, { "plan", "--format", "json", script })
    assert.are.equal(0, code, out .. err)
    local create = require("cjson").decode(out).rollouts[1].waves[1].calls[2]
    assert.are.same({ ref = "device_list_url", wave = "lab" }, create.params.DnListFileUrl)
    code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    local jobs = ah.jobs(server)
    assert.are.equal(1, #jobs)
    assert.are.equal(450, jobs[1].Tasks.QUEUED + jobs[1].Tasks.NOTIFIED + jobs[1].Tasks.IN_PROGRESS)
    local c = ah.admin(server, "GET", "counters")
    assert.are.equal(1, c.requests.by_action.GenerateDeviceNameListURL)
  end)

  it("says what is wrong with a devices_file", function()
    local script = h.write(dir .. "/bad.lua", [[
rollout "bad" {
  product = "a1Le6d0abcd", region = "cn-shanghai", firmware = "fwList0001",
  wave "a" { kind = "static", devices_file = "missing.txt" },
  wave "b" { kind = "static", devices_file = "../etc/passwd" },
}
]])
    local code, out, err = ah.otarun(server, db, { "validate", script })
    assert.are.equal(3, code)
    assert.matches("devices-file", out .. err, 1, true)
    assert.matches("cannot read devices_file", out .. err, 1, true)
    assert.matches("must be a relative path under the script's folder", out .. err, 1, true)
  end)
end)
