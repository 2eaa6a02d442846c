-- Creating jobs (update batches): CreateOTADynamicUpgradeJob, CreateOTAStaticUpgradeJob,
-- CreateOTAVerifyJob, with every usage rule of the CreateOTADynamicUpgradeJob page and the limits
-- of the platform's API. Parameters are checked first, then the platform's state
-- (firmware verified, one running dynamic job per firmware, group job modes), then the job is
-- made and the simulation gives its devices tasks (sim.lua). Uses store.lua, params.lua.
local errors = require("otarun.emulator.errors")
local ids = require("otarun.emulator.ids")
local firmware = require("otarun.emulator.ops_firmware")
local ST_SUCCEEDED = require("otarun.emulator.store").ST.SUCCEEDED

local M = {}

local MQTT_REGIONS = { ["cn-shanghai"] = true, ["cn-beijing"] = true, ["cn-shenzhen"] = true }
local MQTT_MAX_BYTES = 16 * 1024 * 1024
M.RETRY_INTERVALS = { 0, 10, 30, 60, 1440 }
M.RETRY_COUNTS = { 1, 2, 5 }

-- Retry, timeout and rate: the ranges and "RetryInterval < TimeoutInMinutes".
function M.check_retry_timeout(interval, count, timeout)
  if interval ~= nil and count == nil then
    errors.fail("format", "RetryCount is required when RetryInterval is given (one of 1, 2, 5).")
  end
  if interval ~= nil and timeout ~= nil and interval >= timeout then
    errors.fail("not_less", string.format("RetryInterval (%d) must be less than TimeoutInMinutes (%d).", interval, timeout))
  end
end

-- Parameters shared by the three Create*Job operations. kind: "dynamic" | "static" | "verify".
local function common(emu, P, ctx, kind)
  local s = emu.store
  local fid = P:req("FirmwareId")
  local pk = P:req("ProductKey")
  local c = { kind = kind }
  c.tags = P:tags("Tag")
  c.timeout = P:int("TimeoutInMinutes", 1, 1440, nil)
  if kind ~= "verify" then
    c.retry_interval = P:int_in("RetryInterval", M.RETRY_INTERVALS, nil)
    c.retry_count = P:int_in("RetryCount", M.RETRY_COUNTS, nil)
    M.check_retry_timeout(c.retry_interval, c.retry_count, c.timeout)
    c.rate = P:int("MaximumPerMinute", 10, 10000, 10000)
    c.overwrite = P:int_in("OverwriteMode", { 1, 2 }, 1)
    c.multi_module = P:bool("MultiModuleMode", false)
    if c.overwrite == 2 and c.multi_module then
      errors.fail("overwrite_multi", "OverwriteMode 2 (overwrite) cannot be combined with MultiModuleMode=true.")
    end
  end
  c.need_push = P:bool("NeedPush", true)
  c.need_confirm = P:bool("NeedConfirm", false)
  c.protocol = P:enum("DownloadProtocol", { "HTTPS", "MQTT" }, "HTTPS")
  local p = s:product(pk) or errors.fail("product", "The product " .. pk .. " does not exist.")
  local fw = firmware.find(emu, fid)
  if fw.product ~= p then
    errors.fail("firmware_product", string.format("The firmware %s belongs to product %s, not %s.", fid, fw.product.key, pk))
  end
  c.product, c.firmware = p, fw
  if c.protocol == "MQTT" then
    local region = emu:region_of(ctx)
    if not MQTT_REGIONS[region] then
      errors.fail("mqtt_region", "Downloading over MQTT is supported only in cn-shanghai, cn-beijing and cn-shenzhen, not " .. region .. ".")
    end
    if (fw.files or 1) > 1 or (fw.size or 0) > MQTT_MAX_BYTES then
      errors.fail("mqtt_package", "Downloading over MQTT needs a package of one file of at most 16 MB.")
    end
  end
  return c
end

local function check_verified(fw)
  if fw.status ~= 1 and fw.status ~= -1 then
    local what = ({ [0] = "not verified", [2] = "being verified", [3] = "failed verification" })[fw.status]
    errors.fail("not_verified", string.format("The firmware %s is %s; verify it with CreateOTAVerifyJob first, or create it with NeedToVerify=false.", fw.id, what))
  end
end

