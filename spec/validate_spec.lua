-- otarun.core.validate from Lua: the binding's conversion of raw declarations (as the DSL collects
-- them) into diagnostics and normalised rollouts, and the parsers exported for the planner.
local validate = require("otarun.core.validate")

local NOW = 1796000000 -- 2026-11-30T00:53:20Z

-- One rollout with the usual fields; `fields` and `waves` extend or replace them.
local function decl(fields, waves, name)
  local f = { product = "a1Le6d0abcd", region = "cn-shanghai", firmware = "fw1" }
  for k, v in pairs(fields or {}) do f[k] = v end
  local ws = {}
  for i, w in ipairs(waves or {}) do
    local wf = {}
    for k, v in pairs(w) do if k ~= "name" then wf[k] = v end end
    ws[i] = { name = w.name, line = 10 + i, fields = wf }
  end
  return { name = name or "camera-2.4.0", file = "examples/x.lua", line = 3, fields = f, waves = ws }
end

local function check(decls, opts)
  return validate.check(decls, opts or { now = NOW })
end

local function find(result, rule)
  for _, d in ipairs(result.diagnostics) do
    if d.rule == rule then return d end
  end
end

describe("otarun.core.validate", function()
  it("reports an unknown field with the closest known one, at the wave's line", function()
    local r = check({ decl({}, { { name = "canary", versions = { "2.3.1" }, rtae = 10 } }) })
    local d = assert(find(r, "unknown-field"))
    assert.are.equal("error", d.severity)
    assert.are.equal("rtae", d.param)
    assert.matches('did you mean "rate"%?', d.message)
    assert.are.equal("examples/x.lua", d.file)
    assert.are.equal(11, d.line)
    assert.are.equal("camera-2.4.0", d.rollout)
    assert.are.equal("canary", d.wave)
  end)

  it("reports unknown fields in defaults and nested tables with their path", function()
    local r = check({ decl({ defaults = { retry = { intervl = 10, count = 1 }, gaet = {} } },
      { { name = "a", versions = { "1" } } }) })
    local params = {}
    for _, d in ipairs(r.diagnostics) do params[d.param] = d end
    assert.is_truthy(params["defaults.gaet"])
    assert.is_truthy(params["defaults.retry.intervl"])
    assert.are.equal(3, params["defaults.gaet"].line)
    assert.is_nil(params["defaults.gaet"].wave)
  end)

  it("reports a wrong type with what was given", function()
    local r = check({ decl({}, { { name = "a", versions = { "1" }, rate = "fast" } }) })
    local d = assert(find(r, "field-type"))
    assert.are.equal("MaximumPerMinute", d.param)
    assert.matches('rate must be an integer, got string "fast"', d.message, 1, true)
  end)

  it("reports range rules with the API parameter and the allowed range", function()
    local r = check({ decl({}, { { name = "a", versions = { "1" }, rate = 5 } }) })
    local d = assert(find(r, "rate-range"))
    assert.are.equal("rate 5 is out of range: MaximumPerMinute must be 10–10000", d.message)
  end)

  it("merges defaults into waves, tags key by key with the wave winning", function()
    local check_fn = function() return "pass" end
    local r = check({ decl({
      defaults = { rate = 500, timeout = "24h", retry = { interval = 10, count = 2 },
                   tags = { channel = "stable", team = "cam" },
                   gate = { soak = "24h", min_devices = 50, min_success = 0.98, check = check_fn } },
    }, {
      { name = "canary", versions = { "2.3.1" }, rate = 10, tags = { channel = "beta", zone = "eu" } },
      { name = "all", versions = { "2.3.0", "2.3.1" }, after = "canary", delay = "48h",
        window = { days = "mon-thu", from = "01:00", to = "05:00", tz = "+08:00" } },
    }) })
    assert.are.same({}, r.diagnostics)
    local canary, all = r.rollouts[1].waves[1], r.rollouts[1].waves[2]
    assert.are.equal(10, canary.rate)
    assert.are.equal(500, all.rate)
    assert.are.equal(1440, canary.timeout)
    assert.are.equal(10, all.retry_interval)
    assert.are.equal(2, all.retry_count)
    assert.are.same({ { key = "channel", value = "beta" }, { key = "team", value = "cam" },
                      { key = "zone", value = "eu" } }, canary.tags)
    assert.are.same({ { key = "channel", value = "stable" }, { key = "team", value = "cam" } }, all.tags)
    assert.are.equal(86400, all.gate.soak)
    assert.are.equal(check_fn, canary.gate.check) -- the function itself, passed through
    assert.are.equal(172800, all.delay)
    assert.are.equal("canary", all.after)
    assert.is_true(all.after_explicit)
    assert.is_nil(canary.after)
  end)

  it("lets static percent and all waves inherit the versions that narrow them", function()
    local r = check({ decl({ defaults = { kind = "static", versions = { "2.3.0" } } }, {
      { name = "one", percent = 1 },
      { name = "rest", all = true, overwrite = "replace" },
      { name = "own", all = true, versions = { "2.3.1" } },
      { name = "listed", devices = { "dev1" } },
    }) })
    assert.are.same({}, r.diagnostics)
    local w = r.rollouts[1].waves
    assert.are.same({ "2.3.0" }, w[1].versions)
    assert.are.same({ "2.3.0" }, w[2].versions)
    assert.are.same({ "2.3.1" }, w[3].versions)
    assert.is_nil(w[4].versions)
  end)

  it("takes percent = { total = N } (N% of the fleet in total) and refuses other tables", function()
    local r = check({ decl({ defaults = { kind = "static", versions = { "2.3.0" }, overwrite = "replace" } }, {
      { name = "one", percent = 1 },
      { name = "ten", percent = { total = "10.5" } },
      { name = "bad", percent = { totl = 10 } },
      { name = "big", percent = { total = 101 } },
    }) })
    local w = r.rollouts[1].waves
    assert.is_nil(w[1].percent_total)
    assert.is_true(w[2].percent_total)
    assert.are.equal("10.5", w[2].percent_text)
    local rules = {}
    for _, d in ipairs(r.diagnostics) do rules[#rules + 1] = d.wave .. " " .. d.rule end
    table.sort(rules)
    assert.are.same({ "bad field-type", "bad target-exclusive", "bad unknown-field", "big static-percent" }, rules)
  end)

  it("warns about static waves whose targets overlap an earlier static wave's (static-overlap)", function()
    local r = check({ decl({ defaults = { kind = "static" } }, {
      { name = "one", percent = 1, versions = { "2.3.0" } },
      { name = "ten", percent = 10, versions = { "2.3.0", "2.3.1" } },
      { name = "other", all = true, versions = { "2.2.0" } },
      { name = "g1", group = "G1" },
      { name = "g2", group = "G1" },
      { name = "g3", group = "G3" },
      { name = "swap", percent = 50, versions = { "2.3.1" }, overwrite = "replace" },
      { name = "rest", all = true },
    }) })
    local got = {}
    for _, d in ipairs(r.diagnostics) do
      assert.are.equal("warning", d.severity)
      got[#got + 1] = d.rule .. " " .. d.wave
    end
    assert.are.same({ "static-overlap ten", "static-overlap g2", "static-overlap rest" }, got)
    assert.matches('pending task of wave "one" (line 11, version 2.3.0)', r.diagnostics[1].message, 1, true)
    assert.matches('wave "g1" (line 14, group G1)', r.diagnostics[2].message, 1, true)
    assert.matches('pending task of wave "swap"', r.diagnostics[3].message, 1, true)
  end)

  it("warns (not errs) when a differential package's static wave takes every version: the platform skips the others", function()
    local fw = { id = "fwd", type = "diff", src_version = "2.3.0" }
    local r = check({ decl({ firmware = fw }, { { name = "all", kind = "static", all = true } }) })
    local d = find(r, "src-version-diff-package")
    assert.are.equal("warning", d.severity)
    assert.matches("skips every device of this wave that is not on 2.3.0", d.message, 1, true)
    local bad = check({ decl({ firmware = fw }, { { name = "v", versions = { "2.3.1" } } }) })
    assert.are.equal("error", find(bad, "src-version-diff-package").severity)
  end)

  it("returns the normalised shape the planner expects", function()
    local r = check({ decl({ instance = "iot-cn-0pp1n8t",
      firmware = { id = "nx3x", version = "2.4.0", size = "12MB", files = { "a.bin" }, verified = true } }, {
      { name = "canary", versions = { "2.3.1" }, protocol = "mqtt", start = "2026-12-01T02:00:00+08:00" },
      { name = "st", kind = "static", percent = 12.5, finish = "2d", push = false },
      { name = "rest", kind = "static", devices = { "d1", "d2" }, finish = "2026-12-05T00:00:00Z",
        window = { days = { "sat", "sun" }, from = "22:00", to = "02:00", tz = "UTC" } },
    }) })
    assert.are.same({}, r.diagnostics)
    local ro = r.rollouts[1]
    assert.are.equal("camera-2.4.0", ro.name)
    assert.are.equal("examples/x.lua", ro.file)
    assert.are.equal(3, ro.line)
    assert.are.equal("a1Le6d0abcd", ro.product)
    assert.are.equal("cn-shanghai", ro.region)
    assert.are.equal("iot-cn-0pp1n8t", ro.instance)
    assert.is_true(ro.identity)
    assert.are.same({ id = "nx3x", version = "2.4.0", size = 12582912, files = 1, verified = true }, ro.firmware)

    local canary, st, rest = ro.waves[1], ro.waves[2], ro.waves[3]
    assert.are.equal(1, canary.index)
    assert.are.equal(11, canary.line)
    assert.are.equal("dynamic", canary.kind)
    assert.are.same({ "2.3.1" }, canary.versions)
    assert.are.equal("MQTT", canary.protocol)
    assert.are.equal(1796061600, canary.start)
    assert.are.equal("halt", canary.on_fail)
    assert.is_false(canary.approve)
    assert.are.same({ key = "otarun", value = "camera-2.4.0/canary" }, canary.identity_tag)
    assert.are.same({}, canary.tags)

    assert.are.equal("static", st.kind)
    assert.are.equal(12.5, st.percent)
    assert.are.equal("12.5", st.percent_text)
    assert.are.equal(172800, st.finish_after)
    assert.is_false(st.push)
    assert.are.equal("canary", st.after)

    assert.are.same({ "d1", "d2" }, rest.devices)
    assert.are.equal(1796428800, rest.finish_at)
    assert.are.same({ false, false, false, false, false, true, true }, rest.window.days)
    assert.are.equal(22 * 60, rest.window.from)
    assert.are.equal(2 * 60, rest.window.to)
    assert.are.equal(0, rest.window.tz)
    assert.are.equal("sat,sun 22:00-02:00 +00:00", rest.window.text)
  end)

  it("fills a missing region from opts and leaves out the identity tag when identity = false", function()
    local d = decl({ identity = false }, { { name = "a", versions = { "1" } } })
    d.fields.region = nil
    local r = check({ d }, { region = "cn-beijing", now = NOW })
    assert.are.same({}, r.diagnostics)
    assert.are.equal("cn-beijing", r.rollouts[1].region)
    assert.is_false(r.rollouts[1].identity)
    assert.is_nil(r.rollouts[1].waves[1].identity_tag)
  end)

  it("reports a missing wave name and still returns the rollout", function()
    local d = decl({}, { { versions = { "1" } } })
    local r = check({ d })
    local w = assert(find(r, "wave-name"))
    assert.are.equal(11, w.line)
    assert.are.equal(1, #r.rollouts[1].waves)
    assert.is_nil(r.rollouts[1].waves[1].name)
  end)

  it("sorts diagnostics by file, line and rule, across rollouts", function()
    local a = decl({}, { { name = "w", versions = { "1" }, timeout = 0 } }, "a")
    local b = decl({ firmware = "fw1" }, { { name = "w", versions = { "2" }, rate = 1 } }, "b")
    b.file = "examples/a.lua"
    local r = check({ a, b })
    local order = {}
    for _, d in ipairs(r.diagnostics) do order[#order + 1] = d.file .. ":" .. d.line .. ":" .. d.rule end
    assert.are.same({ "examples/a.lua:3:one-dynamic-per-firmware", "examples/a.lua:11:rate-range",
                      "examples/x.lua:11:timeout-range" }, order)
  end)

  it("validates 10,000 waves quickly", function()
    local waves = {}
    for i = 1, 10000 do waves[i] = { name = "w" .. i, versions = { "1.0" }, rate = 100 } end
    local t0 = os.clock()
    local r = check({ decl({}, waves) })
    local took = os.clock() - t0
    assert.are.equal(10000, #r.rollouts[1].waves)
    assert.are.equal(0, #r.diagnostics)
    assert.is_true(took < 1.0, "took " .. took .. " s")
  end)

  it("raises on misuse", function()
    assert.has_error(function() validate.check("x") end)
    assert.has_error(function() validate.check({ 1 }) end)
    assert.has_error(function() validate.check({}, { now = "soon" }) end)
  end)
end)

describe("otarun.core.validate parsers", function()
  it("parses durations", function()
    assert.are.equal(5400, validate.parse_duration("1h30m"))
    assert.are.equal(172800, validate.parse_duration("2d"))
    local n, err = validate.parse_duration("30m1h")
    assert.is_nil(n)
    assert.matches("order", err)
  end)

  it("parses and formats times with their offset", function()
    local t, off = validate.parse_time("2026-12-01T02:00:00+08:00")
    assert.are.equal(1796061600, t)
    assert.are.equal(28800, off)
    assert.are.equal("2026-12-01T02:00:00+08:00", validate.format_time(t, off))
    assert.are.equal("2026-11-30T18:00:00Z", validate.format_time(t))
    local bad, err = validate.parse_time("2026-02-30T00:00:00Z")
    assert.is_nil(bad)
    assert.matches("28 days", err)
  end)

  it("parses sizes", function()
    assert.are.equal(12582912, validate.parse_size("12MB"))
    assert.is_nil(validate.parse_size("12XB"))
  end)

  it("finds the next window opening, normalised or as written", function()
    local tue3 = validate.parse_time("2026-12-01T03:00:00+08:00")
    local thu6 = validate.parse_time("2026-12-03T06:00:00+08:00")
    local mon1 = validate.parse_time("2026-12-07T01:00:00+08:00")
    local written = { days = "mon-thu", from = "01:00", to = "05:00", tz = "+08:00" }
    assert.are.equal(tue3, validate.next_window_open(written, tue3))
    assert.are.equal(mon1, validate.next_window_open(written, thu6))
    local r = check({ decl({}, { { name = "a", versions = { "1" }, window = written } }) })
    assert.are.equal(mon1, validate.next_window_open(r.rollouts[1].waves[1].window, thu6))
  end)
end)
