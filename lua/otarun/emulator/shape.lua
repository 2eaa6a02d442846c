-- Response shapes: lists in response bodies carry ARRAY_MT so that an empty list is still sent as
-- `[]` (lua-cjson 2.1.0 encodes every empty table as `{}`), and to_json() encodes a body with that
-- rule (keys sorted, so bodies are byte-stable for tests). Also the paging block shared by the
-- List* operations.
local cjson = require("cjson")

local M = {}

M.ARRAY_MT = { __name = "otarun.emulator.array" }

function M.array(t)
  return setmetatable(t or {}, M.ARRAY_MT)
end

local function is_array(v)
  if getmetatable(v) == M.ARRAY_MT then return true end
  local n = #v
  if n == 0 then return false end
  local count = 0
  for _ in pairs(v) do count = count + 1 end
  return count == n
end

local function encode(v, out)
  local tv = type(v)
  if tv == "table" then
    if is_array(v) then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = (cjson.encode(k):gsub("\\/", "/"))
        out[#out + 1] = ":"
        local val = v[k]
        if val == nil then val = v[tonumber(k)] end
        encode(val, out)
      end
      out[#out + 1] = "}"
    end
  elseif tv == "number" then
    if math.type(v) == "integer" then out[#out + 1] = string.format("%d", v)
    else out[#out + 1] = cjson.encode(v) end
  elseif tv == "string" then
    out[#out + 1] = (cjson.encode(v):gsub("\\/", "/"))   -- cjson escapes "/"; the platform does not
  elseif tv == "boolean" then
    out[#out + 1] = tostring(v)
  else
    out[#out + 1] = "null"
  end
end

-- JSON text of a response body; tables with ARRAY_MT become arrays even when empty.
function M.to_json(v)
  local out = {}
  encode(v, out)
  return table.concat(out)
end

-- Paging fields of a List* response.
function M.paging(body, total, page, size)
  body.Total = total
  body.PageSize = size
  body.CurrentPage = page
  body.PageCount = (total + size - 1) // size
  return body
end

return M
