-- What the fuzzers (docs/fuzzing.md) found, kept as regressions, and a short deterministic run of
-- the script-level mutation fuzzer through the real binary: 0 crashes, 0 hangs, 0 tracebacks.
local h = require("helpers")
local cjson = require("cjson")

describe("fuzz findings", function()
  local function saved_plan()
    local path = os.tmpname() .. ".json"
    local code, out, err = h.run({ "plan", "--offline", "--now", "2026-05-01T10:00:00+08:00", "--out", path,
                                   h.src .. "/examples/version-waves.lua" })
    assert(code == 0, out .. err)
    return path, cjson.decode(h.slurp(path))
  end

  it("a saved plan whose summary, diagnostics or firmware have the wrong type is an error, not a traceback", function()
    local path, doc = saved_plan()
    local saved = require("otarun.apply.saved")
    for _, edit in ipairs({
      function(d) d.diagnostics = { 5 } end,
      function(d) d.summary = { create = "x" } end,
      function(d) d.summary = 3 end,
      function(d) d.policies = { true } end,
      function(d) d.rollouts[1].firmware = 7 end,
      function(d) d.rollouts[1].waves[1].earliest_start = {} end,
    }) do
      local copy = cjson.decode(cjson.encode(doc))
      edit(copy)
      h.write(path, cjson.encode(copy))
      local ok, plan, err = pcall(saved.load, path)
      assert.is_true(ok, tostring(plan))
      assert.is_nil(plan)
      assert.matches("is not a valid saved plan: ", err)
    end
    -- a rollout without waves and no summary: loaded, not a traceback
    local copy = cjson.decode(cjson.encode(doc))
    copy.rollouts[1].waves, copy.summary = nil, nil
    h.write(path, cjson.encode(copy))
    local ok, plan = pcall(saved.load, path)
    assert.is_true(ok, tostring(plan))
    assert.are.same({}, plan.rollouts[1].waves)
    os.remove(path)
  end)

  it("a platform answer listing a job without a JobId is skipped, not a traceback", function()
    local rollouts = require("otarun.plan.pipeline").check({ h.src .. "/examples/static-ramp.lua" },
      { vars = {}, now = 1777600800, limits = {} }).rollouts
    local fake = { call = function(_, action)
      if action == "ListOTAJobByFirmware" then
        return { Success = true, Total = 2, PageCount = 1, CurrentPage = 1,
                 Data = { SimpleOTAJobInfo = { { JobStatus = "IN_PROGRESS" }, { JobId = 5 } } } }
      end
      return { Success = true, Data = { FirmwareId = "x", DestVersion = "2.4.0", Status = 1 } }
    end }
    local ok, snap = pcall(require("otarun.plan.refresh").read, fake, rollouts, {})
    assert.is_true(ok, tostring(snap))
  end)
end)

describe("the script-level mutation fuzzer", function()
  it("finds no crash, hang or traceback in 40 mutants of the examples", function()
    local fuzz = dofile(h.src .. "/fuzz/fuzz_scripts.lua")
    local r = fuzz.run({ count = 40, seed = 7 })
    assert.are.equal(40, r.runs)
    local lines = {}
    for _, f in ipairs(r.findings) do lines[#lines + 1] = f.kind .. " in " .. f.command .. ": " .. tostring(f.detail) end
    assert.are.same({}, lines)
  end)
end)
