-- What an operator meets when nobody watches: windows in real time zones (daylight saving
-- included), regions and versions checked before anything is sent, the actor named in CI, and
-- script mistakes that reach Lua itself explained like misspelt fields. Through the real binary.
local h = require("spec.helpers")

local HEAD = [[
rollout "x" {
  product = "a1Le6d0abcd", region = "%s", firmware = firmware { id = "f", version = "1" },
  %s
}
]]

local function script(wave, region)
  return h.script(string.format(HEAD, region or "cn-shanghai", wave))
end

local function validate(path)
  return h.run({ "validate", path })
end

local function plan_at(path, now)
  return h.run({ "plan", "--offline", "--now", now, path })
end

describe("time zones of windows", function()
  it("opens a Berlin night window at 23:00Z in July and 00:00Z in January", function()
    local p = script([[wave "a" { versions = { "1.0" },
      window = { from = "01:00", to = "05:00", tz = "Europe/Berlin" } },]])
    local code, out = plan_at(p, "2026-07-15T12:00:00Z")
    assert.are.equal(0, code)
    assert.matches("window daily 01:00%-05:00 Europe/Berlin opens at 2026%-07%-15T23:00:00Z", out)
    code, out = plan_at(p, "2026-01-15T12:00:00Z")
    assert.are.equal(0, code)
    assert.matches("opens at 2026%-01%-16T00:00:00Z", out)
    -- inside the window the wave is due now, in both seasons
    code, out = plan_at(p, "2026-07-15T23:30:00Z")
    assert.matches("due now", out)
    code, out = plan_at(p, "2026-01-16T03:30:00Z")
    assert.matches("due now", out)
    os.remove(p)
  end)

  it("accepts CET and offsets, and refuses a zone the tz database does not have", function()
    local p = script([[wave "a" { versions = { "1.0" }, window = { from = "01:00", to = "05:00", tz = "CET" } },]])
    assert.are.equal(0, (validate(p)))
    os.remove(p)
    p = script([[wave "a" { versions = { "1.0" }, window = { from = "01:00", to = "05:00", tz = "+08:00" } },]])
    assert.are.equal(0, (validate(p)))
    os.remove(p)
    p = script([[wave "a" { versions = { "1.0" }, window = { from = "01:00", to = "05:00", tz = "Europe/Berln" } },]])
    local code, out, err = validate(p)
    assert.are.equal(3, code)
    assert.matches('time zone "Europe/Berln" is not in the tz database', out .. err)
    os.remove(p)
    p = script([[wave "a" { versions = { "1.0" }, window = { from = "01:00", to = "05:00", tz = "../../etc/passwd" } },]])
    code, out, err = validate(p)
    assert.are.equal(3, code)
    assert.matches("is not a time zone name", out .. err)
    os.remove(p)
  end)

  it("warns when a window has no tz", function()
    local p = script([[wave "a" { versions = { "1.0" }, window = { from = "01:00", to = "05:00" } },]])
    local code, out, err = validate(p)
    assert.are.equal(0, code)
    assert.matches("warning%[window%-no%-tz%]", out .. err)
    os.remove(p)
  end)
end)

describe("regions and versions", function()
  it("names the region a misspelt one was meant to be, without the misleading group rule", function()
    local p = script([[wave "a" { group = "g1", rate = 10 },]], "cn-shangai")
    local code, out, err = validate(p)
    assert.are.equal(3, code)
    assert.matches('region "cn%-shangai" is not an IoT Platform region: did you mean "cn%-shanghai"%?', out .. err)
    assert.not_matches("dynamic%-group%-region", out .. err)
    os.remove(p)
  end)

  it("only warns on a region it does not list and cannot take for a typo", function()
    local p = script([[wave "a" { versions = { "1.0" } },]], "cn-hangzhou")
    local code, out, err = validate(p)
    assert.are.equal(0, code)
    assert.matches("warning%[region%-unlisted%]", out .. err)
    os.remove(p)
  end)

  it("warns on source versions written as patterns", function()
    for _, v in ipairs({ "3.1.x", "3.*", "2.0.?", "1.[0-3]" }) do
      local p = script(string.format([[wave "a" { versions = { %q } },]], v))
      local code, out, err = validate(p)
      assert.are.equal(0, code)
      assert.matches("warning%[src%-version%-pattern%]", out .. err, nil, v)
      os.remove(p)
    end
    local p = script([[wave "a" { versions = { "3.1.10", "x1.2", "1.0-rc1" } },]])
    local _, out, err = validate(p)
    assert.not_matches("src%-version%-pattern", out .. err)
    os.remove(p)
  end)
end)

