-- The state store from Lua: the binding otarun.core.store and the friendly otarun.state, on real
-- files in temporary directories, and the process lock between real `otarun lua` processes: a
-- second one names the holder, waits for it, and takes over after the holder is SIGKILLed.
-- Every test that is not about SQLite files runs on both engines: SQLite, and PostgreSQL when
-- OTARUN_TEST_PG names a server (ctest starts one: scripts/pg-test-server), a schema per store.
local helpers = require("helpers")
local core = require("otarun.core.store")
local state = require("otarun.state")
local sys = require("otarun.core.sys")
local cjson = require("cjson")

local tmpdir = helpers.tmpdir

-- The engines to run on; path(dir, name) is where a store named `name` lives.
local ENGINES = { { name = "SQLite", path = function(dir, name) return dir .. "/" .. name end } }
local PG = os.getenv("OTARUN_TEST_PG")
if PG and PG ~= "" then
  local n = 0
  ENGINES[2] = { name = "PostgreSQL", pg = true, path = function(_, name)
    n = n + 1
    return string.format("%s?schema=s%d_%d_%s", PG, sys.getpid(), n, (name:gsub("%W", "_")))
  end }
end

local function rm_rf(dir)
  os.execute("rm -rf " .. helpers.shell_quote(dir))
end

local function seed(st)
  assert(st:rollout_put{ name = "cam", product = "a1Le6d0abcd", region = "cn-shanghai", firmware = "fw1", at = 100 })
  assert(st:wave_put{ rollout = "cam", name = "canary", kind = "dynamic", index = 1, at = 100 })
  assert(st:wave_put{ rollout = "cam", name = "all", kind = "dynamic", index = 2, at = 100 })
end

local ROLLOUT = {
  name = "cam", file = "examples/cam.lua", product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = { id = "fw1" },
  waves = { { name = "canary", kind = "dynamic", index = 1 }, { name = "all", kind = "dynamic", index = 2 } },
}

