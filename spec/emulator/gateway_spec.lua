-- otarun.emulator.gateway in-process, with a fake model and fake clocks: v1 and V3 verification
-- from the request as received, the platform's rejection codes and both error formats, nonce
-- replay, the timestamp window, STS tokens, per-account QPS, faults and counters.
local gateway = require("otarun.emulator.gateway")
local sign = require("otarun.core.sign")
local S = require("emulator.http_support")

local T0 = 1767225600 -- 2026-01-01T00:00:00Z

local function fake_model()
  local m = { calls = {} }
  function m:call(action, params, ctx)
    self.calls[#self.calls + 1] = { action = action, params = params, ctx = ctx }
    if self.fail then error("model exploded") end
    if action == "QueryOTAJob" and params.JobId == "missing" then
      return { Success = false, Code = "iot.ota.JobNotExist", ErrorMessage = "no such job" }
    end
    if action == "CreateOTAFirmware" and not params.FirmwareName then
      return 400, { Code = "MissingFirmwareName", Message = "FirmwareName is mandatory for this action." }
    end
    return { Success = true, Data = { Action = action, N = self.calls and #self.calls } }
  end
  return m
end

local function setup(opts)
  local clock = { wall = T0, mono = 100.0 }
  local model = fake_model()
  local o = {
    model = model,
    keys = { AKID = { secret = "s3cret" }, STSID = { secret = "stssecret", token = "tok+en/=", account = "acc2" },
             OTHER = { secret = "other", account = "acc3" } },
    wall = function() return clock.wall end,
    mono = function() return clock.mono end,
  }
  for k, v in pairs(opts or {}) do o[k] = v end
  return gateway.new(o), model, clock
end

local function v1(o)
  o.id = o.id or "AKID"
  o.secret = o.secret or "s3cret"
  o.time = o.time or T0
  o.action = o.action or "QueryOTAJob"
  o.params = o.params or { JobId = "job1" }
  return (S.v1(o))
end

local function v3(o)
  o.id = o.id or "AKID"
  o.secret = o.secret or "s3cret"
  o.time = o.time or T0
  o.action = o.action or "QueryOTAJob"
  o.params = o.params or { JobId = "job1" }
  return S.v3(o)
end

local function call(gw, req)
  local status, headers, body, opts = gw:handle(req)
  return status, S.decode(body), headers, opts
end

local function assert_gateway_error(status, body, want_status, want_code)
  assert.are.equal(want_status, status)
  assert.are.equal(want_code, body.Code)
  assert.is_string(body.RequestId)
  assert.is_string(body.Message)
  assert.are.equal("iot.cn-shanghai.aliyuncs.com", body.HostId)
  assert.truthy(body.Recommend:find("q=" .. want_code, 1, true))
  assert.is_nil(body.Success)
end

describe("emulator gateway", function()
  describe("accepts", function()
    it("a v1 POST with parameters in the query, passing only business parameters on", function()
      local gw, model = setup()
      local status, body, headers = call(gw, v1({ params = { JobId = "j 1*(x)", IotInstanceId = "iot-1" } }))
      assert.are.equal(200, status)
      assert.is_true(body.Success)
      assert.are.equal(body.RequestId, headers["x-acs-request-id"])
      assert.are.equal(1, #model.calls)
      assert.are.same({ JobId = "j 1*(x)", IotInstanceId = "iot-1" }, model.calls[1].params)
      assert.are.equal("v1", model.calls[1].ctx.signature)
      assert.are.equal("AKID", model.calls[1].ctx.access_key_id)
    end)

    it("a v1 GET and a v1 POST with a form body (pop-core)", function()
      local gw = setup()
      assert.are.equal(200, (call(gw, v1({ method = "GET" }))))
      assert.are.equal(200, (call(gw, v1({ form = true, params = { JobId = "派 + x" } }))))
    end)

    it("a v1 request whose '+' in the query means a space", function()
      local gw, model = setup()
      local req = v1({ params = { JobId = "a b" } })
      req.query = req.query:gsub("a%%20b", "a+b")
      assert.are.equal(200, (call(gw, req)))
      assert.are.equal("a b", model.calls[1].params.JobId)
    end)

    it("a V3 request, with business parameters in the query and the SDK's extra signed headers", function()
      local gw, model = setup()
      local status, body = call(gw, v3({ params = { JobId = "job/1", ["Tag.1.Key"] = "env" } }))
      assert.are.equal(200, status)
      assert.is_true(body.Success)
      assert.are.same({ JobId = "job/1", ["Tag.1.Key"] = "env" }, model.calls[1].params)
      assert.are.equal("v3", model.calls[1].ctx.signature)
    end)

    it("a V3 request with a form body, signed through its hash", function()
      local gw, model = setup()
      local status = call(gw, v3({ params = {}, body = "JobId=from-body",
                                    content_type = "application/x-www-form-urlencoded" }))
      assert.are.equal(200, status)
      assert.are.equal("from-body", model.calls[1].params.JobId)
    end)

    it("STS keys with their token, v1 and V3", function()
      local gw = setup()
      assert.are.equal(200, (call(gw, v1({ id = "STSID", secret = "stssecret", token = "tok+en/=" }))))
      assert.are.equal(200, (call(gw, v3({ id = "STSID", secret = "stssecret", token = "tok+en/=" }))))
    end)

    it("a timestamp 14 minutes off, and a configured wider window", function()
      local gw = setup()
      assert.are.equal(200, (call(gw, v1({ time = T0 - 14 * 60 }))))
      assert.are.equal(200, (call(gw, v3({ time = T0 + 14 * 60 }))))
      local wide = setup({ timestamp_window = 31 * 60 })
      assert.are.equal(200, (call(wide, v1({ time = T0 - 30 * 60 }))))
    end)
  end)

  describe("rejects", function()
    it("a tampered v1 signature with 400 SignatureDoesNotMatch and the server's string to sign", function()
      local gw, model = setup()
      local req, p = S.v1({ id = "AKID", secret = "s3cret", time = T0, action = "QueryOTAJob",
                            params = { JobId = "j" }, tamper = S.flip })
      local status, body = call(gw, req)
      assert_gateway_error(status, body, 400, "SignatureDoesNotMatch")
      p.Signature = nil
      local _, sts = sign.v1("POST", p, "s3cret")
      assert.are.equal("Specified signature is not matched with our calculation. server string to sign is:" .. sts,
        body.Message)
      assert.are.equal(0, #model.calls)
    end)

    it("a v1 request signed for GET but sent as POST", function()
      local gw = setup()
      local req = v1({ method = "GET" })
      req.method = "POST"
      assert_gateway_error(select(1, call(gw, req)), select(2, call(gw, v1({ method = "GET", tamper = S.flip }))),
        400, "SignatureDoesNotMatch")
    end)

    it("a v1 request whose parameters changed after signing", function()
      local gw = setup()
      local req = v1({ params = { JobId = "a" } })
      req.query = req.query:gsub("JobId=a", "JobId=b")
      local status, body = call(gw, req)
      assert_gateway_error(status, body, 400, "SignatureDoesNotMatch")
    end)

    it("a tampered V3 signature, a changed query and a body that does not match its hash", function()
      local gw = setup()
      local status, body = call(gw, v3({ tamper = function(s) return s:sub(1, -2) .. (s:sub(-1) == "0" and "1" or "0") end }))
      assert_gateway_error(status, body, 400, "SignatureDoesNotMatch")
      assert.truthy(body.Message:find("server string to sign is:ACS3-HMAC-SHA256\n", 1, true))
      local req = v3({ params = { JobId = "a" } })
      req.query = "JobId=b"
      assert_gateway_error(select(1, call(gw, req)), select(2, call(gw, req)), 400, "SignatureDoesNotMatch")
      req = v3({ body = "x=1", content_type = "application/x-www-form-urlencoded" })
      req.body = "x=2"
      status, body = call(gw, req)
      assert_gateway_error(status, body, 400, "SignatureDoesNotMatch")
      assert.truthy(body.Message:find("x-acs-content-sha256", 1, true))
    end)

    it("an unknown AccessKeyId with 404 InvalidAccessKeyId.NotFound, v1 and V3", function()
      local gw = setup()
      local status, body = call(gw, v1({ id = "NOPE" }))
      assert_gateway_error(status, body, 404, "InvalidAccessKeyId.NotFound")
      assert.are.equal("Specified access key is not found.", body.Message)
      status, body = call(gw, v3({ id = "NOPE" }))
      assert_gateway_error(status, body, 404, "InvalidAccessKeyId.NotFound")
    end)

    it("a replayed nonce with SignatureNonceUsed, until the nonce window has passed", function()
      local gw, _, clock = setup()
      local req = v1({ nonce = "n-1" })
      assert.are.equal(200, (call(gw, req)))
      local status, body = call(gw, req)
      assert_gateway_error(status, body, 400, "SignatureNonceUsed")
      status, body = call(gw, v3({ nonce = "n-1" }))
      assert_gateway_error(status, body, 400, "SignatureNonceUsed")
      clock.wall = T0 + 901
      assert.are.equal(200, (call(gw, v1({ nonce = "n-1", time = T0 + 901 }))))
    end)

    it("does not burn the nonce of a request whose signature was wrong", function()
      local gw = setup()
      assert.are.equal(400, (call(gw, v1({ nonce = "n-2", tamper = S.flip }))))
      assert.are.equal(200, (call(gw, v1({ nonce = "n-2" }))))
    end)

    it("stale, future, malformed and missing timestamps", function()
      local gw = setup()
      local status, body = call(gw, v1({ time = T0 - 16 * 60 }))
      assert_gateway_error(status, body, 400, "InvalidTimeStamp.Expired")
      status, body = call(gw, v3({ time = T0 + 16 * 60 }))
      assert_gateway_error(status, body, 400, "InvalidTimeStamp.Expired")
      status, body = call(gw, v1({ timestamp = "2026-01-01 00:00:00" }))
      assert_gateway_error(status, body, 400, "IllegalTimestamp")
      local narrow = setup({ timestamp_window = 60 })
      assert_gateway_error(select(1, call(narrow, v1({ time = T0 - 61 }))), select(2, call(narrow, v1({ time = T0 - 61 }))),
        400, "InvalidTimeStamp.Expired")
    end)

    it("an STS key without its token, or with another one", function()
      local gw = setup()
      local status, body = call(gw, v1({ id = "STSID", secret = "stssecret" }))
      assert_gateway_error(status, body, 400, "InvalidSecurityToken.MismatchWithAccessKey")
      status, body = call(gw, v3({ id = "STSID", secret = "stssecret", token = "other" }))
      assert_gateway_error(status, body, 400, "InvalidSecurityToken.MismatchWithAccessKey")
    end)

    it("never echoes a security token in the string to sign", function()
      local gw = setup()
      local status, body = call(gw, v1({ id = "STSID", secret = "stssecret", token = "tok+en/=", tamper = S.flip }))
      assert_gateway_error(status, body, 400, "SignatureDoesNotMatch")
      assert.is_nil(body.Message:find("tok+en", 1, true))
      assert.is_nil(body.Message:find("tok%2Ben", 1, true))
      assert.is_nil(body.Message:find("tok%252Ben", 1, true))
      assert.truthy(body.Message:find("security token redacted", 1, true))
    end)

    it("missing Action, Version, signature parameters, a wrong version, another path", function()
      local gw = setup()
      local req = v1({})
      req.query = req.query:gsub("Action=QueryOTAJob&", "")
      assert_gateway_error(select(1, call(gw, req)), select(2, call(gw, req)), 400, "MissingAction")
      local status, body = call(gw, v1({ version = "2017-04-20" }))
      assert_gateway_error(status, body, 400, "InvalidVersion")
      status, body = call(gw, { method = "GET", path = "/", query = "Action=QueryOTAJob&Version=2018-01-20",
                                 headers = {}, body = "", remote = "127.0.0.1" })
      assert_gateway_error(status, body, 400, "MissingAccessKeyId")
      req = v1({})
      req.path = "/other"
      status, body = call(gw, req)
      assert_gateway_error(status, body, 404, "InvalidAction.NotFound")
      status, body = call(gw, { method = "GET", path = "/", query = "Action=%zz", headers = {}, body = "",
                                 remote = "127.0.0.1" })
      assert_gateway_error(status, body, 400, "InvalidParameter")
    end)
  end)

  describe("model answers", function()
    it("pass business errors through with HTTP 200 and a RequestId", function()
      local gw = setup()
      local status, body = call(gw, v1({ params = { JobId = "missing" } }))
      assert.are.equal(200, status)
      assert.is_false(body.Success)
      assert.are.equal("iot.ota.JobNotExist", body.Code)
      assert.is_string(body.RequestId)
      assert.are.equal(1, gw:counters_snapshot().errors.business["iot.ota.JobNotExist"])
    end)

    it("turn a model's 4xx into the gateway format", function()
      local gw = setup()
      local status, body = call(gw, v1({ action = "CreateOTAFirmware", params = {} }))
      assert_gateway_error(status, body, 400, "MissingFirmwareName")
    end)

    it("turn a failing model into 500 InternalError", function()
      local gw, model = setup()
      model.fail = true
      local status, body = call(gw, v1({}))
      assert_gateway_error(status, body, 500, "InternalError")
    end)
  end)

  describe("throttling", function()
    it("answers Throttling.User beyond the operation's QPS within one second, per account", function()
      local gw, _, clock = setup()
      for i = 1, 5 do
        assert.are.equal(200, (call(gw, v1({ action = "CancelOTATaskByJob" }))), "call " .. i)
        clock.mono = clock.mono + 0.1
      end
      local status, body = call(gw, v1({ action = "CancelOTATaskByJob" }))
      assert_gateway_error(status, body, 400, "Throttling.User")
      assert.are.equal("Request was denied due to user flow control.", body.Message)
      -- other operations and other accounts have their own budget
      assert.are.equal(200, (call(gw, v1({ action = "QueryOTAJob" }))))
      assert.are.equal(200, (call(gw, v1({ id = "OTHER", secret = "other", action = "CancelOTATaskByJob" }))))
      -- the window slides: the first call is more than a second old now
      clock.mono = 100.0 + 1.05
      assert.are.equal(200, (call(gw, v1({ action = "CancelOTATaskByJob" }))))
      assert.are.equal(400, (call(gw, v1({ action = "CancelOTATaskByJob" }))))
      local c = gw:counters_snapshot()
      assert.are.equal(2, c.throttled.total)
      assert.are.equal(2, c.throttled.by_action.CancelOTATaskByJob)
    end)

    it("uses configured limits, and the reference's 20 for CreateOTADynamicUpgradeJob", function()
      local gw = setup({ qps = { QueryOTAJob = 2 } })
      assert.are.equal(200, (call(gw, v1({}))))
      assert.are.equal(200, (call(gw, v1({}))))
      assert.are.equal(400, (call(gw, v1({}))))
      local ok = 0
      for _ = 1, 25 do
        if call(gw, v3({ action = "CreateOTADynamicUpgradeJob" })) == 200 then ok = ok + 1 end
      end
      assert.are.equal(20, ok)
      local open = setup({ qps = { CreateOTADynamicUpgradeJob = 0 } })
      for _ = 1, 30 do assert.are.equal(200, (call(open, v1({ action = "CreateOTADynamicUpgradeJob" })))) end
    end)
  end)

  describe("faults", function()
    it("inject business errors, 5xx, latency, drops and forced throttling", function()
      local gw, model = setup()
      assert(gw:set_fault({ action = "QueryOTAJob", error = "business", code = "iot.system.SystemException", count = 1 }))
      local status, body = call(gw, v1({}))
      assert.are.equal(200, status)
      assert.is_false(body.Success)
      assert.are.equal("iot.system.SystemException", body.Code)
      assert.are.equal(200, (call(gw, v1({}))), "count = 1 applies once")
      assert(gw:set_fault({ status = 503 }))
      status, body = call(gw, v1({}))
      assert_gateway_error(status, body, 503, "ServiceUnavailable")
      gw:clear_faults()
      assert(gw:set_fault({ action = "QueryOTAJob", latency_ms = 250 }))
      local opts
      status, _, _, opts = call(gw, v1({}))
      assert.are.equal(200, status)
      assert.are.equal(250, opts.delay_ms)
      assert(gw:set_fault({ action = "QueryOTAJob", drop_rate = 1 }))
      _, _, _, opts = call(gw, v1({}))
      assert.is_true(opts.drop)
      assert(gw:set_fault({ action = "QueryOTAJob", throttle = true }))
      status, body = call(gw, v1({}))
      assert_gateway_error(status, body, 400, "Throttling.User")
      gw:clear_faults("QueryOTAJob")
      assert.are.equal(200, (call(gw, v1({}))))
      local c = gw:counters_snapshot()
      assert.are.same({ errors = 2, dropped = 1, delayed = 1, throttled = 1 }, c.faults)
      assert.are.equal(3, #model.calls)
    end)

    it("rejects malformed fault specs with a message naming the field", function()
      local gw = setup()
      local ok, err = gw:set_fault({ error_rat = 1 })
      assert.is_nil(ok)
      assert.truthy(err:find("unknown fault field \"error_rat\"", 1, true))
      ok, err = gw:set_fault({ drop_rate = 2 })
      assert.is_nil(ok)
      assert.truthy(err:find("drop_rate", 1, true))
    end)
  end)

  describe("counters", function()
    it("count requests per action, rejected signatures, gateway errors and the busiest second", function()
      local gw, _, clock = setup()
      for _ = 1, 3 do call(gw, v1({})) end
      clock.mono = clock.mono + 0.5
      call(gw, v1({ action = "ListOTATaskByJob" }))
      call(gw, v1({ tamper = S.flip }))
      clock.mono = clock.mono + 2
      call(gw, v1({}))
      local c = gw:counters_snapshot()
      assert.are.equal(6, c.requests.total)
      assert.are.equal(5, c.requests.by_action.QueryOTAJob)
      assert.are.equal(1, c.rejected_signatures)
      assert.are.equal(1, c.errors.gateway.SignatureDoesNotMatch)
      assert.are.equal(5, c.peak_per_second.overall)
      assert.are.equal(4, c.peak_per_second.by_action.QueryOTAJob)
      assert.are.equal(1, c.peak_per_second.by_action.ListOTATaskByJob)
      gw:reset_counters()
      assert.are.equal(0, gw:counters_snapshot().requests.total)
    end)
  end)
end)

describe("gateway.fast_json", function()
  it("writes marked empty lists as [] and leaves the body as it was", function()
    local MT = {}
    local enc = gateway.fast_json(MT)
    local empty = setmetatable({}, MT)
    local body = { Data = { List = empty, Obj = {}, Items = setmetatable({ 1, 2 }, MT) }, Name = "a/b" }
    local cjson = require("cjson")
    local back = cjson.decode(enc(body))
    assert.truthy(enc(body):find('"List":[]', 1, true))
    assert.truthy(enc(body):find('"Obj":{}', 1, true))
    assert.are.same({ 1, 2 }, back.Data.Items)
    assert.are.equal(empty, body.Data.List)
    assert.are.equal("a/b", back.Name)
  end)
end)
