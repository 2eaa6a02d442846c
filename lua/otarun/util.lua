-- Small helpers shared by the Lua half: edit distance suggestions, sorted keys, RFC 3339 time.
local M = {}

-- Edit distance with adjacent transpositions (optimal string alignment), for "did you mean".
function M.distance(a, b)
  local la, lb = #a, #b
  if la == 0 then return lb end
  if lb == 0 then return la end
  local d = {}
  for i = 0, la do d[i] = { [0] = i } end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    local ca = a:byte(i)
    for j = 1, lb do
      local cb = b:byte(j)
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + ((ca == cb) and 0 or 1))
      if i > 1 and j > 1 and ca == b:byte(j - 1) and a:byte(i - 1) == cb then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end

-- The candidate closest to name, if close enough to be a plausible typo.
function M.closest(name, candidates)
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = M.distance(name, c)
    if not best_d or d < best_d or (d == best_d and c < best) then best, best_d = c, d end
  end
  if best and best_d <= math.max(2, #name // 3) then return best end
  return nil
end

function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- Days from 1970-01-01 for a civil date (Howard Hinnant's algorithm); no dependence on TZ.
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
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

-- Parses RFC 3339 ("2026-12-01T02:00:00+08:00", "...Z", fractions allowed). -> epoch, offset | nil, msg
function M.parse_time(s)
  if type(s) ~= "string" then return nil, "expected an RFC 3339 time string" end
  local y, mo, d, h, mi, sec, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil, "not an RFC 3339 time (like 2026-12-01T02:00:00+08:00): " .. s end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  rest = rest:gsub("^%.%d+", "")
  local offset
  if rest == "Z" or rest == "z" then offset = 0
  else
    local sign, oh, om = rest:match("^([+-])(%d%d):(%d%d)$")
    if not sign then return nil, "time needs a zone, Z or +hh:mm: " .. s end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1)
  end
  local mdays = { 31, (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  if mo < 1 or mo > 12 or d < 1 or d > mdays[mo] or h > 23 or mi > 59 or sec > 60 then
    return nil, "not a valid date and time: " .. s
  end
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset, offset
end

-- Formats an epoch as RFC 3339 at the given offset (seconds east of UTC; 0 gives "Z").
function M.format_time(epoch, offset)
  offset = offset or 0
  local t = math.floor(epoch) + offset
  local days, secs = t // 86400, t % 86400
  local y, m, d = civil_from_days(days)
  local zone = "Z"
  if offset ~= 0 then
    local a = math.abs(offset)
    zone = string.format("%s%02d:%02d", offset < 0 and "-" or "+", a // 3600, (a % 3600) // 60)
  end
  return string.format("%04d-%02d-%02dT%02d:%02d:%02d%s", y, m, d, secs // 3600, (secs % 3600) // 60, secs % 60, zone)
end

-- "1h30m" -> 5400 | nil, msg
function M.parse_duration(s)
  if type(s) ~= "string" or s == "" then return nil, "expected a duration like 90s, 30m, 24h, 2d, 1h30m" end
  local total, pos, last_rank = 0, 1, 0
  local ranks = { d = 1, h = 2, m = 3, s = 4 }
  local mult = { d = 86400, h = 3600, m = 60, s = 1 }
  while pos <= #s do
    local num, unit, nxt = s:match("^(%d+)([dhms])()", pos)
    if not num or ranks[unit] <= last_rank then
      return nil, "not a duration (like 90s, 30m, 24h, 2d, 1h30m): " .. s
    end
    total, pos, last_rank = total + tonumber(num) * mult[unit], nxt, ranks[unit]
  end
  if total <= 0 then return nil, "a duration must be positive: " .. s end
  return total
end

function M.format_duration(secs)
  if secs == 0 then return "0s" end
  local parts = {}
  for _, u in ipairs({ { 86400, "d" }, { 3600, "h" }, { 60, "m" }, { 1, "s" } }) do
    if secs >= u[1] then
      parts[#parts + 1] = (secs // u[1]) .. u[2]
      secs = secs % u[1]
    end
  end
  return table.concat(parts)
end

-- Lua fallback for otarun.core.validate.next_window_open, same contract: the earliest epoch >= t
-- inside window { days = {[1..7] = bool} (1 = Monday), from, to (minutes of local day), tz }, t
-- itself when inside, nil and a message when no day is allowed. to <= from crosses midnight (it belongs to the
-- day it opens on); to == from is a whole day.
function M.next_window_open_lua(window, t)
  local days, tz = window.days or {}, window.tz or 0
  local from, to = window.from * 60, window.to * 60
  local span = to - from
  if span <= 0 then span = span + 86400 end
  local loc = t + tz
  local d = loc // 86400
  local function allowed(day) return days[(day + 3) % 7 + 1] == true end
  for day = d - 1, d do
    local open = day * 86400 + from
    if allowed(day) and open <= loc and loc < open + span then return t end
  end
  for day = d, d + 7 do
    local open = day * 86400 + from
    if allowed(day) and open > loc then return open - tz end
  end
  return nil, "the window has no days"
end

-- The native version when otarun.core.validate provides it, else the Lua fallback.
function M.next_window_open(window, t)
  local ok, v = pcall(require, "otarun.core.validate")
  if ok and type(v) == "table" and v.next_window_open then
    M.next_window_open = v.next_window_open
  else
    M.next_window_open = M.next_window_open_lua
  end
  return M.next_window_open(window, t)
end

return M
