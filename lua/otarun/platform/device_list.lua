-- Uploading a device list for a static job of more than 200 devices (docs/commands-ota.md,
-- "Device lists"): GenerateDeviceNameListURL, then the names (one a line) posted to the returned
-- Host as an OSS PostObject form (key, OSSAccessKeyId, policy, Signature, success_action_status,
-- then the file), then CreateOTAStaticUpgradeJob takes the returned FileUrl as DnListFileUrl.
-- The upload goes through the client's transport (otarun.core.http, or the in-process emulator's
-- transport, which serves it directly). Uses otarun.core.sign (a boundary), otarun.core.http.
local sign = require("otarun.core.sign")

local M = {}

local function form(boundary, fields, names)
  local parts = {}
  for _, f in ipairs(fields) do
    parts[#parts + 1] = string.format('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n',
      boundary, f[1], tostring(f[2]))
  end
  parts[#parts + 1] = string.format('--%s\r\nContent-Disposition: form-data; name="file"; filename="devices.txt"\r\n'
    .. 'Content-Type: text/plain\r\n\r\n%s\n\r\n--%s--\r\n', boundary, table.concat(names, "\n"), boundary)
  return table.concat(parts)
end

-- upload(client, names, instance) -> FileUrl | nil, err ({ kind, message })
function M.upload(client, names, instance)
  local res, err = client:call("GenerateDeviceNameListURL", { IotInstanceId = instance })
  if not res then return nil, err end
  local d = type(res.Data) == "table" and res.Data or {}
  for _, k in ipairs({ "Key", "Host", "Policy", "Signature", "AccessKeyId", "FileUrl" }) do
    if type(d[k]) ~= "string" or d[k] == "" then
      return nil, { kind = "malformed", message = "GenerateDeviceNameListURL answered without Data." .. k }
    end
  end
  local boundary = "otarun-" .. sign.sha256_hex(d.Key .. "\0" .. #names):sub(1, 32)
  local req = { method = "POST", url = d.Host,
    headers = { ["content-type"] = "multipart/form-data; boundary=" .. boundary },
    body = form(boundary, { { "key", d.Key }, { "OSSAccessKeyId", d.AccessKeyId }, { "policy", d.Policy },
      { "Signature", d.Signature }, { "success_action_status", "200" } }, names) }
  local t, own = client.transport, false
  if not t then t, own = require("otarun.core.http").client(), true end
  local resp, herr
  if t.upload then resp, herr = t:upload(req) else resp, herr = t:request(req) end
  if own then t:close() end
  if not resp then
    return nil, { kind = "transport", message = "uploading the device list to " .. d.Host .. ": " .. tostring(herr) }
  end
  if resp.status ~= 200 and resp.status ~= 201 and resp.status ~= 204 then
    return nil, { kind = "upload", message = string.format("uploading the device list to %s: HTTP %d %s", d.Host,
      resp.status, tostring(resp.body or ""):gsub("%s+", " "):sub(1, 300)) }
  end
  return d.FileUrl
end

return M
