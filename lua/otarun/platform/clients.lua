-- Where the API clients of one command come from: the endpoint (--endpoint, OTARUN_ENDPOINT), the
-- region (the rollout's, --region, the profile's, ALIBABA_CLOUD_REGION_ID, as `call` and the
-- aliyun CLI), and the client cache: one client per endpoint, or per region when no endpoint is
-- given (plan, apply and status reach rollouts of several regions this way).
-- Uses otarun.platform.client.
local M = {}

-- --endpoint, else OTARUN_ENDPOINT (an empty one counts as unset), else `default`.
function M.endpoint(opts, default)
  local endpoint = opts.endpoint or os.getenv("OTARUN_ENDPOINT")
  if endpoint == nil or endpoint == "" then return default end
  return endpoint
end

-- The region of a call: the rollout's, else --region, the profile's, ALIBABA_CLOUD_REGION_ID.
function M.region(opts, rollout_region, creds)
  return rollout_region or opts.region or (creds and creds.region) or os.getenv("ALIBABA_CLOUD_REGION_ID")
end

-- cache{ creds, endpoint, opts (the command's), new = extra options for otarun.platform.client.new
-- (log, retries, timeouts) } -> client_for, close (closes every client made)
-- client_for(rollout) -> client, key | nil, message
function M.cache(o)
  local client = require("otarun.platform.client")
  local cache, list = {}, {}
  local function client_for(rollout)
    local region = M.region(o.opts, rollout and rollout.region, o.creds)
    local key = o.endpoint or region
    if not key then
      return nil, string.format("rollout %q names no region: give region in the script, --region, or --endpoint",
        tostring(rollout and rollout.name))
    end
    local c = cache[key]
    if not c then
      local new_opts = { endpoint = o.endpoint, region = region, credentials = o.creds }
      for k, v in pairs(o.new or {}) do new_opts[k] = v end
      local cerr
      c, cerr = client.new(new_opts)
      if not c then return nil, cerr end
      cache[key] = c
      list[#list + 1] = c
    end
    return c, key
  end
  return client_for, function() for _, c in ipairs(list) do c:close() end end
end

return M
