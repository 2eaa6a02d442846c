-- Credentials for signed calls: the ALIBABA_CLOUD_* environment variables first, then
-- the aliyun CLI's ~/.aliyun/config.json (profile from --profile, ALIBABA_CLOUD_PROFILE or the
-- file's `current`; modes AK and StsToken). The secret and the token live in a weak table keyed by
-- the credentials object, so tostring, cjson.encode or a stray dump of the object never show them.
-- Uses: cjson.
local cjson = require("cjson")

local M = {}

local private = setmetatable({}, { __mode = "k" })

local Credentials = {}
Credentials.__index = Credentials

-- "LTAI****abcd": enough to tell keys apart in -v output, never enough to use one.
function M.mask(id)
  id = tostring(id or "")
  if #id <= 8 then return "****" end
  return id:sub(1, 4) .. "****" .. id:sub(-4)
end

function Credentials:secret() return private[self].secret end
function Credentials:security_token() return private[self].token end
function Credentials:describe()
  return string.format("%s (%s, from %s)", M.mask(self.access_key_id), self.mode, self.source)
end
Credentials.__tostring = Credentials.describe

-- static{ access_key_id=, access_key_secret=, security_token=, source=, region= }
function M.static(t)
  assert(type(t.access_key_id) == "string" and t.access_key_id ~= "", "access_key_id required")
  assert(type(t.access_key_secret) == "string" and t.access_key_secret ~= "",
    "access_key_secret required")
  local token = t.security_token
  if token == "" then token = nil end
  local c = setmetatable({
    access_key_id = t.access_key_id,
    mode = token and "StsToken" or "AK",
    source = t.source or "arguments",
    region = t.region,
  }, Credentials)
  private[c] = { secret = t.access_key_secret, token = token }
  return c
end

local function nonempty(s)
  if type(s) == "string" and s ~= "" then return s end
  return nil
end

local function from_environment(getenv)
  local id = nonempty(getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"))
  local secret = nonempty(getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET"))
  if id and not secret then
    return nil, "ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not: "
      .. "set both, or neither to use ~/.aliyun/config.json"
  end
  if secret and not id then
    return nil, "ALIBABA_CLOUD_ACCESS_KEY_SECRET is set but ALIBABA_CLOUD_ACCESS_KEY_ID is not: "
      .. "set both, or neither to use ~/.aliyun/config.json"
  end
  if not id then return false end
  return M.static{ access_key_id = id, access_key_secret = secret,
    security_token = getenv("ALIBABA_CLOUD_SECURITY_TOKEN"), source = "environment" }
end

local read_file = require("otarun.util").read_file

local function profile_names(config)
  local names = {}
  if type(config.profiles) ~= "table" then
    return config.profiles == nil and "none" or "none: \"profiles\" is not a list of profiles"
  end
  for _, p in ipairs(config.profiles) do
    if type(p) == "table" then names[#names + 1] = tostring(p.name) end
  end
  return #names > 0 and table.concat(names, ", ") or "none"
end

local function from_profile(p, name, path)
  local where = string.format("profile %s in %s", name, path)
  local mode = p.mode or "AK"
  if mode ~= "AK" and mode ~= "StsToken" then
    return nil, string.format("%s: mode %s is not supported (supported: AK, StsToken)",
      where, tostring(mode))
  end
  local id, secret = nonempty(p.access_key_id), nonempty(p.access_key_secret)
  if type(id) ~= "string" or type(secret) ~= "string" then
    return nil, where .. ": access_key_id and access_key_secret must both be set"
  end
  local token = nonempty(p.sts_token)
  if mode == "StsToken" and type(token) ~= "string" then
    return nil, where .. ": mode StsToken needs sts_token"
  end
  return M.static{ access_key_id = id, access_key_secret = secret,
    security_token = mode == "StsToken" and token or nil, source = where,
    region = nonempty(p.region_id) }
end

-- load{ profile = NAME|nil, getenv = fn|nil } -> credentials | nil, message
-- The message names every place that was looked at, and never a secret.
function M.load(opts)
  opts = opts or {}
  local getenv = opts.getenv or os.getenv
  local creds, err = from_environment(getenv)
  if creds then return creds end
  if creds == nil then return nil, err end

  local home = nonempty(getenv("HOME"))
  local path = home and (home .. "/.aliyun/config.json") or nil
  local text = path and read_file(path)
  local wanted = nonempty(opts.profile) or nonempty(getenv("ALIBABA_CLOUD_PROFILE"))
  if not text then
    return nil, string.format("no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and "
      .. "ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for STS), or create "
      .. "%s with `aliyun configure`%s (looked in the environment and %s)",
      path or "~/.aliyun/config.json (HOME is not set)",
      wanted and (" holding profile " .. wanted) or "", path and (path .. ": not found") or "no HOME")
  end
  local ok, config = pcall(cjson.decode, text)
  if not ok or type(config) ~= "table" then
    return nil, string.format("%s is not valid JSON: %s", path, ok and "not an object"
      or tostring(config):gsub("^.-: ", ""))
  end
  local name = wanted or nonempty(config.current) or "default"
  if type(config.profiles) == "table" then
    for _, p in ipairs(config.profiles) do
      if type(p) == "table" and p.name == name then return from_profile(p, name, path) end
    end
  end
  return nil, string.format("no profile %s in %s (profiles: %s)%s", name, path,
    profile_names(config), wanted and "" or "; choose one with --profile or ALIBABA_CLOUD_PROFILE")
end

return M
