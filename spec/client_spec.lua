-- The signed client (otarun.platform.client) and its limiter: request building and wire encoding, response
-- classification, retry rules (never blindly resend a change whose outcome is unknown), pacing;
-- then the real transport against spec/fixtures/fake_platform.py over 127.0.0.1.
local ch = require("client_helpers")
local client = require("otarun.platform.client")
local ratelimit = require("otarun.platform.ratelimit")
local credentials = require("otarun.platform.credentials")
local sign = require("otarun.core.sign")
local cjson = require("cjson")

local SECRET = "clientSpecSecret0123456789abcdef"
local TOKEN = "STS.clientSpecToken/with+odd=chars"

local function creds(token)
  return credentials.static{ access_key_id = "LTAI5tClientSpec", access_key_secret = SECRET,
    security_token = token }
end

-- A fake clock: sleep advances it; every sleep is recorded.
local function fake_time()
  local t = { now = 1000, sleeps = {} }
  t.clock = function() return t.now end
  t.sleep = function(s) t.sleeps[#t.sleeps + 1] = s; t.now = t.now + s end
  return t
end

-- A transport that answers from a script of responses and records every request.
local function fake_transport(script)
  local tr = { requests = {} }
  function tr:request(req)
    self.requests[#self.requests + 1] = req
    local step = script[math.min(#self.requests, #script)]
    if step.fail then return nil, step.fail, step.kind end
    return { status = step.status or 200, headers = step.headers or {}, body = step.body }
  end
  return tr
end

local function new_client(opts)
  local t = fake_time()
  local o = { endpoint = "https://iot.cn-shanghai.aliyuncs.com", credentials = creds(),
    clock = t.clock, sleep = t.sleep, now = function() return 1767225600 end,
    limiter = ratelimit.new{ clock = t.clock, sleep = t.sleep }, random = function() return 0.5 end }
  for k, v in pairs(opts or {}) do o[k] = v end
  local c = assert(client.new(o))
  return c, t
end

local OK = { body = '{"RequestId":"r1","Success":true,"Data":{"JobId":"j1"}}' }
local THROTTLED = { status = 400, headers = { ["x-acs-retry-after"] = "1500" },
  body = '{"RequestId":"r2","Code":"Throttling.User","Message":"Request was denied due to user flow control."}' }

describe("otarun.platform.client request building", function()
  it("signs V3 exactly as the platform documents it and sends the query it signed", function()
    local c = new_client()
    local req = c:prepare("CreateOTADynamicUpgradeJob", { FirmwareId = "fw1", ProductKey = "pk",
      SrcVersion = { "1.0.0", "V1.0.1" }, Tag = { { Key = "env", Value = "canary run/*~" } },
      NeedPush = true, MaximumPerMinute = 500 }, { timestamp = 1767225600, nonce = "n-1" })
    assert.are.equal("POST", req.method)
    assert.are.equal("", req.body)
    assert.are.equal("https://iot.cn-shanghai.aliyuncs.com/?FirmwareId=fw1&MaximumPerMinute=500"
      .. "&NeedPush=true&ProductKey=pk&SrcVersion.1=1.0.0&SrcVersion.2=V1.0.1&Tag.1.Key=env"
      .. "&Tag.1.Value=canary%20run%2F%2A~", req.url)
    assert.is_nil(req.url:find("+", 1, true))
    local h = {}
    for _, pair in ipairs(req.headers) do h[pair[1]] = pair[2] end
    assert.are.equal("iot.cn-shanghai.aliyuncs.com", h.host)
    assert.are.equal("CreateOTADynamicUpgradeJob", h["x-acs-action"])
    assert.are.equal("2018-01-20", h["x-acs-version"])
    assert.are.equal("2026-01-01T00:00:00Z", h["x-acs-date"])
    assert.are.equal(client.EMPTY_SHA256, h["x-acs-content-sha256"])
    -- recompute independently through the signer with the same inputs
    local sig = sign.v3("POST", req.params, { host = h.host, ["x-acs-action"] = h["x-acs-action"],
      ["x-acs-version"] = "2018-01-20", ["x-acs-date"] = "2026-01-01T00:00:00Z",
      ["x-acs-signature-nonce"] = "n-1", ["x-acs-content-sha256"] = client.EMPTY_SHA256 }, "", SECRET)
    assert.are.equal("ACS3-HMAC-SHA256 Credential=LTAI5tClientSpec,SignedHeaders=host;x-acs-action;"
      .. "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=" .. sig,
      h.authorization)
  end)

  it("adds and signs x-acs-security-token with STS credentials", function()
    local c = new_client{ credentials = creds(TOKEN) }
    local req = c:prepare("QueryOTAJob", { JobId = "j" })
    assert.matches("x%-acs%-security%-token", req.signed_headers)
    local found
    for _, pair in ipairs(req.headers) do
      if pair[1] == "x-acs-security-token" then found = pair[2] end
    end
    assert.are.equal(TOKEN, found)
  end)

  it("signs v1 with every parameter in the query, Signature last and encoded", function()
    local c = new_client{ signature = "v1", credentials = creds(TOKEN) }
    local req = c:prepare("QueryOTAJob", { JobId = "a b" }, { timestamp = 1767225600, nonce = "n" })
    local q = { JobId = "a b", Action = "QueryOTAJob", Version = "2018-01-20", Format = "JSON",
      AccessKeyId = "LTAI5tClientSpec", SignatureMethod = "HMAC-SHA1", SignatureVersion = "1.0",
      SignatureNonce = "n", Timestamp = "2026-01-01T00:00:00Z", SecurityToken = TOKEN }
    local sig = sign.v1("POST", q, SECRET)
    assert.are.equal(sig, req.signature)
    assert.are.equal("https://iot.cn-shanghai.aliyuncs.com/?" .. sign.canonical_query(q)
      .. "&Signature=" .. sign.percent_encode(sig), req.url)
    assert.matches("JobId=a%%20b", req.url)
    assert.has_error(function() c:prepare("QueryOTAJob", { Signature = "x" }) end)
  end)

  it("parses endpoints and refuses plain http off loopback", function()
    assert.are.equal("http://127.0.0.1:8080", client.parse_endpoint("127.0.0.1:8080").base)
    assert.are.equal("http://[::1]:9", client.parse_endpoint("[::1]:9").base)
    assert.are.equal("https://iot.example.com", client.parse_endpoint("iot.example.com").base)
    assert.are.equal("iot.x.com:8443", client.parse_endpoint("https://iot.x.com:8443/").host)
    local ep, err = client.parse_endpoint("http://iot.cn-shanghai.aliyuncs.com")
    assert.is_nil(ep)
    assert.matches("plain http:// to iot.cn%-shanghai.aliyuncs.com refused", err)
    assert.is_nil((client.parse_endpoint("https://x.com/some/path")))
    assert.is_nil((client.parse_endpoint("ftp://x.com")))
    assert.is_nil((client.new{ endpoint = "http://10.0.0.1:80", credentials = creds() }))
    assert.are.equal("https://iot.ap-southeast-1.aliyuncs.com",
      assert(client.new{ region = "ap-southeast-1", credentials = creds() }).endpoint.base)
  end)

  it("rejects unknown options with a suggestion", function()
    assert.has_error(function() client.new{ endpont = "x", credentials = creds() } end,
      "client.new: unknown option endpont (did you mean endpoint?)")
  end)
end)

describe("otarun.platform.client responses", function()
  local function classify(action, status, body, headers)
    return client.classify(action, { status = status, body = body, headers = headers or {} })
  end

  it("returns the decoded body on success", function()
    local r = classify("QueryOTAJob", 200, '{"RequestId":"r","Success":true,"Data":{"JobId":"j"}}')
    assert.are.equal("j", r.Data.JobId)
  end)

  it("reports business errors from HTTP 200 Success:false", function()
    local r, e = classify("QueryOTAJob", 200,
      '{"RequestId":"r9","Success":false,"Code":"iot.ota.JobNotFound","ErrorMessage":"no such job"}')
    assert.is_nil(r)
    assert.are.same({ "business", "iot.ota.JobNotFound", "no such job", 200, "r9" },
      { e.kind, e.code, e.message, e.http_status, e.request_id })
    assert.are.equal("iot.ota.JobNotFound: no such job (RequestId r9)", tostring(e))
  end)

  it("reports gateway errors with Code and Message", function()
    local _, e = classify("QueryOTAJob", 404,
      '{"RequestId":"r","Code":"InvalidAccessKeyId.NotFound","Message":"Specified access key is not found."}')
    assert.are.same({ "gateway", "InvalidAccessKeyId.NotFound", 404 }, { e.kind, e.code, e.http_status })
  end)

  it("recognises every throttling code", function()
    for _, code in ipairs({ "Throttling", "Throttling.User", "Throttling.Api" }) do
      local _, e = classify("CreateOTADynamicUpgradeJob", 400,
        '{"Code":"' .. code .. '","Message":"flow control"}')
      assert.are.equal("throttled", e.kind)
    end
  end)

  it("turns malformed and truncated bodies into clear errors, never a crash", function()
    for _, body in ipairs({ "", "{", '{"Success": tr', "[1,2]", "<html>oops</html>", "\0\1\2" }) do
      local r, e = classify("QueryOTAJob", 200, body)
      assert.is_nil(r)
      assert.are.equal("malformed", e.kind)
      assert.matches("malformed response body", e.message)
      -- for a change, a 2xx that cannot be read may still have created something
      local _, e2 = classify("CreateOTADynamicUpgradeJob", 200, body)
      assert.are.equal("unknown_outcome", e2.kind)
    end
    local _, e = classify("QueryOTAJob", 403, "<html>forbidden</html>")
    assert.are.equal("malformed", e.kind)
    assert.matches("HTTP 403", e.message)
  end)

  it("treats a 5xx on a change as an unknown outcome", function()
    local _, e = classify("CreateOTAStaticUpgradeJob", 500, "<html>")
    assert.are.equal("unknown_outcome", e.kind)
    local _, e2 = classify("QueryOTAJob", 502, "<html>")
    assert.are.equal("gateway", e2.kind)
  end)

  it("knows which actions change the platform", function()
    for _, a in ipairs({ "CreateOTADynamicUpgradeJob", "UpdateOTAJob", "CancelOTAStrategyByJob",
        "ConfirmOTATask", "ReupgradeOTATask" }) do assert.is_true(client.is_changing(a)) end
    for _, a in ipairs({ "QueryOTAJob", "ListOTATaskByJob", "QueryDeviceGroupList" }) do
      assert.is_false(client.is_changing(a))
    end
  end)
end)

describe("otarun.platform.client retries", function()
  it("retries throttled calls, honouring x-acs-retry-after (ms), with a fresh nonce each time", function()
    local tr = fake_transport({ THROTTLED, THROTTLED, OK })
    local c, t = new_client{ transport = tr }
    local r = assert(c:call("CreateOTADynamicUpgradeJob", { FirmwareId = "f" }))
    assert.are.equal("j1", r.Data.JobId)
    assert.are.equal(3, #tr.requests)
    assert.is_true(t.sleeps[1] >= 1.5 and t.sleeps[2] >= 1.5)
    assert.are_not.equal(tr.requests[1].headers["x-acs-signature-nonce"],
      tr.requests[2].headers["x-acs-signature-nonce"])
    assert.are.equal(2, c.stats.throttled)
  end)

  it("gives up after retries.max and reports throttled", function()
    local tr = fake_transport({ THROTTLED })
    local c = new_client{ transport = tr, retries = { max = 2 } }
    local r, e = c:call("QueryOTAJob", { JobId = "j" })
    assert.is_nil(r)
    assert.are.equal("throttled", e.kind)
    assert.are.equal(3, #tr.requests)
    assert.are.equal(3, e.attempts)
  end)

  it("backs off exponentially with jitter, capped", function()
    local c = new_client{ retries = { base = 0.5, cap = 3 } }
    c.random = function() return 1 end
    assert.are.equal(0.5, c:backoff(1))
    assert.are.equal(2, c:backoff(3))
    assert.are.equal(3, c:backoff(10))
    c.random = function() return 0 end
    assert.are.equal(0.25, c:backoff(1))
    assert.are.equal(1.5, c:backoff(1, 1500))
  end)

  it("retries a connect failure even for a create (nothing was sent)", function()
    local tr = fake_transport({ { fail = "refused (nothing was sent)", kind = "connect" }, OK })
    local c = new_client{ transport = tr }
    assert.is_truthy(c:call("CreateOTADynamicUpgradeJob", {}))
    assert.are.equal(2, #tr.requests)
  end)

  it("never resends a create whose outcome is unknown", function()
    for _, kind in ipairs({ "send", "timeout_after_send" }) do
      local tr = fake_transport({ { fail = "timed out", kind = kind }, OK })
      local c = new_client{ transport = tr }
      local r, e = c:call("CreateOTADynamicUpgradeJob", {})
      assert.is_nil(r)
      assert.are.equal("unknown_outcome", e.kind)
      assert.are.equal(1, #tr.requests)
    end
    local tr = fake_transport({ { status = 503, body = "<html>" }, OK })
    local _, e = new_client{ transport = tr }:call("CancelOTATaskByJob", {})
    assert.are.equal("unknown_outcome", e.kind)
    assert.are.equal(1, #tr.requests)
  end)

  it("retries reads after a timeout or a 5xx", function()
    local tr = fake_transport({ { fail = "timed out", kind = "timeout_after_send" },
      { status = 502, body = "bad gateway" }, OK })
    local c = new_client{ transport = tr }
    assert.is_truthy(c:call("ListOTATaskByJob", { JobId = "j" }))
    assert.are.equal(3, #tr.requests)
  end)

  it("does not retry business errors, gateway rejections or TLS failures", function()
    for _, step in ipairs({
      { body = '{"Success":false,"Code":"iot.x","ErrorMessage":"m"}' },
      { status = 400, body = '{"Code":"SignatureDoesNotMatch","Message":"m"}' },
      { fail = "certificate", kind = "tls" } }) do
      local tr = fake_transport({ step, OK })
      local r = new_client{ transport = tr }:call("QueryOTAJob", {})
      assert.is_nil(r)
      assert.are.equal(1, #tr.requests)
    end
  end)
end)

describe("otarun.platform.ratelimit", function()
  it("paces 200 creates at 20/s smoothly: ~10 s, never 21 in a one-second window", function()
    local t = fake_time()
    local l = ratelimit.new{ clock = t.clock, sleep = t.sleep }
    local start, times = t.now, {}
    for i = 1, 200 do
      l:acquire("CreateOTADynamicUpgradeJob")
      times[i] = t.now
    end
    local span = times[200] - start
    assert.is_true(span > 9.95 and span < 10.2, "span " .. span)
    for i = 21, 200 do assert.is_true(times[i] - times[i - 20] > 1.0) end
  end)

  it("keeps actions independent and applies the overall ceiling across them", function()
    local t = fake_time()
    local l = ratelimit.new{ clock = t.clock, sleep = t.sleep, margin = 0 }
    l:acquire("QueryOTAJob")
    l:acquire("ListOTATaskByJob")
    assert.are.equal(1000, t.now) -- different actions: no wait
    l:acquire("CancelOTATaskByJob")
    l:acquire("CancelOTATaskByJob") -- 5/s
    assert.are.equal(1000.2, t.now)
    l:configure(nil, 2)
    local before = t.now
    l:acquire("QueryOTAJob")
    l:acquire("ListOTATaskByJob")
    assert.is_true(t.now - before >= 0.5 - 1e-9)
    l:configure({ QueryOTAJob = 1000 }, false)
    assert.are.equal(1000, l:rate("QueryOTAJob"))
    assert.are.equal(ratelimit.DEFAULT_RATE, l:rate("SomethingNew"))
    assert.has_error(function() l:configure({ QueryOTAJob = 0 }) end)
  end)

  it("is shared by every client of the process", function()
    local a = assert(client.new{ region = "cn-shanghai", credentials = creds() })
    local b = assert(client.new{ region = "cn-beijing", credentials = creds(), limits = { X = 3 } })
    assert.are.equal(a.limiter, b.limiter)
    assert.are.equal(3, a.limiter:rate("X"))
  end)
end)

describe("otarun.platform.client over real HTTP (fake platform on 127.0.0.1)", function()
  local server, c
  local have_python = ch.have("python3")

  setup(function()
    if not have_python then return end
    server = ch.start("python3 " .. require("helpers").src .. "/spec/fixtures/fake_platform.py")
    c = assert(client.new{ endpoint = server.url, credentials = creds(TOKEN),
      limiter = ratelimit.new{ limits = {} }, sleep = function() end,
      retries = { max = 2 }, timeouts = { connect = 2, request = 0.5 } })
  end)
  teardown(function()
    if c then c:close() end
    if server then server.stop() end
  end)

  local function counts() return ch.get_json(server.url .. "/_count") end

  it("sends exactly the encoded request it signed, and reuses the handle", function()
    if not have_python then return pending("python3 not installed") end
    local r = assert(c:call("QueryOTAJob", { JobId = "a b*~", Mode = "ok" }))
    assert.are.equal("JobId=a%20b%2A~&Mode=ok", r.Data.RawQuery)
    assert.are.equal("", r.Data.Body)
    assert.are.equal("QueryOTAJob", r.Data.Headers["x-acs-action"])
    assert.are.equal(TOKEN, r.Data.Headers["x-acs-security-token"])
    assert.is_nil(r.Data.Headers["content-type"])
    assert.are.equal(3, r.Total)
    assert.is_truthy(c:call("QueryOTAJob", { Mode = "ok" }))
  end)

  it("classifies business, gateway and throttled answers", function()
    if not have_python then return pending("python3 not installed") end
    local _, e = c:call("QueryOTAJob", { Mode = "business" })
    assert.are.same({ "business", "iot.ota.JobNotFound", "req-business-1" },
      { e.kind, e.code, e.request_id })
    _, e = c:call("QueryOTAJob", { Mode = "gateway" })
    assert.are.same({ "gateway", "SignatureDoesNotMatch", 400 }, { e.kind, e.code, e.http_status })
    local r = c:call("CreateOTADynamicUpgradeJob", { Mode = "throttle", Times = "2", RetryAfter = "5" })
    assert.is_truthy(r)
    assert.are.equal(3, counts()["CreateOTADynamicUpgradeJob|throttle"])
  end)

  it("reports malformed and truncated bodies; a truncated create is never resent", function()
    if not have_python then return pending("python3 not installed") end
    local _, e = c:call("QueryOTAJob", { Mode = "malformed" })
    assert.are.equal("malformed", e.kind)
    _, e = c:call("CreateOTAStaticUpgradeJob", { Mode = "truncated" })
    assert.are.equal("unknown_outcome", e.kind)
    assert.are.equal(1, counts()["CreateOTAStaticUpgradeJob|truncated"])
    _, e = c:call("QueryOTAJob", { Mode = "truncated" })
    assert.are.equal("transport", e.kind)
    assert.are.equal(3, counts()["QueryOTAJob|truncated"]) -- a read is retried
  end)

  it("turns a timeout after sending a create into unknown_outcome, sent once", function()
    if not have_python then return pending("python3 not installed") end
    local _, e = c:call("CreateOTADynamicUpgradeJob", { Mode = "hang", Seconds = "1.5" })
    assert.are.equal("unknown_outcome", e.kind)
    assert.are.equal("timeout_after_send", e.transport_kind)
    assert.are.equal(1, counts()["CreateOTADynamicUpgradeJob|hang"])
  end)

  it("reports a connect failure as transport and retries it", function()
    if not have_python then return pending("python3 not installed") end
    local dead = assert(client.new{ endpoint = "127.0.0.1:1", credentials = creds(),
      limiter = ratelimit.new{}, sleep = function() end, retries = { max = 1 } })
    local _, e = dead:call("CreateOTADynamicUpgradeJob", {})
    assert.are.equal("transport", e.kind)
    assert.are.equal("connect", e.transport_kind)
    assert.are.equal(2, e.attempts)
  end)

  it("never puts the secret in a request, an error or the credentials' text", function()
    local cr = creds(TOKEN)
    assert.is_nil(tostring(cr):find(SECRET, 1, true))
    assert.is_nil(cjson.encode(cr):find(SECRET, 1, true))
    assert.is_nil(cjson.encode(cr):find(TOKEN, 1, true))
    if not have_python then return end
    local r = assert(c:call("QueryOTAJob", { Mode = "ok" }))
    assert.is_nil(cjson.encode(r):find(SECRET, 1, true))
  end)
end)
