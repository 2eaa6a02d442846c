-- otarun docs: writes or prints what is generated from the code (otarun.cli.docs.*): the reference
-- pages of docs/ (rollout language, commands, fleet files), the man page otarun.1 and the LuaLS
-- definitions. The build runs it for the man page and completions (CMakeLists.txt);
-- spec/docs_spec.lua checks that the committed pages equal its output.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local util = require("otarun.util")

local M = {}

M.OPTIONS = { ["--write"] = "string", ["--man"] = "bool", ["--definitions"] = "bool", ["--check"] = "string",
              ["--stage"] = "string" }

-- What `--stage DIR` writes, relative to DIR, as `cmake --install` puts it under the prefix
-- (docs/install.md): the man page, the completions and the editor definitions.
M.STAGED = {
  { "share/man/man1/otarun.1", function() return require("otarun.cli.docs.man").text() end },
  { "share/bash-completion/completions/otarun", function() return require("otarun.cli.docs.completion").bash() end },
  { "share/zsh/vendor-completions/_otarun", function() return require("otarun.cli.docs.completion").zsh() end },
  { "share/fish/vendor_completions.d/otarun.fish", function() return require("otarun.cli.docs.completion").fish() end },
  { "share/otarun/definitions/otarun.lua", function() return require("otarun.cli.docs.definitions").text() end },
}

M.HELP = [[
usage: otarun docs --write ROOT      write docs/rollout.md, docs/commands.md, docs/fleet.md under ROOT
       otarun docs --check ROOT      exit 1 when those files differ from what would be written
       otarun docs --man             print the man page (otarun.1, roff)
       otarun docs --definitions     print the LuaLS definitions (---@meta)
       otarun docs --stage DIR       write the man page, completions and definitions under DIR
                                     (share/man/man1/otarun.1, ...), as the build does for install

The reference is generated from the validator's field list, the argument parser's option
tables and each command's --help text, so it follows the code.

options:
  --write ROOT, --check ROOT, --man, --definitions, --stage DIR

exit: 0 done (or up to date), 1 a file could not be written (or is out of date), 64 usage error
]]

local read = util.read_file

function M.main(argv)
  local opts, pos = command.parse(argv, M)
  if #pos > 0 then failure.raise("usage", "docs takes no arguments (got %q)", pos[1]) end
  if opts.stage then
    local sys = require("otarun.core.sys")
    for _, f in ipairs(M.STAGED) do
      local path = opts.stage .. "/" .. f[1]
      local ok, err = sys.mkdirs(path:match("^(.*)/[^/]+$"))
      local fh
      if ok then fh, err = io.open(path, "wb") end
      if not fh then
        io.stderr:write("otarun docs: cannot write ", path, ": ", tostring(err), "\n")
        return 1
      end
      fh:write(f[2]())
      fh:close()
    end
  elseif opts.man then
    io.stdout:write(require("otarun.cli.docs.man").text())
  elseif opts.definitions then
    io.stdout:write(require("otarun.cli.docs.definitions").text())
  elseif opts.write or opts.check then
    local pages = require("otarun.cli.docs.pages")
    local files, root = pages.files(), opts.write or opts.check
    local names = {}
    for k in pairs(files) do names[#names + 1] = k end
    table.sort(names)
    local stale = 0
    for _, name in ipairs(names) do
      local path = root .. "/" .. name
      if opts.check then
        if read(path) ~= files[name] then
          stale = stale + 1
          io.stderr:write("otarun docs: ", path, " is out of date: run otarun docs --write ", root, "\n")
        end
      else
        if not command.write_out("docs", path, files[name], "wrote ") then return 1 end
      end
    end
    for _, p in ipairs(pages.field_problems()) do
      io.stderr:write("otarun docs: ", p, "\n")
      stale = stale + 1
    end
    return stale == 0 and 0 or 1
  else
    failure.raise("usage", "say what to generate: --write ROOT, --check ROOT, --man or --definitions")
  end
  return 0
end

return M
