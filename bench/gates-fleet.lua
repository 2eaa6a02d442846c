-- The fleet of bench/gates: 5,000 simulated devices of one product on 1.0.0, all online, upgrades
-- taking 5 to 40 minutes; the failure odds of 1.0.0 are set per case with --set 1.0.0=ODDS.
fleet {
  product = "a1GateBench",
  devices = { { version = "1.0.0", count = 5000 } },
  firmware = { { id = "fw-gate-bench-110", version = "1.1.0", verified = true } },
  failure = { ["1.0.0"] = 0 },
  duration = { min = "5m", max = "40m" }, online = 1, seed = 5,
}
