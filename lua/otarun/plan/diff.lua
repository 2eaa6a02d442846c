-- The diff: desired waves (normalised rollouts) against what exists: the platform
-- snapshot (otarun.plan.refresh) in "live" mode, the state store alone in "state" mode. It gives the
-- planner (otarun.plan) what each wave observed (its job: running, done, superseded, cancelled)
-- and then turns each wave's entry into its action: `~` update in place (UpdateOTAJob: rate, tags
-- resent whole, dynamic timeout and versions), `-/+` replace (cancel, then create) for what the
-- platform cannot change, `-` cancel for a wave removed from the script whose job still runs,
-- or nothing. A difference the platform shows but otarun did not send (per the store's intent
-- journal) is drift, named with both values and the action that closes it. A wave whose job otarun
-- cancelled for a replace whose create never happened plans its create again; a job cancelled
-- outside otarun leaves its wave `cancelled` and says so. Calls within a wave
-- come in the order they must run (cancel before the create that replaces or supersedes it);
-- cancels of removed waves come first in their rollout.
-- Uses otarun.plan.calls, otarun.plan.refresh (identity parsing), otarun.platform.params, otarun.util, cjson,
-- otarun.core.sign (sha256_hex).
local calls = require("otarun.plan.calls")
local refresh = require("otarun.plan.refresh")
local params = require("otarun.platform.params")
local util = require("otarun.util")

local M = {}

-- ---- comparing parameters ----------------------------------------------------------------------

-- What the platform assumes when a create call leaves a field out.
M.DEFAULTS = { MaximumPerMinute = "10000", OverwriteMode = "1", DynamicMode = "1", NeedPush = "true",
  NeedConfirm = "false", MultiModuleMode = "false", DownloadProtocol = "HTTPS" }

-- Scalars compared, and whether UpdateOTAJob can change them ("all", "dynamic" or nil: replace).
local SCALARS = {
  { "FirmwareId" }, { "GroupId" }, { "TargetSelection" }, { "GrayPercent" },
  { "MaximumPerMinute", "all" }, { "TimeoutInMinutes", "dynamic" }, { "RetryInterval" },
  { "RetryCount" }, { "OverwriteMode" }, { "DynamicMode" }, { "MultiModuleMode" }, { "NeedPush" },
  { "NeedConfirm" }, { "DownloadProtocol" },
}
-- Scalars compared only when the script sets them: the platform keeps no default for these.
local OPTIONAL = { TimeoutInMinutes = true, RetryInterval = true, RetryCount = true }

local function list_param(p, prefix)
  local out, i = {}, 1
  while p[prefix .. "." .. i] do
    out[i] = p[prefix .. "." .. i]
    i = i + 1
  end
  return out
end

local function tags_param(p)
  local out, i = {}, 1
  while p["Tag." .. i .. ".Key"] do
    out[i] = { key = p["Tag." .. i .. ".Key"], value = p["Tag." .. i .. ".Value"] or "" }
    i = i + 1
  end
  return out
end

local function set_text(list)
  local s = {}
  for i, v in ipairs(list) do s[i] = v end
  table.sort(s)
  return table.concat(s, ", ")
end

local function tags_text(tags)
  local s = {}
  for i, t in ipairs(tags) do s[i] = t.key .. "=" .. t.value end
  table.sort(s)
  return table.concat(s, ", ")
end

local function same_number_text(a, b)
  local x, y = tonumber(a), tonumber(b)
  return x ~= nil and x == y
end

