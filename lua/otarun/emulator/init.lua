-- otarun.emulator: the in-process model of IoT Platform's OTA service. One object holds the store
-- (firmware, jobs, tasks, groups, devices), the simulation and the clock; call() runs one API
-- operation on decoded parameters and returns the HTTP status and the body table. No HTTP here:
-- the gateway (gateway.lua, admin.lua) wraps this object. Uses store.lua, sim.lua, fleet.lua,
-- errors.lua, params.lua and the ops_*.lua modules, which each export `ops = { Action = fn }`.
--
--   local emu = emulator.new{ clock = "manual"|"real", speed = 1, now = epoch, region = "cn-shanghai",
--                             account = "default", seed = 7, instance = nil }
--   emu:load_fleet(t) -> { products = {...}, devices = n } | nil, msg;  emulator.load_fleet_file(path)
--   emu:call(action, params, ctx) -> status, body   (ctx: request_id, region, raw_json)
--     ctx.raw_json: the caller encodes with gateway.fast_json, so lists may stay JSON texts
--     (shape.raw_array); otherwise every list in the body is made of tables.
--     200 + { RequestId, Success = true, ... }; 200 + { RequestId, Success = false, Code, ErrorMessage };
--     400 Missing<Param> / 404 InvalidAction.NotFound / 500 InternalError as { RequestId, HostId, Code, Message }
--   emu:advance(s), emu:advance_to_real(), emu:now()
--   emu:jobs(), emu:tasks(job_id, filter), emu:counters(), emu:devices(filter),
--   emu:update_job_admin(job_id, fields), emu:report_version(pk, name, v), emu:set_online(pk, name, b)
--   emu:export_state() -> table, emu:import_state(t) -> true | nil, msg (state.lua)
--   emulator.to_json(body): JSON with lists (ARRAY_MT) kept as arrays even when empty.
local store_mod = require("otarun.emulator.store")
local sim_mod = require("otarun.emulator.sim")
local fleet = require("otarun.emulator.fleet")
local errors = require("otarun.emulator.errors")
local params = require("otarun.emulator.params")
local ids = require("otarun.emulator.ids")
local util = require("otarun.util")
local shape = require("otarun.emulator.shape")
local state = require("otarun.emulator.state")

local M = {}

M.ARRAY_MT = shape.ARRAY_MT
M.RAW_MT = shape.RAW_MT
M.to_json = shape.to_json

local OPS = {}
for _, name in ipairs({ "ops_firmware", "ops_jobs", "ops_update", "ops_tasks", "ops_devices",
                       "ops_device_tasks", "ops_device_list" }) do
  for action, fn in pairs(require("otarun.emulator." .. name).ops) do OPS[action] = fn end
end
M.ACTIONS = util.sorted_keys(OPS)

local Emu = {}
Emu.__index = Emu

local OPTION_NAMES = { "account", "clock", "instance", "now", "region", "seed", "speed" }

local function wall_now() return require("otarun.core.sys").now() end

-- opts: clock = "manual"|"real", speed = 1, now = epoch seconds, region = "cn-shanghai",
-- account = "default", seed = 7, instance = IotInstanceId the emulated instance requires (nil: any).
function M.new(opts)
  opts = opts or {}
  for k in pairs(opts) do
    local known = false
    for _, n in ipairs(OPTION_NAMES) do known = known or n == k end
    if not known then
      local hint = type(k) == "string" and util.closest(k, OPTION_NAMES)
      error(string.format("emulator.new: unknown option %q%s", tostring(k), hint and (" (did you mean " .. hint .. "?)") or ""), 2)
    end
  end
  local clock = opts.clock or "manual"
  if clock ~= "manual" and clock ~= "real" then error("emulator.new: clock must be \"manual\" or \"real\"", 2) end
  local speed = opts.speed or 1
  if type(speed) ~= "number" or speed <= 0 then error("emulator.new: speed must be a positive number", 2) end
  local seed = opts.seed or 7
  if math.type(seed) ~= "integer" then error("emulator.new: seed must be an integer", 2) end
  local now = opts.now or wall_now()
  local s = store_mod.new(seed)
  local emu = setmetatable({
    store = s, sim = sim_mod.new(s, now), clock = clock, speed = speed, seed = seed,
    region = opts.region or "cn-shanghai", account = opts.account or "default",
    instance = opts.instance, start = now, wall0 = wall_now(), offset = 0,
  }, Emu)
  return emu
