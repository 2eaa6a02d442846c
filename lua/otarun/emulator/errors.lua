-- The emulator's error vocabulary: business errors (HTTP 200, `Success = false`, `Code`,
-- `ErrorMessage`) and gateway-style errors (HTTP 4xx, `Code`, `Message`).
-- Operations raise them with errors.fail(...) and otarun.emulator catches them in call().
--
-- No documentation checked gives an iot.ota.* code: codes marked CHOSEN below are names picked for
-- the emulator, listed with the sources checked in docs/platform-assumptions.md ("Error codes");
-- the others are documented.
local M = {}

local ApiError = {}
ApiError.__index = ApiError
ApiError.__tostring = function(e) return e.code .. ": " .. e.message end
M.ApiError = ApiError

M.CODES = {
  -- the platform's documented codes
  system            = "iot.system.SystemException",
  illegal_request   = "iot.system.IllegalRequest",
  instance          = "iot.system.InstanceNotFound",
  page              = "iot.common.InvalidPageParams",
  format            = "iot.common.InvalidFormattedParameter",
  not_less          = "iot.check.ParameterIsNotLessThanMax",
  product           = "iot.prod.NotExistedProduct",
  device            = "iot.device.NotExistedDevice",
  -- CHOSEN: no code in the reference
  group             = "iot.group.NotExistedGroup",
  group_type        = "iot.ota.InvalidGroupType",
  firmware          = "iot.ota.FirmwareNotExist",
  firmware_product  = "iot.ota.FirmwareProductMismatch",
  firmware_name     = "iot.ota.FirmwareNameExisted",
  firmware_quota    = "iot.ota.FirmwareCountExceeded",
  not_verified      = "iot.ota.FirmwareNotVerified",
  verify_conflict   = "iot.ota.FirmwareVerifyStatusConflict",
  job               = "iot.ota.JobNotExist",
  task              = "iot.ota.TaskNotExist",
  dynamic_exists    = "iot.ota.DynamicJobAlreadyExisted",
  not_dynamic       = "iot.ota.NotDynamicJob",
  job_status        = "iot.ota.JobStatusNotSupport",
  task_status       = "iot.ota.TaskStatusNotSupport",
  device_busy       = "iot.ota.DeviceHasUnfinishedTask",
  mqtt_region       = "iot.ota.MqttNotSupportedInRegion",
  mqtt_package      = "iot.ota.MqttPackageNotSupported",
  dyn_group_region  = "iot.ota.DynamicGroupNotSupportedInRegion",
  overwrite_multi   = "iot.ota.OverwriteModeConflictsMultiModule",
  group_mode        = "iot.ota.GroupJobModeInconsistent",
  src_version_diff  = "iot.ota.SrcVersionMismatchDiffPackage",
  no_cancel_kind    = "iot.ota.NoCancelTaskTypeSpecified",
  schedule          = "iot.ota.InvalidScheduleTime",
  dn_list           = "iot.ota.InvalidDnListFile",
}

local function raise(e) error(setmetatable(e, ApiError), 0) end

-- A business error: HTTP 200 with Success = false. kind is a key of M.CODES.
function M.fail(kind, message)
  local code = M.CODES[kind] or kind
  raise({ status = 200, code = code, message = message, business = true })
end

function M.check(cond, kind, message)
  if not cond then M.fail(kind, message) end
  return cond
end

-- A POP gateway error for a missing parameter: 400 Missing<Param>. List parameters are
-- named without their ".N" suffix.
function M.missing(param)
  local name = param:gsub("%.N$", ""):gsub("%.", "")
  raise({ status = 400, code = "Missing" .. name, message = param:gsub("%.N$", "") .. " is mandatory for this action." })
end

function M.unknown_action(action)
  return 404, "InvalidAction.NotFound",
    "Specified api is not found, please check your url and method. (action " .. tostring(action) .. ")"
end

function M.is_api_error(e) return getmetatable(e) == ApiError end

return M
