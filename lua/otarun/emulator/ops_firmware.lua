-- Firmware (update packages): CreateOTAFirmware, QueryOTAFirmware, ListOTAFirmware, and the record
-- fleets declare. Status follows the platform's API: -1 no verification needed, 0 unverified,
-- 1 verified, 2 verifying, 3 verification failed. Verification jobs live in ops_jobs.lua.
local errors = require("otarun.emulator.errors")
local ids = require("otarun.emulator.ids")
local shape = require("otarun.emulator.shape")

local M = {}

local MAX_FIRMWARE = 500

local function new_id(emu) return emu.store.gen:alnum(22) end

-- Adds a firmware record. f: id, name, desc, version, src_version, type (0|1), size, files,
-- verified (true -> 1, false -> 0, nil -> -1), url, sign, sign_method, module, udi, multi_files.
function M.add(emu, p, f)
  local s = emu.store
  local now = emu.sim.now
  local status = f.status
  if status == nil then
    if f.verified == true then status = 1 elseif f.verified == false then status = 0 else status = -1 end
  end
  local fw = {
    id = f.id or new_id(emu), name = f.name or (p.key .. "-" .. f.version), desc = f.desc,
    dest = f.version, src = f.src_version, type = f.type or 0, product = p,
    size = f.size, files = f.files or 1, url = f.url or ("https://iot-ota.oss-" .. emu.region .. ".aliyuncs.com/ota/" .. f.version .. ".bin"),
    sign = f.sign or "93230c3bde425a9d7984a594ac55ea1e", sign_method = f.sign_method or "MD5",
    module = f.module or "default", udi = f.udi, multi_files = f.multi_files,
    status = status, verify_progress = 0, created = now, modified = now,
  }
  if s.firmware[fw.id] then error({ fleet_error = "firmware " .. fw.id .. " is declared twice" }, 0) end
  s.firmware[fw.id] = fw
  s.firmware_list[#s.firmware_list + 1] = fw
  return fw
end

function M.find(emu, id)
  local fw = emu.store.firmware[id]
  if not fw then errors.fail("firmware", "The firmware " .. id .. " does not exist.") end
  return fw
end

local function validate_name(name)
  local ok_chars = name:match("^[%w\128-\255][%w\128-\255%-_()]*$")
  local len = utf8.len(name) or #name
  if not ok_chars or len > 40 then
    errors.fail("format", "FirmwareName must be 1 to 40 characters of letters, digits, hyphens (-), underscores (_) and parentheses, starting with a letter or digit, got " .. string.format("%q", name) .. ".")
  end
end

local function validate_version(param, v)
  if #v > 64 or not v:match("^[%w%._%-]+$") then
    errors.fail("format", param .. " must be 1 to 64 characters of letters, digits, periods, underscores and hyphens, got " .. string.format("%q", v) .. ".")
  end
end

local function multi_files(P)
  local files, seen = {}, {}
  for n = 1, 21 do
    local name = P:str("MultiFiles." .. n .. ".Name")
    if name then
      if n > 20 then errors.fail("format", "MultiFiles accepts at most 20 files.") end
      if #name > 32 then errors.fail("format", "MultiFiles." .. n .. ".Name must be 1 to 32 characters.") end
      if seen[name] then errors.fail("format", "MultiFiles names must be unique: " .. name .. " appears twice.") end
      seen[name] = true
      files[#files + 1] = { Name = name, Url = P:req("MultiFiles." .. n .. ".Url"),
                            Size = P:int("MultiFiles." .. n .. ".Size", 0, nil, 0),
                            SignValue = P:str("MultiFiles." .. n .. ".SignValue"),
                            FileMd5 = P:str("MultiFiles." .. n .. ".FileMd5") }
    end
  end
  return #files > 0 and files or nil
end

local ops = {}

function ops.CreateOTAFirmware(emu, P)
  local s = emu.store
  local name = P:req("FirmwareName")
  local dest = P:req("DestVersion")
  local pk = P:req("ProductKey")
  local files = multi_files(P)
  local url = P:str("FirmwareUrl")
  if not files and not url then errors.missing("FirmwareUrl") end
  validate_name(name)
  validate_version("DestVersion", dest)
  local p = s:product(pk) or errors.fail("product", "The product " .. pk .. " does not exist.")
  local desc = P:str("FirmwareDesc")
  if desc and (utf8.len(desc) or #desc) > 100 then errors.fail("format", "FirmwareDesc must be at most 100 characters.") end
  local ftype = P:int_in("Type", { 0, 1 }, 0)
  local src = P:str("SrcVersion")
  if ftype == 1 then
    if not src then errors.fail("format", "SrcVersion is required for a differential package (Type=1).") end
    validate_version("SrcVersion", src)
    if src == dest then errors.fail("format", "SrcVersion must differ from DestVersion.") end
  end
  local udi = P:str("Udi")
  if udi and #udi > 4096 then errors.fail("format", "Udi must be at most 4096 characters.") end
  local sign_method = P:enum("SignMethod", { "MD5", "SHA256" }, "MD5")
  local size = P:int("FirmwareSize", 0, nil, nil)
  local need_verify = P:bool("NeedToVerify", true)
  for _, fw in ipairs(s.firmware_list) do
    if fw.name == name then errors.fail("firmware_name", "A firmware named " .. name .. " already exists.") end
  end
  if #s.firmware_list >= MAX_FIRMWARE then
    errors.fail("firmware_quota", "An account can hold at most 500 update packages.")
  end
  local fw = M.add(emu, p, {
    name = name, desc = desc, version = dest, src_version = ftype == 1 and src or nil, type = ftype,
    size = size, files = files and #files or 1, url = url, sign = P:str("FirmwareSign"),
    sign_method = sign_method, module = P:str("ModuleName"), udi = udi, multi_files = files,
    status = need_verify and 0 or -1,
  })
  return { Data = { FirmwareId = fw.id, UtcCreate = ids.utc(fw.created) } }
end

local function info(fw, full)
  local t = {
    FirmwareId = fw.id, FirmwareName = fw.name, FirmwareDesc = fw.desc, DestVersion = fw.dest,
    SrcVersion = fw.src, ProductKey = fw.product.key, ProductName = fw.product.name,
    ModuleName = fw.module, SignMethod = fw.sign_method, Status = fw.status, Type = fw.type,
    UtcCreate = ids.utc(fw.created), UtcModified = ids.utc(fw.modified),
  }
  if not fw.multi_files then
    t.FirmwareSign = fw.sign
    t.FirmwareSize = fw.size
    if full then t.FirmwareUrl = fw.url end
  end
  if full then
    t.VerifyProgress = fw.verify_progress
    t.Udi = fw.udi
    if fw.multi_files then t.MultiFiles = shape.array(fw.multi_files) end
  end
  return t
end
M.info = info

function ops.QueryOTAFirmware(emu, P)
  local fw = M.find(emu, P:req("FirmwareId"))
  return { FirmwareInfo = info(fw, true) }
end

function ops.ListOTAFirmware(emu, P)
  local page, size = P:paging(100, 10)
  local pk, dest = P:str("ProductKey"), P:str("DestVersion")
  local match = {}
  local list = emu.store.firmware_list
  for i = #list, 1, -1 do         -- newest first
    local fw = list[i]
    if (not pk or fw.product.key == pk) and (not dest or fw.dest == dest) then match[#match + 1] = fw end
  end
  local items = shape.array()
  for i = (page - 1) * size + 1, math.min(#match, page * size) do items[#items + 1] = info(match[i], false) end
  return shape.paging({ FirmwareInfo = { SimpleFirmwareInfo = items } }, #match, page, size)
end

M.ops = ops
return M
