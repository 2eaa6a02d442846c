-- Tests of the built-in "default" policy: advisory findings warn and never deny.
local function gated(name, extra)
  local w = { name = name, status = "waiting", rate = 100, timeout = 1440, gate = { soak = "24h" } }
  for k, v in pairs(extra or {}) do w[k] = v end
  return w
end

case "a staged, gated rollout passes every default rule" {
  now = "2026-06-01T00:00:00Z",
  plan = { rollouts = { { name = "camera-2.4.0", product = "a1Le6d0abcd", region = "cn-shanghai",
    waves = { gated("canary", { status = "ready", rate = 10 }), gated("all", { gate = false }) } } } },
  expect = { ["default.min_waves"] = "pass", ["default.require_gate"] = "pass",
             ["default.require_timeout"] = "pass", ["default.max_first_wave_rate"] = "pass" },
  denied = false,
}

case "a single ungated wave at full speed warns but is not denied" {
  now = "2026-06-01T00:00:00Z",
  plan = { rollouts = { { name = "camera-2.4.0", product = "a1Le6d0abcd", region = "cn-shanghai",
    waves = { { name = "everyone", status = "ready", rate = 5000 } } } } },
  expect = { ["default.min_waves"] = "fail", ["default.require_timeout"] = "fail",
             ["default.max_first_wave_rate"] = "fail",
             ["default.require_gate"] = "pass" },    -- the last wave needs no gate
  denied = false,
}

case "a wave without a gate before the next one warns" {
  now = "2026-06-01T00:00:00Z",
  plan = { rollouts = { { name = "camera-2.4.0", product = "a1Le6d0abcd", region = "cn-shanghai",
    waves = { gated("canary", { gate = false }), gated("all") } } } },
  expect = { ["default.require_gate"] = "fail", ["production.min_waves"] = "skip" },
  denied = false,
}
