-- JSON text of API answers, fast: lua-cjson does the encoding in C, with two additions it lacks.
-- Empty lists marked as arrays come out as [] (cjson 2.1.0 writes every empty table as {}), and
-- lists marked as raw hold JSON texts made earlier (one per item, e.g. cached task views) that
-- are spliced in as they are. join() builds the spliced text with few, exactly sized
-- allocations. Uses cjson; used by gateway.lua (encoder) and shape.lua (join).
local cjson = require("cjson")

local M = {}

-- join(texts, pre, post) -> pre .. texts[1] .. "," .. ... .. texts[n] .. post, with few and
-- exactly sized allocations: one Lua concatenation of many operands sizes its result once, where
-- table.concat grows a buffer step by step (about three times the text in allocations). A page of
-- task views is tens of KB and every byte allocated is work for the collector, so this is the
-- gateway's hot path. The function for n texts is generated once; operands go in groups of
-- JOIN_GROUP because the parser recurses once per operand of a `..` chain.
local JOIN_MAX, JOIN_GROUP = 200, 25
local joiners = {}
local function joiner(n)
  local f = joiners[n]
  if f then return f end
  local parts = { "local t, pre, post = ...\nreturn pre" }
  for i = 1, n do
    local first, last = (i - 1) % JOIN_GROUP == 0, i % JOIN_GROUP == 0 or i == n
    parts[#parts + 1] = (i > 1 and ' .. "," .. ' or " .. ") .. (first and "(" or "") .. "t[" .. i .. "]" .. (last and ")" or "")
  end
  parts[#parts + 1] = " .. post\n"
  f = assert(load(table.concat(parts), "=answer_json.join" .. n))
  joiners[n] = f
  return f
end

function M.join(texts, pre, post)
  local n = #texts
  if n == 0 then return pre .. post end
  if n > JOIN_MAX then return pre .. table.concat(texts, ",") .. post end
  return joiner(n)(texts, pre, post)
end

-- JSON for the model's answers at C speed: lua-cjson 2.1.0 writes every empty table as {}, so
-- empty lists the model marked with its array metatable are swapped for a sentinel string during
-- the encode and the sentinel's text is replaced by [] afterwards. Lists marked with raw_mt hold
-- JSON texts made by the model (one per item, kept between requests); they are swapped for a
-- numbered sentinel and spliced in as they are, so a page of task views is not encoded again.
-- Keys come out in hash order.
local EMPTY = "\0otarunEmptyArray\0" -- no pattern magic characters in its JSON text
local EMPTY_JSON = cjson.encode(EMPTY)
-- raw_sentinel(i) -> the i-th sentinel string and its JSON text
local RAW, RAW_JSON = {}, {}
local function raw_sentinel(i)
  if not RAW[i] then
    RAW[i] = "\0otarunRawList" .. i .. "\0"
    RAW_JSON[i] = cjson.encode(RAW[i])
  end
  return RAW[i]
end

function M.encoder(array_mt, raw_mt)
  local join = M.join
  local function mark(t, swaps, raws)
    for k, v in pairs(t) do
      if type(v) == "table" then
        local mt = getmetatable(v)
        if raw_mt and mt == raw_mt then
          raws[#raws + 1] = v
          swaps[#swaps + 1] = t
          swaps[#swaps + 1] = k
          swaps[#swaps + 1] = v
          t[k] = raw_sentinel(#raws)
        elseif next(v) == nil and mt == array_mt then
          swaps[#swaps + 1] = t
          swaps[#swaps + 1] = k
          swaps[#swaps + 1] = v
          t[k] = EMPTY
        else
          mark(v, swaps, raws)
        end
      end
    end
  end
  return function(body)
    local swaps, raws = {}, {}
    mark(body, swaps, raws)
    local text = cjson.encode(body)
    for i = 1, #swaps, 3 do swaps[i][swaps[i + 1]] = swaps[i + 2] end
    if #swaps > 3 * #raws then text = text:gsub(EMPTY_JSON, "[]") end
    for i = 1, #raws do
      local at, stop = text:find(RAW_JSON[i], 1, true)
      text = join(raws[i], text:sub(1, at - 1) .. "[", "]" .. text:sub(stop + 1))
    end
    return text
  end
end

return M