for _, engine in ipairs(ENGINES) do
describe("otarun.core.store on " .. engine.name, function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() rm_rf(dir) end)

  it("creates a store at the current schema version and reopens it", function()
    local path = engine.path(dir, "s.db")
    local st = assert(core.open(path))
    assert.are.equal(core.SCHEMA_VERSION, st:version())
    assert.are.equal(path, st:path())
    seed(st)
    st:close()
    st = assert(core.open(path, { readonly = true }))
    assert.are.equal(2, #st:list("waves", { rollout = "cam" }))
    st:close()
  end)

  it("migrates an older store, keeping what it holds", function()
    local path = engine.path(dir, "old.db")
    local st = assert(core.open(path, { target_version = 1 }))
    assert.are.equal(1, st:version())
    seed(st)
    st:close()
    st = assert(core.open(path))
    assert.are.equal(core.SCHEMA_VERSION, st:version())
    assert.are.equal("canary", st:list("waves", { rollout = "cam" })[1].name)
    assert.is_true(st:approval{ rollout = "cam", wave = "all", who = "ana@h", why = "ok" })
    st:close()
  end)

  if not engine.pg then
    it("refuses a store written by a newer otarun, and never downgrades it", function()
      local path = engine.path(dir, "new.db")
      assert(core.open(path)):close()
      local fh = assert(io.open(path, "r+b"))
      fh:seek("set", 60) -- user_version in the SQLite header, big-endian
      fh:write("\0\0\0\99")
      fh:close()
      local st, msg, code = core.open(path)
      assert.is_nil(st)
      assert.are.equal("newer", code)
      assert.matches(path, msg, 1, true)
      assert.matches("state schema version 99 is newer than this otarun knows", msg, 1, true)
      fh = assert(io.open(path, "rb"))
      fh:seek("set", 60)
      assert.are.equal("\0\0\0\99", fh:read(4))
      fh:close()
    end)
  end

  if not engine.pg then
    it("says clearly when --state names something that is not a store", function()
      local text = helpers.write(dir .. "/notes.txt", "shopping list: milk, eggs, firmware\n")
      local st, msg, code = core.open(text)
      assert.is_nil(st)
      assert.are.equal("notstore", code)
      assert.matches(text .. ": ", msg, 1, true)
      assert.matches("not a database", msg, 1, true)
      st, msg = core.open(dir)
      assert.is_nil(st)
      assert.matches("is a directory", msg, 1, true)
      st, msg, code = core.open(engine.path(dir, "absent.db"), { readonly = true })
      assert.is_nil(st)
      assert.are.equal("notfound", code)
    end)
  end

  it("moves waves through their states and records each transition", function()
    local st = assert(core.open(engine.path(dir, "w.db")))
    seed(st)
    assert.is_true(st:wave_transition{ rollout = "cam", wave = "canary", to = "ready", why = "due", at = 200 })
    assert.is_false(st:wave_transition{ rollout = "cam", wave = "canary", to = "ready", at = 201 })
    assert.is_true(st:wave_transition{ rollout = "cam", wave = "canary", to = "running", job_id = "J1", at = 300 })
    local w = st:list("waves", { rollout = "cam", wave = "canary" })[1]
    assert.are.same({ "running", "J1", 300 }, { w.state, w.job_id, w.started_at })
    local t = st:list("transitions", { rollout = "cam" })
    assert.are.same({ "waiting", "ready", "due" }, { t[1].from, t[1].to, t[1].why })
    assert.are.same({ "ready", "running" }, { t[2].from, t[2].to })
    assert.has_error(function() st:wave_transition{ rollout = "cam", wave = "canary", to = "finished" } end)
    local ok, msg, code = st:wave_transition{ rollout = "cam", wave = "nope", to = "ready" }
    assert.is_nil(ok)
    assert.are.equal("notfound", code)
    assert.matches('no wave "nope" of rollout "cam"', msg, 1, true)
    st:close()
  end)

  it("journals intents: only under the lock, listed until settled", function()
    local st = assert(core.open(engine.path(dir, "i.db")))
    local intent = { rollout = "cam", wave = "canary", action = "CreateOTADynamicUpgradeJob",
      params = '{"FirmwareId":"fw1"}', identity = "cam/canary", at = 10 }
    local ok, msg, code = st:intent_begin(intent)
    assert.is_nil(ok)
    assert.are.equal("conflict", code)
    assert.matches("without holding the state lock", msg, 1, true)
    assert.is_true(st:lock(0, "apply"))
    local id = assert(st:intent_begin(intent))
    local open = st:list("unsettled")
    assert.are.equal(1, #open)
    assert.are.same({ id, "pending", "cam/canary" }, { open[1].id, open[1].state, open[1].identity })
    assert.is_true(st:intent_settle(id, { state = "settled", job_id = "J1", result = "R1" }))
    assert.are.equal(0, #st:list("unsettled"))
    ok, msg, code = st:intent_settle(id, { state = "settled" })
    assert.are.equal("conflict", code)
    assert.has_error(function() st:intent_settle(id, { state = "maybe" }) end)
    st:close()
  end)

  it("refuses params holding secrets, naming the key", function()
    local st = assert(core.open(engine.path(dir, "sec.db")))
    assert(st:lock(0, "t"))
    for _, json in ipairs({ '{"AccessKeySecret":"k"}', '{"h":{"x-acs-security-token":"t"}}',
                            '{"Signature":"s"}', '[{"authorization":"ACS3-HMAC-SHA256 ..."}]' }) do
      local ok, err = pcall(st.audit, st, { kind = "call", action = "X", params = json })
      assert.is_false(ok)
      assert.matches("secrets and signatures never go into the state store", err, 1, true)
      ok = pcall(st.intent_begin, st, { action = "X", params = json })
      assert.is_false(ok)
    end
    assert.are.equal(0, #st:list("audit"))
    assert.are.equal(0, #st:list("intents"))
    assert.is_true(core.secret_key("AccessKeySecret"))
    assert.is_true(core.secret_key("x-acs-security-token"))
    assert.is_false(core.secret_key("SignatureNonce"))
    assert.is_false(core.secret_key("FirmwareId"))
    st:close()
  end)

  it("rejects unknown fields and wrong types before touching the store", function()
    local st = assert(core.open(engine.path(dir, "f.db")))
    local ok, err = pcall(st.rollout_put, st, { nmae = "x" })
    assert.is_false(ok)
    assert.matches('unknown field "nmae"', err, 1, true)
    ok, err = pcall(st.rollout_put, st, { name = 42 })
    assert.is_false(ok)
    assert.matches("field name must be a string, got number", err, 1, true)
    assert.has_error(function() st:list("everything") end)
    st:close()
  end)

  it("groups writes in transactions", function()
    local st = assert(core.open(engine.path(dir, "t.db")))
    seed(st)
    assert.is_true(st:begin())
    assert.is_true(st:in_transaction())
    assert(st:job_put{ job_id = "J1", rollout = "cam", wave = "canary", kind = "dynamic" })
    assert(st:audit{ kind = "call", action = "CreateOTADynamicUpgradeJob" })
    assert.is_true(st:rollback())
    assert.are.equal(0, #st:list("jobs"))
    assert.are.equal(0, #st:list("audit"))
    assert(st:begin())
    assert(st:job_put{ job_id = "J1", rollout = "cam", wave = "canary", kind = "dynamic" })
    assert(st:commit())
    assert.are.equal("J1", st:list("jobs")[1].job_id)
    st:close()
  end)

  it("fingerprints what a plan depends on, stably", function()
    local st = assert(core.open(engine.path(dir, "fp.db")))
    seed(st)
    local a = st:fingerprint({ "cam" })
    assert.matches("^%x+$", a)
    assert.are.equal(64, #a)
    assert.are.equal(a, st:fingerprint({ "cam", "cam" }))
    assert(st:audit{ kind = "decision", rollout = "cam" })
    assert.are.equal(a, st:fingerprint({ "cam" }))
    assert(st:wave_transition{ rollout = "cam", wave = "canary", to = "ready" })
    assert.are_not.equal(a, st:fingerprint({ "cam" }))
    st:close()
  end)

  it("closes with <close> and refuses use afterwards", function()
    local st
    do
      local h <close> = assert(core.open(engine.path(dir, "c.db")))
      st = h
    end
    assert.has_error(function() st:version() end, "state store is closed")
  end)
end)
end

for _, engine in ipairs(ENGINES) do
describe("otarun.state on " .. engine.name, function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() rm_rf(dir) end)

  if not engine.pg then
    it("resolves --state, then OTARUN_STATE, then .otarun/state.db, creating the directory", function()
      local p = assert(state.path({ state = dir .. "/a/b/state.db" }))
      assert.are.equal(dir .. "/a/b/state.db", p)
      local fh = io.open(dir .. "/a/b/probe", "w")
      assert.is_truthy(fh)
      fh:close()
      local script = helpers.script([[
        local state = require("otarun.state")
        print(state.resolve({ state = arg[1] ~= "" and arg[1] or nil }))]])
      local _, out = helpers.run({ "lua", script, "" }, { env = { OTARUN_STATE = dir .. "/env.db" } })
      assert.are.equal(dir .. "/env.db\n", out)
      _, out = helpers.run({ "lua", script, dir .. "/opt.db" }, { env = { OTARUN_STATE = dir .. "/env.db" } })
      assert.are.equal(dir .. "/opt.db\n", out)
      _, out = helpers.run({ "lua", script, "" }, { env = { OTARUN_STATE = "" } })
      assert.are.equal(".otarun/state.db\n", out)
      os.remove(script)
    end)
  end

  it("encodes params as canonical JSON without secret keys", function()
    assert.are.equal('{"FirmwareId":"fw","SrcVersion.1":"2.3.1","Tag.1.Key":"a\\"b/c"}',
      state.json({ ["Tag.1.Key"] = 'a"b/c', FirmwareId = "fw", ["SrcVersion.1"] = "2.3.1",
                   Signature = "sig", AccessKeySecret = "k" }))
    assert.are.equal('{"h":{"x":1},"list":[1,2.5,true]}',
      state.json({ list = { 1, 2.5, true }, h = { x = 1, ["x-acs-security-token"] = "t" } }))
    assert.are.equal('{"s":"line\\nbreak\\u0001"}', state.json({ s = "line\nbreak\1" }))
    assert.are.equal('{"already":"json"}', state.json('{"already":"json"}'))
    assert.are.equal("[]", state.json(setmetatable({}, state.array_mt)))
    assert.are.same({ a = "x" }, cjson.decode(state.json({ a = "x", password = "p" })))
  end)

  it("records a rollout, a call and its outcome atomically, and the audit log says who", function()
    local st = assert(state.open({ state = engine.path(dir, "s.db"), command = "apply", now = 1796000000,
                                   who = "ana@ops" }))
    assert(st:record_rollout(ROLLOUT))
    assert(st:lock())
    local id = assert(st:intent({ rollout = "cam", wave = "canary", action = "CreateOTADynamicUpgradeJob",
      params = { FirmwareId = "fw1", ["SrcVersion.1"] = "2.3.1", SecurityToken = "t" }, identity = "cam/canary" }))
    local open = st:unsettled("cam")
    assert.are.same({ FirmwareId = "fw1", ["SrcVersion.1"] = "2.3.1" }, open[1].params)

    -- one failing part (an unknown wave) leaves nothing half-written
    local ok, err = st:record_call(id, { job_id = "J1", result = "ok", job = { rollout = "cam", wave = "canary" },
      transition = { rollout = "cam", wave = "nope", to = "running" }, audit = { action = "CreateOTADynamicUpgradeJob" } })
    assert.is_nil(ok)
    assert.matches('no wave "nope"', err, 1, true)
    assert.are.equal(1, #st:unsettled())
    assert.are.equal(0, #st:jobs())
    assert.are.equal(0, #st:log())

    assert.is_true(st:record_call(id, { job_id = "J1", result = "created", request_id = "R1",
      job = { rollout = "cam", wave = "canary", kind = "dynamic" },
      transition = { rollout = "cam", wave = "canary", to = "running", why = "job created" },
      audit = { action = "CreateOTADynamicUpgradeJob", rollout = "cam", wave = "canary",
                params = { FirmwareId = "fw1", Signature = "sig" } } }))
    assert.are.equal(0, #st:unsettled())
    local r = st:rollout("cam")
    assert.are.same({ "running", "J1" }, { r.wave.canary.state, r.wave.canary.job_id })
    local log = st:log({ rollout = "cam" })
    assert.are.equal(1, #log)
    assert.are.same({ "call", "ana@ops", "apply", "R1", 1796000000, '{"FirmwareId":"fw1"}' },
      { log[1].kind, log[1].who, log[1].command, log[1].request_id, log[1].at, log[1].params })
    st:close()
  end)

  it("halts, resumes, approves and overrides with an audit entry each", function()
    local st = assert(state.open({ state = engine.path(dir, "h.db"), command = "run", who = "bo@ops" }))
    assert(st:record_rollout(ROLLOUT))
    assert.is_true(st:halt("cam", "canary gate: 3 failed > max_failed 2"))
    assert.is_true(st:rollout("cam").halted)
    assert.is_true(st:resume("cam", "root cause fixed"))
    assert.is_false(st:rollout("cam").halted)
    assert.is_true(st:approve("cam", "all", "canary looked good"))
    assert.are.equal("bo@ops", st:approvals("cam", "all")[1].who)
    assert.is_true(st:override("guardrails.min_soak", "hotfix", "cam", "abc"))
    assert.is_true(st:gate("cam", "canary", { succeeded = 40, failed = 1 }, "wait", "soak 2h of 24h"))
    assert.are.equal('{"failed":1,"succeeded":40}', st:gate_readings("cam", "canary")[1].counts)
    local kinds = {}
    for _, e in ipairs(st:log()) do kinds[#kinds + 1] = e.kind end
    assert.are.same({ "halt", "resume", "approval", "override", "gate" }, kinds)
    local ok, err = st:halt("ghost", "x")
    assert.is_nil(ok)
    assert.matches('no rollout "ghost"', err, 1, true)
    st:close()
  end)

  it("records no gate readings in a rehearsal's scratch store, everything else as usual", function()
    local st = assert(state.open({ state = ":memory:", command = "rehearse", who = "r@x", scratch = true }))
    assert(st:record_rollout(ROLLOUT))
    assert.is_true(st:gate("cam", "canary", { succeeded = 40, failed = 1 }, "wait", "soak 2h of 24h"))
    assert.are.same({}, st:gate_readings("cam", "canary"))
    assert.is_true(st:halt("cam", "gate tripped"))
    assert.is_true(st:rollout("cam").halted)
    local kinds = {}
    for _, e in ipairs(st:log()) do kinds[#kinds + 1] = e.kind end
    assert.are.same({ "halt" }, kinds)
    st:close()
  end)

  it("changes the fingerprint when the state a plan saw changes", function()
    local st = assert(state.open({ state = engine.path(dir, "fp.db") }))
    assert(st:record_rollout(ROLLOUT))
    local before = st:fingerprint({ "cam" })
    assert.are.equal(before, st:fingerprint({ "cam" }))
    assert(st:transition("cam", "canary", "ready", "due"))
    assert.are_not.equal(before, st:fingerprint({ "cam" }))
    st:close()
  end)

  it("exports every table as JSON through a temp file and rename", function()
    local st = assert(state.open({ state = engine.path(dir, "e.db"), now = 5 }))
    assert(st:record_rollout(ROLLOUT))
    assert.is_true(st:export(dir .. "/dump.json"))
    local doc = cjson.decode(helpers.slurp(dir .. "/dump.json"))
    assert.are.equal("cam", doc.rollouts[1].name)
    assert.are.equal(2, #doc.waves)
    assert.are.same({}, doc.audit)
    local leftovers = io.popen("ls " .. helpers.shell_quote(dir)):read("a")
    assert.is_nil(leftovers:find("tmp", 1, true))
    st:close()
  end)

  if not engine.pg then
    it("gives a clear error for a file that is not a store", function()
      local bad = helpers.write(dir .. "/bad.db", ("x"):rep(4096))
      local st, msg, code = state.open({ state = bad })
      assert.is_nil(st)
      assert.are.equal("notstore", code)
      assert.matches(bad .. ": ", msg, 1, true)
    end)
  end
end)
end

-- ---- two real processes ---------------------------------------------------------------------

local HOLDER = [[
local state = require("otarun.state")
local sys = require("otarun.core.sys")
local path, pidfile, hold = arg[1], arg[2], tonumber(arg[3])
local st = assert(state.open({ state = path, command = "apply" }))
assert(st:record_rollout({ name = "cam", waves = { { name = "canary" } } }))
local ok, msg = st:lock(0)
if not ok then io.stderr:write(msg, "\n") os.exit(9) end
assert(st:intent({ rollout = "cam", wave = "canary", action = "CreateOTADynamicUpgradeJob",
  params = { FirmwareId = "fw1" }, identity = "cam/canary" }))
local fh = assert(io.open(pidfile .. ".tmp", "w"))
fh:write(tostring(sys.getpid()))
fh:close()
os.rename(pidfile .. ".tmp", pidfile)
sys.sleep(hold)
st:close()
]]

local CONTENDER = [[
local state = require("otarun.state")
local st = assert(state.open({ state = arg[1], command = "plan" }))
local ok, took = st:lock(tonumber(arg[2]))
if not ok then io.stdout:write("LOCKED ", took, "\n") os.exit(7) end
if took then io.stdout:write("TOOKOVER ", took.pid, " ", took.host, "\n") end
io.stdout:write("UNSETTLED ", #st:unsettled(), "\n")
for _, e in ipairs(st:log()) do io.stdout:write("AUDIT ", e.action or "", " ", e.result or "", "\n") end
st:close()
]]

local wait_for, process_gone = helpers.wait_for, helpers.process_gone

for _, engine in ipairs(ENGINES) do
describe("the state lock between two otarun processes on " .. engine.name, function()
  local dir, holder, contender, db, pidfile
  before_each(function()
    dir = tmpdir()
    holder = helpers.write(dir .. "/holder.lua", HOLDER)
    contender = helpers.write(dir .. "/contender.lua", CONTENDER)
    db = engine.path(dir, "state.db")
    pidfile = dir .. "/holder.pid"
  end)
  after_each(function()
    local pid = helpers.slurp(pidfile)
    if pid ~= "" then os.execute("kill -KILL " .. pid .. " 2>/dev/null") end
    rm_rf(dir)
  end)

  local function start_holder(hold)
    os.execute(string.format("%s lua %s %s %s %s >/dev/null 2>&1 &", helpers.shell_quote(helpers.bin),
      helpers.shell_quote(holder), helpers.shell_quote(db), helpers.shell_quote(pidfile), hold))
    assert(wait_for(function() return helpers.slurp(pidfile) ~= "" end, 20), "the holder never took the lock")
    return tonumber(helpers.slurp(pidfile))
  end

  it("names the holder, then takes over once the holder is SIGKILLed", function()
    local pid = start_holder(60)
    local code, out = helpers.run({ "lua", contender, db, "0" })
    assert.are.equal(7, code)
    assert.matches(string.format("state locked by pid %d on host %s since %%d%%d%%d%%d%%-", pid, sys.hostname()), out)
    assert.matches("(apply)", out, 1, true)

    os.execute("kill -KILL " .. pid)
    assert(wait_for(function() return process_gone(pid) end, 10), "the holder did not die")
    -- PostgreSQL ends the session once it sees the socket close: the contender may wait a moment
    code, out = helpers.run({ "lua", contender, db, engine.pg and "10" or "0" })
    assert.are.equal(0, code, out)
    assert.matches(string.format("TOOKOVER %d %s", pid, sys.hostname()), out, 1, true)
    assert.matches("UNSETTLED 1", out, 1, true) -- the killed holder's intent, left to resolve
    assert.matches(string.format("AUDIT lock%%-takeover took over the lock of pid %d", pid), out)
  end)

  it("waits for a holder that lets go", function()
    local pid = start_holder(1)
    local t0 = sys.monotonic()
    local code, out = helpers.run({ "lua", contender, db, "20" })
    assert.are.equal(0, code, out)
    assert.is_nil(out:find("TOOKOVER", 1, true))
    assert.is_true(sys.monotonic() - t0 < 15)
    assert(wait_for(function() return process_gone(pid) end, 10))
  end)
end)
end
