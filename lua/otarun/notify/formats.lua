-- What a notification looks like on the wire (docs/notifications.md): the versioned JSON body and
-- its X-Otarun-Signature-256 header, the DingTalk custom robot's markdown message and its signed
-- URL (timestamp + sign query parameters beside the URL's own access_token), the Slack incoming
-- webhook's text + blocks, and the redacted form of a URL that is the only one ever stored or
-- printed. Every body goes through M.encode (otarun.json's deterministic encoder).
-- Uses otarun.json, otarun.core.sign, otarun.util.
local json = require("otarun.json")
local sign = require("otarun.core.sign")
local util = require("otarun.util")

local M = {}

M.FORMAT_VERSION = "1"
M.SIGNATURE_HEADER = "X-Otarun-Signature-256"

-- The one JSON writer of notification bodies.
function M.encode(v) return json.encode(v) end

-- ---- URLs ------------------------------------------------------------------------------------

-- The URL with its user part, query values and (for Slack, whose path is the secret) the path
-- beyond its first segment replaced by "***": safe for logs, the audit log and metrics.
function M.redact(url)
  local scheme, rest = url:match("^(%a[%w+.-]*://)(.*)$")
  if not scheme then return "***" end
  rest = rest:gsub("^[^/?#]*@", "***@")
  local hostport, path, query = rest:match("^([^/?#]*)([^?#]*)%??([^#]*)")
  path = path or ""
  local first = path:match("^/[^/]*") or ""
  if #path > #first then path = first .. "/***" end
  local out = scheme .. (hostport or "") .. path
  if query and query ~= "" then
    local parts = {}
    for pair in query:gmatch("[^&]+") do
      local k = pair:match("^([^=]*)")
      parts[#parts + 1] = k .. "=***"
    end
    out = out .. "?" .. table.concat(parts, "&")
  end
  return out
end

-- Every secret piece of a URL (query values, the path beyond its first segment, a user part), so
-- an error message that quotes the URL can be scrubbed.
function M.url_secrets(url)
  local out = { url }
  for v in url:gmatch("[?&][^=&#]*=([^&#]+)") do out[#out + 1] = v end
  local path = url:match("^%a[%w+.-]*://[^/?#]*(/[^?#]*)")
  if path then
    local tail = path:match("^/[^/]*(/.+)$")
    if tail then out[#out + 1] = tail end
  end
  return out
end

-- text with every occurrence of each secret replaced by "***".
function M.scrub(text, secrets)
  text = tostring(text)
  for _, s in ipairs(secrets) do
    if s and #s >= 4 then
      local i = 1
      while true do
        local a, b = text:find(s, i, true)
        if not a then break end
        text = text:sub(1, a - 1) .. "***" .. text:sub(b + 1)
        i = a + 3
      end
    end
  end
  return text
end

-- ---- bytes -------------------------------------------------------------------------------------

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.base64(bytes)
  local out = {}
  for i = 1, #bytes, 3 do
    local a, b, c = bytes:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local s = {}
    for k = 3, 0, -1 do
      local idx = (n >> (6 * k)) & 63
      s[#s + 1] = B64:sub(idx + 1, idx + 1)
    end
    if not b then s[3], s[4] = "=", "=" elseif not c then s[4] = "=" end
    out[#out + 1] = table.concat(s)
  end
  return table.concat(out)
end

local function unhex(h)
  return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end

-- "sha256=" .. hex HMAC-SHA256(body) keyed with the secret: the JSON body's signature header.
function M.signature(body, secret)
  return "sha256=" .. sign.hmac_sha256_hex(secret, body)
end

-- DingTalk's sign: URL-encoded base64 of HMAC-SHA256(secret, timestamp .. "\n" .. secret).
function M.dingtalk_sign(timestamp_ms, secret)
  local mac = unhex(sign.hmac_sha256_hex(secret, tostring(timestamp_ms) .. "\n" .. secret))
  return sign.percent_encode(M.base64(mac))
end

-- ---- bodies ------------------------------------------------------------------------------------

local TITLES = {
  start = "wave started", pass = "gate passed", halt = "rollout halted", approval = "approval needed",
  drift = "drift closed", done = "rollout done", error = "tick failed", approve = "wave approved",
  abort = "rollout aborted", resume = "rollout resumed",
}
M.TITLES = TITLES

local function where(ev)
  return ev.rollout .. (ev.wave and ("/" .. ev.wave) or "")
end

-- The JSON body (format_version 1) of event ev { id, event, rollout, wave, at, text, job_id, counts }.
function M.json_body(ev)
  local counts
  if type(ev.counts) == "table" and next(ev.counts) then
    counts = json.object({})
    for k, v in pairs(ev.counts) do if type(v) == "number" then counts[k] = v end end
  end
  return M.encode({ format_version = M.FORMAT_VERSION, id = ev.id, event = ev.event,
    rollout = ev.rollout, wave = ev.wave or json.null, at = util.format_time(ev.at, 0),
    text = ev.text or "", job_id = ev.job_id or json.null, counts = counts or json.null })
end

local function counts_line(c)
  if type(c) ~= "table" or not c.succeeded then return nil end
  return string.format("succeeded %d, failed %d, in progress %d", c.succeeded or 0, c.failed or 0,
    (c.pending or 0))
end

function M.dingtalk_body(ev)
  local title = string.format("otarun: %s %s", where(ev), TITLES[ev.event] or ev.event)
  local lines = { "### " .. title, "", ev.text or "" }
  if ev.job_id then lines[#lines + 1] = "\n- job: " .. ev.job_id end
  local c = counts_line(ev.counts)
  if c then lines[#lines + 1] = "- devices: " .. c end
  lines[#lines + 1] = "- at: " .. util.format_time(ev.at, 0)
  return M.encode({ msgtype = "markdown", markdown = { title = title, text = table.concat(lines, "\n") } })
end

local function slack_escape(s)
  return (tostring(s):gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"))
end

function M.slack_body(ev)
  local head = string.format("otarun: %s %s", where(ev), TITLES[ev.event] or ev.event)
  local text = slack_escape(head .. ": " .. (ev.text or ""))
  local detail = { "*" .. slack_escape(head) .. "*", slack_escape(ev.text or "") }
  if ev.job_id then detail[#detail + 1] = "job `" .. slack_escape(ev.job_id) .. "`" end
  local c = counts_line(ev.counts)
  if c then detail[#detail + 1] = "devices: " .. c end
  return M.encode({ text = text, blocks = { { type = "section",
    text = { type = "mrkdwn", text = table.concat(detail, "\n") } } } })
end

-- The request for event ev to target t { url, format, secret }: { url, headers, body }.
-- now_ms: the DingTalk timestamp (milliseconds).
function M.request(t, ev, now_ms)
  local headers = { ["Content-Type"] = "application/json; charset=utf-8", ["User-Agent"] = "otarun",
    ["X-Otarun-Event"] = ev.event, ["X-Otarun-Delivery"] = tostring(ev.id) }
  local url, body = t.url, nil
  if t.format == "dingtalk" then
    body = M.dingtalk_body(ev)
    if t.secret then
      local sep = url:find("?", 1, true) and "&" or "?"
      url = string.format("%s%stimestamp=%d&sign=%s", url, sep, now_ms, M.dingtalk_sign(now_ms, t.secret))
    end
  elseif t.format == "slack" then
    body = M.slack_body(ev)
  else
    body = M.json_body(ev)
    if t.secret then headers[M.SIGNATURE_HEADER] = M.signature(body, t.secret) end
  end
  return { url = url, headers = headers, body = body }
end

-- Did the receiver accept? DingTalk answers 200 with errcode 0; the others any 2xx.
-- -> true | nil, why
function M.accepted(format, res)
  if res.status < 200 or res.status > 299 then return nil, "HTTP " .. res.status end
  if format == "dingtalk" then
    local ok, doc = pcall(json.decode, res.body or "")
    if ok and type(doc) == "table" and doc.errcode ~= nil and doc.errcode ~= 0 then
      return nil, string.format("DingTalk errcode %s: %s", tostring(doc.errcode), tostring(doc.errmsg))
    end
  end
  return true
end

return M
