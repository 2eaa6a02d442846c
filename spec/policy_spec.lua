-- Policy files, custom checks under their own budgets, policy sources, and `otarun policy test`.
local h = require("helpers")
local policy = require("otarun.policy")
local loader = require("otarun.policy.loader")

local NOW = 1780000000

local function plan()
  local function w(name, i, extra)
    local spec = { name = name, index = i, kind = "dynamic", versions = { "2.3.1" }, rate = 100,
                   timeout = 60, gate = { soak = 86400, check = function() return "pass" end },
                   identity_tag = { key = "otarun", value = "cam/" .. name } }
    for k, v in pairs(extra or {}) do spec[k] = v end
    return { name = name, status = i == 1 and "ready" or "waiting", action = "create", spec = spec }
  end
  return { now = NOW, rollouts = {
    { name = "camera", product = "a1Le6d0abcd", region = "cn-shanghai",
      waves = { w("canary", 1), w("all", 2, { rate = 5000 }) } },
    { name = "lamp", product = "other", region = "cn-beijing", waves = { w("all", 1) } } } }
end

local function load(text)
  return loader.load_text(text, "test_policy.lua")
end

local function eval_text(text, overrides)
  local policies, errors = load(text)
  assert.are.same({}, errors)
  local p = plan()
  local results, denied, denials, info = policy.evaluate(p, { policies = policies, overrides = overrides })
  return results, denied, denials, info, p
end

local function find(results, rule)
  for _, r in ipairs(results) do if r.rule == rule then return r end end
end

local tmpdir = h.tmpdir

