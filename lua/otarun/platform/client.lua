-- The signed API client for the IoT Platform (version 2018-01-20, RPC style) that plan refresh,
-- apply and the scheduler use. Owns: endpoints, request building and signing (V3 by default,
-- v1 on request), the wire encoding (exactly what was signed), response and error
-- classification, retries with backoff and jitter, and pacing through the shared
-- rate limiter. A changing action (Create*, Update*, Cancel*, ...) is sent again only when the
-- platform certainly did not process it; otherwise the caller gets kind "unknown_outcome".
-- Uses: otarun.core.sign, otarun.core.http, otarun.core.sys, otarun.platform.ratelimit, cjson.
local cjson = require("cjson")
local sign = require("otarun.core.sign")
local ratelimit = require("otarun.platform.ratelimit")

local M = {}

M.API_VERSION = "2018-01-20"
M.EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
-- Flow-control codes: the gateway refused before the operation ran, so even a create may be resent.
-- (ServiceUnavailable is not among them: a 503 may come from behind the gateway.)
M.THROTTLING = { Throttling = true, ["Throttling.User"] = true, ["Throttling.Api"] = true,
  ["Throttling.Concurrent"] = true }
M.DEFAULT_RETRIES = { max = 4, base = 0.25, cap = 8, retry_after_cap = 60 }
M.DEFAULT_TIMEOUTS = { connect = 10, request = 30 }

