-- A simulated fleet for the emulator and rehearsals: the camera product of
-- examples/version-waves.lua, with its firmware already uploaded and verified, 10,000 devices on two
-- source versions (the 2.3.0 ones also in a device group), a few flaky upgrades, and 90% online.
--
--   otarun emulator --listen 127.0.0.1:8780 --fleet examples/fleets/camera.lua --key LTAItest:testsecret

fleet {
  product = "a1Le6d0abcd",
  devices = { { version = "2.3.1", count = 2000 },
              { version = "2.3.0", count = 8000, groups = { "IwOwQj7DJ" } } },
  groups = { { id = "IwOwQj7DJ", type = "dynamic", name = "cameras-eu" } },
  firmware = { { id = "nx3xxVvFdwvn6dim50PY03", version = "2.4.0", verified = true, size = "12MB" } },
  failure = { ["2.3.0"] = 0.01, ["2.3.1"] = 0.005 },
  duration = { min = "5m", max = "40m" }, online = 0.9, seed = 7,
}
