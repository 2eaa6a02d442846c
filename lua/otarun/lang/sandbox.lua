-- The sandbox in which rollout scripts and policies run: an allow-listed environment
-- built fresh for each script, blocked functions that name themselves when called, text-only
-- loading, and the memory and instruction budgets enforced natively by otarun.core.sandbox.
local core = require("otarun.core.sandbox")

local M = {}
core.trust(debug.getinfo(1, "S").short_src)

M.DEFAULT_MEMORY = 256 * 1024 * 1024
M.DEFAULT_INSTRUCTIONS = 1000000000
M.DEFAULT_SECONDS = 5 -- --max-seconds (docs/sandbox.md); set for the whole process by the CLI

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

-- Lua's pattern matcher backtracks inside C, where the count hook cannot stop it:
-- ("a"):rep(3000):find(".-.-.-.-b") runs for hours. Each repetition item (* + - ?), balance
-- (%b) or back-reference (%1-%9) can multiply the work by the subject's length n, and an unanchored
-- pattern is tried at every start: while a script runs, a pattern with k such items is refused when
-- n^(k+1) (n^k when anchored with ^) passes 10^9. Rollout scripts match short strings, so they
-- never meet this (docs/sandbox.md).
local PATTERN_BUDGET = 1e9

local function pattern_items(pattern)
  local k, i, n = 0, 1, #pattern
  while i <= n do
    local c = pattern:byte(i)
    if c == 37 then -- '%': the next character is literal (or a class), not a quantifier
      local d = pattern:byte(i + 1)
      if d == 98 or (d and d >= 49 and d <= 57) then k = k + 1 end -- %b, %1-%9
      i = i + 2
    else
      if c == 42 or c == 43 or c == 45 or c == 63 then k = k + 1 end -- * + - ?
      i = i + 1
    end
  end
  return k
end