end

-- Clock ---------------------------------------------------------------------------------------

function Emu:now()
  if self.clock == "real" then
    return self.start + (wall_now() - self.wall0) * self.speed + self.offset
  end
  return self.sim.now
end

-- Manual clock: moves time forward and runs the simulation up to it. Real clock: skips ahead.
function Emu:advance(seconds)
  if type(seconds) ~= "number" or seconds < 0 then error("advance: seconds must be a number >= 0", 2) end
  if self.clock == "real" then
    self.offset = self.offset + seconds
    return self:advance_to_real()
  end
  self.sim:run_until(self.sim.now + seconds)
  return self.sim.now
end

function Emu:advance_to_real()
  local t = self:now()
  if t > self.sim.now then self.sim:run_until(t) end
  return self.sim.now
end

-- API -----------------------------------------------------------------------------------------

local function host(self) return "iot." .. self.region .. ".aliyuncs.com" end

-- Runs one operation. Returns HTTP status and the body table (see the module's header).
function Emu:call(action, raw, ctx)
  ctx = ctx or {}
  local rid = ctx.request_id or self.store.gen:uuid()
  local fn = OPS[action]
  if not fn then
    local status, code, msg = errors.unknown_action(action)
    return status, { RequestId = rid, HostId = host(self), Code = code, Message = msg }
  end
  if self.clock == "real" then self:advance_to_real() end
  local calls = self.store.counts.calls
  calls[action] = (calls[action] or 0) + 1
  local P = params.reader(raw)
  local ok, res = pcall(function()
    self:check_instance(P)
    return fn(self, P, ctx)
  end)
  if ok then
    res.RequestId = rid
    res.Success = true
    self.sim:run_until(self.sim.now)
    if not ctx.raw_json then shape.expand(res) end
    return 200, res
  end
  if errors.is_api_error(res) then
    if res.business then
      return 200, { RequestId = rid, Success = false, Code = res.code, ErrorMessage = res.message }
    end
    return res.status, { RequestId = rid, HostId = host(self), Code = res.code, Message = res.message }
  end
  return 500, { RequestId = rid, HostId = host(self), Code = "InternalError",
                Message = "The request processing has failed due to some unknown error: " .. tostring(res) }
end

function Emu:check_instance(P)
  local given = P:str("IotInstanceId")
  if self.instance and given ~= self.instance then
    errors.fail("instance", given and ("The instance " .. given .. " does not exist.")
      or "IotInstanceId is required for this instance.")
  end
end

-- The region a request is served in (ctx.region wins over the emulator's).
function Emu:region_of(ctx) return (ctx and ctx.region) or self.region end

-- Fleet ---------------------------------------------------------------------------------------

-- Loads a fleet table (see fleet.lua for every field). Returns
-- { products = { key... }, devices = n } or nil, message.
function Emu:load_fleet(t)
  local list, err = fleet.check(t)
  if not list then return nil, err end
  local ok, res = pcall(function()
    local keys, n = {}, 0
    for _, f in ipairs(list) do
      n = n + fleet.add(self, f)
      keys[#keys + 1] = f.product
    end
    return { products = keys, devices = n }
  end)
  return fleet.settled(ok, res)
end

M.load_fleet_file = fleet.load_file

-- Firmware declared by a fleet (or created by CreateOTAFirmware; see ops_firmware.lua).
function Emu:add_firmware_record(p, f)
  return require("otarun.emulator.ops_firmware").add(self, p, f)
end

-- Saving and restoring (otarun emulator --state; see state.lua). export_state() -> plain table for
-- JSON; import_state(t) -> true | nil, message, into an emulator with no fleet loaded yet. A real
-- clock resumes from the saved time (simulated time does not pass while the emulator is stopped).
function Emu:export_state() return state.export(self) end

function Emu:import_state(t)
  local ok, err = state.import(self, t)
  if not ok then return nil, err end
  self.start, self.wall0, self.offset = self.sim.now, wall_now(), 0
  return true
end

-- Admin accessors (plain tables for the admin API) live in admin_view.lua.
for name, fn in pairs(require("otarun.emulator.admin_view").methods) do Emu[name] = fn end

M.Emu = Emu
M.utc = ids.utc
return M
