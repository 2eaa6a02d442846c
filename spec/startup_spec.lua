-- What `otarun validate` loads (docs/architecture.md, "Start-up"): only the modules it needs, and
-- not libcrypto, which is loaded the first time something hashes (src/crypto_api.c).
local h = require("helpers")

-- Runs `otarun validate FILE` in a process whose require is watched; returns the modules loaded
-- and whether libcrypto was mapped before and after a hash.
local HOOK = [[
local loaded = {}
local real = require
require = function(name)
  if not package.loaded[name] then loaded[#loaded + 1] = name end
  return real(name)
end
local function mapped()
  local f = io.open("/proc/self/maps")
  local maps = f:read("a")
  f:close()
  return maps:find("libcrypto", 1, true) ~= nil
end
local real_out = io.stdout
io.stdout = io.tmpfile()
local code = real("otarun.cli").main({ "validate", arg[1] })
io.stdout = real_out
local before = mapped()
local hash = real("otarun.core.sign").sha256_hex("abc")
print(code, before, mapped(), hash)
print(table.concat(loaded, " "))
]]

describe("start-up of validate", function()
  local code, out = h.run({ "lua", h.script(HOOK), "examples/dynamic-group.lua" })

  it("loads no module for plans, the platform, the store or policies", function()
    assert.are.equal(0, code)
    local status, names = out:match("^([^\n]*)\n([^\n]*)")
    assert.are.equal("0\tfalse\ttrue\tba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", status)
    assert.matches("otarun.cmd.validate", names, 1, true)
    assert.matches("otarun.core.validate", names, 1, true)
    local set = {}
    for name in names:gmatch("%S+") do set[name] = true end
    for _, name in ipairs({ "otarun.json", "cjson", "otarun.plan.calls", "otarun.plan.timeline", "otarun.core.sign",
                            "otarun.core.store", "otarun.core.http", "otarun.render.json" }) do
      assert.is_nil(set[name], name .. " was loaded: " .. names)
    end
    for name in pairs(set) do
      for _, prefix in ipairs({ "otarun.state", "otarun.platform.", "otarun.policy", "otarun.apply", "otarun.run" }) do
        assert.is_false(name:sub(1, #prefix) == prefix, name .. " was loaded: " .. names)
      end
    end
  end)
end)
