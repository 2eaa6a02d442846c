-- The real `otarun emulator` over loopback (curl): signed v1 and V3 requests accepted; tampered
-- signatures, replayed nonces, stale timestamps and unknown keys rejected with the platform's codes
-- and format; throttling; the admin API; faults (errors, latency, dropped connections).
local S = require("emulator.http_support")
local sign = require("otarun.core.sign")
local sys = require("otarun.core.sys")
local helpers = require("helpers")

local FLEET = helpers.src .. "/spec/emulator/fixture_fleet.lua"
local PK = "a1Le6d0abcd"

local em
local function host() return "127.0.0.1:" .. em.port end

local function send(req)
  local status, text = S.send(em.url, req)
  return status, S.decode(text), text
end

local function v1(o)
  o.id, o.secret, o.host = o.id or "AKSPEC", o.secret or "spec-secret", host()
  o.action = o.action or "QueryOTAFirmware"
  o.params = o.params or { FirmwareId = "fw-240" }
  return (S.v1(o))
end

local function v3(o)
  o.id, o.secret, o.host = o.id or "AKSPEC", o.secret or "spec-secret", host()
  o.action = o.action or "QueryOTAFirmware"
  o.params = o.params or { FirmwareId = "fw-240" }
  return S.v3(o)
end

local function gateway_error(status, body, want_status, want_code)
  assert.are.equal(want_status, status)
  assert.is_table(body)
  assert.are.equal(want_code, body.Code)
  for _, f in ipairs({ "RequestId", "HostId", "Message", "Recommend" }) do assert.is_string(body[f], f) end
  assert.is_nil(body.Success)
end