local function versions_of(P, c)
  local list = P:unique_list("SrcVersion", 10)
  local fw = c.firmware
  if #list > 0 and fw.type == 1 and (#list ~= 1 or list[1] ~= fw.src) then
    errors.fail("src_version_diff", string.format("A differential package upgrades only from its SrcVersion %s; SrcVersion.N must be exactly that.", fw.src))
  end
  return list
end

local set_of = require("otarun.util").set_of

-- The product's devices on version v as a plain list (one call into the model's C lists when
-- the store has them).
function M.ver_devices(s, p, v)
  if s.ver_devices then return s:ver_devices(p, v) end
  return p.by_ver[v] or {}
end

function M.new_job_id(emu, serial)
  return emu.store.gen:alnum(20) .. string.format("01%04d", serial % 10000)
end

-- Makes the job record from the checked parameters.
local function make_job(emu, c, fields)
  local s = emu.store
  local now = emu.sim.now
  local job = {
    type = "UPGRADE_FIRMWARE", selection = "STATIC", target = "ALL",
    firmware = c.firmware, product = c.product, dest = c.firmware.dest,
    need_src = c.firmware.type == 1 and c.firmware.src or nil,
    tags = c.tags, timeout = c.timeout, retry_interval = c.retry_interval, retry_count = c.retry_count,
    rate = c.rate or 10000, overwrite = c.overwrite or 1, multi_module = c.multi_module or false,
    need_push = c.need_push, need_confirm = c.need_confirm, protocol = c.protocol,
    status = "IN_PROGRESS", created = now, modified = now, start_time = now,
    queue = {}, qhead = 1, qtail = 0, wstart = math.ceil(now), wcount = 0,
  }
  for k, v in pairs(fields) do job[k] = v end
  s:add_job(job)
  job.id = M.new_job_id(emu, job.serial)
  s.jobs[job.id] = job
  return job
end

-- Dynamic ----------------------------------------------------------------------------------------

local ops = {}

