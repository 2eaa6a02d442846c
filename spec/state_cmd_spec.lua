-- The state store on PostgreSQL from the command line (docs/state.md), against the real emulator
-- over 127.0.0.1 and the suite's PostgreSQL (OTARUN_TEST_PG, scripts/pg-test-server): apply and
-- status with --state URL, a password that never shows in any output or in the store, state
-- push / pull / show with the counts checked and the audit log copied, a newer schema refused
-- with both versions named, and read-only commands that never wait for a lock holder.
local h = require("helpers")
local ah = require("apply_helpers")
local sys = require("otarun.core.sys")
local cjson = require("cjson")

local PG = os.getenv("OTARUN_TEST_PG")
assert(PG and PG ~= "", "state_cmd_spec needs OTARUN_TEST_PG (ctest starts scripts/pg-test-server)")

local n = 0
local function url(tag)
  n = n + 1
  return string.format("%s?schema=c%d_%d_%s", PG, sys.getpid(), n, tag)
end

-- The test server's password, from its password file ("host:port:db:user:password").
local function password()
  return (h.slurp(os.getenv("PGPASSFILE")):match(":([^:\n]+)\n?$"))
end

-- PG with user:password@ in place of user@.
local function url_with_password(u)
  return (u:gsub("^(postgresql://[^@/]+)@", "%1:" .. password() .. "@"))
end

local function psql(sql)
  local _, _, code = os.execute(string.format("psql -q -X -v ON_ERROR_STOP=1 %s -c %s >/dev/null 2>&1",
    h.shell_quote(PG), h.shell_quote(sql)))
  return code
end

-- Every row of every history table, as the export writes it (ids included).
local function dump(path)
  local st = assert(require("otarun.state").open{ state = path, readonly = true })
  local out = h.tmpname()
  assert(st:export(out))
  st:close()
  local doc = cjson.decode(h.slurp(out))
  os.remove(out)
  doc.exported_at = nil
  return doc
end

