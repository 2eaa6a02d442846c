-- End to end over 127.0.0.1 against the real emulator (`otarun emulator`): every operation it
-- serves through `otarun call` (V3 and v1, AK and STS), every error class through the client
-- module (business, gateway, throttled, transport, unknown_outcome), pacing with zero throttled
-- answers, and finally that the secrets appear in nothing any command or the emulator printed.
local h = require("helpers")
local ch = require("client_helpers")
local cjson = require("cjson")
local client = require("otarun.platform.client")
local ratelimit = require("otarun.platform.ratelimit")
local credentials = require("otarun.platform.credentials")
local sys = require("otarun.core.sys")

local KEY, SECRET = "LTAI5tEmuSpecKey", "emuSpecSecret-0a1b2c3d4e5f6a7b"
local STS_KEY, STS_SECRET, TOKEN = "STS.EmuSpecKey", "emuSpecStsSecret-99887766", "emuSpecToken-ffeeddccbbaa"
local PK = "a1Le6d0abcd"
local ENV = { ALIBABA_CLOUD_ACCESS_KEY_ID = KEY, ALIBABA_CLOUD_ACCESS_KEY_SECRET = SECRET,
  HOME = "/nonexistent-home" }

local FLEET = [[
fleet {
  product = "a1Le6d0abcd",
  devices = {
    { version = "2.3.1", count = 3, names = { "cam-1", "cam-2", "cam-3" }, groups = { "StaticGrp1" } },
    { version = "2.3.0", count = 5, groups = { "DynGrp1" } },
  },
  groups = { { id = "StaticGrp1", type = "static", name = "static-one" },
             { id = "DynGrp1", type = "dynamic", name = "dynamic-one" } },
  firmware = { { id = "fwEmuSpec0001", version = "2.4.0", name = "cam-240", verified = true },
               { id = "fwEmuSpec0002", version = "2.4.1", name = "cam-241", verified = true },
               { id = "fwEmuSpec0003", version = "2.4.2", name = "cam-242", verified = true } },
  duration = { min = "5m", max = "40m" }, online = 1, seed = 7,
}
]]

local server

