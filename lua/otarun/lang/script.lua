-- Loading rollout scripts: read the file, run it in a fresh sandbox with the DSL as globals, and
-- return the raw declarations, or diagnostics for a script that does not load or run.
local dsl = require("otarun.lang.dsl")
local sandbox = require("otarun.lang.sandbox")
local util = require("otarun.util")

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

-- What a Lua syntax error most often means in a rollout script: a field or wave without the comma
-- that separates it from the next ("'}' expected ... near 'region'").
local function syntax_hint(msg)
  if msg:match("expected") and msg:match("near '[%a_][%w_]*'$") then
    return "; is a comma missing at the end of the field or wave before it?"
  end
  if msg:match("near '\"") or msg:match("near '{'") then
    return "; is a comma missing between two fields or waves?"
  end
  return ""
end

-- The help a runtime error can carry: the closest global for a misspelt function ("rolout"), and
-- where settings come from when a script reaches for the environment.
local function runtime_hint(msg, env)
  local name = msg:match("%(global '([%a_][%w_]*)'%)")
  if name then
    local names = {}
    for k in pairs(env) do if type(k) == "string" then names[#names + 1] = k end end
    table.sort(names)
    local best = util.closest(name, names)
    if best then return " (did you mean " .. best .. "?)" end
    return ""
  end
  if msg:match("^os%.getenv is blocked") then
    return ": read a setting with var(\"NAME\") (or var(\"NAME\", default)) and pass it with --var NAME=VALUE"
  end
  return ""
end

-- `devices_file = "names.txt"`: a file beside the script with one device name a line (blank lines
-- and lines starting with # are skipped) becomes the wave's `devices` (docs/commands-ota.md,
-- "Device lists"). Only plain relative paths under the script's folder are read. -> diagnostics
M.MAX_DEVICE_FILE_BYTES = 64 * 1024 * 1024
local function expand_device_files(decls, path)
  local out = {}
  for _, d in ipairs(decls) do
    for _, w in ipairs(d.waves or {}) do
      local f = w.fields and w.fields.devices_file
      if f ~= nil then
        local function bad(msg) out[#out + 1] = diagnostic("devices-file", path, string.format("wave %q: %s", tostring(w.name), msg), w.line) end
        if type(f) ~= "string" or f == "" then bad("devices_file must be a file name beside the script, like \"names.txt\"")
        elseif f:sub(1, 1) == "/" or f:find("%.%.") then bad(string.format("devices_file %q must be a relative path under the script's folder, without ..", f))
        elseif w.fields.devices ~= nil then bad("give devices or devices_file, not both")
        else
          local full = dirname(path) .. "/" .. f
          local fh, err = io.open(full, "rb")
          local text = fh and fh:read(M.MAX_DEVICE_FILE_BYTES + 1)
          if fh then fh:close() end
          if not fh then bad(string.format("cannot read devices_file %s: %s", full, tostring(err)))
          elseif text and #text > M.MAX_DEVICE_FILE_BYTES then bad(string.format("devices_file %s is larger than 64 MB", full))
          else
            local names = {}
            for line in (text or ""):gmatch("[^\r\n]+") do
              local name = line:match("^%s*(.-)%s*$")
              if name ~= "" and name:sub(1, 1) ~= "#" then names[#names + 1] = name end
            end
            w.fields.devices, w.fields.devices_file = names, nil
            w.devices_file = f
          end
        end
        if w.fields.devices_file ~= nil then w.fields.devices_file = nil end
      end
    end
  end
  return out
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
    return nil, { diagnostic("script-syntax", path, "syntax error: " .. msg .. syntax_hint(msg), line) }
  end
  local ok, msg, _, kind = sandbox.run(fn, opts.limits)
  if not ok then
    local line, rest = split_location(path, tostring(msg))
    if kind == "error" then rest = rest .. runtime_hint(rest, env) end
    local rule = kind == "error" and "script-error" or ("script-" .. kind .. "-limit")
    if kind ~= "error" then rest = rest .. "; raise it with --max-" .. kind end
    return nil, { diagnostic(rule, path, rest, line) }
  end
  local fdiags = expand_device_files(decls, path)
  if #fdiags > 0 then return nil, fdiags end
  if #decls == 0 then
    return decls, { { severity = "warning", rule = "no-rollouts", file = path, line = 0,
                      message = "the script declares no rollout; write rollout \"NAME\" { ... }" } }
  end
  return decls, {}
end

return M
