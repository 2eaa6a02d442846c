-- Command-line parsing for every command: common options (docs/commands.md), per-command options, option values as
-- `--name VALUE` or `--name=VALUE`, and usage failures (otarun.failure "usage") that suggest the
-- closest option.
local failure = require("otarun.failure")
local util = require("otarun.util")

local M = {}

local function usage_error(fmt, ...) failure.raise("usage", fmt, ...) end

-- kinds: "string", "bool", "list" (repeatable string), "int", "number"
M.COMMON = {
  ["--format"] = "string", ["--var"] = "list", ["--now"] = "string", ["--state"] = "string",
  ["--endpoint"] = "string", ["--region"] = "string", ["--profile"] = "string",
  ["--policy"] = "list", ["--offline"] = "bool", ["--verbose"] = "bool", ["--help"] = "bool",
  ["--max-memory"] = "int", ["--max-instructions"] = "int", ["--max-seconds"] = "number", ["--no-color"] = "bool",
}
local SHORT = { ["-v"] = "--verbose", ["-h"] = "--help" }

-- Parses argv (an array) against the common options and `extra` (name -> kind).
-- Returns options (keys without dashes, '-' -> '_') and the positional arguments.
function M.parse(argv, extra)
  local known = {}
  for k, v in pairs(M.COMMON) do known[k] = v end
  for k, v in pairs(extra or {}) do known[k] = v end
  local opts, positional = {}, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do positional[#positional + 1] = argv[j] end
      break
    end
    local name, value = a:match("^(%-%-[^=]+)=(.*)$")
    if not name then name = SHORT[a] or a end
    if name:sub(1, 1) == "-" and name ~= "-" then
      local kind = known[name]
      if not kind then
        local names = {}
        for k in pairs(known) do names[#names + 1] = k end
        local best = util.closest(name, names)
        usage_error("unknown option %s%s", name, best and (" (did you mean " .. best .. "?)") or "")
      end
      local key = name:gsub("^%-%-", ""):gsub("%-", "_")
      if kind == "bool" then
        -- `--refresh false` as well as `--refresh=false`
        if value == nil and (argv[i + 1] == "true" or argv[i + 1] == "false") then
          i = i + 1
          value = argv[i]
        end
        if value == nil or value == "true" then opts[key] = true
        elseif value == "false" then opts[key] = false
        else usage_error("%s takes no value, or =true / =false", name) end
      else
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then usage_error("%s needs a value", name) end
        end
        if kind == "int" or kind == "number" then
          local n = tonumber(value)
          if not n or (kind == "int" and math.type(n) ~= "integer") then
            usage_error("%s needs %s, got %q", name, kind == "int" and "an integer" or "a number", value)
          end
          value = n
        end
        if kind == "list" then
          opts[key] = opts[key] or {}
          table.insert(opts[key], value)
        else
          opts[key] = value
        end
      end
    else
      positional[#positional + 1] = a
    end
    i = i + 1
  end
  for _, dir in ipairs(opts.policy or {}) do
    -- "dir/." opens only when dir is a directory
    local fh = io.open(dir .. "/.", "r")
    if not fh then usage_error("--policy %s is not a directory: give a folder of policy files", dir) end
    fh:close()
  end
  return opts, positional
end

return M
