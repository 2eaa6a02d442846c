-- bench/qps, the otarun half (run by bench/qps as `otarun lua bench/qps.lua URL KEY SECRET N`):
-- N CreateOTADynamicUpgradeJob calls (one per firmware of the generated fleet) through one
-- otarun.platform.client in one process, paced by the shared limiter at the platform's 20/s. Prints the
-- wall time, its distance from the ideal N/20 s, and throttled answers seen by the client and
-- counted by the emulator (which must both be zero).
local client = require("otarun.platform.client")
local credentials = require("otarun.platform.credentials")
local sys = require("otarun.core.sys")
local cjson = require("cjson")

local url, key, secret, n = arg[1], arg[2], arg[3], tonumber(arg[4] or "200")
local c = assert(client.new{ endpoint = url,
  credentials = credentials.static{ access_key_id = key, access_key_secret = secret } })
local rate = c.limiter:rate("CreateOTADynamicUpgradeJob")
-- BENCH_MARGIN overrides the limiter's safety margin, to measure what it buys
if os.getenv("BENCH_MARGIN") then c.limiter.margin = tonumber(os.getenv("BENCH_MARGIN")) end

local failures, start = 0, sys.monotonic()
for i = 1, n do
  local r, err = c:call("CreateOTADynamicUpgradeJob", { FirmwareId = string.format("fwQps%04d", i),
    ProductKey = "a1QpsBench1", SrcVersion = { "0.0.1" }, Tag = { { Key = "otarun", Value = "qps/" .. i } } })
  if not r then
    failures = failures + 1
    io.stderr:write("bench/qps: call ", i, ": ", tostring(err), "\n")
  end
end
local wall = sys.monotonic() - start
c:close()

local http = require("otarun.core.http").client()
local counters = cjson.decode(assert(http:request{ url = url .. "/_emulator/counters" }).body)
http:close()
local ideal = n / rate
print(string.format("bench/qps: %d CreateOTADynamicUpgradeJob calls through one otarun process at %g/s (margin %g%%)",
  n, rate, c.limiter.margin * 100))
print(string.format("wall time            %.3f s (ideal %.1f s, %+.2f%%)", wall, ideal, (wall - ideal) / ideal * 100))
print(string.format("failed calls         %d", failures))
print(string.format("throttled (client)   %d answers, %d retries", c.stats.throttled, c.stats.retries))
print(string.format("throttled (emulator) %d", counters.throttled.total))
print(string.format("emulator peak        %s requests in one second",
  tostring(counters.peak_per_second.by_action.CreateOTADynamicUpgradeJob or counters.peak_per_second.overall)))
local ok = failures == 0 and c.stats.throttled == 0 and counters.throttled.total == 0
  and math.abs(wall - ideal) / ideal <= 0.05
print(ok and "result               PASS (within 5% of ideal, zero throttled)" or "result               FAIL")
os.exit(ok and 0 or 1)
