-- Notifications end to end (docs/notifications.md): the real binary's `run --once` against
-- `otarun emulator --clock manual` over 127.0.0.1, sending to a receiver on 127.0.0.1
-- (spec/fixtures/notify_receiver.lua, on the project's httpd binding). The JSON signature and the
-- DingTalk sign are verified by python3's hmac, not by otarun's signer; a run SIGKILLed while it
-- sends (the event recorded, the answer never read) has the next run send it again, once; a
-- receiver that answers 500 or hangs costs one short timeout per tick, is retried after its
-- backoff, and never stalls the tick. No secret or token reaches output, the store or the log.
-- In process: base64, signature and DingTalk sign vectors, URL redaction, and a decision and its
-- event committed together or rolled back together.
local h = require("helpers")
local ch = require("client_helpers")
local cjson = require("cjson")
local sys = require("otarun.core.sys")
local util = require("otarun.util")

local KEY, SECRET = "LTAI5tNotifySpecKey", "notifySpecSecret-99887766"
local HOOK_SECRET, DT_SECRET = "hook-secret-7f3a91c2", "SECdingtalk0b5e6f7a8c9d"
local TOKEN = "tok9f8e7d6c5b4a3"

local FLEET = [[
fleet {
  product = "pkNote", seed = 3, duration = { min = "5m", max = "20m" },
  groups = { { id = "Canary", type = "dynamic" }, { id = "Bad", type = "dynamic" } },
  devices = { { version = "2.3.1", count = 40, prefix = "can", groups = { "Canary" } },
              { version = "2.3.1", count = 60, prefix = "a" },
              { version = "2.2.0", count = 30, prefix = "bad", groups = { "Bad" } } },
  failure = { ["2.2.0"] = 0.6 },
  firmware = { { id = "fwNote240", version = "2.4.0", verified = true } },
}
]]

local function script(notify)
  return string.format([[
rollout "note" {
  product = "pkNote", region = "cn-shanghai",
  firmware = firmware { id = "fwNote240", version = "2.4.0", verified = true },
  notify = %s,
  defaults = { gate = { soak = "1h", min_devices = 10, max_failed_ratio = 0.05 } },
  wave "canary" { group = "Canary", rate = 10 },
  wave "rest"   { versions = { "2.3.1" }, rate = 1000, approve = true },
}
]], notify)
end

local function python(code, ...)
  local parts = { "python3", "-c", h.shell_quote(code) }
  for _, a in ipairs({ ... }) do parts[#parts + 1] = h.shell_quote(a) end
  local p = io.popen(table.concat(parts, " ") .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

local function http_get(url)
  local c = require("otarun.core.http").client()
  local r, err = c:request{ method = "GET", url = url, timeout = 5 }
  c:close()
  return r, err
end

local function http_post(url)
  local c = require("otarun.core.http").client()
  local r = assert(c:request{ method = "POST", url = url, timeout = 5 })
  c:close()
  return r
end

describe("notifications from otarun run", function()
  local dir, emu, recv, log_path
  before_each(function()
    dir = h.tmpdir()
    emu = ch.start(string.format("%s emulator --listen 127.0.0.1:0 --clock manual --fleet %s --key %s:%s --quiet",
      h.shell_quote(h.bin), h.shell_quote(h.write(dir .. "/fleet.lua", FLEET)), KEY, SECRET))
    log_path = dir .. "/received.jsonl"
    recv = ch.start(string.format("%s lua %s %s", h.shell_quote(h.bin),
      h.shell_quote(h.src .. "/spec/fixtures/notify_receiver.lua"), h.shell_quote(log_path)))
  end)
  after_each(function()
    recv.stop()
    emu.stop()
    os.execute("rm -rf " .. h.shell_quote(dir))
  end)

  local function received()
    local out = {}
    for line in h.slurp(log_path):gmatch("[^\n]+") do out[#out + 1] = cjson.decode(line) end
    return out
  end
  local function mode(m) http_post(recv.url .. "/_mode?m=" .. m) end
  local function emu_now()
    local r = assert(http_get(emu.url .. "/_emulator/clock"))
    return math.floor(cjson.decode(r.body).now)
  end
  local function advance(s) http_post(emu.url .. "/_emulator/clock/advance?seconds=" .. s) end
  local ENV = { ALIBABA_CLOUD_ACCESS_KEY_ID = KEY, ALIBABA_CLOUD_ACCESS_KEY_SECRET = SECRET, HOME = "/nonexistent",
    USER = "ana", HOOK_SECRET = HOOK_SECRET, DT_SECRET = DT_SECRET, NO_COLOR = "1" }
  local function cli(argv)
    local full = { table.unpack(argv) }
    for _, a in ipairs({ "--endpoint", emu.url, "--state", dir .. "/state.db" }) do full[#full + 1] = a end
    return ch.run(full, { env = ENV })
  end
  local function once(file, extra, offset)
    local argv = { "run", "--once", "--now", util.format_time(emu_now() + (offset or 0), 0), file }
    for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
    return cli(argv)
  end
  local function attempts(file)
    local code, out = cli({ "log", "--format", "json", "--kind", "notify", file })
    assert.are.equal(0, code, out)
    local rows = {}
    for _, row in ipairs(cjson.decode(out).entries) do -- docs/schema/log.schema.json
      if row.params.step == "attempt" then rows[#rows + 1] = row end
    end
    return rows
  end

  it("sends signed JSON once per event; the signature verifies with python3's hmac", function()
    local file = h.write(dir .. "/note.lua", script(string.format(
      '{ url = "%s/hook?access_token=%s", secret_env = "HOOK_SECRET", on = { "start", "pass", "approval", "approve" } }',
      recv.url, TOKEN)))
    local code, out, err = once(file)
    assert.are.equal(0, code, out .. err)
    local got = received()
    assert.are.equal(1, #got)
    local body = cjson.decode(got[1].body)
    assert.are.equal("1", body.format_version)
    assert.are.equal("start", body.event)
    assert.are.equal("note", body.rollout)
    assert.are.equal("canary", body.wave)
    assert.is_string(body.job_id)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", body.at)
    assert.are.equal("access_token=" .. TOKEN, got[1].query)
    assert.are.equal("start", got[1].headers["x-otarun-event"])
    local ok, pout = python([[
import hmac, hashlib, sys, json
body, header, secret = sys.argv[1], sys.argv[2], sys.argv[3]
want = "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
assert hmac.compare_digest(want, header), (want, header)
print("verified")]], got[1].body, got[1].headers["x-otarun-signature-256"], HOOK_SECRET)
    assert.is_true(ok, pout)
    assert.matches("verified", pout)
    -- a second tick has nothing new to send
    once(file)
    assert.are.equal(1, #received())
    advance(2 * 3600) -- the canary's gate passes; "rest" waits for its approval
    once(file)
    local events = {}
    for _, r in ipairs(received()) do events[#events + 1] = cjson.decode(r.body).event end
    assert.are.same({ "start", "pass", "approval" }, events)
    local pass = cjson.decode(received()[2].body)
    assert.is_number(pass.counts.succeeded)
    assert.is_number(pass.counts.failed)
    code, out = cli({ "approve", file, "rest" })
    assert.are.equal(0, code, out)
    once(file)
    events = {}
    for _, r in ipairs(received()) do events[#events + 1] = cjson.decode(r.body).event end
    assert.are.same({ "start", "pass", "approval", "approve", "start" }, events)
    -- every attempt is in the audit log, the URL redacted; no secret or token anywhere
    local rows = attempts(file)
    assert.are.equal(5, #rows)
    for _, row in ipairs(rows) do
      assert.are.equal("delivered", row.params.outcome)
      assert.matches("access_token=***", row.params.url, 1, true)
    end
    code, out = cli({ "log", file })
    local db = h.slurp(dir .. "/state.db") .. h.slurp(dir .. "/state.db-wal")
    for _, text in ipairs({ out, db, table.concat(ch.seen, "\n") }) do
      assert.is_nil(text:find(TOKEN, 1, true))
      assert.is_nil(text:find(HOOK_SECRET, 1, true))
    end
  end)

  it("signs DingTalk robot URLs (timestamp, sign beside access_token) as DingTalk documents", function()
    local file = h.write(dir .. "/note.lua", script(string.format(
      '{ url = "%s/robot/send?access_token=%s", format = "dingtalk", secret_env = "DT_SECRET" }', recv.url, TOKEN)))
    local code, out, err = once(file)
    assert.are.equal(0, code, out .. err)
    local got = received()
    assert.are.equal(1, #got)
    local body = cjson.decode(got[1].body)
    assert.are.equal("markdown", body.msgtype)
    assert.matches("note/canary", body.markdown.title, 1, true)
    assert.matches("started", body.markdown.text, 1, true)
    local ok, pout = python([[
import hmac, hashlib, base64, sys, time, urllib.parse
q = urllib.parse.parse_qs(sys.argv[1], keep_blank_values=True)
secret, token = sys.argv[2], sys.argv[3]
assert q["access_token"] == [token], q
ts = q["timestamp"][0]
assert abs(int(ts) - time.time() * 1000) < 3600 * 1000, ts
mac = hmac.new(secret.encode(), (ts + "\n" + secret).encode(), hashlib.sha256).digest()
raw = sys.argv[1].split("sign=")[1].split("&")[0]
assert raw == urllib.parse.quote_plus(base64.b64encode(mac)), (raw,)
print("verified")]], got[1].query, DT_SECRET, TOKEN)
    assert.is_true(ok, pout)
    -- DingTalk's own refusal (errcode != 0 with HTTP 200) is a failed attempt, retried later
    mode("dingtalk-error")
    advance(2 * 3600)
    once(file)
    local rows = attempts(file)
    assert.are.equal("failed", rows[#rows].params.outcome)
    assert.matches("errcode 310000", rows[#rows].result, 1, true)
    assert.is_nil(table.concat(ch.seen, "\n"):find(DT_SECRET, 1, true))
  end)

  it("sends Slack incoming-webhook bodies", function()
    local file = h.write(dir .. "/note.lua", script(string.format(
      '{ url = "%s/services/T000/B000/%s", format = "slack" }', recv.url, TOKEN)))
    local code, out, err = once(file)
    assert.are.equal(0, code, out .. err)
    local body = cjson.decode(received()[1].body)
    assert.matches("note/canary wave started", body.text, 1, true)
    assert.are.equal("section", body.blocks[1].type)
    assert.are.equal("mrkdwn", body.blocks[1].text.type)
    assert.is_nil((out .. err):find(TOKEN, 1, true))
    local _, log = cli({ "log", file })
    assert.is_nil(log:find(TOKEN, 1, true))
    assert.matches("/services/***", log, 1, true)
  end)

  it("sends an event recorded before a kill exactly once more on the next run", function()
    local file = h.write(dir .. "/note.lua", script(string.format('{ url = "%s/hook" }', recv.url)))
    mode("hang") -- the run records the event, sends it and waits for an answer that never comes
    local cmd = {}
    for k, v in pairs(ENV) do cmd[#cmd + 1] = k .. "=" .. h.shell_quote(v) end
    cmd[#cmd + 1] = string.format("%s run --once --now %s --endpoint %s --state %s %s >/dev/null 2>&1 & echo $!",
      h.shell_quote(h.bin), util.format_time(emu_now(), 0), emu.url, h.shell_quote(dir .. "/state.db"),
      h.shell_quote(file))
    local p = io.popen(table.concat(cmd, " "))
    local pid = tonumber(p:read("a"):match("%d+"))
    p:close()
    local deadline = sys.monotonic() + 10
    while #received() == 0 and sys.monotonic() < deadline do sys.sleep(0.02) end
    assert.are.equal(1, #received(), "the run sent the start event")
    assert.is_true(os.execute("kill -9 " .. pid) == true)
    mode("ok")
    local code, out, err = once(file)
    assert.are.equal(0, code, out .. err)
    once(file, nil, 60)
    local got = received()
    assert.are.equal(2, #got)
    assert.are.equal("hang", got[1].mode)
    assert.are.equal("ok", got[2].mode)
    assert.are.equal(got[1].body, got[2].body) -- the same event, the same delivery id
    local rows = attempts(file)
    assert.are.equal(1, #rows) -- the killed attempt left no outcome; the next one delivered
    assert.are.equal("delivered", rows[1].params.outcome)
  end)

  it("does not stall a tick on a receiver that answers 500 or hangs, and retries after the backoff", function()
    local file = h.write(dir .. "/note.lua", script(string.format('{ url = "%s/hook" }', recv.url)))
    for _, m in ipairs({ "500", "hang" }) do
      mode(m)
      local t0 = sys.monotonic()
      local code, out, err = once(file, nil, m == "hang" and 3600 or 0)
      local took = sys.monotonic() - t0
      assert.are.equal(0, code, out .. err)
      assert.is_true(took < 8, m .. ": the tick took " .. took .. " s")
      assert.matches("notify: failed", err, 1, true)
    end
    local rows = attempts(file)
    assert.are.equal(2, #rows)
    assert.are.equal("failed", rows[1].params.outcome)
    assert.are.equal(500, rows[1].params.status)
    assert.are.equal(2, rows[2].params.attempt)
    mode("ok")
    once(file, nil, 3600 + 10) -- within the backoff (120 s after the second attempt): not sent
    assert.are.equal(2, #attempts(file))
    once(file, nil, 3600 + 200)
    rows = attempts(file)
    assert.are.equal("delivered", rows[3].params.outcome)
    assert.are.equal("start", rows[3].params.kind)
    assert.are.equal(3, rows[3].params.attempt)
    local n = #received()
    once(file, nil, 3600 + 400)
    assert.are.equal(n, #received())
  end)

  it("sends halt with the gate's counts, a repeated error once, and the commands' abort and resume", function()
    local file = h.write(dir .. "/note.lua", string.format([[
rollout "note" {
  product = "pkNote", region = "cn-shanghai",
  firmware = firmware { id = "fwNote240", version = "2.4.0", verified = true },
  notify = { url = "%s/hook", on = { "start", "halt", "error", "resume", "abort" } },
  wave "bad" { group = "Bad", rate = 100, gate = { soak = "1h", min_devices = 10, max_failed_ratio = 0.05 } },
  wave "rest" { versions = { "2.3.1" }, rate = 1000 },
}
]], recv.url))
    local function events()
      local out = {}
      for _, r in ipairs(received()) do out[#out + 1] = cjson.decode(r.body) end
      return out
    end
    local code, out, err = once(file)
    assert.are.equal(0, code, out .. err)
    local c = require("otarun.core.http").client()
    assert(c:request{ method = "POST", url = emu.url .. "/_emulator/faults", headers = { ["content-type"] = "application/json" },
      body = cjson.encode({ action = "ListOTAJobByFirmware", status = 503, count = 100 }) })
    once(file)
    once(file, nil, 60)
    assert(c:request{ method = "DELETE", url = emu.url .. "/_emulator/faults" })
    c:close()
    local got = events()
    assert.are.equal(2, #got, cjson.encode(got))
    assert.are.equal("error", got[2].event)
    assert.matches("reading the platform", got[2].text, 1, true)
    advance(2 * 3600)
    code, out, err = once(file)
    assert.are.equal(6, code, out .. err) -- halted (docs/run.md)
    got = events()
    assert.are.equal("halt", got[3].event)
    assert.are.equal("bad", got[3].wave)
    assert.is_true(got[3].counts.failed > 0)
    assert.matches("tripped", got[3].text, 1, true)
    assert.are.equal(0, (cli({ "resume", file, "--reason", "looked at it" })))
    assert.are.equal(0, (cli({ "abort", file, "--reason", "enough" })))
    once(file)
    got = events()
    assert.are.equal("resume", got[4].event)
    assert.matches("looked at it", got[4].text, 1, true)
    assert.are.equal("abort", got[5].event)
    assert.matches("enough", got[5].text, 1, true)
    assert.are.equal(5, #got)
  end)

  it("adds a generic JSON target with run --notify and refuses plain http to other hosts", function()
    local file = h.write(dir .. "/note.lua", script('{ url = "http://127.0.0.1:9/x", on = { "halt" } }'))
    local code, out, err = once(file, { "--notify", recv.url .. "/extra?token=" .. TOKEN })
    assert.are.equal(0, code, out .. err)
    local got = received()
    assert.are.equal(1, #got)
    assert.are.equal("/extra", got[1].path)
    assert.is_nil(got[1].headers["x-otarun-signature-256"])
    code, out, err = once(file, { "--notify", "http://example.com/hook?token=" .. TOKEN })
    assert.are.equal(64, code)
    assert.matches("plain http", err, 1, true)
    assert.is_nil(err:find(TOKEN, 1, true))
  end)

  it("rehearse lists the notifications it would send and sends none", function()
    local file = h.write(dir .. "/note.lua", script(string.format('{ url = "%s/hook", on = { "start", "pass", "done" } }',
      recv.url)))
    local code, out, err = ch.run({ "rehearse", file, "--fleet", dir .. "/fleet.lua", "--format", "json" }, { env = ENV })
    assert.are.equal(0, code, out .. err)
    local doc = cjson.decode(out)
    local events = {}
    for _, n in ipairs(doc.notifications) do
      events[#events + 1] = n.event .. (n.wave and ("/" .. n.wave) or "")
      assert.is_false(n.sent)
      assert.are.equal(recv.url .. "/hook", n.targets[1].url)
    end
    assert.are.same({ "start/canary", "pass/canary", "start/rest", "pass/rest", "done" }, events)
    code, out = ch.run({ "rehearse", file, "--fleet", dir .. "/fleet.lua" }, { env = ENV })
    assert.matches("notify%s+would send start to json " .. recv.url:gsub("%p", "%%%0") .. "/hook", out)
    assert.are.equal(0, #received())
  end)
end)

describe("the notify field", function()
  it("is validated natively with rule ids", function()
    local file = h.script(script([[{ { url = "http://example.com/x", on = { "hlat" } },
      { url = "https://ok.example/x", format = "teams", secret_env = "1BAD" }, { formt = "json" } }]]))
    local code, out = h.run({ "validate", "--format", "json", file })
    assert.are.equal(3, code)
    local rules = {}
    for _, d in ipairs(cjson.decode(out).diagnostics) do rules[#rules + 1] = d.rule .. " " .. d.param end
    table.sort(rules)
    assert.are.same({ "notify-event notify[1].on", "notify-format notify[2].format",
      "notify-secret-env notify[2].secret_env", "notify-url notify[1].url", "notify-url notify[3].url",
      "unknown-field notify[3].formt" }, rules)
  end)

  it("accepts one target or a list, url_env instead of url, and warns about secret_env on slack", function()
    local file = h.script(script([[{ url_env = "SLACK_URL", format = "slack", secret_env = "X" }]]))
    local code, out = h.run({ "validate", "--format", "json", file })
    assert.are.equal(0, code, out)
    local d = cjson.decode(out).diagnostics
    assert.are.equal(1, #d)
    assert.are.equal("notify-secret-env", d[1].rule)
    assert.are.equal("warning", d[1].severity)
  end)
end)

describe("otarun.notify in process", function()
  local formats = require("otarun.notify.formats")
  local notify = require("otarun.notify")
  local state = require("otarun.state")

  it("signs and encodes with published vectors", function()
    for plain, b64 in pairs({ [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==",
        fooba = "Zm9vYmE=", foobar = "Zm9vYmFy" }) do -- RFC 4648 section 10
      assert.are.equal(b64, formats.base64(plain))
    end
    -- computed with python3's hmac, base64 and urllib.parse.quote_plus, as DingTalk documents it
    assert.are.equal("7LVwF0dAF3%2F%2BMRRulbpE4y72Ogzykc6bS2nG4I99T4s%3D",
      formats.dingtalk_sign(1700000000000, "SECtestsecret"))
    assert.are.equal("sha256=c3a92ff9e274cdcce27a58c15a78ec6dcbbdbd0038a87e7a11baef2028fd8bff",
      formats.signature('{"a":1}', "k"))
  end)

  it("redacts every secret part of a URL", function()
    assert.are.equal("https://oapi.dingtalk.com/robot/***?access_token=***",
      formats.redact("https://oapi.dingtalk.com/robot/send?access_token=abc123"))
    assert.are.equal("https://hooks.slack.com/services/***",
      formats.redact("https://hooks.slack.com/services/T0/B0/XXXXsecret"))
    assert.are.equal("https://***@h.example/x", formats.redact("https://u:pw@h.example/x"))
    assert.are.equal("connect to *** failed (***)", formats.scrub("connect to https://h/x?t=abcd failed (abcd)",
      formats.url_secrets("https://h/x?t=abcd")))
  end)

  it("commits a decision and its event together, or neither", function()
    local dir = h.tmpdir()
    local st = assert(state.open{ state = dir .. "/s.db", command = "spec", now = 1796000000 })
    assert(st:record_rollout{ name = "r", product = "p", region = "cn-shanghai", firmware = { id = "f" },
      waves = { { name = "w", kind = "dynamic" } } })
    local ok, err = notify.decide(st, function()
      assert(st:transition("r", "w", "running", "spec", "JOB1"))
      notify.record(st, { kind = "start", rollout = "r", wave = "w", job_id = "JOB1", text = "started" })
      st:halt("no-such-rollout", "fails inside the transaction")
    end)
    assert.is_nil(ok)
    assert.is_string(err)
    assert.are.equal("waiting", st:rollout("r").wave.w.state) -- the transition rolled back too
    local kinds = {}
    for _, row in ipairs(st:log()) do kinds[#kinds + 1] = notify.kind_of(row) end
    assert.are.same({}, kinds)
    assert.is_true(notify.decide(st, function()
      st:halt("r", "a gate tripped")
      notify.record(st, { kind = "halt", rollout = "r", text = "halted" })
    end))
    kinds = {}
    for _, row in ipairs(st:log()) do kinds[#kinds + 1] = notify.kind_of(row) end
    assert.are.same({ "halt", "event" }, kinds)
    st:close()
    os.execute("rm -rf " .. h.shell_quote(dir))
  end)
end)
