-- Spec support for the emulator: builds signed requests the way the official SDKs put them on the
-- wire (v1 in the query or a form body, V3 with an Authorization header), as request tables for
-- the gateway in-process, and sends them over loopback with curl for the HTTP specs.
local sign = require("otarun.core.sign")
local cjson = require("cjson")

local S = {}

local function copy(t)
  local r = {}
  for k, v in pairs(t or {}) do r[k] = v end
  return r
end

-- Encodes params as Node's querystring would (it leaves ! ' ( ) * literal), sorted for stable text.
function S.wire_query(params, node_style)
  local keys = {}
  for k in pairs(params) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = sign.percent_encode(tostring(params[k]))
    if node_style then v = v:gsub("%%2A", "*"):gsub("%%21", "!"):gsub("%%27", "'"):gsub("%%28", "("):gsub("%%29", ")") end
    parts[#parts + 1] = sign.percent_encode(k) .. "=" .. v
  end
  return table.concat(parts, "&")
end

-- v1{ action=, params=, id=, secret=, token=, method="POST", form=false, time=epoch, nonce=,
--     version="2018-01-20", node_style=true } -> request table
function S.v1(o)
  local p = copy(o.params)
  p.Action = o.action
  p.Version = o.version or "2018-01-20"
  p.Format = o.format or "json"
  p.AccessKeyId = o.id
  p.SignatureMethod = "HMAC-SHA1"
  p.SignatureVersion = "1.0"
  p.SignatureNonce = o.nonce or sign.nonce()
  p.Timestamp = o.timestamp or sign.timestamp(o.time)
  p.SecurityToken = o.token
  local method = o.method or "POST"
  p.Signature = assert(sign.v1(method, p, o.secret))
  if o.tamper then p.Signature = o.tamper(p.Signature) end
  local text = S.wire_query(p, o.node_style ~= false)
  local req = { method = method, path = "/", query = text, body = "", remote = "127.0.0.1",
                headers = { host = o.host or "127.0.0.1:1", ["user-agent"] = "spec" } }
  if o.form then
    req.query, req.body = "", text
    req.headers["content-type"] = "application/x-www-form-urlencoded"
  end
  return req, p
end

-- v3{ action=, params=, id=, secret=, token=, method="POST", time=, nonce=, body="", content_type= }
function S.v3(o)
  local method = o.method or "POST"
  local body = o.body or ""
  local h = {
    host = o.host or "127.0.0.1:1", ["x-acs-action"] = o.action, ["x-acs-version"] = o.version or "2018-01-20",
    ["x-acs-date"] = o.timestamp or sign.timestamp(o.time), ["x-acs-signature-nonce"] = o.nonce or sign.nonce(),
    ["x-acs-content-sha256"] = sign.sha256_hex(body), ["x-acs-credentials-provider"] = "static_ak",
    ["x-acs-security-token"] = o.token, ["content-type"] = o.content_type,
    accept = "application/json",
  }
  local params = copy(o.params)
  local sig, _, _, names = assert(sign.v3(method, params, h, body, o.secret))
  if o.tamper then sig = o.tamper(sig) end
  h.authorization = sign.authorization(o.id, names, sig)
  return { method = method, path = "/", query = S.wire_query(params, true), body = body,
           remote = "127.0.0.1", headers = h }
end

function S.decode(body)
  local ok, v = pcall(cjson.decode, body)
  return ok and v or nil
end

-- Flip the last character of a signature.
function S.flip(sig)
  local last = sig:sub(-1)
  return sig:sub(1, -2) .. (last == "A" and "B" or "A")
end

-- ---- over loopback ------------------------------------------------------------------------

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
S.shell_quote = q

-- send(base_url, req) -> status (number, or 0 when the connection closed without an answer), body
function S.send(base, req, extra)
  local out = os.tmpname()
  local parts = { "curl -s -m 10 -o", q(out), "-w '%{http_code}'", "-X", req.method }
  for k, v in pairs(req.headers or {}) do
    if k ~= "host" then parts[#parts + 1] = "-H " .. q(k .. ": " .. v) end
  end
  local bodyfile
  if req.body and req.body ~= "" then
    bodyfile = os.tmpname()
    local fh = assert(io.open(bodyfile, "wb"))
    fh:write(req.body)
    fh:close()
    parts[#parts + 1] = "--data-binary @" .. q(bodyfile)
  end
  if extra then parts[#parts + 1] = extra end
  local url = base .. (req.path or "/") .. ((req.query or "") ~= "" and ("?" .. req.query) or "")
  parts[#parts + 1] = q(url)
  local p = io.popen(table.concat(parts, " ") .. " 2>/dev/null")
  local code = p:read("a")
  p:close()
  local fh = io.open(out, "rb")
  local body = fh and fh:read("a") or ""
  if fh then fh:close() end
  os.remove(out)
  if bodyfile then os.remove(bodyfile) end
  return tonumber(code) or 0, body
end

-- Starts the real binary: start({ "--fleet", F, ... }) -> { url, port, pid, stdout_path, stderr_path,
-- stop = fn }. Waits (up to 10 s) for "listening on http://127.0.0.1:PORT" on its stdout.
function S.start(extra)
  local bin = os.getenv("OTARUN_BIN") or "./build/otarun"
  local out, err = os.tmpname(), os.tmpname()
  local parts = { q(bin), "emulator", "--listen", "127.0.0.1:0" }
  for _, a in ipairs(extra or {}) do parts[#parts + 1] = q(a) end
  local cmd = table.concat(parts, " ") .. " </dev/null >" .. q(out) .. " 2>" .. q(err) .. " & echo $!"
  local p = io.popen(cmd)
  local pid = tonumber(p:read("l"))
  p:close()
  local sys = require("otarun.core.sys")
  local text = ""
  for _ = 1, 200 do
    local fh = io.open(out, "rb")
    text = fh and fh:read("a") or ""
    if fh then fh:close() end
    if text:find("listening on http://", 1, true) then break end
    sys.sleep(0.05)
  end
  local url = text:match("listening on (http://[%d%.]+:%d+)")
  local e = S.slurp(err)
  assert(url, "the emulator did not start: stdout: " .. text .. " stderr: " .. e)
  local em = { url = url, port = tonumber(url:match(":(%d+)$")), pid = pid, stdout_path = out,
               stderr_path = err, stdout = text }
  function em.stop()
    S.send(url, { method = "POST", path = "/_emulator/shutdown", headers = {} })
    for _ = 1, 40 do
      if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then break end
      sys.sleep(0.05)
    end
    os.execute("kill " .. pid .. " 2>/dev/null")
  end
  return em
end

S.slurp = require("helpers").slurp

-- admin(em, "POST", "/_emulator/clock/advance?seconds=60" [, json_body]) -> status, decoded body
function S.admin(em, method, target, body)
  local path, query = target:match("^([^?]*)%??(.*)$")
  local status, text = S.send(em.url, { method = method, path = path, query = query, body = body,
    headers = body and { ["content-type"] = "application/json" } or {} })
  return status, S.decode(text), text
end

return S
