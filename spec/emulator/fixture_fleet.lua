-- A small fleet for the emulator's HTTP specs: one product, a verified firmware, named devices.
fleet {
  product = "a1Le6d0abcd",
  devices = {
    { version = "2.3.1", count = 20 },
    { version = "2.3.1", count = 2, names = { "spec-1", "spec-2" } },
    { version = "2.3.0", count = 30, groups = { "IwOwQj7DJ" } },
  },
  failure = { ["2.3.0"] = 0.01 },
  duration = { min = "5m", max = "40m" }, online = 1, seed = 7,
  firmware = { { id = "fw-240", version = "2.4.0", verified = true } },
}
