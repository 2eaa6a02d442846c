-- otarun run / abort / log / status of the loop, end to end: the real binary over 127.0.0.1 against
-- `otarun emulator --clock manual`, the test moving the emulator's clock and passing the same time
-- as --now. run --once ticks the rollout forward; SIGKILL at random moments of run --once never
-- duplicates a job; abort cancels strategies and pending tasks and halts; log prints who and why;
-- the loop stops cleanly on SIGTERM.
local h = require("helpers")
local ch = require("client_helpers")
local cjson = require("cjson")
local sys = require("otarun.core.sys")
local util = require("otarun.util")

local KEY, SECRET = "LTAI5tRunSpecKey", "runSpecSecret-112233445566"
local ENV = { ALIBABA_CLOUD_ACCESS_KEY_ID = KEY, ALIBABA_CLOUD_ACCESS_KEY_SECRET = SECRET, HOME = "/nonexistent",
  USER = "ana" }

local FLEET = [[
fleet {
  product = "pkCli", seed = 9, duration = { min = "5m", max = "20m" },
  groups = { { id = "Canary", type = "dynamic" } },
  devices = { { version = "2.3.1", count = 100, prefix = "can", groups = { "Canary" } },
              { version = "2.3.1", count = 300, prefix = "a" }, { version = "2.3.0", count = 600, prefix = "b" } },
  firmware = { { id = "fwCli240", version = "2.4.0", verified = true } },
}
]]

local SCRIPT = [[
-- three waves for the run spec
rollout "cli" {
  product = "pkCli", region = "cn-shanghai",
  firmware = firmware { id = "fwCli240", version = "2.4.0", verified = true },
  defaults = { gate = { soak = "1h", min_devices = 20, max_failed_ratio = 0.05 } },
  wave "canary" { group = "Canary", rate = 10 },
  wave "early"  { versions = { "2.3.1" }, rate = 1000, delay = "2h" },
  wave "all"    { versions = { "2.3.0", "2.3.1" }, rate = 1000 },
}
]]

local function start_emulator(dir)
  local fleet = h.write(dir .. "/fleet.lua", FLEET)
  return ch.start(string.format("%s emulator --listen 127.0.0.1:0 --clock manual --fleet %s --key %s:%s --quiet",
    h.shell_quote(h.bin), h.shell_quote(fleet), KEY, SECRET))
end

local function admin(server, method, path)
  local http = require("otarun.core.http")
  local c = http.client()
  local r = assert(c:request{ method = method, url = server.url .. "/_emulator/" .. path })
  c:close()
  assert(r.status == 200, path .. ": " .. r.body)
  return cjson.decode(r.body)
end

local function emu_now(server) return math.floor(admin(server, "GET", "clock").now) end
local function advance(server, s) admin(server, "POST", "clock/advance?seconds=" .. s) end
local function jobs(server)
  local j = admin(server, "GET", "jobs")
  return j.Jobs or j.jobs or j
end

local tmpdir = h.tmpdir

