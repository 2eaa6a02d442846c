-- The example scripts, end to end through the real binary: each validates with no error, plans
-- offline into the plan JSON document, and the showcase plans exactly as the README says.
-- Also the validate and plan commands' options and exit codes.
local h = require("helpers")
local cjson = require("cjson")
local shape = require("plan_shape")

local NOW = "2026-11-30T10:00:00+08:00" -- a Monday evening in Shanghai
local EXAMPLES = { "version-waves", "dynamic-group", "static-ramp", "regions-loop", "rehearsal" }

local function example(name) return h.src .. "/examples/" .. name .. ".lua" end

local function plan_json(files, extra)
  local argv = { "plan", "--offline", "--now", NOW, "--format", "json" }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  for _, f in ipairs(files) do argv[#argv + 1] = f end
  local code, out, err = h.run(argv)
  return code, out, err
end

describe("examples", function()
  it("are all planned here: every rollout script in examples/ is in the list above", function()
    local listed = {}
    for _, name in ipairs(EXAMPLES) do listed[name] = true end
    local ls = assert(io.popen("ls " .. h.shell_quote(h.src .. "/examples")))
    local found = 0
    for file in ls:lines() do
      local name = file:match("^(.+)%.lua$")
      if name then
        found = found + 1
        assert.is_true(listed[name] == true, "examples/" .. file .. " is not planned by this spec")
      end
    end
    ls:close()
    assert.are.equal(#EXAMPLES, found)
  end)

  for _, name in ipairs(EXAMPLES) do
    it(name .. " opens with a comment saying what it shows", function()
      local text = h.slurp(example(name))
      assert.matches("^%-%- %u", text)
    end)

    it(name .. " validates with no error", function()
      local code, out, err = h.run({ "validate", "--now", NOW, example(name) })
      assert.are.equal(0, code, out .. err)
      assert.is_nil(out:find("error[", 1, true), out)
      assert.matches("valid: 0 errors", out)
    end)

    it(name .. " plans offline into the plan JSON document", function()
      local code, out, err = plan_json({ example(name) })
      assert.are.equal(0, code, err)
      local doc = cjson.decode(out)
      assert.are.same({}, shape.problems(doc))
      assert.are.equal("offline", doc.mode)
      assert.is_true(#doc.rollouts >= 1)
      assert.is_true(doc.summary.create >= 1, "every example has a wave that is due")
    end)
  end

  it("version-waves: a canary to create now, the rest waiting with their reasons", function()
    local _, out = plan_json({ example("version-waves") })
    local w = cjson.decode(out).rollouts[1].waves
    assert.are.same({ "canary", "early", "all" }, { w[1].name, w[2].name, w[3].name })
    assert.are.same({ "create", "wait", "wait" }, { w[1].action, w[2].action, w[3].action })
    assert.are.same({ "ready", "waiting", "waiting" }, { w[1].status, w[2].status, w[3].status })
    assert.are.equal("2026-11-30T16:00:00+08:00", w[2].earliest_start) -- canary's 6h soak
    -- 24h after early's soak is Wednesday evening; the mon-thu window opens Thursday 01:00
    assert.are.equal("2026-12-03T01:00:00+08:00", w[3].earliest_start)
    assert.matches('waiting for gate of "early"', w[3].reason, 1, true)
    assert.matches("approval (otarun approve " .. example("version-waves") .. " all)", w[3].reason, 1, true)
    local p = w[1].calls[1].params
    assert.are.equal("CreateOTAStaticUpgradeJob", w[1].calls[1].action) -- a bounded canary: 10% of 2.3.1
    assert.are.same({ "nx3xxVvFdwvn6dim50PY03", "a1Le6d0abcd", "2.3.1", "GRAY", "10", "10", "10", "2", "1440" },
      { p.FirmwareId, p.ProductKey, p["SrcVersion.1"], p.TargetSelection, p.GrayPercent, p.MaximumPerMinute,
        p.RetryInterval, p.RetryCount, p.TimeoutInMinutes })
    assert.are.same({ "channel", "canary", "otarun", "camera-2.4.0/canary" },
      { p["Tag.1.Key"], p["Tag.1.Value"], p["Tag.2.Key"], p["Tag.2.Value"] })
    assert.are.equal("CancelOTAStrategyByJob", w[3].calls[1].action)
    -- the job of "early" does not exist yet: a typed reference, not a placeholder text
    assert.are.same({ ref = "job", wave = "early" }, w[3].calls[1].params.JobId)
    -- what "all" waits for, typed (docs/json.md, "Wait conditions")
    assert.are.same({}, w[1].waiting_for)
    assert.are.same({ { kind = "gate", wave = "canary" } }, w[2].waiting_for)
    assert.are.same({ { kind = "gate", wave = "early" }, { kind = "delay", after = "early", seconds = 86400 },
      { kind = "window", window = w[3].waiting_for[3].window, opens_at = "2026-12-03T01:00:00+08:00" },
      { kind = "approval", command = "otarun approve " .. example("version-waves") .. " all" } }, w[3].waiting_for)
  end)

  it("version-waves and rehearsal pass their gates on their own fleets across seeds", function()
    local cases = { { "version-waves", "camera", 5 }, { "rehearsal", "cameras-100k", 2 } }
    for _, c in ipairs(cases) do
      local code, out, err = h.run({ "rehearse", example(c[1]), "--fleet", h.src .. "/examples/fleets/" .. c[2] .. ".lua",
        "--now", "2027-01-04T09:00:00+08:00", "--runs", tostring(c[3]), "--seed", "11", "--format", "json" })
      assert.are.equal(0, code, err)
      local r = cjson.decode(out).rollouts[1]
      assert.are.equal(0, r.halted, out)
      assert.are.equal(c[3], r.completed, out)
    end
  end)

  it("static-ramp: the first wave is held by the platform with ScheduleTime", function()
    local _, out = plan_json({ example("static-ramp") })
    local w = cjson.decode(out).rollouts[1].waves[1]
    assert.are.equal("create", w.action)
    assert.are.equal("GRAY", w.calls[1].params.TargetSelection)
    assert.are.equal("1796061600000", w.calls[1].params.ScheduleTime) -- 2026-12-01T02:00:00+08:00
    assert.are.equal("1796148000000", w.calls[1].params.ScheduleFinishTime) -- 24h later
  end)

  it("regions-loop: one rollout per region", function()
    local _, out = plan_json({ example("regions-loop") })
    local doc = cjson.decode(out)
    assert.are.equal(3, #doc.rollouts)
    assert.are.same({ "cn-shanghai", "cn-beijing", "cn-shenzhen" },
      { doc.rollouts[1].region, doc.rollouts[2].region, doc.rollouts[3].region })
  end)
end)

describe("otarun plan", function()
  it("prints the same plan twice, and saves it with --out", function()
    local out_file = os.tmpname()
    local _, a = plan_json({ example("version-waves") })
    local code, b = plan_json({ example("version-waves") }, { "--out", out_file })
    assert.are.equal(0, code)
    assert.are.equal(a, b)
    local saved = require("cjson").decode(h.slurp(out_file))
    assert.are.equal("otarun-saved-plan/1", saved.saved.format) -- the plan plus what apply needs
    saved.saved = nil
    assert.are.same(require("cjson").decode(a), saved)
    os.remove(out_file)
  end)

  it("says the platform state is unknown offline, in text", function()
    local code, out = h.run({ "plan", "--offline", "--now", NOW, example("version-waves") })
    assert.are.equal(0, code)
    assert.matches("platform state unknown", out, 1, true)
    assert.matches("\nPlan: 1 to create, 0 to update, 0 to replace, 0 to cancel, 2 waiting.\n$", out, 1, false)
    assert.is_nil(out:find("\27[", 1, true))
  end)

  it("fails a live plan without credentials, naming where it looked and --offline", function()
    local code, out, err = h.run({ "plan", "--now", NOW, example("version-waves") },
      { env = { ALIBABA_CLOUD_ACCESS_KEY_ID = "", HOME = "/nonexistent" } })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("ALIBABA_CLOUD_ACCESS_KEY_ID", err, 1, true)
    assert.matches("config.json", err, 1, true)
    assert.matches("otarun plan --offline", err, 1, true)
    -- half a key is no better, and it is never printed
    code, out, err = h.run({ "plan", "--now", NOW, example("version-waves") },
      { env = { ALIBABA_CLOUD_ACCESS_KEY_ID = "LTAI-not-a-real-key", HOME = "/nonexistent" } })
    assert.are.equal(1, code)
    assert.is_nil((out .. err):find("LTAI-not-a-real-key", 1, true))
  end)

  it("colours on a terminal, but not with NO_COLOR or --no-color", function()
    if not os.execute("command -v script >/dev/null 2>&1") then
      pending("needs script(1) to run under a terminal")
      return
    end
    local function on_tty(prefix, extra)
      local cmd = string.format("%s %s plan --offline --now %s %s %s", prefix, h.shell_quote(h.bin), NOW, extra,
        h.shell_quote(example("dynamic-group")))
      local p = io.popen("script -qec " .. h.shell_quote(cmd) .. " /dev/null")
      local out = p:read("a")
      p:close()
      return out
    end
    assert.truthy(on_tty("env -u NO_COLOR", ""):find("\27[1mrollout doorbell-5.0.2\27[0m", 1, true))
    assert.is_nil(on_tty("env NO_COLOR=1", ""):find("\27[", 1, true))
    assert.is_nil(on_tty("env -u NO_COLOR", "--no-color"):find("\27[", 1, true))
  end)

  it("renders markdown for a pull request", function()
    local code, out = h.run({ "plan", "--offline", "--now", NOW, "--format", "markdown", example("version-waves") })
    assert.are.equal(0, code)
    assert.matches("| camera-2.4.0 | canary | static | ready | `+` create |", out, 1, true)
    assert.matches("<details>", out, 1, true)
  end)

  it("exits 2 with --detailed-exitcode when there are changes, 0 when every wave waits", function()
    local code = h.run({ "plan", "--offline", "--now", NOW, "--detailed-exitcode", example("version-waves") })
    assert.are.equal(2, code)
    local f = h.script([[rollout "r" { product = "p", region = "cn-shanghai", firmware = "f",
      wave "w" { versions = { "1.0" }, approve = true } }]])
    code = h.run({ "plan", "--offline", "--now", NOW, "--detailed-exitcode", f })
    assert.are.equal(0, code)
    os.remove(f)
  end)

  it("prints the diagnostics and no plan for an invalid script, exit 3", function()
    local f = h.script([[rollout "r" { product = "p", region = "cn-shanghai", firmware = "f",
      wave "w" { versions = { "1.0" }, rate = 5 } }]])
    local code, out = h.run({ "plan", "--offline", "--now", NOW, f })
    assert.are.equal(3, code)
    assert.matches(":2: error%[rate%-range%] r/w: ", out)
    assert.is_nil(out:find("Plan:", 1, true))
    code, out = h.run({ "plan", "--offline", "--now", NOW, "--format", "json", f })
    assert.are.equal(3, code)
    local doc = cjson.decode(out)
    assert.are.equal("rate-range", doc.diagnostics[1].rule)
    assert.is_nil(doc.rollouts)
    os.remove(f)
  end)

  it("reports a script that does not parse as a diagnostic, exit 3", function()
    local f = h.script('rollout "r" {\n')
    local code, out = h.run({ "plan", "--offline", f })
    assert.are.equal(3, code)
    assert.matches("error%[script%-syntax%]", out)
    os.remove(f)
  end)

  it("judges the plan by policies: warnings in the plan, exit 4 when a hard policy denies", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. h.shell_quote(dir)))
    h.write(dir .. "/strict.lua", [[policy "strict" { level = "hard", rules = { min_waves = 5 } }]])
    local saved = os.tmpname()
    os.remove(saved)
    local code, out, err = h.run({ "plan", "--offline", "--now", NOW, "--policy", dir, "--out", saved,
                                   example("version-waves") })
    assert.are.equal(4, code, err)
    assert.is_nil(io.open(saved, "rb"), "a denied plan is not saved")
    assert.matches("x strict.min_waves (hard) camera-2.4.0:", out, 1, true)
    assert.matches("denied by policy", err, 1, true)
    code, out = h.run({ "plan", "--offline", "--now", NOW, "--format", "json", "--policy", dir, example("version-waves") })
    assert.are.equal(4, code)
    local found
    for _, p in ipairs(cjson.decode(out).policies) do
      if p.policy == "strict" and p.rule == "min_waves" then found = p end
    end
    assert.are.equal(false, found.passed)
    assert.are.same({}, shape.problems(cjson.decode(out)))
    os.remove(dir .. "/strict.lua")
    os.remove(dir)
  end)

  it("exits 64 on usage errors", function()
    assert.are.equal(64, (h.run({ "plan" })))
    assert.are.equal(64, (h.run({ "plan", "--format", "yaml", example("version-waves") })))
    local code, _, err = h.run({ "plan", "--now", "yesterday", example("version-waves") })
    assert.are.equal(64, code)
    assert.matches("--now", err, 1, true)
    assert.are.equal(64, (h.run({ "validate" })))
    assert.are.equal(64, (h.run({ "plan", "--override", "default.min_waves", example("version-waves") })))
  end)
end)

describe("otarun validate", function()
  it("prints diagnostics sorted by line, and a summary, exit 3", function()
    local f = h.script([[rollout "r" { product = "p", region = "cn-shanghai", firmware = "f",
      wave "a" { versions = { "1.0" }, tmeout = 5 },
      wave "b" { versions = { "1.0" }, rate = 5 } }]])
    local code, out = h.run({ "validate", f })
    assert.are.equal(3, code)
    local a = out:find(":2: error[unknown-field] r/a: ", 1, true)
    local b = out:find(":3: error[rate-range] r/b: ", 1, true)
    assert.truthy(a, out)
    assert.truthy(b, out)
    assert.is_true(a < b)
    assert.matches("did you mean \"timeout\"", out, 1, true)
    assert.matches("\ninvalid: 2 errors, %d+ warnings? %(1 file, 1 rollout, 2 waves%)%.\n$", out)
    os.remove(f)
  end)

  it("prints JSON diagnostics and a summary with --format json", function()
    local code, out = h.run({ "validate", "--format", "json", example("version-waves") })
    assert.are.equal(0, code)
    local doc = cjson.decode(out)
    assert.are.equal("table", type(doc.diagnostics))
    assert.are.same({ errors = 0, warnings = 0, files = 1, rollouts = 1, waves = 3 }, doc.summary)
  end)
end)
