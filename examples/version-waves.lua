-- Version waves with a canary gate: the quick-start showcase. One dynamic rollout of camera firmware
-- 2.4.0 moves through three waves chosen by source version. The canary (10 devices a minute) must
-- pass its health gate before the early wave starts; the last wave waits 24 hours after that, starts
-- only inside a night-time maintenance window, and needs a human's `otarun approve`. Each dynamic
-- wave supersedes the previous one's strategy, and the plan shows that cancellation.
--
--   otarun plan examples/version-waves.lua

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

  -- 10 devices a minute from the newest source version, judged strictly after 6 hours
  wave "canary" { versions = { "2.3.1" }, rate = 10, tags = { channel = "canary" },
                  gate = { soak = "6h", min_devices = 20, min_success = 0.99, max_failed = 2 } },

  -- every 2.3.1 device, a little faster
  wave "early"  { versions = { "2.3.1" }, rate = 100 },

  -- the whole fleet, in the maintenance window, after a human says so
  wave "all"    { versions = { "2.3.0", "2.3.1" }, rate = 5000, delay = "24h", approve = true,
                  window = { days = "mon-thu", from = "01:00", to = "05:00", tz = "+08:00" } },
}