describe("one duration syntax", function()
  it("takes retry.interval as a duration like timeout and soak", function()
    local p = script([[wave "a" { versions = { "1.0" }, retry = { interval = "10m", count = 2 } },]])
    assert.are.equal(0, (validate(p)))
    local _, out = plan_at(p, "2026-07-15T12:00:00Z")
    assert.matches('RetryInterval = "10"', out)
    os.remove(p)
    p = script([[wave "a" { versions = { "1.0" }, retry = { interval = "1h", count = 2 } },]])
    local _, out2 = plan_at(p, "2026-07-15T12:00:00Z")
    assert.matches('RetryInterval = "60"', out2)
    os.remove(p)
    p = script([[wave "a" { versions = { "1.0" }, retry = { interval = "15m", count = 2 } },]])
    local code, o, e = validate(p)
    assert.are.equal(3, code)
    assert.matches("RetryInterval must be 0, 10, 30, 60 or 1440 minutes", o .. e)
    os.remove(p)
  end)
end)

describe("mistakes that reach Lua", function()
  local function err_of(text)
    local p = h.script(text)
    local code, out, err = validate(p)
    os.remove(p)
    return code, out .. err
  end

  it("suggests the DSL name for a misspelt function", function()
    local code, msg = err_of('rolout "x" { product = "a" }\n')
    assert.are.equal(3, code)
    assert.matches("global 'rolout'%) %(did you mean rollout%?%)", msg)
  end)

  it("points at a missing comma", function()
    local code, msg = err_of('rollout "x" {\n  product = "a" region = "cn-shanghai",\n}\n')
    assert.are.equal(3, code)
    assert.matches(":2: .*is a comma missing", msg)
  end)

  it("explains that waves are not a field", function()
    local code, msg = err_of([[rollout "x" {
  product = "a1Le6d0abcd", region = "cn-shanghai", firmware = firmware { id = "f", version = "1" },
  waves = { wave "a" { versions = { "1.0" } } },
}
]])
    assert.are.equal(3, code)
    assert.matches('write each wave inside the rollout', msg)
  end)

  it("points os.getenv at var() and --var", function()
    local code, msg = err_of('local home = os.getenv("HOME")\n')
    assert.are.equal(3, code)
    assert.matches('os.getenv is blocked.*var%("NAME"%).*%-%-var NAME=VALUE', msg)
  end)
end)

describe("the actor", function()
  local who = 'print(require("otarun.state").who())'
  local function actor(env)
    local p = h.script(who)
    local _, out = h.run({ "lua", p }, { env = env })
    os.remove(p)
    return out
  end

  it("takes OTARUN_ACTOR first, then the CI's variable, then the password database", function()
    assert.matches("^alice@", actor({ OTARUN_ACTOR = "alice", GITHUB_ACTOR = "octocat" }))
    assert.matches("^octocat@", actor({ GITHUB_ACTOR = "octocat" }))
    assert.matches("^gitlabber@", actor({ GITLAB_USER_LOGIN = "gitlabber" }))
    -- with no $USER at all (a container): the uid's name, never "unknown"
    local p = h.script(who)
    local fh = io.popen("env -u USER -u LOGNAME " .. h.shell_quote(h.bin) .. " lua " .. h.shell_quote(p))
    local out = fh:read("a")
    fh:close()
    os.remove(p)
    assert.not_matches("^unknown@", out)
    assert.matches("^[%w_.-]+@", out)
  end)
end)

describe("option values", function()
  local example = h.src .. "/examples/version-waves.lua"

  it("refuses an unknown --kind before reading any state, with the closest kind", function()
    local code, _, err = h.run({ "log", "--kind", "hallt", example })
    assert.are.equal(64, code)
    assert.matches("%-%-kind hallt is not a kind of entry %(did you mean halt%?%)", err)
  end)

  it("takes --policy only as a directory: a usage error, not a policy denial", function()
    local code, _, err = h.run({ "plan", "--offline", "--policy", "/nonexistent", example })
    assert.are.equal(64, code)
    assert.matches("%-%-policy /nonexistent is not a directory", err)
    code = h.run({ "plan", "--offline", "--policy", example, example })
    assert.are.equal(64, code)
  end)

  it("reads --refresh false as --refresh=false, not as a file named false", function()
    local code, _, err = h.run({ "plan", "--offline", "--refresh", "false", example })
    assert.are.equal(0, code, err)
    assert.not_matches("false", err)
  end)
end)