describe("policy files", function()
  it("suggest the closest field for an unknown one", function()
    local _, errors = load('policy "p" { level = "soft", rule = { min_waves = 2 } }')
    assert.matches('unknown field "rule" %(did you mean rules%?%)', errors[1].message)
    assert.are.equal(1, errors[1].line)
  end)

  it("suggest the closest rule kind for an unknown one", function()
    local _, errors = load('policy "p" { level = "soft", rules = { max_first_wave_rte = 2 } }')
    assert.matches('unknown rule kind "max_first_wave_rte" %(did you mean max_first_wave_rate%?%)', errors[1].message)
  end)

  it("reject a missing or misspelt level, a bad applies and bad values", function()
    assert.matches("level is required", select(2, load('policy "p" { rules = { min_waves = 2 } }'))[1].message)
    assert.matches("did you mean hard", select(2, load('policy "p" { level = "hrad", rules = { min_waves = 2 } }'))[1].message)
    assert.matches("did you mean products", select(2, load('policy "p" { level = "soft", applies = { product = "x" }, rules = { min_waves = 2 } }'))[1].message)
    assert.matches('rules%.min_soak: "12x" is not a duration', select(2, load('policy "p" { level = "soft", rules = { min_soak = "12x" } }'))[1].message)
    assert.matches("before it starts", select(2, load('policy "p" { level = "soft", rules = { freeze = { { from = "2027-01-02", to = "2026-12-24" } } } }'))[1].message)
    assert.matches('expected "HTTPS" or "MQTT"', select(2, load('policy "p" { level = "soft", rules = { forbid_protocol = "FTP" } }'))[1].message)
    assert.matches("needs rules", select(2, load('policy "p" { level = "soft" }'))[1].message)
    assert.matches("no dots", select(2, load('policy "a.b" { level = "soft", rules = {} }'))[1].message)
  end)

  it("run in the sandbox", function()
    local _, errors = load('os.execute("true")')
    assert.matches("os.execute is blocked", errors[1].message)
    _, errors = load('while true do end')
    assert.matches("instruction limit exceeded", errors[1].message)
  end)

  it("come from the built-in set, ./policies and --policy DIR; a directory's policy replaces a built-in one", function()
    local d = tmpdir()
    h.write(d .. "/mine.lua", 'policy "default" { level = "hard", rules = { min_waves = 9 } }\n' ..
                              'policy "extra" { level = "advisory", rules = { max_rate = 1 } }')
    h.write(d .. "/mine_test.lua", 'error("test files are not policies")')
    local policies, errors = loader.load({ dirs = { d }, local_dir = false })
    assert.are.same({}, errors)
    local names = {}
    for _, p in ipairs(policies) do names[#names + 1] = p.name .. ":" .. p.level end
    assert.are.same({ "default:hard", "production:soft", "production-freeze:hard", "extra:advisory" }, names)
    h.write(d .. "/again.lua", 'policy "extra" { level = "soft", rules = { max_rate = 2 } }')
    _, errors = loader.load({ dirs = { d }, local_dir = false })
    assert.matches('policy "extra" is declared twice', errors[1].message)
    os.execute("rm -rf " .. h.shell_quote(d))
  end)

  it("make a missing --policy DIR an error that denies, but not a missing ./policies", function()
    local _, errors = loader.load({ local_dir = "/nonexistent/policies" })
    assert.are.same({}, errors)
    local _, denied, denials, info = policy.evaluate(plan(), { dirs = { "/nonexistent/x" }, local_dir = false })
    assert.is_true(denied)
    assert.matches("cannot read the directory /nonexistent/x", info.errors[1].message)
    assert.matches("/nonexistent/x", denials[#denials])
  end)
end)

describe("custom checks", function()
  it("report failures and passes against their policy, scoped by applies", function()
    local results, denied = eval_text([[
      policy "fleet" { level = "soft", applies = { products = { "a1Le6d0abcd" } },
        check = function(plan, report)
          assert(#plan.rollouts == 1, "scoped to one rollout")
          for _, r in ipairs(plan.rollouts) do
            for _, w in ipairs(r.waves) do
              if w.spec.rate > 1000 then report:fail("rate-cap", "too fast: " .. w.spec.rate, { rollout = r, wave = w })
              else report:pass("rate-cap", nil, { rollout = r.name, wave = w.name }) end
            end
          end
        end }]])
    assert.is_true(denied)
    local fails = {}
    for _, r in ipairs(results) do if not r.passed then fails[#fails + 1] = r end end
    assert.are.equal(1, #fails)
    assert.are.same({ "fleet", "rate-cap", "soft", "camera", "all", "too fast: 5000" },
      { fails[1].policy, fails[1].rule, fails[1].level, fails[1].rollout, fails[1].wave, fails[1].message })
  end)

  it("pass with one result when they report nothing", function()
    local results, denied = eval_text('policy "quiet" { level = "hard", check = function() end }')
    assert.is_false(denied)
    assert.are.same({ "check", true }, { results[1].rule, results[1].passed })
  end)

  it("see a read-only plan without host functions", function()
    local results = eval_text([[
      policy "nosy" { level = "advisory", check = function(plan, report)
        local r = plan.rollouts[1]
        report:pass("gate-check-hidden", tostring(r.waves[1].spec.gate.check))
        report:pass("ok1", tostring(pcall(function() r.name = "x" end)))
        report:pass("ok2", tostring(pcall(rawset, r, "name", "x")))
        report:pass("ok3", tostring(getmetatable(r)))
        local n = 0
        for k in pairs(r.waves[1].spec.gate) do n = n + 1 end
        report:pass("ok4", tostring(n))
      end }]])
    assert.are.equal("nil", find(results, "gate-check-hidden").message)
    assert.are.equal("false", find(results, "ok1").message)
    assert.are.equal("false", find(results, "ok2").message)
    assert.are.equal("false", find(results, "ok3").message)
    assert.are.equal("1", find(results, "ok4").message)
  end)

  it("that raise an error are reported against their policy", function()
    local results, denied = eval_text([[
      policy "broken" { level = "hard", check = function(plan) return plan.nope.field end }
      policy "fine" { level = "soft", rules = { min_waves = 1 } }]])
    assert.is_true(denied)
    local r = find(results, "check")
    assert.are.equal("broken", r.policy)
    assert.is_false(r.passed)
    assert.matches("custom check %(test_policy.lua:1%) failed: .*nope", r.message)
    assert.is_true(find(results, "min_waves").passed)
  end)

  for name, body in pairs({
    ["loops forever"] = "while true do end",
    ["loops forever inside pcall"] = "while true do pcall(function() while true do end end) end",
  }) do
    it("that " .. name .. " are stopped by their instruction budget and reported", function()
      local results, denied = eval_text(string.format([[
        policy "spin" { level = "advisory", limits = { instructions = 100000 },
          check = function() %s end }]], body))
      assert.is_false(denied)
      local r = find(results, "check")
      assert.is_false(r.passed)
      assert.matches("was stopped: test_policy%.lua:2: instruction limit exceeded %(100000 instructions%)$", r.message)
    end)
  end

  it("that allocate without end are stopped by their memory budget", function()
    local results, denied = eval_text([[
      policy "hog" { level = "soft", limits = { memory = 4000000 },
        check = function() local t = {} while true do t[#t + 1] = string.rep("x", 1000) .. #t end end }]])
    assert.is_true(denied)
    assert.matches("was stopped: test_policy%.lua:2: memory limit exceeded %(4000000 bytes%)$", find(results, "check").message)
    -- and the host carries on
    local again = eval_text('policy "after" { level = "soft", rules = { min_waves = 1 } }')
    assert.is_true(again[1].passed)
  end)

  it("validate what they report", function()
    local results = eval_text([[policy "bad" { level = "soft", check = function(_, report) report:fail("has space", "x") end }]])
    assert.matches("rule name must be", find(results, "check").message)
  end)

  it("can be overridden by POLICY.RULE like native rules", function()
    local _, denied, _, info = eval_text([[
      policy "c" { level = "soft", check = function(plan, report) report:fail("custom-x", "no") end }]],
      { ["c.custom-x"] = "accepted risk" })
    assert.is_false(denied)
    assert.are.same({ "c", "custom-x", "accepted risk" }, { info.overrides[1].policy, info.overrides[1].rule, info.overrides[1].reason })
  end)
end)

describe("otarun policy test", function()
  it("runs the built-in policies' tests with no DIR", function()
    local code, out = h.run({ "policy", "test" })
    assert.are.equal(0, code)
    assert.matches("^%d+ passed, 0 failed\n$", out)
  end)

  it("prints failures per case and exits non-zero", function()
    local d = tmpdir()
    h.write(d .. "/p.lua", 'policy "p" { level = "soft", rules = { min_waves = 2 } }')
    assert(os.execute("mkdir -p " .. h.shell_quote(d .. "/tests")))
    h.write(d .. "/tests/p.lua", [[
      local plan = { rollouts = { { name = "r", product = "x", region = "cn-shanghai",
                                    waves = { { name = "only", status = "ready" } } } } }
      case "one wave fails min_waves" { now = "2026-01-01T00:00:00Z", plan = plan,
                                        expect = { ["p.min_waves"] = "fail" }, denied = true }
      case "a wrong expectation" { now = 1780000000, plan = plan, expect = { ["p.min_waves"] = "pass" } }
      case "an overridden failure is still a failure, but not denied" { now = 1780000000, plan = plan,
        overrides = { ["p.min_waves"] = "small fleet" }, expect = { ["p.min_waves"] = "fail" }, denied = false }
      case "a typo" { now = 1780000000, plan = plan, expcet = {} }
    ]])
    local code, out = h.run({ "policy", "test", d })
    assert.are.equal(1, code)
    assert.matches("FAIL a wrong expectation %(.-tests/p.lua:5%)\n  p.min_waves: expected pass, got fail: rollout \"r\" has 1 wave", out)
    assert.matches('FAIL a typo .-\n  unknown field "expcet" %(did you mean expect%?%)', out)
    assert.matches("\n2 passed, 2 failed\n$", out)
    local vcode, vout = h.run({ "policy", "test", d, "-v" })
    assert.are.equal(1, vcode)
    assert.matches("PASS one wave fails min_waves", vout)
    os.execute("rm -rf " .. h.shell_quote(d))
  end)

  it("is a usage error without the test subcommand", function()
    local code, _, err = h.run({ "policy", "tset" })
    assert.are.equal(64, code)
    assert.matches("unknown subcommand", err)
  end)
end)
