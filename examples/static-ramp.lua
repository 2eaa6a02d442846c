-- A static percentage ramp: 1% -> 10% -> 50% -> every device, as static upgrade jobs
-- (CreateOTAStaticUpgradeJob, TargetSelection GRAY then ALL). The first wave has a start time: when
-- it is 5 minutes to 7 days ahead, the platform holds the job (ScheduleTime); each wave has a
-- finish (ScheduleFinishTime) after which the platform stops pushing it. Pass another start with
-- --var start=2027-01-05T02:00:00+08:00.

local start = var("start", "2026-12-01T02:00:00+08:00")

rollout "sensor-1.8.0" {
  product  = "a1SeNs0r188",
  region   = "cn-beijing",
  firmware = firmware { id = "Sn18xxPo0qWm3RtYu7Ab", version = "1.8.0", type = "full", verified = true },

  defaults = {
    kind    = "static",
    rate    = 1000,
    retry   = { interval = 30, count = 1 },
    timeout = "12h",
    tags    = { ramp = "percent" },
    gate    = { soak = "12h", min_devices = 20, min_success = 0.97 },
  },

  -- a share of the devices on 1.7.2 (GrayPercent; SrcVersion narrows the share)
  wave "one-percent"  { percent = 1, versions = { "1.7.2" }, start = start, finish = "24h" },
  wave "ten-percent"  { percent = 10, versions = { "1.7.2" }, finish = "2d" },
  wave "half"         { percent = 50, versions = { "1.7.2" }, finish = "3d",
                        gate = { soak = "24h", min_devices = 200, min_success = 0.98 } },
  -- every device still on an older version
  wave "everyone"     { all = true, versions = { "1.7.0", "1.7.2" }, finish = "7d" },
}
