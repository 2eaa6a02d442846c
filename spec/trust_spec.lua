-- The trust boundary (docs/sandbox.md), written as a list of attacks from an untrusted pull request:
-- each must end within the wall-clock budget with its own diagnostic (rule id, file:line), through
-- the real binary, whatever C function the script leans on.
local h = require("spec.helpers")
local sys = require("otarun.core.sys")

-- validate SCRIPT with --max-seconds 1 -> code, stderr, elapsed seconds
local function validate(text, extra)
  local path = h.script(text)
  local argv = { "validate", "--max-seconds", "1" }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  argv[#argv + 1] = path
  local t0 = sys.now()
  local code, out, err = h.run(argv)
  local elapsed = sys.now() - t0
  os.remove(path)
  return code, out .. err, elapsed, path
end

local function stopped(text, rule, extra)
  local code, out, elapsed, path = validate(text, extra)
  assert.are.equal(3, code, out)
  assert.truthy(out:find(path .. ":1: error[" .. rule .. "]", 1, true), out)
  assert.is_nil(out:find("traceback", 1, true), out)
  assert.is_true(elapsed < 3.5, string.format("took %.1f s: %s", elapsed, out))
end

describe("C-level work is bounded by the budgets", function()
  it("string.rep of an empty string 2^50 times is instant and correct", function()
    local code, out = validate([[assert(string.rep("", 2^50) == "") assert(("x"):rep(0) == "")]])
    assert.are.equal(0, code, out)
  end)
  it("table.move over 2^40 slots", function()
    stopped([[table.move({}, 1, 2^40, 1, {})]], "script-instructions-limit")
  end)
  it("a lazy pattern over a megabyte", function()
    stopped([[local s = string.find(string.rep("a", 1e6) .. "c", ".-b")]], "script-error")
  end)
  it("two lazy repetitions over 30,000 bytes", function()
    stopped([[local s = string.find(string.rep("a", 30000), ".-.-b")]], "script-error")
  end)
  it("%b() over 300,000 open parentheses", function()
    stopped([[local s = string.find(string.rep("(", 300000), "%b()")]], "script-error")
  end)
  it("a cheap loop over an expensive table.concat", function()
    stopped([[local t = {} for i = 1, 1e5 do t[i] = "abcdefghij" end for i = 1, 1e9 do local u = table.concat(t) end]],
      "script-seconds-limit")
  end)
  it("a cheap loop over an expensive upper", function()
    stopped([[local s = ("x"):rep(1e6) for i = 1, 1e9 do local a = s:upper() end]], "script-seconds-limit")
  end)
  it("a pcall tree that the C-stack limit keeps alive", function()
    stopped([[local function f() pcall(f) pcall(f) end f()]], "script-instructions-limit",
      { "--max-instructions", "100000", "--max-seconds", "10" })
    stopped([[local function f() pcall(f) pcall(f) end f()]], "script-seconds-limit")
  end)
  it("a __len that lies to table.sort and table.insert", function()
    stopped([[local t = setmetatable({}, {__len = function() return 2^31 - 2 end}) table.insert(t, 1, 1)]],
      "script-seconds-limit")
    stopped([[local t = setmetatable({}, {__len = function() return 2^31 - 2 end, __index = rawlen}) table.sort(t)]],
      "script-memory-limit", { "--max-memory", "50000000" })
  end)
  it("an endless comparator inside table.sort, where the hook cannot yield", function()
    stopped([[table.sort({3, 2, 1}, function(a, b) while true do end end)]], "script-seconds-limit")
  end)
  it("an endless gsub replacement function", function()
    stopped([[local s = ("x"):gsub(".", function() while true do end end)]], "script-seconds-limit")
  end)
  it("a C call that outlasts the limit is ended by the watchdog, with the rule id", function()
    local code, out, elapsed = validate([[local f = load(string.rep("a = 1 ", 2e7))]],
      { "--max-seconds", "0.1", "--max-memory", "2000000000" })
    assert.are.equal(3, code, out)
    assert.matches(":1: error%[script%-seconds%-limit%] time limit exceeded %(0%.1 seconds%)", out)
    assert.is_true(elapsed < 4, string.format("took %.1f s", elapsed))
  end)
  it("table.insert and table.remove keep their meaning on tables with metamethods", function()
    local code, out = validate([[
      local log = {}
      local t = setmetatable({}, { __newindex = function(t, k, v) rawset(t, k, v) log[#log + 1] = k end })
      table.insert(t, "a") table.insert(t, 1, "b") table.insert(t, 2, "c")
      assert(t[1] == "b" and t[2] == "c" and t[3] == "a", table.concat(t, ","))
      assert(table.remove(t, 1) == "b" and t[1] == "c" and t[2] == "a" and t[3] == nil)
      assert(table.remove(t) == "a" and #t == 1)
      local s = setmetatable({ 3, 1, 2 }, {})
      table.sort(s) assert(table.concat(s) == "123")
      table.sort(s, function(a, b) return a > b end) assert(table.concat(s) == "321")
      assert(table.concat({ 1, 2, 3 }, "-", 2) == "2-3")
    ]])
    assert.are.equal(0, code, out)
  end)
end)

describe("--max-seconds and the other limits", function()
  it("refuses zero, negative and non-numeric values with a usage error", function()
    for _, a in ipairs({ { "--max-seconds", "0" }, { "--max-seconds", "-1" }, { "--max-memory", "0" },
                         { "--max-memory", "-1" }, { "--max-instructions", "0" }, { "--max-instructions", "-5" },
                         { "--max-seconds", "x" }, { "--max-seconds", "inf" } }) do
      local code, out = validate("x = 1", a)
      assert.are.equal(64, code, table.concat(a, " ") .. ": " .. out)
      assert.matches(a[1]:gsub("%-", "%%-"), out)
    end
  end)
end)

describe("what crosses out of the sandbox is copied raw, inside the budgets", function()
  local FLEET = h.src .. "/examples/fleets/cameras-100k.lua"

  local function rehearse_with_check(body)
    local script = h.script(string.format([[
rollout "ap" {
  product = "a1CamRehearse", region = "cn-shanghai",
  firmware = firmware { id = "fwAp", version = "2.4.0", verified = true },
  wave "canary" { group = "CamCanary", rate = 1000, gate = { soak = "1h", check = function() %s end } },
  wave "rest"   { versions = { "2.3.0" }, rate = 1000 },
}
]], body))
    local t0 = sys.now()
    local code, out, err = h.run({ "rehearse", script, "--fleet", FLEET, "--now", "2026-05-01T10:00:00+08:00",
                                   "--until", "2d", "--max-seconds", "1" })
    os.remove(script)
    return code, out .. err, sys.now() - t0
  end

  it("a gate check's reason with an endless __tostring stops the check, not rehearse", function()
    local code, out, secs = rehearse_with_check(
      [[return "pass", setmetatable({}, { __tostring = function() while true do end end })]])
    assert.are.equal(1, code, out)
    assert.matches("gate check raised an error: .*limit exceeded", out)
    assert.is_true(secs < 10, string.format("took %.1f s", secs))
  end)

  it("a gate check's verdict with __eq and __tostring is never compared or printed by the host", function()
    local code, out, secs = rehearse_with_check(
      [[return setmetatable({}, { __tostring = function() while true do end end, __eq = function() while true do end end })]])
    assert.are.equal(1, code, out)
    assert.matches("gate check returned table; it must return", out, 1, true)
    assert.is_true(secs < 10, string.format("took %.1f s", secs))
  end)

  it("a policy whose body has an endless __pairs, or a __pairs that fills memory", function()
    local dir = h.tmpdir()
    h.write(dir .. "/evil.lua", [[policy "evil" (setmetatable({}, { __pairs = function() while true do end end }))]])
    h.write(dir .. "/fill.lua", [[
policy "fill" (setmetatable({ level = "hard", rules = { min_waves = 9 } }, {
  __pairs = function() local t, i = {}, 0 return function() i = i + 1 t[i] = ("x"):rep(100) return i, i end end,
  __index = function() while true do end end }))]])
    local t0 = sys.now()
    local code, out, err = h.run({ "plan", "--offline", "--policy", dir, h.src .. "/examples/static-ramp.lua" })
    os.execute("rm -rf " .. h.shell_quote(dir))
    assert.is_true(sys.now() - t0 < 5)
    assert.are.equal(4, code, out .. err)
    -- the raw copy sees the real fields: evil has no level, fill's rule applies
    assert.matches('policy "evil": level is required', err, 1, true)
    assert.matches("fill", err, 1, true)
  end)

  it("rollout tables with metamethods reach the validator as plain copies", function()
    local code, out = validate([[
rollout "m" (setmetatable({
  product = "a1Le6d0abcd", region = "cn-shanghai",
  firmware = setmetatable({ id = "fw1", version = "2.4.0" }, { __index = function() while true do end end }),
  wave "all" { versions = setmetatable({ "2.3.1" }, { __len = function() while true do end end }), rate = 10 },
}, { __pairs = function() while true do end end, __index = function() while true do end end }))
]])
    assert.are.equal(0, code, out)
  end)
end)

describe("files and memory outside the budgets", function()
  it("refuses a script that is a device, or larger than its share of --max-memory", function()
    local code, out = h.run({ "validate", "/dev/zero" })
    assert.are.equal(3, code, out)
    local _, _, err = h.run({ "validate", "/dev/zero" })
    assert.matches("script%-read%] cannot read the script: /dev/zero is not a regular file", out .. err)
    local big = h.script(string.rep(" ", 70000) .. "x = 1")
    local c2, o2, e2 = h.run({ "validate", "--max-memory", "1000000", big })
    os.remove(big)
    assert.are.equal(3, c2, o2 .. e2)
    assert.matches("is larger than 62500 bytes, the limit for one Lua file %(1/16 of %-%-max%-memory%); raise %-%-max%-memory", o2 .. e2)
  end)

  it("require does not follow a symbolic link out of the script's directory", function()
    local dir = h.tmpdir()
    os.execute("ln -s /etc/hostname " .. h.shell_quote(dir .. "/evil.lua"))
    h.write(dir .. "/ok.lua", "return { n = 5 }")
    local main = h.write(dir .. "/main.lua", 'assert(require("ok").n == 5)\nlocal x = require("evil")\n')
    local code, out, err = h.run({ "validate", main })
    os.execute("rm -rf " .. h.shell_quote(dir))
    assert.are.equal(3, code, out .. err)
    assert.matches("main%.lua:2: error%[script%-error%] require: .*evil%.lua leads outside the script's directory", out .. err)
  end)

  it("bounds the host's own memory with a clear error", function()
    local lines = { 'rollout "big" { product = "a1Le6d0abcd", region = "cn-shanghai",',
                    '  firmware = firmware { id = "fw1", version = "2.4.0" },' }
    for i = 1, 20000 do lines[#lines + 1] = string.format('  wave "w%d" { versions = { "2.3.1" }, rate = 10 },', i) end
    lines[#lines + 1] = "}"
    local path = h.script(table.concat(lines, "\n"))
    local code, out, err = h.run({ "plan", "--offline", "--max-host-memory", "30000000", path })
    assert.are.equal(1, code, out .. err)
    assert.matches("needed more than 30000000 bytes of memory, the host's limit; raise it with %-%-max%-host%-memory", err)
    assert.is_nil(err:find("internal error", 1, true), err)
    code, out, err = h.run({ "validate", "--max-host-memory", "-1", path })
    assert.are.equal(64, code, err)
    code, out, err = h.run({ "validate", path })
    os.remove(path)
    assert.are.equal(0, code, out .. err)
  end)

  it("plan --out refuses a device, a directory and a symbolic link", function()
    local dir = h.tmpdir()
    os.execute("ln -s " .. h.shell_quote(dir .. "/target.json") .. " " .. h.shell_quote(dir .. "/link.json"))
    for target, why in pairs({ ["/dev/full"] = "not a regular file %(it is a device", [dir] = "it is a directory",
                               [dir .. "/link.json"] = "it is a symbolic link" }) do
      local code, out, err = h.run({ "plan", "--offline", "--out", target, h.src .. "/examples/static-ramp.lua" })
      assert.are.equal(1, code, out .. err)
      assert.matches("cannot save the plan to .*" .. why, err)
    end
    assert.is_nil(io.open(dir .. "/target.json", "rb"))
    os.execute("rm -rf " .. h.shell_quote(dir))
  end)
end)

describe("output a script can reach", function()
  it("the validator refuses control characters, escapes and NUL in identifiers and versions", function()
    local code, out, err = h.run({ "validate", h.script([[
rollout "cc" {
  product = "a1Le6d0abcd\n+ fake line", region = "cn-shanghai\27[2J", instance = "iot\0x",
  firmware = firmware { id = "fw\r1", version = "2.4.0\7" },
  wave "w" { versions = { "2.3.1\n" }, group = "g\27", rate = 10 },
}
]]) })
    assert.are.equal(3, code, out .. err)
    for _, field in ipairs({ "product", "region", "instance", "firmware%.id", "firmware%.version", "versions", "group" }) do
      assert.matches("error%[control%-character%] cc[/w]*: " .. field .. " contains a control character", out)
    end
    assert.is_nil(out:find("\27", 1, true), out)
    assert.is_nil(out:find("\n+ fake", 1, true), out)
    code, out = h.run({ "validate", h.script('rollout "x\\0\\27[31m" { product = "p", region = "r", firmware = "f" }') })
    assert.are.equal(3, code, out)
    assert.matches(':1: error%[script%-error%] rollout name "x\\0\\27%[31m" contains a control character', out)
  end)

  it("every renderer escapes what a script wrote", function()
    local path = h.script('error("boom\\27[2J\\n+ fake line")')
    for _, format in ipairs({ "text", "markdown", "json" }) do
      local _, out = h.run({ "validate", "--format", format, path })
      assert.is_nil(out:find("\27", 1, true), format .. ": " .. out)
      assert.is_nil(out:find("\n+ fake", 1, true), format .. ": " .. out)
      assert.matches("boom", out, 1, true)
    end
    os.remove(path)
  end)
end)

describe("clear errors, never tracebacks", function()
  it("for a ~/.aliyun/config.json whose profiles are not a list", function()
    local home = h.tmpdir()
    assert(require("otarun.core.sys").mkdirs(home .. "/.aliyun"))
    for _, v in ipairs({ "null", "true", "1", '"x"' }) do
      h.write(home .. "/.aliyun/config.json", '{"current": "default", "profiles": ' .. v .. '}')
      -- a live plan needs credentials: exit 1 with the reason, never a traceback (docs/run.md)
      local code, out, err = h.run({ "plan", h.src .. "/examples/static-ramp.lua" }, { env = { HOME = home } })
      assert.are.equal(1, code, v .. ": " .. out .. err)
      assert.matches('no profile default in .*profiles: none', err)
      assert.is_nil(err:find("traceback", 1, true), err)
    end
    os.execute("rm -rf " .. h.shell_quote(home))
  end)

  it("a library function's error names the script's line, not the sandbox's", function()
    local code, out = validate('local x = 1\nlocal y = string.rep()\n')
    assert.are.equal(3, code, out)
    assert.matches(":2: error%[script%-error%] bad argument #1 to 'rep'", out)
    assert.is_nil(out:find("sandbox.lua", 1, true), out)
  end)

  it("a budget trip is not caught by xpcall, nor its handler run", function()
    stopped([[local n = 0 xpcall(function() while true do end end, function() while true do n = n + 1 end end)]],
      "script-seconds-limit")
  end)
end)
