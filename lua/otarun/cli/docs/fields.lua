-- What each field of the rollout language means, for the generated reference (docs/rollout.md),
-- the LuaLS definitions and the man page. The list of fields itself is the validator's
-- (otarun.core.validate.fields()); this file only describes them. A field the validator accepts
-- without an entry here fails spec/docs_spec.lua, and so does an entry the validator does not
-- know. Each entry: type (LuaLS spelling), unit, default, allowed, param (the API parameter),
-- text, and example: a wave body (or rollout fields) that validates on its own.
local M = {}

M.rollout = {
  product = { type = "string", param = "ProductKey", default = "required",
    text = "The product whose devices the rollout upgrades.", example = 'product = "a1Le6d0abcd"' },
  region = { type = "string", param = "region (endpoint iot.REGION.aliyuncs.com)",
    default = "--region, the profile's region, then ALIBABA_CLOUD_REGION_ID",
    text = "The region of the IoT Platform instance.", example = 'region = "cn-shanghai"' },
  instance = { type = "string", param = "IotInstanceId", default = "none (the public instance)",
    text = "The IoT Platform instance id, when the instance has one.", example = 'instance = "iot-cn-0pp1n8t"' },
  identity = { type = "boolean", param = "Tag otarun=ROLLOUT/WAVE", default = "true",
    text = "Tag every job otarun creates with otarun=ROLLOUT/WAVE so an interrupted apply finds it "
      .. "again (the tag counts towards the 10-tag limit). false turns it off.",
    example = "identity = false" },
  firmware = { type = "string|otarun.Firmware", param = "FirmwareId", default = "required",
    text = "The firmware package: a FirmwareId string, or firmware { id = ..., ... } whose facts feed "
      .. "the offline checks (the platform's facts win when it is reachable).",
    example = 'firmware = firmware { id = "nx3xxVvFdwvn6dim50PY03", version = "2.4.0", size = "12MB" }' },
  defaults = { type = "otarun.WaveFields", param = "(any wave field)", default = "{}",
    text = "Wave fields every wave inherits unless it sets them itself. A wave that names a target "
      .. "of its own takes no target from defaults; tags merge key by key.",
    example = "defaults = { rate = 500, timeout = \"24h\", retry = { interval = 10, count = 2 } }" },
  notify = { type = "otarun.Notify|otarun.Notify[]", param = "— (otarun sends webhooks)", default = "none",
    text = "Where the rollout's events go: one target or a list of { url = or url_env =, format = "
      .. "\"json\"|\"dingtalk\"|\"slack\", secret_env =, on = { events } } (docs/notifications.md). "
      .. "Secrets and tokens come from environment variables, never from the script.",
    example = 'notify = { url = "https://hooks.example.com/otarun", secret_env = "OTARUN_HOOK_SECRET", on = { "halt", "approval" } }' },
}

M.firmware = {
  id = { type = "string", param = "FirmwareId", default = "required", text = "The FirmwareId.",
    example = 'id = "nx3xxVvFdwvn6dim50PY03"' },
  version = { type = "string", param = "DestVersion", default = "the platform's",
    text = "The version the package installs.", example = 'version = "2.4.0"' },
  type = { type = '"full"|"diff"', allowed = { "full", "diff" }, param = "Type (0 full, 1 diff)",
    default = '"full"', text = "A differential package only upgrades from src_version.", example = 'type = "full"' },
  src_version = { type = "string", param = "SrcVersion", default = "none",
    text = "The version a differential package upgrades from; its waves must target exactly it.",
    example = 'src_version = "2.3.1"' },
  size = { type = "integer|string", unit = "bytes, or \"12MB\"", param = "FileSize", default = "unknown",
    text = "The package size (MQTT downloads take at most 16 MB).", example = 'size = "12MB"' },
  files = { type = "integer|string[]", param = "number of files", default = "1",
    text = "How many files the package holds (MQTT takes one).", example = "files = 1" },
  verified = { type = "boolean", param = "VerifyProgress/Status", default = "unknown",
    text = "Whether the package passed its verification job; false is an error unless verify = false.",
    example = "verified = true" },
  verify = { type = "boolean", param = "NeedToVerify", default = "true",
    text = "false when the package was created without verification (then it needs none).",
    example = "verify = false" },
}

