-- The emulator's admin API under /_emulator/: unsigned, loopback only, JSON in and out. Loads
-- fleets, reads and advances the model's clock, sets faults and QPS limits on the gateway, reports
-- and resets counters, shows jobs and tasks, edits a job behind the tool's back (drift tests) and
-- shuts the server down. Also the router that sends every other request to the gateway.
-- Uses: gateway.lua (faults, counters, qps), the model (otarun.emulator: load_fleet, advance, now,
-- and its admin views: jobs, tasks, devices, counters, update_job_admin, report_version,
-- set_online), cjson.
local cjson = require("cjson")
local gateway = require("otarun.emulator.gateway")

local M = {}

M.PREFIX = "/_emulator/"

local JSON = { ["Content-Type"] = "application/json;charset=utf-8" }

local Admin = {}
Admin.__index = Admin

-- new{ gateway = gw, model = emu, encode = fn(table) -> json, load_fleet_file = fn(path),
--      server_stats = fn() -> table, on_shutdown = fn() }
function M.new(opts)
  return setmetatable({
    gw = assert(opts.gateway, "admin.new: gateway is required"),
    model = opts.model,
    encode = opts.encode or cjson.encode,
    load_fleet_file = opts.load_fleet_file,
    server_stats = opts.server_stats,
    on_shutdown = opts.on_shutdown,
  }, Admin)
end

local function reply(self, status, t, opts)
  return status, JSON, self.encode(t), opts
end

local function fail(self, status, code, message)
  return reply(self, status, { Code = code, Message = message })
end

local function is_loopback(addr)
  return addr ~= nil and (addr:match("^127%.") ~= nil or addr == "::1" or addr:match("^::ffff:127%.") ~= nil)
end

-- JSON numbers arrive as floats; whole ones become integers, as a Lua fleet file would give them.
local function integers(v)
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = integers(x) end
    return v
  end
  if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2^53 then return math.tointeger(v) end
  if v == cjson.null then return nil end
  return v
end

local function decode_body(req)
  if req.body == nil or req.body:match("^%s*$") then return {} end
  local ok, v = pcall(cjson.decode, req.body)
  if not ok then return nil, "the request body is not JSON: " .. tostring(v) end
  if type(v) ~= "table" then return nil, "the request body must be a JSON object or array" end
  return integers(v)
end

-- A model method by one of its possible names (the model's admin views), or nil.
local function model_fn(model, ...)
  if not model then return nil end
  for _, name in ipairs({ ... }) do
    if type(model[name]) == "function" then
      return function(...) return model[name](model, ...) end
    end
  end
  return nil
end

local function clock_view(self)
  local now = assert(model_fn(self.model, "now"), "the model has no clock")()
  return {
    now = now, time = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(now)),
    mode = self.model.clock, speed = self.model.speed,
  }
end

-- ---- routes ---------------------------------------------------------------------------------

local routes = {}

M.MAX_ADVANCE = 10 * 366 * 86400