describe("otarun emulator over HTTP", function()
  setup(function()
    em = S.start({ "--fleet", FLEET, "--clock", "manual", "--key", "AKSPEC:spec-secret",
                   "--key", "STSSPEC:sts-secret:sts-token", "--qps", "QueryOTAJob=3" })
  end)
  teardown(function() if em then em.stop() end end)

  describe("signatures", function()
    it("accepts v1 (GET, POST query, POST form) and V3 with the platform's answer", function()
      for _, req in ipairs({ v1({ method = "GET" }), v1({}), v1({ form = true }), v3({}),
                             v3({ id = "STSSPEC", secret = "sts-secret", token = "sts-token" }) }) do
        local status, body = send(req)
        assert.are.equal(200, status)
        assert.is_true(body.Success)
        assert.are.equal("fw-240", body.FirmwareInfo.FirmwareId)
        assert.is_string(body.RequestId)
      end
    end)

    it("rejects a tampered v1 signature with the server's string to sign", function()
      local status, body = send(v1({ tamper = S.flip }))
      gateway_error(status, body, 400, "SignatureDoesNotMatch")
      assert.truthy(body.Message:find("server string to sign is:POST&%2F&AccessKeyId%3DAKSPEC", 1, true))
    end)

    it("rejects a tampered V3 signature", function()
      local status, body = send(v3({ tamper = function(s) return ("0"):rep(#s) end }))
      gateway_error(status, body, 400, "SignatureDoesNotMatch")
    end)

    it("rejects a replayed nonce", function()
      local req = v1({ nonce = "spec-replay-" .. sign.nonce() })
      assert.are.equal(200, (send(req)))
      local status, body = send(req)
      gateway_error(status, body, 400, "SignatureNonceUsed")
      local r3 = v3({})
      assert.are.equal(200, (send(r3)))
      gateway_error(select(1, send(r3)), select(2, send(r3)), 400, "SignatureNonceUsed")
    end)

    it("rejects stale timestamps, v1 and V3", function()
      local old = math.floor(sys.now()) - 20 * 60
      local status, body = send(v1({ time = old }))
      gateway_error(status, body, 400, "InvalidTimeStamp.Expired")
      status, body = send(v3({ time = old }))
      gateway_error(status, body, 400, "InvalidTimeStamp.Expired")
    end)

    it("rejects unknown keys with 404 and an STS key without its token", function()
      local status, body = send(v1({ id = "NOBODY" }))
      gateway_error(status, body, 404, "InvalidAccessKeyId.NotFound")
      status, body = send(v3({ id = "NOBODY" }))
      gateway_error(status, body, 404, "InvalidAccessKeyId.NotFound")
      status, body = send(v1({ id = "STSSPEC", secret = "sts-secret" }))
      gateway_error(status, body, 400, "InvalidSecurityToken.MismatchWithAccessKey")
    end)
  end)

  describe("throttling", function()
    it("answers Throttling.User beyond the configured QPS and recovers a second later", function()
      local codes = {}
      for i = 1, 5 do
        local status, body = send(v1({ action = "QueryOTAJob", params = { JobId = "none" } }))
        codes[i] = status == 200 and "ok" or body.Code
      end
      assert.are.same({ "ok", "ok", "ok", "Throttling.User", "Throttling.User" }, codes)
      sys.sleep(1.05)
      assert.are.equal(200, (send(v1({ action = "QueryOTAJob", params = { JobId = "none" } }))))
      local _, c = S.admin(em, "GET", "/_emulator/counters")
      assert.are.equal(2, c.throttled.by_action.QueryOTAJob)
      assert.is_true(c.peak_per_second.by_action.QueryOTAJob >= 5)
    end)
  end)

  describe("admin API", function()
    it("reads and advances the manual clock", function()
      local _, c1 = S.admin(em, "GET", "/_emulator/clock")
      assert.are.equal("manual", c1.mode)
      local status, c2 = S.admin(em, "POST", "/_emulator/clock/advance?seconds=3600")
      assert.are.equal(200, status)
      assert.are.equal(c1.now + 3600, c2.now)
      status = S.admin(em, "POST", "/_emulator/clock/advance?seconds=-1")
      assert.are.equal(400, status)
    end)

    it("shows jobs and tasks created through the API, and edits a job behind the tool's back", function()
      local status, body = send(v3({ action = "CreateOTADynamicUpgradeJob", params = {
        FirmwareId = "fw-240", ProductKey = PK, ["SrcVersion.1"] = "2.3.1", ["Tag.1.Key"] = "otarun",
        ["Tag.1.Value"] = "spec/wave" } }))
      assert.are.equal(200, status, body and (body.Message or body.ErrorMessage))
      assert.is_true(body.Success, body.ErrorMessage)
      local job = body.Data.JobId
      local _, jobs = S.admin(em, "GET", "/_emulator/jobs")
      local found
      for _, j in ipairs(jobs.jobs) do if j.JobId == job then found = j end end
      assert.is_table(found)
      assert.are.equal("DYNAMIC", found.SelectionType)
      local _, tasks = S.admin(em, "GET", "/_emulator/jobs/" .. job .. "/tasks?limit=5")
      assert.are.equal(5, #tasks.tasks)
      local st, edited = S.admin(em, "POST", "/_emulator/jobs/" .. job, '{"MaximumPerMinute": 77}')
      assert.are.equal(200, st)
      assert.are.equal(77, edited.job.MaximumPerMinute)
      local _, q = send(v1({ action = "QueryOTAJob", params = { JobId = job } }))
      assert.are.equal(77, q.Data.MaximumPerMinute)
      assert.are.equal(404, (S.admin(em, "GET", "/_emulator/jobs/nope/tasks")))
    end)

    it("loads a fleet given as JSON and reports counters, and resets them", function()
      local status, body = S.admin(em, "POST", "/_emulator/fleet",
        '{"product":"a1Other0001","devices":[{"version":"1.0.0","count":3}]}')
      assert.are.equal(200, status, body and body.Message)
      local _, devs = S.admin(em, "GET", "/_emulator/devices?product=a1Other0001")
      assert.are.equal(3, #devs.devices)
      status, body = S.admin(em, "POST", "/_emulator/fleet", '{"product":"x","devics":[]}')
      assert.are.equal(400, status)
      assert.are.equal("InvalidFleet", body.Code)
      local _, c = S.admin(em, "GET", "/_emulator/counters")
      assert.is_true(c.requests.total > 0)
      assert.is_number(c.model.devices)
      _, c = S.admin(em, "POST", "/_emulator/counters/reset")
      assert.are.equal(0, c.requests.total)
    end)

    it("answers unknown routes with 404 and bad JSON with 400", function()
      local status, body = S.admin(em, "GET", "/_emulator/nothing")
      assert.are.equal(404, status)
      assert.truthy(body.Message:find("routes:", 1, true))
      assert.are.equal(400, (S.admin(em, "POST", "/_emulator/faults", "{nope")))
    end)
  end)

  describe("faults", function()
    after_each(function() S.admin(em, "DELETE", "/_emulator/faults") end)

    it("injects business and 5xx errors per action", function()
      local status = S.admin(em, "POST", "/_emulator/faults",
        '{"QueryOTAFirmware":{"error":"business","code":"iot.system.SystemException"},"ListOTAFirmware":{"status":503}}')
      assert.are.equal(200, status)
      local st, body = send(v1({}))
      assert.are.equal(200, st)
      assert.is_false(body.Success)
      assert.are.equal("iot.system.SystemException", body.Code)
      st, body = send(v1({ action = "ListOTAFirmware", params = { CurrentPage = 1, PageSize = 10 } }))
      gateway_error(st, body, 503, "ServiceUnavailable")
      S.admin(em, "DELETE", "/_emulator/faults?action=QueryOTAFirmware")
      assert.are.equal(200, (send(v1({}))))
    end)

    it("delays answers without holding up other clients", function()
      S.admin(em, "POST", "/_emulator/faults", '{"action":"QueryOTAFirmware","latency_ms":400}')
      local t0 = sys.monotonic()
      assert.are.equal(200, (send(v1({}))))
      assert.is_true(sys.monotonic() - t0 >= 0.4)
      t0 = sys.monotonic()
      assert.are.equal(200, (S.admin(em, "GET", "/_emulator/clock")))
      assert.is_true(sys.monotonic() - t0 < 0.3)
    end)

    it("drops the connection without an answer, and forces throttling", function()
      S.admin(em, "POST", "/_emulator/faults", '{"action":"QueryOTAFirmware","drop_rate":1,"count":1}')
      local status, _, text = send(v1({}))
      assert.are.equal(0, status)
      assert.are.equal("", text)
      assert.are.equal(200, (send(v1({}))), "count = 1 drops once")
      S.admin(em, "POST", "/_emulator/faults", '{"action":"*","throttle":true}')
      gateway_error(select(1, send(v1({}))), select(2, send(v1({}))), 400, "Throttling.User")
      local _, c = S.admin(em, "GET", "/_emulator/counters")
      assert.is_true(c.faults.dropped >= 1)
      assert.is_true(c.http.dropped >= 1)
    end)
  end)

  describe("the HTTP front", function()
    it("answers 413 for a body over the limit and 404 off the RPC path", function()
      local status = send({ method = "POST", path = "/", query = "", headers = { ["content-type"] = "text/plain" },
                            body = ("x"):rep(1024 * 1024 + 10) })
      assert.are.equal(413, status)
      local st, body = send({ method = "GET", path = "/elsewhere", query = "", headers = {} })
      gateway_error(st, body, 404, "InvalidAction.NotFound")
    end)
  end)
end)

describe("otarun emulator start-up", function()
  it("refuses a non-loopback address unless --allow-remote", function()
    local code, _, err = helpers.run({ "emulator", "--listen", "0.0.0.0:0", "--clock", "manual" })
    assert.are.equal(1, code)
    assert.truthy(err:find("not a loopback address", 1, true))
    code, _, err = helpers.run({ "emulator", "--listen", "nohost" })
    assert.are.equal(64, code)
    assert.truthy(err:find("HOST:PORT", 1, true))
  end)

  it("prints a generated test key when no --key is given, and that key works", function()
    local e = S.start({ "--clock", "manual", "--fleet", FLEET })
    local ok, err = pcall(function()
      local id = e.stdout:match("AccessKeyId%s+(%S+)")
      local secret = e.stdout:match("AccessKeySecret%s+(%S+)")
      assert.is_string(id)
      assert.is_string(secret)
      local status = S.send(e.url, S.v3({ id = id, secret = secret, host = "127.0.0.1:" .. e.port,
        action = "QueryOTAFirmware", params = { FirmwareId = "fw-240" } }))
      assert.are.equal(200, status)
    end)
    e.stop()
    assert(ok, err)
  end)

  it("stops cleanly on SIGTERM", function()
    local e = S.start({ "--clock", "manual", "--key", "A:B" })
    os.execute("kill -TERM " .. e.pid)
    local err = ""
    for _ = 1, 60 do
      err = S.slurp(e.stderr_path)
      if err:find("stopped", 1, true) then break end
      sys.sleep(0.05)
    end
    assert.truthy(err:find("stopped (signal SIGTERM)", 1, true), err)
  end)

  it("shows how to point the SDKs at it in --help", function()
    local code, out = helpers.run({ "emulator", "--help" })
    assert.are.equal(0, code)
    assert.truthy(out:find("protocol: 'http'", 1, true))
    assert.truthy(out:find("pop-core", 1, true))
    assert.truthy(out:find("--endpoint http://127.0.0.1:", 1, true))
  end)
end)
