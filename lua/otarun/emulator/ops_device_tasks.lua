-- One device's place in the OTA model: ListOTAUnfinishedTaskByDevice (its pending task),
-- ListOTAJobByDevice (the batches of one firmware that gave it a task) and CancelOTATaskByDevice
-- (cancels its pending tasks of one firmware, optionally of one batch). Parameters, limits and
-- the statuses each operation reaches follow the API reference pages and the official SDK models
-- listed in docs/platform-assumptions.md ("Device operations"). Uses store.lua and sim.lua through
-- the emulator, ops_devices.lua (finding a device), ops_update.lua (jobs), shape.lua.
local errors = require("otarun.emulator.errors")
local ids = require("otarun.emulator.ids")
local shape = require("otarun.emulator.shape")
local store_mod = require("otarun.emulator.store")
local devices = require("otarun.emulator.ops_devices")
local firmware = require("otarun.emulator.ops_firmware")
local update = require("otarun.emulator.ops_update")

local ST, NAME = store_mod.ST, store_mod.NAME
local M = {}
local ops = {}

-- The statuses an unfinished task can have (the operation's TaskStatus values).
M.UNFINISHED = { "CONFIRM", "QUEUED", "NOTIFIED", "IN_PROGRESS" }
-- CancelOTATaskByDevice: at most 200 names a call; it cancels these statuses.
M.MAX_CANCEL_NAMES = 200
local CANCELLABLE = { [ST.CONFIRM] = true, [ST.QUEUED] = true, [ST.NOTIFIED] = true, [ST.IN_PROGRESS] = true }

local function wanted_statuses(P)
  local list = P:list("TaskStatusList")
  local one = P:str("TaskStatus")
  if one then list[#list + 1] = one end
  if #list == 0 then return nil end
  local want = {}
  for _, name in ipairs(list) do
    local ok = false
    for _, u in ipairs(M.UNFINISHED) do ok = ok or u == name end
    if not ok then
      errors.fail("format", string.format("TaskStatus must be one of %s, got %q.", table.concat(M.UNFINISHED, ", "), name))
    end
    want[ST[name]] = true
  end
  return want
end

function ops.ListOTAUnfinishedTaskByDevice(emu, P)
  local want = wanted_statuses(P)
  local module = P:str("ModuleName")
  local d = devices.find(emu, P)
  local s = emu.store
  local items = shape.array()
  local t = s.d_task[d]
  local st = t and s.t_status[t]
  if t and CANCELLABLE[st] and (not want or want[st]) then
    local job = s:job_of_task(t)
    if not module or module == job.firmware.module then
      local p = s.d_prod[d]
      items[1] = {
        TaskId = s:task_id(t), IotId = s:iot_id(d), DeviceName = s.d_name[d], ProductKey = p.key,
        ProductName = p.name, FirmwareId = job.firmware.id, JobId = job.id, ModuleName = job.firmware.module,
        SrcVersion = s.t_src[t], DestVersion = job.dest, TaskStatus = NAME[st],
        UtcCreate = ids.utc(s.t_created[t]), UtcModified = ids.utc(s.t_modified[t]),
      }
    end
  end
  return { Data = { SimpleOTATaskInfo = items } }
end

-- The batches of the firmware that hold a task of device d, newest first.
local function jobs_of_device(emu, fw, d)
  local out = {}
  local list = emu.store.job_list
  for i = #list, 1, -1 do
    local j = list[i]
    if j.firmware == fw and j.task_of[d] then out[#out + 1] = j end
  end
  return out
end

function ops.ListOTAJobByDevice(emu, P)
  local fid = P:req("FirmwareId")
  local pk = P:req("ProductKey")
  local name = P:req("DeviceName")
  local page, size = P:paging(100, 10, true)
  local fw = firmware.find(emu, fid)
  local d = devices.find(emu, { str = function(_, k) return ({ ProductKey = pk, DeviceName = name })[k] end })
  local match = jobs_of_device(emu, fw, d)
  local items = shape.array()
  for i = (page - 1) * size + 1, math.min(#match, page * size) do
    local j = match[i]
    items[#items + 1] = {
      JobId = j.id, FirmwareId = fw.id, ProductKey = j.product.key, JobStatus = j.status,
      JobType = j.type, SelectionType = j.selection, TargetSelection = j.target,
      UtcCreate = ids.utc(j.created), UtcModified = ids.utc(j.modified),
      UtcStartTime = ids.utc(j.start_time), UtcEndTime = ids.utc(j.end_time), Tags = update.tags_dto(j.tags),
    }
  end
  return shape.paging({ Data = { SimpleOTAJobInfo = items } }, #match, page, size)
end

function ops.CancelOTATaskByDevice(emu, P)
  local pk = P:req("ProductKey")
  local fid = P:req("FirmwareId")
  local names = P:unique_list("DeviceName", M.MAX_CANCEL_NAMES)
  if #names == 0 then errors.missing("DeviceName.N") end
  local job_id = P:str("JobId")
  local fw = firmware.find(emu, fid)
  local job = job_id and update.find(emu, job_id)
  local s = emu.store
  if not s:product(pk) then errors.fail("product", "The product " .. pk .. " does not exist.") end
  local list = {}
  for i, name in ipairs(names) do
    list[i] = s:device_by_name(pk, name) or errors.fail("device", string.format("The device %s does not exist in product %s.", name, pk))
  end
  for _, d in ipairs(list) do
    local t = s.d_task[d]
    local tj = t and s:job_of_task(t)
    if t and tj.firmware == fw and (not job or tj == job) and CANCELLABLE[s.t_status[t]] then
      emu.sim:cancel_task(t, "canceled by CancelOTATaskByDevice")
      tj.modified = emu.sim.now
    end
  end
  return {}
end

M.ops = ops
return M