-- compare(desired, current, kind) -> { { param, script, platform, how = "update"|"replace" }... }
-- desired: the flat params of the wave's create call; current: the job's flat params in the same
-- names (refresh.job_params, or what the store says otarun last sent). Fields the script leaves
-- out compare against the platform's default, or not at all when there is none.
function M.compare(desired, current, kind)
  local out = {}
  local function add(param, script, platform, how)
    out[#out + 1] = { param = param, script = script, platform = platform, how = how or "replace" }
  end
  for _, f in ipairs(SCALARS) do
    local name, upd = f[1], f[2]
    local want, have = desired[name], current[name]
    if want == nil and not OPTIONAL[name] then want = M.DEFAULTS[name] end
    if have == nil then have = M.DEFAULTS[name] end
    if name == "DynamicMode" and kind ~= "dynamic" then want = nil end
    if name == "TargetSelection" and kind ~= "static" then want = nil end
    if want ~= nil and want ~= have and not (name == "GrayPercent" and same_number_text(want, have)) then
      local how = (upd == "all" or (upd == "dynamic" and kind == "dynamic")) and "update" or "replace"
      add(name, want, have, how)
    end
  end
  local wv, hv = set_text(list_param(desired, "SrcVersion")), set_text(list_param(current, "SrcVersion"))
  if wv ~= hv then
    local how = (kind == "dynamic" and wv ~= "" and hv ~= "" and not desired.GroupId) and "update" or "replace"
    add("SrcVersion", wv, hv, how)
  end
  local wt, ht = tags_text(tags_param(desired)), tags_text(tags_param(current))
  if wt ~= ht then add("Tags", wt, ht, "update") end
  return out
end

-- Describes one change: `MaximumPerMinute: 500 (script) vs 800 (platform)`.
function M.describe(c, source)
  local function v(x) return (x == nil or x == "") and "(none)" or x end
  return string.format("%s: %s (script) vs %s (%s)", c.param, v(c.script), v(c.platform), source or "platform")
end

-- The part of a create call the platform cannot show back (QueryOTAJob has no device list):
-- apply stores this in jobs.params_fingerprint; a different value later means the devices changed.
function M.params_fingerprint(call_params)
  local names = {}
  for k in pairs(call_params) do
    if k:match("^TargetDeviceName%.") then names[#names + 1] = k end
  end
  table.sort(names)
  local parts = {}
  for i, k in ipairs(names) do parts[i] = k .. "=" .. call_params[k] end
  return "fixed1:" .. require("otarun.core.sign").sha256_hex(table.concat(parts, "\n"))
end

-- ---- calls -------------------------------------------------------------------------------------

-- The call that stops a job: a dynamic strategy is cancelled; a static job's tasks that have
-- not started are (devices already upgrading finish).
function M.cancel_call(rollout, job)
  if job.kind == "static" then
    return { action = "CancelOTATaskByJob", params = params.flatten({ JobId = job.job_id,
      IotInstanceId = rollout.instance, CancelQueuedTask = true, CancelNotifiedTask = true,
      CancelUnconfirmedTask = true, CancelScheduledTask = job.status == "PLANNED" or nil }) }
  end
  return calls.cancel_strategy(rollout, job.job_id)
end

-- UpdateOTAJob closing the differences of a running job: MaximumPerMinute always (the platform
-- requires it), every tag including the identity tag (the platform clears tags not sent), the
-- timeout and source versions of a dynamic job.
function M.update_call(rollout, job, desired, kind)
  local p = { JobId = job.job_id, IotInstanceId = rollout.instance,
    MaximumPerMinute = desired.MaximumPerMinute or M.DEFAULTS.MaximumPerMinute,
    UpgradeType = kind == "dynamic" and "DYNAMIC" or "STATIC", TargetSelection = job.target }
  local flat = params.flatten(p)
  for i, t in ipairs(tags_param(desired)) do
    flat["Tags." .. i .. ".Key"], flat["Tags." .. i .. ".Value"] = t.key, t.value
  end
  if kind == "dynamic" then
    flat.TimeoutInMinutes = desired.TimeoutInMinutes
    if not desired.GroupId then
      for i, v in ipairs(list_param(desired, "SrcVersion")) do flat["SrcVersionList." .. i] = v end
    end
  end
  return { action = "UpdateOTAJob", params = flat }
end

-- What an UpdateOTAJob reaches, per changed parameter (docs/platform-assumptions.md, "UpdateOTAJob"):
-- a new timeout only devices that join the job after the change, a new rate the devices not yet
-- notified, new source versions the devices on an added version (continuous dynamic jobs).
local REACH = {
  TimeoutInMinutes = "the new timeout applies only to devices added to the job after the change; tasks already created keep theirs",
  MaximumPerMinute = "the new rate paces devices not yet notified",
  SrcVersion = "devices on an added version join the job; tasks already created stay",
}
function M.update_reach(changes)
  local out = {}
  for _, c in ipairs(changes) do
    if REACH[c.param] then out[#out + 1] = REACH[c.param] end
  end
  if #out == 0 then return "" end
  return " (" .. table.concat(out, "; ") .. ")"
end

-- What a wave's create call sends now (for a static wave, created now).
local function desired_call(rollout, wave, now)
  if wave.kind == "static" then return calls.static_create(rollout, wave, now) end
  return calls.dynamic_create(rollout, wave)
end

-- ---- what the store says ------------------------------------------------------------------------

local CREATES = { CreateOTADynamicUpgradeJob = true, CreateOTAStaticUpgradeJob = true }
local CANCELS = { CancelOTAStrategyByJob = true, CancelOTATaskByJob = true }

local function decoded(p)
  if type(p) == "string" then
    local ok, t = pcall(require("cjson").decode, p)
    return ok and type(t) == "table" and t or nil
  end
  return type(p) == "table" and p or nil
end

-- The parameters otarun last sent for a wave's job (its create, then each UpdateOTAJob), from
-- the settled intents, in create names. -> params | nil
local function last_sent(intents, job_id)
  local cur
  for _, it in ipairs(intents or {}) do
    local p = decoded(it.params)
    if it.state == "settled" and type(p) == "table" then
      if CREATES[it.action] and (job_id == nil or it.job_id == nil or it.job_id == job_id) then
        cur = {}
        for k, v in pairs(p) do cur[k] = v end
      elseif it.action == "UpdateOTAJob" and cur and (p.JobId == nil or p.JobId == job_id) then
        for k in pairs(cur) do
          if k:match("^Tag%.") or (p["SrcVersionList.1"] and k:match("^SrcVersion%.")) then cur[k] = nil end
        end
        for k, v in pairs(p) do
          local i, part = k:match("^Tags%.(%d+)%.(%a+)$")
          local n = k:match("^SrcVersionList%.(%d+)$")
          if i then cur["Tag." .. i .. "." .. part] = v
          elseif n then cur["SrcVersion." .. n] = v
          elseif k == "MaximumPerMinute" or k == "TimeoutInMinutes" then cur[k] = v end
        end
      end
    end
  end
  return cur
end

-- Is the wave halfway through a replace? apply cancels, then creates; the cancel's intent carries
-- the identity of the create that follows (otarun.apply). A settled one for this job with no
-- settled create after it, while the wave is still running in the store, means the new job was
-- never made (the create failed, or the process died in between): the wave plans its create again.
local function replace_pending(view, wave_name, job_id)
  local row = view.waves[wave_name]
  if not row or row.state ~= "running" then return false end
  local pending = false
  for _, it in ipairs(view.intents[wave_name] or {}) do
    if it.state == "settled" then
      if CANCELS[it.action] and it.identity then
        local p = decoded(it.params)
        if p and p.JobId == job_id then pending = true end
      elseif CREATES[it.action] then
        pending = false
      end
    end
  end
  return pending
end

-- Did otarun cancel this job (a settled cancel intent of any wave of the rollout names it)?
local function cancelled_by_otarun(view, job_id)
  for _, list in pairs(view.intents) do
    for _, it in ipairs(list) do
      if CANCELS[it.action] and (it.state == "settled" or (it.state == "failed"
          and (it.result or ""):match("^already done"))) then
        local p = decoded(it.params)
        if p and p.JobId == job_id then return true end
      end
    end
  end
  return false
end

local function store_rows(state, rollout)
  local view = { waves = {}, jobs = {}, intents = {} }
  if not state then return view end
  local r = state:rollout(rollout.name)
  if r then view.waves = r.wave or {} end
  for _, j in ipairs(state:jobs(rollout.name) or {}) do view.jobs[#view.jobs + 1] = j end
  for _, it in ipairs(state:list("intents", { rollout = rollout.name }) or {}) do
    local list = view.intents[it.wave or ""]
    if not list then list = {}; view.intents[it.wave or ""] = list end
    list[#list + 1] = it
  end
  return view
end

-- ---- the diff object ------------------------------------------------------------------------

local Diff = {}
Diff.__index = Diff

-- new{ rollouts, snapshot = refresh snapshot | nil, state = otarun.state handle | nil,
--      mode = "live"|"state", now = epoch } -> diff
-- Reads what the store holds for each rollout once; matches every wave to its job.
function M.new(o)
  local d = setmetatable({ mode = o.mode or (o.snapshot and "live" or "state"), snapshot = o.snapshot,
    state = o.state, now = o.now, per = {} }, Diff)
  for _, r in ipairs(o.rollouts) do d.per[r.name] = d:match_rollout(r) end
  return d
end

-- Job ids the store recorded for these rollouts, with the rollout's IotInstanceId (or true):
-- refresh reads them even off-list.
function M.known_jobs(state, rollouts)
  local out = {}
  if not state then return out end
  for _, r in ipairs(rollouts) do
    for _, j in ipairs(state:jobs(r.name) or {}) do out[j.job_id] = r.instance or true end
    local row = state:rollout(r.name)
    for _, w in ipairs(row and row.waves or {}) do
      if w.job_id then out[w.job_id] = r.instance or true end
    end
  end
  return out
end

-- Jobs a human set aside with `otarun resume --retry` (status "retired"): their wave starts
-- again with a new job, and the old one is never taken for it again.
local function retired_jobs(view)
  local out = {}
  for _, j in ipairs(view.jobs) do
    if j.status == M.RETIRED then out[j.job_id] = true end
  end
  return out
end
M.RETIRED = "retired"

local function stored_job_id(view, wave_name, retired)
  local row = view.waves[wave_name]
  if row and row.job_id and not retired[row.job_id] then return row.job_id end
  local best
  for _, j in ipairs(view.jobs) do
    -- ordered by created_at: the newest wins
    if j.wave == wave_name and not retired[j.job_id] then best = j.job_id end
  end
  return best
end

function Diff:match_rollout(r)
  local view = store_rows(self.state, r)
  local snap = self.snapshot
  local m = { view = view, jobs = {}, wave_names = {}, replacing = {} }
  local retired = retired_jobs(view)
  for _, w in ipairs(r.waves or {}) do
    m.wave_names[w.name] = true
    local sid = stored_job_id(view, w.name, retired)
    local job
    if snap then
      local by_tag = w.identity_tag and snap.by_identity[w.identity_tag.value]
      if by_tag and retired[by_tag.job_id] then by_tag = nil end
      local by_store = sid and snap.jobs[sid]
      if by_store and by_store.missing then by_store = nil end
      if by_tag and by_store then
        job = refresh.better(by_tag, by_store) and by_tag or by_store
      else
        job = by_tag or by_store
      end
    elseif sid then
      local row = view.waves[w.name]
      job = { job_id = sid, kind = w.kind, stored_state = row and row.state, from_store = true }
    end
    m.jobs[w.name] = job
    if job and replace_pending(view, w.name, job.job_id) then m.replacing[w.name] = job end
  end
  return m
end

local LIVE_STATUS = { IN_PROGRESS = "running", PLANNED = "running", COMPLETED = "done" }

-- For otarun.plan.timeline: what a wave's job says, or nil (no job: the wave is planned).
function Diff:observed(rollout, wave)
  local m = self.per[rollout.name]
  local job = m and m.jobs[wave.name]
  if not job or m.replacing[wave.name] then return nil end
  local row = m.view.waves[wave.name]
  local started = row and row.started_at or (job.created and util.parse_time(job.created)) or nil
  local obs = { job_id = job.job_id, started_at = started, passed_at = row and row.passed_at }
  if job.from_store then
    obs.status = job.stored_state
    if obs.status == "waiting" or obs.status == "ready" then return nil end
    obs.reason = string.format("job %s is %s (recorded state)", job.job_id, obs.status)
    return obs
  end
  local status = LIVE_STATUS[job.status]
  if job.status == "CANCELED" then
    status = (row and row.state == "failed") and "failed" or "cancelled"
    if job.kind == "dynamic" and self:later_dynamic_started(rollout, wave) then status = "superseded" end
  end
  if not status then return nil end
  if status == "running" and row and (row.state == "passed" or row.state == "failed") then
    status = row.state
  end
  obs.status = status
  obs.reason = string.format("job %s is %s", job.job_id, job.status or status)
  if status == "cancelled" then
    if cancelled_by_otarun(m.view, job.job_id) then
      obs.reason = obs.reason .. " (cancelled by otarun)"
    else
      obs.reason = obs.reason .. ": cancelled outside otarun; remove the wave from the script, "
        .. "or give it a new name to create its job again"
    end
  end
  return obs
end

function Diff:later_dynamic_started(rollout, wave)
  local m, after = self.per[rollout.name], false
  for _, w in ipairs(rollout.waves) do
    if after and w.kind == "dynamic" and m.jobs[w.name] then return true end
    if w == wave then after = true end
  end
  return false
end

-- Running job vs script: the entry becomes update, replace or stays none, with drift named.
function Diff:reconcile(rollout, entry, job)
  local wave = entry.spec
  local m = self.per[rollout.name]
  local intents = m.view.intents[wave.name]
  local sent = last_sent(intents, job.job_id)
  local current = job.params
  local source = "platform"
  if self.mode == "state" then current, source = sent, "recorded state" end
  if not current then return end
  local desired = desired_call(rollout, wave, self.now)
  local changes = M.compare(desired.params, current, wave.kind)
  if job.kind and job.kind ~= wave.kind then
    table.insert(changes, 1, { param = "kind", script = wave.kind, platform = job.kind, how = "replace" })
  end
  local stored_fp
  for _, j in ipairs(m.view.jobs) do
    if j.job_id == job.job_id then stored_fp = j.params_fingerprint end
  end
  if wave.devices and type(stored_fp) == "string" and stored_fp:match("^fixed1:")
      and stored_fp ~= M.params_fingerprint(desired.params) then
    changes[#changes + 1] = { param = "TargetDeviceName", script = "(changed)", platform = "(as created)", how = "replace" }
  end
  if #changes == 0 then return end
  local replace = false
  local texts, drift = {}, {}
  for _, c in ipairs(changes) do
    replace = replace or c.how == "replace"
    -- drift: the platform holds a value other than the one otarun last sent (known from the
    -- store's intent journal; without a record a difference is only a difference)
    if self.mode == "live" and sent and c.param ~= "kind" then
      local was = c.param == "SrcVersion" and set_text(list_param(sent, "SrcVersion"))
        or c.param == "Tags" and tags_text(tags_param(sent)) or sent[c.param] or M.DEFAULTS[c.param]
      if was ~= c.platform then
        c.drift = true
        drift[#drift + 1] = c
      end
    end
    texts[#texts + 1] = (c.drift and "drift " or "") .. M.describe(c, source)
  end
  entry.changes, entry.drift = changes, (#drift > 0) and drift or nil
  local closes
  if replace then
    entry.action = "replace"
    entry.calls = { M.cancel_call(rollout, job), desired }
    closes = "the platform cannot change this in place: cancel, then create again"
  else
    entry.action = "update"
    entry.calls = { M.update_call(rollout, job, desired.params, wave.kind) }
    closes = "UpdateOTAJob changes it in place" .. M.update_reach(changes)
  end
  entry.reason = string.format("%s%s; %s", entry.drift and "changed outside otarun: " or "",
    table.concat(texts, "; "), closes)
end

-- Jobs of waves that are no longer in the script but still run: -> entries (action cancel).
function Diff:removed(rollout)
  local m, out, seen = self.per[rollout.name], {}, {}
  local function add(wave_name, job)
    if seen[job.job_id] or m.wave_names[wave_name] then return end
    -- a static job whose pending tasks otarun cancelled runs on while started devices finish:
    -- there is nothing more to cancel
    if job.kind == "static" and cancelled_by_otarun(m.view, job.job_id) then return end
    seen[job.job_id] = true
    out[#out + 1] = { name = wave_name, kind = job.kind, status = "running", action = "cancel",
      job_id = job.job_id, removed = true, calls = { M.cancel_call(rollout, job) },
      reason = string.format("wave %q was removed from the script; its job %s still runs", wave_name, job.job_id) }
  end
  local snap = self.snapshot
  if snap then
    local fw = rollout.firmware and rollout.firmware.id
    for _, job in ipairs(snap.by_firmware[fw] or {}) do
      local ro, wv = refresh.split_identity(job.identity)
      if ro == rollout.name and refresh.RUNNING[job.status] then add(wv, job) end
    end
    for _, j in ipairs(m.view.jobs) do
      local job = snap.jobs[j.job_id]
      if job and not job.missing and refresh.RUNNING[job.status] then add(j.wave, job) end
    end
  else
    for name, row in pairs(m.view.waves) do
      if row.state == "running" and row.job_id then
        add(name, { job_id = row.job_id, kind = row.kind, status = "IN_PROGRESS" })
      end
    end
  end
  return util.sort_by(out, "name")
end

-- For otarun.plan: the timeline's entries of one rollout -> the final entries.
function Diff:finish(rollout, entries)
  local m = self.per[rollout.name]
  for _, e in ipairs(entries) do
    local job = m.jobs[e.name]
    local old = m.replacing[e.name]
    if old and not e.removed then
      e.replaced_job = old.job_id
      e.reason = string.format("job %s was cancelled to replace it, but its new job was never created; %s",
        old.job_id, e.reason or "")
    end
    if job and not job.from_store and e.status == "cancelled" then
      e.cancelled_outside = not cancelled_by_otarun(m.view, job.job_id)
    end
    if job and not old and e.status == "running" and e.action == "none" then
      if self.mode == "live" or job.from_store then self:reconcile(rollout, e, job) end
    end
    -- the planner supersedes "the previous dynamic wave" by name; with the platform known, keep
    -- the cancellation only when that job still runs
    if e.calls and e.calls[1] and e.calls[1].action == "CancelOTAStrategyByJob" and e.action == "create" then
      local prev = e.calls[1].params.JobId
      local pjob = self.snapshot and self.snapshot.jobs[prev]
      if pjob and not refresh.RUNNING[pjob.status] then
        table.remove(e.calls, 1)
        e.reason = e.reason:gsub(";%s*cancels the dynamic strategy of wave .-%b()%s*first", "")
      end
    end
  end
  local removed = self:removed(rollout)
  if #removed == 0 then return entries end
  local out = {}
  for _, e in ipairs(removed) do out[#out + 1] = e end
  for _, e in ipairs(entries) do out[#out + 1] = e end
  return out
end

-- True when the store recorded job for this rollout (for otarun.plan.platform_checks).
function Diff:owns(rollout, job)
  local m = self.per[rollout.name]
  for _, j in ipairs(m and m.view.jobs or {}) do
    if j.job_id == job.job_id then return true end
  end
  return false
end

-- The fingerprint apply compares (state:fingerprint of the plan's rollouts), or nil.
function Diff:fingerprint(rollouts)
  if not self.state then return nil end
  local names = {}
  for i, r in ipairs(rollouts) do names[i] = r.name end
  return self.state:fingerprint(names)
end

return M
