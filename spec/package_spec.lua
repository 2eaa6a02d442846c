-- The Debian package (cmake/install.cmake, docs/install.md): cpack builds it from this build
-- directory; its control file has the runtime Depends; it holds the binary, the man page, the
-- three completions, the editor definitions, examples, docs and the license in their FHS places;
-- and the binary it carries runs `otarun plan` offline on an example it carries. Installing it
-- into a clean Debian 12 root is scripts/check-deb (needs root and a Debian mirror).
local h = require("helpers")

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok and 0 or code, out
end

local build = h.bin:match("^(.*)/[^/]+$")

describe("the Debian package", function()
  local dir, deb
  setup(function()
    dir = h.tmpdir()
    local code, out = sh(string.format("cd %s && cpack -G DEB --config %s -B %s", h.shell_quote(dir),
      h.shell_quote(build .. "/CPackConfig.cmake"), h.shell_quote(dir)))
    assert.are.equal(0, code, out)
    local _, name = sh("ls " .. h.shell_quote(dir) .. "/*.deb")
    deb = name:match("[^\n]+")
  end)
  teardown(function() os.execute("rm -rf " .. h.shell_quote(dir)) end)

  it("declares the runtime libraries it needs", function()
    local code, info = sh("dpkg-deb --field " .. h.shell_quote(deb) .. " Package Version Architecture Depends")
    assert.are.equal(0, code, info)
    assert.matches("Package: otarun", info, 1, true)
    assert.matches("Architecture: amd64", info, 1, true)
    for _, dep in ipairs({ "liblua5.4-0", "libcurl4", "libsqlite3-0", "libmicrohttpd12", "libssl3" }) do
      assert.matches(dep, info:match("Depends: ([^\n]*)"), 1, true)
    end
  end)

  it("puts every file in its FHS place", function()
    local code, list = sh("dpkg-deb --contents " .. h.shell_quote(deb))
    assert.are.equal(0, code, list)
    for _, path in ipairs({ "./usr/bin/otarun", "./usr/share/man/man1/otarun.1",
        "./usr/share/bash-completion/completions/otarun", "./usr/share/zsh/vendor-completions/_otarun",
        "./usr/share/fish/vendor_completions.d/otarun.fish", "./usr/share/otarun/definitions/otarun.lua",
        "./usr/share/doc/otarun/copyright", "./usr/share/doc/otarun/examples/version-waves.lua",
        "./usr/share/doc/otarun/docs/rollout.md", "./usr/share/doc/otarun/docs/schema/plan.schema.json" }) do
      assert.is_truthy(list:find(path, 1, true), path)
    end
    assert.is_falsy(list:find("./usr/local", 1, true))
  end)

  it("carries a binary that plans an example it carries", function()
    local root = dir .. "/root"
    assert.are.equal(0, (sh("dpkg-deb -x " .. h.shell_quote(deb) .. " " .. h.shell_quote(root))))
    local bin = root .. "/usr/bin/otarun"
    local code, out = sh(h.shell_quote(bin) .. " plan --offline --now 2026-12-01T00:00:00Z "
      .. h.shell_quote(root .. "/usr/share/doc/otarun/examples/version-waves.lua"))
    assert.are.equal(0, code, out)
    assert.matches("Plan: 1 to create", out, 1, true)
    local _, man = sh("cat " .. h.shell_quote(root .. "/usr/share/man/man1/otarun.1"))
    assert.matches("^%.TH OTARUN 1", man)
    local _, bash = sh("bash -n " .. h.shell_quote(root .. "/usr/share/bash-completion/completions/otarun") .. " && echo ok")
    assert.matches("ok", bash, 1, true)
  end)
end)
