-- Version waves with a canary gate: the quick-start showcase. One rollout of camera firmware 2.4.0
-- moves through three waves chosen by source version. The canary (a static 10% of the 2.3.1
-- devices: a bounded sample, not every device that reports 2.3.1) must pass its health gate before
-- the early wave starts; the last wave waits 24 hours after that, starts only inside a night-time
-- maintenance window, and needs a human's `otarun approve`. The later dynamic wave supersedes the
-- earlier one's strategy, and the plan shows that cancellation. Gates judge sequentially at 95%
-- confidence (docs/gates.md): a healthy firmware passes, one failing 3% of upgrades halts.
--
--   otarun plan examples/version-waves.lua
--   otarun rehearse examples/version-waves.lua --fleet examples/fleets/camera.lua --runs 20

rollout "camera-2.4.0" {
  product  = "a1Le6d0abcd",                  -- ProductKey
  region   = "cn-shanghai",
  firmware = firmware { id = "nx3xxVvFdwvn6dim50PY03", version = "2.4.0", size = "12MB", verified = true },

  defaults = {
    rate    = 500,                           -- MaximumPerMinute
    retry   = { interval = 10, count = 2 },  -- RetryInterval, RetryCount
    timeout = "24h",                         -- TimeoutInMinutes = 1440
    tags    = { channel = "stable" },        -- Tag.N.Key / Tag.N.Value (plus otarun = ROLLOUT/WAVE)
    gate    = { soak = "24h", min_devices = 50, min_success = 0.98, max_failed_ratio = 0.02 },
  },

  -- 10% of the devices on the newest source version, 10 a minute, judged after 6 hours; at most
  -- 5 of them may fail (max_failed is a count of devices, whatever the wave's size)
  wave "canary" { kind = "static", percent = 10, versions = { "2.3.1" }, rate = 10, tags = { channel = "canary" },
                  gate = { soak = "6h", min_devices = 20, min_success = 0.99, max_failed = 5 } },

  -- every other 2.3.1 device, a little faster
  wave "early"  { versions = { "2.3.1" }, rate = 100 },

  -- the whole fleet, in the maintenance window, after a human says so
  wave "all"    { versions = { "2.3.0", "2.3.1" }, rate = 5000, delay = "24h", approve = true,
                  window = { days = "mon-thu", from = "01:00", to = "05:00", tz = "+08:00" } },
}
