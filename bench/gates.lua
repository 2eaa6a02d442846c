-- bench/gates.lua: how often a canary gate halts a healthy firmware (false halts) and catches a bad
-- one before the next wave starts, under the sequential judgement (the default) and today's
-- literal rule, by `otarun rehearse --runs N` of bench/gates-rollout.lua (a 1,000-device static
-- canary of 5,000 devices, bench/gates-fleet.lua). For each threshold: the true failure rate at
-- half the threshold (a healthy firmware) and at three times it (a bad one).
-- Run: bench/gates [RUNS], or otarun lua bench/gates.lua BIN [RUNS]
local cjson = require("cjson")

local bin = arg[1] or "build/otarun"
local runs = tonumber(arg[2]) or 100
local here = (arg[0]:match("^(.*)/[^/]*$") or ".")

local CASES = {
  { field = "min_success", limit = 0.99, good = 0.005, bad = 0.03 },
  { field = "min_success", limit = 0.98, good = 0.01, bad = 0.06 },
  { field = "max_failed_ratio", limit = 0.05, good = 0.025, bad = 0.15 },
  { field = "min_success", limit = 0.999, good = 0.0005, bad = 0.003 },
}

local function rehearse(c, mode, odds)
  local cmd = string.format("%s rehearse %s/gates-rollout.lua --fleet %s/gates-fleet.lua --now 2027-01-04T09:00:00+08:00 "
    .. "--runs %d --set 1.0.0=%s --var mode=%s --var field=%s --var limit=%s --format json 2>/dev/null", bin, here, here, runs,
    odds, mode, c.field, c.limit)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  local doc = cjson.decode(out)
  local r = doc.rollouts[1]
  local canary = 0
  for _, a in ipairs(r.halted_at) do if a.wave == "canary" then canary = a.runs end end
  return r, canary, doc.wall_seconds
end

local function pct(x) return string.format("%.0f%%", x * 100) end
local function ci(r) return string.format("%s–%s", pct(r.ci95[1]), pct(r.ci95[2])) end

print(string.format("%d runs per cell; canary = 1,000 of 5,000 devices, min_devices = 20, soak 6h, gate read every 10 minutes", runs))
print("| gate | mode | false halts (true rate = half) | halted in the canary (true rate = 3x) | failed devices at the halt, median (min–max) |")
print("|---|---|---:|---:|---:|")
local wall = 0
for _, c in ipairs(CASES) do
  for _, mode in ipairs({ "sequential", "literal" }) do
    local g, _, w1 = rehearse(c, mode, c.good)
    local b, canary, w2 = rehearse(c, mode, c.bad)
    wall = wall + w1 + w2
    local f = b.failed_at_halt
    print(string.format("| %s = %s (true %s / %s) | %s | %d/%d = %s (95%% CI %s) | %d/%d = %s (95%% CI %s) | %s |",
      c.field, c.limit, tostring(c.good * 100) .. "%", tostring(c.bad * 100) .. "%", mode, g.halted, g.runs,
      pct(g.halted_share), ci(g), canary, b.runs, pct(canary / b.runs), ci({ ci95 = { require("otarun.run.rehearsal_runs").wilson(canary, b.runs) } }),
      f and string.format("%d (%d–%d)", f.median, f.min, f.max) or "-"))
  end
end
print(string.format("rehearsal wall time %.1f s", wall))
