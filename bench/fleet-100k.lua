-- The benchmark fleet: 100,000 simulated devices on one product, a verified firmware to roll out.
fleet {
  product = "a1BenchProd",
  devices = { { version = "2.3.1", count = 50000 }, { version = "2.3.0", count = 50000, groups = { "BenchGroup1" } } },
  failure = { ["2.3.0"] = 0.01 },
  duration = { min = "5m", max = "40m" }, online = 0.9, seed = 7,
  firmware = { { id = "fw-bench-240", version = "2.4.0", verified = true },
               { id = "fw-bench-250", version = "2.5.0", verified = true } },
}
