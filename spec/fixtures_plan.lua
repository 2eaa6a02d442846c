-- Hand-written normalised rollouts (the shape otarun.core.validate returns) for
-- the planner and renderer specs, so they do not depend on the validator.
local util = require("otarun.util")

local M = {}

M.NOW = util.parse_time("2026-11-30T10:00:00Z") -- a Monday

-- wave("canary", { versions = { "2.3.1" } }) with the validator's defaults filled in.
function M.wave(name, fields)
  local w = { name = name, line = 10, kind = "dynamic", tags = {}, approve = false, on_fail = "halt" }
  for k, v in pairs(fields or {}) do w[k] = v end
  return w
end

-- rollout({ waves }, { instance = ... }) numbers the waves, chains `after` and adds identity tags.
function M.rollout(waves, fields)
  local r = { name = "camera-2.4.0", file = "examples/cam.lua", line = 3, product = "a1Le6d0abcd",
              region = "cn-shanghai", identity = true,
              firmware = { id = "nx3xxVvFdwvn6dim50PY03", version = "2.4.0" }, waves = waves }
  for k, v in pairs(fields or {}) do r[k] = v end
  for i, w in ipairs(waves) do
    w.index = i
    w.line = w.line == 10 and (10 + i) or w.line
    if i > 1 and w.after == nil and not w.no_after then w.after = waves[i - 1].name end
    w.no_after = nil
    if r.identity and w.identity_tag == nil then
      w.identity_tag = { key = "otarun", value = r.name .. "/" .. w.name }
    end
  end
  return r
end

M.WINDOW_MON_THU = { days = { true, true, true, true, false, false, false }, from = 60, to = 300,
                     tz = 8 * 3600, text = "mon-thu 01:00-05:00 +08:00" }

return M
