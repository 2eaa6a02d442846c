-- One device of a rollout: `otarun abort FILE --device NAME` cancels its pending task of the
-- rollout's firmware (CancelOTATaskByDevice, through the intent journal; with --wave only in that
-- wave's job) without halting anything; `otarun status FILE --device NAME` shows where the device
-- is in the rollout: its unfinished task (ListOTAUnfinishedTaskByDevice) and the firmware's jobs
-- that gave it a task (ListOTAJobByDevice), each named by its wave. docs/commands-ota.md.
-- Uses otarun.cli.command, otarun.failure, otarun.journal, otarun.plan.refresh (identity tags), otarun.json.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local journal = require("otarun.journal")
local refresh = require("otarun.plan.refresh")

local M = {}

M.JOB_PAGE = 100          -- ListOTAJobByDevice PageSize at most 100
M.MAX_JOB_PAGES = 20

-- The wave a job belongs to: its identity tag, else what the store recorded. -> "rollout/wave" | nil
local function wave_of(job, known)
  for _, t in ipairs(type(job.Tags) == "table" and job.Tags.OtaTagDTO or {}) do
    if t.Key == refresh.IDENTITY_KEY then return t.Value end
  end
  return known[job.JobId]
end

-- { [job_id] = "rollout/wave" } of the jobs the store recorded for rollout r.
local function recorded_jobs(st, r)
  local out = {}
  for _, j in ipairs(st and st:jobs(r.name) or {}) do out[j.job_id] = r.name .. "/" .. tostring(j.wave) end
  return out
end

-- abort(opts, files) for `otarun abort FILE --device NAME [--wave W] [--rollout R] [--reason]`.
function M.abort(opts, files)
  if #files ~= 1 then failure.raise("usage", "abort needs exactly one FILE") end
  local ctx, rollouts = command.load(files, opts)
  local r, w, job_id
  if opts.wave then r, w = command.pick_wave(rollouts, opts.rollout, opts.wave)
  else r = command.pick_rollout(rollouts, opts.rollout) end
  local st = command.open_state(opts, "abort", { r }, opts.now and ctx.now)
  command.lock_rollouts(st, { r.name }, command.lock_timeout(opts), "abort")
  if w then
    local row = (st:rollout(r.name) or { wave = {} }).wave[w.name]
    job_id = row and row.job_id
    if not job_id then
      st:close()
      failure.raise("error", "wave %q of rollout %q has no job yet: device %s has no task in it", w.name, r.name, opts.device)
    end
  end
  local client = command.client(opts, r.region)
  local why = opts.reason or "(no reason given)"
  assert(st:audit{ kind = "abort", rollout = r.name, wave = w and w.name, action = "device " .. opts.device, result = why })
  local res, err = journal.send(st, client, { rollout = r.name, wave = w and w.name, action = "CancelOTATaskByDevice",
    params = { ProductKey = r.product, FirmwareId = r.firmware.id, DeviceName = { opts.device }, JobId = job_id,
      IotInstanceId = r.instance } },
      { settle = function() return { job_id = job_id } end })
  st:close()
  if not res then failure.raise("error", "CancelOTATaskByDevice for device %s: %s", opts.device, tostring(err.message or err)) end
  io.stdout:write(string.format("%s: device %s: its pending task of firmware %s%s cancelled (a device already "
    .. "upgrading finishes)\n", r.name, opts.device, r.firmware.id, job_id and (" in job " .. job_id) or ""))
  return 0
end

