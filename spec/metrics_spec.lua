-- `otarun run --metrics-file` and `--metrics-listen` (docs/metrics.md) against the emulator over
-- 127.0.0.1: the file is replaced atomically after each tick and parses as Prometheus text with
-- python3's prometheus_client parser and with a strict line-by-line check of the format here
-- (HELP and TYPE before a family's samples, names and labels well formed, one family once);
-- the server answers /metrics while the loop sleeps, and only on loopback.
local h = require("helpers")
local ch = require("client_helpers")
local cjson = require("cjson")
local sys = require("otarun.core.sys")
local util = require("otarun.util")

local KEY, SECRET = "LTAI5tMetricsSpecKey", "metricsSpecSecret-445566"

local FLEET = [[
fleet {
  product = "pkMet", seed = 5, duration = { min = "5m", max = "20m" },
  devices = { { version = "2.3.1", count = 50 } },
  firmware = { { id = "fwMet240", version = "2.4.0", verified = true } },
}
]]

local SCRIPT = [[
rollout "met" {
  product = "pkMet", region = "cn-shanghai",
  firmware = firmware { id = "fwMet240", version = "2.4.0", verified = true },
  notify = { url = "http://127.0.0.1:9/x?access_token=tokMetrics123" }, -- nothing listens there
  wave "one" { versions = { "2.3.1" }, rate = 10, gate = { soak = "1h", min_devices = 5 } },
  wave "two" { versions = { "2.3.1" }, rate = 10, approve = true },
}
]]

-- A strict reading of the text format (version 0.0.4). -> families { name = { type, help, samples } }
local function parse_strict(text)
  assert.are.equal("\n", text:sub(-1), "ends with a newline")
  local fams, current = {}, nil
  local NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*"
  for line in text:gmatch("([^\n]*)\n") do
    local kw, name, rest = line:match("^# (%u+) (" .. NAME .. ") (.*)$")
    if kw == "HELP" then
      assert.is_nil(fams[name], "family " .. name .. " appears once")
      current = { name = name, help = rest, samples = {} }
      fams[name] = current
    elseif kw == "TYPE" then
      assert.are.equal(current and current.name, name, "TYPE follows its HELP: " .. line)
      assert.is_truthy(({ counter = 1, gauge = 1, histogram = 1, summary = 1, untyped = 1 })[rest], line)
      assert.are.equal(0, #current.samples, "TYPE before samples")
      current.type = rest
    else
      local sname, labels, value = line:match("^(" .. NAME .. ")(%b{}) (%S+)$")
      if not sname then
        sname, value = line:match("^(" .. NAME .. ") (%S+)$")
        labels = "{}"
      end
      assert.is_string(sname, "a sample line: " .. line)
      assert.are.equal(current.name, sname, "sample of the current family: " .. line)
      assert.is_truthy(tonumber(value) or value == "NaN" or value == "+Inf" or value == "-Inf", line)
      local inner, seen = labels:sub(2, -2), {}
      local pos = 1
      while pos <= #inner do
        local k, q = inner:match('^([a-zA-Z_][a-zA-Z0-9_]*)=()"', pos)
        assert.is_string(k, "labels: " .. line)
        local v, i = {}, q + 1
        while true do -- a quoted value: \\, \" and \n are its only escapes
          local c = inner:sub(i, i)
          assert.are_not.equal("", c, "unterminated label value: " .. line)
          if c == '"' then break end
          if c == "\\" then
            local e = inner:sub(i + 1, i + 1)
            assert.is_truthy(({ ["\\"] = 1, ['"'] = 1, n = 1 })[e], "escape in " .. line)
            v[#v + 1], i = e == "n" and "\n" or e, i + 2
          else
            v[#v + 1], i = c, i + 1
          end
        end
        assert.is_nil(seen[k])
        seen[k] = table.concat(v)
        pos = i + 1
        if pos <= #inner then
          assert.are.equal(",", inner:sub(pos, pos), "labels separated by commas: " .. line)
          pos = pos + 1
        end
      end
      if current.type == "counter" then assert.matches("_total$", sname) end
      current.samples[#current.samples + 1] = { labels = seen, value = tonumber(value) }
    end
  end
  return fams
end

-- Debian's python3-prometheus-client lives with /usr/bin/python3 (a PATH python3 may be another one).
local PYTHON = io.open("/usr/bin/python3") and "/usr/bin/python3" or "python3"

local function promparse(path)
  local p = io.popen(PYTHON .. " - " .. h.shell_quote(path) .. [[ 2>&1 <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
n = 0
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        n += 1
print("families ok, samples", n)
EOF]])
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

local function sample(fams, name, labels)
  for _, s in ipairs(fams[name] and fams[name].samples or {}) do
    local match = true
    for k, v in pairs(labels or {}) do if s.labels[k] ~= v then match = false end end
    if match then return s.value end
  end
  return nil
end

describe("otarun run metrics", function()
  local dir, emu, file, env
  before_each(function()
    dir = h.tmpdir()
    emu = ch.start(string.format("%s emulator --listen 127.0.0.1:0 --clock manual --fleet %s --key %s:%s --quiet",
      h.shell_quote(h.bin), h.shell_quote(h.write(dir .. "/fleet.lua", FLEET)), KEY, SECRET))
    file = h.write(dir .. "/met.lua", SCRIPT)
    env = { ALIBABA_CLOUD_ACCESS_KEY_ID = KEY, ALIBABA_CLOUD_ACCESS_KEY_SECRET = SECRET, HOME = "/nonexistent" }
  end)
  after_each(function()
    emu.stop()
    os.execute("rm -rf " .. h.shell_quote(dir))
  end)

  local function emu_post(path)
    local c = require("otarun.core.http").client()
    local r = assert(c:request{ method = "POST", url = emu.url .. "/_emulator/" .. path })
    c:close()
    return cjson.decode(r.body)
  end
  local function now()
    local c = require("otarun.core.http").client()
    local r = assert(c:request{ method = "GET", url = emu.url .. "/_emulator/clock" })
    c:close()
    return util.format_time(math.floor(cjson.decode(r.body).now), 0)
  end

  it("writes the file after each tick; it parses as Prometheus text", function()
    local mf = dir .. "/otarun.prom"
    local function once()
      return ch.run({ "run", "--once", file, "--endpoint", emu.url, "--state", dir .. "/state.db", "--metrics-file", mf,
        "--now", now() }, { env = env })
    end
    local code, out, err = once()
    assert.are.equal(0, code, out .. err)
    emu_post("clock/advance?seconds=1800")
    code, out, err = once()
    assert.are.equal(0, code, out .. err)
    local text = h.slurp(mf)
    local fams = parse_strict(text)
    local ok, pout = promparse(mf)
    assert.is_true(ok, pout)
    assert.matches("families ok", pout)
    assert.are.equal(1, sample(fams, "otarun_waves", { rollout = "met", state = "running" }))
    assert.are.equal(1, sample(fams, "otarun_waves", { rollout = "met", state = "waiting" }))
    assert.are.equal(0, sample(fams, "otarun_rollout_halted", { rollout = "met" }))
    local succeeded = sample(fams, "otarun_wave_devices", { rollout = "met", wave = "one", status = "succeeded" })
    assert.is_true(succeeded > 0)
    assert.are.equal(1, sample(fams, "otarun_gate_verdicts_total", { wave = "one", verdict = "wait" })
      + sample(fams, "otarun_gate_verdicts_total", { wave = "one", verdict = "pass" }))
    assert.is_true(sample(fams, "otarun_api_requests_total", { action = "ListOTATaskByJob" }) > 0)
    assert.are.equal(0, sample(fams, "otarun_api_throttled_total", { action = "ListOTATaskByJob" }))
    assert.is_true(sample(fams, "otarun_tick_duration_seconds") >= 0)
    assert.is_true(math.abs(sample(fams, "otarun_last_successful_tick_timestamp_seconds") - sys.now()) < 60)
    -- the webhook refuses connections: its events stay pending, and its token is never shown
    assert.is_true(sample(fams, "otarun_notifications_pending") >= 1)
    assert.are.equal(0, sample(fams, "otarun_notifications_failed"))
    assert.is_nil(text:find("tokMetrics123", 1, true))
    assert.is_nil(table.concat(ch.seen, "\n"):find("tokMetrics123", 1, true))
  end)

  it("serves /metrics on loopback while the loop runs, and refuses other addresses", function()
    local cmd = {}
    for k, v in pairs(env) do cmd[#cmd + 1] = k .. "=" .. h.shell_quote(v) end
    local errlog = dir .. "/run.err"
    cmd[#cmd + 1] = string.format("%s run %s --endpoint %s --state %s --interval 1s --metrics-listen 127.0.0.1:0 "
      .. ">/dev/null 2>%s & echo $!", h.shell_quote(h.bin), h.shell_quote(file), emu.url,
      h.shell_quote(dir .. "/state.db"), h.shell_quote(errlog))
    local p = io.popen(table.concat(cmd, " "))
    local pid = tonumber(p:read("a"):match("%d+"))
    p:close()
    local url
    local deadline = sys.monotonic() + 10
    while not url and sys.monotonic() < deadline do
      url = h.slurp(errlog):match("metrics on (http://127%.0%.0%.1:%d+/metrics)")
      sys.sleep(0.05)
    end
    assert.is_string(url, h.slurp(errlog))
    local body
    deadline = sys.monotonic() + 10
    while sys.monotonic() < deadline do -- until the first tick has been counted
      local c = require("otarun.core.http").client()
      local r = c:request{ method = "GET", url = url, timeout = 5 }
      c:close()
      if r and r.status == 200 and r.body:find('otarun_waves{rollout="met",state="running"} 1', 1, true) then
        assert.matches("^text/plain; version=0.0.4", r.headers["content-type"])
        body = r.body
        break
      end
      sys.sleep(0.1)
    end
    os.execute("kill -TERM " .. pid)
    assert.is_string(body, h.slurp(errlog))
    local path = h.write(dir .. "/scraped.prom", body)
    parse_strict(body)
    local ok, pout = promparse(path)
    assert.is_true(ok, pout)
    local code, _, err = ch.run({ "run", "--once", file, "--endpoint", emu.url, "--state", dir .. "/state.db",
      "--metrics-listen", "0.0.0.0:9464" }, { env = env })
    assert.are.equal(64, code)
    assert.matches("only a loopback address", err, 1, true)
  end)
end)
