-- otarun init scaffolds a repository whose rollout validates, whose policy test passes, whose
-- editor set-up points at the definitions, and whose CI recipes' otarun commands run: each
-- `otarun ...` line of the GitHub and GitLab recipes is run here, in order, against the emulator.
local h = require("helpers")
local emu = require("emu_helper")
local cjson = require("cjson")
local scaffold = require("otarun.cli.docs.scaffold")

local function sh(dir, line, env)
  local parts = {}
  for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. h.shell_quote(v) end
  local out = os.tmpname()
  local cmd = string.format("cd %s && env %s PATH=%s:\"$PATH\" sh -c %s >%s 2>&1", h.shell_quote(dir),
    table.concat(parts, " "), h.shell_quote(dir .. "/.bin"), h.shell_quote(line), h.shell_quote(out))
  local _, _, code = os.execute(cmd)
  local text = h.slurp(out)
  os.remove(out)
  return code, text
end

describe("otarun init", function()
  local dir
  before_each(function() dir = h.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. h.shell_quote(dir)) end)

  it("scaffolds a repository that validates and tests, and keeps what exists", function()
    local code, out = h.run({ "init", dir })
    assert.are.equal(0, code, out)
    for name in pairs(scaffold.files()) do
      assert.is_true(#h.slurp(dir .. "/" .. name) > 0, name)
    end
    code, out = h.run({ "validate", dir .. "/rollouts/camera.lua" })
    assert.are.equal(0, code, out)
    assert.matches("0 errors, 0 warnings", out, 1, true)
    code, out = h.run({ "policy", "test", dir .. "/policies" })
    assert.are.equal(0, code, out)
    assert.matches("2 passed, 0 failed", out, 1, true)
    -- a case's script = "../../rollouts/camera.lua" is read, never removed
    assert.matches("camera%-2%.4%.0", h.slurp(dir .. "/rollouts/camera.lua"))
    local luarc = cjson.decode(h.slurp(dir .. "/.luarc.json"))
    assert.are.same({ ".otarun/definitions" }, luarc["workspace.library"])
    assert.is_truthy(load(h.slurp(dir .. "/.otarun/definitions/otarun.lua"), "=defs", "t"))
    h.write(dir .. "/rollouts/camera.lua", "-- mine\n")
    code, out = h.run({ "init", dir })
    assert.are.equal(0, code)
    assert.matches("kept%s+.*rollouts/camera.lua", out)
    assert.are.equal("-- mine\n", h.slurp(dir .. "/rollouts/camera.lua"))
    code = h.run({ "init", dir, "extra" })
    assert.are.equal(64, code)
  end)

  it("posts the plan as one sticky comment found by its marker", function()
    for _, recipe in ipairs({ scaffold.GITHUB, scaffold.GITLAB }) do
      local marker = 0
      for _ in recipe:gmatch(scaffold.MARKER:gsub("%-", "%%-"), 1) do marker = marker + 1 end
      assert.are.equal(2, marker) -- written into the body, and looked for among the comments
      assert.matches("PATCH", recipe:gsub("PUT", "PATCH"), 1, true)
      assert.matches("--format markdown", recipe, 1, true)
      assert.matches("apply plan.json --auto-approve", recipe, 1, true)
      assert.matches("run --once", recipe, 1, true)
    end
  end)

  for _, which in ipairs({ "GITHUB", "GITLAB" }) do
    it("runs the otarun commands of the " .. which .. " recipe against the emulator", function()
      assert.are.equal(0, (h.run({ "init", dir })))
      os.execute("mkdir -p " .. h.shell_quote(dir .. "/.bin") .. " && ln -s " .. h.shell_quote(h.bin) .. " "
        .. h.shell_quote(dir .. "/.bin/otarun"))
      local e = emu.start{ fleet_file = h.src .. "/examples/fleets/camera.lua" }
      local env = e:env{ OTARUN_STATE = dir .. "/ci-state.db" }
      local lines = scaffold.commands(scaffold[which])
      assert.is_true(#lines >= 6, table.concat(lines, "\n"))
      local ok, err = pcall(function()
        for _, line in ipairs(lines) do
          local code, out = sh(dir, line, env)
          assert.are.equal(0, code, line .. "\n" .. out .. h.slurp(dir .. "/plan.md"))
        end
        local md = h.slurp(dir .. "/plan.md")
        assert.matches("## otarun plan (compared with the platform)", md, 1, true)
        assert.matches("CreateOTADynamicUpgradeJob", md, 1, true)
        assert.are.equal(1, #e:jobs())
      end)
      e:stop()
      assert(ok, err)
    end)
  end
end)
