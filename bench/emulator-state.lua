-- bench/emulator-state.lua: the emulator's `--state` save and load in process (no HTTP, no file):
-- state.encode and state.decode of DEVICES devices (default 1,000,000) with one dynamic job over
-- all of them, one simulated hour in. Target (issue 18): <= 5 s each.
-- Run: build/otarun lua bench/emulator-state.lua [DEVICES]
local emulator = require("otarun.emulator")
local state = require("otarun.emulator.state")
local sys = require("otarun.core.sys")
local emu = emulator.new({ now = 1767225600, seed = 7 })
local n = tonumber(arg[1]) or 1000000
assert(emu:load_fleet({ product = "a1BenchProd", devices = { { version = "2.3.1", count = n // 2 }, { version = "2.3.0", count = n - n // 2, groups = { "BenchGroup1" } } },
  failure = { ["2.3.0"] = 0.01 }, duration = { min = "5m", max = "40m" }, online = 0.9, seed = 7,
  firmware = { { id = "fw-bench-240", version = "2.4.0", verified = true } } }))
emu:call("CreateOTADynamicUpgradeJob", { FirmwareId = "fw-bench-240", ProductKey = "a1BenchProd", ["SrcVersion.1"] = "2.3.1", ["SrcVersion.2"] = "2.3.0", MaximumPerMinute = "10000" })
emu:advance(3600)
collectgarbage("generational")
local t0 = sys.monotonic()
local text = state.encode(emu)
local t1 = sys.monotonic()
local e2 = emulator.new({ now = 1, seed = 1 })
assert(state.decode(e2, text))
local t2 = sys.monotonic()
print(string.format("encode %.2f s (%d MB), decode %.2f s", t1 - t0, #text // 1048576, t2 - t1))
