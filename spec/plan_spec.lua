-- The offline planner (otarun.plan): wave statuses, reasons, earliest starts, and the exact API
-- calls of each wave, from hand-written normalised rollouts.
local plan = require("otarun.plan")
local params = require("otarun.platform.params")
local util = require("otarun.util")
local F = require("fixtures_plan")

local NOW = F.NOW
local H, D = 3600, 86400

local function build(rollout, ctx)
  ctx = ctx or {}
  ctx.now = ctx.now or NOW
  return plan.build({ rollout }, ctx)
end

local function waves_of(rollout, ctx)
  return build(rollout, ctx).rollouts[1].waves
end

describe("plan calls", function()
  it("sends every field a dynamic wave sets, with the platform's names and values", function()
    local r = F.rollout({ F.wave("canary", {
      versions = { "2.3.1", "2.3.0" }, rate = 500, retry_interval = 10, retry_count = 2, timeout = 1440,
      overwrite = "replace", mode = "new-reports", push = false, confirm = true, multi_module = false,
      protocol = "MQTT", tags = { { key = "channel", value = "stable" }, { key = "team", value = "ops" } },
    }) }, { instance = "iot-cn-0pp1n8t" })
    local w = waves_of(r)[1]
    assert.are.equal(1, #w.calls)
    assert.are.equal("CreateOTADynamicUpgradeJob", w.calls[1].action)
    assert.are.same({
      FirmwareId = "nx3xxVvFdwvn6dim50PY03", ProductKey = "a1Le6d0abcd", IotInstanceId = "iot-cn-0pp1n8t",
      ["SrcVersion.1"] = "2.3.1", ["SrcVersion.2"] = "2.3.0",
      MaximumPerMinute = "500", RetryInterval = "10", RetryCount = "2", TimeoutInMinutes = "1440",
      OverwriteMode = "2", DynamicMode = "2", NeedPush = "false", NeedConfirm = "true",
      MultiModuleMode = "false", DownloadProtocol = "MQTT",
      ["Tag.1.Key"] = "channel", ["Tag.1.Value"] = "stable", ["Tag.2.Key"] = "team", ["Tag.2.Value"] = "ops",
      ["Tag.3.Key"] = "otarun", ["Tag.3.Value"] = "camera-2.4.0/canary",
    }, w.calls[1].params)
  end)

  it("sends only the required parameters for a minimal wave, and no identity tag when it is off", function()
    local r = F.rollout({ F.wave("w", { versions = { "1.0" } }) }, { identity = false })
    assert.are.same({ FirmwareId = "nx3xxVvFdwvn6dim50PY03", ProductKey = "a1Le6d0abcd", ["SrcVersion.1"] = "1.0" },
      waves_of(r)[1].calls[1].params)
  end)

  it("maps keep/continuous to 1 and a dynamic group to GroupId + LINK_PLATFORM_DYNAMIC", function()
    local r = F.rollout({ F.wave("g", { group = "IwOwQj7DJ", overwrite = "keep", mode = "continuous" }) })
    local p = waves_of(r)[1].calls[1].params
    assert.are.equal("IwOwQj7DJ", p.GroupId)
    assert.are.equal("LINK_PLATFORM_DYNAMIC", p.GroupType)
    assert.are.equal("1", p.OverwriteMode)
    assert.are.equal("1", p.DynamicMode)
    assert.is_nil(p["SrcVersion.1"])
  end)

  it("builds each static target selection", function()
    local r = F.rollout({
      F.wave("gray", { kind = "static", percent = 12.5, percent_text = "12.5", versions = { "2.3.1" } }),
      F.wave("some", { kind = "static", devices = { "cam-1", "cam-2" } }),
      F.wave("grp", { kind = "static", group = "StaticG" }),
      F.wave("all", { kind = "static", all = true }),
    }, { identity = false })
    local ws = waves_of(r)
    assert.are.same({ FirmwareId = "nx3xxVvFdwvn6dim50PY03", ProductKey = "a1Le6d0abcd", TargetSelection = "GRAY",
                      GrayPercent = "12.5", ["SrcVersion.1"] = "2.3.1" }, ws[1].calls[1].params)
    assert.are.equal("CreateOTAStaticUpgradeJob", ws[1].calls[1].action)
    assert.are.same({ FirmwareId = "nx3xxVvFdwvn6dim50PY03", ProductKey = "a1Le6d0abcd", TargetSelection = "SPECIFIC",
                      ["TargetDeviceName.1"] = "cam-1", ["TargetDeviceName.2"] = "cam-2" }, ws[2].calls[1].params)
    assert.are.same({ FirmwareId = "nx3xxVvFdwvn6dim50PY03", ProductKey = "a1Le6d0abcd", TargetSelection = "GROUP",
                      GroupId = "StaticG", GroupType = "LINK_PLATFORM" }, ws[3].calls[1].params)
    assert.are.same({ FirmwareId = "nx3xxVvFdwvn6dim50PY03", ProductKey = "a1Le6d0abcd", TargetSelection = "ALL" },
      ws[4].calls[1].params)
  end)

  it("says what each percent wave of a ramp reaches: GrayPercent applies to the devices still on the source versions", function()
    local r = F.rollout({ F.wave("one", { kind = "static", percent = 1, versions = { "1.7.2" } }),
      F.wave("ten", { kind = "static", percent = 10, versions = { "1.7.2" } }),
      F.wave("half", { kind = "static", percent = 50, versions = { "1.7.2" } }) })
    local w = waves_of(r)
    assert.matches("GrayPercent 1 reaches about 1% of the devices on 1.7.2", w[1].reason, 1, true)
    assert.matches("reaches about 9.9% of the devices on 1.7.2, 10.9% in total", w[2].reason, 1, true)
    assert.matches("reaches about 44.55% of the devices on 1.7.2, 55.45% in total", w[3].reason, 1, true)
    assert.are.equal("50", w[3].calls[1].params.GrayPercent)
  end)

  it("computes the GrayPercent of percent = { total = N } from the earlier waves", function()
    local r = F.rollout({ F.wave("one", { kind = "static", percent = 1, versions = { "1.7.2" } }),
      F.wave("ten", { kind = "static", percent = 10, percent_total = true, versions = { "1.7.2" } }),
      F.wave("half", { kind = "static", percent = 50, percent_total = true, versions = { "1.7.2" } }),
      F.wave("again", { kind = "static", percent = 40, percent_total = true, versions = { "1.7.2" } }),
      F.wave("other", { kind = "static", percent = 5, percent_total = true, versions = { "1.6.0" } }) })
    local w = waves_of(r)
    assert.are.equal("9.091", w[2].calls[1].params.GrayPercent)   -- 1 + 9.091% of 99 = 10
    assert.are.equal("44.445", w[3].calls[1].params.GrayPercent)  -- 10 + 44.445% of 90 = 50
    assert.matches("10% in total", w[2].reason, 1, true)
    assert.matches("50% in total", w[3].reason, 1, true)
    assert.are.equal("0.001", w[4].calls[1].params.GrayPercent)
    assert.matches("total 40% of the devices on 1.7.2 was already reached", w[4].reason, 1, true)
    assert.are.equal("5", w[5].calls[1].params.GrayPercent)       -- other versions: a chain of its own
  end)

  it("sends the percent text exactly as written", function()
    local r = F.rollout({ F.wave("g", { kind = "static", percent = 0.125, percent_text = "0.125" }) })
    assert.are.equal("0.125", waves_of(r)[1].calls[1].params.GrayPercent)
  end)

  it("schedules a static wave 5 minutes to 7 days ahead with ScheduleTime and ScheduleFinishTime", function()
    local start = NOW + 2 * H
    local r = F.rollout({ F.wave("s", { kind = "static", all = true, start = start, finish_after = 6 * H }) })
    local w = waves_of(r)[1]
    assert.are.equal("ready", w.status)
    assert.are.equal("create", w.action)
    assert.are.equal(tostring(start * 1000), w.calls[1].params.ScheduleTime)
    assert.are.equal(tostring((start + 6 * H) * 1000), w.calls[1].params.ScheduleFinishTime)
    assert.are.equal(13, #w.calls[1].params.ScheduleTime)
    assert.matches("ScheduleTime", w.reason)
    assert.are.equal(start, w.earliest_start)
  end)

  it("does not schedule a static wave less than 5 minutes ahead: it waits and is created at its start", function()
    local start = NOW + 4 * 60
    local r = F.rollout({ F.wave("s", { kind = "static", all = true, start = start }) })
    local w = waves_of(r)[1]
    assert.are.equal("waiting", w.status)
    assert.are.equal("wait", w.action)
    assert.is_nil(w.calls[1].params.ScheduleTime)
  end)

  it("never sends ScheduleFinishTime without ScheduleTime: a wave with a finish is scheduled 6 minutes after its create", function()
    local start = NOW + 4 * 60
    local r = F.rollout({ F.wave("s", { kind = "static", all = true, start = start, finish_at = start + 2 * H }) })
    local w = waves_of(r)[1]
    assert.are.equal("wait", w.action)
    local p = w.calls[1].params
    assert.are.equal(tostring((start + 2 * H) * 1000), p.ScheduleFinishTime)
    assert.is_string(p.ScheduleTime)
    assert.is_true(tonumber(p.ScheduleTime) >= (NOW + 5 * 60) * 1000)
    local now_wave = waves_of(F.rollout({ F.wave("n", { kind = "static", all = true, finish_after = 3 * H }) }))[1]
    local q = now_wave.calls[1].params
    assert.are.equal(tostring((NOW + 6 * 60) * 1000), q.ScheduleTime)
    assert.are.equal(tostring((NOW + 6 * 60 + 3 * H) * 1000), q.ScheduleFinishTime)
  end)

  it("waits for a static wave more than 7 days ahead, to be created with ScheduleTime 7 days before", function()
    local start = NOW + 10 * D
    local r = F.rollout({ F.wave("s", { kind = "static", all = true, start = start }) })
    local w = waves_of(r)[1]
    assert.are.equal("waiting", w.status)
    assert.are.equal(tostring(start * 1000), w.calls[1].params.ScheduleTime)
    assert.matches("created with ScheduleTime from " .. util.format_time(start - 7 * D), w.reason, 1, true)
  end)

  it("lets the platform hold a static wave only when its start is inside its window", function()
    -- 2026-11-30 Monday 10:00Z = 18:00 +08:00: start Tuesday 02:00 +08:00 is inside mon-thu 01-05
    local inside = util.parse_time("2026-12-01T02:00:00+08:00")
    local outside = util.parse_time("2026-12-01T06:00:00+08:00")
    local r = F.rollout({
      F.wave("in", { kind = "static", all = true, start = inside, window = F.WINDOW_MON_THU }),
      F.wave("out", { kind = "static", all = true, start = outside, window = F.WINDOW_MON_THU, no_after = true }),
    })
    local ws = waves_of(r)
    assert.are.equal("ready", ws[1].status)
    assert.are.equal("waiting", ws[2].status)
    assert.are.equal(util.parse_time("2026-12-02T01:00:00+08:00"), ws[2].earliest_start)
  end)
end)

describe("plan timeline", function()
  local function three(fields1, fields2, fields3)
    return F.rollout({ F.wave("canary", fields1), F.wave("beta", fields2), F.wave("all", fields3) })
  end

  it("makes only a wave without a predecessor ready offline", function()
    local ws = waves_of(three({ versions = { "1" } }, { versions = { "1" } }, { versions = { "1" } }))
    assert.are.same({ "ready", "waiting", "waiting" }, { ws[1].status, ws[2].status, ws[3].status })
    assert.are.same({ "create", "wait", "wait" }, { ws[1].action, ws[2].action, ws[3].action })
    assert.are.equal("due now", ws[1].reason)
    assert.are.equal(NOW, ws[1].earliest_start)
  end)

  it("adds the predecessor's soak and this wave's delay to the earliest start, and says why", function()
    local ws = waves_of(three({ versions = { "1" }, gate = { soak = 24 * H } },
                              { group = "G", gate = { soak = 12 * H } },
                              { versions = { "1" }, delay = 48 * H }))
    assert.are.equal(NOW + 24 * H, ws[2].earliest_start)
    assert.are.equal(NOW + 36 * H + 48 * H, ws[3].earliest_start)
    assert.matches('^waiting for gate of "canary"', ws[2].reason)
    assert.matches('waiting for gate of "beta"; delay 48h after "beta"', ws[3].reason, 1, true)
  end)

  it("says a predecessor without a gate must pass", function()
    local ws = waves_of(three({ versions = { "1" } }, { versions = { "1" } }, { versions = { "1" } }))
    assert.matches('^waiting for "canary" to pass', ws[2].reason)
    assert.are.equal(NOW, ws[2].earliest_start)
  end)

  it("follows an explicit after instead of the previous wave", function()
    local r = F.rollout({ F.wave("a", { versions = { "1" }, gate = { soak = 10 * H } }),
                         F.wave("b", { versions = { "1" }, gate = { soak = 100 * H } }),
                         F.wave("c", { versions = { "1" }, after = "a", after_explicit = true }) })
    local ws = waves_of(r)
    assert.are.equal(NOW + 10 * H, ws[3].earliest_start)
    assert.matches('gate of "a"', ws[3].reason)
  end)

  it("holds a first wave until its start and reports the start", function()
    local start = util.parse_time("2026-12-01T02:00:00+08:00")
    local ws = waves_of(F.rollout({ F.wave("canary", { versions = { "1" }, start = start }) }), { offset = 8 * H })
    assert.are.equal("waiting", ws[1].status)
    assert.are.equal("start at 2026-12-01T02:00:00+08:00", ws[1].reason)
    assert.are.equal(start, ws[1].earliest_start)
  end)

  it("treats a start in the past as no constraint", function()
    local ws = waves_of(F.rollout({ F.wave("canary", { versions = { "1" }, start = NOW - H }) }))
    assert.are.equal("ready", ws[1].status)
  end)

  it("moves the earliest start to the next window opening", function()
    -- Monday 18:00 +08:00 is outside mon-thu 01:00-05:00; the next opening is Tuesday 01:00 +08:00
    local ws = waves_of(F.rollout({ F.wave("w", { versions = { "1" }, window = F.WINDOW_MON_THU }) }))
    local open = util.parse_time("2026-12-01T01:00:00+08:00")
    assert.are.equal("waiting", ws[1].status)
    assert.are.equal(open, ws[1].earliest_start)
    assert.are.equal("window mon-thu 01:00-05:00 +08:00 opens at " .. util.format_time(open), ws[1].reason)
  end)

  it("is ready inside its window", function()
    local now = util.parse_time("2026-12-01T03:00:00+08:00")
    local ws = waves_of(F.rollout({ F.wave("w", { versions = { "1" }, window = F.WINDOW_MON_THU }) }), { now = now })
    assert.are.equal("ready", ws[1].status)
  end)

  it("skips window days that are not allowed (Thursday evening -> next Monday)", function()
    local ws = waves_of(F.rollout({ F.wave("w", { versions = { "1" }, window = F.WINDOW_MON_THU }) }),
      { now = util.parse_time("2026-12-03T06:00:00+08:00") })
    assert.are.equal(util.parse_time("2026-12-07T01:00:00+08:00"), ws[1].earliest_start)
  end)

  it("waits for an approval and names the command", function()
    local ws = waves_of(F.rollout({ F.wave("beta", { group = "G", approve = true }) }))
    assert.are.equal("waiting", ws[1].status)
    assert.are.equal("approval (otarun approve examples/cam.lua beta)", ws[1].reason)
    assert.are.equal(NOW, ws[1].earliest_start)
  end)

  it("has no earliest start when the window never opens, nor for waves after it", function()
    local never = { days = {}, from = 60, to = 120, tz = 0, text = "never" }
    local ws = waves_of(F.rollout({ F.wave("a", { versions = { "1" }, window = never }), F.wave("b", { versions = { "1" } }) }))
    assert.is_nil(ws[1].earliest_start)
    assert.matches("never opens", ws[1].reason)
    assert.is_nil(ws[2].earliest_start)
  end)
end)

describe("plan superseding", function()
  it("cancels the previous dynamic wave's strategy before creating the next, with a reference to its job", function()
    local r = F.rollout({ F.wave("canary", { versions = { "1" } }), F.wave("beta", { kind = "static", all = true }),
                         F.wave("all", { versions = { "1", "2" } }) }, { instance = "iot-x" })
    local ws = waves_of(r)
    assert.are.equal(1, #ws[1].calls)
    assert.are.equal(1, #ws[2].calls)
    assert.are.equal(2, #ws[3].calls)
    assert.are.equal("CancelOTAStrategyByJob", ws[3].calls[1].action)
    local job = ws[3].calls[1].params.JobId
    assert.is_true(require("otarun.plan.calls").is_ref(job))
    assert.are.same({ "job", "canary" }, { job.ref, job.wave })
    assert.are.equal('(job of wave "canary")', tostring(job))
    assert.are.equal("iot-x", ws[3].calls[1].params.IotInstanceId)
    assert.are.equal("CreateOTADynamicUpgradeJob", ws[3].calls[2].action)
    assert.matches('cancels the dynamic strategy of wave "canary" first', ws[3].reason, 1, true)
  end)

  it("never cancels for a static wave", function()
    local r = F.rollout({ F.wave("a", { versions = { "1" } }), F.wave("b", { kind = "static", all = true }) })
    local ws = waves_of(r)
    assert.are.equal("CreateOTAStaticUpgradeJob", ws[2].calls[1].action)
    assert.are.equal(1, #ws[2].calls)
  end)

  it("uses the real job id and skips superseded waves when the state is known", function()
    local r = F.rollout({ F.wave("a", { versions = { "1" } }), F.wave("b", { versions = { "1" } }),
                         F.wave("c", { versions = { "1" } }) })
    local observed = { a = { status = "superseded", job_id = "J-A" },
                       b = { status = "passed", job_id = "J-B", started_at = NOW - 2 * D, passed_at = NOW - D } }
    local ws = waves_of(r, { observed = function(_, w) return observed[w.name] end })
    assert.are.same({ "none", "none", "create" }, { ws[1].action, ws[2].action, ws[3].action })
    assert.are.equal("J-B", ws[2].job_id)
    assert.are.same({ JobId = "J-B" }, ws[3].calls[1].params)
    assert.are.equal("ready", ws[3].status)
  end)

  it("counts a passed predecessor's pass time plus the delay", function()
    local r = F.rollout({ F.wave("a", { versions = { "1" } }), F.wave("b", { versions = { "1" }, delay = 2 * D }) })
    local obs = { a = { status = "passed", job_id = "J", started_at = NOW - 3 * D, passed_at = NOW - D } }
    local ws = waves_of(r, { observed = function(_, w) return obs[w.name] end })
    assert.are.equal("waiting", ws[2].status)
    assert.are.equal(NOW + D, ws[2].earliest_start)
    assert.matches('^delay 48h after "a"', ws[2].reason)
  end)
end)

describe("plan table", function()
  it("summarises actions and diagnostics and knows when there are changes", function()
    local r = F.rollout({ F.wave("a", { versions = { "1" } }), F.wave("b", { versions = { "1" } }) })
    local p = build(r, { diagnostics = { { severity = "warning", rule = "x", message = "m" } } })
    assert.are.same({ create = 1, update = 0, replace = 0, cancel = 0, wait = 1, errors = 0, warnings = 1 }, p.summary)
    assert.is_true(plan.has_changes(p))
    local waiting = F.rollout({ F.wave("a", { versions = { "1" }, approve = true }) })
    assert.is_false(plan.has_changes(build(waiting)))
  end)

  it("carries the contract's fields", function()
    local p = build(F.rollout({ F.wave("a", { versions = { "1" } }) }))
    assert.are.equal("1.0", p.format_version)
    assert.are.equal("offline", p.mode)
    assert.are.equal("2026-11-30T10:00:00Z", p.generated_at)
    local r, w = p.rollouts[1], p.rollouts[1].waves[1]
    assert.are.same({ "camera-2.4.0", "a1Le6d0abcd", "cn-shanghai", "nx3xxVvFdwvn6dim50PY03" },
      { r.name, r.product, r.region, r.firmware.id })
    assert.are.equal("dynamic", w.kind)
    assert.are.equal(11, w.line)
    assert.are.equal("a", w.spec.name)
  end)

  it("plans 10,000 waves in linear time", function()
    local function many(n)
      local ws = {}
      for i = 1, n do ws[i] = F.wave("w" .. i, { versions = { "1" }, gate = { soak = H }, rate = 100 }) end
      return F.rollout(ws)
    end
    local clock = os.clock
    local t0 = clock(); build(many(1000)); local t1 = clock() - t0
    t0 = clock(); local p = build(many(10000)); local t10 = clock() - t0
    assert.are.equal(10000, #p.rollouts[1].waves)
    assert.are.equal(NOW + 9999 * H, p.rollouts[1].waves[10000].earliest_start)
    assert.is_true(t10 < math.max(30 * t1, 0.5), string.format("1,000 waves %.3fs, 10,000 waves %.3fs", t1, t10))
  end)
end)

-- An independent statement of the window rule, to check the native one against: the earliest
-- epoch >= t inside window { days = {[1..7] = bool} (1 = Monday), from, to (minutes of local day),
-- tz }; to <= from crosses midnight (it belongs to the day it opens on); nil when no day is allowed.
local function window_oracle(window, t)
  local days, tz = window.days or {}, window.tz or 0
  local from, to = window.from * 60, window.to * 60
  local span = to - from
  if span <= 0 then span = span + 86400 end
  local loc = t + tz
  local d = loc // 86400
  local function allowed(day) return days[(day + 3) % 7 + 1] == true end
  for day = d - 1, d do
    local open = day * 86400 + from
    if allowed(day) and open <= loc and loc < open + span then return t end
  end
  for day = d, d + 7 do
    local open = day * 86400 + from
    if allowed(day) and open > loc then return open - tz end
  end
  return nil, "the window has no days"
end

describe("next_window_open", function()
  local nwo = util.next_window_open
  local w = F.WINDOW_MON_THU
  it("returns the time itself inside the window and the opening before it", function()
    local inside = util.parse_time("2026-12-01T04:59:59+08:00")
    assert.are.equal(inside, nwo(w, inside))
    assert.are.equal(util.parse_time("2026-12-02T01:00:00+08:00"), nwo(w, util.parse_time("2026-12-01T05:00:00+08:00")))
    assert.are.equal(util.parse_time("2026-12-01T01:00:00+08:00"), nwo(w, util.parse_time("2026-12-01T00:59:00+08:00")))
  end)
  it("handles windows that cross midnight, owned by the day they open", function()
    local night = { days = { false, false, false, false, true, false, false }, from = 22 * 60, to = 2 * 60, tz = 0 }
    -- Friday 2026-12-04 22:00Z .. Saturday 02:00Z
    assert.are.equal(util.parse_time("2026-12-04T22:00:00Z"), nwo(night, util.parse_time("2026-12-01T00:00:00Z")))
    local sat = util.parse_time("2026-12-05T01:30:00Z")
    assert.are.equal(sat, nwo(night, sat))
    assert.are.equal(util.parse_time("2026-12-11T22:00:00Z"), nwo(night, util.parse_time("2026-12-05T02:00:00Z")))
  end)
  it("agrees with an independent statement of the rule over two weeks of times", function()
    local night = { days = { false, false, false, false, true, true, false }, from = 22 * 60, to = 2 * 60,
                    tz = -5 * 3600, text = "fri-sat 22:00-02:00 -05:00" }
    local n = 0
    for _, win in ipairs({ w, night }) do
      for t = NOW, NOW + 14 * 86400, 37 * 60 + 11 do
        assert.are.equal(window_oracle(win, t), nwo(win, t), util.format_time(t))
        n = n + 1
      end
    end
    assert.is_true(n > 1000)
  end)
  it("returns nil when no day is allowed", function()
    assert.is_nil(nwo({ days = {}, from = 0, to = 60, tz = 0 }, NOW))
  end)
end)

describe("params", function()
  it("flattens lists, lists of objects, booleans and integers", function()
    assert.are.same({ A = "x", ["L.1"] = "a", ["L.2"] = "b", ["T.1.Key"] = "k", ["T.1.Value"] = "v",
                      B = "true", N = "1440", F = "5" },
      params.flatten({ A = "x", L = { "a", "b" }, T = { { Key = "k", Value = "v" } }, B = true, N = 1440, F = 5.0 }))
  end)
  it("orders names for reading with numeric parts as numbers", function()
    local p = { ["Tag.10.Key"] = "", ["Tag.2.Key"] = "", ["Tag.2.Value"] = "", FirmwareId = "", ["SrcVersion.1"] = "" }
    assert.are.same({ "FirmwareId", "SrcVersion.1", "Tag.2.Key", "Tag.2.Value", "Tag.10.Key" }, params.sorted_names(p))
  end)
end)

describe("diagnostics order", function()
  local pipeline = require("otarun.plan.pipeline")

  -- the order the comparator alone gives: file, line, rollout, wave, rule, message, then position
  local function by_comparator(list)
    local copy = {}
    for i, d in ipairs(list) do copy[i] = { d = d, i = i } end
    table.sort(copy, function(a, b)
      local x, y = a.d, b.d
      for _, f in ipairs({ "file", "line", "rollout", "wave", "rule", "message" }) do
        local u, v = x[f] or (f == "line" and 0 or ""), y[f] or (f == "line" and 0 or "")
        if u ~= v then return u < v end
      end
      return a.i < b.i
    end)
    local out = {}
    for i, c in ipairs(copy) do out[i] = c.d end
    return out
  end

  it("sorts thousands by one key per diagnostic as the comparator would, ties in their first order", function()
    local list, state = {}, 7
    local function pick(t)
      state = (state * 1103515245 + 12345) % 2147483648
      return t[state % #t + 1]
    end
    for i = 1, 3000 do
      list[i] = { file = pick({ "a.lua", "b.lua", "a.lua\1", nil }), line = pick({ 0, 1, 9, 10, 100, nil }),
                  rollout = pick({ "r", "r2", "", nil }), wave = pick({ "w", "w!", nil }), rule = pick({ "x", "y" }),
                  message = pick({ "m", "m ", "M" }), severity = "warning", n = i }
    end
    local want = by_comparator(list)
    assert.are.same(want, pipeline.sort_diagnostics(list))
  end)

  it("falls back to the comparator for fields a key cannot hold", function()
    local list = { { file = "b", line = 2 }, { file = "a\0z", line = 1 }, { file = "a", line = 1.5 }, { file = "a", line = -1 } }
    local want = by_comparator(list)
    assert.are.same(want, pipeline.sort_diagnostics(list))
    assert.is_nil(list[1]._seq)
  end)
end)
