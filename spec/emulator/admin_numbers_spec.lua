-- The admin API takes whole numbers however JSON spells them: cjson decodes 1 as 1.0, so fault
-- counts, statuses, latencies and QPS limits given as JSON numbers (or as whole floats by an
-- in-process caller) are accepted and stored as integers; fractional values are refused.
local gateway = require("otarun.emulator.gateway")
local admin = require("otarun.emulator.admin")
local cjson = require("cjson")
local S = require("emulator.http_support")
local helpers = require("helpers")

local function post(adm, path, body)
  local status, _, text = adm:handle({ method = "POST", path = path, query = "", body = body,
                                       remote = "127.0.0.1", headers = {} })
  return status, cjson.decode(text)
end

describe("admin API numbers", function()
  local gw, adm
  before_each(function()
    gw = gateway.new({ model = { call = function() return 200, {} end } })
    adm = admin.new({ gateway = gw })
  end)

  it("accepts a fault count, status and latency given as JSON numbers, stored as integers", function()
    local status, body = post(adm, "/_emulator/faults", '{"action": "QueryOTAJob", "count": 1, "status": 503, "latency_ms": 20}')
    assert.are.equal(200, status, cjson.encode(body))
    local f = gw.faults.QueryOTAJob
    for _, k in ipairs({ "count", "status", "latency_ms" }) do assert.are.equal("integer", math.type(f[k]), k) end
    assert.are.equal(1, f.count)
    status = post(adm, "/_emulator/faults", '{"QueryOTAJob": {"count": 2.0, "error_rate": 1}, "ListOTATaskByJob": {"count": 3}}')
    assert.are.equal(200, status)
    assert.are.equal(2, gw.faults.QueryOTAJob.count)
    assert.are.equal(3, gw.faults.ListOTATaskByJob.count)
  end)

  it("applies a count given as a whole float exactly that many times", function()
    assert(gw:set_fault({ action = "QueryOTAJob", count = 2.0, status = 503.0 }))
    assert.is_table(gw:fault_for("QueryOTAJob"))
    assert.is_table(gw:fault_for("QueryOTAJob"))
    assert.is_nil(gw:fault_for("QueryOTAJob"))
  end)

  it("refuses fractional and zero counts and statuses off the HTTP range, naming the value", function()
    for _, case in ipairs({ { '{"action": "X", "count": 1.5}', "count must be a positive integer", "got 1.5" },
                            { '{"action": "X", "count": 0}', "count must be a positive integer", "got 0" },
                            { '{"action": "X", "status": 503.5}', "status must be an HTTP status code", "503.5" },
                            { '{"action": "X", "status": 42}', "status must be an HTTP status code", "got 42" } }) do
      local status, body = post(adm, "/_emulator/faults", case[1])
      assert.are.equal(400, status, case[1])
      assert.truthy(body.Message:find(case[2], 1, true), body.Message)
      assert.truthy(body.Message:find(case[3], 1, true), body.Message)
    end
  end)

  it("stores QPS limits given as JSON numbers as integers", function()
    local status, body = post(adm, "/_emulator/qps", '{"QueryOTAJob": 3, "ListOTATaskByJob": 7.0}')
    assert.are.equal(200, status)
    assert.are.equal(3, body.qps.QueryOTAJob)
    assert.are.equal("integer", math.type(gw.qps.QueryOTAJob))
    assert.are.equal("integer", math.type(gw.qps.ListOTATaskByJob))
  end)
end)

describe("admin API numbers over HTTP", function()
  it("injects a fault posted with \"count\": 1 once", function()
    local em = S.start({ "--fleet", helpers.src .. "/spec/emulator/fixture_fleet.lua", "--clock", "manual",
                         "--key", "AKSPEC:spec-secret" })
    local ok, err = pcall(function()
      local status, body, text = S.admin(em, "POST", "/_emulator/faults", '{"action": "QueryOTAFirmware", "count": 1, "status": 503}')
      assert.are.equal(200, status, text)
      assert.are.equal(1, #body.faults)
      local function query()
        return S.send(em.url, (S.v1({ id = "AKSPEC", secret = "spec-secret", host = "127.0.0.1:" .. em.port,
          action = "QueryOTAFirmware", params = { FirmwareId = "fw-240" } })))
      end
      assert.are.equal(503, (query()))
      assert.are.equal(200, (query()))
    end)
    em.stop()
    assert(ok, err)
  end)
end)