function ops.CreateOTADynamicUpgradeJob(emu, P, ctx)
  local s, sim = emu.store, emu.sim
  local c = common(emu, P, ctx, "dynamic")
  local mode = P:int_in("DynamicMode", { 1, 2 }, 1)
  local versions = versions_of(P, c)
  local gid, gtype = P:str("GroupId"), P:str("GroupType")
  if #versions > 0 and (gid or gtype) then
    errors.fail("format", "Give either SrcVersion.N or GroupId and GroupType, not both.")
  end
  if #versions == 0 and not (gid or gtype) then
    errors.fail("format", "Give SrcVersion.N, or GroupId and GroupType.")
  end
  local group
  if gid or gtype then
    if not (gid and gtype) then errors.fail("format", "GroupId and GroupType must be given together.") end
    if gtype ~= "LINK_PLATFORM_DYNAMIC" then
      errors.fail("group_type", "GroupType of a dynamic batch must be LINK_PLATFORM_DYNAMIC, got " .. gtype .. ".")
    end
    if emu:region_of(ctx) ~= "cn-shanghai" then
      errors.fail("dyn_group_region", "Dynamic batches for dynamic groups are supported only in cn-shanghai, not " .. emu:region_of(ctx) .. ".")
    end
    group = s.groups[gid] or errors.fail("group", "The group " .. gid .. " does not exist.")
    if group.type ~= "LINK_PLATFORM_DYNAMIC" then
      errors.fail("group_type", "The group " .. gid .. " is a static group; a dynamic batch needs a dynamic group.")
    end
  end
  check_verified(c.firmware)
  local p = c.product
  for _, other in ipairs(p.dyn_jobs) do
    if other.firmware == c.firmware then
      errors.fail("dynamic_exists", string.format("The firmware %s already has a running dynamic batch %s; cancel it with CancelOTAStrategyByJob first.", c.firmware.id, other.id))
    end
    if group and other.group == gid and (other.multi_module ~= c.multi_module or other.overwrite ~= c.overwrite) then
      errors.fail("group_mode", string.format("The dynamic batch %s of group %s uses MultiModuleMode=%s and OverwriteMode=%d; a new batch for the group must use the same.",
        other.id, gid, tostring(other.multi_module), other.overwrite))
    end
  end
  local job = make_job(emu, c, {
    selection = "DYNAMIC", mode = mode, src_list = versions,
    versions = #versions > 0 and set_of(versions) or nil, group = gid, group_type = gtype,
  })
  p.dyn_jobs[#p.dyn_jobs + 1] = job
  if s.sync_product then s:sync_product(p) end
  if mode == 1 then M.sweep_dynamic(emu, job, versions) end
  return { Data = { JobId = job.id, UtcCreate = ids.utc(job.created) } }
end

-- Continuous mode: devices already reporting a covered version take the new (latest) job.
function M.sweep_dynamic(emu, job, versions)
  local s, sim = emu.store, emu.sim
  local candidates = {}
  if job.versions then
    for _, v in ipairs(versions) do
      local list = M.ver_devices(s, job.product, v)
      table.move(list, 1, #list, #candidates + 1, candidates)
    end
  else
    local members = s.groups[job.group].members
    for _, d in ipairs(members) do
      if s.d_prod[d] == job.product then candidates[#candidates + 1] = d end
    end
  end
  table.sort(candidates)
  if sim.assign_many then return sim:assign_many(job, candidates, true) end
  for _, d in ipairs(candidates) do
    if sim:covers(job, d, s.d_ver[d]) and not job.task_of[d] then sim:assign(job, d) end
  end
end

-- Static -----------------------------------------------------------------------------------------

local function schedule_times(P, now)
  local at_ms = P:int("ScheduleTime", 0, nil, nil)
  local fin_ms = P:int("ScheduleFinishTime", 0, nil, nil)
  local at, fin = at_ms and at_ms / 1000, fin_ms and fin_ms / 1000
  if at and (at < now + 300 or at > now + 7 * 86400) then
    errors.fail("schedule", "ScheduleTime must be 5 minutes to 7 days in the future (milliseconds since the epoch).")
  end
  if fin then
    -- the finish is documented only relative to ScheduleTime (docs/platform-assumptions.md, "Schedules")
    if not at then errors.fail("schedule", "ScheduleFinishTime needs ScheduleTime: the end time is counted from the scheduled start.") end
    local base = at
    if fin < base + 3600 or fin > base + 30 * 86400 then
      errors.fail("schedule", "ScheduleFinishTime must be 1 hour to 30 days after ScheduleTime.")
    end
  end
  return at, fin
end

local function gray_percent(P)
  local g = P:req("GrayPercent")
  local n = tonumber(g)
  if not g:match("^%d+%.?%d?%d?%d?$") or not n or n <= 0 or n > 100 then
    errors.fail("format", "GrayPercent must be a percentage in (0, 100] with at most 3 decimals, got " .. string.format("%q", g) .. ".")
  end
  return g, n
end

-- Devices a static job targets when it starts, in device order.
local function static_targets(emu, job)
  local s = emu.store
  local p = job.product
  local list = {}
  local dest, need_src = job.dest, job.need_src
  local function wanted(v) return v ~= dest and (not need_src or v == need_src) end
  local function take(d)
    if wanted(s.d_ver[d]) then list[#list + 1] = d end
  end
  if job.target == "SPECIFIC" then
    for _, d in ipairs(job.device_list) do take(d) end
    return list
  elseif job.target == "GROUP" then
    for _, d in ipairs(s.groups[job.group].members) do
      if s.d_prod[d] == p then take(d) end
    end
  elseif job.versions then
    for _, v in ipairs(job.src_list) do
      -- every device of the list is on v
      if wanted(v) then
        local devs = M.ver_devices(s, p, v)
        table.move(devs, 1, #devs, #list + 1, list)
      end
    end
  else
    for _, d in ipairs(s.core and s.core:list("dev", p.serial) or p.devices) do take(d) end
  end
  table.sort(list)
  if job.target == "GRAY" then
    local k = math.max(1, math.floor(#list * job.gray_n / 100 + 1e-9))
    if #list == 0 then k = 0 end
    list = emu.sim:gray_pick(list, k, p.seed)
  end
  return list
end

local function start_static(emu, job)
  local list = static_targets(emu, job)
  if emu.sim.assign_many then return emu.sim:assign_many(job, list) end
  for _, d in ipairs(list) do emu.sim:assign(job, d) end
end

-- The job's hooks into the model: a static job's start (run now or at ScheduleTime), a
-- verification job's verdict on its firmware. Closures, so a restored job (state.lua) gets them
-- again from here.
function M.attach(emu, job)
  if job.type == "VERFIY_FIRMWARE" then
    local fw = job.firmware
    job.on_done = function(j, now)
      local ok = #j.bucket[ST_SUCCEEDED] == #j.tasks and #j.tasks > 0
      fw.status, fw.verify_progress, fw.modified = ok and 1 or 3, 100, now
    end
  elseif job.selection == "STATIC" then
    job.start_fn = function(j) start_static(emu, j) end
  end
end

function ops.CreateOTAStaticUpgradeJob(emu, P, ctx)
  local s, sim = emu.store, emu.sim
  local target = P:req("TargetSelection")
  local c = common(emu, P, ctx, "static")
  if target ~= "ALL" and target ~= "SPECIFIC" and target ~= "GRAY" and target ~= "GROUP" then
    errors.fail("format", "TargetSelection must be ALL, SPECIFIC, GRAY or GROUP, got " .. string.format("%q", target) .. ".")
  end
  local versions = versions_of(P, c)
  if #versions > 0 and (target == "SPECIFIC" or target == "GROUP") then
    errors.fail("format", "SrcVersion.N applies only to TargetSelection ALL or GRAY.")
  end
  local fields = { target = target, src_list = versions, versions = #versions > 0 and set_of(versions) or nil }
  if target == "SPECIFIC" then
    local names = P:unique_list("TargetDeviceName", 200)
    if P:has("DnListFileUrl") then
      if #names > 0 then errors.fail("format", "Give TargetDeviceName.N or DnListFileUrl, not both.") end
      names = require("otarun.emulator.ops_device_list").lookup(emu, P:str("DnListFileUrl"))
    end
    if #names == 0 then errors.missing("TargetDeviceName.N") end
    local list = {}
    for i, n in ipairs(names) do
      list[i] = c.product.by_name[n] or errors.fail("device", string.format("The device %s does not exist in product %s.", n, c.product.key))
    end
    fields.device_list = list
  elseif target == "GRAY" then
    fields.gray, fields.gray_n = gray_percent(P)
  elseif target == "GROUP" then
    local gid, gtype = P:req("GroupId"), P:req("GroupType")
    if gtype ~= "LINK_PLATFORM" then
      errors.fail("group_type", "GroupType of a static batch must be LINK_PLATFORM, got " .. gtype .. ".")
    end
    local g = s.groups[gid] or errors.fail("group", "The group " .. gid .. " does not exist.")
    if g.type ~= "LINK_PLATFORM" then
      errors.fail("group_type", "The group " .. gid .. " is a dynamic group; a static batch needs a static group.")
    end
    fields.group, fields.group_type = gid, gtype
  end
  local at, fin = schedule_times(P, sim.now)
  check_verified(c.firmware)
  fields.schedule_time, fields.schedule_finish = at, fin
  if at then fields.status = "PLANNED"; fields.start_time = nil end
  local job = make_job(emu, c, fields)
  M.attach(emu, job)
  sim:schedule_job(job, at, fin)
  if not at then
    start_static(emu, job)
    sim:check_done(job)
  end
  return { Data = { JobId = job.id, UtcCreate = ids.utc(job.created) } }
end

-- Verification -----------------------------------------------------------------------------------

function ops.CreateOTAVerifyJob(emu, P, ctx)
  local sim = emu.sim
  local c = common(emu, P, ctx, "verify")
  local names = P:unique_list("TargetDeviceName", 10)
  if #names == 0 then errors.missing("TargetDeviceName.N") end
  local list = {}
  for i, n in ipairs(names) do
    list[i] = c.product.by_name[n] or errors.fail("device", string.format("The device %s does not exist in product %s.", n, c.product.key))
  end
  local fw = c.firmware
  if fw.status == 1 or fw.status == 2 then
    errors.fail("verify_conflict", string.format("The firmware %s is %s; it cannot be verified again.", fw.id,
      fw.status == 1 and "already verified" or "being verified"))
  end
  local job = make_job(emu, c, { type = "VERFIY_FIRMWARE", target = "SPECIFIC", device_list = list })
  fw.status, fw.verify_progress, fw.modified = 2, 0, sim.now
  M.attach(emu, job)
  for _, d in ipairs(list) do sim:assign(job, d) end
  sim:check_done(job)
  return { Data = { JobId = job.id, UtcCreate = ids.utc(job.created) } }
end

M.ops = ops
return M