-- The device's place in rollout r. -> doc | nil, err
function M.collect(client, st, r, device)
  local doc = { rollout = r.name, product = r.product, firmware = r.firmware.id, device = device, jobs = {} }
  local known = recorded_jobs(st, r)
  local res, err = client:call("ListOTAUnfinishedTaskByDevice", { ProductKey = r.product, DeviceName = device,
    IotInstanceId = r.instance })
  if not res then return nil, err end
  local list = type(res.Data) == "table" and res.Data.SimpleOTATaskInfo or {}
  for _, t in ipairs(list) do
    if t.FirmwareId == nil or t.FirmwareId == r.firmware.id then
      doc.pending = { task_id = t.TaskId, job_id = t.JobId, status = t.TaskStatus, src_version = t.SrcVersion,
        dest_version = t.DestVersion, modified = t.UtcModified }
    elseif not doc.other then
      doc.other = { task_id = t.TaskId, job_id = t.JobId, status = t.TaskStatus, firmware = t.FirmwareId }
    end
  end
  for page = 1, M.MAX_JOB_PAGES do
    local jr, jerr = client:call("ListOTAJobByDevice", { FirmwareId = r.firmware.id, ProductKey = r.product,
      DeviceName = device, CurrentPage = page, PageSize = M.JOB_PAGE, IotInstanceId = r.instance })
    if not jr then return nil, jerr end
    local jobs = type(jr.Data) == "table" and jr.Data.SimpleOTAJobInfo or {}
    for _, j in ipairs(jobs) do
      doc.jobs[#doc.jobs + 1] = { job_id = j.JobId, status = j.JobStatus, selection = j.SelectionType,
        target = j.TargetSelection, created = j.UtcCreate, wave = wave_of(j, known) }
    end
    if #jobs < M.JOB_PAGE or #doc.jobs >= (tonumber(jr.Total) or 0) then break end
  end
  if doc.pending then
    for _, j in ipairs(doc.jobs) do
      if j.job_id == doc.pending.job_id then doc.pending.wave = j.wave end
    end
  end
  return doc
end

local function text(doc)
  local out = { string.format("device %s  (rollout %s, product %s, firmware %s)", doc.device, doc.rollout,
    tostring(doc.product), tostring(doc.firmware)) }
  local p = doc.pending
  if p then
    out[#out + 1] = string.format("  pending: task %s %s in job %s%s, %s -> %s", tostring(p.task_id), tostring(p.status),
      tostring(p.job_id), p.wave and (" (wave " .. p.wave .. ")") or "", tostring(p.src_version), tostring(p.dest_version))
  else
    out[#out + 1] = "  pending: no unfinished task of this firmware"
  end
  if doc.other then
    out[#out + 1] = string.format("  busy: task %s %s in job %s of firmware %s (a new task for this device fails until it ends)",
      tostring(doc.other.task_id), tostring(doc.other.status), tostring(doc.other.job_id), tostring(doc.other.firmware))
  end
  if #doc.jobs == 0 then out[#out + 1] = "  jobs: none of this firmware gave the device a task" end
  for _, j in ipairs(doc.jobs) do
    out[#out + 1] = string.format("  job %s  %s %s%s%s", tostring(j.job_id), tostring(j.selection), tostring(j.status),
      j.target and ("  " .. j.target) or "", j.wave and ("  wave " .. j.wave) or "  (not a job of otarun)")
  end
  return table.concat(out, "\n") .. "\n"
end

-- status(opts, files) for `otarun status FILE --device NAME [--rollout R] [--format json]`. Reads only.
function M.status(opts, files)
  if #files == 0 then failure.raise("usage", "status needs at least one FILE") end
  if opts.offline then failure.raise("usage", "--device reads the device's tasks from the platform; it cannot be --offline") end
  local format = command.line_format(opts)
  local _, rollouts = command.load(files, opts)
  local r = command.pick_rollout(rollouts, opts.rollout)
  local st
  local state = require("otarun.state")
  local path = state.resolve(opts)
  local fh = io.open(path, "rb")
  if fh then
    fh:close()
    st = state.open{ state = opts.state, readonly = true }
  end
  local client = command.client(opts, r.region)
  local doc, err = M.collect(client, st, r, opts.device)
  if st then st:close() end
  if not doc then failure.raise("error", "reading device %s: %s", opts.device, tostring(err)) end
  if format == "json" then
    local json = require("otarun.json")
    json.array(doc.jobs)
    io.stdout:write(json.encode(doc, { indent = "  " }), "\n")
  else
    io.stdout:write(text(doc))
  end
  return 0
end

return M