local V = 'versions = { "2.3.1" }, '
M.wave = {
  kind = { type = '"dynamic"|"static"', allowed = { "dynamic", "static" }, default = '"dynamic"',
    param = "CreateOTADynamicUpgradeJob / CreateOTAStaticUpgradeJob",
    text = "A dynamic wave keeps upgrading devices that match later; a static one targets the devices "
      .. "that match when its job is created.", example = 'kind = "static", all = true' },
  versions = { type = "string[]", unit = "1 to 10 unique versions", default = "none",
    text = "Source versions to upgrade from (dynamic target, or a filter of a static percent/all wave).",
    example = 'versions = { "2.3.0", "2.3.1" }' },
  group = { type = "string", default = "none", param = "GroupId, GroupType",
    text = "A device group id: a dynamic group for dynamic waves (cn-shanghai only), a static group "
      .. "for static waves.", example = 'group = "IwOwQj7DJ"' },
  devices = { type = "string[]", unit = "1 to 200 unique names", default = "none",
    param = "TargetSelection=SPECIFIC, TargetDeviceName.N", text = "Static only: the devices by name.",
    example = 'kind = "static", devices = { "cam-0001", "cam-0002" }' },
  percent = { type = "number|string", unit = "percent, (0, 100], at most 3 decimals", default = "none",
    param = "TargetSelection=GRAY, GrayPercent", text = "Static only: a share of the matching devices.",
    example = 'kind = "static", percent = 12.5' },
  all = { type = "boolean", default = "false", param = "TargetSelection=ALL",
    text = "Static only: every device of the product (narrowed by versions when given).",
    example = 'kind = "static", all = true' },
  rate = { type = "integer", unit = "devices per minute, 10 to 10000", default = "10000 (the platform's)",
    text = "How many devices are notified per minute.", example = V .. "rate = 500" },
  retry = { type = "otarun.Retry", default = "no retries", param = "RetryInterval, RetryCount",
    text = "Automatic retries of failed upgrades (see retry fields).",
    example = V .. "retry = { interval = 10, count = 2 }" },
  timeout = { type = "integer|string", unit = "minutes 1 to 1440, or a whole-minute duration (\"24h\")",
    default = "none (no timeout)", text = "How long one device's upgrade may take.",
    example = V .. 'timeout = "24h"' },
  overwrite = { type = '"keep"|"replace"', allowed = { "keep", "replace" }, default = '"keep"',
    param = "OverwriteMode (1 keep, 2 replace)",
    text = "Whether a device's pending task of another job is replaced; replace excludes multi_module.",
    example = V .. 'overwrite = "replace"' },
  mode = { type = '"continuous"|"new-reports"', allowed = { "continuous", "new-reports" },
    default = '"continuous"', param = "DynamicMode (1, 2)",
    text = "Dynamic only: keep upgrading every matching device, or only devices that report a "
      .. "matching version from now on.", example = V .. 'mode = "new-reports"' },
  push = { type = "boolean", default = "true", text = "Push the task to online devices (false: devices poll).",
    example = V .. "push = false" },
  confirm = { type = "boolean", default = "false",
    text = "Each device's upgrade waits for a confirmation (ConfirmOTATask).", example = V .. "confirm = true" },
  multi_module = { type = "boolean", default = "false", text = "The device upgrades several modules at once.",
    example = V .. "multi_module = true" },
  protocol = { type = '"HTTPS"|"MQTT"', allowed = { "HTTPS", "MQTT" }, default = '"HTTPS"',
    text = "How devices download the package; MQTT only in cn-shanghai, cn-beijing, cn-shenzhen, "
      .. "for one file of at most 16 MB.", example = V .. 'protocol = "HTTPS"' },
  tags = { type = "table<string, string>", unit = "at most 10 tags, 4096 characters in all",
    default = "{}", param = "Tag.N.Key, Tag.N.Value (in key order)",
    text = "Job tags: keys of 1 to 30 characters of A-Z, a-z, 0-9 and '.', values of 1 to 1024.",
    example = V .. 'tags = { channel = "stable" }' },
  finish = { type = "string", unit = "RFC 3339 time, or a duration after the start (1h to 30d)",
    default = "none", text = "Static only: when the job stops.",
    example = 'kind = "static", all = true, finish = "2d"' },
  after = { type = "string", default = "the previous wave", param = "— (otarun schedules it)",
    text = "The earlier wave whose gate must pass before this wave starts.",
    example = V .. 'after = "canary"', context = "canary" },
  start = { type = "string", unit = "RFC 3339 time", default = "none", param = "ScheduleTime (static, 5 min to 7 days ahead)",
    text = "Not before this time.", example = V .. 'start = "2026-12-01T02:00:00+08:00"' },
  delay = { type = "string", unit = "duration", default = "none", param = "— (otarun schedules it)",
    text = "Wait this long after the gate of `after` passed.", example = V .. 'delay = "48h"' },
  window = { type = "otarun.Window", default = "any time", param = "— (otarun schedules it)",
    text = "Start only inside this weekly window (see window fields).",
    example = V .. 'window = { days = "mon-thu", from = "01:00", to = "05:00", tz = "+08:00" }' },
  approve = { type = "boolean", default = "false", param = "— (otarun schedules it)",
    text = "Wait for `otarun approve FILE WAVE` before starting.", example = V .. "approve = true" },
  gate = { type = "otarun.Gate", default = "none (the next wave does not wait for a reading)", param = "— (otarun schedules it)",
    text = "What must hold before the next wave starts (see gate fields).",
    example = V .. 'gate = { soak = "6h", min_devices = 20, max_failed_ratio = 0.02 }' },
  on_fail = { type = '"halt"|"abort"', allowed = { "halt", "abort" }, default = '"halt"', param = "— (otarun schedules it)",
    text = "When the gate trips: halt cancels the wave's dynamic strategy; abort also cancels its "
      .. "pending tasks (CancelOTATaskByJob).", example = V .. 'on_fail = "abort"' },
}

