-- The sandbox in which rollout scripts and policies run: an allow-listed environment
-- built fresh for each script, blocked functions that name themselves when called, text-only
-- loading, and the memory and instruction budgets enforced natively by otarun.core.sandbox.
local core = require("otarun.core.sandbox")

local M = {}

M.DEFAULT_MEMORY = 256 * 1024 * 1024
M.DEFAULT_INSTRUCTIONS = 1000000000

local function blocked(name)
  return function()
    error(name .. " is blocked in the otarun sandbox", 2)
  end
end

-- A table whose every field is a blocked function named after it (io.open, os.execute, ...).
local function blocked_library(libname, allowed)
  local lib = {}
  for k, v in pairs(allowed or {}) do lib[k] = v end
  return setmetatable(lib, {
    __index = function(_, key) return blocked(libname .. "." .. tostring(key)) end,
    __metatable = false,
  })
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- Strings share one metatable whose __index is the string library; scripts reach it through
-- ("").method, so it must not offer string.dump, and scripts may not replace it.
local safe_string = copy(string)
safe_string.dump = blocked("string.dump")

-- Lua's pattern matcher backtracks inside C, where the instruction budget's count hook cannot stop
-- it: ("a"):rep(3000):find(".-.-.-.-b") runs for hours. While a script runs, a pattern with q
-- repetition items over a subject of n bytes is refused when n^q (a bound on its backtracking)
-- passes 10^9; rollout scripts match short strings, so they never meet this.
local PATTERN_BUDGET = 1e9

local function repetitions(pattern)
  local q, i, n = 0, 1, #pattern
  while i <= n do
    local c = pattern:byte(i)
    if c == 37 then -- '%': the next character is literal (or a class), not a quantifier
      i = i + 2
    else
      if c == 42 or c == 43 or c == 45 or c == 63 then q = q + 1 end -- * + - ?
      i = i + 1
    end
  end
  return q
end

local function guard_pattern(name, fn)
  return function(s, pattern, a3, a4, ...)
    if core.active() and type(s) == "string" and type(pattern) == "string"
       and not (name == "find" and a4) then
      local q = repetitions(pattern)
      if q >= 2 and (#s) ^ q > PATTERN_BUDGET then
        error(string.format("string.%s: a pattern with %d repetitions over %d bytes could run without end; "
          .. "the otarun sandbox refuses it (match a shorter string, or use fewer repetitions)", name, q, #s), 2)
      end
    end
    return fn(s, pattern, a3, a4, ...)
  end
end
for _, name in ipairs({ "find", "match", "gmatch", "gsub" }) do
  safe_string[name] = guard_pattern(name, string[name])
end
do
  local mt = debug.getmetatable("") -- not getmetatable: once protected, it answers false
  mt.__index = safe_string
  mt.__metatable = false
end

local BASE = { "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
               "rawlen", "rawset", "select", "tonumber", "tostring", "type", "_VERSION" }

-- opts: now (epoch for os.time()/os.date()), print (function), dir (for require), globals (DSL)
function M.env(opts)
  opts = opts or {}
  local env = {}
  for _, k in ipairs(BASE) do env[k] = _G[k] end
  -- A __gc metamethod would run later, outside the budgets, in the host: refuse it.
  env.setmetatable = function(t, mt)
    if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
      error("setmetatable: __gc metamethods are blocked in the otarun sandbox", 2)
    end
    return setmetatable(t, mt)
  end
  -- A budget error is raised from the count hook, where hooks are off: the script's message
  -- handler must not run then, or it could loop unwatched.
  env.xpcall = function(f, msgh, ...)
    return xpcall(f, function(e)
      if core.tripped() then return e end
      return msgh(e)
    end, ...)
  end
  env.getmetatable = function(v)
    if type(v) == "string" then return nil end
    return getmetatable(v)
  end
  env.string = copy(safe_string)
  env.table = copy(table)
  env.math = copy(math)
  env.utf8 = copy(utf8)
  local now = opts.now
  env.os = blocked_library("os", {
    time = function(t) if t == nil and now then return now end return os.time(t) end,
    date = function(fmt, t) return os.date(fmt, t or now) end,
    clock = os.clock,
  })
  env.io = blocked_library("io")
  env.debug = blocked_library("debug")
  env.package = blocked_library("package")
  env.coroutine = blocked_library("coroutine")
  env.dofile = blocked("dofile")
  env.loadfile = blocked("loadfile")
  env.collectgarbage = function(what)
    if what == "count" then return collectgarbage("count") end
    error("collectgarbage(\"" .. tostring(what) .. "\") is blocked in the otarun sandbox; only \"count\" is allowed", 2)
  end
  env.load = function(chunk, name, mode, e)
    if mode ~= nil and mode ~= "t" then
      error("load: only text chunks are allowed in the otarun sandbox (mode \"t\")", 2)
    end
    if type(chunk) == "string" and chunk:byte(1) == 27 then
      return nil, "load: binary chunks are blocked in the otarun sandbox"
    end
    return load(chunk, name, "t", e == nil and env or e)
  end
  env.print = opts.print or function(...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    io.stderr:write(table.concat(parts, "\t", 1, parts.n), "\n")
  end
  local loaded = {}
  env.require = function(name)
    if type(name) ~= "string" or not name:match("^[%w_][%w_.]*$") then
      error("require: expected a module name like \"common\" or \"lib.waves\"", 2)
    end
    if loaded[name] ~= nil then return loaded[name] end
    if not opts.dir then error("require \"" .. name .. "\" is blocked here", 2) end
    local path = opts.dir .. "/" .. name:gsub("%.", "/") .. ".lua"
    local fh = io.open(path, "r")
    if not fh then
      error("require: no Lua file " .. path .. " (only Lua files beside the script can be required)", 2)
    end
    local text = fh:read("a")
    fh:close()
    local fn, err = load(text, "@" .. path, "t", env)
    if not fn then error(err, 0) end
    local result = fn(name)
    if result == nil then result = true end
    loaded[name] = result
    return result
  end
  for k, v in pairs(opts.globals or {}) do env[k] = v end
  env._G = env
  return env
end

-- Loads text as a chunk in env. Returns the function, or nil and the syntax error.
function M.load(text, chunkname, env)
  if type(text) == "string" and text:byte(1) == 27 then
    return nil, chunkname:gsub("^[@=]", "") .. ": binary chunks are not accepted; give Lua source"
  end
  return load(text, chunkname, "t", env)
end

-- Runs fn(...) under the budgets. Returns true, results... or false, message, traceback, kind.
function M.run(fn, limits, ...)
  limits = limits or {}
  return core.run(fn, { memory = limits.memory or M.DEFAULT_MEMORY,
                        instructions = limits.instructions or M.DEFAULT_INSTRUCTIONS }, ...)
end

return M
