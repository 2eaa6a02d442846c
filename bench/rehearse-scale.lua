-- bench/rehearse-scale.lua: `otarun rehearse bench/rehearse-rollout.lua` over fleets of growing
-- size (bench/fleet-100k.lua's shape, scaled), 14 simulated days: wall time and peak RSS of the
-- whole command (best of RUNS; the machine is shared, the best run is the least disturbed), the
-- growth from one size to the next, and a digest of the timeline (the JSON output without its
-- wall time, keys sorted), so two builds can be checked for the same answers.
-- Run: bench/rehearse-scale [RUNS [SIZES...]]   (default 3 runs; 100000 1000000)
-- Targets (issue 18): 1,000,000 devices <= 5 s and <= 400 MB; 10,000,000 <= 60 s and <= 4 GB;
-- growth 100k -> 1M <= 11x.
local sys = require("otarun.core.sys")
local cjson = require("cjson")

local bin = arg[1] or "build/otarun"
local runs = tonumber(arg[2]) or 3
local sizes = {}
for i = 3, #arg do sizes[#sizes + 1] = math.tointeger(tonumber(arg[i])) end
if #sizes == 0 then sizes = { 100000, 1000000 } end
local here = (arg[0]:match("^(.*)/[^/]*$") or ".")
local tmp = os.getenv("TMPDIR") or "/tmp"
local extra = os.getenv("BENCH_OTARUN_ARGS") or ""   -- e.g. --lua-dir DIR, to time another model

local function fleet_file(n)
  local path = string.format("%s/otarun-bench-fleet-%d.lua", tmp, n)
  local f = assert(io.open(path, "w"))
  f:write(string.format([[
fleet {
  product = "a1BenchProd",
  devices = { { version = "2.3.1", count = %d }, { version = "2.3.0", count = %d, groups = { "BenchGroup1" } } },
  failure = { ["2.3.0"] = 0.01 },
  duration = { min = "5m", max = "40m" }, online = 0.9, seed = 7,
  firmware = { { id = "fw-bench-240", version = "2.4.0", verified = true },
               { id = "fw-bench-250", version = "2.5.0", verified = true } },
}
]], n // 2, n - n // 2))
  f:close()
  return path
end

-- The output as text with its keys sorted (cjson writes them in table order, which changes from
-- run to run) and without wall_seconds.
local function canonical(v, out)
  if type(v) ~= "table" then out[#out + 1] = cjson.encode(v) return end
  if #v > 0 or next(v) == nil then
    out[#out + 1] = "["
    for i = 1, #v do if i > 1 then out[#out + 1] = "," end canonical(v[i], out) end
    out[#out + 1] = "]"
    return
  end
  local keys = {}
  for k in pairs(v) do if k ~= "wall_seconds" then keys[#keys + 1] = k end end
  table.sort(keys)
  out[#out + 1] = "{"
  for i, k in ipairs(keys) do
    out[#out + 1] = (i > 1 and "," or "") .. cjson.encode(k) .. ":"
    canonical(v[k], out)
  end
  out[#out + 1] = "}"
end

-- FNV-1a of the canonical output.
local function digest(text)
  local out = {}
  canonical(cjson.decode(text), out)
  text = table.concat(out)
  local h = 0xcbf29ce484222325
  for i = 1, #text do h = ((h ~ text:byte(i)) * 0x100000001b3) end
  return string.format("%016x", h)
end

print(string.format("%-10s %10s %10s %8s %s", "devices", "best wall", "peak RSS", "growth", "timeline digest"))
local prev
for _, n in ipairs(sizes) do
  local fleet = fleet_file(n)
  local out_path = string.format("%s/otarun-bench-out-%d.json", tmp, n)
  local rss_path = string.format("%s/otarun-bench-rss-%d.txt", tmp, n)
  local best, best_rss = math.huge, nil
  for _ = 1, runs do
    local cmd = string.format("/usr/bin/time -f %%M -o %s %s %s rehearse %s/rehearse-rollout.lua --fleet %s " ..
      "--now 2027-01-04T00:00:00+08:00 --until 14d --format json > %s", rss_path, bin, extra, here, fleet, out_path)
    local t0 = sys.monotonic()
    -- exit 1 with "did not finish by ... (--until)" is the bench's case: the last wave is still
    -- running after 14 days; the JSON timeline is written all the same
    local ok, _, code = os.execute(cmd .. " 2>/dev/null")
    assert(ok or code == 1, "rehearse failed: " .. cmd)
    local wall = sys.monotonic() - t0
    local rf = assert(io.open(rss_path))
    local rss = tonumber(rf:read("a"):match("(%d+)%s*$")) / 1024
    rf:close()
    if wall < best then best = wall end
    if not best_rss or rss < best_rss then best_rss = rss end
  end
  local f = assert(io.open(out_path))
  local text = f:read("a")
  f:close()
  print(string.format("%-10d %8.2f s %7.0f MB %8s %s", n, best, best_rss,
    prev and string.format("%.1fx", best / prev) or "", digest(text)))
  prev = best
  os.remove(fleet)
  os.remove(out_path)
  os.remove(rss_path)
end
