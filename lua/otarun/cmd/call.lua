-- otarun call ACTION [Key=Value]...: one signed API call, printing the JSON response (pretty,
-- keys sorted), or with --dry-run the exact request that would be sent and how it was signed.
-- The AccessKey secret and security token are never printed: every text shown passes through
-- redact(), which masks the token in its raw, encoded and doubly encoded forms.
-- Uses: otarun.cli.args, otarun.failure, otarun.platform.credentials, otarun.platform.client, otarun.util, otarun.core.sign.
local args = require("otarun.cli.args")
local failure = require("otarun.failure")

local M = {}

local OPTIONS = {
  ["--dry-run"] = "bool", ["--signature"] = "string", ["--timestamp"] = "string",
  ["--nonce"] = "string",
}

local HELP = [[
usage: otarun call ACTION [Key=Value]... [options]

One signed call to the IoT Platform API (version 2018-01-20); prints the JSON response.
Parameters are given flattened, as sent: SrcVersion.1=2.3.1 Tag.1.Key=channel Tag.1.Value=stable.

options:
  --dry-run              print the signed request (method, URL, headers, body, string to sign)
                         without sending it
  --signature v3|v1      signature algorithm (default v3, ACS3-HMAC-SHA256)
  --timestamp TIME       fix the request time (RFC 3339), to reproduce a signature
  --nonce N              fix the signature nonce, to reproduce a signature
  --endpoint URL         default https://iot.<region>.aliyuncs.com (also OTARUN_ENDPOINT);
                         127.0.0.1:PORT or http://127.0.0.1:PORT for the emulator
  --region R             region id (else the profile's region)
  --profile P            profile of ~/.aliyun/config.json (else ALIBABA_CLOUD_PROFILE)
  --format text|json     dry-run output format
  -v, --verbose          say which credentials and endpoint are used, and each attempt
]]
M.OPTIONS, M.HELP = OPTIONS, HELP

-- ---- stable pretty JSON ------------------------------------------------------------------------

-- An answer as indented JSON, keys in byte order (otarun.json).
function M.pretty_json(v)
  return require("otarun.json").encode(v, { indent = "  ", sorted = true, empty_object = true }) .. "\n"
end

-- ---- arguments -----------------------------------------------------------------------------------

local function parse_params(list)
  local params = {}
  for _, item in ipairs(list) do
    local key, value = item:match("^([^=]*)=(.*)$")
    if not key then
      failure.raise("usage", "parameter %q is not Key=Value (e.g. JobId=XUbmsMHmkqv0PiAG****010001)", item)
    end
    if not key:match("^%a[%w.]*$") then
      failure.raise("usage", "parameter name %q must be letters, digits and dots (e.g. Tag.1.Key)", key)
    end
    if params[key] then failure.raise("usage", "parameter %s given twice", key) end
    params[key] = value
  end
  return params
end

local function parse_timestamp(text)
  if not text then return nil end
  if text:match("^%d+$") then return tonumber(text) end
  local epoch, err = require("otarun.util").parse_time(text)
  if not epoch then failure.raise("usage", "--timestamp: %s", err) end
  return epoch
end

-- Masks the token wherever and however encoded it appears; the secret never enters any text
-- printed here, but is masked too should a future change let it in.
local function redactor(creds)
  local sign = require("otarun.core.sign")
  local needles = {}
  for _, s in ipairs({ creds:security_token(), creds:secret() }) do
    if s and #s >= 4 then
      local once = sign.percent_encode(s)
      for _, n in ipairs({ s, once, sign.percent_encode(once) }) do needles[#needles + 1] = n end
    end
  end
  return function(text)
    for _, n in ipairs(needles) do
      local out, pos = {}, 1
      while true do
        local i, j = text:find(n, pos, true)
        if not i then break end
        out[#out + 1] = text:sub(pos, i - 1) .. "****"
        pos = j + 1
      end
      out[#out + 1] = text:sub(pos)
      text = table.concat(out)
    end
    return text
  end
end

local function print_dry_run(req, redact, format)
  if format == "json" then
    local headers = {}
    for _, h in ipairs(req.headers) do headers[#headers + 1] = { h[1], redact(h[2]) } end
    io.stdout:write(M.pretty_json({ method = req.method, url = redact(req.url), headers = headers,
      body = req.body, signature = req.signature, string_to_sign = redact(req.string_to_sign),
      canonical_request = req.canonical_request and redact(req.canonical_request),
      signed_headers = req.signed_headers, params = req.params }))
    return
  end
  local lines = { req.method .. " " .. req.url }
  for _, h in ipairs(req.headers) do lines[#lines + 1] = h[1] .. ": " .. h[2] end
  lines[#lines + 1] = ""
  lines[#lines + 1] = req.body == "" and "(empty body)" or req.body
  lines[#lines + 1] = ""
  lines[#lines + 1] = "signature: " .. req.signature
  if req.canonical_request then
    lines[#lines + 1] = "canonical request:"
    lines[#lines + 1] = req.canonical_request
  end
  lines[#lines + 1] = "string to sign:"
  lines[#lines + 1] = req.string_to_sign
  io.stdout:write(redact(table.concat(lines, "\n")) .. "\n")
end

function M.main(argv)
  local opts, pos = args.parse(argv, OPTIONS)
  if opts.help then
    io.stdout:write(HELP)
    return 0
  end
  local action = table.remove(pos, 1)
  if not action then failure.raise("usage", "missing ACTION (e.g. otarun call QueryOTAJob JobId=...)") end
  if not action:match("^%u%w*$") then
    failure.raise("usage", "ACTION %q must be an operation name such as QueryOTAJob", action)
  end
  local params = parse_params(pos)
  local signature = opts.signature or "v3"
  if signature ~= "v3" and signature ~= "v1" then
    failure.raise("usage", "--signature must be v3 or v1, not %q", signature)
  end
  if opts.format and opts.format ~= "text" and opts.format ~= "json" then
    failure.raise("usage", "--format must be text or json, not %q", opts.format)
  end
  local timestamp = parse_timestamp(opts.timestamp)
  local function fail(msg) failure.raise("error", "%s", msg) end

  local creds, err = require("otarun.platform.credentials").load{ profile = opts.profile }
  if not creds then fail(err) end
  local redact = redactor(creds)
  local region = opts.region or creds.region or os.getenv("ALIBABA_CLOUD_REGION_ID")
  local endpoint = opts.endpoint or os.getenv("OTARUN_ENDPOINT")
  if endpoint == "" then endpoint = nil end
  local log
  if opts.verbose then log = function(line) io.stderr:write("otarun call: ", redact(line), "\n") end end
  local client = require("otarun.platform.client")
  local c, cerr = client.new{ endpoint = endpoint, region = region, credentials = creds,
    signature = signature, log = log }
  if not c then fail(cerr) end
  if log then
    log(string.format("credentials %s; endpoint %s; signature %s", creds:describe(), c.endpoint.base,
      signature))
  end
  if opts.dry_run then
    print_dry_run(c:prepare(action, params, { timestamp = timestamp, nonce = opts.nonce }), redact,
      opts.format)
    return 0
  end
  if opts.timestamp or opts.nonce then
    io.stderr:write("otarun call: note: --timestamp and --nonce only apply to --dry-run\n")
  end
  local result, cerr2 = c:call(action, params)
  c:close()
  if not result then
    -- one line: a gateway may quote its string to sign, newlines included
    fail((redact(tostring(cerr2)):gsub("\n", "\\n")))
  end
  io.stdout:write(redact(M.pretty_json(result))) -- even a server echoing the token is masked
  return 0
end

return M
