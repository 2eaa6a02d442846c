-- The rehearsal picture: well-formed XML (by a small checker here, and by xmllint when it is
-- installed), one stacked area per wave, the failed line, marks for starts, gate verdicts and
-- halts, axis labels in days or hours, a legend, and text escaped.
local svg = require("otarun.render.svg")
local xml = require("xml_check")
local h = require("helpers")

local T0 = 1798761600 -- 2027-01-01T00:00:00Z, a Friday

local function sample(days)
  local times, a, b, failed = {}, {}, {}, {}
  for k = 0, 48 do
    local t = T0 + k * days * 86400 // 48
    times[#times + 1] = t
    a[#a + 1] = math.min(100, k * 10)
    b[#b + 1] = k > 24 and (k - 24) * 400 or 0
    failed[#failed + 1] = k // 8
  end
  return {
    title = "camera-2.4.0 <rehearsal> & co", subtitle = "fleet: examples/fleets/cameras-100k.lua",
    t0 = T0, t1 = T0 + days * 86400, offset = 8 * 3600, times = times, failed = failed,
    series = { { name = "canary", values = a }, { name = "all", values = b } },
    marks = { { t = T0 + 3600, kind = "start", wave = "canary" },
              { t = T0 + days * 43200, kind = "pass", wave = "canary", label = "canary gate passed" },
              { t = T0 + days * 43200, kind = "start", wave = "all" },
              { t = T0 + days * 80000, kind = "halt", wave = "all", label = "halted: 3 failed > max 2" } },
  }
end

describe("render.svg timeline", function()
  it("is well-formed XML with an svg root", function()
    local text = svg.timeline(sample(14))
    local ok, root_or_err, n = xml.check(text)
    assert.is_true(ok, root_or_err)
    assert.are.equal("svg", root_or_err)
    assert.is_true(n > 40)
  end)

  it("passes xmllint when it is installed", function()
    local have = os.execute("command -v xmllint >/dev/null 2>&1")
    if not have then return end
    local path = h.write(os.tmpname() .. ".svg", svg.timeline(sample(3)))
    local ok = os.execute("xmllint --noout " .. h.shell_quote(path) .. " 2>/dev/null")
    os.remove(path)
    assert.is_true(ok == true or ok == 0)
  end)

  it("draws one area per wave, the failed line, and every mark", function()
    local text = svg.timeline(sample(14))
    assert.matches('<polygon class="series" data-wave="canary"', text, 1, true)
    assert.matches('<polygon class="series" data-wave="all"', text, 1, true)
    assert.matches('<polyline class="failed"', text, 1, true)
    local kinds = {}
    for k in text:gmatch('<g class="mark" data%-kind="(%a+)"') do kinds[#kinds + 1] = k end
    assert.are.same({ "start", "pass", "start", "halt" }, kinds)
    assert.matches("halted: 3 failed &gt; max 2", text, 1, true)
    assert.matches("canary (100)", text, 1, true)
    assert.matches("all (9.6k)", text, 1, true)
  end)

  it("escapes text", function()
    local text = svg.timeline(sample(1))
    assert.matches("camera-2.4.0 &lt;rehearsal&gt; &amp; co", text, 1, true)
    assert.is_nil(text:find("<rehearsal>", 1, true))
  end)

  it("labels days over long spans and hours over short ones, in the display offset", function()
    local long = svg.timeline(sample(14))
    assert.matches(">Jan 02<", long, 1, true) -- first midnight at +08:00 after 2027-01-01T08:00+08
    assert.matches("UTC+08:00; 14 days simulated", long, 1, true)
    local short = svg.timeline(sample(1))
    assert.matches(">12:00<", short, 1, true)
    assert.is_nil(short:find(">Jan 02<", 1, true) and short:find(">Jan 03<", 1, true))
  end)

  it("stacks the waves: the second area's top is the sum of both", function()
    local d = sample(2)
    local text = svg.timeline(d)
    local pts = text:match('data%-wave="all" points="([^"]*)"')
    local ys = {}
    for _, yv in pts:gmatch("([%d.]+),([%d.]+)") do ys[#ys + 1] = tonumber(yv) end
    -- last top point of "all" (index 49) sits above the last top of "canary": smaller y
    local canary = text:match('data%-wave="canary" points="([^"]*)"')
    local cys = {}
    for _, yv in canary:gmatch("([%d.]+),([%d.]+)") do cys[#cys + 1] = tonumber(yv) end
    assert.is_true(ys[49] < cys[49])
  end)

  it("has nice axis steps", function()
    assert.are.equal(20000, svg.nice_step(100000, 5))
    assert.are.equal(2, svg.nice_step(9, 5))
    assert.are.equal(1, svg.nice_step(0, 5))
  end)

  it("catches malformed XML in its own checker", function()
    assert.is_nil((xml.check("<svg><g></svg>")))
    assert.is_nil((xml.check('<svg a="1" a="2"/>')))
    assert.is_nil((xml.check("<svg>a & b</svg>")))
    assert.is_true((xml.check('<svg><g x="&amp;"/>t&lt;</svg>')))
  end)
end)