local function call(argv, env)
  local full = { "call" }
  for _, a in ipairs(argv) do full[#full + 1] = a end
  full[#full + 1] = "--endpoint"
  full[#full + 1] = server.url
  local code, out, err = ch.run(full, { env = env or ENV })
  local ok, decoded = pcall(cjson.decode, out)
  return code, ok and decoded or nil, err, out
end

local function ok_call(argv, env)
  local code, res, err, out = call(argv, env)
  assert.are.equal(0, code, table.concat(argv, " ") .. ": " .. err)
  assert.is_true(res.Success, out)
  return res
end

local function admin(method, path, body)
  local http = require("otarun.core.http")
  local c = http.client()
  local r = assert(c:request{ method = method, url = server.url .. "/_emulator/" .. path,
    body = body and cjson.encode(body), headers = body and { ["content-type"] = "application/json" } })
  c:close()
  assert(r.status == 200, "admin " .. method .. " " .. path .. ": " .. r.body)
  return r.status, cjson.decode(r.body)
end

local function module_client(opts)
  local o = { endpoint = server.url, credentials = credentials.static{ access_key_id = KEY,
    access_key_secret = SECRET }, limiter = ratelimit.new{} }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(client.new(o))
end

describe("otarun call against the emulator", function()
  setup(function()
    local fleet = h.write(os.tmpname() .. ".lua", FLEET)
    server = ch.start(string.format("%s emulator --listen 127.0.0.1:0 --fleet %s --key %s:%s --key %s:%s:%s",
      h.shell_quote(h.bin), h.shell_quote(fleet), KEY, SECRET, STS_KEY, STS_SECRET, TOKEN))
  end)
  teardown(function() if server then server.stop() end end)

  local dyn_job, task_id

  it("serves firmware operations", function()
    local r = ok_call({ "QueryOTAFirmware", "FirmwareId=fwEmuSpec0001" })
    assert.are.equal("2.4.0", r.FirmwareInfo.DestVersion)
    ok_call({ "ListOTAFirmware", "CurrentPage=1", "PageSize=10", "ProductKey=" .. PK })
    local fw = ok_call({ "CreateOTAFirmware", "FirmwareName=cam-250", "DestVersion=2.5.0",
      "FirmwareUrl=https://iotx-ota.oss-cn-shanghai.aliyuncs.com/ota/cam-250.bin", "ProductKey=" .. PK,
      "NeedToVerify=true" })
    assert.is_string(fw.Data.FirmwareId)
    local v = ok_call({ "CreateOTAVerifyJob", "FirmwareId=" .. fw.Data.FirmwareId, "ProductKey=" .. PK,
      "TargetDeviceName.1=cam-1" }, { ALIBABA_CLOUD_ACCESS_KEY_ID = STS_KEY,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET = STS_SECRET, ALIBABA_CLOUD_SECURITY_TOKEN = TOKEN, HOME = "/x" })
    assert.is_string(v.Data.JobId)
  end)

  it("creates, reads, updates and cancels a dynamic job (V3 and v1)", function()
    local r = ok_call({ "CreateOTADynamicUpgradeJob", "FirmwareId=fwEmuSpec0001", "ProductKey=" .. PK,
      "SrcVersion.1=2.3.0", "Tag.1.Key=otarun", "Tag.1.Value=cam/canary run*~", "MaximumPerMinute=100" })
    dyn_job = r.Data.JobId
    local q = ok_call({ "QueryOTAJob", "JobId=" .. dyn_job, "--signature", "v1" })
    assert.are.equal("DYNAMIC", q.Data.SelectionType)
    assert.are.equal("cam/canary run*~", q.Data.Tags.OtaTagDTO[1].Value)
    ok_call({ "ListOTAJobByFirmware", "FirmwareId=fwEmuSpec0001", "CurrentPage=1", "PageSize=10" })
    local tasks = ok_call({ "ListOTATaskByJob", "JobId=" .. dyn_job, "PageSize=10", "CurrentPage=1" })
    assert.is_number(tasks.Total)
    local list = tasks.Data and tasks.Data.SimpleOTATaskInfo
    task_id = list and list[1] and list[1].TaskId
    ok_call({ "UpdateOTAJob", "JobId=" .. dyn_job, "MaximumPerMinute=200" }, nil)
    ok_call({ "CancelOTATaskByJob", "JobId=" .. dyn_job, "CancelQueuedTask=true" })
    ok_call({ "CancelOTAStrategyByJob", "JobId=" .. dyn_job, "--signature", "v1" })
  end)

  it("serves static jobs, task operations and device reads", function()
    local r = ok_call({ "CreateOTAStaticUpgradeJob", "FirmwareId=fwEmuSpec0002", "ProductKey=" .. PK,
      "TargetSelection=SPECIFIC", "TargetDeviceName.1=cam-2", "TargetDeviceName.2=cam-3" })
    assert.is_string(r.Data.JobId)
    ok_call({ "QueryDeviceDetail", "ProductKey=" .. PK, "DeviceName=cam-1" })
    local g = ok_call({ "QueryDeviceGroupList", "CurrentPage=1", "PageSize=10" })
    assert.is_table(g.Data)
    -- task operations reach the model: an answer in the business format either way
    for _, action in ipairs({ "ConfirmOTATask", "ReupgradeOTATask" }) do
      local code, res, err = call({ action, "JobId=" .. dyn_job, "TaskId.1=" .. (task_id or "no-such-task") })
      assert.is_truthy(code == 0 or err:match("^otarun call: iot%.[%w.]+: "), action .. ": " .. err)
      if code == 0 then assert.is_true(res.Success) end
    end
  end)

  it("reports business and gateway errors on one line with exit 1", function()
    local code, _, err = call({ "QueryOTAJob", "JobId=nope" })
    assert.are.equal(1, code)
    assert.matches("^otarun call: iot%.ota%.[%w.]+: .+ %(RequestId [%w-]+%)\n$", err)
    local env = { ALIBABA_CLOUD_ACCESS_KEY_ID = KEY, ALIBABA_CLOUD_ACCESS_KEY_SECRET = "wrong-secret",
      HOME = "/x" }
    code, _, err = call({ "QueryOTAJob", "JobId=x" }, env)
    assert.are.equal(1, code)
    assert.matches("^otarun call: SignatureDoesNotMatch: [^\n]+\n$", err)
    env.ALIBABA_CLOUD_ACCESS_KEY_ID = "LTAIunknownKey00"
    code, _, err = call({ "QueryOTAJob", "JobId=x" }, env)
    assert.matches("^otarun call: InvalidAccessKeyId.NotFound: ", err)
    code, _, err = call({ "QueryOTAJob", "JobId=x" }, { ALIBABA_CLOUD_ACCESS_KEY_ID = STS_KEY,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET = STS_SECRET, HOME = "/x" }) -- STS key without its token
    assert.are.equal(1, code)
  end)

  it("classifies errors through the client module", function()
    local c = module_client()
    local _, e = c:call("QueryOTAJob", { JobId = "nope" })
    assert.are.equal("business", e.kind)
    assert.matches("^iot%.ota%.", e.code)
    assert.is_string(e.request_id)
    local bad = module_client{ credentials = credentials.static{ access_key_id = KEY,
      access_key_secret = "wrong" } }
    _, e = bad:call("QueryOTAJob", { JobId = "x" })
    assert.are.same({ "gateway", "SignatureDoesNotMatch", 400 }, { e.kind, e.code, e.http_status })
    c:close()
    bad:close()
  end)

  it("is throttled without its limiter, and never with it", function()
    local raw = module_client{ limiter = ratelimit.new{ limits = { QueryOTAFirmware = false } },
      retries = { max = 0 } }
    admin("POST", "qps", { QueryOTAFirmware = 5 }) -- robust even on a slow, sanitised build
    local throttled
    for _ = 1, 40 do
      local _, e = raw:call("QueryOTAFirmware", { FirmwareId = "fwEmuSpec0001" })
      if e and e.kind == "throttled" then throttled = e break end
    end
    raw:close()
    admin("POST", "qps", { QueryOTAFirmware = 20 })
    assert.is_truthy(throttled, "40 unpaced calls at 5/s were never throttled")
    assert.are.equal("Throttling.User", throttled.code)
    sys.sleep(1.1) -- let the server's one-second window empty
    admin("POST", "counters/reset")
    local paced = module_client{ retries = { max = 0 } }
    for _ = 1, 30 do assert.is_truthy(paced:call("QueryOTAFirmware", { FirmwareId = "fwEmuSpec0001" })) end
    paced:close()
    local _, counters = admin("GET", "counters")
    assert.are.equal(0, counters.throttled.total)
    assert.are.equal(30, counters.requests.by_action.QueryOTAFirmware)
  end)

  it("never resends a create whose answer came too late, and it was created once", function()
    local _, before = admin("GET", "jobs")
    admin("POST", "faults", { action = "CreateOTADynamicUpgradeJob", latency_ms = 1500 })
    local c = module_client{ timeouts = { request = 0.5 } }
    local r, e = c:call("CreateOTADynamicUpgradeJob", { FirmwareId = "fwEmuSpec0003", ProductKey = PK,
      SrcVersion = { "2.3.1" } })
    c:close()
    admin("DELETE", "faults")
    assert.is_nil(r)
    assert.are.equal("unknown_outcome", e.kind)
    assert.are.equal(1, e.attempts)
    sys.sleep(1.2)
    local _, after = admin("GET", "jobs")
    assert.are.equal(#before.jobs + 1, #after.jobs)
  end)

  it("treats a 500 on a create as unknown, and retries a dropped read", function()
    admin("POST", "faults", { action = "CreateOTAStaticUpgradeJob", status = 500 })
    local c = module_client{ sleep = function() end }
    local _, e = c:call("CreateOTAStaticUpgradeJob", { FirmwareId = "fwEmuSpec0002", ProductKey = PK,
      TargetSelection = "SPECIFIC", TargetDeviceName = { "cam-1" } })
    admin("DELETE", "faults")
    assert.are.equal("unknown_outcome", e.kind)
    assert.are.equal(1, e.attempts)
    admin("POST", "faults", { action = "QueryOTAFirmware", drop_rate = 1 })
    local r
    r, e = c:call("QueryOTAFirmware", { FirmwareId = "fwEmuSpec0001" })
    admin("DELETE", "faults")
    assert.is_nil(r)
    assert.are.equal(client.DEFAULT_RETRIES.max + 1, e.attempts) -- a read is retried
    assert.is_truthy(c:call("QueryOTAFirmware", { FirmwareId = "fwEmuSpec0001" }))
    c:close()
  end)

  it("printed neither secret nor token anywhere, emulator included", function()
    server.stop()
    server = nil
    assert.is_true(#ch.seen > 30)
    for _, text in ipairs(ch.seen) do
      for _, s in ipairs({ SECRET, STS_SECRET, TOKEN }) do
        assert.is_nil(text:find(s, 1, true), "secret printed in: " .. text:sub(1, 300))
      end
    end
  end)
end)