local function cli(server, dir, argv)
  local full = {}
  for _, a in ipairs(argv) do full[#full + 1] = a end
  for _, a in ipairs({ "--endpoint", server.url, "--state", dir .. "/state.db" }) do full[#full + 1] = a end
  return ch.run(full, { env = ENV })
end

local function once(server, dir, file)
  return cli(server, dir, { "run", "--once", "--now", util.format_time(emu_now(server), 0), file })
end

describe("otarun run against the emulator over 127.0.0.1", function()
  local server, dir, file
  before_each(function()
    dir = tmpdir()
    server = start_emulator(dir)
    file = h.write(dir .. "/cli.lua", SCRIPT)
  end)
  after_each(function()
    server.stop()
    os.execute("rm -rf " .. h.shell_quote(dir))
  end)

  it("moves the rollout forward one tick per run --once, and logs who did what", function()
    local code, out, err = once(server, dir, file)
    assert.are.equal(0, code, out .. err)
    assert.matches("cli/canary start: wave \"canary\" started: job ", out, 1, true)
    assert.are.equal(1, #jobs(server))
    code, out = once(server, dir, file) -- nothing new: no second job
    assert.are.equal(0, code)
    assert.are.equal(1, #jobs(server))
    assert.matches("canary%s+running", out)
    advance(server, 3 * 3600)
    code, out = once(server, dir, file)
    assert.are.equal(0, code, out)
    assert.matches("cli/canary pass", out, 1, true)
    assert.matches('early%s+waiting%s+delay 2h after "canary"', out)
    advance(server, 2 * 3600)
    code, out = once(server, dir, file)
    assert.matches("cli/early start", out, 1, true)
    assert.matches("cli/canary supersede", out, 1, true)
    assert.are.equal(2, #jobs(server))
    code, out = cli(server, dir, { "log", file })
    assert.are.equal(0, code, out)
    assert.matches("ana@", out, 1, true)
    assert.matches("cli/canary%s+CreateOTADynamicUpgradeJob RequestId", out)
    assert.matches("cli/early%s+CancelOTAStrategyByJob RequestId", out)
    code, out = cli(server, dir, { "log", "--format", "json", "--kind", "gate", file })
    local rows = cjson.decode(out).entries
    assert.is_true(#rows >= 2)
    assert.are.equal("gate", rows[1].kind)
    assert.is_number(rows[1].params.succeeded)
  end)

  it("never duplicates a job when run --once is SIGKILLed at random moments", function()
    math.randomseed(42)
    local hits = 0
    for _ = 1, 10 do
      local now = util.format_time(emu_now(server), 0)
      local cmd = string.format("%s=%s %s=%s USER=ana HOME=/nonexistent %s run --once --now %s --endpoint %s --state %s %s >/dev/null 2>&1 & echo $!",
        "ALIBABA_CLOUD_ACCESS_KEY_ID", KEY, "ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET, h.shell_quote(h.bin), now,
        server.url, h.shell_quote(dir .. "/state.db"), h.shell_quote(file))
      local p = io.popen(cmd)
      local pid = tonumber(p:read("a"):match("%d+"))
      p:close()
      sys.sleep(math.random() * 0.08)
      if os.execute("kill -9 " .. pid .. " 2>/dev/null") then hits = hits + 1 end
      sys.sleep(0.02)
      local code, out, err = once(server, dir, file) -- a clean run after each kill
      assert.is_true(code == 0, out .. err)
      advance(server, 1800)
    end
    assert.is_true(hits >= 5, "most kills hit a running otarun (" .. hits .. ")")
    for _ = 1, 40 do
      local _, out = once(server, dir, file)
      if out:match("cli: done") then break end
      advance(server, 1800)
    end
    local per = {}
    for _, j in ipairs(jobs(server)) do
      for _, t in ipairs(j.Tags) do if t.Key == "otarun" then per[t.Value] = (per[t.Value] or 0) + 1 end end
    end
    assert.are.same({ ["cli/canary"] = 1, ["cli/early"] = 1, ["cli/all"] = 1 }, per)
  end)

  it("reports a job edited behind its back as drift at the next tick, and closes it", function()
    local code, out, err = once(server, dir, file)
    assert.are.equal(0, code, out .. err)
    local job = jobs(server)[1].JobId
    advance(server, 600)
    -- someone raises the canary's rate on the console between two ticks
    local http = require("otarun.core.http")
    local c = http.client()
    local r = assert(c:request{ method = "POST", url = server.url .. "/_emulator/jobs/" .. job,
      body = cjson.encode({ MaximumPerMinute = 800 }), headers = { ["content-type"] = "application/json" } })
    c:close()
    assert.are.equal(200, r.status, r.body)
    code, out, err = once(server, dir, file)
    assert.are.equal(0, code, out .. err)
    assert.matches("cli/canary drift: changed outside otarun: drift MaximumPerMinute: 10 (script) vs 800 (platform)", out, 1, true)
    assert.are.equal(10, jobs(server)[1].MaximumPerMinute)
    assert.are.equal(1, #jobs(server))
    code, out = cli(server, dir, { "log", file })
    assert.are.equal(0, code, out)
    assert.matches("cli/canary%s+drift[^\n]*changed outside otarun", out)
    assert.matches("cli/canary%s+UpdateOTAJob RequestId", out)
    -- the next tick has nothing to close
    advance(server, 600)
    code, out, err = once(server, dir, file)
    assert.are.equal(0, code, out .. err)
    assert.is_nil(out:find("drift", 1, true), out)
    assert.matches("canary%s+running", out)
  end)

  it("abort cancels the strategy and pending tasks and halts; run then starts nothing", function()
    local code, out = once(server, dir, file)
    assert.are.equal(0, code, out)
    advance(server, 120)
    code, out = cli(server, dir, { "abort", file, "--reason", "bad batch" })
    assert.are.equal(0, code, out)
    assert.matches("strategy and pending tasks cancelled", out, 1, true)
    local j = jobs(server)[1]
    assert.are.equal("CANCELED", j.JobStatus)
    assert.are.equal(0, j.Tasks.QUEUED + j.Tasks.NOTIFIED + j.Tasks.CONFIRM)
    assert.is_true(j.Tasks.CANCELED > 0)
    advance(server, 86400)
    code, out = once(server, dir, file)
    assert.are.equal(6, code) -- halted: needs a human, told apart from "could not run" (1)
    assert.matches("HALTED: aborted by ana@", out, 1, true)
    assert.are.equal(1, #jobs(server))
    code, out = cli(server, dir, { "log", file, "--kind", "abort" })
    assert.matches("abort%s+cli%s+bad batch", out)
  end)

  it("the loop stops cleanly on SIGTERM and releases the store", function()
    local log = dir .. "/run.log"
    local cmd = string.format("%s=%s %s=%s HOME=/nonexistent %s run --interval 1 --endpoint %s --state %s %s >%s 2>&1 & echo $!",
      "ALIBABA_CLOUD_ACCESS_KEY_ID", KEY, "ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET, h.shell_quote(h.bin),
      server.url, h.shell_quote(dir .. "/state.db"), h.shell_quote(file), h.shell_quote(log))
    local p = io.popen(cmd)
    local pid = tonumber(p:read("a"):match("%d+"))
    p:close()
    local deadline = sys.monotonic() + 10
    while not h.slurp(log):find("canary start", 1, true) and sys.monotonic() < deadline do sys.sleep(0.05) end
    sys.sleep(0.3)
    os.execute("kill -TERM " .. pid)
    local gone = false
    deadline = sys.monotonic() + 5
    while sys.monotonic() < deadline do
      if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then gone = true break end
      sys.sleep(0.05)
    end
    assert.is_true(gone, "run exited after SIGTERM")
    local text = h.slurp(log)
    assert.matches("stopping on SIGTERM", text, 1, true)
    -- the store is free: another command takes the lock at once
    local code, out, err = cli(server, dir, { "approve", file, "canary", "--lock-timeout", "0" })
    assert.are.equal(1, code, out .. err)
    assert.matches("does not wait for approval", err, 1, true)
    assert.are.equal(1, #jobs(server))
  end)
end)
