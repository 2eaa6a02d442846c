-- The conformance fleet: one product, a verified firmware, named devices for verification jobs,
-- 250 more for a device list file.
fleet {
  product = "a1Le6d0abcd",
  devices = {
    { version = "2.3.1", count = 20 },
    { version = "2.3.1", count = 4, names = { "conf-1", "conf-2", "conf-3", "conf-4" } },
    { version = "2.3.0", count = 30, groups = { "IwOwQj7DJ" } },
    { version = "2.3.1", count = 250, prefix = "list" },   -- device list files (DnListFileUrl)
  },
  failure = { ["2.3.0"] = 0.01 },
  duration = { min = "5m", max = "40m" }, online = 1, seed = 7,
  firmware = { { id = "fw-240", version = "2.4.0", verified = true } },
}
