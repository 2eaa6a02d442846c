-- otarun.plan.refresh against the real emulator over 127.0.0.1 (spec/emu_helper.lua): firmware facts,
-- every page of ListOTAJobByFirmware (page size shrunk so a dozen jobs make three pages),
-- QueryOTAJob only for the jobs the diff compares, the call count, groups, and find_by_identity's
-- three answers (found, certainly absent, unknown when a read fails).
local emu = require("emu_helper")
local refresh = require("otarun.plan.refresh")
local F = require("fixtures_plan")

local FLEET = emu.FLEET:gsub("firmware = {", [[firmware = { { id = "fwDiff0001", version = "2.5.0", type = "diff",
                 src_version = "2.3.1", verified = false, size = "20MB" },]], 1)

describe("refresh against the emulator", function()
  local e, c
  setup(function()
    e = emu.start{ fleet = FLEET }
    c = e:client()
  end)
  teardown(function()
    refresh.JOB_PAGE = 200
    if e then e:stop() end
  end)

  local function create(fw, identity, extra)
    local p = { FirmwareId = fw, ProductKey = emu.PRODUCT, ["SrcVersion.1"] = "2.3.0" }
    if identity then p["Tag.1.Key"], p["Tag.1.Value"] = "otarun", identity end
    for k, v in pairs(extra or {}) do p[k] = v end
    local r = assert(c:call("CreateOTADynamicUpgradeJob", p))
    return r.Data.JobId
  end

  local function rollout(name, fw, waves)
    return F.rollout(waves or { F.wave("canary", { versions = { "2.3.0" } }) }, { name = name, firmware = { id = fw } })
  end

  it("reads the firmware's real facts", function()
    local snap = assert(refresh.read(c, { rollout("r-diff", "fwDiff0001") }))
    local fw = snap.firmware.fwDiff0001
    assert.are.same({ "diff", "2.3.1", 0, false, 20 * 1024 * 1024 },
      { fw.type, fw.src_version, fw.status, fw.verified, fw.size })
    assert.are.equal(2, snap.calls) -- QueryOTAFirmware + one (empty) page
    snap = assert(refresh.read(c, { rollout("r-missing", "fwDoesNotExist") }))
    assert.is_true(snap.firmware.fwDoesNotExist.missing)
  end)

  it("reads every page and queries only the running jobs that are ours", function()
    refresh.JOB_PAGE = 5
    -- 11 finished jobs of this rollout's firmware (created and cancelled) and one running of ours
    for i = 1, 11 do
      local id = create("fwHelper0002", "r-pages/old" .. i)
      assert(c:call("CancelOTAStrategyByJob", { JobId = id }))
    end
    local mine = create("fwHelper0002", "r-pages/canary", { MaximumPerMinute = "300" })
    local snap = assert(refresh.read(c, { rollout("r-pages", "fwHelper0002") }))
    local n = 0
    for _ in pairs(snap.jobs) do n = n + 1 end
    assert.are.equal(12, n)                     -- 3 pages of 5
    assert.are.equal(1 + 3 + 1, snap.calls)     -- firmware, 3 pages, one QueryOTAJob
    local job = snap.by_identity["r-pages/canary"]
    assert.are.equal(mine, job.job_id)
    assert.is_true(job.detailed)
    assert.are.equal("300", job.params.MaximumPerMinute)
    assert.are.same({ "2.3.0" }, { job.params["SrcVersion.1"] })
    assert.are.equal("dynamic", job.kind)
    assert.is_nil(snap.by_identity["r-pages/old1"].params) -- finished: not queried
    -- a job the store knows but that is listed under another firmware is read directly
    snap = assert(refresh.read(c, { rollout("r-other", "fwHelper0003") }, { known_jobs = { [mine] = true } }))
    assert.are.equal("IN_PROGRESS", snap.jobs[mine].status)
    assert.are.equal("r-pages/canary", snap.jobs[mine].identity)
    refresh.JOB_PAGE = 200
  end)

  it("reads group types when a wave targets a group", function()
    local r = rollout("r-groups", "fwHelper0003", { F.wave("lab", { group = "DynGrp1" }) })
    local snap = assert(refresh.read(c, { r }))
    assert.are.same({ StaticGrp1 = "LINK_PLATFORM", DynGrp1 = "LINK_PLATFORM_DYNAMIC" }, snap.groups[""])
  end)

  it("finds a job by its identity, says when it is certainly absent, and when it cannot know", function()
    local id = create("fwHelper0001", "r-find/canary")
    local job = refresh.find_by_identity(c, "fwHelper0001", "r-find/canary")
    assert.are.equal(id, job.job_id)
    assert.is_false(refresh.find_by_identity(c, "fwHelper0001", "r-find/other"))
    e:fault{ action = "ListOTAJobByFirmware", status = 503, count = 50 }
    local res, err = refresh.find_by_identity(e:client{ retries = { max = 1, base = 0.01, cap = 0.02 } },
      "fwHelper0001", "r-find/canary")
    e:clear_faults()
    assert.is_nil(res)
    assert.are.equal("gateway", err.kind)
  end)

  it("skips the jobs it is told are known (a replaced wave's cancelled job carries the same tag)", function()
    local old = create("fwHelper0003", "r-known/canary")
    assert(c:call("CancelOTAStrategyByJob", { JobId = old }))
    -- unknown: the cancelled old job is all there is
    assert.are.equal(old, refresh.find_by_identity(c, "fwHelper0003", "r-known/canary").job_id)
    assert.is_false(refresh.find_by_identity(c, "fwHelper0003", "r-known/canary", { known = { [old] = true } }))
    local new = create("fwHelper0003", "r-known/canary")
    local lines = {}
    local job = refresh.find_by_identity(c, "fwHelper0003", "r-known/canary",
      { known = { [old] = true }, log = function(l) lines[#lines + 1] = l end })
    assert.are.same({ new, "IN_PROGRESS" }, { job.job_id, job.status })
    assert.are.same({}, lines)
    -- two unknown jobs with one identity: the running one wins, and the log says there are more
    job = refresh.find_by_identity(c, "fwHelper0003", "r-known/canary",
      { log = function(l) lines[#lines + 1] = l end })
    assert.are.equal(new, job.job_id)
    assert.are.equal(1, #lines)
    assert.matches("1 more unknown jobs carry identity r-known/canary", lines[1], 1, true)
    -- no identity tag (identity = false): the lookup cannot answer
    local res, err = refresh.find_by_identity(c, "fwHelper0003", nil)
    assert.is_nil(res)
    assert.matches("carries no identity tag", tostring(err), 1, true)
  end)

  it("returns the error when a read fails, so the plan can stop", function()
    e:fault{ action = "QueryOTAFirmware", status = 503, count = 50 }
    local snap, err = refresh.read(e:client{ retries = { max = 0 } }, { rollout("r-fail", "fwHelper0001") })
    e:clear_faults()
    assert.is_nil(snap)
    assert.matches("ServiceUnavailable", tostring(err), 1, true)
  end)
end)

describe("refresh over more than one real page", function()
  it("reads all 205 jobs of a firmware in two pages of 200", function()
    local e = emu.start{ extra = { "--qps", "*=0" } }
    local c = e:client{ limiter = require("otarun.platform.ratelimit").new{ limits = {
      CreateOTADynamicUpgradeJob = 2000, CancelOTAStrategyByJob = 2000 } } }
    local ok, err = pcall(function()
      local last
      for i = 1, 205 do
        last = assert(c:call("CreateOTADynamicUpgradeJob", { FirmwareId = "fwHelper0001", ProductKey = emu.PRODUCT,
          ["SrcVersion.1"] = "2.3.0", ["Tag.1.Key"] = "otarun", ["Tag.1.Value"] = "big/w" .. i })).Data.JobId
        if i < 205 then assert(c:call("CancelOTAStrategyByJob", { JobId = last })) end
      end
      local snap = assert(refresh.read(c, { F.rollout({ F.wave("w205", { versions = { "2.3.0" } }) },
        { name = "big", firmware = { id = "fwHelper0001" } }) }))
      local n = 0
      for _ in pairs(snap.jobs) do n = n + 1 end
      assert.are.equal(205, n)
      assert.are.equal(1 + 2 + 1, snap.calls) -- firmware, two pages, the one running job of ours
      assert.are.equal(last, snap.by_identity["big/w205"].job_id)
      assert.is_true(snap.by_identity["big/w205"].detailed)
      assert.is_false(refresh.find_by_identity(c, "fwHelper0001", "big/w999"))
      assert.are.equal("CANCELED", refresh.find_by_identity(c, "fwHelper0001", "big/w1").status)
    end)
    e:stop()
    assert(ok, err)
  end)
end)
