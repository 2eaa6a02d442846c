-- The rollout of bench/gates: a canary of 20% of the 5,000 devices (a static, bounded sample of
-- 1,000) behind the gate under test, then everyone else. The gate comes from --var: mode
-- (sequential|literal), field (min_success|max_failed_ratio), limit, min_devices, soak.
local gate = { soak = var("soak", "6h"), min_devices = tonumber(var("min_devices", "20")), mode = var("mode", "sequential") }
gate[var("field", "min_success")] = tonumber(var("limit", "0.99"))

rollout "gate-bench" {
  product  = "a1GateBench",
  region   = "cn-shanghai",
  firmware = firmware { id = "fw-gate-bench-110", version = "1.1.0", verified = true },
  wave "canary" { kind = "static", percent = 20, versions = { "1.0.0" }, rate = 100, gate = gate },
  wave "rest"   { versions = { "1.0.0" }, rate = 500 },
}
