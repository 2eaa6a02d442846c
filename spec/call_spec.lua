-- `otarun call`: dry-run output that reproduces a signature computed independently here through
-- otarun.core.sign, usage errors (64), the transport policy, platform errors (1) against the fake
-- platform, and finally that neither the secret nor the token appears in anything printed.
local h = require("helpers")
local ch = require("client_helpers")
local sign = require("otarun.core.sign")
local cjson = require("cjson")

local KEY, SECRET, TOKEN = "LTAI5tCallSpec01", "callSpecSecret-9f8e7d6c5b4a", "callSpecSTSToken/+=xyz"
local ENV = { ALIBABA_CLOUD_ACCESS_KEY_ID = KEY, ALIBABA_CLOUD_ACCESS_KEY_SECRET = SECRET,
  HOME = "/nonexistent-home" }
local STS_ENV = { ALIBABA_CLOUD_ACCESS_KEY_ID = KEY, ALIBABA_CLOUD_ACCESS_KEY_SECRET = SECRET,
  ALIBABA_CLOUD_SECURITY_TOKEN = TOKEN, HOME = "/nonexistent-home" }
local EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

local function dry_json(argv, env)
  local full = { "call" }
  for _, a in ipairs(argv) do full[#full + 1] = a end
  for _, a in ipairs({ "--dry-run", "--format", "json", "--timestamp", "2026-01-01T08:00:00+08:00",
    "--nonce", "fixed-nonce-1" }) do full[#full + 1] = a end
  local code, out, err = ch.run(full, { env = env or ENV })
  assert.are.equal(0, code, err)
  return cjson.decode(out), out
end

describe("otarun call --dry-run", function()
  it("prints a V3 request whose signature matches the signer's", function()
    local req = dry_json({ "CreateOTADynamicUpgradeJob", "FirmwareId=fw1", "ProductKey=pk",
      "SrcVersion.1=2.3.1", "Tag.1.Key=env", "Tag.1.Value=canary run/*~", "--region", "cn-shanghai" })
    local expected = sign.v3("POST", { FirmwareId = "fw1", ProductKey = "pk",
      ["SrcVersion.1"] = "2.3.1", ["Tag.1.Key"] = "env", ["Tag.1.Value"] = "canary run/*~" },
      { host = "iot.cn-shanghai.aliyuncs.com", ["x-acs-action"] = "CreateOTADynamicUpgradeJob",
        ["x-acs-version"] = "2018-01-20", ["x-acs-date"] = "2026-01-01T00:00:00Z",
        ["x-acs-signature-nonce"] = "fixed-nonce-1", ["x-acs-content-sha256"] = EMPTY }, "", SECRET)
    assert.are.equal(expected, req.signature)
    assert.are.equal("POST", req.method)
    assert.are.equal("https://iot.cn-shanghai.aliyuncs.com/?FirmwareId=fw1&ProductKey=pk"
      .. "&SrcVersion.1=2.3.1&Tag.1.Key=env&Tag.1.Value=canary%20run%2F%2A~", req.url)
    local auth
    for _, pair in ipairs(req.headers) do if pair[1] == "authorization" then auth = pair[2] end end
    assert.are.equal("ACS3-HMAC-SHA256 Credential=" .. KEY .. ",SignedHeaders=host;x-acs-action;"
      .. "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=" .. expected, auth)
  end)

  it("prints a v1 request whose signature matches the signer's", function()
    local req = dry_json({ "QueryOTAJob", "JobId=j 1", "--signature", "v1",
      "--endpoint", "127.0.0.1:8080" })
    local q = { JobId = "j 1", Action = "QueryOTAJob", Version = "2018-01-20", Format = "JSON",
      AccessKeyId = KEY, SignatureMethod = "HMAC-SHA1", SignatureVersion = "1.0",
      SignatureNonce = "fixed-nonce-1", Timestamp = "2026-01-01T00:00:00Z" }
    local sig, sts = sign.v1("POST", q, SECRET)
    assert.are.equal(sig, req.signature)
    assert.are.equal(sts, req.string_to_sign)
    assert.are.equal("http://127.0.0.1:8080/?" .. sign.canonical_query(q) .. "&Signature="
      .. sign.percent_encode(sig), req.url)
  end)

  it("prints the text form with the string to sign", function()
    local code, out = ch.run({ "call", "QueryOTAJob", "JobId=j", "--dry-run", "--region",
      "cn-shanghai", "--timestamp", "2026-01-01T00:00:00Z", "--nonce", "n" }, { env = ENV })
    assert.are.equal(0, code)
    assert.matches("^POST https://iot%.cn%-shanghai%.aliyuncs%.com/%?JobId=j\n", out)
    assert.matches("\nx%-acs%-date: 2026%-01%-01T00:00:00Z\n", out)
    assert.matches("\nstring to sign:\nACS3%-HMAC%-SHA256\n%x+\n$", out)
  end)

  it("masks the security token everywhere, in V3 and v1", function()
    for _, s in ipairs({ "v3", "v1" }) do
      local code, out = ch.run({ "call", "QueryOTAJob", "JobId=j", "--dry-run", "--signature", s,
        "--endpoint", "127.0.0.1:1" }, { env = STS_ENV })
      assert.are.equal(0, code)
      assert.is_nil(out:find(TOKEN, 1, true))
      assert.is_nil(out:find(sign.percent_encode(TOKEN), 1, true))
      assert.matches(s == "v3" and "x%-acs%-security%-token: %*%*%*%*" or "SecurityToken=%*%*%*%*", out)
    end
  end)
end)

describe("otarun call usage and policy", function()
  it("exits 64 on usage errors", function()
    for _, argv in ipairs({ { "call" }, { "call", "QueryOTAJob", "JobId" },
      { "call", "QueryOTAJob", "=x" }, { "call", "QueryOTAJob", "A=1", "A=2" },
      { "call", "QueryOTAJob", "--signature", "v2" }, { "call", "QueryOTAJob", "--timestamp", "soon" },
      { "call", "queryOTAJob" }, { "call", "QueryOTAJob", "--bogus" } }) do
      local code, _, err = ch.run(argv, { env = ENV })
      assert.are.equal(64, code, table.concat(argv, " "))
      assert.matches("^otarun call: ", err)
    end
  end)

  it("prints help", function()
    local code, out = ch.run({ "call", "--help" })
    assert.are.equal(0, code)
    assert.matches("usage: otarun call ACTION", out)
  end)

  it("refuses plain http to a non-loopback host, before sending anything", function()
    local code, out, err = ch.run({ "call", "QueryOTAJob", "JobId=j", "--endpoint",
      "http://iot.cn-shanghai.aliyuncs.com" }, { env = ENV })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("plain http:// to iot%.cn%-shanghai%.aliyuncs%.com refused", err)
  end)

  it("says where it looked when there are no credentials", function()
    local code, _, err = ch.run({ "call", "QueryOTAJob", "JobId=j", "--region", "cn-shanghai" },
      { env = { HOME = "/nonexistent-home" } })
    assert.are.equal(1, code)
    assert.matches("ALIBABA_CLOUD_ACCESS_KEY_ID", err)
    assert.matches("/nonexistent%-home/%.aliyun/config%.json", err)
  end)

  it("needs a region or an endpoint", function()
    local code, _, err = ch.run({ "call", "QueryOTAJob", "JobId=j" }, { env = ENV })
    assert.are.equal(1, code)
    assert.matches("region", err)
  end)
end)

describe("otarun call against a platform", function()
  local server
  local have_python = ch.have("python3")
  setup(function()
    if have_python then
      server = ch.start("python3 " .. h.src .. "/spec/fixtures/fake_platform.py")
    end
  end)
  teardown(function() if server then server.stop() end end)

  it("prints the response as stable, pretty JSON", function()
    if not server then return pending("python3 not installed") end
    local code, out, err = ch.run({ "call", "QueryOTAJob", "Mode=ok", "--endpoint", server.url, "-v" },
      { env = STS_ENV })
    assert.are.equal(0, code, err)
    assert.matches('^{\n  "Data": {\n', out)
    assert.matches('\n  "Ratio": 0.25,\n  "RequestId": "req%-ok%-1",\n  "Success": true,\n  "Total": 3\n}\n$', out)
    assert.matches("credentials LTAI%*%*%*%*ec01 %(StsToken, from environment%)", err)
  end)

  it("prints a platform error on one line and exits 1", function()
    if not server then return pending("python3 not installed") end
    local code, out, err = ch.run({ "call", "QueryOTAJob", "Mode=business", "--endpoint", server.url },
      { env = ENV })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.are.equal("otarun call: iot.ota.JobNotFound: The job does not exist. (RequestId req-business-1)\n", err)
    code, _, err = ch.run({ "call", "QueryOTAJob", "Mode=malformed", "--endpoint", server.url }, { env = ENV })
    assert.are.equal(1, code)
    assert.matches("^otarun call: malformed response body", err)
  end)

  it("never printed the secret or the token in any command of this file", function()
    assert.is_true(#ch.seen > 20)
    for _, text in ipairs(ch.seen) do
      assert.is_nil(text:find(SECRET, 1, true), "secret printed in: " .. text)
      assert.is_nil(text:find(TOKEN, 1, true), "token printed in: " .. text)
      assert.is_nil(text:find(sign.percent_encode(TOKEN), 1, true), "token printed in: " .. text)
    end
  end)
end)
