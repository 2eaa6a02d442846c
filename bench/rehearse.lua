-- bench/rehearse.lua: `otarun rehearse` of a 4-wave rollout (bench/rehearse-rollout.lua) over
-- 100,000 simulated devices (bench/fleet-100k.lua) and 14 simulated days, timed as a user sees it
-- (the whole command), with the API calls it made per simulated day. Target: <= 10 s wall.
-- Run: bench/rehearse [RUNS], or otarun lua bench/rehearse.lua BIN [RUNS]
local sys = require("otarun.core.sys")
local cjson = require("cjson")

local bin = arg[1] or "build/otarun"
local runs = tonumber(arg[2]) or 3
local here = (arg[0]:match("^(.*)/[^/]*$") or ".")
local cmd = string.format("%s rehearse %s/rehearse-rollout.lua --fleet %s/fleet-100k.lua --now 2027-01-04T00:00:00+08:00 --until 14d --format json",
  bin, here, here)

local walls, doc = {}, nil
for i = 1, runs do
  local t0 = sys.monotonic()
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  walls[i] = sys.monotonic() - t0
  doc = cjson.decode(out)
end
table.sort(walls)
local days = doc.simulated_days
print(string.format("devices            %d", doc.devices))
print(string.format("simulated days     %.1f", days))
print(string.format("wall time          %.2f s median of %d (min %.2f, max %.2f)", walls[(#walls + 1) // 2], runs, walls[1], walls[#walls]))
print(string.format("API calls          %d (%.0f per simulated day; %d reading gates, %d reading jobs)", doc.api_calls,
  doc.api_calls / days, doc.gate_calls, doc.refresh_calls or 0))
local actions = {}
for k, v in pairs(doc.calls_by_action) do actions[#actions + 1] = string.format("%s %d", k, v) end
table.sort(actions)
print("by action          " .. table.concat(actions, ", "))
for _, w in ipairs(doc.waves) do
  print(string.format("wave %-8s %-10s started %s  passed %s  %d upgraded", w.wave, w.status,
    tostring(w.started_at), tostring(w.passed_at), w.upgraded))
end
print(string.format("failed at the end  %d", doc.failed))
