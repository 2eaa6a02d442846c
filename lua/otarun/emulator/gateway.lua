-- The emulated platform's API gateway (POP) in front of the OTA model: turns one HTTP request into
-- one `model:call(action, params, ctx)` the way Alibaba's gateway would let it through. It owns
-- parameter parsing (query and form body, percent-decoded as received), v1 (HMAC-SHA1) and V3
-- (ACS3-HMAC-SHA256) verification with otarun.core.sign, the timestamp window, nonce replay,
-- unknown keys and STS tokens, per-account per-action QPS limits (a sliding one-second window),
-- fault injection, counters, and the gateway error format.
-- Business answers of the model pass through as they are, with a RequestId added.
-- Uses: otarun.core.sign, otarun.core.sys (clocks), cjson, answer_json.lua. Used by: otarun.cmd.emulator, admin.lua.
local sign = require("otarun.core.sign")
local sys = require("otarun.core.sys")
local cjson = require("cjson")
local answer_json = require("otarun.emulator.answer_json")

local M = {}

-- Per-account QPS of each operation (UpdateOTAJob from the IoT quota page).
-- Operations not listed are not throttled.
M.DEFAULT_QPS = {
  CreateOTADynamicUpgradeJob = 20, CreateOTAStaticUpgradeJob = 20, CancelOTAStrategyByJob = 10,
  CancelOTATaskByJob = 5, QueryOTAJob = 10, ListOTAJobByFirmware = 10, ListOTATaskByJob = 10,
  QueryOTAFirmware = 20, ListOTAFirmware = 10, CreateOTAVerifyJob = 10, CreateOTAFirmware = 10,
  QueryDeviceGroupList = 100, QueryDeviceDetail = 50, UpdateOTAJob = 10,
  ReupgradeOTATask = 20, ConfirmOTATask = 20, CancelOTATaskByDevice = 10,
}

M.API_VERSION = "2018-01-20"

-- Parameters the gateway consumes; the model sees the rest.
local COMMON = {
  Action = true, Version = true, Format = true, AccessKeyId = true, SignatureMethod = true,
  SignatureVersion = true, SignatureNonce = true, SignatureType = true, Signature = true,
  Timestamp = true, SecurityToken = true,
}

local JSON_TYPE = "application/json;charset=utf-8"

-- ---- small helpers --------------------------------------------------------------------------

-- A sliding one-second window of event times (seconds, monotonic): count() after push() is the
-- number of events in (t - 1, t].
local Window = {}
Window.__index = Window
local function window() return setmetatable({ head = 1, tail = 0 }, Window) end

function Window:expire(t)
  local limit, head = t - 1, self.head
  while head <= self.tail and self[head] <= limit do
    self[head] = nil
    head = head + 1
  end
  self.head = head
  return self.tail - head + 1
end

function Window:push(t)
  self.tail = self.tail + 1
  self[self.tail] = t
  return self:expire(t)
end

local function request_id(rand)
  return string.format("%08X-%04X-4%03X-%04X-%04X%08X", rand(0, 0x7fffffff), rand(0, 0xffff),
    rand(0, 0xfff), rand(0x8000, 0xbfff), rand(0, 0xffff), rand(0, 0x7fffffff))
end

-- "a=1&b=x%20y" -> { a = "1", b = "x y" }; nil, message on a malformed escape.
function M.parse_form(text, into, where)
  into = into or {}
  for piece in text:gmatch("[^&]+") do
    local k, eq, v = piece:match("^([^=]*)(=?)(.*)$")
    local dk, err = sign.percent_decode(k, true)
    if not dk then return nil, string.format("%s: parameter name %q: %s", where, k, err) end
    local dv = ""
    if eq ~= "" then
      dv, err = sign.percent_decode(v, true)
      if not dv then return nil, string.format("%s: value of %s: %s", where, dk, err) end
    end
    if dk ~= "" then into[dk] = dv end
  end
  return into
end

-- JSON for the model's answers at C speed, empty lists as [] and pre-encoded lists spliced in
-- (answer_json.lua): encoder(array_mt, raw_mt).
M.fast_json = answer_json.encoder

local function bump(t, k, n)
  t[k] = (t[k] or 0) + (n or 1)
end

-- ---- the gateway object ---------------------------------------------------------------------

local Gateway = {}
Gateway.__index = Gateway

local OPTION_KEYS = {
  model = true, keys = true, qps = true, timestamp_window = true, nonce_window = true,
  host_id = true, wall = true, mono = true, random = true, throttle_status = true, encode = true,
  raw_json = true,
}