local function guard_pattern(name, fn)
  return function(s, pattern, a3, a4, ...)
    if core.active() and type(s) == "string" and type(pattern) == "string"
       and not (name == "find" and a4) then
      local k = pattern_items(pattern)
      local starts = (name == "gmatch" or pattern:byte(1) ~= 94) and 1 or 0 -- '^' anchors
      if k >= 1 and (#s) ^ (k + starts) > PATTERN_BUDGET then
        error(string.format("string.%s: a pattern with %d repetitions over %d bytes could run without end; "
          .. "the otarun sandbox refuses it (match a shorter string, or use fewer repetitions)", name, k, #s), 2)
      end
    end
    return fn(s, pattern, a3, a4, ...)
  end
end
for _, name in ipairs({ "find", "match", "gmatch", "gsub" }) do
  safe_string[name] = guard_pattern(name, string[name])
end

-- The other library functions that loop in C are charged to the instruction budget before they
-- start (core.charge), or, for tables whose metamethods could make one C call loop for ever, done
-- in Lua where the count hook sees every step. What is left (upper, reverse, format, ...) does
-- work linear in a string the memory budget already bounds, and src/watchdog.c ends anything that
-- still outlasts --max-seconds.
local charge = core.charge
-- (called as lib.NAME so that their own argument errors name NAME)
local lib = { rep = string.rep, move = table.move, concat = table.concat, sort = table.sort,
              insert = table.insert, remove = table.remove }
safe_string.rep = function(s, n, sep)
  local count = math.tointeger(n)
  if count and count > 0 and s == "" and (sep == nil or sep == "") then return "" end
  return lib.rep(s, n, sep) -- the result is allocated before the copying starts
end

local safe_table = copy(table)

local function count_of(first, last)
  first, last = math.tointeger(first), math.tointeger(last)
  if first and last and last >= first then return last - first + 1.0 end
  return 0
end

safe_table.move = function(a1, f, e, t, a2)
  if core.active() then charge(count_of(f, e)) end
  return lib.move(a1, f, e, t, a2)
end

safe_table.concat = function(t, sep, i, j)
  if j == nil and type(t) == "table" then j = #t end
  if i == nil then i = 1 end
  if core.active() then charge(count_of(i, j)) end
  return lib.concat(t, sep, i, j)
end

local function plain(t) return type(t) == "table" and getmetatable(t) == nil end

safe_table.sort = function(t, comp)
  if not core.active() then return lib.sort(t, comp) end
  if plain(t) then
    local n = rawlen(t)
    charge(n * (math.log(n + 1, 2) + 1))
    return lib.sort(t, comp)
  end
  -- a table with metamethods: copy out in Lua, sort the copy, write back in Lua
  local n, buf = #t, {}
  for k = 1, n do buf[k] = t[k] end
  charge(n * (math.log(n + 1, 2) + 1))
  lib.sort(buf, comp)
  for k = 1, n do t[k] = buf[k] end
end

safe_table.insert = function(t, ...)
  if not core.active() then return lib.insert(t, ...) end
  if plain(t) then
    charge(rawlen(t))
    return lib.insert(t, ...)
  end
  local nargs, e = select("#", ...), #t + 1
  if nargs == 1 then t[e] = ...; return end
  if nargs ~= 2 then error("wrong number of arguments to 'insert'", 2) end
  local pos, v = ...
  if math.type(pos) ~= "integer" or pos < 1 or pos > e then
    error("bad argument #2 to 'insert' (position out of bounds)", 2)
  end
  for k = e, pos + 1, -1 do t[k] = t[k - 1] end
  t[pos] = v
end

safe_table.remove = function(t, pos)
  if not core.active() then return lib.remove(t, pos) end
  if plain(t) then
    charge(rawlen(t))
    return lib.remove(t, pos)
  end
  local size = #t
  pos = pos == nil and size or pos
  if math.type(pos) ~= "integer" or (size + 1 ~= pos and (pos < 1 or pos > size + 1)) then
    if size ~= 0 or (pos ~= 0 and pos ~= size) then
      error("bad argument #2 to 'remove' (position out of bounds)", 2)
    end
  end
  local v = t[pos]
  for k = pos, size - 1 do t[k] = t[k + 1] end
  if pos <= size then t[size] = nil end
  return v
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
  env.table = copy(safe_table)
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
    if type(chunk) == "string" and core.active() then core.charge(#chunk / 16) end -- compiling is linear
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
    local paths = require("otarun.core.sys")
    local real, dir = paths.resolve(path), paths.resolve(opts.dir)
    if not real then
      error("require: no Lua file " .. path .. " (only Lua files beside the script can be required)", 2)
    end
    if not dir or real:sub(1, #dir + 1) ~= dir .. "/" then
      error("require: " .. path .. " leads outside the script's directory (a symbolic link to " .. real
        .. "); only Lua files beside the script can be required", 2)
    end
    local text, rerr = M.read_source(real, opts.memory)
    if not text then error("require: " .. rerr, 2) end
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

-- Reads a Lua source file for the sandbox: a regular file of at most `limit` bytes (default: 1/16
-- of the memory budget), so /dev/zero or a huge file is refused before it is read (docs/sandbox.md).
-- -> text | nil, message
function M.read_source(path, memory)
  local limit = (memory or M.DEFAULT_MEMORY) // 16
  local kind = require("otarun.core.sys").kind(path, true)
  if kind and kind ~= "file" then
    return nil, string.format("%s is not a regular file (it is %s); give the path of a Lua file", path,
      kind == "directory" and "a directory" or "a device, pipe or socket")
  end
  local fh, err = io.open(path, "rb")
  if not fh then return nil, tostring(err) end
  local text, rerr = fh:read(limit + 1)
  fh:close()
  if text == nil and rerr then return nil, tostring(rerr) end
  text = text or ""
  if #text > limit then
    return nil, string.format("%s is larger than %d bytes, the limit for one Lua file (1/16 of --max-memory); "
      .. "raise --max-memory, or split the file", path, limit)
  end
  return text
end

-- A deep copy of v that reads tables with next (never __index or __pairs). Whatever a sandboxed
-- script hands to the host goes through it while the script still runs under the budgets, so no
-- metamethod of the script's can run later in the host (docs/sandbox.md).
function M.raw_copy(v, seen)
  if type(v) ~= "table" then return v end
  seen = seen or {}
  if seen[v] then return seen[v] end
  local c = {}
  seen[v] = c
  for k, x in next, v do c[M.raw_copy(k, seen)] = M.raw_copy(x, seen) end
  return c
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
                        instructions = limits.instructions or M.DEFAULT_INSTRUCTIONS,
                        seconds = limits.seconds or M.DEFAULT_SECONDS, rule = limits.rule }, ...)
end

return M
