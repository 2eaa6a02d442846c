-- otarun.core.sign's one-call signers (request_v3, request_v1) against the old path they replace
-- in client:prepare (sign.flatten, then sign.v3 + sign.authorization or sign.v1): the same bytes
-- on the bench request and on many random nested parameter tables (lists, structs, lists of
-- structs, holes, numbers, booleans, cjson.null), and the same refusals as flatten.
local sign = require("otarun.core.sign")
local cjson = require("cjson")

local FACTS = { host = "iot.cn-shanghai.aliyuncs.com", action = "CreateOTADynamicUpgradeJob",
  version = "2018-01-20", date = "2026-01-01T00:00:00Z", nonce = "3156853299f313e23d1673dc12e1703d",
  access_key_id = "LTAI5tBenchKey0001", secret = "benchSecretNotARealKey0123456789" }
local EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

local function facts(params, extra)
  local f = { params = params }
  for k, v in pairs(FACTS) do f[k] = v end
  for k, v in pairs(extra or {}) do f[k] = v end
  return f
end

local function old_v3(params, token)
  local h = { host = FACTS.host, ["x-acs-action"] = FACTS.action, ["x-acs-version"] = FACTS.version,
    ["x-acs-date"] = FACTS.date, ["x-acs-signature-nonce"] = FACTS.nonce,
    ["x-acs-content-sha256"] = EMPTY_SHA256, ["x-acs-security-token"] = token }
  local flat = sign.flatten(params)
  local sig, sts, creq, signed = assert(sign.v3("POST", flat, h, "", FACTS.secret))
  return { signature = sig, string_to_sign = sts, canonical_request = creq, signed_headers = signed,
    authorization = sign.authorization(FACTS.access_key_id, signed, sig),
    query = sign.canonical_query(flat) }
end

local function old_v1(params, token)
  local q = sign.flatten(params)
  q.Action, q.Version, q.Format, q.AccessKeyId = FACTS.action, FACTS.version, "JSON", FACTS.access_key_id
  q.SignatureMethod, q.SignatureVersion, q.SignatureNonce = "HMAC-SHA1", "1.0", FACTS.nonce
  q.Timestamp, q.SecurityToken = FACTS.date, token
  local sig, sts = assert(sign.v1("POST", q, FACTS.secret))
  return { signature = sig, string_to_sign = sts,
    query = sign.canonical_query(q) .. "&Signature=" .. sign.percent_encode(sig) }
end

-- Both paths must fail alike (a hole may make a list look mixed to both) or sign alike.
local function same_failure(old_fn, new_fn, params, token)
  local ok_old, old = pcall(old_fn, params, token)
  local ok_new, new = pcall(new_fn, facts(params, { token = token }))
  assert.are.equal(ok_old, ok_new, tostring(ok_old and new or old))
  if not ok_old then -- the same words; the position prefix names each caller's line
    assert.are.equal((old:gsub("^[^:]*:%d+: ", "")), (new:gsub("^[^:]*:%d+: ", "")))
  end
  return ok_old, old, new
end

local function same_v3(params, token)
  local ok, old, new = same_failure(old_v3, sign.request_v3, params, token)
  if not ok then return end
  for _, k in ipairs({ "signature", "string_to_sign", "canonical_request", "signed_headers",
    "authorization", "query" }) do
    assert.are.equal(old[k], new[k], k)
  end
  assert.are.equal(EMPTY_SHA256, new.content_sha256)
end

local function same_v1(params, token)
  local ok, old, new = same_failure(old_v1, sign.request_v1, params, token)
  if not ok then return end
  for _, k in ipairs({ "signature", "string_to_sign", "query" }) do assert.are.equal(old[k], new[k], k) end
end

