-- A transport for otarun.platform.client that hands each request to an in-process otarun.emulator object
-- instead of HTTP: rehearsals drive the same client, limiter and run loop as production, with the
-- emulator's (simulated) clock. The request's query is decoded back into the flat parameters the
-- model takes; the gateway's parameters (signature, nonce, ...) are dropped, not verified: there
-- is nothing to authenticate inside one process.
--
--   local tl = require("otarun.platform.transport_local")
--   local t = tl.new(emu)                 -- t:request{ method, url, headers, body } -> resp
--   local c = tl.client(emu, { sign = false, pace = true })
--
-- tl.client() builds a client whose limiter runs on the emulator's clock (a rehearsal still makes
-- at most 10 ListOTATaskByJob a second, in simulated seconds, and waiting advances the emulator)
-- and, with sign = false (the default), skips request signing, which would otherwise dominate a
-- rehearsal's cost. Uses otarun.platform.client, otarun.platform.ratelimit, otarun.emulator.gateway (form parsing,
-- fast JSON), otarun.platform.credentials.
local gateway = require("otarun.emulator.gateway")

local M = {}

-- Parameters the gateway consumes (gateway.lua's COMMON); the model never sees them.
local COMMON = {
  Action = true, Version = true, Format = true, AccessKeyId = true, SignatureMethod = true,
  SignatureVersion = true, SignatureNonce = true, SignatureType = true, Signature = true,
  Timestamp = true, SecurityToken = true,
}

local Transport = {}
Transport.__index = Transport

-- new(emu [, { region = }]) -> transport; transport.calls counts the requests it served.
function M.new(emu, opts)
  assert(type(emu) == "table" and emu.call, "transport_local.new needs an otarun.emulator object")
  opts = opts or {}
  local emulator = require("otarun.emulator")
  return setmetatable({ emu = emu, region = opts.region, calls = 0,
    encode = gateway.fast_json(emulator.ARRAY_MT) }, Transport)
end

local function header(headers, name)
  for k, v in pairs(headers or {}) do
    if type(k) == "string" and k:lower() == name then return v end
  end
  return nil
end

-- request{ method, url, headers, body } -> { status, headers, body } | nil, message, kind
function Transport:request(req)
  local query = req.url and req.url:match("%?(.*)$") or ""
  local params, err = gateway.parse_form(query, {}, "query")
  if not params then return { status = 400, headers = {}, body = self.encode({ Code = "InvalidParameter", Message = err }) } end
  if req.body and req.body ~= "" then
    params, err = gateway.parse_form(req.body, params, "body")
    if not params then return { status = 400, headers = {}, body = self.encode({ Code = "InvalidParameter", Message = err }) } end
  end
  local action = header(req.headers, "x-acs-action") or params.Action
  if not action then
    return { status = 400, headers = {}, body = self.encode({ Code = "MissingAction",
      Message = "no x-acs-action header and no Action parameter" }) }
  end
  for k in pairs(COMMON) do params[k] = nil end
  self.calls = self.calls + 1
  local status, body = self.emu:call(action, params, { region = self.region })
  return { status = status, headers = {}, body = self.encode(body) }
end

-- An upload to the emulated object storage (a device list, otarun.platform.device_list).
function Transport:upload(req)
  local status, headers, body = require("otarun.emulator.ops_device_list").upload(self.emu,
    { method = req.method, headers = req.headers, body = req.body })
  return { status = status, headers = headers or {}, body = body or "" }
end

function Transport:close() end

-- An unsigned request: the flat parameters in the query, the action in a header (what the model
-- needs), without the cost of a signature nobody checks.
local function unsigned_prepare(self, action, params)
  local sign = require("otarun.core.sign")
  local flat = sign.flatten(params or {})
  local q = sign.canonical_query(flat)
  return { method = "POST", body = "", params = flat, action = action,
           url = self.endpoint.base .. "/" .. (q ~= "" and ("?" .. q) or ""),
           headers = { { "x-acs-action", action } } }
end

-- client(emu, { sign = false, pace = true, limits = {Action = qps}, log = fn, region = }) -> client
-- pace = false: no limiter at all (specs that count calls and do not care about time).
function M.client(emu, opts)
  opts = opts or {}
  local client = require("otarun.platform.client")
  local ratelimit = require("otarun.platform.ratelimit")
  local now = function() return emu:now() end
  local sleep = function(s) if s > 0 then emu:advance(s) end end
  local limiter
  if opts.pace == false then
    limiter = { acquire = function() return 0 end, hold = function() end }
  else
    limiter = ratelimit.new{ clock = now, sleep = sleep, limits = opts.limits }
  end
  local c = assert(client.new{
    endpoint = "http://127.0.0.1:1", region = opts.region or emu.region,
    credentials = require("otarun.platform.credentials").static{ access_key_id = "LTAIrehearsal",
      access_key_secret = "rehearsal-not-a-secret" },
    transport = M.new(emu, { region = opts.region }), limiter = limiter,
    clock = now, now = now, sleep = sleep, log = opts.log,
  })
  if opts.sign ~= true then c.prepare = unsigned_prepare end
  return c
end

return M
