-- Device list files for static batches of more than 200 devices: GenerateDeviceNameListURL hands
-- out an upload form (Key, Host, Policy, Signature, AccessKeyId, FileUrl, ObjectStorage = "OSS")
-- the way the platform's object storage takes uploads (an OSS PostObject: a multipart/form-data
-- POST to Host with the fields key, OSSAccessKeyId, policy, Signature, the file last); the
-- emulator serves that storage under /_oss/ (upload(), called by the router or by the in-process
-- transport) and CreateOTAStaticUpgradeJob reads the uploaded names through DnListFileUrl
-- (lookup()). What the documentation leaves open is in docs/platform-assumptions.md ("Device
-- lists"). Uploads live in memory and are not saved with the model. Uses otarun.core.sign
-- (HMAC-SHA1), cjson, ids.lua, errors.lua.
local sign = require("otarun.core.sign")
local cjson = require("cjson")
local errors = require("otarun.emulator.errors")
local ids = require("otarun.emulator.ids")

local M = {}

M.PREFIX = "/_oss/"
M.BUCKET = "iotx-ota-dnlist"
M.ACCESS_KEY_ID = "LTAIemulatorStorage"
M.EXPIRES = 3600                    -- seconds an upload form stays valid
M.MAX_NAMES = 1000000               -- names in one file (the static job page's maximum)

local function storage(emu)
  local s = emu.storage
  if not s then
    s = { secret = emu.store.gen:alnum(30), forms = {}, files = {} }
    emu.storage = s
  end
  return s
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- Base64 of the upload policy (the form carries it as OSS expects).
local function b64(text)
  local out = {}
  for i = 1, #text, 3 do
    local a, b, c = text:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local q = { (n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63 }
    for k = 1, 4 do out[#out + 1] = B64:sub(q[k] + 1, q[k] + 1) end
    if not c then out[#out] = "=" end
    if not b then out[#out - 1] = "=" end
  end
  return table.concat(out)
end

local ops = {}

function ops.GenerateDeviceNameListURL(emu, _, ctx)
  local s = storage(emu)
  local now = emu.sim.now
  local key = string.format("dnlist/%s/%s.txt", ids.utc(now):sub(1, 10), emu.store.gen:alnum(20))
  local host = string.format("http://%s%s%s", (ctx and ctx.host) or "127.0.0.1", M.PREFIX, M.BUCKET)
  local policy = b64(cjson.encode({ expiration = ids.utc(now + M.EXPIRES),
    conditions = { { "eq", "$key", key }, { "content-length-range", 0, 64 * 1024 * 1024 } } }))
  local signature = sign.hmac_sha1_base64(s.secret, policy)
  local file_url = host .. "/" .. key
  s.forms[key] = { policy = policy, signature = signature, expires = now + M.EXPIRES, file_url = file_url }
  return { Data = { Key = key, Host = host, Policy = policy, Signature = signature, AccessKeyId = M.ACCESS_KEY_ID,
    FileUrl = file_url, ObjectStorage = "OSS", UtcCreate = ids.utc(now) } }
end

-- The storage's error: HTTP status and an OSS-style XML body.
local function oss_error(status, code, message)
  return status, { ["content-type"] = "application/xml" },
    string.format('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>\n',
      code, message)
end

-- multipart/form-data body -> { name = value }, file content | nil, message
local function parse_multipart(body, content_type)
  local boundary = content_type and content_type:match('boundary="?([^";]+)"?')
  if not boundary then return nil, "Content-Type must be multipart/form-data with a boundary" end
  local fields, file = {}, nil
  local delim = "--" .. boundary
  local pos = body:find(delim, 1, true)
  if not pos then return nil, "the body has no part" end
  while true do
    local start = pos + #delim
    if body:sub(start, start + 1) == "--" then break end
    local head_end = body:find("\r\n\r\n", start, true)
    if not head_end then return nil, "a part has no header end" end
    local head = body:sub(start, head_end - 1)
    local next_pos = body:find("\r\n" .. delim, head_end + 4, true)
    if not next_pos then return nil, "a part is not terminated" end
    local value = body:sub(head_end + 4, next_pos - 1)
    local name = head:match('[Nn]ame="([^"]*)"')
    if name == "file" then file = value elseif name then fields[name] = value end
    pos = next_pos + 2
  end
  return fields, file
end

-- upload(emu, req) -> status, headers, body: an OSS PostObject to Host (path /_oss/BUCKET).
function M.upload(emu, req)
  if req.method ~= "POST" then return oss_error(405, "MethodNotAllowed", "Uploads are POST (PostObject).") end
  local ctype
  for k, v in pairs(req.headers or {}) do if k:lower() == "content-type" then ctype = v end end
  local fields, file = parse_multipart(req.body or "", ctype)
  if not fields then return oss_error(400, "InvalidArgument", file) end
  local s = storage(emu)
  local form = fields.key and s.forms[fields.key]
  if not form then return oss_error(403, "AccessDenied", "The key was not issued by GenerateDeviceNameListURL.") end
  if fields.OSSAccessKeyId ~= M.ACCESS_KEY_ID or fields.policy ~= form.policy or fields.Signature ~= form.signature then
    return oss_error(403, "SignatureDoesNotMatch", "The OSSAccessKeyId, policy and Signature must be those GenerateDeviceNameListURL returned.")
  end
  if emu.sim.now > form.expires then return oss_error(403, "AccessDenied", "Invalid according to Policy: Policy expired.") end
  if not file then return oss_error(400, "InvalidArgument", "The form has no file field (it must come last).") end
  local names = {}
  for line in file:gmatch("[^\r\n]+") do
    local n = line:match("^%s*(.-)%s*$")
    if n ~= "" then names[#names + 1] = n end
  end
  if #names > M.MAX_NAMES then
    return oss_error(400, "EntityTooLarge", string.format("A device list holds at most %d names.", M.MAX_NAMES))
  end
  s.files[form.file_url] = names
  local status = tonumber(fields.success_action_status or "") or 204
  if status ~= 200 and status ~= 201 then status = 204 end
  return status, { ETag = '"' .. sign.sha256_hex(file):sub(1, 32) .. '"' }, ""
end

-- The names uploaded to file_url (DnListFileUrl of CreateOTAStaticUpgradeJob); fails as the
-- platform would when the file is not there.
function M.lookup(emu, file_url)
  local names = storage(emu).files[file_url]
  if not names then
    errors.fail("dn_list", "DnListFileUrl " .. file_url .. " names no uploaded device list: call GenerateDeviceNameListURL and upload the file first.")
  end
  if #names == 0 then errors.fail("dn_list", "The device list at " .. file_url .. " is empty.") end
  return names
end

M.ops = ops
return M
