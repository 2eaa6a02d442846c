-- Devices and groups as the platform reports them: QueryDeviceDetail (FirmwareVersion is what
-- SrcVersion matches) and QueryDeviceGroupList (static groups by default, newest first).
local errors = require("otarun.emulator.errors")
local ids = require("otarun.emulator.ids")
local shape = require("otarun.emulator.shape")

local M = {}
local ops = {}

function M.find(emu, P)
  local s = emu.store
  local iot_id = P:str("IotId")
  if iot_id then
    return s:device_by_iot_id(iot_id) or errors.fail("device", "The device " .. iot_id .. " does not exist.")
  end
  local pk, name = P:str("ProductKey"), P:str("DeviceName")
  if not (pk and name) then
    errors.fail("format", "Give IotId, or ProductKey and DeviceName.")
  end
  if not s:product(pk) then errors.fail("product", "The product " .. pk .. " does not exist.") end
  return s:device_by_name(pk, name) or errors.fail("device", string.format("The device %s does not exist in product %s.", name, pk))
end

function M.view(emu, d)
  local s = emu.store
  local p = s.d_prod[d]
  local created = s.d_created[d]
  local online_at = s.d_online_at[d] or created
  return {
    IotId = s:iot_id(d), ProductKey = p.key, ProductName = p.name, DeviceName = s.d_name[d],
    DeviceSecret = string.format("%016x%016x", s.gen.s ~ d, d * 0x9e3779b97f4a7c15),
    Nickname = nil, FirmwareVersion = s.d_ver[d],
    Status = s.d_online[d] and "ONLINE" or "OFFLINE",
    NodeType = 0, Owner = true, IpAddress = string.format("10.%d.%d.%d", (d >> 16) & 255, (d >> 8) & 255, d & 255),
    Region = emu.region,
    GmtCreate = ids.gmt(created), GmtActive = ids.gmt(created), GmtOnline = ids.gmt(online_at),
    UtcCreate = ids.utc(created), UtcActive = ids.utc(created), UtcOnline = ids.utc(online_at),
  }
end

function ops.QueryDeviceDetail(emu, P)
  return { Data = M.view(emu, M.find(emu, P)) }
end

function ops.QueryDeviceGroupList(emu, P)
  local page, size = P:paging(200, 10)
  local name = P:str("GroupName")
  local super = P:str("SuperGroupId")
  local types = P:list("GroupTypes")
  local want = {}
  if #types == 0 then want.LINK_PLATFORM = true end
  for _, t in ipairs(types) do want[t] = true end
  local match = {}
  local list = emu.store.group_list
  for i = #list, 1, -1 do         -- newest first
    local g = list[i]
    if want[g.type] and not super and (not name or g.name:find(name, 1, true)) then match[#match + 1] = g end
  end
  local items = shape.array()
  for i = (page - 1) * size + 1, math.min(#match, page * size) do
    local g = match[i]
    items[#items + 1] = { GroupId = g.id, GroupName = g.name, GroupDesc = g.desc, GroupType = g.type,
                          UtcCreate = ids.utc(g.created) }
  end
  return shape.paging({ Data = { GroupInfo = items } }, #match, page, size)
end

M.ops = ops
return M
