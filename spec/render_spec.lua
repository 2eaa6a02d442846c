-- The plan renderers (text, json, markdown) and the deterministic JSON encoder, on plans built
-- from hand-written normalised rollouts.
local plan = require("otarun.plan")
local json = require("otarun.json")
local text = require("otarun.render.text")
local rjson = require("otarun.render.json")
local markdown = require("otarun.render.markdown")
local F = require("fixtures_plan")

local function sample(extra)
  local r = F.rollout({
    F.wave("canary", { versions = { "2.3.1" }, rate = 10, gate = { soak = 86400 },
                       tags = { { key = "channel", value = "stable" } } }),
    F.wave("beta", { group = "IwOwQj7DJ", approve = true }),
    F.wave("ramp", { kind = "static", percent = 12.5, percent_text = "12.5" }),
    F.wave("all", { versions = { "2.3.0", "2.3.1" }, delay = 172800, window = F.WINDOW_MON_THU }),
  }, { instance = "iot-cn-0pp1n8t" })
  local ctx = { now = F.NOW, diagnostics = {} }
  for k, v in pairs(extra or {}) do ctx[k] = v end
  return plan.build({ r }, ctx)
end

local WARN = { severity = "warning", rule = "retry-1440-with-timeout", message = "interval 1440 with a timeout",
               file = "examples/cam.lua", line = 12, rollout = "camera-2.4.0", wave = "canary",
               param = "RetryInterval" }

describe("json encoder", function()
  it("orders known keys in the documented order, then the rest by bytes", function()
    assert.are.equal('{"name":"n","kind":"k","status":"s","a":1,"z":2}',
      json.encode({ z = 2, a = 1, status = "s", kind = "k", name = "n" }))
  end)
  it("tells empty arrays from empty objects by mark, and writes null", function()
    assert.are.equal('{"a":[],"b":{},"c":null}', json.encode({ a = {}, b = json.object({}), c = json.null }))
  end)
  it("escapes quotes, backslashes and control characters but not slashes", function()
    assert.are.equal([["a/b \"q\" \\ \n \u0001"]], json.encode('a/b "q" \\ \n \1'))
  end)
  it("round-trips through cjson", function()
    local v = { list = { 1, 2.5, "x" }, obj = { k = true } }
    assert.are.same(v, json.decode(json.encode(v, { indent = "  " })))
  end)
end)

