-- Fleet files and tables: checking a fleet table and turning it into products, groups,
-- firmware and devices in the store, and running a fleet file (`fleet { ... }`, possibly several)
-- in otarun's sandbox. What a fleet table accepts is documented at M.FIELDS.
local sandbox = require("otarun.lang.sandbox")
local util = require("otarun.util")
local ids = require("otarun.emulator.ids")
local sim_mod = require("otarun.emulator.sim")

local M = {}

M.MAX_DEVICES = 10000000 -- per fleet load (about 250 bytes a device, docs/emulator-scale.md): a bigger count would only exhaust memory

-- One product per table; `products = { {...}, ... }` declares several, the outer fields acting as
-- defaults for each (seed, online, duration, failure, poll, reconnect, groups, firmware).
M.FIELDS = {
  product = "ProductKey (required)",
  name = "ProductName (default: the ProductKey)",
  devices = "list of { version =, count = 1, groups = { id... }, prefix = \"dev\", names = { ... } }",
  failure = "{ [version] = odds in [0, 1] } the chance an upgrade from that version fails",
  duration = "{ min =, max = } how long an upgrade runs (durations or seconds; default 5m..40m)",
  online = "share of devices online at load, 0..1 (default 1)",
  seed = "integer seed for this product's devices (default: the emulator's seed)",
  poll = "with NeedPush=false, devices pick a task up within this delay (default 30m)",
  reconnect = "mean time before an offline device comes online (default 6h)",
  groups = "list of { id =, type = \"static\"|\"dynamic\", name = } (undeclared ids become dynamic groups)",
  firmware = "list of { id =, version =, name =, verified = true|false|nil, type = \"full\"|\"diff\", src_version =, size =, files = }",
  products = "list of product tables, for several products in one fleet",
}
local FIELD_NAMES = util.sorted_keys(M.FIELDS)
local DEVICE_FIELDS = { "count", "groups", "names", "prefix", "version" }
local GROUP_FIELDS = { "id", "name", "type" }
local FIRMWARE_FIELDS = { "files", "id", "name", "size", "src_version", "type", "verified", "version" }
local INHERITED = { "seed", "online", "duration", "failure", "poll", "reconnect" }

local function fail(where, msg) error({ fleet_error = where .. ": " .. msg }, 0) end

local function check_keys(t, allowed, where)
  local set = {}
  for _, k in ipairs(allowed) do set[k] = true end
  for k in pairs(t) do
    if not set[k] then
      local hint = type(k) == "string" and util.closest(k, allowed)
      fail(where, string.format("unknown field %q%s; known fields: %s", tostring(k),
        hint and (" (did you mean " .. hint .. "?)") or "", table.concat(allowed, ", ")))
    end
  end
end

local function seconds(v, where, default)
  if v == nil then return default end
  if math.type(v) == "integer" and v >= 0 then return v end
  if type(v) == "number" and v >= 0 then return math.floor(v) end
  local n, err = util.parse_duration(v)
  if not n then fail(where, err) end
  return n
end

local function bytes(v, where)
  if v == nil then return nil end
  if math.type(v) == "integer" then return v end
  local num, unit = tostring(v):match("^(%d+%.?%d*)%s*([KMG]?B?)$")
  if not num then fail(where, "expected a size like 12MB, 512KB or a byte count, got " .. tostring(v)) end
  local mult = ({ [""] = 1, B = 1, K = 1024, KB = 1024, M = 1048576, MB = 1048576, G = 1073741824, GB = 1073741824 })[unit]
  return math.floor(tonumber(num) * mult)
end

