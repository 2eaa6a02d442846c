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

-- Values of every shape the writer meets, from a seeded generator: strings with quotes,
-- backslashes, control bytes and UTF-8; integers, floats, booleans, null; arrays, objects with
-- ranked, unranked and number keys, marked and ordered tables, empty ones.
local function generator(seed)
  local state = seed
  local function rand(n)
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n + 1
  end
  local BYTES = { "a", "z", "/", '"', "\\", "\0", "\1", "\8", "\9", "\10", "\12", "\13", "\31", "\127",
                  "\195\169", "\226\130\172", " ", "{", "}" }
  local KEYS = { "name", "wave", "kind", "status", "params", "Zeta", "alpha", "b", "", "a\0b", "k\n", "calls", "summary" }
  local function str()
    local parts = {}
    for i = 1, rand(8) - 1 do parts[i] = BYTES[rand(#BYTES)] end
    return table.concat(parts)
  end
  local NUMBERS = { 0, -1, 42, math.maxinteger, math.mininteger, 0.1, -2.5, 1e300, 1 / 3, 2 ^ 53, 2 ^ 53 + 0.0,
                    -0.0, 1e-7, 123456789012345.0, 0.1 - 0.4 }
  local ordered = json.ordered({ "wave", "kind", "zz" })
  local value
  value = function(depth)
    local r = depth > 3 and rand(4) or rand(10)
    if r == 1 then return str()
    elseif r == 2 then return NUMBERS[rand(#NUMBERS)]
    elseif r == 3 then return rand(2) == 1
    elseif r == 4 then return json.null
    elseif r <= 6 then
      local t = {}
      for i = 1, rand(4) - 1 do t[i] = value(depth + 1) end
      if rand(4) == 1 then json.array(t) end
      return t
    else
      local t = {}
      for _ = 1, rand(6) - 1 do
        local k = rand(5) == 1 and rand(3) or (rand(3) == 1 and str() or KEYS[rand(#KEYS)])
        t[k] = value(depth + 1)
      end
      local m = rand(5)
      if m == 1 then json.object(t) elseif m == 2 then setmetatable(t, ordered) end
      return t
    end
  end
  return value
end

describe("otarun.json's C writer", function()
  local reference = require("json_reference")

  it("writes the bytes of the Lua writer it replaced, for every option", function()
    local omit = function(k) return k == "b" or k == "2" end
    local options = { {}, { indent = "  " }, { sorted = true }, { empty_object = true, indent = "\t" },
                      { omit = omit }, { sorted = true, empty_object = true, omit = omit, indent = " " } }
    for seed = 1, 300 do
      local v = generator(seed)(0)
      for _, o in ipairs(options) do
        local ok_ref, want = pcall(reference.encode, v, o)
        local ok, got = pcall(json.encode, v, o)
        assert.are.equal(ok_ref, ok, "seed " .. seed)
        if ok then assert.are.equal(want, got, "seed " .. seed) end
      end
    end
  end)

  it("refuses what the Lua writer refused, with its messages", function()
    local deep = {}
    local t = deep
    for _ = 1, 70 do t[1] = {} t = t[1] end
    for _, v in ipairs({ { 0 / 0 }, { math.huge }, { f = print }, { [true] = 1 }, deep, { co = coroutine.create(print) } }) do
      local ok_ref, want = pcall(reference.encode, v)
      local ok, got = pcall(json.encode, v)
      assert.is_false(ok_ref)
      assert.is_false(ok)
      assert.are.equal(want, got)
    end
    assert.has_error(function() json.encode({ -math.huge }) end, "JSON cannot hold -inf")
    assert.has_error(function() json.encode({ [{}] = 1 }) end, "JSON object keys must be strings, got table")
  end)

  it("quotes and escapes as the Lua writer did", function()
    for seed = 1, 200 do
      local s = generator(seed)(99)
      if type(s) == "string" then
        assert.are.equal(reference.quote(s), json.quote(s))
        assert.are.equal(reference.escaped(s), json.escaped(s))
      end
    end
    local long = string.rep('\1"', 5000)
    assert.are.equal(reference.quote(long), json.quote(long))
  end)

  it("writes generated arrays and deferred values in place, made when reached", function()
    local made = {}
    local row = {}
    local list = json.generated(3, function(i)
      made[#made + 1] = i
      row.i, row.name = i, "r" .. i
      return row -- the same table, refilled
    end)
    local later = json.deferred(function() return { x = #made } end)
    local v = { rows = list, z = later, none = json.generated(0, error) }
    assert.are.equal('{"none":[],"rows":[{"name":"r1","i":1},{"name":"r2","i":2},{"name":"r3","i":3}],"z":{"x":3}}',
      json.encode(v))
    assert.are.same({ 1, 2, 3 }, made)
    assert.are.equal(reference.encode({ z = { x = 6 }, none = {}, rows = { { name = "r1", i = 1 }, { name = "r2", i = 2 },
      { name = "r3", i = 3 } } }, { indent = "  " }), json.encode(v, { indent = "  " }))
  end)

  it("streams to a sink and to a file the same bytes encode gives", function()
    local big = {}
    for i = 1, 5000 do big[i] = { name = "wave-" .. i, params = { Key = string.rep("v", i % 50) } } end
    local want = json.encode(big, { indent = "  " })
    local sink, result = json.string_sink()
    local calls = 0
    json.write(big, function(buf, n) calls = calls + 1 sink(buf, n) end, { indent = "  " })
    assert.are.equal(want, result())
    assert.is_true(calls > 1) -- in pieces, not one string
    local fh = io.tmpfile()
    fh:write("<")
    json.write(big, json.file_sink(fh), { indent = "  " })
    fh:write(">")
    fh:seek("set")
    assert.are.equal("<" .. want .. ">", fh:read("a"))
    fh:close()
    assert.has_error(function() json.write(big, json.file_sink(fh)) end)
  end)

  it("refuses a lazy value's put once its encode is over", function()
    local kept
    assert.are.equal('["x"]', json.encode({ json.lazy(function(put) kept = put put('"x"') end) }))
    assert.has_error(function() kept("y") end)
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
