-- otarun rehearse, through the real binary, on the shipped example and its 100,000-device fleet:
-- the healthy rehearsal completes every wave in order, within seconds; a canary failing half its attempts halts
-- before wave 2 and the abort cancels its pending tasks; the JSON and the SVG picture say so;
-- waves that need approval wait when not approved in advance; usage errors are clear.
local h = require("helpers")
local cjson = require("cjson")
local xml = require("xml_check")

local EXAMPLE = h.src .. "/examples/rehearsal.lua"
local FLEET = h.src .. "/examples/fleets/cameras-100k.lua"
local NOW = "2027-01-04T09:00:00+08:00" -- a Monday morning in Shanghai

local function rehearse(extra)
  local argv = { "rehearse", EXAMPLE, "--fleet", FLEET, "--now", NOW }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  return h.run(argv)
end

describe("otarun rehearse", function()
  it("the example validates", function()
    local code, out = h.run({ "validate", "--now", NOW, EXAMPLE })
    assert.are.equal(0, code, out)
    assert.matches("^%-%- %u", h.slurp(EXAMPLE))
    assert.matches("^%-%- %u", h.slurp(FLEET))
  end)

  it("rehearses the healthy rollout to every device, wave after wave, and draws it", function()
    local svg = os.tmpname() .. ".svg"
    local code, out, err = rehearse({ "--format", "json", "--svg", svg })
    assert.are.equal(0, code, err)
    local doc = cjson.decode(out)
    assert.are.equal(100000, doc.devices)
    local by = {}
    for _, w in ipairs(doc.waves) do by[w.wave] = w end
    assert.are.same({ "superseded", "superseded", "passed" }, { by.canary.status, by.early.status, by.all.status })
    assert.are.equal(100000, by.canary.upgraded + by.early.upgraded + by.all.upgraded)
    assert.is_true(by.canary.passed_at <= by.early.started_at)
    assert.is_true(by.early.passed_at <= by.all.started_at)
    -- "all" waits for its window: 01:00-05:00 at +08:00
    local hh = tonumber(by.all.started_at:match("T(%d%d):"))
    assert.is_true(hh >= 1 and hh < 5, by.all.started_at)
    assert.are.equal(0, #doc.halted)
    assert.is_true(doc.wall_seconds < 10, "wall " .. doc.wall_seconds)
    assert.is_true(doc.api_calls > 0 and doc.api_calls == doc.gate_calls + doc.refresh_calls + 5)
    local text = h.slurp(svg)
    os.remove(svg)
    local ok, root = xml.check(text)
    assert.is_true(ok, root)
    for _, name in ipairs({ "canary", "early", "all" }) do
      assert.matches('<polygon class="series" data-wave="' .. name .. '"', text, 1, true)
    end
    assert.matches('data-kind="pass" data-wave="canary"', text, 1, true)
  end)

  -- Each attempt fails with these odds and the canary retries twice: 50% per attempt leaves 12.5% of
  -- devices failed for good, above the gate's 2% (20% per attempt would leave 0.8%: a pass, since
  -- failures that may still be retried are not judged yet).
  it("halts before wave 2 when the canary's version fails 50% of attempts, cancelling its pending tasks", function()
    local code, out = rehearse({ "--set", "2.3.1=0.5" })
    assert.are.equal(1, code)
    assert.matches("canary%s+fail%s+gate of wave \"canary\" tripped", out)
    assert.matches("rollout camera%-2%.4%.0 HALTED", out)
    assert.matches("early%s+waiting", out)
    assert.is_nil(out:find("early%s+start"))
    code, out = rehearse({ "--set", "2.3.1=0.5", "--format", "json" })
    local doc = cjson.decode(out)
    assert.are.equal(1, #doc.halted)
    assert.is_true((doc.calls_by_action.CancelOTATaskByJob or 0) == 1)
    assert.is_true((doc.calls_by_action.CancelOTAStrategyByJob or 0) == 1)
    assert.are.equal(1, doc.calls_by_action.CreateOTADynamicUpgradeJob) -- wave 2 never created
  end)

  it("keeps a wave that needs approval waiting when it is not approved in advance", function()
    local script = h.write(os.tmpname() .. ".lua", [[
-- approval in a rehearsal
rollout "ap" {
  product = "a1CamRehearse", region = "cn-shanghai",
  firmware = firmware { id = "fwAp", version = "2.4.0", verified = true },
  wave "canary" { group = "CamCanary", rate = 1000, gate = { soak = "1h" } },
  wave "rest"   { versions = { "2.3.0" }, rate = 1000, approve = true },
}
]])
    local code, out, err = h.run({ "rehearse", script, "--fleet", FLEET, "--now", NOW, "--until", "2d", "--approve", "none" })
    -- the rollout does not finish by --until: an honest rehearsal fails and says why
    assert.are.equal(1, code, out)
    assert.matches("rest%s+waiting", out)
    assert.matches("rollout ap did not finish by .* %(%-%-until%): rest waiting for approval", err)
    code, out = h.run({ "rehearse", script, "--fleet", FLEET, "--now", NOW, "--until", "2d" })
    assert.are.equal(0, code, out)
    assert.matches("rest%s+passed", out)
  end)

  it("says what is wrong with its arguments", function()
    local code, _, err = h.run({ "rehearse", EXAMPLE })
    assert.are.equal(64, code)
    assert.matches("needs %-%-fleet", err)
    code, _, err = rehearse({ "--set", "2.3.1=2" })
    assert.are.equal(64, code)
    assert.matches("odds between 0 and 1", err, 1, true)
    local fleet = h.write(os.tmpname() .. ".lua", 'fleet { product = "other", devices = { { version = "1", count = 1 } } }')
    code, _, err = h.run({ "rehearse", EXAMPLE, "--fleet", fleet })
    assert.are.equal(1, code)
    assert.matches("has no product a1CamRehearse", err, 1, true)
  end)
end)
