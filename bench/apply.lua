-- bench/apply.lua: plan and apply at the platform's documented quotas. N one-wave dynamic rollouts
-- (each its own firmware) against `otarun emulator` with its default per-account QPS limits:
-- `otarun plan --out` (the refresh: QueryOTAFirmware at 20/s and ListOTAJobByFirmware at 10/s per
-- rollout, so N/10 s is the floor) and `otarun apply PLAN` (one CreateOTADynamicUpgradeJob per
-- wave at 20/s: N/20 s), both timed as whole processes; the emulator's counters give the API calls
-- per wave and the throttled answers (target 0). Run: bench/apply [N] (OTARUN_BIN set).
local here = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = here .. "/../spec/?.lua;" .. package.path
local ah = require("apply_helpers")
local sys = require("otarun.core.sys")

local n = tonumber(arg[1]) or 200
local dir = ah.tmpdir()
local server = ah.start(dir, n)
local db, plan = dir .. "/state.db", dir .. "/plan.json"
local script = ah.rollouts(dir .. "/cams.lua", n)

local function timed(argv)
  local t0 = sys.monotonic()
  local code, out, err = ah.otarun(server, db, argv)
  local secs = sys.monotonic() - t0
  assert(code == 0, table.concat(argv, " ") .. " exited " .. code .. ":\n" .. out:sub(-2000) .. err:sub(-2000))
  local c = ah.admin(server, "GET", "counters")
  ah.admin(server, "POST", "counters/reset")
  return secs, c, out
end

local function per_wave(c)
  local names = {}
  for action in pairs(c.requests.by_action or {}) do names[#names + 1] = action end
  table.sort(names)
  local parts = {}
  for _, a in ipairs(names) do parts[#parts + 1] = string.format("%s %.2f", a, c.requests.by_action[a] / n) end
  return table.concat(parts, ", ")
end

ah.admin(server, "POST", "counters/reset")
local plan_s, plan_c = timed({ "plan", script, "--out", plan })
local apply_s, apply_c, out = timed({ "apply", plan })
local again_s, again_c = timed({ "apply", script, "--auto-approve" })
local audit = ah.audit_jobs(server, db, n)
server.stop()
ah.rm_rf(dir)

local plan_floor, apply_floor = n / 10, n / 20
io.stdout:write(string.format([[
bench/apply: %d one-wave dynamic rollouts, emulator at the documented quotas
plan --out (refresh)  %6.2f s  floor %5.1f s (ListOTAJobByFirmware 10/s)  %+5.1f%%  throttled %d
  calls per wave: %s
apply PLAN            %6.2f s  floor %5.1f s (CreateOTADynamicUpgradeJob 20/s)  %+5.1f%%  throttled %d
  calls per wave: %s
apply FILE again      %6.2f s  (live refresh, nothing to do)  throttled %d
  calls per wave: %s
jobs: %d, duplicates %d, missing %d, unknown to the store %d
%s
]], n, plan_s, plan_floor, (plan_s / plan_floor - 1) * 100, plan_c.throttled.total, per_wave(plan_c),
  apply_s, apply_floor, (apply_s / apply_floor - 1) * 100, apply_c.throttled.total, per_wave(apply_c),
  again_s, again_c.throttled.total, per_wave(again_c),
  audit.total, audit.duplicates, audit.missing, audit.lost, out:match("Apply complete: [^\n]*") or ""))
local ok = plan_s <= plan_floor * 1.05 and apply_s <= apply_floor * 1.05 and plan_c.throttled.total == 0
  and apply_c.throttled.total == 0 and audit.total == n and audit.duplicates == 0
io.stdout:write(ok and "targets met (within 5%, zero throttled)\n" or "targets NOT met\n")
os.exit(ok and 0 or 1)
