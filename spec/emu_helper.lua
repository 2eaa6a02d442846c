-- Spec helper: a real `otarun emulator` on 127.0.0.1 with a manual clock and one known key, plus
-- what specs do with it: an otarun.platform.client pointed at it, the admin API (clock, faults, jobs,
-- drift edits), and the environment that makes `otarun plan|apply` talk to it. Shared by the
-- refresh/diff and apply specs. Uses helpers.lua, client_helpers.lua (start/stop by pid),
-- otarun.platform.client, otarun.platform.credentials, otarun.platform.ratelimit, otarun.core.http, cjson.
--
--   local emu = require("emu_helper")
--   local e = emu.start{ fleet = FLEET_TEXT }        -- or fleet_file = PATH; extra = { "--qps", "*=0" }
--   local c = e:client()                             -- otarun.platform.client with its own rate limiter
--   e:admin("POST", "clock/advance?seconds=60")      -- -> decoded JSON (asserts HTTP 200)
--   e:jobs()                                         -- the emulator's job list (admin view)
--   e:edit_job(job_id, { MaximumPerMinute = 800 })  -- drift behind otarun's back
--   e:fault{ action = "ListOTAJobByFirmware", status = 503, count = 1 }; e:clear_faults()
--   h.run({ "plan", f, "--endpoint", e.url }, { env = e:env() })
--   e:stop()
local h = require("helpers")
local ch = require("client_helpers")
local cjson = require("cjson")

local M = {}

M.KEY, M.SECRET = "LTAI5tEmuHelperKey", "emuHelperSecret-5f4e3d2c1b0a9988"
M.PRODUCT = "a1Le6d0abcd"

-- A small fleet: one product, two versions, a static and a dynamic group, verified firmware.
M.FLEET = [[
fleet {
  product = "a1Le6d0abcd",
  devices = {
    { version = "2.3.1", count = 20, groups = { "StaticGrp1" } },
    { version = "2.3.0", count = 20, groups = { "DynGrp1" } },
  },
  groups = { { id = "StaticGrp1", type = "static", name = "static-one" },
             { id = "DynGrp1", type = "dynamic", name = "dynamic-one" } },
  firmware = { { id = "fwHelper0001", version = "2.4.0", verified = true },
               { id = "fwHelper0002", version = "2.4.1", verified = true },
               { id = "fwHelper0003", version = "2.4.2", verified = true } },
  duration = { min = "5m", max = "40m" }, online = 1, seed = 7,
}
]]

local Emu = {}
Emu.__index = Emu

-- start{ fleet = text | nil, fleet_file = path | nil, extra = { args... } } -> emulator handle
function M.start(opts)
  opts = opts or {}
  local fleet = opts.fleet_file or h.write(os.tmpname() .. ".lua", opts.fleet or M.FLEET)
  local parts = { h.shell_quote(h.bin), "emulator", "--listen", "127.0.0.1:0", "--clock", "manual",
    "--fleet", h.shell_quote(fleet), "--key", h.shell_quote(M.KEY .. ":" .. M.SECRET) }
  for _, a in ipairs(opts.extra or {}) do parts[#parts + 1] = h.shell_quote(a) end
  local server = ch.start(table.concat(parts, " "))
  return setmetatable({ server = server, url = server.url, port = server.port, fleet_path = fleet }, Emu)
end

function Emu:stop()
  if self.server then self.server.stop() end
  self.server = nil
end

-- An otarun.platform.client for this emulator (own limiter, so specs do not share pacing state).
function Emu:client(opts)
  local o = { endpoint = self.url, credentials = require("otarun.platform.credentials").static{
      access_key_id = M.KEY, access_key_secret = M.SECRET },
    limiter = require("otarun.platform.ratelimit").new{} }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(require("otarun.platform.client").new(o))
end

-- Environment for running the otarun binary against this emulator.
function Emu:env(extra)
  local env = { ALIBABA_CLOUD_ACCESS_KEY_ID = M.KEY, ALIBABA_CLOUD_ACCESS_KEY_SECRET = M.SECRET,
    OTARUN_ENDPOINT = self.url, HOME = "/nonexistent-home", NO_COLOR = "1" }
  for k, v in pairs(extra or {}) do env[k] = v end
  return env
end

-- admin(method, "path?query", body_table|nil) -> decoded JSON; asserts HTTP 200.
function Emu:admin(method, path, body)
  local c = require("otarun.core.http").client()
  local r = assert(c:request{ method = method, url = self.url .. "/_emulator/" .. path,
    body = body and cjson.encode(body) or nil,
    headers = body and { ["content-type"] = "application/json" } or nil })
  c:close()
  assert(r.status == 200, "admin " .. method .. " " .. path .. ": HTTP " .. r.status .. " " .. r.body)
  return cjson.decode(r.body)
end

function Emu:jobs() return self:admin("GET", "jobs").jobs end
function Emu:job(id) return self:admin("GET", "jobs/" .. id).job end
function Emu:edit_job(id, fields) return self:admin("POST", "jobs/" .. id, fields).job end
function Emu:advance(seconds) return self:admin("POST", "clock/advance?seconds=" .. seconds) end
function Emu:fault(f) return self:admin("POST", "faults", f) end
function Emu:clear_faults() return self:admin("DELETE", "faults") end
function Emu:counters() return self:admin("GET", "counters") end
function Emu:reset_counters() return self:admin("POST", "counters/reset") end

return M
