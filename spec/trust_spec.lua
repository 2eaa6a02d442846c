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
