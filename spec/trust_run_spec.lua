-- `otarun run` stops cleanly on SIGTERM whatever a gate check is doing (docs/sandbox.md): the
-- real binary against `otarun emulator` over 127.0.0.1, with a check that never returns and a
-- --max-seconds far longer than the test waits.
local h = require("helpers")
local ch = require("client_helpers")
local sys = require("otarun.core.sys")

local KEY, SECRET = "LTAI5tTrustRunKey", "trustRunSecret-0a1b2c3d4e5f"

local FLEET = [[
fleet {
  product = "pkTrust", seed = 3, duration = { min = "5m", max = "20m" },
  groups = { { id = "Canary", type = "dynamic" } },
  devices = { { version = "2.3.1", count = 20, prefix = "can", groups = { "Canary" } } },
  firmware = { { id = "fwTrust240", version = "2.4.0", verified = true } },
}
]]

local SCRIPT = [[
rollout "spin" {
  product = "pkTrust", region = "cn-shanghai",
  firmware = firmware { id = "fwTrust240", version = "2.4.0", verified = true },
  wave "canary" { group = "Canary", rate = 10, gate = { check = function() local s = ("x"):rep(1e6) while true do local u = s:upper() end end } },
}
]]

describe("otarun run and a gate check that never returns", function()
  it("stops on SIGTERM within a second or two, not after --max-seconds", function()
    local dir = h.tmpdir()
    local fleet = h.write(dir .. "/fleet.lua", FLEET)
    local server = ch.start(string.format("%s emulator --listen 127.0.0.1:0 --clock manual --fleet %s --key %s:%s --quiet",
      h.shell_quote(h.bin), h.shell_quote(fleet), KEY, SECRET))
    local file = h.write(dir .. "/spin.lua", SCRIPT)
    local log = dir .. "/run.log"
    local p = io.popen(string.format("ALIBABA_CLOUD_ACCESS_KEY_ID=%s ALIBABA_CLOUD_ACCESS_KEY_SECRET=%s HOME=/nonexistent "
      .. "%s run --interval 1 --max-seconds 120 --endpoint %s --state %s %s >%s 2>&1 & echo $!",
      KEY, SECRET, h.shell_quote(h.bin), server.url, h.shell_quote(dir .. "/state.db"), h.shell_quote(file),
      h.shell_quote(log)))
    local pid = tonumber(p:read("a"):match("%d+"))
    p:close()
    local deadline = sys.monotonic() + 10
    while not h.slurp(log):find("canary start", 1, true) and sys.monotonic() < deadline do sys.sleep(0.05) end
    sys.sleep(1.5) -- the next tick is inside the check by now
    os.execute("kill -TERM " .. pid)
    local t0, gone = sys.monotonic(), false
    while sys.monotonic() < t0 + 5 do
      if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then gone = true break end
      sys.sleep(0.05)
    end
    if not gone then os.execute("kill -KILL " .. pid) end
    local text = h.slurp(log)
    server.stop()
    os.execute("rm -rf " .. h.shell_quote(dir))
    assert.is_true(gone, "run did not exit after SIGTERM: " .. text)
    assert.matches("stopping on SIGTERM", text, 1, true)
    assert.is_nil(text:find("traceback", 1, true), text)
    assert.is_nil(text:find("halt", 1, true), text) -- an interrupted check is no verdict
  end)
end)
