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

-- A whole file's bytes. -> text | nil, message
function M.read_file(path)
  local fh <close>, err = io.open(path, "rb")
  if not fh then return nil, err end
  return fh:read("a")
end

-- Writes a whole file (created or truncated). -> true | nil, message
function M.write_file(path, text)
  local fh <close>, err = io.open(path, "wb")
  if not fh then return nil, err end
  local ok, werr = fh:write(text)
  if not ok then return nil, werr end
  return true
end

-- Appends each argument to the list L, in order (lines of a generated text). -> L
function M.append(L, ...)
  for i = 1, select("#", ...) do L[#L + 1] = (select(i, ...)) end
  return L
end

-- { "a", "b" } -> { a = true, b = true }
function M.set_of(list)
  local set = {}
  for _, v in ipairs(list) do set[v] = true end
  return set
end

-- Sorts a list of tables by one field, in place. -> the list
function M.sort_by(list, field)
  table.sort(list, function(a, b) return a[field] < b[field] end)
  return list
end

function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- Times and durations are parsed and formatted by the native validator, so scripts, flags and
-- output agree on one grammar (RFC 3339; "90s", "1h30m", "2d").
local native = require("otarun.core.validate")

-- "2026-12-01T02:00:00+08:00" -> epoch, offset | nil, msg
function M.parse_time(s)
  if type(s) ~= "string" then return nil, "expected an RFC 3339 time string" end
  return native.parse_time(s)
end

-- Formats an epoch as RFC 3339 at the given offset (seconds east of UTC; 0 gives "Z").
function M.format_time(epoch, offset)
  return native.format_time(math.floor(epoch), offset or 0)
end

-- "1h30m" -> 5400 | nil, msg
function M.parse_duration(s)
  if type(s) ~= "string" then return nil, "expected a duration like 90s, 30m, 24h, 2d, 1h30m" end
  return native.parse_duration(s)
end

-- The one duration formatter for people: "30s", "45m", "1h30m", "24h" and "48h" (whole hours
-- under 3 days read better than "1d"), "1d12h"; at most the two largest units, whole seconds.
function M.format_duration(secs)
  secs = math.floor(secs)
  if secs < 60 then return secs .. "s" end
  if secs % 3600 == 0 and secs < 3 * 86400 then return (secs // 3600) .. "h" end
  local parts = {}
  for _, u in ipairs({ { 86400, "d" }, { 3600, "h" }, { 60, "m" }, { 1, "s" } }) do
    if secs >= u[1] and #parts < 2 then
      parts[#parts + 1] = (secs // u[1]) .. u[2]
      secs = secs % u[1]
    elseif #parts > 0 then
      break -- a zero unit ends it: "1d" + "5m" would skip the hours
    end
  end
  return table.concat(parts)
end

-- The earliest epoch >= t inside a normalised window (t itself when inside), or nil, msg.
M.next_window_open = native.next_window_open

return M
