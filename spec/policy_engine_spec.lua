-- The native rule kinds through otarun.policy.evaluate, on plan tables built by hand (the plan table's
-- shape, docs/architecture.md): each kind passing and failing at each level, overrides, and applies-scoping.
local policy = require("otarun.policy")
local loader = require("otarun.policy.loader")

local NOW = 1780000000 -- 2026-05-28T20:26:40Z

local function wave(name, index, fields)
  local spec = { name = name, index = index, kind = "dynamic", versions = { "2.3.1" }, rate = 100,
                 timeout = 1440, retry_interval = 10, retry_count = 2, approve = false,
                 gate = { soak = 86400 }, tags = {}, on_fail = "halt" }
  local w = { name = name, status = index == 1 and "ready" or "waiting", action = index == 1 and "create" or "wait" }
  for k, v in pairs(fields or {}) do
    if k == "status" or k == "action" or k == "earliest_start" then w[k] = v
    elseif v == false and k ~= "approve" then spec[k] = nil
    else spec[k] = v end
  end
  w.spec = spec
  return w
end

-- A plan of one rollout whose waves are given as { fields... } per wave.
local function plan_of(waves, rollout)
  local list = {}
  for i, f in ipairs(waves) do list[i] = wave(f.name or ("w" .. i), i, f) end
  local r = { name = "camera-2.4.0", product = "a1Le6d0abcd", region = "cn-shanghai", waves = list }
  for k, v in pairs(rollout or {}) do r[k] = v end
  return { now = NOW, rollouts = { r } }
end

local function evaluate(level, rules, plan, overrides, applies)
  local text = string.format("policy %q { level = %q, rules = %s%s }", "p", level, rules,
    applies and (", applies = " .. applies) or "")
  local policies, errors = loader.load_text(text, "inline.lua")
  assert.are.same({}, errors)
  return policy.evaluate(plan, { policies = policies, overrides = overrides })
end

local function failures(results, rule)
  local n = 0
  for _, r in ipairs(results) do
    if r.rule == rule and not r.passed then n = n + 1 end
  end
  return n
end

-- kind -> rules text, a plan that passes, a plan that fails
local CASES = {
  max_first_wave_rate = { "{ max_first_wave_rate = 100 }", plan_of({ { rate = 100 }, { rate = 5000 } }),
                          plan_of({ { rate = 101 }, { rate = 50 } }) },
  max_rate = { "{ max_rate = 1000 }", plan_of({ { rate = 10 }, { rate = 1000 } }),
               plan_of({ { rate = 10 }, { rate = false } }) },
  min_waves = { "{ min_waves = 2 }", plan_of({ {}, {} }), plan_of({ {} }) },
  require_gate = { "{ require_gate = true }", plan_of({ {}, { gate = false } }),
                   plan_of({ { gate = false }, {} }) },
  min_soak = { "{ min_soak = '12h' }", plan_of({ { gate = { soak = 43200 } }, {} }),
               plan_of({ { gate = { soak = 3600 } }, {} }) },
  require_timeout = { "{ require_timeout = true }", plan_of({ {}, {} }), plan_of({ {}, { timeout = false } }) },
  require_retry = { "{ require_retry = true }", plan_of({ {}, {} }), plan_of({ { retry_count = false }, {} }) },
  forbid_protocol = { "{ forbid_protocol = { 'MQTT' } }", plan_of({ { protocol = "HTTPS" }, {} }),
                      plan_of({ {}, { protocol = "MQTT" } }) },
  freeze = { "{ freeze = { { from = '2026-12-24', to = '2027-01-02' } } }",
             plan_of({ {}, { earliest_start = 1798070400 - 1 } }),
             plan_of({ {}, { earliest_start = 1798070400 + 86400 } }) },
  windows = { "{ windows = { { days = 'mon-fri', from = '00:00', to = '06:00', tz = '+08:00' } } }",
              plan_of({ { window = { days = { true, true, true, true, true }, from = 60, to = 300, tz = 28800 } } }),
              plan_of({ { window = { days = { [6] = true }, from = 60, to = 300, tz = 28800 } } }) },
  require_approval = { "{ require_approval = true }", plan_of({ {}, { approve = true } }),
                       plan_of({ {}, { approve = false } }) },
  max_percent_first_wave = { "{ max_percent_first_wave = 5 }",
                             plan_of({ { kind = "static", versions = false, percent = 5 }, {} }),
                             plan_of({ { kind = "static", versions = false, percent = 12.5 }, {} }) },
}