local CHANGING_PREFIXES = { "Create", "Update", "Cancel", "Confirm", "Reupgrade", "Delete" }
-- True for an action whose repetition could change the platform twice.
function M.is_changing(action)
  for _, p in ipairs(CHANGING_PREFIXES) do
    if action:sub(1, #p) == p then return true end
  end
  return false
end

function M.default_endpoint(region)
  return "https://iot." .. region .. ".aliyuncs.com"
end

-- Parses an endpoint ("https://host", "http://127.0.0.1:PORT", or a bare "host[:port]", which
-- means http for a loopback host and https otherwise). -> { base =, host =, scheme = } | nil, msg
function M.parse_endpoint(text)
  if type(text) ~= "string" or text == "" then return nil, "endpoint must be a non-empty string" end
  local scheme, rest = text:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then
    local hostname = text:match("^%[([^%]]+)%]") or text:match("^([^:/]+)")
    local http = require("otarun.core.http")
    scheme, rest = (hostname and http.is_loopback(hostname)) and "http" or "https", text
  end
  scheme = scheme:lower()
  local authority, path = rest:match("^([^/?#]+)(.*)$")
  if not authority or authority:find("@", 1, true) then
    return nil, "endpoint " .. text .. " is not host[:port] with an optional scheme"
  end
  if path ~= "" and path ~= "/" then
    return nil, "endpoint " .. text .. " must not have a path (the RPC path is always /)"
  end
  local base = scheme .. "://" .. authority
  local ok, why = require("otarun.core.http").check_url(base .. "/")
  if not ok then return nil, why end
  return { base = base, host = authority, scheme = scheme }
end

local Client = {}
Client.__index = Client

local function merged(defaults, given)
  local t = {}
  for k, v in pairs(defaults) do t[k] = v end
  for k, v in pairs(given or {}) do
    if defaults[k] == nil then error("unknown option " .. tostring(k), 3) end
    t[k] = v
  end
  return t
end

local NEW_KEYS = { endpoint = true, region = true, credentials = true, signature = true,
  limits = true, overall_qps = true, retries = true, timeouts = true, clock = true, sleep = true,
  now = true, limiter = true, transport = true, log = true, random = true }

-- new{ endpoint=, region=, credentials=, signature="v3"|"v1", limits={Action=qps},
--      overall_qps=, retries={max,base,cap,retry_after_cap}, timeouts={connect,request},
--      clock=, sleep=, now=, limiter=, transport=, log=fn(line), random=fn() }
function M.new(opts)
  for k in pairs(opts) do
    if not NEW_KEYS[k] then
      local names = {}
      for n in pairs(NEW_KEYS) do names[#names + 1] = n end
      local best = require("otarun.util").closest(k, names)
      error(string.format("client.new: unknown option %s%s", k,
        best and (" (did you mean " .. best .. "?)") or ""), 2)
    end
  end
  local endpoint = opts.endpoint
  if not endpoint then
    if not opts.region then return nil, "no endpoint and no region: give --region or --endpoint" end
    endpoint = M.default_endpoint(opts.region)
  end
  local ep, err = M.parse_endpoint(endpoint)
  if not ep then return nil, err end
  local signature = opts.signature or "v3"
  if signature ~= "v3" and signature ~= "v1" then
    return nil, "signature must be v3 or v1, not " .. tostring(signature)
  end
  assert(opts.credentials, "client.new: credentials required")
  local sys = require("otarun.core.sys")
  local limiter = opts.limiter
  if not limiter then
    limiter = ratelimit.shared()
    limiter:configure(opts.limits, opts.overall_qps)
  end
  return setmetatable({
    endpoint = ep, region = opts.region, credentials = opts.credentials, signature = signature,
    retries = merged(M.DEFAULT_RETRIES, opts.retries),
    timeouts = merged(M.DEFAULT_TIMEOUTS, opts.timeouts),
    clock = opts.clock or sys.monotonic, sleep = opts.sleep or sys.sleep,
    now = opts.now or sys.now, limiter = limiter, transport = opts.transport,
    log = opts.log, random = opts.random or math.random,
    stats = { requests = 0, throttled = 0, retries = 0, by_action = {} }, -- by_action: docs/metrics.md
  }, Client)
end

-- ---- building requests -------------------------------------------------------------------------

local function timestamp_of(value, now)
  if value == nil then return sign.timestamp(math.floor(now)) end
  if type(value) == "number" then return sign.timestamp(math.floor(value)) end
  return value
end

-- A prepared request flattens its business parameters (req.params) only when someone reads them
-- (dry runs, specs): signing walks the nested table directly.
local REQUEST_MT = { __index = function(req, key)
  if key ~= "params" then return nil end
  local flat = sign.flatten(rawget(req, "business_params") or {})
  rawset(req, "params", flat)
  return flat
end }

-- prepare(action, params, { timestamp = epoch|"yyyy-MM-ddTHH:mm:ssZ", nonce = s }) -> request
-- request = { method, url, headers = { {name, value}... }, body, signature, string_to_sign,
--             canonical_request (v3), signed_headers (v3), params (flattened business params,
--             computed on first read), business_params (as given) }
-- Signing is one native call (sign.request_v3 / request_v1): flatten, encode, sort and sign.
function Client:prepare(action, params, fixed)
  assert(type(action) == "string" and action:match("^%a%w*$"),
    "action must be an operation name such as QueryOTAJob")
  fixed = fixed or {}
  local creds = self.credentials
  local token = creds:security_token()
  local date = timestamp_of(fixed.timestamp, self.now())
  local nonce = fixed.nonce or sign.nonce()
  local host = self.endpoint.host
  local facts = { host = host, action = action, version = M.API_VERSION, date = date, nonce = nonce,
    params = params, access_key_id = creds.access_key_id, secret = creds:secret(), token = token }
  local req, err
  if self.signature == "v3" then
    req, err = sign.request_v3(facts)
    assert(req, err)
    local headers = { { "host", host }, { "x-acs-action", action },
      { "x-acs-content-sha256", req.content_sha256 }, { "x-acs-date", date } }
    if token then headers[#headers + 1] = { "x-acs-security-token", token } end
    headers[#headers + 1] = { "x-acs-signature-nonce", nonce }
    headers[#headers + 1] = { "x-acs-version", M.API_VERSION }
    headers[#headers + 1] = { "accept", "application/json" }
    headers[#headers + 1] = { "authorization", req.authorization }
    req.headers = headers
    -- the canonical query is exactly the wire query
    req.url = self.endpoint.base .. "/" .. (req.query ~= "" and ("?" .. req.query) or "")
  else
    req, err = sign.request_v1(facts)
    assert(req, err)
    req.url = self.endpoint.base .. "/?" .. req.query
    req.headers = { { "host", host }, { "x-acs-action", action },
      { "x-acs-version", M.API_VERSION }, { "accept", "application/json" } }
  end
  req.method, req.body, req.action, req.business_params = "POST", "", action, params
  return setmetatable(req, REQUEST_MT)
end

-- ---- responses ---------------------------------------------------------------------------------

local function new_error(kind, fields)
  fields.kind = kind
  return setmetatable(fields, M.Error)
end

M.Error = {}
M.Error.__index = M.Error
M.Error.__tostring = function(e)
  local s = (e.code and (e.code .. ": ") or "") .. tostring(e.message)
  if e.request_id then s = s .. " (RequestId " .. e.request_id .. ")" end
  if e.attempts and e.attempts > 1 then s = s .. string.format(" [%d attempts]", e.attempts) end
  return s
end

local function snippet(body)
  body = body:gsub("%s+", " ")
  if #body > 200 then body = body:sub(1, 200) .. "..." end
  return body
end

-- Classifies one HTTP response. -> decoded | nil, err
function M.classify(action, resp)
  local status, body = resp.status, resp.body or ""
  local ok, decoded = pcall(cjson.decode, body)
  if not ok or type(decoded) ~= "table" or #decoded > 0 then decoded = nil end -- objects only
  local request_id = decoded and type(decoded.RequestId) == "string" and decoded.RequestId
    or resp.headers and resp.headers["x-acs-request-id"] or nil
  local changing = M.is_changing(action)
  local code = decoded and type(decoded.Code) == "string" and decoded.Code or nil
  local message = decoded and (decoded.ErrorMessage or decoded.Message)
  if type(message) ~= "string" then message = nil end
  local function err(kind, msg)
    return nil, new_error(kind, { code = code, message = msg, http_status = status,
      request_id = request_id })
  end
  if status >= 200 and status < 300 then
    if not decoded then
      local msg = string.format("malformed response body (HTTP %d, %d bytes, not a JSON object): %s",
        status, #body, snippet(body))
      return err(changing and "unknown_outcome" or "malformed", msg)
    end
    if decoded.Success == false then
      return err("business", message or "the platform reported failure without a message")
    end
    if code and decoded.Success == nil then
      return err(M.THROTTLING[code] and "throttled" or "gateway", message or code)
    end
    return decoded
  end
  if code and (M.THROTTLING[code] or code:match("^Throttling")) then
    return err("throttled", message or "request was denied by flow control")
  end
  if status >= 500 then
    return err(changing and "unknown_outcome" or "gateway",
      message or string.format("HTTP %d from the platform: %s", status, snippet(body)))
  end
  if not decoded then
    return err("malformed", string.format("HTTP %d with a body that is not a JSON object: %s",
      status, snippet(body)))
  end
  if status >= 400 then
    return err("gateway", message or code or ("HTTP " .. status))
  end
  return err("malformed", string.format("unexpected HTTP %d: %s", status, snippet(body)))
end

-- ---- sending with retries ------------------------------------------------------------------------

local function transport_error(action, message, kind)
  local changing = M.is_changing(action)
  local k = "transport"
  if kind == "send" or kind == "timeout_after_send" then k = changing and "unknown_outcome" or "transport"
  elseif kind == "too_large" then k = changing and "unknown_outcome" or "malformed" end
  return new_error(k, { message = kind .. " error: " .. message, transport_kind = kind })
end

-- Whether err may be retried, given what the platform can have done with the request.
local function retryable(action, err)
  if err.kind == "throttled" then return true end
  if err.kind == "transport" then
    return err.transport_kind == "connect" or
      (not M.is_changing(action) and (err.transport_kind == "send" or
        err.transport_kind == "timeout_after_send"))
  end
  if err.kind == "gateway" then
    return err.http_status and err.http_status >= 500 or err.code == "SignatureNonceUsed"
  end
  return false
end

function Client:backoff(attempt, retry_after_ms)
  local r = self.retries
  local d = math.min(r.cap, r.base * 2 ^ (attempt - 1))
  d = d / 2 + self.random() * d / 2 -- "equal jitter": spread out, never zero
  if retry_after_ms then d = math.max(d, math.min(retry_after_ms / 1000, r.retry_after_cap)) end
  return d
end

function Client:send(req)
  local transport = self.transport
  if not transport then
    transport = require("otarun.core.http").client()
    self.transport = transport
  end
  local headers = {}
  for _, h in ipairs(req.headers) do headers[h[1]] = h[2] end
  return transport:request{ method = req.method, url = req.url, headers = headers, body = req.body,
    connect_timeout = self.timeouts.connect, timeout = self.timeouts.request }
end

-- call(action, params) -> decoded JSON table | nil, err
-- err = { kind = "business"|"gateway"|"throttled"|"transport"|"unknown_outcome"|"malformed",
--         code, message, http_status, request_id, attempts }
function Client:call(action, params)
  local attempt = 0
  while true do
    attempt = attempt + 1
    self.limiter:acquire(action, self.credentials.access_key_id) -- per-account quota (docs/state.md)
    local req = self:prepare(action, params) -- a fresh nonce and date for every attempt
    local t0 = self.clock()
    self.stats.requests = self.stats.requests + 1
    local per = self.stats.by_action[action] or { requests = 0, throttled = 0 }
    self.stats.by_action[action], per.requests = per, per.requests + 1
    local resp, msg, kind = self:send(req)
    local decoded, err
    if resp then
      decoded, err = M.classify(action, resp)
    else
      err = transport_error(action, msg, kind)
    end
    if self.log then
      self.log(string.format("%s %s attempt %d: %s (%.0f ms)", action, self.endpoint.host, attempt,
        resp and ("HTTP " .. resp.status) or ("transport " .. tostring(kind)),
        (self.clock() - t0) * 1000))
    end
    if decoded then return decoded end
    err.attempts = attempt
    if err.kind == "throttled" then self.stats.throttled, per.throttled = self.stats.throttled + 1, per.throttled + 1 end
    if attempt > self.retries.max or not retryable(action, err) then return nil, err end
    local retry_after = resp and tonumber(resp.headers["x-acs-retry-after"]) -- milliseconds
    if retry_after and retry_after <= 0 then retry_after = nil end
    local delay = self:backoff(attempt, retry_after)
    if err.kind == "throttled" then self.limiter:hold(action, delay) end
    self.stats.retries = self.stats.retries + 1
    self.sleep(delay)
  end
end

function Client:close()
  if self.transport and self.transport.close then self.transport:close() end
  self.transport = nil
end

return M