-- A random scalar or nested value; depth bounds the nesting.
local ALPHABET = { "a", "Z", "0", ".", "-", "_", "~", " ", "/", "*", "+", "&", "=", "%", "\0", "派", "\255" }
local function rstring(max)
  local t = {}
  for i = 1, math.random(0, max) do t[i] = ALPHABET[math.random(#ALPHABET)] end
  return table.concat(t)
end
local NAMES = { "FirmwareId", "Tag", "Key", "Value", "SrcVersion", "A", "B", "RetryCount", "X.Y" }
local function rvalue(depth)
  local r = math.random(depth > 0 and 9 or 6)
  if r == 1 then return math.random(-1000, 100000)
  elseif r == 2 then return math.random() * 10 ^ math.random(-8, 8)
  elseif r == 3 then return math.random(2) == 1
  elseif r == 4 then return cjson.null
  elseif r <= 6 then return rstring(12)
  elseif r <= 8 then -- a list, sometimes with holes, sometimes longer than 9
    local t = {}
    for i = 1, math.random(1, math.random(2) == 1 and 3 or 12) do
      if math.random(6) > 1 then t[i] = rvalue(depth - 1) end
    end
    t[#t + 1] = rvalue(0) -- a list ends with an item, so its length is known
    return t
  else
    local t = {}
    for _ = 1, math.random(0, 4) do t[NAMES[math.random(#NAMES)]] = rvalue(depth - 1) end
    return t
  end
end
local function rparams()
  local t = {}
  for _ = 1, math.random(0, 12) do t[NAMES[math.random(#NAMES)] .. math.random(3)] = rvalue(3) end
  return t
end

describe("sign.request_v3 / request_v1", function()
  it("sign the bench request exactly as flatten + v3 / v1 did", function()
    local fixture = cjson.decode(assert(io.open("bench/sign_request.json")):read("a"))
    same_v3(fixture.params)
    same_v3(fixture.params, "CAIS.token/+=")
    same_v1(fixture.params)
    same_v1(fixture.params, "CAIS.token/+=")
    same_v3({})
    same_v1({})
  end)

  it("agree with the old path on random nested parameters", function()
    math.randomseed(20260101)
    local signed = 0
    for _ = 1, 400 do
      local p = rparams()
      local token = math.random(3) == 1 and rstring(8) or nil
      if pcall(sign.flatten, p) then signed = signed + 1 end
      same_v3(p, token)
      same_v1(p, token)
    end
    assert.is_true(signed > 300, "most random tables must be signable, got " .. signed)
  end)

  it("fill a given table and leave nothing of the secret in it", function()
    local into = { keep = 1 }
    assert.are.equal(into, sign.request_v3(facts({ JobId = "j" }), into))
    assert.are.equal(1, into.keep)
    for _, v in pairs(into) do
      if type(v) == "string" then assert.is_nil(v:find(FACTS.secret, 1, true)) end
    end
  end)

  it("refuse what flatten refuses, with its words", function()
    local function both(params, pattern)
      local ok, flat_err = pcall(sign.flatten, params)
      assert.is_false(ok)
      assert.matches(pattern, flat_err)
      local ok3, err3 = pcall(sign.request_v3, facts(params))
      assert.is_false(ok3)
      assert.matches(pattern, err3)
      local ok1, err1 = pcall(sign.request_v1, facts(params))
      assert.is_false(ok1)
      assert.matches(pattern, err1)
    end
    both({ "a", "b" }, "top level must be a table of named parameters")
    both({ Tag = { "a", Key = "b" } }, "Tag mixes list items and named fields")
    both({ F = print }, "F: value is a function")
    both({ Tag = { { Key = 0 / 0 } } }, "Tag.1.Key: NaN cannot be sent")
    both({ T = { [true] = 1 } }, "field names in T must be strings")
    local cycle = {}
    cycle.self = cycle
    both({ C = cycle }, "nests deeper than 32 levels")
  end)

  it("refuse signer-owned names in v1 and missing facts in both", function()
    assert.has_error(function() sign.request_v1(facts({ Signature = "x" })) end,
      "request_v1: parameter Signature is set by the signer and cannot be passed")
    assert.has_error(function() sign.request_v1(facts({ Timestamp = "x" })) end)
    assert.has_error(function() sign.request_v3(facts({}, { host = false })) end,
      "request_v3: facts.host must be a string (got boolean)")
    local f = facts({})
    f.secret = nil
    assert.has_error(function() sign.request_v3(f) end,
      "request_v3: facts.secret must be a string (got nil)")
    assert.has_error(function() sign.request_v1(facts(7)) end)
  end)
end)
