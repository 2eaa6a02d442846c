-- Reading an operation's parameters as the gateway received them: a flat table of decoded strings
-- ("SrcVersion.1" = "2.3.1", "Tag.1.Key" = "env", "NeedPush" = "true"). Each reader raises the
-- platform's error when a value is missing or malformed, naming the parameter and what is allowed.
local errors = require("otarun.emulator.errors")

local M = {}

local Reader = {}
Reader.__index = Reader

function M.reader(raw)
  return setmetatable({ raw = raw or {} }, Reader)
end

local function present(v) return v ~= nil and v ~= "" end

function Reader:str(name)
  local v = self.raw[name]
  if present(v) then return tostring(v) end
  return nil
end

function Reader:req(name)
  local v = self:str(name)
  if v == nil then errors.missing(name) end
  return v
end

function Reader:has(name) return self:str(name) ~= nil end

-- Integer parameter; nil when absent (or default). Range errors name the allowed range.
function Reader:int(name, lo, hi, default)
  local v = self:str(name)
  if v == nil then return default end
  if not v:match("^%-?%d+$") then
    errors.fail("format", string.format("%s must be an integer, got %q.", name, v))
  end
  local n = math.tointeger(tonumber(v))
  if n == nil or (lo and n < lo) or (hi and n > hi) then
    errors.fail("format", string.format("%s must be between %s and %s, got %s.", name,
      tostring(lo), tostring(hi), v))
  end
  return n
end

-- Integer from a fixed set ({0, 10, 30, 60, 1440}).
function Reader:int_in(name, set, default)
  local n = self:int(name, nil, nil, nil)
  if n == nil then return default end
  for _, ok in ipairs(set) do
    if n == ok then return n end
  end
  local parts = {}
  for i, s in ipairs(set) do parts[i] = tostring(s) end
  errors.fail("format", string.format("%s must be one of %s, got %d.", name, table.concat(parts, ", "), n))
end

function Reader:bool(name, default)
  local v = self:str(name)
  if v == nil then return default end
  local l = v:lower()
  if l == "true" then return true end
  if l == "false" then return false end
  errors.fail("format", string.format("%s must be true or false, got %q.", name, v))
end

function Reader:enum(name, set, default)
  local v = self:str(name)
  if v == nil then return default end
  for _, ok in ipairs(set) do
    if v == ok then return v end
  end
  errors.fail("format", string.format("%s must be one of %s, got %q.", name, table.concat(set, ", "), v))
end

-- Repeat list "Name.1", "Name.2", ... in index order (gaps allowed, as the SDK skips nulls).
function Reader:list(name)
  local idx = {}
  local pat = "^" .. name:gsub("%.", "%%.") .. "%.(%d+)$"
  for k, v in pairs(self.raw) do
    local n = type(k) == "string" and k:match(pat)
    if n and present(v) then idx[#idx + 1] = { tonumber(n), tostring(v) } end
  end
  table.sort(idx, function(a, b) return a[1] < b[1] end)
  local out = {}
  for i, e in ipairs(idx) do out[i] = e[2] end
  return out
end

-- List with at most `max` unique entries.
function Reader:unique_list(name, max)
  local list = self:list(name)
  if max and #list > max then
    errors.fail("format", string.format("%s.N accepts at most %d values, got %d.", name, max, #list))
  end
  local seen = {}
  for _, v in ipairs(list) do
    if seen[v] then
      errors.fail("format", string.format("%s.N must not repeat a value: %q appears twice.", name, v))
    end
    seen[v] = true
  end
  return list
end

-- Characters of a UTF-8 string (bytes when it is not valid UTF-8): the platform's tag limits count
-- characters (docs/platform-assumptions.md, "Tags").
local function chars(s) return utf8.len(s) or #s end

-- Tags "Tag.N.Key"/"Tag.N.Value" (prefix "Tag"; UpdateOTAJob's are "Tags"): pairs, keys 1-30 of
-- [A-Za-z0-9.], values 1-1024 characters, at most 10, keys plus values <= 4096 characters.
function Reader:tags(prefix)
  local found = {}
  local pat = "^" .. prefix .. "%.(%d+)%.(%a+)$"
  for k, v in pairs(self.raw) do
    local n, field
    if type(k) == "string" then n, field = k:match(pat) end
    if n and (field == "Key" or field == "Value") then
      n = tonumber(n)
      found[n] = found[n] or {}
      found[n][field] = tostring(v)
    end
  end
  local order = {}
  for n in pairs(found) do order[#order + 1] = n end
  table.sort(order)
  local tags, total = {}, 0
  for _, n in ipairs(order) do
    local t = found[n]
    if not present(t.Key) or not present(t.Value) then
      errors.fail("format", string.format("%s.%d.Key and %s.%d.Value must be given together.",
        prefix, n, prefix, n))
    end
    if #t.Key > 30 or not t.Key:match("^[A-Za-z0-9.]+$") then
      errors.fail("format", string.format("%s.%d.Key must be 1 to 30 characters of letters, digits and periods, got %q.",
        prefix, n, t.Key))
    end
    local vchars = chars(t.Value)
    if vchars > 1024 then
      errors.fail("format", string.format("%s.%d.Value must be 1 to 1024 characters, got %d.", prefix, n, vchars))
    end
    total = total + #t.Key + vchars
    tags[#tags + 1] = { Key = t.Key, Value = t.Value }
  end
  if #tags > 10 then
    errors.fail("format", string.format("at most 10 tags are allowed, got %d.", #tags))
  end
  if total > 4096 then
    errors.fail("format", string.format("tag keys and values must total at most 4096 characters, got %d.", total))
  end
  return tags
end

-- CurrentPage / PageSize with the platform's bounds.
function Reader:paging(max_size, default_size, required)
  local page, size
  if required then self:req("CurrentPage"); self:req("PageSize") end
  local okp, p = pcall(self.int, self, "CurrentPage", nil, nil, 1)
  local oks, s = pcall(self.int, self, "PageSize", nil, nil, default_size)
  if not okp or not oks or p < 1 or s < 1 or s > max_size then
    errors.fail("page", string.format("CurrentPage must be >= 1 and PageSize between 1 and %d.", max_size))
  end
  page, size = p, s
  return page, size
end

return M
