-- Dynamic waves over device groups: a lab group first, then the field group. Dynamic groups work
-- in cn-shanghai on instances that have an id (IotInstanceId), so the rollout names its instance.
-- `mode = "new-reports"` (DynamicMode 2) only upgrades devices that report a version after the job
-- starts; `overwrite = "replace"` (OverwriteMode 2) replaces a device's older pending task.

rollout "doorbell-5.0.2" {
  product  = "a1Bc7DoorBel",
  region   = "cn-shanghai",
  instance = "iot-cn-0pp1n8t",
  firmware = firmware { id = "Db5xxQ2mmAn8Lz0KaPq17", version = "5.0.2", verified = true },

  defaults = {
    rate      = 200,
    timeout   = "2h",
    overwrite = "replace",
    protocol  = "HTTPS",
    gate      = { soak = "12h", min_devices = 10, max_failed_ratio = 0.05 },
  },

  -- devices on the test bench: a dynamic group, so new bench devices join automatically
  wave "lab"   { group = "LabDyn01x", rate = 10, gate = { soak = "2h", min_devices = 5, max_failed = 0 } },

  -- the field, only devices that report in after the job starts
  wave "field" { group = "FieldDyn9k", mode = "new-reports", rate = 1000 },
}
