-- Tests of the built-in "production" (soft) and "production-freeze" (hard) policies. They apply
-- only to rollouts named prod-*, *-prod or *-production.
local function wave(name, extra)
  local w = { name = name, status = "waiting", rate = 100, timeout = 1440, retry_count = 2,
              retry_interval = 10, gate = { soak = "24h" },
              identity_tag = { key = "otarun", value = "prod-camera/" .. name } }
  for k, v in pairs(extra or {}) do w[k] = v end
  return w
end

local function good_waves()
  return { wave("canary", { status = "ready", kind = "static", percent = 1, rate = 50 }),
           wave("beta", { kind = "static", percent = 20 }),
           wave("all", { kind = "static", all = true, approve = true, gate = false }) }
end

local function rollout(name, waves)
  return { rollouts = { { name = name, product = "a1Le6d0abcd", region = "cn-shanghai", waves = waves } } }
end

case "a careful production rollout passes" {
  now = "2026-06-01T00:00:00Z",
  plan = rollout("prod-camera", good_waves()),
  expect = { ["production.min_waves"] = "pass", ["production.max_first_wave_rate"] = "pass",
             ["production.max_percent_first_wave"] = "pass", ["production.min_soak"] = "pass",
             ["production.require_approval"] = "pass", ["production.require_retry"] = "pass",
             ["production.identity-tag"] = "skip", ["production.check"] = "pass",
             ["production-freeze.freeze"] = "pass" },
  denied = false,
}

case "the production policies do not apply to other rollouts" {
  now = "2026-12-25T00:00:00Z",
  plan = rollout("camera-2.4.0", { wave("all", { status = "ready", all = true, kind = "static", rate = 9000 }) }),
  expect = { ["production.min_waves"] = "skip", ["production-freeze.freeze"] = "skip",
             ["production.check"] = "skip", ["default.min_waves"] = "fail" },
  denied = false,
}

case "a one-wave production rollout is denied" {
  now = "2026-06-01T00:00:00Z",
  plan = rollout("camera-prod", { wave("all", { status = "ready", all = true, kind = "static", rate = 9000 }) }),
  expect = { ["production.min_waves"] = "fail", ["production.max_first_wave_rate"] = "fail",
             ["production.max_percent_first_wave"] = "fail", ["production.max_rate"] = "fail",
             ["production.require_approval"] = "fail" },
  denied = true,
}

case "short soak and missing retries are denied; an override with a reason allows them" {
  now = "2026-06-01T00:00:00Z",
  plan = rollout("prod-camera", (function()
    local w = good_waves()
    w[1].gate = { soak = "1h" }
    w[2].retry_count = nil
    return w
  end)()),
  overrides = { ["production.min_soak"] = "hotfix for CVE-2026-0001",
                ["production.require_retry"] = "hotfix for CVE-2026-0001" },
  expect = { ["production.min_soak"] = "fail", ["production.require_retry"] = "fail" },
  denied = false,
}

case "a wave without the identity tag fails the custom check" {
  now = "2026-06-01T00:00:00Z",
  plan = rollout("prod-camera", (function()
    local w = good_waves()
    w[3].identity_tag = nil
    return w
  end)()),
  expect = { ["production.identity-tag"] = "fail" },
  denied = true,
}

case "no production wave starts in the year-end freeze, overridden or not" {
  now = "2026-12-10T00:00:00Z",
  plan = rollout("prod-camera", (function()
    local w = good_waves()
    w[2].earliest_start = "2026-12-24T02:00:00+08:00"
    w[3].earliest_start = "2027-01-05T02:00:00+08:00"
    return w
  end)()),
  overrides = { ["production-freeze.freeze"] = "the board said so" },
  expect = { ["production-freeze.freeze"] = "fail" },
  denied = true,
}

case "the freeze is yearly and ends on 3 January, +08:00" {
  now = "2028-01-03T16:00:00Z",
  plan = rollout("prod-camera", good_waves()),
  expect = { ["production-freeze.freeze"] = "pass" },
  denied = false,
}