M.retry = {
  interval = { type = "integer", unit = "minutes", allowed = { 0, 10, 30, 60, 1440 }, param = "RetryInterval",
    default = "none", text = "Minutes between attempts; needs count, and must be below timeout.",
    example = V .. "retry = { interval = 10, count = 2 }" },
  count = { type = "integer", allowed = { 1, 2, 5 }, param = "RetryCount", default = "none",
    text = "How many times a failed upgrade is retried.", example = V .. "retry = { interval = 30, count = 5 }" },
}

M.gate = {
  soak = { type = "string", unit = "duration", default = "0", text = "Time since the job started.",
    example = V .. 'gate = { soak = "24h" }' },
  min_devices = { type = "integer", unit = "devices, >= 0", default = "0",
    text = "Devices that must have finished (succeeded or failed) before judging ratios.",
    example = V .. "gate = { min_devices = 50 }" },
  min_success = { type = "number", unit = "ratio 0 to 1", default = "none",
    text = "Succeeded / finished must be at least this (0.98 is 98%).", example = V .. "gate = { min_success = 0.98 }" },
  max_failed = { type = "integer", unit = "devices, >= 0", default = "none",
    text = "The gate trips when more devices failed.", example = V .. "gate = { max_failed = 2 }" },
  max_failed_ratio = { type = "number", unit = "ratio 0 to 1", default = "none",
    text = "The gate trips when failed / finished is above this, once min_devices finished.",
    example = V .. "gate = { max_failed_ratio = 0.02 }" },
  check = { type = "fun(counts: otarun.GateCounts): (\"pass\"|\"wait\"|\"fail\"), string?", default = "none",
    text = "A function given the wave's device counts that returns \"pass\", \"wait\" or \"fail\" and a reason.",
    example = V .. 'gate = { check = function(c) return c.failed == 0 and "pass" or "fail", "failures" end }' },
}

M.window = {
  days = { type = "string|string[]", allowed = { "mon-thu", "mon,wed,fri", "daily", '{ "sat", "sun" }' },
    default = '"daily"', text = "Days the window opens on.", example = V .. 'window = { days = "sat,sun" }' },
  from = { type = "string", unit = "HH:MM", default = "00:00 (with to)", text = "Opening time; to at or before from crosses midnight.",
    example = V .. 'window = { from = "22:00", to = "04:00" }' },
  to = { type = "string", unit = "HH:MM", default = "24:00 (with from)", text = "Closing time.",
    example = V .. 'window = { from = "01:00", to = "05:00" }' },
  tz = { type = "string", unit = "an IANA zone (\"Europe/Berlin\", \"Asia/Shanghai\") or an offset (\"+08:00\", \"Z\", \"UTC\")",
    default = "UTC (with the warning window-no-tz)",
    text = "The zone the window's times are read in, daylight saving included (docs/windows.md).",
    example = V .. 'window = { from = "01:00", to = "05:00", tz = "Europe/Berlin" }' },
}

-- The order the tables are documented in, with their headings.
M.TABLES = {
  { "rollout", "Rollout fields", 'rollout "NAME" { ... }: the rollout\'s own fields; the waves are the array part, in order.' },
  { "firmware", "Firmware fields", "firmware { ... }: facts of the package for the offline checks." },
  { "wave", "Wave fields", 'wave "NAME" { ... }, also valid in defaults = { ... }.' },
  { "retry", "Retry fields", "retry = { ... } of a wave." },
  { "gate", "Gate fields", "gate = { ... } of a wave: when the next wave may start, and when the rollout halts." },
  { "window", "Window fields", "window = { ... } of a wave: when the wave may start." },
}

return M