-- Checks one product table (after defaults were applied) and returns a normalised copy.
local function normalise(t, where)
  check_keys(t, FIELD_NAMES, where)
  if type(t.product) ~= "string" or t.product == "" then fail(where, "product (the ProductKey) is required") end
  local out = { product = t.product, name = t.name, devices = {}, groups = {}, firmware = {} }
  out.seed = t.seed
  if out.seed ~= nil and math.type(out.seed) ~= "integer" then fail(where .. ".seed", "expected an integer") end
  out.online = t.online == nil and 1 or t.online
  if type(out.online) ~= "number" or out.online < 0 or out.online > 1 then
    fail(where .. ".online", "expected a share between 0 and 1")
  end
  local dur = t.duration or {}
  if type(dur) ~= "table" then fail(where .. ".duration", "expected { min =, max = }") end
  out.dmin = seconds(dur.min, where .. ".duration.min", 300)
  out.dmax = seconds(dur.max, where .. ".duration.max", math.max(2400, out.dmin))
  if out.dmax < out.dmin then fail(where .. ".duration", "max must not be below min") end
  out.poll = seconds(t.poll, where .. ".poll", 1800)
  out.reconnect = seconds(t.reconnect, where .. ".reconnect", 21600)
  out.failure = {}
  for v, odds in pairs(t.failure or {}) do
    if type(odds) ~= "number" or odds < 0 or odds > 1 then
      fail(where .. ".failure[" .. tostring(v) .. "]", "expected odds between 0 and 1")
    end
    out.failure[tostring(v)] = odds
  end
  for i, g in ipairs(t.groups or {}) do
    local gw = where .. ".groups[" .. i .. "]"
    if type(g) ~= "table" then fail(gw, "expected { id =, type =, name = }") end
    check_keys(g, GROUP_FIELDS, gw)
    if type(g.id) ~= "string" then fail(gw, "id is required") end
    local gt = g.type or "dynamic"
    if gt ~= "static" and gt ~= "dynamic" then fail(gw .. ".type", "expected \"static\" or \"dynamic\"") end
    out.groups[i] = { id = g.id, type = gt, name = g.name }
  end
  for i, f in ipairs(t.firmware or {}) do
    local fw = where .. ".firmware[" .. i .. "]"
    if type(f) ~= "table" then fail(fw, "expected { id =, version = }") end
    check_keys(f, FIRMWARE_FIELDS, fw)
    if type(f.id) ~= "string" or type(f.version) ~= "string" then fail(fw, "id and version are required") end
    if f.type ~= nil and f.type ~= "full" and f.type ~= "diff" then fail(fw .. ".type", "expected \"full\" or \"diff\"") end
    if f.type == "diff" and type(f.src_version) ~= "string" then fail(fw, "a diff package needs src_version") end
    out.firmware[i] = { id = f.id, version = f.version, name = f.name, verified = f.verified,
                        type = f.type == "diff" and 1 or 0, src_version = f.src_version,
                        size = bytes(f.size, fw .. ".size"), files = f.files or 1 }
  end
  if type(t.devices) ~= "table" then fail(where, "devices = { { version =, count = }, ... } is required") end
  local total = 0
  for i, d in ipairs(t.devices) do
    local dw = where .. ".devices[" .. i .. "]"
    if type(d) ~= "table" then fail(dw, "expected { version =, count = }") end
    check_keys(d, DEVICE_FIELDS, dw)
    if type(d.version) ~= "string" or d.version == "" then fail(dw, "version is required") end
    local count = d.count or (d.names and #d.names) or 1
    if math.type(count) ~= "integer" or count < 0 then fail(dw .. ".count", "expected a whole number") end
    total = total + count
    if total > M.MAX_DEVICES then
      fail(dw .. ".count", string.format("a fleet holds at most %d devices (docs/trust.md)", M.MAX_DEVICES))
    end
    if d.names and #d.names ~= count then fail(dw, "names must list exactly count names") end
    local prefix = d.prefix or "dev"
    if type(prefix) ~= "string" then fail(dw .. ".prefix", "expected a string") end
    out.devices[i] = { version = d.version, count = count, groups = d.groups, prefix = prefix, names = d.names }
  end
  return out
end

-- Splits a fleet table into normalised product tables.
function M.check(t)
  if type(t) ~= "table" then return nil, "a fleet must be a table" end
  local ok, res = pcall(function()
    if t.products == nil then return { normalise(t, "fleet") } end
    local list = {}
    for i, p in ipairs(t.products) do
      local merged = {}
      for _, k in ipairs(INHERITED) do merged[k] = t[k] end
      merged.groups, merged.firmware = {}, {}
      for k, v in pairs(p) do merged[k] = v end
      list[i] = normalise(merged, "fleet.products[" .. i .. "]")
    end
    -- top-level groups and firmware belong to the first product's declaration
    if list[1] then
      for _, g in ipairs(t.groups or {}) do table.insert(list[1].groups, { id = g.id, type = g.type or "dynamic", name = g.name }) end
    end
    return list
  end)
  return M.settled(ok, res)
end

-- What pcall gave around fleet code: a fleet error as nil, message; any other error raised again.
function M.settled(ok, res)
  if ok then return res end
  if type(res) == "table" and res.fleet_error then return nil, res.fleet_error end
  error(res, 0)
end

-- Adds one normalised product to the emulator (emu.store, emu.sim). Returns the device count.
function M.add(emu, f)
  local s, sim = emu.store, emu.sim
  local now = sim.now
  local p = s:product(f.product)
  local params = { failure = f.failure, dmin = f.dmin, dmax = f.dmax, poll = f.poll, reconnect = f.reconnect }
  if p then
    for k, v in pairs(params) do p[k] = v end
    for v, o in pairs(f.failure) do p.failure[v] = o end
  else
    p = s:add_product(f.product, f.name, params)
  end
  p.seed = f.seed or p.seed or s.seed
  if s.sync_product then s:sync_product(p) end   -- the model in C reads the product's parameters
  for _, g in ipairs(f.groups) do
    if not s.groups[g.id] then
      s:add_group(g.id, g.type == "static" and "LINK_PLATFORM" or "LINK_PLATFORM_DYNAMIC", g.name, now)
    end
  end
  for _, fw in ipairs(f.firmware) do
    emu:add_firmware_record(p, fw)
  end
  local added = 0
  local online_share = f.online
  for _, dspec in ipairs(f.devices) do
    local groups = dspec.groups
    if groups then
      for _, gid in ipairs(groups) do
        if not s.groups[gid] then s:add_group(gid, "LINK_PLATFORM_DYNAMIC", gid, now) end
      end
    end
    local seq = p.name_seq[dspec.prefix] or 0
    local bulk = s.add_devices and not dspec.names and #dspec.prefix < 200
    if bulk then   -- generated names: the model adds them in C
      local first
      first, seq = s:add_devices(p, dspec.version, groups, dspec.count, online_share, dspec.prefix, seq, now)
      for _, gid in ipairs(groups or {}) do
        local members = s.groups[gid].members
        for d = first, first + dspec.count - 1 do members[#members + 1] = d end
      end
      added = added + dspec.count
    end
    for i = 1, bulk and 0 or dspec.count do
      local name
      if dspec.names then
        name = dspec.names[i]
      else
        repeat
          seq = seq + 1
          name = string.format("%s%06d", dspec.prefix, seq)
        until not p.by_name[name]
      end
      if p.by_name[name] then error({ fleet_error = "device " .. name .. " is declared twice in product " .. p.key }, 0) end
      local d = s.ndev + 1
      local online = ids.hash01(p.seed, sim_mod.H_ONLINE, d, 0) < online_share
      s:add_device(p, name, dspec.version, online, groups, now)
      if groups then
        for _, gid in ipairs(groups) do
          local members = s.groups[gid].members
          members[#members + 1] = d
        end
      end
      if not online then sim:schedule_online(d, sim:reconnect_delay(d)) end
      added = added + 1
    end
    p.name_seq[dspec.prefix] = seq
  end
  return added
end

-- Runs a fleet file in the sandbox. Returns the list of fleet tables it declared, or nil, message.
function M.load_file(path)
  local text, err = sandbox.read_source(path)
  if not text then return nil, "cannot read the fleet file: " .. tostring(err) end
  local fleets = {}
  local function fleet(t)
    if type(t) ~= "table" then error("fleet expects a table: fleet { product = ..., devices = { ... } }", 2) end
    fleets[#fleets + 1] = sandbox.raw_copy(t) -- copied raw under the budgets (docs/sandbox.md)
  end
  local env = sandbox.env({ dir = path:match("^(.*)/[^/]*$") or ".", globals = { fleet = fleet } })
  local fn, serr = sandbox.load(text, "@" .. path, env)
  if not fn then return nil, serr end
  local ok, msg = sandbox.run(fn)
  if not ok then return nil, tostring(msg) end
  if #fleets == 0 then return nil, path .. ": the file declares no fleet; write fleet { product = ..., devices = { ... } }" end
  for i, t in ipairs(fleets) do
    local _, cerr = M.check(t)
    if cerr then return nil, string.format("%s: fleet %d: %s", path, i, cerr) end
  end
  return fleets
end

return M
