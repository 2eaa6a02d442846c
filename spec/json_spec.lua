-- The one JSON writer (docs/architecture.md, "JSON"): the same value gives the same bytes whatever
-- order its tables were filled in; declared and sorted key orders; marked arrays and objects;
-- numbers that read back; members left out; and the failure type's names and codes.
local json = require("otarun.json")
local cjson = require("cjson")

-- The same object, its keys inserted in the given order.
local function filled(keys)
  local t = {}
  for _, k in ipairs(keys) do t[k] = k:upper() end
  return t
end

describe("otarun.json", function()
  it("writes the same bytes however a table was filled", function()
    local keys = {}
    for i = 1, 200 do keys[i] = string.format("k%03d", (i * 37) % 200) end
    local reversed = {}
    for i = #keys, 1, -1 do reversed[#reversed + 1] = keys[i] end
    local a = json.encode({ list = { filled(keys) }, x = filled(keys) })
    local b = json.encode({ x = filled(reversed), list = { filled(reversed) } })
    assert.are.equal(a, b)
    assert.matches('^{"list":%[{"k000":"K000","k001":"K001",', a)
  end)

  it("puts the plan document's known keys first, or sorts every key with sorted = true", function()
    local v = { zeta = 1, name = "n", format_version = "1.0", alpha = 2 }
    assert.are.equal('{"format_version":"1.0","name":"n","alpha":2,"zeta":1}', json.encode(v))
    assert.are.equal('{"alpha":2,"format_version":"1.0","name":"n","zeta":1}', json.encode(v, { sorted = true }))
  end)

  it("tells arrays from objects, empty ones by their mark or by empty_object", function()
    assert.are.equal('[[],{},[1,2],{"1":"a","3":"c"}]',
      json.encode({ {}, json.object{}, { 1, 2 }, { [1] = "a", [3] = "c" } }))
    assert.are.equal('{"a":{},"b":[]}', json.encode({ a = {}, b = json.array{} }, { empty_object = true }))
  end)

  it("writes numbers that read back, and refuses what JSON cannot hold", function()
    assert.are.equal("[1,2.5,0.1,3,1e+300,-0.30000000000000004]", json.encode({ 1, 2.5, 0.1, 3.0, 1e300, 0.1 - 0.4 }))
    for _, v in ipairs({ 0.1, 1 / 3, 2 ^ 60 + 0.0, -1e-7 }) do
      assert.are.equal(v, cjson.decode(json.encode({ v }))[1])
    end
    assert.has_error(function() json.encode({ 0 / 0 }) end)
    assert.has_error(function() json.encode({ f = print }) end)
  end)

  it("leaves out the members omit names, at any depth", function()
    local secret = function(k) return k == "AccessKeySecret" end
    assert.are.equal('{"a":{"b":1}}', json.encode({ a = { b = 1, AccessKeySecret = "s" }, AccessKeySecret = "s" },
      { omit = secret }))
  end)

  it("writes lines, raw text and escapes as JSON wants", function()
    assert.are.equal('{"p":{"x":1},"s":"a\\"b\\n/\\u0001"}\n', json.line({ p = json.raw('{"x":1}'), s = 'a"b\n/\1' }))
  end)
end)

describe("otarun.failure", function()
  local failure = require("otarun.failure")

  it("carries the documented exit code by name", function()
    assert.are.same({ ok = 0, error = 1, changes = 2, invalid = 3, denied = 4, stale = 5, halted = 6, usage = 64 }, failure.CODES)
    local ok, e = pcall(failure.raise, "usage", "--format must be %s", "text")
    assert.is_false(ok)
    assert.is_true(failure.is(e))
    assert.are.same({ 64, "usage", "--format must be text" }, { e.code, e.name, e.message })
    ok, e = pcall(failure.check, nil, "no store")
    assert.are.same({ false, 1, "no store" }, { ok, e.code, e.message })
    assert.has_error(function() failure.raise("nope", "x") end)
  end)

  it("is rendered by cli.main alone, with its code", function()
    local cli = require("otarun.cli")
    local err = {}
    local real = io.stderr
    io.stderr = { write = function(_, ...) for _, s in ipairs({ ... }) do err[#err + 1] = s end end }
    local code = cli.render("plan", failure.new("usage", "plan needs at least one FILE"))
    local quiet = cli.render("plan", failure.new("invalid"))
    io.stderr = real
    assert.are.same({ 64, 3 }, { code, quiet })
    assert.are.equal("otarun plan: plan needs at least one FILE\nRun 'otarun plan --help' for usage.\n", table.concat(err))
  end)
end)
