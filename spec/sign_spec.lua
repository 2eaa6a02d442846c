-- otarun.core.sign through Lua: the published v1 and V3 vectors, flattening to wire names,
-- conversions of non-string values, the verifier helpers, and misuse errors.
local sign = require("otarun.core.sign")

local V1A = {
  AccessKeyId = "testid", Action = "DescribeRegions", Format = "XML",
  SignatureMethod = "HMAC-SHA1", SignatureNonce = "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
  SignatureVersion = "1.0", Timestamp = "2016-02-23T12:46:24Z", Version = "2014-05-26",
}

local V3_HEADERS = {
  host = "ecs.cn-shanghai.aliyuncs.com", ["x-acs-action"] = "RunInstances",
  ["x-acs-version"] = "2014-05-26", ["x-acs-date"] = "2023-10-26T10:22:32Z",
  ["x-acs-signature-nonce"] = "3156853299f313e23d1673dc12e1703d",
  ["x-acs-content-sha256"] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}
local V3_QUERY = {
  ImageId = "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", RegionId = "cn-shanghai",
}
local V3_SIGNED = "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
local V3_SIG = "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"

describe("otarun.core.sign", function()
  describe("v1", function()
    it("reproduces V1-a and its string to sign", function()
      local sig, sts = sign.v1("GET", V1A, "testsecret")
      assert.are.equal("OLeaidS1JvxuMvnyHOwuJ+uX5qY=", sig)
      assert.are.equal("GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
        .. "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
        .. "%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z"
        .. "%26Version%3D2014-05-26", sts)
    end)

    it("reproduces V1-d with UTF-8 and JSON values", function()
      local sig = sign.v1("GET", {
        AccessKeyId = "testId", Action = "SendSms", Format = "XML", OutId = 123,
        PhoneNumbers = "15300000001", RegionId = "cn-hangzhou", SignName = "阿里云短信测试专用",
        SignatureMethod = "HMAC-SHA1", SignatureNonce = "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        SignatureVersion = "1.0", TemplateCode = "SMS_71390007",
        TemplateParam = '{"customer":"test"}', Timestamp = "2017-07-12T02:42:19Z",
        Version = "2017-05-25",
      }, "testSecret")
      assert.are.equal("zJDF+Lrzhj/ThnlvIToysFRq6t4=", sig)
    end)

    it("ignores a received Signature parameter and signs the method", function()
      local with = {}
      for k, v in pairs(V1A) do with[k] = v end
      with.Signature = "anything"
      assert.are.equal("OLeaidS1JvxuMvnyHOwuJ+uX5qY=", (sign.v1("GET", with, "testsecret")))
      assert.are_not.equal("OLeaidS1JvxuMvnyHOwuJ+uX5qY=", (sign.v1("POST", V1A, "testsecret")))
    end)
  end)

  describe("v3", function()
    it("reproduces the official vector", function()
      local sig, sts, canonical, signed = sign.v3("POST", V3_QUERY, V3_HEADERS, "",
        "YourAccessKeySecret")
      assert.are.equal(V3_SIG, sig)
      assert.are.equal(V3_SIGNED, signed)
      assert.are.equal("ACS3-HMAC-SHA256\n"
        .. "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259", sts)
      assert.are.equal("7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259",
        sign.sha256_hex(canonical))
      assert.are.equal("ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=" .. V3_SIGNED
        .. ",Signature=" .. V3_SIG, sign.authorization("YourAccessKeyId", signed, sig))
    end)

    it("verifies from the received SignedHeaders, as a list or as a string", function()
      local headers = { ["user-agent"] = "AlibabaCloud", Accept = "application/json" }
      for k, v in pairs(V3_HEADERS) do headers[k:upper()] = v end
      local auth = assert(sign.parse_authorization(
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=" .. V3_SIGNED
        .. ",Signature=" .. V3_SIG))
      assert.are.same({ credential = "YourAccessKeyId", signed_headers = V3_SIGNED,
        signature = V3_SIG }, auth)
      local sig = sign.v3("POST", V3_QUERY, headers, nil, "YourAccessKeySecret",
        auth.signed_headers)
      assert.is_true(sign.equal(sig, auth.signature))
      sig = sign.v3("POST", V3_QUERY, headers, "", "YourAccessKeySecret",
        { "x-acs-version", "host", "x-acs-action", "x-acs-date", "x-acs-signature-nonce",
          "x-acs-content-sha256" })
      assert.are.equal(V3_SIG, sig)
      assert.is_false(sign.equal(sig, V3_SIG:gsub("0$", "1")))
    end)

    it("trims values and joins several values of one header sorted", function()
      local _, _, canonical = sign.v3("POST", {}, {
        Host = " example.com ", ["x-acs-multi"] = { "zeta", " alpha" },
      }, "", "secret")
      assert.matches("\nhost:example.com\nx%-acs%-multi:alpha,zeta\n\nhost;x%-acs%-multi\n",
        canonical)
    end)

    it("returns nil and a message for a malformed SignedHeaders string", function()
      local sig, msg = sign.v3("POST", {}, { host = "h" }, "", "s", "host;;x-acs-date")
      assert.is_nil(sig)
      assert.matches("signed header names", msg)
    end)
  end)

  describe("flatten", function()
    it("writes lists as Key.N and structs as Key.Sub, like the SDK", function()
      local flat = sign.flatten({
        SrcVersion = { "1.0.0", "V1.0.1" },
        Tag = { { Key = "env", Value = "canary run/*~" }, { Key = "team.a", Value = "ops" } },
        NeedPush = true, NeedConfirm = false, DynamicMode = 1, Ratio = 2.0, Gray = 0.5,
        Nested = { { "a", "b" }, { "c" } },
      })
      assert.are.same({
        ["SrcVersion.1"] = "1.0.0", ["SrcVersion.2"] = "V1.0.1",
        ["Tag.1.Key"] = "env", ["Tag.1.Value"] = "canary run/*~",
        ["Tag.2.Key"] = "team.a", ["Tag.2.Value"] = "ops",
        NeedPush = "true", NeedConfirm = "false", DynamicMode = "1", Ratio = "2", Gray = "0.5",
        ["Nested.1.1"] = "a", ["Nested.1.2"] = "b", ["Nested.2.1"] = "c",
      }, flat)
    end)

    it("feeds a byte-ordered canonical query (Tag.10 before Tag.2)", function()
      local tags = {}
      for i = 1, 10 do tags[i] = { Key = "k" .. i } end
      local q = sign.canonical_query(sign.flatten({ Tag = tags }))
      assert.matches("^Tag%.1%.Key=k1&Tag%.10%.Key=k10&Tag%.2%.Key=k2&", q)
    end)

    it("rejects mixed tables, cycles and functions", function()
      assert.has_error(function() sign.flatten({ Tag = { "a", Key = "b" } }) end)
      local t = {}
      t.self = t
      assert.has_error(function() sign.flatten(t) end)
      assert.has_error(function() sign.flatten({ F = print }) end)
      assert.has_error(function() sign.v1("GET", { Tag = { "a" } }, "s") end)
    end)
  end)

  describe("helpers", function()
    it("percent-encodes per the reference and decodes form data", function()
      assert.are.equal("canary%20run%2F%2A~", sign.percent_encode("canary run/*~"))
      assert.are.equal("%E6%B4%BE", sign.percent_encode("派"))
      assert.are.equal("a b c*", sign.percent_decode("a+b%20c%2a"))
      assert.are.equal("a+b", sign.percent_decode("a+b", false))
      local s, msg = sign.percent_decode("bad%4")
      assert.is_nil(s)
      assert.matches("byte 4", msg)
    end)

    it("formats and strictly parses timestamps", function()
      assert.are.equal("2016-02-23T12:46:24Z", sign.timestamp(1456231584))
      assert.are.equal(1456231584, sign.parse_timestamp("2016-02-23T12:46:24Z"))
      local t, msg = sign.parse_timestamp("2016-02-23T12:46:24.000Z")
      assert.is_nil(t)
      assert.matches("yyyy%-MM%-ddTHH:mm:ssZ", msg)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", sign.timestamp())
    end)

    it("makes 32-hex nonces and known MACs", function()
      assert.matches("^%x+$", sign.nonce())
      assert.are.equal(32, #sign.nonce())
      assert.are.equal("7/zfauXrL6LSdBbV8YTfnCWafHk=",
        sign.hmac_sha1_base64("Jefe", "what do ya want for nothing?"))
      assert.are.equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        sign.hmac_sha256_hex("Jefe", "what do ya want for nothing?"))
    end)

    it("raises on misuse", function()
      assert.has_error(function() sign.v1("GET", "not a table", "s") end)
      assert.has_error(function() sign.v1("GET", {}, nil) end)
      assert.has_error(function() sign.v3("POST", {}, {}, "", "s", { "a;b" }) end)
      assert.has_error(function() sign.canonical_query({ [1] = "x" }) end)
    end)
  end)
end)
