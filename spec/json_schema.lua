-- A small JSON Schema checker for the specs: the subset docs/schema/*.schema.json use (type with
-- null, properties, required, items, enum, const, additionalProperties). Values come from cjson
-- (cjson.null is null; an empty table is taken as either an array or an object).
local cjson = require("cjson")

local M = {}

local function json_type(v)
  if v == cjson.null or v == nil then return "null" end
  local t = type(v)
  if t == "string" or t == "boolean" then return t end
  if t == "number" then return math.type(v) == "integer" and "integer" or (v == math.floor(v) and "integer" or "number") end
  if t == "table" then
    if next(v) == nil then return "empty" end
    return (v[1] ~= nil or #v > 0) and "array" or "object"
  end
  return t
end

local function type_ok(want, got)
  if want == got then return true end
  if want == "number" and got == "integer" then return true end
  if got == "empty" and (want == "array" or want == "object") then return true end
  return false
end

local function check(schema, v, path, errs)
  local got = json_type(v)
  if schema.type then
    local types = type(schema.type) == "table" and schema.type or { schema.type }
    local ok = false
    for _, t in ipairs(types) do ok = ok or type_ok(t, got) end
    if not ok then
      errs[#errs + 1] = string.format("%s: want %s, got %s", path, table.concat(types, "|"), got)
      return
    end
  end
  if schema.const ~= nil and v ~= schema.const then
    errs[#errs + 1] = string.format("%s: want %s, got %s", path, tostring(schema.const), tostring(v))
  end
  if schema.enum then
    local ok = false
    for _, e in ipairs(schema.enum) do ok = ok or e == v or (e == cjson.null and got == "null") end
    if not ok then errs[#errs + 1] = string.format("%s: %s is not one of the allowed values", path, tostring(v)) end
  end
  if got == "object" or (got == "empty" and schema.properties) then
    for _, k in ipairs(schema.required or {}) do
      if v[k] == nil then errs[#errs + 1] = path .. ": missing " .. k end
    end
    for k, x in pairs(v) do
      local sub = schema.properties and schema.properties[k] or schema.additionalProperties
      if type(sub) == "table" then check(sub, x, path .. "." .. k, errs) end
    end
  elseif got == "array" and schema.items then
    for i, x in ipairs(v) do check(schema.items, x, path .. "[" .. i .. "]", errs) end
  end
end

-- validate(schema_table, value) -> list of problems (empty when the value conforms)
function M.validate(schema, v)
  local errs = {}
  check(schema, v, "$", errs)
  return errs
end

return M
