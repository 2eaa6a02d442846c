-- otarun completion bash|zsh|fish: prints a shell completion script (otarun.cli.docs.completion);
-- otarun completion rollouts|waves FILE...: the rollout or wave names the scripts declare, one a
-- line, which those scripts call while completing --rollout, --wave and approve's WAVE.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")

local M = {}

M.OPTIONS = {}

M.HELP = [[
usage: otarun completion bash|zsh|fish
       otarun completion rollouts|waves FILE...

Prints a completion script for the shell: commands, each command's options, fixed option
values, and rollout and wave names read from the scripts already on the command line.

  bash:  source <(otarun completion bash)    or install it as
         /usr/share/bash-completion/completions/otarun (the .deb does)
  zsh:   otarun completion zsh > "${fpath[1]}/_otarun"
  fish:  otarun completion fish > ~/.config/fish/completions/otarun.fish

`otarun completion waves FILE...` prints the wave names of the scripts (rollouts: the rollout
names), one a line; scripts that do not load give no names.

exit: 0 printed, 64 usage error
]]

local function names(what, files, opts)
  local seen, out = {}, {}
  for _, path in ipairs(files) do
    local ok, decls = pcall(require("otarun.lang.script").load, path, { vars = {}, limits = {
      memory = opts.max_memory, instructions = opts.max_instructions } })
    for _, d in ipairs(ok and decls or {}) do
      local list = what == "rollouts" and { d } or d.waves or {}
      for _, x in ipairs(list) do
        if type(x.name) == "string" and not seen[x.name] then
          seen[x.name] = true
          out[#out + 1] = x.name
        end
      end
    end
  end
  return out
end

function M.main(argv)
  local opts, pos = command.parse(argv, M)
  local what = pos[1]
  local gen = require("otarun.cli.docs.completion")
  if what == "bash" or what == "zsh" or what == "fish" then
    if #pos > 1 then failure.raise("usage", "completion %s takes no files", what) end
    io.stdout:write(gen[what]())
  elseif what == "rollouts" or what == "waves" then
    table.remove(pos, 1)
    for _, n in ipairs(names(what, pos, opts)) do io.stdout:write(n, "\n") end
  else
    failure.raise("usage", what and "unknown shell %q: bash, zsh or fish" or "which shell? otarun completion bash|zsh|fish", what)
  end
  return 0
end

return M
