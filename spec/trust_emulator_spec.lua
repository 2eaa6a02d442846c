-- The emulator under abuse (docs/trust.md): oversized requests get the platform's JSON error, admin
-- input is validated, fleet counts are bounded and fleet files load only from the emulator's own
-- directory. The real binary over 127.0.0.1.
local h = require("helpers")
local ch = require("client_helpers")
local cjson = require("cjson")

describe("the emulator under abuse", function()
  local dir, server

  setup(function()
    dir = h.tmpdir()
    local fleet = h.write(dir .. "/fleet.lua", [[
fleet { product = "pkAbuse", devices = { { version = "1.0.0", count = 3 } },
        firmware = { { id = "fwAbuse", version = "2.0.0", verified = true } } }
]])
    server = ch.start(string.format("%s emulator --listen 127.0.0.1:0 --fleet %s --key k:s --clock manual --quiet",
      h.shell_quote(h.bin), h.shell_quote(fleet)))
  end)
  teardown(function()
    server.stop()
    os.execute("rm -rf " .. h.shell_quote(dir))
  end)

  local function request(method, path, body)
    local c = require("otarun.core.http").client()
    local r, err = c:request{ method = method, url = server.url .. path, body = body }
    c:close()
    assert(r, "no answer: " .. tostring(err))
    return r.status, r.body
  end

  it("answers thousands of query parameters with a JSON error, not a closed connection", function()
    for _, n in ipairs({ 1001, 3000, 20000 }) do
      local parts = {}
      for i = 1, n do parts[i] = "p" .. i .. "=x" end
      local status, body = request("GET", "/?Action=QueryProductList&" .. table.concat(parts, "&"))
      assert.are.equal(400, status)
      assert.are.equal("InvalidParameter", cjson.decode(body).Code)
    end
  end)

  it("refuses a clock advance that is not a finite number of seconds", function()
    for _, s in ipairs({ "1e309", "nan", "-1", "inf", "1e12" }) do
      local status, body = request("POST", "/_emulator/clock/advance?seconds=" .. s)
      assert.are.equal(400, status, s)
      assert.matches("clock/advance needs seconds=N", body, 1, true)
    end
    local status, body = request("GET", "/_emulator/clock")
    assert.are.equal(200, status)
    assert.is_true(cjson.decode(body).now < 4e9)
  end)

  it("bounds the device count of an uploaded fleet", function()
    local status, body = request("POST", "/_emulator/fleet",
      '{"product": "pkBig", "devices": [{"version": "1", "count": 1000000000}]}')
    assert.are.equal(400, status)
    assert.matches("a fleet holds at most 10000000 devices", body, 1, true)
  end)

  it("loads fleet files only from the directory of its --fleet files", function()
    local status, body = request("POST", "/_emulator/fleet", '{"path": "/etc/passwd"}')
    assert.are.equal(400, status)
    assert.matches("only from the directory of the emulator's --fleet files", body, 1, true)
    h.write(dir .. "/more.lua", 'fleet { product = "pkMore", devices = { { version = "1.0.0", count = 2 } } }')
    status, body = request("POST", "/_emulator/fleet", cjson.encode({ path = dir .. "/more.lua" }))
    assert.are.equal(200, status, body)
  end)
end)