routes["POST fleet"] = function(self, req, q, body)
  local path = q.path or q.file or body.path or body.file
  local fleets
  if path then
    if not self.load_fleet_file then return fail(self, 501, "NotSupported", "this emulator cannot load fleet files") end
    local list, err = self.load_fleet_file(path)
    if not list then return fail(self, 400, "InvalidFleet", err) end
    fleets = list
  else
    fleets = body[1] and body or { body }
  end
  local load = model_fn(self.model, "load_fleet")
  if not load then return fail(self, 501, "NotSupported", "the model cannot load fleets") end
  local loaded = {}
  for i, f in ipairs(fleets) do
    local res, err = load(f)
    if not res then return fail(self, 400, "InvalidFleet", string.format("fleet %d: %s", i, tostring(err))) end
    loaded[#loaded + 1] = res
  end
  return reply(self, 200, { loaded = loaded })
end

routes["GET clock"] = function(self) return reply(self, 200, clock_view(self)) end

routes["POST clock/advance"] = function(self, req, q, body)
  local s = tonumber(q.seconds or body.seconds)
  if not s or s ~= s or s < 0 or s > M.MAX_ADVANCE then
    return fail(self, 400, "InvalidParameter", string.format("clock/advance needs seconds=N with 0 <= N <= %d "
      .. "(ten years), e.g. ?seconds=3600", M.MAX_ADVANCE))
  end
  model_fn(self.model, "advance")(s)
  return reply(self, 200, clock_view(self))
end

routes["GET faults"] = function(self)
  local list = {}
  for _, f in pairs(self.gw.faults) do list[#list + 1] = f end
  table.sort(list, function(a, b) return a.action < b.action end)
  return reply(self, 200, { faults = list })
end

-- Body: one fault { action = "X" or "*", ... }, a list of them, or { Action = {...}, ... }.
routes["POST faults"] = function(self, req, q, body)
  local list = {}
  if body[1] then
    list = body
  elseif body.action or next(body) == nil then
    list = { body }
  else
    for action, f in pairs(body) do
      if type(f) ~= "table" then return fail(self, 400, "InvalidFault", "fault for " .. tostring(action) .. " must be an object") end
      f.action = action
      list[#list + 1] = f
    end
  end
  for _, f in ipairs(list) do
    local _, err = gateway.check_fault(f)
    if err then return fail(self, 400, "InvalidFault", err) end
  end
  for _, f in ipairs(list) do self.gw:set_fault(f) end
  return routes["GET faults"](self)
end

routes["DELETE faults"] = function(self, req, q)
  self.gw:clear_faults(q.action)
  return routes["GET faults"](self)
end

routes["POST qps"] = function(self, req, q, body)
  for k, v in pairs(q) do body[k] = v end
  for action, n in pairs(body) do
    if not tonumber(n) then return fail(self, 400, "InvalidParameter", "qps for " .. action .. " must be a number") end
  end
  self.gw:set_qps(body)
  return reply(self, 200, { qps = self.gw.qps })
end

routes["GET counters"] = function(self)
  local c = self.gw:counters_snapshot()
  if self.server_stats then c.http = self.server_stats() end
  local mc = model_fn(self.model, "counters")
  if mc then c.model = mc() end
  return reply(self, 200, c)
end

routes["POST counters/reset"] = function(self)
  self.gw:reset_counters()
  local reset = model_fn(self.model, "reset_counters", "reset_counts")
  if reset then reset() end
  return routes["GET counters"](self)
end

routes["GET jobs"] = function(self, req, q)
  local fn = model_fn(self.model, "jobs")
  if not fn then return fail(self, 501, "NotSupported", "the model has no job view") end
  return reply(self, 200, { jobs = fn() })
end

local function numbers(q, names)
  local f = {}
  for k, v in pairs(q) do f[k] = v end
  for _, k in ipairs(names) do
    if f[k] ~= nil then
      local n = tonumber(f[k])
      if not n then return nil, k .. " must be a number" end
      f[k] = math.tointeger(n) or n
    end
  end
  return f
end

-- ?product=&version=&online=true|false&group=&offset=&limit=
routes["GET devices"] = function(self, req, q)
  local fn = model_fn(self.model, "devices")
  if not fn then return fail(self, 501, "NotSupported", "the model has no device view") end
  local f, err = numbers(q, { "offset", "limit" })
  if not f then return fail(self, 400, "InvalidParameter", err) end
  if f.online ~= nil then f.online = f.online == "true" end
  return reply(self, 200, { devices = fn(f) })
end

routes["POST shutdown"] = function(self)
  if self.on_shutdown then self.on_shutdown() end
  return reply(self, 200, { stopping = true }, { stop = true })
end

-- Routes with an id: jobs/JOBID/tasks and jobs/JOBID.
local function job_route(self, method, rest, q, body)
  local id, sub = rest:match("^jobs/([^/]+)/?(.*)$")
  if not id then return nil end
  if method == "GET" and sub == "tasks" then
    local fn = model_fn(self.model, "tasks")
    if not fn then return fail(self, 501, "NotSupported", "the model has no task view") end
    local filter, ferr = numbers(q, { "offset", "limit" })
    if not filter then return fail(self, 400, "InvalidParameter", ferr) end
    local tasks, err = fn(id, filter)
    if not tasks then return fail(self, 404, "NotFound", err or ("no job " .. id)) end
    return reply(self, 200, { job_id = id, tasks = tasks })
  end
  if sub == "" and (method == "POST" or method == "GET") then
    if method == "POST" then
      local fn = model_fn(self.model, "update_job_admin")
      if not fn then return fail(self, 501, "NotSupported", "the model cannot edit jobs") end
      local ok, err = fn(id, body)
      if not ok then
        return fail(self, tostring(err):match("^no batch") and 404 or 400, "InvalidJobEdit", tostring(err))
      end
    end
    for _, job in ipairs(model_fn(self.model, "jobs")()) do
      if job.JobId == id then return reply(self, 200, { job = job }) end
    end
    return fail(self, 404, "NotFound", "no batch " .. id)
  end
  return nil
end

-- POST devices/PRODUCTKEY/NAME { version = "2.4.0" } and/or { online = true|false }: device events.
local function device_route(self, method, rest, body)
  local pk, name = rest:match("^devices/([^/]+)/([^/]+)$")
  if not pk or method ~= "POST" then return nil end
  if body.online ~= nil then
    local ok, err = model_fn(self.model, "set_online")(pk, name, body.online == true)
    if not ok then return fail(self, 404, "NotFound", tostring(err)) end
  end
  if body.version ~= nil then
    local ok, err = model_fn(self.model, "report_version")(pk, name, tostring(body.version))
    if not ok then return fail(self, 404, "NotFound", tostring(err)) end
  end
  return reply(self, 200, { product = pk, device = name, version = body.version, online = body.online })
end

-- handle(req) for a path under /_emulator/.
function Admin:handle(req)
  if not is_loopback(req.remote) then
    return fail(self, 403, "Forbidden", "the admin API answers loopback clients only")
  end
  local rest = req.path:sub(#M.PREFIX + 1):gsub("/$", "")
  local q, qerr = gateway.parse_form(req.query or "", {}, "query string")
  if not q then return fail(self, 400, "InvalidParameter", qerr) end
  local body, berr = decode_body(req)
  if not body then return fail(self, 400, "InvalidJson", berr) end
  local route = routes[req.method .. " " .. rest]
  local ok, s, h, b, o = pcall(function()
    if route then return route(self, req, q, body) end
    if rest:match("^jobs/") then return job_route(self, req.method, rest, q, body) end
    return device_route(self, req.method, rest, body)
  end)
  if not ok then
    io.stderr:write("otarun emulator: admin ", req.method, " ", req.path, " failed: ", tostring(s), "\n")
    return fail(self, 500, "InternalError", tostring(s))
  end
  if s then return s, h, b, o end
  local known = {}
  for k in pairs(routes) do known[#known + 1] = k end
  table.sort(known)
  known[#known + 1] = "GET jobs/ID/tasks"
  known[#known + 1] = "GET|POST jobs/ID"
  known[#known + 1] = "POST devices/PRODUCTKEY/NAME"
  return fail(self, 404, "NotFound", string.format("no admin route %s %s%s (routes: %s)",
    req.method, M.PREFIX, rest, table.concat(known, ", ")))
end

-- One handler for the server: /_emulator/... to the admin API, /_oss/... to the emulated object
-- storage (device list uploads, ops_device_list.lua), everything else to the gateway.
function M.router(gw, admin)
  local prefix, n = M.PREFIX, #M.PREFIX
  local device_list = require("otarun.emulator.ops_device_list")
  local oss, no = device_list.PREFIX, #device_list.PREFIX
  return function(req)
    if req.path:sub(1, n) == prefix then return admin:handle(req) end
    if req.path:sub(1, no) == oss then return device_list.upload(gw.model, req) end
    return gw:handle(req)
  end
end

return M
