-- The command line as data, for the generated reference (docs/commands.md), the man page and the
-- shell completions: the commands of otarun.cli, each command module's OPTIONS (what its parser
-- accepts) and HELP (what --help prints), the common options of otarun.cli.args with the
-- descriptions below, and the exit codes. Nothing here is typed twice: a new option appears in
-- every generated file, and spec/docs_spec.lua fails when its --help does not mention it.
local args = require("otarun.cli.args")
local cli = require("otarun.cli")

local M = {}

-- What each common option (otarun.cli.args.COMMON) means; every command accepts them.
M.COMMON_HELP = {
  ["--format"] = { "text|json|markdown", "output format (text; colour only on a terminal, never with NO_COLOR)" },
  ["--var"] = { "NAME=VALUE", "set var.NAME for the scripts (repeatable)" },
  ["--now"] = { "TIME", "evaluate as if it were TIME (RFC 3339)" },
  ["--state"] = { "PATH", "the state store (.otarun/state.db; also OTARUN_STATE)" },
  ["--endpoint"] = { "URL", "API endpoint (https://iot.REGION.aliyuncs.com; also OTARUN_ENDPOINT)" },
  ["--region"] = { "REGION", "region for rollouts that do not name one" },
  ["--profile"] = { "NAME", "profile of ~/.aliyun/config.json (also ALIBABA_CLOUD_PROFILE)" },
  ["--policy"] = { "DIR", "also judge plans by the policies in DIR (repeatable)" },
  ["--offline"] = { nil, "never contact the platform" },
  ["--verbose"] = { nil, "-v: say more (every API call attempt)" },
  ["--help"] = { nil, "-h: the command's help" },
  ["--max-memory"] = { "BYTES", "memory limit of each script (256 MB)" },
  ["--max-instructions"] = { "N", "instruction limit of each script (10^9)" },
  ["--max-seconds"] = { "SECONDS", "wall-clock limit of each script, policy and gate check (5; docs/sandbox.md)" },
  ["--max-host-memory"] = { "BYTES", "memory limit of the whole command's Lua state (2 GiB; docs/sandbox.md)" },
  ["--no-color"] = { nil, "never colour the output" },
}

M.EXIT = {
  { 0, "success (with --detailed-exitcode: no changes)" },
  { 1, "error: I/O, platform, internal; run --once could not read or act; a rehearsal that will not finish" },
  { 2, "the plan has changes (only with --detailed-exitcode)" },
  { 3, "a script is invalid (any error diagnostic)" },
  { 4, "denied by policy" },
  { 5, "a saved plan is stale (the state changed since it was computed) or was edited" },
  { 6, "run: a rollout is halted and needs a human (docs/run.md)" },
  { 64, "usage error" },
}

M.ENVIRONMENT = {
  { "ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET, ALIBABA_CLOUD_SECURITY_TOKEN",
    "credentials (then ~/.aliyun/config.json)" },
  { "ALIBABA_CLOUD_PROFILE", "profile of ~/.aliyun/config.json" },
  { "ALIBABA_CLOUD_REGION_ID", "region when neither the rollout, --region nor the profile names one" },
  { "OTARUN_STATE", "the state store (--state)" },
  { "OTARUN_ENDPOINT", "the API endpoint (--endpoint)" },
  { "NO_COLOR", "never colour the output" },
}

local function sorted_keys(t)
  local out = {}
  for k in pairs(t or {}) do out[#out + 1] = k end
  table.sort(out)
  return out
end
M.sorted_keys = sorted_keys

-- Every command: { name, summary, help, options = { "--opt" = kind } (own, without the common
-- ones), option_names (sorted, own) }, in the order of `otarun --help`.
function M.list()
  local out = {}
  for _, c in ipairs(cli.COMMANDS) do
    local ok, mod = pcall(require, "otarun.cmd." .. c[1])
    if not ok then error("docs: command " .. c[1] .. " has no module: " .. tostring(mod), 0) end
    local help = mod.HELP or mod.USAGE or ""
    out[#out + 1] = { name = c[1], summary = c[2], help = help, options = mod.OPTIONS or {},
                      option_names = sorted_keys(mod.OPTIONS), subcommands = mod.SUBCOMMANDS }
  end
  return out
end

function M.common_names() return sorted_keys(args.COMMON) end
function M.kind(name) return args.COMMON[name] end

return M
