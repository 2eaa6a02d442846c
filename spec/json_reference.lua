-- The Lua JSON writer otarun had before the writer moved to C (lua/otarun/json.lua over
-- src/l_json.c), kept as the specs' reference model: spec/json_spec.lua holds the two to the same
-- bytes on generated values. Marks and key order come from otarun.json itself.
local json = require("otarun.json")
local cjson = require("cjson")

local M = {}

local ARRAY, OBJECT, LAZY = json.ARRAY, json.OBJECT, {}
local ORDER = json.ORDER
local RANK = {}
for i, k in ipairs(ORDER) do RANK[k] = i end

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
              ["\r"] = "\\r", ["\t"] = "\\t" }
local function escape_char(c)
  return ESC[c] or string.format("\\u%04x", c:byte())
end

local function escaped(s)
  if s:find('[%c"\\]') then s = s:gsub('[%c"\\]', escape_char) end
  return s
end

local function quote(s)
  return '"' .. escaped(s) .. '"'
end

-- Integers as such; other numbers in the shorter of %.14g / %.17g that reads back the same.
M.quote, M.escaped = quote, escaped

local function number_text(n)
  if math.type(n) == "integer" then return string.format("%d", n) end
  if n ~= n or n == math.huge or n == -math.huge then error("JSON cannot hold " .. tostring(n), 0) end
  if n == math.floor(n) and math.abs(n) < 2^53 then return string.format("%d", math.tointeger(n)) end
  local s = string.format("%.14g", n)
  if tonumber(s) ~= n then s = string.format("%.17g", n) end
  return s
end

local encode_value

-- Newline-and-indent strings by depth, made once.
local pads = {}
local function pad_of(indent, depth, lead)
  local key = (lead or "") .. "\0" .. indent
  local cache = pads[key]
  if not cache then
    cache = {}
    pads[key] = cache
  end
  local p = cache[depth]
  if not p then
    p = (lead or "") .. "\n" .. string.rep(indent, depth)
    cache[depth] = p
  end
  return p
end

-- Keys in output order, as strings (a number key is written as its text). Most objects (API
-- parameters) have no ranked key: plain byte order, sorted by the C comparator, which matters at
-- 10,000 waves. st.sorted: byte order for every key; st.omit(key) -> true leaves a member out.
local function ordered_keys(st, t)
  local ranks, plain = nil, {}
  local omit, sorted = st.omit, st.sorted
  for k in pairs(t) do
    local tk = type(k)
    if tk == "number" then k = tostring(k)
    elseif tk ~= "string" then error("JSON object keys must be strings, got " .. tk, 0) end
    local r = not sorted and RANK[k]
    if omit and omit(k) then
      -- left out
    elseif r then
      ranks = ranks or {}
      ranks[#ranks + 1] = r
    else
      plain[#plain + 1] = k
    end
  end
  table.sort(plain)
  if ranks then table.sort(ranks) end
  local fixed = getmetatable(t)
  fixed = fixed and fixed.__json_order
  if fixed then
    -- the object's own order (M.ordered), then the keys it does not list
    local keys, listed = {}, {}
    for _, k in ipairs(fixed) do
      listed[k] = true
      if t[k] ~= nil and not (omit and omit(k)) then keys[#keys + 1] = k end
    end
    for _, r in ipairs(ranks or {}) do if not listed[ORDER[r]] then keys[#keys + 1] = ORDER[r] end end
    for _, k in ipairs(plain) do if not listed[k] then keys[#keys + 1] = k end end
    return keys
  end
  if not ranks then return plain end
  local keys = {}
  for i, r in ipairs(ranks) do keys[i] = ORDER[r] end
  for _, k in ipairs(plain) do keys[#keys + 1] = k end
  return keys
end

-- The encoder's state: buf holds pieces; with a sink, every 4096 pieces go out (sink(buf, n)),
-- so a large document never exists as one string nor as a million small ones.
local function emit(st, s)
  local n = st.n + 1
  st.buf[n] = s
  st.n = n
  if st.sink and n >= 4096 then
    st.sink(st.buf, n)
    st.n = 0
  end
end

-- Unmarked tables: an array when the keys are exactly 1..n (n > 0); empty: an array, or an object
-- with st.empty_object.
local function is_array(st, t)
  if t[1] == nil then return next(t) == nil and not st.empty_object end
  local n, count = #t, 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n
end

local function encode_table(st, t, depth)
  if depth > 64 then error("JSON nested deeper than 64 levels", 0) end
  local mt = getmetatable(t)
  if mt == LAZY then
    st.put = st.put or function(piece) emit(st, piece) end
    t.fn(st.put)
    return
  end
  local indent = st.indent
  local pad = indent and pad_of(indent, depth + 1) or ""
  local cpad = indent and pad_of(indent, depth + 1, ",") or ","
  local close = indent and pad_of(indent, depth) or ""
  if mt == ARRAY or (mt ~= OBJECT and is_array(st, t)) then
    local n = #t
    if n == 0 then emit(st, "[]") return end
    emit(st, "[")
    for i = 1, n do
      emit(st, i > 1 and cpad or pad)
      encode_value(st, t[i], depth + 1)
    end
    emit(st, close .. "]")
    return
  end
  local keys = ordered_keys(st, t)
  if #keys == 0 then emit(st, "{}") return end
  local sep = indent and ": " or ":"
  emit(st, "{")
  for i, k in ipairs(keys) do
    local qk = st.keys[k]
    if not qk then
      qk = quote(k) .. sep
      st.keys[k] = qk
    end
    local v = t[k]
    if v == nil then v = t[tonumber(k)] end
    if type(v) == "string" then
      -- the common case (API parameters): one piece per member
      emit(st, (i > 1 and cpad or pad) .. qk .. '"' .. escaped(v) .. '"')
    else
      emit(st, (i > 1 and cpad or pad) .. qk)
      encode_value(st, v, depth + 1)
    end
  end
  emit(st, close .. "}")
end

encode_value = function(st, v, depth)
  local t = type(v)
  if t == "string" then emit(st, quote(v))
  elseif t == "number" then emit(st, number_text(v))
  elseif t == "boolean" then emit(st, v and "true" or "false")
  elseif t == "table" then encode_table(st, v, depth)
  elseif v == nil or v == cjson.null then emit(st, "null")
  else error("JSON cannot hold a " .. t, 0) end
end

local function state(opts, sink)
  opts = opts or {}
  return { buf = {}, n = 0, indent = opts.indent, sorted = opts.sorted, omit = opts.omit,
    empty_object = opts.empty_object, sink = sink, keys = {} }
end

-- encode(value, opts) -> text. opts: indent = "  " (compact without), sorted = true (byte order
-- for every key), empty_object = true (unmarked empty tables as {}), omit = fn(key) -> true to
-- leave a member out (at any depth).
function M.encode(v, opts)
  local st = state(opts)
  encode_value(st, v, 0)
  return table.concat(st.buf, "", 1, st.n)
end

return M
