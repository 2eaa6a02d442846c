-- otarun's command line: dispatches `otarun COMMAND ...` to lua/otarun/cmd/COMMAND.lua and is the
-- one place that renders a failure (otarun.failure): "otarun COMMAND: message" on stderr (a usage
-- failure adds where to find the usage) and the failure's exit code. The exit codes by name:
-- docs/architecture.md ("Failing") and docs/commands.md.
local failure = require("otarun.failure")

local M = {}

M.EXIT = failure.CODES

local COMMANDS = {
  { "validate", "check scripts offline: syntax, DSL, every API constraint" },
  { "plan", "validate, check policies, diff against the platform, print the plan" },
  { "apply", "carry out the changes that are due now" },
  { "run", "drive staged rollouts until done or halted (--once: one tick, for cron)" },
  { "status", "per-wave state, job ids, device counts, next step" },
  { "approve", "record an approval for a wave that has approve = true" },
  { "abort", "stop a rollout: cancel dynamic strategies and pending tasks" },
  { "retry", "upgrade a wave's failed devices again (ReupgradeOTATask)" },
  { "confirm", "confirm a wave's devices waiting for confirmation (ConfirmOTATask)" },
  { "resume", "clear a halt after a human decision" },
  { "log", "the audit log: every decision, gate reading, approval, API call" },
  { "state", "the state store: show, push --to URL, pull --from URL" },
  { "rehearse", "run the whole rollout against a simulated fleet in simulated time" },
  { "policy", "policy test [DIR]: run policy test cases" },
  { "call", "one signed API call; prints the JSON response" },
  { "emulator", "a local IoT Platform OTA endpoint with a simulated fleet" },
  { "show", "render a saved plan (text, markdown or json)" },
  { "init", "scaffold a rollout repository: example, policies, editor and CI set-up" },
  { "completion", "print a bash, zsh or fish completion script" },
  { "docs", "write the generated reference, man page or editor definitions" },
  { "lua", "trusted Lua interpreter with otarun's modules (runs the specs)" },
  { "version", "print the version" },
}

M.COMMANDS = COMMANDS

local function usage_text()
  local lines = { "usage: otarun COMMAND [OPTIONS] [ARGS]", "", "commands:" }
  for _, c in ipairs(COMMANDS) do
    lines[#lines + 1] = string.format("  %-10s %s", c[1], c[2])
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Run 'otarun COMMAND --help' for a command's options."
  return table.concat(lines, "\n") .. "\n"
end
M.usage_text = usage_text

local function is_command(name)
  for _, c in ipairs(COMMANDS) do
    if c[1] == name then return true end
  end
  return false
end

-- Writes a failure of command `name` to stderr. -> its exit code
function M.render(name, e)
  if e.message then
    io.stderr:write("otarun ", name, ": ", e.message, "\n")
    if e.name == "usage" then
      io.stderr:write("Run 'otarun ", name, " --help' for usage.\n")
    end
  end
  return e.code
end

-- Returns the process exit code. argv is the `arg` table (argv[0] is the program).
function M.main(argv)
  local list = {}
  for i = 1, #argv do list[i] = argv[i] end
  local name = table.remove(list, 1)
  if name == nil or name == "-h" or name == "--help" or name == "help" then
    io.stdout:write(usage_text())
    return name == nil and M.EXIT.usage or M.EXIT.ok
  end
  if name == "--version" then name = "version" end
  if not is_command(name) then
    local names = {}
    for _, c in ipairs(COMMANDS) do names[#names + 1] = c[1] end
    local best = require("otarun.util").closest(name, names)
    io.stderr:write(string.format("otarun: unknown command %q%s\n\n%s", name,
      best and (" (did you mean " .. best .. "?)") or "", usage_text()))
    return M.EXIT.usage
  end
  local cmd = require("otarun.cmd." .. name)
  local ok, code = xpcall(cmd.main, function(e)
    if failure.is(e) then return e end
    return debug.traceback(tostring(e), 2)
  end, list)
  if ok then return code or M.EXIT.ok end
  if failure.is(code) then return M.render(name, code) end
  error(code, 0)
end

return M
