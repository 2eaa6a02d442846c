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

describe("otarun rehearse --runs and --seed (docs/rehearse.md)", function()
  local WAVES = h.src .. "/examples/version-waves.lua"
  local CAMERA = h.src .. "/examples/fleets/camera.lua"
  local runs = require("otarun.run.rehearsal_runs")

  local function waves(extra)
    local argv = { "rehearse", WAVES, "--fleet", CAMERA, "--now", NOW }
    for _, a in ipairs(extra) do argv[#argv + 1] = a end
    return h.run(argv)
  end

  it("computes Wilson intervals", function()
    local lo, hi = runs.wilson(5, 20)
    assert.is_true(math.abs(lo - 0.1119) < 1e-4 and math.abs(hi - 0.4687) < 1e-4, lo .. " " .. hi)
    lo, hi = runs.wilson(0, 20)
    assert.are.equal(0, lo)
    assert.is_true(math.abs(hi - 0.1611) < 1e-4, tostring(hi))
    lo, hi = runs.wilson(20, 20)
    assert.is_true(math.abs(lo - 0.8389) < 1e-4 and hi == 1)
  end)

  it("rehearses N times with seeds S..S+N-1 and says how often each rollout halted, in text and JSON", function()
    local code, out, err = waves({ "--runs", "3", "--seed", "5", "--format", "json" })
    assert.are.equal(0, code, err)
    local doc = cjson.decode(out)
    assert.are.equal(3, doc.runs)
    assert.are.same({ 5, 6, 7 }, { doc.results[1].seed, doc.results[2].seed, doc.results[3].seed })
    local r = doc.rollouts[1]
    assert.are.same({ "camera-2.4.0", 3, 0, 3, 0 }, { r.rollout, r.runs, r.halted, r.completed, r.running })
    assert.are.equal("halted in 0 of 3 runs (0%, 95% CI 0–56.1%)", r.summary)
    assert.are.same({}, r.halted_at)
    assert.is_true(r.seconds_to_complete.min > 86400 and r.seconds_to_complete.max < 14 * 86400)
    assert.are.equal("completed", doc.results[1].rollouts[1].outcome)
    code, out = waves({ "--runs", "3", "--seed", "5" })
    assert.are.equal(0, code)
    assert.matches("rollout camera-2.4.0: halted in 0 of 3 runs (0%, 95% CI 0–56.1%)", out, 1, true)
    assert.matches("completed in 3 runs, after ", out, 1, true)
  end)

  it("with --set, says whether the gates catch a bad firmware, where, and after how many failed devices", function()
    local code, out = waves({ "--runs", "2", "--set", "2.3.1=0.5", "--format", "json" })
    assert.are.equal(1, code) -- a rollout halted
    local r = cjson.decode(out).rollouts[1]
    assert.are.equal("halted in 2 of 2 runs (100%, 95% CI 34.2–100%)", r.summary)
    assert.are.same({ { wave = "canary", runs = 2 } }, r.halted_at)
    assert.is_true(r.failed_at_halt.min >= 1 and r.failed_at_halt.max <= 200, out)
    assert.is_true(r.seconds_to_halt.max < 6 * 3600, out) -- before the canary's soak ends
    assert.are.same({ 1, 2 }, r.halted_seeds)
    code, out = waves({ "--runs", "2", "--set", "2.3.1=0.5" })
    assert.matches("halted at wave canary in 2 runs", out, 1, true)
    assert.matches("failed devices at the halt: ", out, 1, true)
  end)

  it("shares the runs among processes with --jobs, with the same results", function()
    local function results(extra)
      local argv = { "--runs", "4", "--seed", "9", "--set", "2.3.1=0.5", "--format", "json" }
      for _, a in ipairs(extra) do argv[#argv + 1] = a end
      local code, out, err = waves(argv)
      assert.are.equal(1, code, err)
      assert.matches("otarun rehearse: seed 9: rollout camera%-2%.4%.0 halted: gate of wave \"canary\" tripped", err)
      local doc = cjson.decode(out)
      for _, r in ipairs(doc.results) do r.wall_seconds = nil end
      doc.wall_seconds = nil
      return doc
    end
    local one, two = results({}), results({ "--jobs", "2" })
    assert.are.same({ 9, 10, 11, 12 }, { two.results[1].seed, two.results[2].seed, two.results[3].seed, two.results[4].seed })
    assert.are.same(one, two)
    local code, _, err = waves({ "--runs", "2", "--jobs", "0" })
    assert.are.equal(64, code)
    assert.matches("--jobs must be between 1 and 64, got 0", err, 1, true)
  end)

  it("replays one run exactly with --seed, and another seed draws another fleet", function()
    local function strip(out)
      local doc = cjson.decode(out)
      doc.wall_seconds = nil
      return doc
    end
    local _, a = waves({ "--seed", "3", "--format", "json", "--until", "1d" })
    local _, b = waves({ "--seed", "3", "--format", "json", "--until", "1d" })
    local _, c = waves({ "--seed", "4", "--format", "json", "--until", "1d" })
    assert.are.same(strip(a), strip(b))
    assert.are_not.same(strip(a).events, strip(c).events)
  end)

  it("ticks in full only when a tick can act: the quiet stretches give the same result (docs/rehearse.md)", function()
    local ctx, rollouts = require("otarun.cli.command").load({ WAVES }, { now = NOW })
    local rehearsal = require("otarun.run.rehearsal")
    local function both(o)
      o.rollouts, o.fleet, o.start, o.stop, o.offset = rollouts, CAMERA, ctx.now, ctx.now + 14 * 86400, ctx.offset
      local quiet = assert(rehearsal.run(o))
      o.full_ticks = true
      local full = assert(rehearsal.run(o))
      assert.is_true(quiet.quiet_ticks > 100, tostring(quiet.quiet_ticks))
      assert.are.equal(0, full.quiet_ticks)
      quiet.wall, full.wall, quiet.quiet_ticks, full.quiet_ticks = nil, nil, nil, nil
      assert.are.same(full, quiet)
      return quiet
    end
    local healthy = both{ seed = 3 }
    assert.are.equal("completed", healthy.outcomes[1].outcome)
    assert.is_true(#healthy.times > 500 and healthy.calls > 1000)
    local bad = both{ seed = 5, set = { ["2.3.0"] = 0.6 }, decided = true }
    assert.are.same({ "halted", "all" }, { bad.outcomes[1].outcome, bad.outcomes[1].wave })
    -- a last wave with an empty gate passes while its devices still upgrade: the ticks after it
    -- plan the done rollout from the store, as full ticks do
    local file = os.tmpname() .. ".lua"
    local fh = assert(io.open(file, "w"))
    fh:write((h.slurp(WAVES):gsub('approve = true,', 'approve = true, gate = {},')))
    fh:close()
    ctx, rollouts = require("otarun.cli.command").load({ file }, { now = NOW })
    os.remove(file)
    local tail = both{ seed = 2 }
    assert.are.equal("passed", tail.report.rollouts[1].waves[3].status)
    assert.matches("is passed", tail.report.rollouts[1].waves[3].reason, 1, true)
    -- a static canary 9 days ahead is created 7 days before its start (ScheduleTime)
    fh = assert(io.open(file, "w"))
    fh:write((h.slurp(WAVES):gsub('wave "canary" {', 'wave "canary" { start = "2027-01-13T10:00:00+08:00",')))
    fh:close()
    ctx, rollouts = require("otarun.cli.command").load({ file }, { now = NOW })
    os.remove(file)
    local far = both{ seed = 2 }
    assert.are.equal(ctx.now + 2 * 86400 + 3600, far.report.rollouts[1].waves[1].started_at)
    -- never approved, ticks of 7 minutes: "all" waits through windows that open off the grid
    ctx, rollouts = require("otarun.cli.command").load({ WAVES }, { now = NOW })
    local held = both{ seed = 3, approve = {}, interval = 420 }
    assert.are.equal("waiting", held.report.rollouts[1].waves[3].status)
  end)

  it("says what is wrong with --runs", function()
    local code, _, err = waves({ "--runs", "0" })
    assert.are.equal(64, code)
    assert.matches("--runs must be between 1 and 10000, got 0", err, 1, true)
    code, _, err = waves({ "--runs", "2", "--svg", "x.svg" })
    assert.are.equal(64, code)
    assert.matches("replay one run with --seed", err, 1, true)
    code, _, err = waves({ "--seed", "x" })
    assert.are.equal(64, code)
    assert.matches("--seed needs an integer", err, 1, true)
  end)
end)
