-- Policy test cases (`otarun policy test [DIR]`, like `opa test`). A test file (DIR/tests/*.lua
-- or DIR/*_test.lua) runs in the sandbox and declares cases:
--
--   case "a single production wave is denied" {
--     now = "2026-06-01T00:00:00Z",                  -- RFC 3339 or epoch (default: plan.now)
--     plan = { rollouts = { { name = "prod-cam", product = "a1", region = "cn-shanghai",
--                             waves = { { name = "all", status = "ready", rate = 500 } } } } },
--     -- or script = [[ rollout "..." { ... } ]], or script = "path/to/script.lua" (beside the test)
--     overrides = { ["production.min_waves"] = "one-device fleet" },
--     expect = { ["production.min_waves"] = "fail", ["production.max_rate"] = "pass" },
--     denied = true,                                  -- optional: the whole verdict
--   }
--
-- Plan fixtures may write waves flat (the wave's own fields become its normalised `spec`) and
-- earliest_start as RFC 3339. Verdicts per POLICY.RULE: "fail" (some result failed, overridden
-- or not), "pass" (results, all passed), "skip" (no result: out of scope or not declared).
local policy = require("otarun.policy")
local sandbox = require("otarun.lang.sandbox")
local util = require("otarun.util")

local M = {}

local CASE_FIELDS = { "now", "plan", "script", "overrides", "expect", "denied", "vars" }
local VERDICTS = { pass = true, fail = true, skip = true }

local function to_epoch(v, where)
  if v == nil or math.type(v) == "integer" then return v end
  local t, err = util.parse_time(v)
  if not t then error(where .. ": " .. err, 0) end
  return t
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy(x) end
  return c
end

-- A fixture plan, with times turned into epochs.
local function fixture(plan, now)
  plan = copy(plan)
  plan.now = now or to_epoch(plan.now, "plan.now")
  for i, r in ipairs(plan.rollouts or {}) do
    for j, w in ipairs(r.waves or {}) do
      w.earliest_start = to_epoch(w.earliest_start, string.format("rollouts[%d].waves[%d].earliest_start", i, j))
      if w.spec == nil then -- a flat wave: its own fields are the normalised spec, as the planner gives
        local spec = {}
        for k, v in pairs(w) do
          if k ~= "status" and k ~= "action" and k ~= "earliest_start" then spec[k] = v end
        end
        spec.index = spec.index or j
        w.spec = spec
      end
    end
  end
  return plan
end

-- A plan from a rollout script, through the real pipeline (script -> validate -> plan).
local function plan_from_script(script, dir, now, vars)
  local path, temporary = script, false
  if script:find("\n") or not script:match("%.lua$") then
    path, temporary = os.tmpname() .. ".lua", true
    local fh = assert(io.open(path, "wb"))
    fh:write(script)
    fh:close()
  elseif not script:match("^/") then
    path = dir .. "/" .. script
  end
  local pipeline = require("otarun.plan.pipeline")
  local res, err = pipeline.plan({ path }, { now = now or math.floor(require("otarun.core.sys").now()),
                                            offset = 0, vars = vars or {}, limits = {}, mode = "offline" })
  if temporary then os.remove(path) end -- never the user's script beside the test
  if not res then error(err, 0) end
  if not res.ok then
    for _, d in ipairs(res.diagnostics) do
      if d.severity == "error" then error("the script is invalid: " .. d.rule .. ": " .. d.message, 0) end
    end
  end
  return res.plan
end

-- Runs one case against the loaded policies; returns a list of failure messages.
local function run_case(case, policies, dir)
  local now = to_epoch(case.now, "now")
  local plan
  if case.plan then plan = fixture(case.plan, now)
  else plan = plan_from_script(case.script, dir, now, case.vars) end
  local results, denied = policy.evaluate(plan, { policies = policies, overrides = case.overrides,
                                                 now = now or plan.now })
  local verdicts = {}
  for _, r in ipairs(results) do
    local key = r.policy .. "." .. r.rule
    if not r.passed then verdicts[key] = "fail"
    elseif verdicts[key] == nil then verdicts[key] = "pass" end
  end
  local problems = {}
  for _, key in ipairs(util.sorted_keys(case.expect or {})) do
    local want, got = case.expect[key], verdicts[key] or "skip"
    if want ~= got then
      local detail = ""
      for _, r in ipairs(results) do
        if r.policy .. "." .. r.rule == key and not r.passed then detail = ": " .. tostring(r.message) break end
      end
      problems[#problems + 1] = string.format("%s: expected %s, got %s%s", key, want, got, detail)
    end
  end
  if case.denied ~= nil and case.denied ~= denied then
    problems[#problems + 1] = string.format("expected %s, got %s", case.denied and "denied" or "allowed",
      denied and "denied" or "allowed")
  end
  return problems
end

local function check_case(name, body)
  for k in pairs(body) do
    local known = false
    for _, f in ipairs(CASE_FIELDS) do if f == k then known = true end end
    if not known then
      local best = util.closest(tostring(k), CASE_FIELDS)
      return string.format("unknown field %q%s", tostring(k), best and (" (did you mean " .. best .. "?)") or "")
    end
  end
  if (body.plan == nil) == (body.script == nil) then return "give exactly one of plan, script" end
  if body.expect == nil and body.denied == nil then return "give expect = { [\"POLICY.RULE\"] = \"pass\"|\"fail\"|\"skip\" } or denied" end
  for k, v in pairs(body.expect or {}) do
    if type(k) ~= "string" or not VERDICTS[v] then
      return string.format("expect[%s] must be \"pass\", \"fail\" or \"skip\"", tostring(k))
    end
  end
  return nil
end

-- Reads the cases of one test file. Returns cases { name, file, line, body, error } or an error.
function M.load_cases(text, path)
  local cases = {}
  local function case(name)
    local line = debug.getinfo(2, "l").currentline
    if type(name) ~= "string" then error("case expects a name: case \"NAME\" { ... }", 2) end
    return function(body)
      if type(body) ~= "table" then error("case \"" .. name .. "\" expects a table", 2) end
      cases[#cases + 1] = { name = name, file = path, line = line, body = body, error = check_case(name, body) }
    end
  end
  local env = sandbox.env({ globals = { case = case } })
  local fn, err = sandbox.load(text, "@" .. path, env)
  if not fn then return nil, err end
  local ok, msg = sandbox.run(fn, { memory = 64 * 1024 * 1024, instructions = 100000000 })
  if not ok then return nil, msg end
  return cases
end

-- Test files of a directory: DIR/tests/*.lua and DIR/*_test.lua -> list of { path, text }.
local function test_files(dir)
  local sys = require("otarun.core.sys")
  local files = {}
  if dir == nil then
    local embedded = require("otarun.core.embedded")
    for _, name in ipairs(embedded.list("policies/")) do
      if name:match("^policies/tests/[^/]+%.lua$") or name:match("_test%.lua$") then
        local text, path = embedded.read(name)
        files[#files + 1] = { path = path or name, text = text, dir = "policies" }
      end
    end
  else
    for _, sub in ipairs({ { dir .. "/tests", "" }, { dir, "_test%.lua$" } }) do
      for _, n in ipairs(sys.list_files(sub[1], ".lua") or {}) do
        if sub[2] == "" or n:match(sub[2]) then
          local fh = io.open(sub[1] .. "/" .. n, "rb")
          if fh then
            files[#files + 1] = { path = sub[1] .. "/" .. n, text = fh:read("a"), dir = sub[1] }
            fh:close()
          end
        end
      end
    end
  end
  return require("otarun.util").sort_by(files, "path")
end

-- Runs the tests of dir (nil: the built-in policies and their tests). out(line) prints.
-- Returns passed, failed.
function M.run(dir, out, opts)
  opts = opts or {}
  local policies, errors = policy.load({ builtin = dir == nil, local_dir = false, dirs = dir and { dir } or nil })
  local passed, failed = 0, 0
  for _, e in ipairs(errors) do
    out(string.format("ERROR %s:%d: %s", e.file, e.line, e.message))
    failed = failed + 1
  end
  local files = test_files(dir)
  if #files == 0 then
    out(string.format("no test cases found in %s (write them in tests/*.lua or *_test.lua)", dir or "the built-in policies"))
  end
  for _, f in ipairs(files) do
    local cases, err = M.load_cases(f.text, f.path)
    if not cases then
      out("ERROR " .. tostring(err))
      failed = failed + 1
    else
      for _, c in ipairs(cases) do
        local problems = { c.error }
        if not c.error then
          local ok, res = pcall(run_case, c.body, policies, f.dir)
          problems = ok and res or { tostring(res) }
        end
        local where = string.format("%s:%d", c.file, c.line)
        if #problems == 0 then
          passed = passed + 1
          if opts.verbose then out(string.format("PASS %s (%s)", c.name, where)) end
        else
          failed = failed + 1
          out(string.format("FAIL %s (%s)", c.name, where))
          for _, p in ipairs(problems) do out("  " .. p) end
        end
      end
    end
  end
  out(string.format("%d passed, %d failed", passed, failed))
  return passed, failed
end

return M