describe("json renderer", function()
  local doc = json.decode(rjson.plan(sample({ diagnostics = { WARN } })))

  local function has(t, key, kind)
    local v = t[key]
    if kind == "null" then return v == json.null end
    if kind == "string|null" then return v == json.null or type(v) == "string" end
    if kind == "integer" then return type(v) == "number" and v == math.floor(v) end
    return type(v) == kind
  end

  it("has every top-level key of the plan JSON document with its type", function()
    for key, kind in pairs({ format_version = "string", generated_at = "string", mode = "string",
                             state_fingerprint = "string|null", rollouts = "table", diagnostics = "table",
                             policies = "table", summary = "table" }) do
      assert.is_true(has(doc, key, kind), key)
    end
    assert.are.equal("1.0", doc.format_version)
    assert.are.equal("offline", doc.mode)
    for _, k in ipairs({ "create", "update", "replace", "cancel", "wait", "errors", "warnings" }) do
      assert.is_true(has(doc.summary, k, "integer"), k)
    end
    assert.are.same({ create = 1, update = 0, replace = 0, cancel = 0, wait = 3, errors = 0, warnings = 1 }, doc.summary)
  end)

  it("has every rollout and wave key with its type, and no internal fields", function()
    local r = doc.rollouts[1]
    for key, kind in pairs({ name = "string", product = "string", region = "string", firmware = "table",
                             waves = "table" }) do
      assert.is_true(has(r, key, kind), key)
    end
    assert.are.equal("nx3xxVvFdwvn6dim50PY03", r.firmware.id)
    for _, w in ipairs(r.waves) do
      for key, kind in pairs({ name = "string", kind = "string", status = "string", action = "string",
                               reason = "string", job_id = "null", earliest_start = "string|null", calls = "table" }) do
        assert.is_true(has(w, key, kind), w.name .. "." .. key)
      end
      assert.is_nil(w.spec)
      assert.is_nil(w.reasons)
      for _, c in ipairs(w.calls) do
        assert.are.equal("string", type(c.action))
        for k, v in pairs(c.params) do
          assert.are.equal("string", type(k))
          if type(v) == "table" then
            -- the job of the previous dynamic wave, not created yet
            assert.are.same({ "job", "string" }, { v.ref, type(v.wave) }, k)
          else
            assert.are.equal("string", type(v), k)
          end
        end
      end
    end
    assert.are.equal("2026-11-30T10:00:00Z", r.waves[1].earliest_start)
    assert.are.equal("12.5", r.waves[3].calls[1].params.GrayPercent)
    assert.are.equal("camera-2.4.0/canary", r.waves[1].calls[1].params["Tag.2.Value"])
  end)

  it("writes diagnostics with every key", function()
    local d = doc.diagnostics[1]
    assert.are.same({ severity = "warning", rule = "retry-1440-with-timeout", message = "interval 1440 with a timeout",
                      file = "examples/cam.lua", line = 12, rollout = "camera-2.4.0", wave = "canary",
                      param = "RetryInterval" }, d)
  end)

  it("writes waves and diagnostics, made as they are reached, exactly as a document built in full", function()
    local r = F.rollout({ F.wave("a", { versions = { "1" }, tags = { { key = "k", value = 'q"\\/\n\1' } } }),
                         F.wave("b", { versions = { "1" } }), F.wave("c", { kind = "static", all = true }) })
    r.waves[2].line = nil
    local obs = { a = { status = "running", job_id = "J-1", started_at = F.NOW - 60 } }
    local p = plan.build({ r }, { now = F.NOW, offset = 3600, observed = function(_, w) return obs[w.name] end })
    p.diagnostics = { { severity = "warning", rule = "r", message = "m", file = "f.lua", line = 3 } }
    local generic = rjson.document(p)
    generic.rollouts[1].waves = json.array({})
    for j, w in ipairs(p.rollouts[1].waves) do generic.rollouts[1].waves[j] = rjson.wave_doc(p, w) end
    generic.diagnostics = { rjson.diagnostic(p.diagnostics[1]) }
    local fast = rjson.plan(p)
    -- the Lua writer otarun had before (the specs' reference model) gives the same bytes
    assert.are.equal(require("json_reference").encode(generic, { indent = "  " }) .. "\n", fast)
    assert.are.equal(json.encode(generic, { indent = "  " }) .. "\n", fast)
    assert.matches('"rule": "r"', fast)
    assert.are.equal(0, #p.rollouts[1].waves[1].calls)
    local sink, result = json.string_sink()
    rjson.write_plan(p, sink)
    assert.are.equal(fast, result())
  end)

  it("writes empty lists as arrays and a plan the same way twice", function()
    local s = rjson.plan(sample())
    assert.matches('"diagnostics": %[%]', s)
    assert.matches('"policies": %[%]', s)
    assert.are.equal(s, rjson.plan(sample()))
  end)
end)

describe("text renderer", function()
  local out = text.plan(sample({ diagnostics = { WARN } }), { color = false })

  it("shows each wave with its symbol, action, kind and status", function()
    assert.matches("  %+ canary: create %(dynamic, ready%)", out)
    assert.matches("  … beta: wait %(dynamic, waiting%)", out)
    assert.matches("  … ramp: wait %(static, waiting%)", out)
  end)

  it("says the platform state is unknown offline", function()
    assert.matches("^otarun plan %(offline, platform state unknown%) at 2026%-11%-30T10:00:00Z", out)
  end)

  it("lists the calls with quoted values, aligned, references unquoted", function()
    assert.matches('\n      CreateOTADynamicUpgradeJob\n        FirmwareId       = "nx3xxVvFdwvn6dim50PY03"\n', out, 1, true)
    assert.matches('JobId         = (job of wave "canary")', out, 1, true)
    assert.matches('MaximumPerMinute = "10"', out, 1, true)
  end)

  it("prints reasons and earliest starts of waiting waves", function()
    assert.matches('\n      waiting for gate of "canary"\n      approval (otarun approve examples/cam.lua beta)\n', out, 1, true)
    assert.matches("earliest start 2026-12-01T10:00:00Z", out, 1, true)
  end)

  it("ends with the diagnostics and the summary line", function()
    assert.matches("examples/cam.lua:12: warning%[retry%-1440%-with%-timeout%] camera%-2%.4%.0/canary: " ..
      "interval 1440 with a timeout %(RetryInterval%)\n", out)
    assert.matches("\nPlan: 1 to create, 0 to update, 0 to replace, 0 to cancel, 3 waiting%.\n$", out)
  end)

  it("colours only when asked", function()
    assert.is_nil(out:find("\27[", 1, true))
    local coloured = text.plan(sample(), { color = true })
    assert.truthy(coloured:find("\27[32m  + canary", 1, true))
  end)

  it("formats a diagnostic without rollout or param", function()
    assert.are.equal("x.lua:3: error[script-syntax] syntax error: near 'end'",
      text.diagnostic_line({ severity = "error", rule = "script-syntax", message = "syntax error: near 'end'",
                             file = "x.lua", line = 3 }))
  end)

  it("summarises validation", function()
    local s = text.diagnostics({ WARN }, { files = 1, rollouts = 1, waves = 4 })
    assert.matches("\nvalid: 0 errors, 1 warning %(1 file, 1 rollout, 4 waves%)%.\n$", s)
    s = text.diagnostics({ { severity = "error", rule = "r", message = "m", file = "f", line = 1 } }, {})
    assert.matches("invalid: 1 error, 0 warnings%.\n$", s)
  end)
end)

describe("markdown renderer", function()
  local out = markdown.plan(sample({ diagnostics = { WARN } }))

  it("has the summary and one table row per wave", function()
    assert.matches("%*%*Plan: 1 to create, 0 to update, 0 to replace, 0 to cancel, 3 waiting%.%*%*", out)
    assert.matches("| rollout | wave | kind | status | action | earliest start |", out, 1, true)
    assert.matches("| camera-2.4.0 | canary | dynamic | ready | `+` create | 2026-11-30T10:00:00Z |", out, 1, true)
    assert.matches("| camera-2.4.0 | beta | dynamic | waiting | `…` wait | 2026-12-01T10:00:00Z |", out, 1, true)
    local rows = select(2, out:gsub("\n| camera%-2%.4%.0 |", ""))
    assert.are.equal(4, rows)
  end)

  it("puts each wave's calls in a details block", function()
    local details = select(2, out:gsub("<details>", ""))
    assert.are.equal(4, details)
    assert.matches('<summary><code>camera-2.4.0/canary</code> + create: due now</summary>', out, 1, true)
    assert.matches("```text\nCreateOTADynamicUpgradeJob\n  FirmwareId = \"nx3xxVvFdwvn6dim50PY03\"", out, 1, true)
  end)

  it("lists the diagnostics", function()
    assert.matches("| warning | examples/cam.lua:12 | retry-1440-with-timeout | camera-2.4.0/canary | " ..
      "interval 1440 with a timeout (RetryInterval) |", out, 1, true)
  end)

  it("escapes table cells and lengthens fences around backticks", function()
    local r = F.rollout({ F.wave("w", { versions = { "1" }, tags = { { key = "k", value = "a|b ```x" } } }) })
    r.name = "x|y"
    local s = markdown.plan(plan.build({ r }, { now = F.NOW }))
    assert.matches("| x\\|y | w |", s, 1, true)
    assert.matches("````text\n", s, 1, true)
  end)
end)
