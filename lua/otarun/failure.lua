-- The one failure type: a message a person reads and the documented exit code it maps to, by name
-- (docs/architecture.md, "Failing"). Raised anywhere with failure.raise("usage", fmt, ...); caught
-- and rendered only by otarun.cli (cli.main), which prints "otarun COMMAND: message" on stderr and
-- exits with the code. A failure without a message (failure.exit) only sets the exit code: what
-- the person needs was already written (the diagnostics of an invalid script, a denied plan).
local M = {}

-- The exit codes by name (docs/architecture.md, "Failing", says what each means).
M.CODES = { ok = 0, error = 1, changes = 2, invalid = 3, denied = 4, stale = 5, halted = 6, usage = 64 }

local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(e) return e.message or ("exit " .. e.name) end
M.Failure = Failure

local function make(name, message)
  local code = M.CODES[name]
  if not code then error("failure: unknown exit code name " .. tostring(name), 2) end
  return setmetatable({ name = name, code = code, message = message }, Failure)
end

-- failure.new(name, fmt, ...) -> a failure value (not raised)
function M.new(name, fmt, ...)
  return make(name, fmt and string.format(fmt, ...) or nil)
end

-- failure.raise(name, fmt, ...): raises a failure with the exit code called `name`.
function M.raise(name, fmt, ...)
  error(make(name, string.format(fmt, ...)), 0)
end

-- failure.exit(name): ends the command with that exit code and no further message.
function M.exit(name)
  error(make(name, nil), 0)
end

-- failure.check(value, err, ...) -> value, ...: raises err as an "error" failure when value is nil
-- or false (for the `x, err = f()` convention).
function M.check(value, err, ...)
  if not value then error(make("error", tostring(err)), 0) end
  return value, err, ...
end

function M.is(e) return getmetatable(e) == Failure end

return M
