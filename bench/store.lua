-- bench/store.lua: what the crash-safety record costs per changing call. Each call is an intent
-- committed durably before sending (synchronous=FULL) plus one grouped commit of its outcome (intent
-- settled, job, wave transition, audit entry). Prints calls per second, the time per call, and the
-- fingerprint time over N rollouts. Run: bench/store [CALLS], or otarun lua bench/store.lua [CALLS] [DIR]
local state = require("otarun.state")
local sys = require("otarun.core.sys")

local calls = tonumber(arg[1]) or 500
local dir = arg[2] or os.tmpname() .. ".d"
assert(require("otarun.core.sys").mkdirs(dir))
local path = dir .. "/bench.db"
os.remove(path)

local st = assert(state.open({ state = path, command = "bench" }))
assert(st:lock())
local rollouts = {}
local t0 = sys.monotonic()
for i = 1, calls do
  local name = string.format("rollout-%04d", i)
  rollouts[#rollouts + 1] = name
  assert(st:record_rollout({ name = name, product = "a1Le6d0abcd", firmware = { id = "fw" .. i },
    waves = { { name = "all", kind = "dynamic", index = 1 } } }))
end
local t1 = sys.monotonic()
for i = 1, calls do
  local name = rollouts[i]
  local id = assert(st:intent({ rollout = name, wave = "all", action = "CreateOTADynamicUpgradeJob",
    params = { FirmwareId = "fw" .. i, ["SrcVersion.1"] = "2.3.1", MaximumPerMinute = 100 },
    identity = name .. "/all" }))
  assert(st:record_call(id, { job_id = "J" .. i, result = "created", request_id = "R" .. i,
    job = { rollout = name, wave = "all", kind = "dynamic" },
    transition = { rollout = name, wave = "all", to = "running", why = "job created" },
    audit = { action = "CreateOTADynamicUpgradeJob", rollout = name, wave = "all",
              params = { FirmwareId = "fw" .. i } } }))
end
local t2 = sys.monotonic()
local fp = st:fingerprint(rollouts)
local t3 = sys.monotonic()
st:close()
os.execute("rm -rf '" .. dir .. "'")

print(string.format("record_rollout: %d in %.3fs (%.0f/s)", calls, t1 - t0, calls / (t1 - t0)))
print(string.format("changing calls (intent + grouped outcome): %d in %.3fs (%.0f/s, %.2f ms each)",
  calls, t2 - t1, calls / (t2 - t1), (t2 - t1) * 1000 / calls))
print(string.format("fingerprint over %d rollouts: %.1f ms (%s...)", calls, (t3 - t2) * 1000, fp:sub(1, 12)))
