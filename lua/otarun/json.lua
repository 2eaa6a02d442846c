-- A small deterministic JSON encoder for otarun's documents (the plan, diagnostics): objects keep a
-- fixed key order (known keys first, in the order SPEC §7a shows them, then the rest sorted by
-- bytes), so output is stable for specs, diffs and reviews. cjson's own encoder has no key order
-- and escapes "/"; cjson.null is still the null value here.
local cjson = require("cjson")

local M = {}

M.null = cjson.null

local ARRAY, OBJECT = {}, {}
-- Marks an empty (or any) table as a JSON array / object; without a mark, a table with t[1] is an
-- array and an empty table is an array.
function M.array(t) return setmetatable(t or {}, ARRAY) end
function M.object(t) return setmetatable(t or {}, OBJECT) end

-- Key order: lower rank first; keys without a rank after them, sorted by bytes.
local ORDER = {
  "format_version", "generated_at", "mode", "now", "state_fingerprint",
  "name", "policy", "severity", "rule", "level", "passed", "overridden", "message",
  "product", "region", "instance", "file", "line", "rollout", "wave", "param",
  "firmware", "id", "version", "type", "src_version", "size", "files", "verified",
  "kind", "status", "action", "reason", "job_id", "earliest_start", "calls", "params",
  "create", "update", "replace", "cancel", "wait", "errors", "warnings",
  "rollouts", "waves", "diagnostics", "policies", "summary",
}
local RANK = {}
for i, k in ipairs(ORDER) do RANK[k] = i end

local function key_less(a, b)
  local ra, rb = RANK[a], RANK[b]
  if ra and rb then return ra < rb end
  if ra or rb then return ra ~= nil end
  return a < b
end

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
              ["\r"] = "\\r", ["\t"] = "\\t" }
local function escape_char(c)
  return ESC[c] or string.format("\\u%04x", c:byte())
end

local function quote(s)
  if s:find('[%c"\\]') then s = s:gsub('[%c"\\]', escape_char) end
  return '"' .. s .. '"'
end
M.quote = quote

local function number_text(n)
  if math.type(n) == "integer" then return string.format("%d", n) end
  if n ~= n or n == math.huge or n == -math.huge then error("JSON cannot hold " .. tostring(n), 0) end
  if n == math.floor(n) and math.abs(n) < 2^53 then return string.format("%d", math.tointeger(n)) end
  return string.format("%.17g", n)
end

local encode_value

local function encode_table(buf, t, indent, depth)
  local mt = getmetatable(t)
  local pad = indent and ("\n" .. string.rep(indent, depth + 1)) or ""
  local close = indent and ("\n" .. string.rep(indent, depth)) or ""
  local sep = indent and ": " or ":"
  if mt == ARRAY or (mt ~= OBJECT and (t[1] ~= nil or next(t) == nil)) then
    local n = #t
    if n == 0 then buf[#buf + 1] = "[]" return end
    buf[#buf + 1] = "["
    for i = 1, n do
      buf[#buf + 1] = (i > 1 and "," or "") .. pad
      encode_value(buf, t[i], indent, depth + 1)
    end
    buf[#buf + 1] = close .. "]"
    return
  end
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then error("JSON object keys must be strings, got " .. type(k), 0) end
    keys[#keys + 1] = k
  end
  if #keys == 0 then buf[#buf + 1] = "{}" return end
  table.sort(keys, key_less)
  buf[#buf + 1] = "{"
  for i, k in ipairs(keys) do
    buf[#buf + 1] = (i > 1 and "," or "") .. pad .. quote(k) .. sep
    encode_value(buf, t[k], indent, depth + 1)
  end
  buf[#buf + 1] = close .. "}"
end

encode_value = function(buf, v, indent, depth)
  local t = type(v)
  if t == "string" then buf[#buf + 1] = quote(v)
  elseif t == "number" then buf[#buf + 1] = number_text(v)
  elseif t == "boolean" then buf[#buf + 1] = v and "true" or "false"
  elseif t == "table" then encode_table(buf, v, indent, depth)
  elseif v == nil or v == cjson.null then buf[#buf + 1] = "null"
  else error("JSON cannot hold a " .. t, 0) end
end

-- encode(value, { indent = "  " }) -> text (compact without indent)
function M.encode(v, opts)
  local buf = {}
  encode_value(buf, v, opts and opts.indent, 0)
  return table.concat(buf)
end

function M.decode(text)
  return cjson.decode(text)
end

return M
