-- A simulated camera fleet for `otarun rehearse` and `otarun emulator`: 100,000 devices of product
-- a1CamRehearse: a canary group of 500 on 2.3.1, 19,500 more on 2.3.1 and 80,000 on 2.3.0; 95%
-- online, upgrades taking 5 to 40 minutes, a small natural failure rate (override it with
-- `otarun rehearse --set VERSION=ODDS`).
fleet {
  product = "a1CamRehearse",
  groups = { { id = "CamCanary", type = "dynamic", name = "canary cameras" } },
  devices = { { version = "2.3.1", count = 500, prefix = "cam-canary", groups = { "CamCanary" } },
              { version = "2.3.1", count = 19500, prefix = "cam-a" },
              { version = "2.3.0", count = 80000, prefix = "cam-b" } },
  failure = { ["2.3.1"] = 0.005, ["2.3.0"] = 0.005 },
  duration = { min = "5m", max = "40m" },
  online = 0.95, seed = 11,
}