-- An emulator, a scratch directory with the script, and otarun against both with its own store.
-- -> emulator, dir, file, otarun(argv, env) -> code, out, err
local function with_emulator(name, script, default_env)
  local e = require("emu_helper").start()
  local dir = h.tmpdir()
  local file = h.write(dir .. "/" .. name .. ".lua", script)
  local function otarun(argv, env)
    local full = { table.unpack(argv) }
    full[#full + 1] = "--state"
    full[#full + 1] = dir .. "/state.db"
    return h.run(full, { env = e:env(env or default_env) })
  end
  return e, dir, file, otarun
end

local function done(e, dir)
  e:stop()
  os.execute("rm -rf " .. h.shell_quote(dir))
end

describe("failures are loud, against the emulator over 127.0.0.1", function()
  local e, dir, file
  local SCRIPT = [[
rollout "loud" {
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = firmware { id = "fwHelper0001", version = "2.4.0", verified = true },
  defaults = { gate = { soak = "1h", min_devices = 5, max_failed_ratio = 0.5 } },
  wave "canary" { versions = { "2.3.1" }, rate = 10 },
  wave "rest"   { versions = { "2.3.0" }, rate = 100 },
}
]]
  local otarun
  before_each(function()
    e, dir, file, otarun = with_emulator("loud", SCRIPT)
  end)
  after_each(function() done(e, dir) end)

  it("run --once with a wrong secret exits 1, says the key was refused and what it left alone", function()
    local code, out, err = otarun({ "run", "--once", file }, { ALIBABA_CLOUD_ACCESS_KEY_SECRET = "wrong-secret-000" })
    assert.are.equal(1, code, out .. err)
    assert.matches("this tick could not read or act", err, 1, true)
    assert.matches("SignatureDoesNotMatch", err, 1, true)
    assert.matches("left untouched %(nothing started, changed or judged%): loud", err)
    assert.is_nil((out .. err):find("wrong-secret-000", 1, true))
    assert.are.equal(0, #e:jobs())
  end)

  it("run --once against a platform that does not answer exits 1", function()
    local code, _, err = otarun({ "run", "--once", "--endpoint", "http://127.0.0.1:1", file })
    assert.are.equal(1, code)
    assert.matches("reading the platform", err, 1, true)
  end)

  it("status with a wrong secret exits 1 and says the key was refused", function()
    local code, out, err = otarun({ "status", file }, { ALIBABA_CLOUD_ACCESS_KEY_SECRET = "wrong-secret-000" })
    assert.are.equal(1, code, out .. err)
    assert.matches("platform: refused: the platform refused the access key", out, 1, true)
    assert.not_matches("platform: reachable", out)
    code, out = otarun({ "status", file })
    assert.are.equal(0, code)
    assert.matches("platform: reachable", out, 1, true)
  end)

  it("tells healthy (0) from halted (6); plan --offline shows the running wave from the store", function()
    local code, out, err = otarun({ "run", "--once", file })
    assert.are.equal(0, code, out .. err)
    assert.are.equal(1, #e:jobs())
    -- offline, with the store: the canary is running, not "+ create"
    code, out, err = otarun({ "plan", "--offline", file })
    assert.are.equal(0, code, err)
    assert.matches("from recorded state", out, 1, true)
    assert.not_matches("canary: create", out)
    code, out, err = otarun({ "abort", file, "--reason", "bad batch" })
    assert.are.equal(0, code, out .. err)
    code, out, err = otarun({ "run", "--once", file })
    assert.are.equal(6, code, out .. err)
    assert.matches("HALTED", out, 1, true)
  end)
end)

describe("no dead ends for humans, against the emulator over 127.0.0.1", function()
  local e, dir, file
  local SCRIPT = [[
rollout "human" {
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = firmware { id = "fwHelper0001", version = "2.4.0", verified = true },
  wave "canary" { versions = { "2.3.1" }, rate = 10, gate = { soak = "1h", min_devices = 5, max_failed_ratio = 0.5 } },
  wave "rest"   { versions = { "2.3.0" }, rate = 100, approve = true },
}
]]
  local otarun
  before_each(function()
    e, dir, file, otarun = with_emulator("human", SCRIPT, { OTARUN_ACTOR = "ana" })
  end)
  after_each(function() done(e, dir) end)

  local function canary_jobs()
    local n = 0
    for _, j in ipairs(e:jobs()) do
      for _, t in ipairs(j.Tags or j.tags or {}) do
        if (t.Value or t.value) == "human/canary" then n = n + 1 end
      end
    end
    return n
  end

  it("abort --wave then status names the ways out; --retry starts the wave again with a new job", function()
    assert.are.equal(0, (otarun({ "run", "--once", file })))
    assert.are.equal(1, #e:jobs())
    local code, out, err = otarun({ "abort", file, "--wave", "canary", "--reason", "bad batch" })
    assert.are.equal(0, code, out .. err)
    code, out, err = otarun({ "status", file })
    assert.are.equal(0, code, out .. err)
    assert.matches("to move on, one of:", out, 1, true)
    assert.matches("otarun resume " .. file .. " --retry canary", out, 1, true)
    assert.matches("otarun resume " .. file .. " --skip canary", out, 1, true)
    -- a wave that did not stop cannot be retried
    code, _, err = otarun({ "resume", file, "--retry", "rest", "--reason", "x" })
    assert.are.equal(1, code)
    assert.matches("not aborted or failed", err, 1, true)
    code, out, err = otarun({ "resume", file, "--retry", "canary", "--reason", "fixed the config" })
    assert.are.equal(0, code, out .. err)
    assert.matches("will start again with a new job", out, 1, true)
    e:advance(60)
    code, out, err = otarun({ "run", "--once", file })
    assert.are.equal(0, code, out .. err)
    assert.are.equal(2, #e:jobs())
    code, out = otarun({ "status", file })
    assert.matches("canary%s+running", out)
    assert.not_matches("to move on", out)
    code, out = otarun({ "log", file, "--kind", "resume" })
    assert.matches("ana@", out, 1, true)
    assert.matches("fixed the config", out, 1, true)
  end)

  it("--skip accepts an aborted wave as passed; an approval shows who, when and why", function()
    assert.are.equal(0, (otarun({ "run", "--once", file })))
    assert.are.equal(0, (otarun({ "abort", file, "--wave", "canary", "--reason", "enough" })))
    local code, out, err = otarun({ "resume", file, "--skip", "canary", "--reason", "canary devices retired" })
    assert.are.equal(0, code, out .. err)
    code, out = otarun({ "status", file })
    assert.matches("canary%s+passed", out)
    assert.matches("approval %(otarun approve", out)
    code, out, err = otarun({ "approve", file, "rest", "--reason", "CHG-42 signed off" })
    assert.are.equal(0, code, out .. err)
    code, out = otarun({ "status", file })
    assert.matches("approved by ana@[%w_.-]+ at [%d%-T:Z]+: CHG%-42 signed off", out)
    assert.not_matches("approval %(otarun approve", out)
    code, out = otarun({ "plan", "--offline", file })
    assert.matches("approved by ana@", out, 1, true)
  end)
end)

describe("honest rehearsals", function()
  local FLEET = h.write(os.tmpname() .. ".lua", [[
fleet {
  product = "pkHonest", seed = 3, duration = { min = "5m", max = "20m" },
  groups = { { id = "Tiny", type = "dynamic" } },
  devices = { { version = "1.0", count = 3, prefix = "tiny", groups = { "Tiny" } },
              { version = "1.0", count = 200, prefix = "dev" } },
  firmware = { { id = "fwHonest", version = "2.0", verified = true } },
}
]])
  local function rehearse(waves)
    local p = h.script(string.format([[
rollout "honest" {
  product = "pkHonest", region = "cn-shanghai",
  firmware = firmware { id = "fwHonest", version = "2.0", verified = true },
  %s
}
]], waves))
    local code, out, err = h.run({ "rehearse", p, "--fleet", FLEET, "--now", "2027-01-04T01:00:00Z", "--until", "3d" })
    os.remove(p)
    return code, out, err
  end

  it("fails a rollout whose gate can never pass, in one line", function()
    local code, _, err = rehearse([[wave "canary" { group = "Tiny", rate = 10, gate = { soak = "1h", min_devices = 10 } },
      wave "rest" { versions = { "1.0" }, rate = 100 },]])
    assert.are.equal(1, code)
    assert.matches("otarun rehearse: gate of canary can never pass: 3 devices < min_devices 10\n", err, 1, true)
  end)

  it("fails a rollout whose group the fleet does not have", function()
    local code, _, err = rehearse([[wave "canary" { group = "Nope", rate = 10 },]])
    assert.are.equal(1, code)
    assert.matches("wave canary targets group Nope, which the fleet does not have", err, 1, true)
  end)

  it("passes a rollout that finishes", function()
    local code, out, err = rehearse([[wave "all" { versions = { "1.0" }, rate = 1000 },]])
    assert.are.equal(0, code, out .. err)
    assert.are.equal("", err)
  end)
end)
