-- Flattening nested request parameters into the string map that is sent (as the SDK's
-- OpenApiUtil.query() does): lists become Key.1, Key.2, ...; objects Key.Sub;
-- booleans "true" / "false"; integers their decimal text. The flattening is the native signer's
-- (otarun.core.sign.flatten); scalar_text is the same rule for one value.
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

-- { FirmwareId = "x", SrcVersion = { "1", "2" }, Tag = { { Key = "k", Value = "v" } } }
--   -> { FirmwareId = "x", ["SrcVersion.1"] = "1", ["SrcVersion.2"] = "2", ["Tag.1.Key"] = "k", ... }
M.flatten = require("otarun.core.sign").flatten

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
