-- Reading the platform for a plan: the firmware of
-- each rollout (QueryOTAFirmware), every page of its jobs (ListOTAJobByFirmware), QueryOTAJob for
-- the jobs whose parameters the diff compares (running or planned ones that carry one of our
-- rollouts' identity tags or that the store recorded), and the device groups the waves name
-- (QueryDeviceGroupList, when any wave targets a group). Every read is bounded: paging stops on
-- the last page the platform reports. Also looks a job up by its identity tag for apply's crash
-- recovery. Uses otarun.platform.params (flat parameter text) and an otarun.platform.client-like object (`call`).
local params = require("otarun.platform.params")

local M = {}

M.IDENTITY_KEY = "otarun"
M.JOB_PAGE = 200         -- ListOTAJobByFirmware: PageSize at most 200
M.GROUP_PAGE = 200       -- QueryDeviceGroupList: PageSize at most 200
M.MAX_PAGES = 10000      -- a guard against a platform that never reports its last page

local RUNNING = { IN_PROGRESS = true, PLANNED = true }
M.RUNNING = RUNNING

-- "COMPLETE" (EN list doc) and "COMPLETED" are one status.
local function job_status(s)
  if s == "COMPLETE" then return "COMPLETED" end
  return s
end

local function list_of(wrapper, key)
  local t = type(wrapper) == "table" and wrapper[key]
  return type(t) == "table" and t or {}
end

-- Tags as { { key, value }... } (platform order), the identity value, or nil when the answer
-- carried no Tags at all (then the job's identity is unknown until QueryOTAJob).
local function tags_of(item)
  if item.Tags == nil then return nil, nil end
  local out, identity = {}, nil
  for _, t in ipairs(list_of(item.Tags, "OtaTagDTO")) do
    out[#out + 1] = { key = t.Key, value = t.Value }
    if t.Key == M.IDENTITY_KEY then identity = t.Value end
  end
  return out, identity
end

-- Splits "ROLLOUT/WAVE" at its last slash (rollout names may hold slashes, wave names not).
function M.split_identity(value)
  if type(value) ~= "string" then return nil end
  return value:match("^(.*)/([^/]+)$")
end

-- One entry of ListOTAJobByFirmware (or the Data of QueryOTAJob) -> a snapshot job.
local function job_from(item)
  local tags, identity = tags_of(item)
  return {
    job_id = type(item.JobId) == "string" and item.JobId or nil, -- an answer without one is skipped
    firmware_id = item.FirmwareId, product = item.ProductKey,
    status = job_status(item.JobStatus), type = item.JobType,
    kind = item.SelectionType == "DYNAMIC" and "dynamic" or (item.SelectionType == "STATIC" and "static" or nil),
    target = item.TargetSelection, tags = tags, identity = identity,
    created = item.UtcCreate, modified = item.UtcModified,
  }
end

local function text(v)
  if v == nil or type(v) == "table" then return nil end
  return params.text(v)
end

-- QueryOTAJob's Data as the flat parameters a create call would have sent (names of
-- CreateOTA*UpgradeJob, values as sent), so the diff compares like with like.
function M.job_params(d)
  local p = {
    FirmwareId = text(d.FirmwareId), ProductKey = text(d.ProductKey),
    MaximumPerMinute = text(d.MaximumPerMinute), TimeoutInMinutes = text(d.TimeoutInMinutes),
    RetryInterval = text(d.RetryInterval), RetryCount = text(d.RetryCount),
    OverwriteMode = text(d.OverwriteMode), DynamicMode = text(d.DynamicMode),
    MultiModuleMode = text(d.MultiModuleMode), NeedPush = text(d.NeedPush),
    NeedConfirm = text(d.NeedConfirm), DownloadProtocol = text(d.DownloadProtocol),
    GroupId = text(d.GroupId), GrayPercent = text(d.GrayPercent),
  }
  if d.SelectionType == "STATIC" then p.TargetSelection = text(d.TargetSelection) end
  for i, v in ipairs(list_of(d.SrcVersions, "SrcVersion")) do p["SrcVersion." .. i] = text(v) end
  for i, t in ipairs(list_of(d.Tags, "OtaTagDTO")) do
    p["Tag." .. i .. ".Key"], p["Tag." .. i .. ".Value"] = text(t.Key), text(t.Value)
  end
  return p
end

-- ---- reading ---------------------------------------------------------------------------------

local Reader = {}
Reader.__index = Reader

function Reader:call(action, p)
  self.calls = self.calls + 1
  return self.client:call(action, p)
end

-- Every page of ListOTAJobByFirmware. fn(item) for each job. -> true | nil, err
function Reader:each_job(firmware_id, instance, fn)
  local page = 1
  while page <= M.MAX_PAGES do
    local res, err = self:call("ListOTAJobByFirmware", { FirmwareId = firmware_id,
      CurrentPage = tostring(page), PageSize = tostring(M.JOB_PAGE), IotInstanceId = instance })
    if not res then return nil, err end
    local items = list_of(res.Data, "SimpleOTAJobInfo")
    for _, item in ipairs(items) do fn(item) end
    local count = tonumber(res.PageCount)
    if count == nil and tonumber(res.Total) then count = math.ceil(tonumber(res.Total) / M.JOB_PAGE) end
    if #items == 0 or #items < M.JOB_PAGE or (count and page >= count) then return true end
    page = page + 1
  end
  return true
end

-- QueryOTAFirmware -> facts. A business error (no such firmware) is a fact too.
function Reader:firmware(id, instance)
  local res, err = self:call("QueryOTAFirmware", { FirmwareId = id, IotInstanceId = instance })
  if not res then
    if err.kind == "business" then
      return { id = id, missing = true, error = tostring(err) }
    end
    return nil, err
  end
  local f = res.FirmwareInfo or {}
  local files = list_of(f, "MultiFiles")
  local sizes, largest = {}, nil
  for i, mf in ipairs(files) do
    sizes[i] = tonumber(mf.Size)
    if sizes[i] and (not largest or sizes[i] > largest) then largest = sizes[i] end
  end
  local ftype = tonumber(f.Type)
  return {
    id = f.FirmwareId or id, name = f.FirmwareName, product = f.ProductKey, version = f.DestVersion,
    status = tonumber(f.Status), verified = tonumber(f.Status) == 1 or tonumber(f.Status) == -1,
    type = ftype == 1 and "diff" or (ftype == 0 and "full" or nil), src_version = f.SrcVersion,
    size = tonumber(f.FirmwareSize) or largest, files = #files > 0 and #files or 1,
    file_sizes = sizes, module = f.ModuleName,
  }
end

-- Every group of an instance, static and dynamic: { [GroupId] = GroupType }. -> map | nil, err
function Reader:groups(instance)
  local out, page = {}, 1
  while page <= M.MAX_PAGES do
    local res, err = self:call("QueryDeviceGroupList", { CurrentPage = tostring(page),
      PageSize = tostring(M.GROUP_PAGE), ["GroupTypes.1"] = "LINK_PLATFORM",
      ["GroupTypes.2"] = "LINK_PLATFORM_DYNAMIC", IotInstanceId = instance })
    if not res then return nil, err end
    local items = list_of(res.Data, "GroupInfo")
    for _, g in ipairs(items) do out[g.GroupId] = g.GroupType or "LINK_PLATFORM" end
    local count = tonumber(res.PageCount)
    if count == nil and tonumber(res.Total) then count = math.ceil(tonumber(res.Total) / M.GROUP_PAGE) end
    if #items == 0 or #items < M.GROUP_PAGE or (count and page >= count) then break end
    page = page + 1
  end
  return out
end

-- QueryOTAJob: fills job.params (and the tags when the list did not carry them).
function Reader:detail(job, instance)
  local res, err = self:call("QueryOTAJob", { JobId = job.job_id, IotInstanceId = instance })
  if not res then
    if err.kind == "business" then
      job.missing, job.error = true, tostring(err)
      return true
    end
    return nil, err
  end
  local d = res.Data or {}
  local fresh = job_from(d)
  for k, v in pairs(fresh) do
    if job[k] == nil then job[k] = v end
  end
  job.status = fresh.status or job.status
  job.tags, job.identity = fresh.tags or job.tags, fresh.identity or job.identity
  job.params = M.job_params(d)
  job.detailed = true
  return true
end

local function refresh_rollout(job)
  return (M.split_identity(job.identity))
end

-- Prefer a running job, then the newest: after a replace both jobs carry one identity.
local function better(a, b)
  local ra, rb = RUNNING[a.status] and 1 or 0, RUNNING[b.status] and 1 or 0
  if ra ~= rb then return ra > rb end
  return (a.created or "") > (b.created or "")
end
M.better = better

-- read(client, rollouts, opts) -> snapshot | nil, err
-- opts.known_jobs: { [job_id] = IotInstanceId | true } jobs the state store recorded for these
--   rollouts (read with QueryOTAJob even when not listed under the rollout's current firmware).
-- opts.groups = false: skip QueryDeviceGroupList.
-- opts.firmware = { [firmware_id] = facts }: facts read before (otarun run reads a firmware once
--   per process, its jobs every tick): QueryOTAFirmware is not called for these.
-- snapshot = { firmware = { [id] = facts }, jobs = { [job_id] = job }, by_identity = { [v] = job },
--   by_firmware = { [id] = { job... } }, groups = { [instance or ""] = { [GroupId] = type } } | nil,
--   calls = n }
-- job = { job_id, firmware_id, status, kind, type, target, identity, tags = { {key, value} },
--         params = { flat } (detailed jobs only), detailed, missing, created }
function M.read(client, rollouts, opts)
  opts = opts or {}
  local r = setmetatable({ client = client, calls = 0 }, Reader)
  local snap = { firmware = {}, jobs = {}, by_identity = {}, by_firmware = {}, calls = 0 }
  local ours, instance_of, seen_fw, want_groups = {}, {}, {}, {}
  for _, ro in ipairs(rollouts) do
    ours[ro.name] = true
    for _, w in ipairs(ro.waves or {}) do
      if w.group then want_groups[ro.instance or ""] = ro.instance or false end
    end
  end
  local order = {}
  for _, ro in ipairs(rollouts) do
    local id = ro.firmware and ro.firmware.id
    if id and not seen_fw[id] then
      seen_fw[id] = true
      instance_of[id] = ro.instance
      order[#order + 1] = id
    end
  end
  -- which jobs the diff compares: running ones that are ours (by tag or by the store), and
  -- running ones whose tags the list did not carry. Each firmware's are read right after its
  -- list, so QueryOTAJob's quota is spent while ListOTAJobByFirmware's paces the next firmware.
  local function wanted(job)
    local ro = refresh_rollout(job)
    return RUNNING[job.status] and job.type ~= "VERIFY_FIRMWARE" and job.type ~= "VERFIY_FIRMWARE"
      and ((opts.known_jobs and opts.known_jobs[job.job_id]) or (ro and ours[ro]) or job.tags == nil)
  end
  for _, id in ipairs(order) do
    local facts = opts.firmware and opts.firmware[id]
    if not facts then
      local err
      facts, err = r:firmware(id, instance_of[id])
      if not facts then return nil, err end
    end
    snap.firmware[id] = facts
    local list = {}
    snap.by_firmware[id] = list
    if not facts.missing then
      local ok, lerr = r:each_job(id, instance_of[id], function(item)
        local job = job_from(item)
        job.firmware_id = job.firmware_id or id
        if job.job_id and not snap.jobs[job.job_id] then
          snap.jobs[job.job_id] = job
          list[#list + 1] = job
        end
      end)
      if not ok then return nil, lerr end
    end
    for _, job in ipairs(list) do
      if wanted(job) then
        local ok, qerr = r:detail(job, instance_of[id])
        if not ok then return nil, qerr end
      end
    end
  end
  local extra = {}
  for id, instance in pairs(opts.known_jobs or {}) do
    if not snap.jobs[id] then
      local job = { job_id = id, unlisted = true, instance = type(instance) == "string" and instance or nil }
      snap.jobs[id] = job
      extra[#extra + 1] = job
    end
  end
  table.sort(extra, function(a, b) return a.job_id < b.job_id end)
  for _, job in ipairs(extra) do
    local ok, err = r:detail(job, job.instance)
    if not ok then return nil, err end
  end
  for _, job in pairs(snap.jobs) do
    if job.identity and not job.missing then
      local cur = snap.by_identity[job.identity]
      if not cur or better(job, cur) then snap.by_identity[job.identity] = job end
    end
  end
  if opts.groups ~= false and next(want_groups) then
    snap.groups = {}
    for key, instance in pairs(want_groups) do
      local g, err = r:groups(instance or nil)
      if not g then return nil, err end
      snap.groups[key] = g
    end
  end
  snap.calls = r.calls
  return snap
end

-- read_all(client_for, rollouts, opts) -> snapshot | nil, err, rollout
-- Rollouts can live in several regions (one endpoint each): client_for(rollout) -> client, key
-- (| nil, err); rollouts with one key are read together and the snapshots merged.
function M.read_all(client_for, rollouts, opts)
  local groups, order = {}, {}
  for _, r in ipairs(rollouts) do
    local c, key = client_for(r)
    if not c then return nil, key, r end
    if not groups[key] then
      groups[key] = { client = c, rollouts = {} }
      order[#order + 1] = key
    end
    table.insert(groups[key].rollouts, r)
  end
  local all = { firmware = {}, jobs = {}, by_identity = {}, by_firmware = {}, calls = 0 }
  for _, key in ipairs(order) do
    local g = groups[key]
    local snap, err = M.read(g.client, g.rollouts, opts)
    if not snap then return nil, err, g.rollouts[1] end
    for _, name in ipairs({ "firmware", "jobs", "by_firmware" }) do
      for k, v in pairs(snap[name]) do all[name][k] = v end
    end
    for k, job in pairs(snap.by_identity) do
      local cur = all.by_identity[k]
      if not cur or better(job, cur) then all.by_identity[k] = job end
    end
    if snap.groups then
      all.groups = all.groups or {}
      for k, v in pairs(snap.groups) do all.groups[k] = v end
    end
    all.calls = all.calls + snap.calls
  end
  return all
end

-- An error of this module's own (a platform answer it cannot use), printable like a client error.
local Malformed = { __tostring = function(e) return e.message end }

-- find_by_identity(client, firmware_id, identity_value [, opts]) -> job | false | nil, err
-- The one lookup by identity tag (plan's matching uses the snapshot; apply and its crash recovery
-- use this). job: the best job tagged otarun = identity_value (running first, then the newest;
-- listed fields only: job_id, status, created, tags...). false: every page was read and none
-- carries it. nil, err: a read failed (or the list carried no tags), so the answer is unknown.
-- opts.instance: IotInstanceId.
-- opts.known = { [job_id] = truthy }: jobs to skip. A create's outcome is resolved with the jobs
--   the store already records: after a replace, the cancelled old job carries the same identity
--   tag, and adopting it would leave the wave without its new job.
-- opts.log(line): told when more than one unknown job carries the identity.
function M.find_by_identity(client, firmware_id, identity_value, opts)
  opts = opts or {}
  if not identity_value then
    return nil, setmetatable({ kind = "malformed", message = "the create carries no identity tag (identity = false)" }, Malformed)
  end
  if not firmware_id then
    return nil, setmetatable({ kind = "malformed", message = "the create names no FirmwareId" }, Malformed)
  end
  local known = opts.known or {}
  local r = setmetatable({ client = client, calls = 0 }, Reader)
  local found, untagged, more = nil, false, 0
  local ok, err = r:each_job(firmware_id, opts.instance, function(item)
    local job = job_from(item)
    if job.tags == nil then untagged = true end
    if job.identity == identity_value and not known[job.job_id] then
      if found then more = more + 1 end
      if not found or better(job, found) then found = job end
    end
  end)
  if not ok then return nil, err end
  if more > 0 and opts.log then
    opts.log(string.format("warning: %d more unknown jobs carry identity %s on firmware %s", more,
      identity_value, firmware_id))
  end
  if found then return found end
  if untagged then
    return nil, setmetatable({ kind = "malformed", message = "ListOTAJobByFirmware answered without Tags: "
      .. "cannot tell whether a job tagged " .. identity_value .. " exists" }, Malformed)
  end
  return false
end

return M