describe("otarun on a PostgreSQL state store", function()
  local dir, server, script

  setup(function()
    dir, server = ah.up(6)
    script = ah.rollouts(dir .. "/cams.lua", 3)
  end)
  teardown(function() ah.down(server, dir) end)

  it("applies, plans nothing the second time, and status from elsewhere sees every wave; no password shows", function()
    local db = url_with_password(url("apply"))
    local pw = password()
    assert.is_truthy(#pw >= 16)
    local code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    assert.matches("Apply complete: 3 waves, 3 calls", out, 1, true)
    assert.is_nil((out .. err):find(pw, 1, true))
    code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    assert.is_nil(out:find("CreateOTA", 1, true))
    -- status with the URL and no password (the password file supplies it)
    code, out, err = ah.otarun(server, db:gsub(":" .. pw, ""), { "status", script, "--format", "json" })
    assert.are.equal(0, code, out .. err)
    local doc = cjson.decode(out)
    local running = 0
    for _, r in ipairs(doc.rollouts) do
      for _, w in ipairs(r.waves) do if w.state == "running" then running = running + 1 end end
    end
    assert.are.equal(3, running, out)
    code, out, err = ah.otarun(server, db, { "log", script })
    assert.are.equal(0, code, out .. err)
    assert.matches("CreateOTADynamicUpgradeJob", out, 1, true)
    code, out, err = h.run({ "state", "show", "--state", db })
    assert.are.equal(0, code, out .. err)
    assert.matches("engine: postgresql", out, 1, true)
    assert.is_nil((out .. err):find(pw, 1, true))
    assert.is_nil(cjson.encode(dump(db)):find(pw, 1, true))
    -- a saved plan records the store without its password
    local plan = dir .. "/plan.json"
    code, out, err = ah.otarun(server, db, { "plan", script, "--out", plan })
    assert.is_true(code == 0 or code == 2, out .. err)
    local saved = h.slurp(plan)
    assert.is_nil(saved:find(pw, 1, true))
    assert.matches("postgresql://otarun@127.0.0.1", saved, 1, true)
    -- a wrong password: refused, clearly, and not shown either
    local wrong = db:gsub(pw, "NotThePassw0rd42")
    code, out, err = ah.otarun(server, wrong, { "apply", script, "--auto-approve" })
    assert.are.equal(1, code, out .. err)
    assert.matches("password authentication failed", err, 1, true)
    assert.is_nil((out .. err):find("NotThePassw0rd42", 1, true))
    assert.are.equal(3, #ah.jobs(server))
  end)

  it("pushes a SQLite store to PostgreSQL and pulls it back with every row, audit log included", function()
    local file = dir .. "/local.db"
    local other = ah.rollouts(dir .. "/more.lua", 6, { first = 4 }) -- jobs no other store knows
    local code, out, err = ah.otarun(server, file, { "apply", other, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    local remote = url("push")
    code, out, err = h.run({ "state", "push", "--state", file, "--to", remote })
    assert.are.equal(0, code, out .. err)
    assert.matches("row counts verified", out, 1, true)
    assert.matches("rollouts 3, waves 3", out, 1, true)
    local before = dump(file)
    assert.is_true(#before.audit > 0)
    assert.are.same(before, dump(remote))
    code, out, err = h.run({ "state", "show", "--state", remote })
    assert.are.equal(0, code, out .. err)
    assert.matches("schema version: %d+ %(this otarun: %d+%)", out)
    assert.matches("cam%-0004: all=running", out)
    -- the copy goes on where the source left off: a new audit row gets a new id
    local st = assert(require("otarun.state").open{ state = remote, command = "t" })
    local id = assert(st:audit{ kind = "decision", action = "after-push" })
    st:close()
    assert.is_true(id > before.audit[#before.audit].id)
    -- into a non-empty store: refused, nothing changed
    code, out, err = h.run({ "state", "push", "--state", file, "--to", remote })
    assert.are.equal(1, code, out .. err)
    assert.matches("already holds state", err, 1, true)
    -- and back
    local back = dir .. "/back/state.db"
    code, out, err = h.run({ "state", "pull", "--from", remote, "--state", back })
    assert.are.equal(0, code, out .. err)
    local again = dump(back)
    assert.are.equal(#before.audit + 1, #again.audit)
    again.audit[#again.audit] = nil
    assert.are.same(before, again)
    code, out, err = h.run({ "state", "pull", "--from", url("empty"), "--state", dir .. "/none.db" })
    assert.are.equal(1, code, out .. err)
    assert.matches("no state recorded there", err, 1, true)
    code, out, err = h.run({ "state", "push" })
    assert.are.equal(64, code, out .. err)
  end)

  it("keeps teams apart by schema and refuses a newer schema naming both versions", function()
    local a, b = url("teama"), url("teamb")
    local code, out, err = ah.otarun(server, a, { "apply", script, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    code, out = h.run({ "state", "show", "--state", b })
    assert.are.equal(0, code)
    assert.matches("no state recorded yet", out, 1, true)
    local schema = a:match("schema=(.*)$")
    assert.are.equal(0, psql(string.format("UPDATE %s.otarun_meta SET value = '99' WHERE key = 'schema_version'", schema)))
    code, out, err = ah.otarun(server, a, { "status", script })
    assert.are.equal(1, code, out .. err)
    assert.matches("state schema version 99 is newer than this otarun knows %(%d+%)", err)
    code, out, err = ah.otarun(server, a, { "apply", script, "--auto-approve" })
    assert.are.equal(1, code, out .. err)
    assert.matches("version 99 is newer", err, 1, true)
  end)

  it("lets plan and status read while apply holds the lock, and apply waits then names the holder", function()
    local db = url("lock")
    local code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve" })
    assert.are.equal(0, code, out .. err)
    local holder = h.write(dir .. "/hold.lua", [[
local st = assert(require("otarun.state").open{ state = arg[1], command = "apply" })
assert(st:lock(0))
io.open(arg[2], "w"):close()
require("otarun.core.sys").sleep(30)
]])
    local ready = dir .. "/held"
    os.remove(ready)
    os.execute(string.format("%s lua %s %s %s >/dev/null 2>&1 & echo $! > %s", h.shell_quote(h.bin),
      h.shell_quote(holder), h.shell_quote(db), h.shell_quote(ready), h.shell_quote(dir .. "/hold.pid")))
    local t0 = sys.monotonic()
    while not io.open(ready) and sys.monotonic() - t0 < 20 do sys.sleep(0.05) end
    local pid = h.slurp(dir .. "/hold.pid"):match("%d+")
    t0 = sys.monotonic()
    code, out, err = ah.otarun(server, db, { "plan", script })
    assert.is_true(code == 0 or code == 2, out .. err)
    code, out, err = ah.otarun(server, db, { "status", script })
    assert.are.equal(0, code, out .. err)
    assert.is_true(sys.monotonic() - t0 < 10)
    code, out, err = h.run({ "state", "show", "--state", db })
    assert.matches("(whole store): pid " .. pid .. " on host " .. sys.hostname(), out, 1, true)
    t0 = sys.monotonic()
    code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve", "--lock-timeout", "1" })
    assert.are.equal(1, code, out .. err)
    assert.matches("state locked by pid " .. pid .. " on host " .. sys.hostname(), err, 1, true)
    assert.matches("gave up after waiting", err, 1, true)
    assert.is_true(sys.monotonic() - t0 < 10)
    os.execute("kill -KILL " .. pid)
    -- the holder's session ends with it: the lock is free again
    code, out, err = ah.otarun(server, db, { "apply", script, "--auto-approve", "--lock-timeout", "10" })
    assert.are.equal(0, code, out .. err)
  end)
end)
