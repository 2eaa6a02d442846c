-- otarun status FILE... (SPEC §1, §3): per wave, the state the store recorded and its job; when
-- the platform is reachable, the job's status and its devices counted by task status (one
-- ListOTATaskByJob per status with PageSize=1, reading Total: the cost does not grow with the
-- fleet); and what happens next (the plan's status, reason and earliest start). Text or JSON.
-- Reads only: never takes the lock, never changes the store or the platform.
-- Uses: otarun.args, otarun.control (the client cache), otarun.pipeline, otarun.state,
-- otarun.credentials, otarun.json, otarun.util.
local args = require("otarun.args")
local control = require("otarun.control")
local pipeline = require("otarun.pipeline")
local util = require("otarun.util")

local M = {}

M.OPTIONS = {}
M.TASK_STATUSES = { "CONFIRM", "QUEUED", "NOTIFIED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELED" }

M.HELP = [[
usage: otarun status [OPTIONS] FILE...

Shows each wave's state from the state store, its job, and, when the platform answers, the
job's status and its devices by task status; then what happens next and when.

options:
  --format text|json    output format (text)
  --state PATH          state store (.otarun/state.db; also OTARUN_STATE)
  --endpoint URL, --region REGION, --profile P   where and as whom to read the platform
  --offline             only the store: do not contact the platform
  --now TIME, --var NAME=VALUE, --no-color

exit: 0 shown, 1 error, 3 invalid script, 64 usage error
]]

-- The devices of a job by task status. -> { QUEUED = n, ..., total = n } | nil, err
function M.device_counts(client, job_id, instance)
  local counts, total = {}, 0
  for _, s in ipairs(M.TASK_STATUSES) do
    local res, err = client:call("ListOTATaskByJob", { JobId = job_id, TaskStatus = s, PageSize = "1",
      CurrentPage = "1", IotInstanceId = instance })
    if not res then return nil, err end
    local n = math.tointeger(tonumber(res.Total) or 0) or 0
    counts[s] = n
    total = total + n
  end
  counts.total = total
  return counts
end

-- A client when credentials exist and --offline is not set. -> client_for | nil, why
local function platform(opts)
  if opts.offline then return nil, "offline" end
  local creds, err = require("otarun.credentials").load{ profile = opts.profile }
  if not creds then return nil, err end
  -- status only reads: give up quickly on a platform that does not answer
  return (control.client_cache{ creds = creds, endpoint = control.endpoint(opts), opts = opts,
    new = { retries = { max = 1 }, timeouts = { connect = 3, request = 10 } } })
end

local function open_store(opts)
  local state = require("otarun.state")
  local path = state.resolve(opts)
  if state.is_url(path) then path = state.redact(path) else
    local fh = io.open(path, "rb")
    if not fh then return nil, path end
    fh:close()
  end
  local st, err, code = state.open{ state = opts.state, readonly = true }
  if not st and code == "notfound" then return nil, path end -- a database with no state yet
  if not st then return nil, path, err end
  return st, path
end

-- The gate of a started wave against its thresholds (otarun.gate.describe): the fresh counts when
-- the platform answered, else the last reading recorded by `otarun run`, with its verdict.
function M.gate_view(st, r, w, ws, devices, now)
  local g = w.spec and w.spec.gate
  if not (g and st and ws and ws.started_at) then return nil end
  local gate = require("otarun.gate")
  local readings = st:gate_readings(r.name, w.name) or {}
  local last = readings[#readings]
  local reading = last
  if devices then
    reading = { counts = gate.from_platform(devices), at = now, verdict = last and last.verdict,
                reason = last and last.reason }
  end
  local text = gate.describe(reading, g, { now = now, started_at = ws.started_at })
  return { text = text, verdict = last and last.verdict, reason = last and last.reason,
           read_at = last and last.at }
end

-- The status document: { store, platform, rollouts = { { name, ..., waves = { ... } } } }
local function collect(plan, st, client_for, why)
  local doc = { rollouts = {}, platform = client_for and "reachable" or why }
  local unreachable
  for _, r in ipairs(plan.rollouts) do
    local row = st and st:rollout(r.name) or nil
    local out = { name = r.name, product = r.product, region = r.region, file = r.file,
      firmware = r.firmware and r.firmware.id, version = r.firmware and r.firmware.version,
      halted = row and row.halted or false, halt_reason = row and row.halt_reason, waves = {} }
    for _, w in ipairs(r.waves) do
      local ws = row and row.wave[w.name]
      local wave = { name = w.name, kind = w.kind, state = ws and ws.state or "not recorded",
        job_id = ws and ws.job_id or w.job_id, started_at = ws and ws.started_at,
        next = { status = w.status, action = w.action, reason = w.reason, earliest_start = w.earliest_start } }
      local client = wave.job_id and client_for and not unreachable and client_for(r)
      if client then
        local res, err = client:call("QueryOTAJob", { JobId = wave.job_id, IotInstanceId = r.instance })
        if res then
          wave.job_status = type(res.Data) == "table" and res.Data.JobStatus or nil
          wave.devices, err = M.device_counts(client, wave.job_id, r.instance)
        end
        if err then
          wave.platform_error = tostring(err)
          if err.kind == "transport" then
            unreachable = true
            doc.platform = "unreachable: " .. tostring(err)
          end
        end
      end
      wave.gate = M.gate_view(st, r, w, ws, wave.devices, plan.now)
      out.waves[#out.waves + 1] = wave
    end
    doc.rollouts[#doc.rollouts + 1] = out
  end
  return doc
end

local function device_text(d)
  if not d then return nil end
  local parts = {}
  for _, s in ipairs(M.TASK_STATUSES) do
    if d[s] and d[s] > 0 then parts[#parts + 1] = string.format("%d %s", d[s], s:lower():gsub("_", " ")) end
  end
  return string.format("%d devices%s", d.total, #parts > 0 and (": " .. table.concat(parts, ", ")) or "")
end

local function render_text(doc, offset)
  local out = {}
  for _, r in ipairs(doc.rollouts) do
    out[#out + 1] = string.format("rollout %s  (firmware %s%s, product %s, region %s)%s", r.name,
      tostring(r.firmware), r.version and (" " .. r.version) or "", tostring(r.product), tostring(r.region),
      r.halted and ("  HALTED: " .. tostring(r.halt_reason)) or "")
    for _, w in ipairs(r.waves) do
      local line = string.format("  %-14s %-12s", w.name, w.state)
      if w.job_id then line = line .. "  job " .. w.job_id end
      if w.job_status then line = line .. "  " .. w.job_status end
      out[#out + 1] = (line:gsub("%s+$", ""))
      local dev = device_text(w.devices)
      if dev then out[#out + 1] = "      " .. dev end
      if w.platform_error then out[#out + 1] = "      platform: " .. w.platform_error end
      if w.gate then out[#out + 1] = "      " .. w.gate.text end
      local n = w.next
      if n.action ~= "none" then
        local when = n.earliest_start and n.status == "waiting"
          and (" (earliest " .. util.format_time(n.earliest_start, offset) .. ")") or ""
        out[#out + 1] = string.format("      next: %s%s", n.action == "create" and ("create now: " .. n.reason)
          or (n.reason or n.action), when)
      end
    end
    out[#out + 1] = ""
  end
  out[#out + 1] = "platform: " .. tostring(doc.platform)
  out[#out + 1] = "state: " .. tostring(doc.store)
  return table.concat(out, "\n") .. "\n"
end

local function render_json(doc, offset)
  local json = require("otarun.json")
  for _, r in ipairs(doc.rollouts) do
    r.halt_reason = r.halt_reason or json.null
    json.array(r.waves)
    for _, w in ipairs(r.waves) do
      w.job_id, w.job_status = w.job_id or json.null, w.job_status or json.null
      w.devices = w.devices or json.null
      w.started_at = w.started_at and util.format_time(w.started_at, 0) or json.null
      w.next.earliest_start = w.next.earliest_start and util.format_time(w.next.earliest_start, offset) or json.null
      w.next.reason = w.next.reason or json.null
      if w.gate and w.gate.read_at then w.gate.read_at = util.format_time(w.gate.read_at, offset) end
    end
  end
  json.array(doc.rollouts)
  return json.encode(doc, { indent = "  " }) .. "\n"
end

function M.main(argv)
  local opts, files = control.parse(argv, M)
  if not opts then return 0 end
  if #files == 0 then args.usage_error("status needs at least one FILE") end
  local ctx = pipeline.context(opts)
  if ctx.format == "markdown" then args.usage_error("--format for status must be text or json") end
  local st, path, serr = open_store(opts)
  if serr then
    io.stderr:write("otarun status: ", serr, "\n")
    return 1
  end
  ctx.mode, ctx.state = "state", st -- the diff against the recorded state (otarun.diff)
  local res, err = pipeline.plan(files, ctx)
  if not res then
    io.stderr:write("otarun status: ", err, "\n")
    if st then st:close() end
    return 1
  end
  if not res.ok then
    io.stdout:write(pipeline.render_diagnostics(res, ctx))
    if st then st:close() end
    return 3
  end
  local client_for, why = platform(opts)
  local doc = collect(res.plan, st, client_for, why)
  doc.store = st and path or (path .. " (not created yet: nothing applied)")
  if st then st:close() end
  if ctx.format == "json" then io.stdout:write(render_json(doc, ctx.offset))
  else io.stdout:write(render_text(doc, ctx.offset)) end
  return 0
end

return M
