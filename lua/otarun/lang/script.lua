-- Loading rollout scripts: read the file, run it in a fresh sandbox with the DSL as globals, and
-- return the raw declarations, or diagnostics for a script that does not load or run.
local dsl = require("otarun.lang.dsl")
local sandbox = require("otarun.lang.sandbox")

local M = {}

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

local function diagnostic(rule, path, message, line)
  return { severity = "error", rule = rule, message = message, file = path, line = line or 0 }
end

-- "path:12: message" -> 12, "message"
local function split_location(path, msg)
  local escaped = path:gsub("%p", "%%%0")
  local line, rest = msg:match("^" .. escaped .. ":(%d+): (.*)$")
  if line then return tonumber(line), rest end
  line, rest = msg:match("^%[string [^%]]*%]:(%d+): (.*)$")
  if line then return tonumber(line), rest end
  return 0, msg
end

-- opts: vars, now (epoch), limits = { memory =, instructions = }
-- Returns decls, diagnostics (decls is nil when the script failed).
function M.load(path, opts)
  opts = opts or {}
  local memory = opts.limits and opts.limits.memory
  local text, err = sandbox.read_source(path, memory)
  if not text then
    return nil, { diagnostic("script-read", path, "cannot read the script: " .. err) }
  end
  local globals, decls = dsl.globals({ file = path, vars = opts.vars })
  local env = sandbox.env({ now = opts.now, dir = dirname(path), globals = globals, memory = memory })
  local fn, serr = sandbox.load(text, "@" .. path, env)
  if not fn then
    local line, msg = split_location(path, serr)
    return nil, { diagnostic("script-syntax", path, "syntax error: " .. msg, line) }
  end
  local ok, msg, _, kind = sandbox.run(fn, opts.limits)
  if not ok then
    local line, rest = split_location(path, tostring(msg))
    local rule = kind == "error" and "script-error" or ("script-" .. kind .. "-limit")
    if kind ~= "error" then rest = rest .. "; raise it with --max-" .. kind end
    return nil, { diagnostic(rule, path, rest, line) }
  end
  if #decls == 0 then
    return decls, { { severity = "warning", rule = "no-rollouts", file = path, line = 0,
                      message = "the script declares no rollout; write rollout \"NAME\" { ... }" } }
  end
  return decls, {}
end

return M