-- new{ model = obj with :call(action, params, ctx),
--      keys = { [AccessKeyId] = { secret = "...", token = "..." (STS), account = "name" } },
--      qps = { Action = N } (merged over DEFAULT_QPS; N <= 0 means unlimited),
--      timestamp_window = 900, nonce_window = 900 (seconds), host_id = "iot.cn-shanghai.aliyuncs.com",
--      throttle_status = 400, wall = fn -> epoch seconds, mono = fn -> seconds, random = math.random,
--      encode = fn(table) -> JSON text for the model's answers (default cjson.encode),
--      raw_json = true when encode splices the model's pre-encoded lists (fast_json with raw_mt);
--      it is passed on to the model as ctx.raw_json }
function M.new(opts)
  opts = opts or {}
  for k in pairs(opts) do
    if not OPTION_KEYS[k] then
      local names = {}
      for n in pairs(OPTION_KEYS) do names[#names + 1] = n end
      local best = require("otarun.util").closest(tostring(k), names)
      error(string.format("gateway.new: unknown option %q%s", tostring(k),
        best and (" (did you mean " .. best .. "?)") or ""), 2)
    end
  end
  local self = setmetatable({
    model = opts.model,
    keys = {},
    qps = {},
    timestamp_window = opts.timestamp_window or 900,
    nonce_window = opts.nonce_window or 900,
    host_id = opts.host_id or "iot.cn-shanghai.aliyuncs.com",
    throttle_status = opts.throttle_status or 400,
    wall = opts.wall or sys.now,
    mono = opts.mono or sys.monotonic,
    random = opts.random or math.random,
    encode = opts.encode or cjson.encode,
    raw_json = opts.raw_json == true,
    nonces = {}, nonce_queue = { head = 1, tail = 0 },
    limiters = {},
    faults = {},
  }, Gateway)
  for action, n in pairs(M.DEFAULT_QPS) do self.qps[action] = n end
  self:set_qps(opts.qps or {})
  for id, k in pairs(opts.keys or {}) do self:add_key(id, k.secret, k.token, k.account) end
  self:reset_counters()
  return self
end

function Gateway:add_key(id, secret, token, account)
  assert(type(id) == "string" and id ~= "", "an AccessKeyId must be a non-empty string")
  assert(type(secret) == "string" and secret ~= "", "an AccessKey secret must be a non-empty string")
  self.keys[id] = { secret = secret, token = token, account = account or "default" }
end

-- qps = { Action = N }; N <= 0 or false removes the limit.
function Gateway:set_qps(qps)
  for action, n in pairs(qps) do
    local v = tonumber(n)
    if n == false or (v or 0) <= 0 then self.qps[action] = nil
    else self.qps[action] = math.tointeger(v) or v end   -- 20.0 from JSON is 20
  end
  self.limiters = {}
end

function Gateway:reset_counters()
  self.counters = {
    requests = 0, by_action = {}, accepted = 0, throttled = 0, throttled_by_action = {},
    rejected_signatures = 0, gateway_errors = {}, business_errors = {}, server_errors = 0,
    faults = { errors = 0, dropped = 0, delayed = 0, throttled = 0 },
    peak = 0, peak_by_action = {},
  }
  self.windows = { all = window(), by_action = {} }
end

-- A copy of the counters, shaped for JSON (GET /_emulator/counters).
function Gateway:counters_snapshot()
  local c = self.counters
  local function obj(t) local r = {} for k, v in pairs(t) do r[k] = v end return r end
  return {
    requests = { total = c.requests, by_action = obj(c.by_action) },
    accepted = c.accepted,
    throttled = { total = c.throttled, by_action = obj(c.throttled_by_action) },
    rejected_signatures = c.rejected_signatures,
    errors = { gateway = obj(c.gateway_errors), business = obj(c.business_errors), server = c.server_errors },
    faults = obj(c.faults),
    peak_per_second = { overall = c.peak, by_action = obj(c.peak_by_action) },
  }
end

-- ---- answers --------------------------------------------------------------------------------

local function headers_for(rid)
  return { ["Content-Type"] = JSON_TYPE, ["x-acs-request-id"] = rid }
end

-- A gateway (POP) error: { RequestId, HostId, Code, Message, Recommend }.
function Gateway:gateway_error(rid, status, code, message)
  bump(self.counters.gateway_errors, code)
  local body = cjson.encode({
    RequestId = rid, HostId = self.host_id, Code = code, Message = message,
    Recommend = "https://api.aliyun.com/troubleshoot?q=" .. code .. "&product=Iot&requestId=" .. rid,
  })
  return status, headers_for(rid), body
end

local MSG = {
  not_matched = "Specified signature is not matched with our calculation. server string to sign is:",
  key = "Specified access key is not found.",
  nonce = "Specified signature nonce was used already.",
  expired = "Specified time stamp or date value is expired.",
  throttled = "Request was denied due to user flow control.",
}

-- ---- authentication -------------------------------------------------------------------------

-- Checks the request time against real time; returns nil or an error triple (status, code, msg).
function Gateway:check_time(value, name)
  if value == nil or value == "" then
    return 400, "IllegalTimestamp",
      string.format('The input parameter "%s" that is mandatory for processing this request is not supplied.', name)
  end
  local t = sign.parse_timestamp(value)
  if not t then
    return 400, "IllegalTimestamp",
      string.format('Specified parameter "%s" is not valid: %s (expected yyyy-MM-ddTHH:mm:ssZ, UTC).', name, value)
  end
  if math.abs(self.wall() - t) > self.timestamp_window then
    return 400, "InvalidTimeStamp.Expired", MSG.expired .. string.format(
      " (%s %s is more than %d seconds from the server's time %s)", name, value,
      self.timestamp_window, sign.timestamp(math.floor(self.wall())))
  end
end

-- Nonces seen in the window: nonces[nonce] = arrival time, and the nonce strings in arrival order
-- (no table per nonce: at thousands of requests per second the window holds millions).
function Gateway:nonce_used(nonce)
  local limit = self.wall() - self.nonce_window
  local q, seen = self.nonce_queue, self.nonces
  local head, tail = q.head, q.tail
  while head <= tail do
    local old = q[head]
    local t = seen[old]
    if t and t > limit then break end
    seen[old] = nil
    q[head] = nil
    head = head + 1
  end
  q.head = head
  return seen[nonce] ~= nil
end

function Gateway:remember_nonce(nonce)
  local q = self.nonce_queue
  q.tail = q.tail + 1
  q[q.tail] = nonce
  self.nonces[nonce] = self.wall()
end

-- The string to sign echoed in SignatureDoesNotMatch; an STS token inside it is redacted, since
-- no output of otarun ever shows a token.
local function redact(text, key)
  if not key.token then return text end
  for _, form in ipairs({ key.token, sign.percent_encode(key.token),
                          sign.percent_encode(sign.percent_encode(key.token)) }) do
    local s, e = text:find(form, 1, true)
    while s do
      text = text:sub(1, s - 1) .. "<security token redacted>" .. text:sub(e + 1)
      s, e = text:find(form, s + 1, true)
    end
  end
  return text
end

-- v1: every parameter but Signature is signed, with the request's real method.
function Gateway:verify_v1(req, params)
  for _, name in ipairs({ "AccessKeyId", "SignatureMethod", "SignatureVersion" }) do
    if params[name] == nil or params[name] == "" then
      return nil, 400, "Missing" .. name, name .. " is mandatory for this action."
    end
  end
  if params.SignatureMethod ~= "HMAC-SHA1" then
    return nil, 400, "InvalidSignatureMethod", string.format(
      "Specified signature method %s is not supported; use HMAC-SHA1 with SignatureVersion 1.0.", params.SignatureMethod)
  end
  if params.SignatureVersion ~= "1.0" then
    return nil, 400, "InvalidSignatureVersion", string.format(
      "Specified signature version %s is not supported; use 1.0.", params.SignatureVersion)
  end
  local key = self.keys[params.AccessKeyId]
  if not key then return nil, 404, "InvalidAccessKeyId.NotFound", MSG.key end
  local status, code, msg = self:check_time(params.Timestamp, "Timestamp")
  if status then return nil, status, code, msg end
  local nonce = params.SignatureNonce
  if nonce == nil or nonce == "" then
    return nil, 400, "MissingSignatureNonce", "SignatureNonce is mandatory for this action."
  end
  if self:nonce_used(nonce) then return nil, 400, "SignatureNonceUsed", MSG.nonce end
  local got = params.Signature
  params.Signature = nil
  local want, sts = sign.v1(req.method, params, key.secret)
  params.Signature = got
  if not want then error("v1 signer failed: " .. tostring(sts)) end
  return self:verified(want, got, sts, key, params.SecurityToken, "its SecurityToken", nonce, params.AccessKeyId)
end

-- The end of both verifications: the signature compared, an STS key's token checked, the nonce
-- remembered. -> id, key, nonce | nil, status, code, message
function Gateway:verified(want, got, sts, key, token, token_name, nonce, id)
  if not sign.equal(want, got) then
    self.counters.rejected_signatures = self.counters.rejected_signatures + 1
    return nil, 400, "SignatureDoesNotMatch", MSG.not_matched .. redact(sts, key)
  end
  if key.token and token ~= key.token then
    return nil, 400, "InvalidSecurityToken.MismatchWithAccessKey",
      "Specified SecurityToken mismatch with the AccessKey (the key is an STS key; send " .. token_name .. ")."
  end
  self:remember_nonce(nonce)
  return id, key, nonce
end

-- V3: canonical request rebuilt from the SignedHeaders the client declared.
function Gateway:verify_v3(req, auth_value, query)
  local auth, why = sign.parse_authorization(auth_value)
  if not auth then
    return nil, 400, "InvalidAuthorization", "Specified Authorization header is not valid: " .. tostring(why)
  end
  local h = req.headers
  local key = self.keys[auth.credential]
  if not key then return nil, 404, "InvalidAccessKeyId.NotFound", MSG.key end
  local status, code, msg = self:check_time(h["x-acs-date"], "x-acs-date")
  if status then return nil, status, code, msg end
  local nonce = h["x-acs-signature-nonce"]
  if nonce == nil or nonce == "" then
    return nil, 400, "MissingSignatureNonce", "x-acs-signature-nonce is mandatory for this action."
  end
  if self:nonce_used(nonce) then return nil, 400, "SignatureNonceUsed", MSG.nonce end
  local body_hash = sign.sha256_hex(req.body)
  local claimed = h["x-acs-content-sha256"]
  if claimed and claimed ~= body_hash then
    self.counters.rejected_signatures = self.counters.rejected_signatures + 1
    return nil, 400, "SignatureDoesNotMatch", string.format(
      "x-acs-content-sha256 %s does not match the SHA-256 of the %d-byte body received (%s).",
      claimed, #req.body, body_hash)
  end
  local want, sts = sign.v3(req.method, query, h, req.body, key.secret, auth.signed_headers)
  if not want then
    return nil, 400, "SignatureDoesNotMatch", "Specified SignedHeaders are not valid: " .. tostring(sts)
  end
  return self:verified(want, auth.signature, sts, key, h["x-acs-security-token"], "x-acs-security-token", nonce,
    auth.credential)
end

-- ---- faults ---------------------------------------------------------------------------------

local FAULT_KEYS = {
  action = "string", error_rate = "number", error = "string", status = "number", code = "string",
  message = "string", latency_ms = "number", drop_rate = "number", throttle = "boolean", count = "number",
}

local SERVER_ERRORS = {
  [500] = { "InternalError", "The request processing has failed due to some unknown error, exception or failure." },
  [503] = { "ServiceUnavailable", "The request has failed due to a temporary failure of the server." },
}

-- Fields that hold whole numbers. JSON decoders (cjson) give 1.0 for 1: whole floats are taken
-- and stored as integers.
local FAULT_INTEGERS = { status = true, latency_ms = true, count = true }

-- Checks one fault spec; returns the normalised fault or nil, message naming the bad field.
function M.check_fault(f)
  if type(f) ~= "table" then return nil, "a fault must be an object" end
  local whole = {}
  for k in pairs(FAULT_INTEGERS) do
    local v = f[k]
    if type(v) == "number" then whole[k] = math.tointeger(v) end
  end
  for k, v in pairs(f) do
    local want = FAULT_KEYS[k]
    if not want then
      local names = {}
      for n in pairs(FAULT_KEYS) do names[#names + 1] = n end
      table.sort(names)
      return nil, string.format("unknown fault field %q (known: %s)", tostring(k), table.concat(names, ", "))
    end
    if type(v) ~= want then return nil, string.format("fault field %s must be a %s", k, want) end
  end
  for _, k in ipairs({ "error_rate", "drop_rate" }) do
    if f[k] and (f[k] < 0 or f[k] > 1) then return nil, k .. " must be between 0 and 1" end
  end
  if f.latency_ms and (f.latency_ms < 0 or f.latency_ms > 600000) then
    return nil, "latency_ms must be between 0 and 600000"
  end
  local kind = f.error or ((f.status and f.status >= 500) and "5xx") or "business"
  if kind ~= "business" and kind ~= "5xx" and kind ~= "gateway" then
    return nil, string.format("fault error %q must be business, 5xx or gateway", kind)
  end
  if kind == "gateway" and not (f.status and f.code) then
    return nil, "a gateway fault needs status and code"
  end
  if f.count and (f.count < 1 or not whole.count) then
    return nil, string.format("count must be a positive integer (the fault applies to that many requests), got %s", tostring(f.count))
  end
  if f.status and not (whole.status and whole.status >= 100 and whole.status <= 599) then
    return nil, string.format("status must be an HTTP status code between 100 and 599, got %s", tostring(f.status))
  end
  local r = {}
  for k, v in pairs(f) do r[k] = v end
  for k, v in pairs(whole) do r[k] = v end
  r.action = r.action or "*"
  r.error = kind
  if r.error_rate == nil and (f.status or f.code or f.error) then r.error_rate = 1 end
  return r
end

-- Installs checked faults (a list); an action's own fault replaces its previous one.
function Gateway:set_fault(f)
  local r, err = M.check_fault(f)
  if not r then return nil, err end
  self.faults[r.action] = r
  return r
end

function Gateway:clear_faults(action)
  if action then self.faults[action] = nil else self.faults = {} end
end

function Gateway:fault_for(action)
  local f = self.faults[action] or self.faults["*"]
  if f and f.count then
    f.count = f.count - 1
    if f.count <= 0 then self.faults[f.action] = nil end
  end
  return f
end

function Gateway:fault_error(rid, f)
  self.counters.faults.errors = self.counters.faults.errors + 1
  if f.error == "business" then
    local code = f.code or "iot.system.SystemException"
    bump(self.counters.business_errors, code)
    return 200, headers_for(rid), cjson.encode({
      RequestId = rid, Success = false, Code = code, ErrorMessage = f.message or "A system exception occurred.",
    })
  end
  local status = f.status or 503
  local known = SERVER_ERRORS[status] or SERVER_ERRORS[500]
  if status >= 500 then self.counters.server_errors = self.counters.server_errors + 1 end
  return self:gateway_error(rid, status, f.code or known[1], f.message or known[2])
end

-- ---- throttling -----------------------------------------------------------------------------

-- True when one more call of action by account fits its QPS in the last second (and counts it).
function Gateway:admit(account, action, now)
  local limit = self.qps[action]
  if not limit then return true end
  local k = account .. "\0" .. action
  local w = self.limiters[k]
  if not w then
    w = window()
    self.limiters[k] = w
  end
  if w:expire(now) >= limit then return false end
  w:push(now)
  return true
end

-- ---- one request ----------------------------------------------------------------------------

function Gateway:count_arrival(action, now)
  local c = self.counters
  local n = self.windows.all:push(now)
  if n > c.peak then c.peak = n end
  if not action then return end
  bump(c.by_action, action)
  local w = self.windows.by_action[action]
  if not w then
    w = window()
    self.windows.by_action[action] = w
  end
  n = w:push(now)
  if n > (c.peak_by_action[action] or 0) then c.peak_by_action[action] = n end
end

-- Reads the parameters: the query string, plus a form-urlencoded body (pop-core POST).
local function read_params(req)
  local query, err = M.parse_form(req.query, {}, "query string")
  if not query then return nil, nil, err end
  local params = {}
  for k, v in pairs(query) do params[k] = v end
  local ct = (req.headers["content-type"] or ""):lower()
  if #req.body > 0 and ct:find("application/x-www-form-urlencoded", 1, true) then
    local _, berr = M.parse_form(req.body, params, "form body")
    if berr then return nil, nil, berr end
  end
  return params, query
end

-- Authenticates; returns id, key or nil, status, code, message.
function Gateway:authenticate(req, params, query)
  local auth = req.headers["authorization"]
  if auth and auth:match("^%s*ACS3%-HMAC%-SHA256%s") then return self:verify_v3(req, auth, query) end
  if params.Signature then return self:verify_v1(req, params) end
  if auth then
    return nil, 400, "InvalidAuthorization",
      "Specified Authorization header is not supported; use ACS3-HMAC-SHA256 or a v1 Signature parameter."
  end
  if not params.AccessKeyId then return nil, 400, "MissingAccessKeyId", "AccessKeyId is mandatory for this action." end
  return nil, 400, "MissingSignature", "Signature is mandatory for this action."
end

-- The model's answer: (status, body) or (body [, status]); body a table or JSON text.
function Gateway:pass_through(rid, a, b)
  local status, body
  if type(a) == "number" then status, body = a, b else body, status = a, b end
  status = status or 200
  if type(body) == "string" then return status, headers_for(rid), body end
  if type(body) ~= "table" then error("the model answered a " .. type(body) .. ", not a table") end
  if status ~= 200 and body.Code and body.Success ~= true then
    return self:gateway_error(rid, status, body.Code, body.Message or body.ErrorMessage or body.Code)
  end
  body.RequestId = rid
  if body.Success == false then bump(self.counters.business_errors, tostring(body.Code)) end
  return status, headers_for(rid), self.encode(body)
end

function Gateway:call_model(rid, action, params, ctx)
  local bparams = {}
  for k, v in pairs(params) do
    if not COMMON[k] then bparams[k] = v end
  end
  local ok, a, b = pcall(self.model.call, self.model, action, bparams, ctx)
  if not ok then
    io.stderr:write(string.format("otarun emulator: %s failed (RequestId %s): %s\n", action, rid, tostring(a)))
    self.counters.server_errors = self.counters.server_errors + 1
    return self:gateway_error(rid, 500, "InternalError",
      "The request processing has failed due to some unknown error, exception or failure.")
  end
  return self:pass_through(rid, a, b)
end

-- handle(req) -> status, headers, body [, { delay_ms, drop }]  (req as otarun.core.httpd gives it)
function Gateway:handle(req)
  local rid = request_id(self.random)
  local now = self.mono()
  self.counters.requests = self.counters.requests + 1
  if req.path ~= "/" then
    self:count_arrival(nil, now)
    return self:gateway_error(rid, 404, "InvalidAction.NotFound",
      "Specified api is not found, please check your url and method. (RPC calls go to path /, not " .. req.path .. ")")
  end
  local params, query, perr = read_params(req)
  local v3 = (req.headers["authorization"] or ""):match("^%s*ACS3%-HMAC%-SHA256%s")
  local action = v3 and req.headers["x-acs-action"] or (params and params.Action)
  self:count_arrival(action, now)
  if not params then return self:gateway_error(rid, 400, "InvalidParameter", perr) end
  if action == nil or action == "" then
    return self:gateway_error(rid, 400, "MissingAction", (v3 and "x-acs-action" or "Action") .. " is mandatory for this action.")
  end
  local version = v3 and req.headers["x-acs-version"] or params.Version
  if version == nil or version == "" then
    return self:gateway_error(rid, 400, "MissingVersion", (v3 and "x-acs-version" or "Version") .. " is mandatory for this action.")
  end
  if version ~= M.API_VERSION then
    return self:gateway_error(rid, 400, "InvalidVersion", string.format(
      "Specified parameter Version is not valid: %s (the IoT Platform API version is %s).", version, M.API_VERSION))
  end
  local id, key, code, msg = self:authenticate(req, params, query)
  if not id then return self:gateway_error(rid, key, code, msg) end
  local opts
  local f = self:fault_for(action)
  if f and f.latency_ms and f.latency_ms > 0 then
    opts = { delay_ms = f.latency_ms }
    self.counters.faults.delayed = self.counters.faults.delayed + 1
  end
  if f and f.drop_rate and self.random() < f.drop_rate then
    self.counters.faults.dropped = self.counters.faults.dropped + 1
    opts = opts or {}
    opts.drop = true
    return 500, {}, "", opts
  end
  local forced = f and f.throttle
  if forced or not self:admit(key.account, action, now) then
    local c = self.counters
    c.throttled = c.throttled + 1
    bump(c.throttled_by_action, action)
    if forced then c.faults.throttled = c.faults.throttled + 1 end
    local s, h, b = self:gateway_error(rid, self.throttle_status, "Throttling.User", MSG.throttled)
    return s, h, b, opts
  end
  if f and f.error_rate and self.random() < f.error_rate then
    local s, h, b = self:fault_error(rid, f)
    return s, h, b, opts
  end
  self.counters.accepted = self.counters.accepted + 1
  local s, h, b = self:call_model(rid, action, params, {
    request_id = rid, access_key_id = id, account = key.account, method = req.method,
    signature = v3 and "v3" or "v1", remote = req.remote, raw_json = self.raw_json, host = req.headers["host"],
  })
  return s, h, b, opts
end

return M
