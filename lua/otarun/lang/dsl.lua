-- The rollout language: `rollout`, `wave`, `firmware` and `var`, as globals of a script's
-- sandbox. They only collect what the script declares, with the line of each declaration; the
-- native validator (otarun.core.validate) judges and normalises it.
local M = {}

-- Line in the script of the caller of the DSL function that calls this.
local function caller_line()
  local info = debug.getinfo(3, "l")
  return info and info.currentline or 0
end

local function fail(msg) error(msg, 3) end

-- Names are printed in plans and logs: a control character (or a NUL, which C would cut the name
-- at) could fake output lines or terminal escapes (docs/trust.md).
local function plain_name(what, name)
  local at = name:find("%c")
  if at then
    error(string.format("%s name %q contains a control character (byte %d at offset %d); use letters, digits, '.', '_' and '-'",
      what, name, name:byte(at), at - 1), 3)
  end
end

-- Returns the globals for one script and the list that will receive its rollouts.
-- opts: file (script path), vars (table NAME -> string)
function M.globals(opts)
  local decls = {}
  local wave_lines = setmetatable({}, { __mode = "k" })
  local file = opts.file

  local function wave(name)
    local line = caller_line()
    if type(name) == "table" then
      wave_lines[name] = line
      return name
    end
    if type(name) ~= "string" then
      fail("wave expects a name: wave \"NAME\" { ... }, got " .. type(name))
    end
    plain_name("wave", name)
    return function(body)
      if type(body) ~= "table" then
        fail("wave \"" .. name .. "\" expects a table: wave \"" .. name .. "\" { ... }")
      end
      body.name = name
      wave_lines[body] = line
      return body
    end
  end

  local function collect(name, body, line)
    -- read raw and copied raw, here under the budgets: the validator then meets plain tables only
    local raw_copy = require("otarun.lang.sandbox").raw_copy
    local fields, waves = {}, {}
    local n = rawlen(body)
    for k, v in next, body do
      if math.type(k) == "integer" and k >= 1 and k <= n then
        -- the array part: the waves, in order
      elseif k ~= "name" then
        fields[k] = raw_copy(v)
      end
    end
    for i = 1, n do
      local w = rawget(body, i)
      if type(w) ~= "table" then
        error(string.format("%s:%d: rollout \"%s\": item %d of the wave list is a %s; write wave \"NAME\" { ... }",
          file, line, tostring(name), i, type(w)), 0)
      end
      local wfields = {}
      for k, v in next, w do
        if k ~= "name" then wfields[k] = raw_copy(v) end
      end
      waves[i] = { name = rawget(w, "name"), line = wave_lines[w] or line, fields = wfields }
    end
    decls[#decls + 1] = { name = name, file = file, line = line, fields = fields, waves = waves }
  end

  local function rollout(name)
    local line = caller_line()
    if type(name) == "table" then
      collect(name.name, name, line)
      return
    end
    if type(name) ~= "string" then
      fail("rollout expects a name: rollout \"NAME\" { ... }, got " .. type(name))
    end
    plain_name("rollout", name)
    return function(body)
      if type(body) ~= "table" then
        fail("rollout \"" .. name .. "\" expects a table: rollout \"" .. name .. "\" { ... }")
      end
      collect(name, body, line)
    end
  end

  local function firmware(spec)
    if type(spec) ~= "table" then
      fail("firmware expects a table: firmware { id = \"...\", version = \"...\" }")
    end
    return spec
  end

  local vars = opts.vars or {}
  local var = setmetatable({}, {
    __index = function(_, name)
      local v = vars[name]
      if v == nil then
        error(string.format("var.%s is not set: pass --var %s=VALUE, or write var(\"%s\", DEFAULT) for an optional one",
          tostring(name), tostring(name), tostring(name)), 2)
      end
      return v
    end,
    __call = function(_, name, default)
      local v = vars[name]
      if v == nil then return default end
      if math.type(default) ~= nil then
        local n = tonumber(v)
        if n == nil then error(string.format("--var %s=%s: expected a number", name, v), 2) end
        return n
      end
      if type(default) == "boolean" then return v == "true" or v == "1" or v == "yes" end
      return v
    end,
    __newindex = function() error("var is read-only", 2) end,
    __metatable = false,
  })

  return { rollout = rollout, wave = wave, firmware = firmware, var = var }, decls
end

return M
