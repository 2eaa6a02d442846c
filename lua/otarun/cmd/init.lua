-- otarun init [DIR]: scaffolds a rollout repository in DIR (default: here) with the files of
-- otarun.cli.docs.scaffold (docs/ci.md). Never overwrites a file that exists, except the generated
-- editor definitions, which it refreshes (they follow the installed otarun); says what it wrote.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")

local M = {}

M.OPTIONS = { ["--force"] = "bool" }

M.HELP = [[
usage: otarun init [OPTIONS] [DIR]

Scaffolds a rollout repository in DIR (default: the current directory):
  rollouts/camera.lua              an example rollout that validates
  policies/team.lua                a starter policy, and policies/tests/team_test.lua its test
  .luarc.json, .otarun/definitions/otarun.lua
                                   editor completion, hover docs and type checks (LuaLS)
  .github/workflows/otarun.yml     GitHub Actions: validate + plan as a sticky PR comment,
  .gitlab-ci.yml                   apply of the saved plan after merge, scheduled run --once
  .gitignore
Existing files are kept (the definitions are refreshed) unless --force.

options:
  --force      overwrite existing files

exit: 0 written, 1 a file could not be written, 64 usage error
]]

local function mkdir_p(dir)
  return require("otarun.core.sys").mkdirs(dir)
end

local function exists(path)
  local fh = io.open(path, "rb")
  if fh then fh:close() end
  return fh ~= nil
end

function M.main(argv)
  local opts, pos = command.parse(argv, M)
  if #pos > 1 then failure.raise("usage", "init takes at most one DIR") end
  local root = (pos[1] or "."):gsub("/+$", "")
  if root == "" then root = "/" end
  local scaffold = require("otarun.cli.docs.scaffold")
  local files = scaffold.files()
  local names = {}
  for k in pairs(files) do names[#names + 1] = k end
  table.sort(names)
  for _, name in ipairs(names) do
    local path = root .. "/" .. name
    local generated = name:find(scaffold.DEFINITIONS_DIR, 1, true) == 1
    if exists(path) and not opts.force and not generated then
      io.stdout:write("kept     ", path, "\n")
    else
      local function parent(p) return mkdir_p(p:match("^(.*)/[^/]+$") or ".") end
      if not command.write_out("init", path, files[name], "wrote    ", parent) then return 1 end
    end
  end
  io.stdout:write("\nNext: otarun validate ", root == "." and "" or root .. "/", "rollouts/*.lua\n")
  return 0
end

return M
