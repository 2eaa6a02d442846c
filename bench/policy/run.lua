-- bench/policy: 100 policies (built-in rule kinds and custom Lua checks) against a 1,000-wave plan.
-- Prints the time to load the policy files and to evaluate them (median of several runs); the
-- target is <= 50 ms added to `otarun plan`. Run: ./build/otarun lua bench/policy/run.lua [RUNS]
local sys = require("otarun.core.sys")
local policy = require("otarun.policy")

local RUNS = tonumber(arg and arg[1]) or 15
local ROLLOUTS, WAVES = 10, 100     -- 1,000 waves
local NATIVE, CUSTOM = 70, 30        -- 100 policies

-- compliant: waves that satisfy most rules (few findings, as in a real plan); failing: many
-- findings per wave (thousands of results), the worst case for result building.
local function plan(compliant)
  local rollouts = {}
  for r = 1, ROLLOUTS do
    local waves = {}
    for i = 1, WAVES do
      local spec = { name = "w" .. i, index = i, kind = i % 2 == 0 and "static" or "dynamic",
        versions = not compliant and i % 2 == 1 and { "2.3.1", "2.3.0" } or nil,
        percent = (compliant or i % 2 == 0) and (i == 1 and 1 or (i % 20) + 0.5) or nil,
        rate = compliant and 50 or 10 * i, timeout = 1440, retry_interval = 10, retry_count = 2,
        approve = compliant or i % 3 == 0, protocol = not compliant and i % 5 == 0 and "MQTT" or nil,
        tags = { { key = "channel", value = "stable" }, { key = "team", value = "cam" } },
        identity_tag = { key = "otarun", value = "r" .. r .. "/w" .. i },
        gate = i < WAVES and { soak = compliant and 86400 or 3600 * (i % 30), min_devices = 50, min_success = 0.98 } or nil,
        window = (compliant or i % 4 == 0) and { days = { true, true, true, true }, from = 60, to = 300, tz = 28800,
                                  text = "mon-thu 01:00-05:00 +08:00" } or nil,
        on_fail = "halt" }
      waves[i] = { name = spec.name, kind = spec.kind, status = i == 1 and "ready" or "waiting",
        action = i == 1 and "create" or "wait", reason = "after w" .. (i - 1),
        earliest_start = 1780000000 + i * (compliant and 3600 or 86400), spec = spec, line = 10 + i,
        calls = { { action = "CreateOTADynamicUpgradeJob", params = { FirmwareId = "fw" .. r, ["SrcVersion.1"] = "2.3.1" } } } }
    end
    rollouts[r] = { name = (r % 3 == 0 and "prod-" or "") .. "camera-" .. r, product = "prod" .. (r % 4),
                    region = r % 2 == 0 and "cn-shanghai" or "cn-beijing", firmware = { id = "fw" .. r, version = "2.4.0" },
                    waves = waves }
  end
  return { format_version = "1.0", now = 1780000000, mode = "offline", rollouts = rollouts,
           diagnostics = {}, summary = {} }
end

local NATIVE_RULES = {
  "max_first_wave_rate = 100", "max_rate = 800", "min_waves = 3", "require_gate = true",
  "min_soak = '12h'", "require_timeout = true", "require_retry = true", "forbid_protocol = 'MQTT'",
  "freeze = { { from = '12-20', to = '01-03', tz = '+08:00' }, { from = '2026-07-01', to = '2026-07-03' } }",
  "windows = { { days = 'mon-fri', from = '00:00', to = '06:00', tz = '+08:00' } }",
  "require_approval = { after_first = true, beyond_percent = 20 }", "max_percent_first_wave = 5",
}
local CHECKS = {
  -- reads every wave of every rollout in scope
  [[function(plan, report)
      for _, r in ipairs(plan.rollouts) do
        for _, w in ipairs(r.waves) do
          local s = w.spec
          if s.rate and s.rate > 900 and not s.approve then
            report:fail("fast-needs-approval", "too fast", { rollout = r, wave = w })
          end
        end
      end
    end]],
  -- reads tags
  [[function(plan, report)
      for _, r in ipairs(plan.rollouts) do
        for _, w in ipairs(r.waves) do
          local team
          for _, t in ipairs(w.spec.tags) do if t.key == "team" then team = t.value end end
          if not team then report:fail("team-tag", "no team tag", { rollout = r, wave = w }) end
        end
      end
    end]],
  -- rollout-level only
  [[function(plan, report)
      for _, r in ipairs(plan.rollouts) do
        if #r.waves > 50 then report:fail("too-many-waves", #r.waves .. " waves", { rollout = r }) end
      end
    end]],
}

local function write_policies(dir)
  local levels = { "advisory", "soft", "hard" }
  local scopes = { "", "applies = { rollouts = { 'prod-*' } },", "applies = { products = { 'prod1', 'prod2' } },",
                   "applies = { regions = { 'cn-shanghai' } }," }
  for i = 1, NATIVE + CUSTOM do
    local parts = {}
    if i <= NATIVE then
      local rules = {}
      for k = 0, 2 do rules[#rules + 1] = NATIVE_RULES[(i + k * 5) % #NATIVE_RULES + 1] end
      parts[#parts + 1] = "rules = { " .. table.concat(rules, ", ") .. " },"
    else
      parts[#parts + 1] = "check = " .. CHECKS[i % #CHECKS + 1] .. ","
    end
    local fh = assert(io.open(string.format("%s/p%03d.lua", dir, i), "w"))
    fh:write(string.format("policy \"p%03d\" {\n  level = %q,\n  %s\n  %s\n}\n", i, levels[i % 3 + 1],
      scopes[i % #scopes + 1], table.concat(parts, "\n  ")))
    fh:close()
  end
end

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
write_policies(dir)

local function measure(compliant)
  local loads, evals, evals_loaded = {}, {}, {}
  local nresults, nfailed, ndenials
  for _ = 1, RUNS do
    local p = plan(compliant)
    collectgarbage()
    local t0 = sys.monotonic()
    local policies, errors = policy.load({ dirs = { dir }, local_dir = false })
    assert(#errors == 0, errors[1] and errors[1].message)
    local t1 = sys.monotonic()
    local results, _, denials = policy.evaluate(p, { policies = policies, now = p.now })
    local t2 = sys.monotonic()
    p = plan(compliant)
    collectgarbage()
    local t3 = sys.monotonic()
    policy.evaluate(p, { dirs = { dir }, local_dir = false })
    local t4 = sys.monotonic()
    loads[#loads + 1], evals[#evals + 1] = (t1 - t0) * 1000, (t2 - t1) * 1000
    evals_loaded[#evals_loaded + 1] = (t4 - t3) * 1000
    nfailed = 0
    for _, r in ipairs(results) do if not r.passed then nfailed = nfailed + 1 end end
    nresults, ndenials = #results, #denials
  end
  print(string.format("%s plan: %d results, %d failed, %d denying rules, %d runs",
    compliant and "compliant" or "failing", nresults, nfailed, ndenials, RUNS))
  print(string.format("  load policy files      median %7.2f ms", median(loads)))
  print(string.format("  evaluate (loaded)      median %7.2f ms", median(evals)))
  print(string.format("  load + evaluate        median %7.2f ms   (target <= 50 ms added to plan)", median(evals_loaded)))
end

print(string.format("policies: %d (%d built-in kinds, %d custom checks) + the built-in set; plan: %d rollouts x %d waves",
  NATIVE + CUSTOM, NATIVE, CUSTOM, ROLLOUTS, WAVES))
measure(true)
measure(false)
os.execute("rm -rf '" .. dir .. "'")
