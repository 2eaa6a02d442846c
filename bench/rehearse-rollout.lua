-- The rollout bench/rehearse drives over bench/fleet-100k.lua: four waves over 14 simulated days.
-- A static 1% canary of the 2.3.1 devices, then every 2.3.1 device three days after the canary
-- passed, then the 2.3.0 group in a weekday night window, then a sweep of everything left after
-- an approval (given in advance by rehearse) and a five-day delay; each wave has a 24-hour soak.
rollout "bench-2.4.0" {
  product  = "a1BenchProd",
  region   = "cn-shanghai",
  firmware = firmware { id = "fw-bench-240", version = "2.4.0", verified = true },
  defaults = {
    retry = { interval = 10, count = 2 },
    gate  = { soak = "24h", min_devices = 200, min_success = 0.97, max_failed_ratio = 0.03 },
  },
  wave "canary" { kind = "static", percent = 1, versions = { "2.3.1" }, rate = 100 },
  wave "early"  { versions = { "2.3.1" }, rate = 500, delay = "3d",
                  gate = { soak = "24h", min_devices = 5000, max_failed_ratio = 0.03 } },
  wave "group"  { group = "BenchGroup1", rate = 1000,
                  window = { days = "mon-fri", from = "01:00", to = "05:00", tz = "+08:00" } },
  wave "rest"   { versions = { "2.3.0", "2.3.1" }, rate = 2000, delay = "5d", approve = true,
                  gate = { soak = "24h" } },
}
