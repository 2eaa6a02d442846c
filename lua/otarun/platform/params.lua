-- Flattening nested request parameters into the string map that is sent (alibaba-api.md §1.5, the
-- SDK's OpenApiUtil.query()): lists become Key.1, Key.2, ...; objects Key.Sub; booleans "true" /
-- "false"; integers their decimal text. Uses otarun.core.sign.flatten when the native signer
-- provides it; the Lua version below is the reference the planner's specs pin down.
local M = {}

local function scalar_text(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" then
    if math.type(v) == "integer" then return string.format("%d", v) end
    if v == math.floor(v) and v > -2^53 and v < 2^53 then return string.format("%d", math.tointeger(v)) end
    return string.format("%.17g", v)
  end
  error("cannot send a " .. t .. " as an API parameter", 3)
end
M.text = scalar_text

-- NAME[prefix][key] = prefix .. "." .. key, made once: the planner flattens the same few names
-- (SrcVersion.1, Tag.2.Key, ...) for every wave.
local NAME = setmetatable({}, { __index = function(cache, prefix)
  local sub = setmetatable({}, { __index = function(t, key)
    local s = prefix .. "." .. key
    t[key] = s
    return s
  end })
  cache[prefix] = sub
  return sub
end })

local function flatten_into(out, prefix, v)
  local t = type(v)
  if t == "string" then
    out[prefix] = v
  elseif t ~= "table" then
    out[prefix] = scalar_text(v)
  else
    local names = NAME[prefix]
    local n = #v
    if n > 0 then
      for i = 1, n do
        local item = v[i]
        if item ~= nil then flatten_into(out, names[i], item) end
      end
    else
      for k, sub in pairs(v) do flatten_into(out, names[k], sub) end
    end
  end
end

-- { FirmwareId = "x", SrcVersion = { "1", "2" }, Tag = { { Key = "k", Value = "v" } } }
--   -> { FirmwareId = "x", ["SrcVersion.1"] = "1", ["SrcVersion.2"] = "2", ["Tag.1.Key"] = "k", ... }
function M.flatten_lua(request)
  local out = {}
  for k, v in pairs(request) do
    if type(v) == "string" then out[k] = v else flatten_into(out, k, v) end
  end
  return out
end

do
  local ok, sign = pcall(require, "otarun.core.sign")
  M.flatten = ok and type(sign) == "table" and sign.flatten or M.flatten_lua
end

-- Parameter names in reading order: "Tag.2.Key" before "Tag.10.Key" (numeric parts compare as
-- numbers). The wire order (plain bytes) is the signer's business.
local function natural_less(a, b)
  local ia, ib = 1, 1
  while true do
    local pa = a:match("^[^.]*", ia)
    local pb = b:match("^[^.]*", ib)
    if pa ~= pb then
      local na, nb = tonumber(pa), tonumber(pb)
      if na and nb then return na < nb end
      return pa < pb
    end
    ia, ib = ia + #pa + 1, ib + #pb + 1
    if ia > #a + 1 or ib > #b + 1 then return #a < #b end
  end
end
M.natural_less = natural_less

function M.sorted_names(params)
  local names, multi_digit = {}, false
  for k in pairs(params) do
    names[#names + 1] = k
    if not multi_digit and k:find("%.%d%d") then multi_digit = true end
  end
  -- byte order is reading order unless some index has two digits (Tag.10 before Tag.2)
  table.sort(names, multi_digit and natural_less or nil)
  return names
end

return M
