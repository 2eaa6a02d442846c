-- The validation rules that need the platform, judged on a refresh
-- snapshot (otarun.plan.refresh) for the waves that are still to be created: the firmware exists and
-- is verified (`required-firmware`, `firmware-unverified`, from QueryOTAFirmware's Status), a
-- differential package's waves target exactly its real source version
-- (`src-version-diff-package`), MQTT takes one file of at most 16 MB (`mqtt-package`, from the
-- firmware's real files), no other dynamic job of the firmware runs, whoever created it
-- (`one-dynamic-per-firmware`), and each wave's group exists with the right type (`group-type`,
-- from QueryDeviceGroupList), and a dynamic group wave's MultiModuleMode and OverwriteMode equal
-- those of the group's running dynamic batch (`group-mode`). A differential package's static wave
-- without versions is a warning: the platform skips the devices on other versions. Diagnostics
-- have the shape of otarun.core.validate's.
-- Uses otarun.plan.refresh (identity parsing, running statuses).
local refresh = require("otarun.plan.refresh")

local M = {}

M.MQTT_MAX_BYTES = 16 * 1024 * 1024

-- What a user reads when the platform was not asked (offline or recorded state).
M.SKIPPED = "checks that need the platform (firmware verification and package, jobs already "
  .. "running, group types) were skipped: the platform was not contacted"

local STATUS_TEXT = { [0] = "not verified", [2] = "being verified", [3] = "failed verification" }

local function diag(out, rollout, wave, rule, param, fmt, ...)
  out[#out + 1] = { severity = "error", rule = rule, param = param, message = string.format(fmt, ...),
    file = rollout.file, line = wave and wave.line or rollout.line, rollout = rollout.name,
    wave = wave and wave.name or nil }
  return out[#out]
end

local function firmware_rules(out, r, fw, pending)
  if fw.missing then
    diag(out, r, nil, "required-firmware", "FirmwareId",
      "firmware %s does not exist on the platform (QueryOTAFirmware: %s)", r.firmware.id, fw.error or "not found")
    return
  end
  if STATUS_TEXT[fw.status] and #pending > 0 then
    diag(out, r, nil, "firmware-unverified", "FirmwareId",
      "firmware %s is %s on the platform (Status %d): run a verification job (CreateOTAVerifyJob) "
      .. "and wait until it passes before creating jobs", r.firmware.id, STATUS_TEXT[fw.status], fw.status)
  end
  for _, w in ipairs(pending) do
    if fw.type == "diff" and fw.src_version then
      local v = w.versions
      if v and (#v ~= 1 or v[1] ~= fw.src_version) then
        diag(out, r, w, "src-version-diff-package", "SrcVersion.N",
          "firmware %s is a differential package from %s on the platform: versions must be exactly { \"%s\" }",
          r.firmware.id, fw.src_version, fw.src_version)
      elseif not v and w.kind == "static" and (w.percent or w.percent_text or w.all) then
        -- the platform skips devices on other versions (docs/platform-assumptions.md)
        diag(out, r, w, "src-version-diff-package", "SrcVersion.N",
          "firmware %s is a differential package from %s on the platform: it skips every device of this "
          .. "wave that is not on %s (they get no task); narrow the wave with versions = { \"%s\" } to say so",
          r.firmware.id, fw.src_version, fw.src_version, fw.src_version).severity = "warning"
      end
    end
    if w.protocol == "MQTT" then
      if (fw.files or 1) > 1 then
        diag(out, r, w, "mqtt-package", "DownloadProtocol",
          "protocol MQTT needs a package of exactly one file; firmware %s has %d on the platform (use HTTPS)",
          r.firmware.id, fw.files)
      elseif fw.size and fw.size > M.MQTT_MAX_BYTES then
        diag(out, r, w, "mqtt-package", "DownloadProtocol",
          "protocol MQTT takes packages of at most 16 MB (16777216 bytes); firmware %s has %d bytes on the "
          .. "platform (use HTTPS)", r.firmware.id, fw.size)
      end
    end
  end
end

-- A dynamic job of the firmware that runs and belongs to no wave of this rollout blocks every
-- dynamic create of the rollout (the platform runs one per firmware).
local function dynamic_rule(out, r, snap, pending, owned)
  local first
  for _, w in ipairs(pending) do
    if w.kind == "dynamic" then first = first or w end
  end
  if not first then return end
  for _, job in ipairs(snap.by_firmware[r.firmware.id] or {}) do
    local ro = refresh.split_identity(job.identity)
    local ours = ro == r.name or (owned and owned(r, job))
    if job.kind == "dynamic" and refresh.RUNNING[job.status] and not ours then
      diag(out, r, first, "one-dynamic-per-firmware", "FirmwareId",
        "firmware %s already has a running dynamic job %s (%s): the platform runs one dynamic job per "
        .. "firmware, so wave %q cannot start; cancel it (otarun call CancelOTAStrategyByJob JobId=%s) or "
        .. "drive these waves from %s", r.firmware.id, job.job_id,
        job.identity and ("created by otarun for " .. job.identity) or "not created by otarun",
        first.name, job.job_id, ro and ("rollout \"" .. ro .. "\"") or "that job's owner")
    end
  end
end

local function group_rule(out, r, groups, pending)
  local known = groups and groups[r.instance or ""]
  if not known then return end
  for _, w in ipairs(pending) do
    if w.group then
      local t = known[w.group]
      local want = w.kind == "dynamic" and "LINK_PLATFORM_DYNAMIC" or "LINK_PLATFORM"
      if not t then
        diag(out, r, w, "group-type", "GroupId", "group %s does not exist on the platform%s",
          w.group, r.instance and (" (instance " .. r.instance .. ")") or "")
      elseif t ~= want then
        diag(out, r, w, "group-type", "GroupId",
          "group %s is a %s group (%s): %s waves need a %s group", w.group,
          t == "LINK_PLATFORM_DYNAMIC" and "dynamic" or "static", t, w.kind,
          w.kind == "dynamic" and "dynamic" or "static")
      end
    end
  end
end

-- MultiModuleMode / OverwriteMode of a dynamic group wave must equal those of the group's running
-- dynamic batch (of another firmware: a batch of the same firmware is cancelled first), whether it
-- runs on the platform or is another pending wave of this plan (`group-mode`).
local function modes_of_wave(w)
  return tostring(w.multi_module == true), w.overwrite == "replace" and "2" or "1"
end

local function group_mode_rule(out, rollouts, snap, pending_of)
  local running = {}        -- [product .. "/" .. group] = { multi, overwrite, what, firmware }
  for _, job in pairs(snap.jobs or {}) do
    local p = job.params
    if job.kind == "dynamic" and refresh.RUNNING[job.status] and p and p.GroupId then
      running[(p.ProductKey or "") .. "/" .. p.GroupId] = { p.MultiModuleMode or "false", p.OverwriteMode or "1",
        "its running dynamic job " .. tostring(job.job_id), p.FirmwareId }
    end
  end
  for _, r in ipairs(rollouts) do
    for _, w in ipairs(pending_of[r] or {}) do
      if w.kind == "dynamic" and w.group then
        local key = (r.product or "") .. "/" .. w.group
        local m, o = modes_of_wave(w)
        local have = running[key]
        if have and have[4] ~= (r.firmware and r.firmware.id) and (have[1] ~= m or have[2] ~= o) then
          diag(out, r, w, "group-mode", "MultiModuleMode",
            "group %s already has a dynamic batch (%s) with MultiModuleMode=%s and OverwriteMode=%s; this wave "
            .. "sends MultiModuleMode=%s and OverwriteMode=%s, which the platform refuses: set multi_module and "
            .. "overwrite to match", w.group, have[3], have[1], have[2], m, o)
        elseif not have then
          running[key] = { m, o, string.format("wave %q of rollout %q", w.name, r.name), r.firmware and r.firmware.id }
        end
      end
    end
  end
end

-- run(rollouts, snapshot, has_job [, owned]) -> diagnostics
-- has_job(rollout, wave) -> true when the wave's job already exists (it is not judged again).
-- owned(rollout, job) -> true when the state store recorded the job for this rollout (a job
-- without the identity tag that the plan itself cancels or keeps).
function M.run(rollouts, snap, has_job, owned)
  local out, pending_of = {}, {}
  for _, r in ipairs(rollouts) do
    local pending = {}
    for _, w in ipairs(r.waves or {}) do
      if not (has_job and has_job(r, w)) then pending[#pending + 1] = w end
    end
    pending_of[r] = pending
    local fw = r.firmware and r.firmware.id and snap.firmware[r.firmware.id]
    if fw then
      firmware_rules(out, r, fw, pending)
      if not fw.missing then dynamic_rule(out, r, snap, pending, owned) end
    end
    group_rule(out, r, snap.groups, pending)
  end
  group_mode_rule(out, rollouts, snap, pending_of)
  return out
end

return M