describe("native policy rules", function()
  it("has a case for every built-in kind", function()
    for _, kind in ipairs(require("otarun.core.policy").kinds()) do
      assert.is_not_nil(CASES[kind], kind)
    end
  end)

  for kind, case in pairs(CASES) do
    describe(kind, function()
      for _, level in ipairs({ "advisory", "soft", "hard" }) do
        it("passes a compliant plan at " .. level .. " level", function()
          local results, denied = evaluate(level, case[1], case[2])
          assert.is_false(denied)
          assert.are.equal(0, failures(results, kind))
          assert.is_true(#results > 0)
        end)
      end

      it("warns, without denying, at advisory level", function()
        local results, denied = evaluate("advisory", case[1], case[3])
        assert.are.equal(1, failures(results, kind))
        assert.is_false(denied)
        assert.are.same(results, case[3].policies)
      end)

      it("denies at soft level, and an override with a reason allows and records it", function()
        local results, denied, denials = evaluate("soft", case[1], case[3])
        assert.is_true(denied)
        assert.matches("p." .. kind .. " (soft)", denials[1], 1, true)
        assert.matches("--override p." .. kind, denials[1], 1, true)
        local plan = case[3]
        local res2, denied2, _, info = evaluate("soft", case[1], plan, { ["p." .. kind] = "ticket OPS-1" })
        assert.is_false(denied2)
        local r = res2[1]
        for _, x in ipairs(res2) do if not x.passed then r = x end end
        assert.is_true(r.overridden)
        assert.are.equal("ticket OPS-1", r.reason)
        assert.are.equal(1, #info.overrides)
        assert.are.equal("ticket OPS-1", info.overrides[1].reason)
        assert.are.equal(kind, info.overrides[1].rule)
        assert.is_true(#res2 == #results)
      end)

      it("denies at hard level even with an override", function()
        local _, denied, denials = evaluate("hard", case[1], case[3], { ["p." .. kind] = "please" })
        assert.is_true(denied)
        assert.matches("cannot be overridden", denials[1], 1, true)
      end)
    end)
  end
end)

describe("rule details", function()
  it("names the rollout and the wave of a finding", function()
    local results = evaluate("soft", "{ max_rate = 100 }", plan_of({ { name = "canary" }, { name = "all", rate = 500 } }))
    local r
    for _, x in ipairs(results) do if not x.passed then r = x end end
    assert.are.equal("camera-2.4.0", r.rollout)
    assert.are.equal("all", r.wave)
    assert.matches("500 devices per minute; at most 100", r.message)
  end)

  it("does not judge waves that already ran and have nothing to do", function()
    local plan = plan_of({ { rate = 5000, status = "done", action = "none" }, { rate = 10 } })
    local results = evaluate("hard", "{ max_rate = 100, max_first_wave_rate = 100 }", plan)
    assert.are.equal(0, failures(results, "max_rate") + failures(results, "max_first_wave_rate"))
  end)

  it("judges a ready wave's start at now for a freeze", function()
    local plan = plan_of({ {}, {} })
    plan.now = 1798070400 + 3600
    local results = evaluate("hard", "{ freeze = { { from = '2026-12-24', to = '2027-01-02' } } }", plan)
    assert.are.equal(2, failures(results, "freeze"))
  end)

  it("reads windows from the normalised form and from text alike", function()
    local rules = "{ windows = { days = 'mon-thu', from = '01:00', to = '05:00', tz = '+08:00' } }"
    local normalised = plan_of({ { window = { days = { true, true, true, true }, from = 60, to = 300, tz = 28800 } } })
    local text = plan_of({ { window = { days = "tue", from = "02:00", to = "03:00", tz = "+08:00" } } })
    assert.are.equal(0, failures((evaluate("soft", rules, normalised)), "windows"))
    assert.are.equal(0, failures((evaluate("soft", rules, text)), "windows"))
    local none = plan_of({ {} })
    assert.are.equal(1, failures((evaluate("soft", "{ windows = true }", none)), "windows"))
  end)

  it("requires approval beyond a percentage", function()
    local plan = plan_of({ { kind = "static", versions = false, percent = 10 },
                           { kind = "static", versions = false, all = true, approve = true },
                           { kind = "static", versions = false, percent = 60 } })
    local results = evaluate("soft", "{ require_approval = { beyond_percent = 50 } }", plan)
    assert.are.equal(1, failures(results, "require_approval"))
  end)
end)

describe("applies", function()
  local failing = "{ min_waves = 3 }"
  local function count(applies, rollout)
    local results = evaluate("hard", failing, plan_of({ {} }, rollout), nil, applies)
    return #results, failures(results, "min_waves")
  end

  it("judges every rollout without applies", function()
    assert.are.same({ 1, 1 }, { count(nil) })
  end)

  it("scopes by product, region, rollout pattern and tag", function()
    assert.are.same({ 1, 1 }, { count("{ products = { 'x', 'a1Le6d0abcd' } }") })
    assert.are.same({ 0, 0 }, { count("{ products = { 'x' } }") })
    assert.are.same({ 0, 0 }, { count("{ regions = { 'cn-beijing' } }") })
    assert.are.same({ 1, 1 }, { count("{ regions = 'cn-shanghai' }") })
    assert.are.same({ 0, 0 }, { count("{ rollouts = { 'prod-*' } }") })
    assert.are.same({ 1, 1 }, { count("{ rollouts = { 'prod-*' } }", { name = "prod-camera" }) })
    assert.are.same({ 1, 1 }, { count("{ rollouts = { 'prod-*' }, products = { 'a1Le6d0abcd' } }", { name = "prod-x" }) })
    assert.are.same({ 0, 0 }, { count("{ tags = { env = 'prod' } }") })
  end)

  it("matches tags on any wave of the rollout", function()
    local plan = plan_of({ {}, { tags = { { key = "env", value = "prod" } } } })
    local results = evaluate("hard", "{ min_waves = 3 }", plan, nil, "{ tags = { env = 'prod' } }")
    assert.are.equal(1, failures(results, "min_waves"))
  end)
end)

describe("overrides", function()
  it("parses --override and --reason", function()
    assert.are.same({ ["a.b"] = "why" }, (policy.parse_overrides({ "a.b" }, "why")))
    assert.matches("needs %-%-reason", select(2, policy.parse_overrides({ "a.b" }, nil)))
    assert.matches("expected POLICY.RULE", select(2, policy.parse_overrides({ "ab" }, "why")))
    assert.matches("needs an %-%-override", select(2, policy.parse_overrides({}, "why")))
  end)

  it("reports an override that names no rule, with a suggestion", function()
    local _, _, _, info = evaluate("soft", "{ min_waves = 2 }", plan_of({ {} }), { ["p.min_wave"] = "x" })
    assert.are.equal(1, #info.unmatched)
    assert.matches("did you mean p.min_waves", info.unmatched[1], 1, true)
  end)
end)
