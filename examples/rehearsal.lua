-- A rollout to rehearse before it runs for real: three dynamic waves of camera firmware 2.4.0 over
-- 100,000 simulated devices. The canary group (500 cameras) must show 200 finished devices and
-- 98% success after 6 hours; "early" (every other 2.3.1 camera) follows 12 hours after the canary
-- passed; "all" waits for its gate and a night-time window in Shanghai. Rehearse it in seconds:
--
--   otarun rehearse examples/rehearsal.lua --fleet examples/fleets/cameras-100k.lua --svg rehearsal.svg
--   otarun rehearse examples/rehearsal.lua --fleet examples/fleets/cameras-100k.lua --set 2.3.1=0.5
--   otarun rehearse examples/rehearsal.lua --fleet examples/fleets/cameras-100k.lua --runs 20
--
-- The second run makes every other 2.3.1 upgrade attempt fail (one device in eight after its two
-- retries): the canary's gate trips, the rollout halts before "early" starts, and (on_fail =
-- "abort") the canary's pending tasks are cancelled. The third says how often the healthy rollout
-- halts across 20 fleet seeds (never: docs/rehearse.md).

rollout "camera-2.4.0" {
  product  = "a1CamRehearse",
  region   = "cn-shanghai",
  firmware = firmware { id = "fwCam240Rehearsal01", version = "2.4.0", size = "12MB", verified = true },

  defaults = {
    retry   = { interval = 10, count = 2 },
    timeout = "6h",
    gate    = { soak = "6h", min_devices = 200, min_success = 0.98, max_failed_ratio = 0.02 },
  },

  wave "canary" { group = "CamCanary", rate = 20, on_fail = "abort" },
  wave "early"  { versions = { "2.3.1" }, rate = 500, delay = "12h",
                  gate = { soak = "24h", min_devices = 2000, max_failed_ratio = 0.02 } },
  wave "all"    { versions = { "2.3.0", "2.3.1" }, rate = 2000,
                  window = { days = "mon-fri", from = "01:00", to = "05:00", tz = "+08:00" },
                  gate = { soak = "12h", min_devices = 5000, max_failed_ratio = 0.02 } },
}
