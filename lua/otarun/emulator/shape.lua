-- Response shapes: lists in response bodies carry ARRAY_MT so that an empty list is still sent as
-- `[]` (lua-cjson 2.1.0 encodes every empty table as `{}`), and to_json() encodes a body with that
-- rule (keys sorted, so bodies are byte-stable for tests). A list can also come as JSON texts
-- ready to send (raw_array, RAW_MT: one JSON object text per item), which the gateway's encoder
-- splices in as they are and expand() turns back into tables for in-process callers. Also the
-- paging block shared by the List* operations.
local cjson = require("cjson")
local answer_json = require("otarun.emulator.answer_json")

local M = {}

M.ARRAY_MT = { __name = "otarun.emulator.array" }
M.RAW_MT = { __name = "otarun.emulator.raw_json_array" }

function M.array(t)
  return setmetatable(t or {}, M.ARRAY_MT)
end

-- texts: list of JSON texts, one per item.
function M.raw_array(texts)
  return setmetatable(texts, M.RAW_MT)
end

-- pre .. texts joined by "," .. post, in few exactly sized allocations (answer_json.lua).
M.join = answer_json.join

-- Replaces every raw_array in body (in place) by an array of the decoded items; returns body.
function M.expand(body)
  for k, v in pairs(body) do
    if type(v) == "table" then
      if getmetatable(v) == M.RAW_MT then
        local list = M.array()
        for i = 1, #v do list[i] = cjson.decode(v[i]) end
        body[k] = list
      else
        M.expand(v)
      end
    end
  end
  return body
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
    if getmetatable(v) == M.RAW_MT then
      out[#out + 1] = M.join(v, "[", "]")
    elseif is_array(v) then
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
