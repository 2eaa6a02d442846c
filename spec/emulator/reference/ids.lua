-- Reference model (spec/emulator/model_equiv_spec.lua): lua/otarun/emulator/ids.lua before the C fleet core.
-- Determinism for the emulator: a seeded generator for identifiers (FirmwareId, JobId, RequestId,
-- ...) and a stateless hash that turns (seed, what, who, attempt) into a number in [0, 1), so a
-- device's failure, duration or gray selection never depends on the order events ran in. Also the
-- platform's time format (UTC with milliseconds).
local M = {}

-- splitmix64 finaliser; Lua 5.4 integers wrap, `>>` is a logical shift.
local function mix(x)
  x = (x ~ (x >> 30)) * 0xbf58476d1ce4e5b9
  x = (x ~ (x >> 27)) * 0x94d049bb133111eb
  return x ~ (x >> 31)
end
M.mix = mix

local GOLDEN = 0x9e3779b97f4a7c15
local TO_UNIT = 2.0 ^ -53

-- hash01(seed, a, b, c) -> [0, 1); a, b, c integers (what, who, attempt).
function M.hash01(seed, a, b, c)
  local h = mix(seed * GOLDEN + a)
  h = mix(h + (b or 0) * GOLDEN)
  h = mix(h + (c or 0))
  return (h >> 11) * TO_UNIT
end

-- Generator for identifiers: its own stream, so ids do not disturb the simulation.
local Gen = {}
Gen.__index = Gen

function M.generator(seed)
  return setmetatable({ s = mix(seed + 0x5bd1e995) }, Gen)
end

function Gen:next()
  self.s = self.s + GOLDEN
  return mix(self.s)
end

local ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
local HEX = "0123456789ABCDEF"

function Gen:alnum(n)
  local out, x, left = {}, 0, 0
  for i = 1, n do
    if left == 0 then x, left = self:next() >> 4, 10 end
    local k = x % 62
    x = x // 62
    left = left - 1
    out[i] = ALNUM:sub(k + 1, k + 1)
  end
  return table.concat(out)
end

function Gen:hex(n)
  local out, x, left = {}, 0, 0
  for i = 1, n do
    if left == 0 then x, left = self:next(), 16 end
    local k = x & 15
    x = x >> 4
    left = left - 1
    out[i] = HEX:sub(k + 1, k + 1)
  end
  return table.concat(out)
end

-- 8-4-4-4-12 upper-case hex, like the platform's RequestId.
function Gen:uuid()
  return self:hex(8) .. "-" .. self:hex(4) .. "-" .. self:hex(4) .. "-" .. self:hex(4) .. "-" .. self:hex(12)
end

local function civil_from_days(z)
  z = z + 719468
  local era = (z >= 0 and z or z - 146096) // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp + (mp < 10 and 3 or -9)
  return (m <= 2) and y + 1 or y, m, d
end

-- epoch seconds (may be fractional) -> "2019-12-28T02:43:10.000Z"
function M.utc(epoch)
  if epoch == nil then return nil end
  local ms = math.floor(epoch * 1000 + 0.5)
  local t, frac = ms // 1000, ms % 1000
  local days, secs = t // 86400, t % 86400
  local y, m, d = civil_from_days(days)
  return string.format("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, secs // 3600,
    (secs % 3600) // 60, secs % 60, frac)
end

-- "Tue, 10 May 2019 02:18:53 GMT" style, for QueryDeviceDetail's Gmt* fields.
local WD = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed" }
local MON = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" }
function M.gmt(epoch)
  if epoch == nil then return nil end
  local t = math.floor(epoch)
  local days, secs = t // 86400, t % 86400
  local y, m, d = civil_from_days(days)
  return string.format("%s, %02d %s %04d %02d:%02d:%02d GMT", WD[days % 7 + 1], d, MON[m], y,
    secs // 3600, (secs % 3600) // 60, secs % 60)
end

return M
