-- otarun status FILE...: per wave, the state the store recorded and its job; when
-- the platform is reachable, the job's status and its devices counted by task status (one
-- ListOTATaskByJob per status with PageSize=1, reading Total: the cost does not grow with the
-- fleet); and what happens next (the plan's status, reason and earliest start). Text or JSON.
-- Reads only: never takes the lock, never changes the store or the platform. With --device, one
-- device's place in the rollout (otarun.cmd.device_task).
-- Uses: otarun.cli.command, otarun.platform.clients (the client cache), otarun.plan.pipeline, otarun.state,
-- otarun.platform.credentials, otarun.json, otarun.util.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local clients = require("otarun.platform.clients")
local pipeline = require("otarun.plan.pipeline")
local util = require("otarun.util")

local M = {}

M.OPTIONS = { ["--device"] = "string", ["--rollout"] = "string" }
M.TASK_STATUSES = { "CONFIRM", "QUEUED", "NOTIFIED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELED" }

M.HELP = [[
usage: otarun status [OPTIONS] FILE...
       otarun status FILE --device NAME [--rollout NAME] [--format text|json]

Shows each wave's state from the state store, its job, and, when the platform answers, the
job's status and its devices by task status; then what happens next and when.

options:
  --format text|json    output format (text)
  --state PATH          state store (.otarun/state.db; also OTARUN_STATE)
  --endpoint URL, --region REGION, --profile P   where and as whom to read the platform
  --offline             only the store: do not contact the platform
  --device NAME         where this device is in the rollout: its unfinished task and the jobs
                        that gave it a task (docs/commands-ota.md)
  --rollout NAME        with --device: the rollout, when FILE declares several
  --now TIME, --var NAME=VALUE, --no-color

exit: 0 shown, 1 error (also: the platform could not be read or refused the key; the store's view
      is still shown), 3 invalid script, 64 usage error
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
  local creds, err = require("otarun.platform.credentials").load{ profile = opts.profile }
  if not creds then return nil, err end
  -- status only reads: give up quickly on a platform that does not answer
  return (clients.cache{ creds = creds, endpoint = clients.endpoint(opts), opts = opts,
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

-- The gate of a started wave against its thresholds (otarun.run.gate.describe): the fresh counts when
-- the platform answered, else the last reading recorded by `otarun run`, with its verdict.
function M.gate_view(st, r, w, ws, devices, now)
  local g = w.spec and w.spec.gate
  if not (g and st and ws and ws.started_at) then return nil end
  local gate = require("otarun.run.gate")
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

-- Is this error the platform refusing the key (wrong secret, unknown or disabled key, expired
-- token, no permission), rather than a fact about what was asked for?
function M.key_refused(err)
  local code = type(err) == "table" and err.code or ""
  return (code:match("AccessKey") or code:match("Signature") or code:match("Forbidden")
    or code:match("Permission") or code:match("SecurityToken") or code:match("InvalidToken")) and true or false
end

-- One read to learn whether the platform answers and accepts the key, before anything is shown
-- as read from it. -> "reachable" | "unreachable: …" | "refused: …", ok
local function probe(plan, client_for)
  local r = plan.rollouts[1]
  local client = r and client_for(r)
  if not client then return "reachable", true end
  local _, err = client:call("QueryOTAFirmware", { FirmwareId = r.firmware and r.firmware.id or "-",
    IotInstanceId = r.instance })
  if not err or err.kind == "business" and not M.key_refused(err) then return "reachable", true end
  if M.key_refused(err) then
    return "refused: the platform refused the access key (" .. tostring(err) .. "); check "
      .. "ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET, or --profile", false
  end
  return "unreachable: " .. tostring(err), false
end

-- The status document: { store, platform, rollouts = { { name, ..., waves = { ... } } } }
local function collect(plan, st, client_for, why)
  local doc = { rollouts = {}, platform = why }
  local unreachable
  local has_job = false
  for _, r in ipairs(plan.rollouts) do
    local row = st and st:rollout(r.name) or nil
    for _, w in ipairs(r.waves) do
      if (row and row.wave[w.name] and row.wave[w.name].job_id) or w.job_id then has_job = true end
    end
  end
  if client_for then
    -- a job's QueryOTAJob tells as much; without any job, one read of the firmware
    doc.platform = "reachable"
    if not has_job then
      local ok
      doc.platform, ok = probe(plan, client_for)
      if not ok then
        unreachable = true
        doc.platform_failed = true
      end
    end
  end
  for _, r in ipairs(plan.rollouts) do
    local row = st and st:rollout(r.name) or nil
    local out = { name = r.name, product = r.product, region = r.region, file = r.file,
      firmware = r.firmware and r.firmware.id, version = r.firmware and r.firmware.version,
      halted = row and row.halted or false, halt_reason = row and row.halt_reason, waves = {} }
    for _, w in ipairs(r.waves) do
      local ws = row and row.wave[w.name]
      local wave = { name = w.name, kind = w.kind, state = ws and ws.state or "not recorded",
        job_id = ws and ws.job_id or w.job_id, started_at = ws and ws.started_at,
        next = { status = w.status, action = w.action, reason = w.reason, earliest_start = w.earliest_start,
                 waiting_for = require("otarun.render.json").waits(w) } }
      local client = wave.job_id and client_for and not unreachable and client_for(r)
      if client then
        local res, err = client:call("QueryOTAJob", { JobId = wave.job_id, IotInstanceId = r.instance })
        if res then
          wave.job_status = type(res.Data) == "table" and res.Data.JobStatus or nil
          wave.devices, err = M.device_counts(client, wave.job_id, r.instance)
        end
        if err then
          wave.platform_error = tostring(err)
          if err.kind == "transport" or M.key_refused(err) then
            unreachable = true
            doc.platform_failed = true
            doc.platform = (err.kind == "transport" and "unreachable: " or "refused: ") .. tostring(err)
          end
        end
      end
      wave.gate = M.gate_view(st, r, w, ws, wave.devices, plan.now)
      out.waves[#out.waves + 1] = wave
    end
    out.moves = M.moves(r, out)
    doc.rollouts[#doc.rollouts + 1] = out
  end
  return doc
end

-- The commands that move a halted or aborted rollout on, for the human on call:
-- { { command =, does = }... } (empty when nothing waits for a human decision).
function M.moves(r, out)
  local file, moves = r.file or "FILE", {}
  local function add(cmd, does) moves[#moves + 1] = { command = cmd, does = does } end
  local stopped = false
  for _, w in ipairs(out.waves) do
    if w.state == "failed" or w.state == "cancelled" then
      stopped = true
      add(string.format('otarun resume %s --retry %s --reason "..."', file, w.name),
        string.format("start %s again with a new job", w.name))
      add(string.format('otarun resume %s --skip %s --reason "..."', file, w.name),
        string.format("accept %s as passed and go on", w.name))
    end
  end
  if out.halted and not stopped then
    add(string.format('otarun resume %s --reason "..."', file), "clear the halt and go on")
  end
  if #moves > 0 then
    add(string.format('otarun abort %s --reason "..."', file), "stop the whole rollout")
  end
  return moves
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
    if #r.moves > 0 then
      out[#out + 1] = "  to move on, one of:"
      for _, m in ipairs(r.moves) do out[#out + 1] = string.format("    %-62s %s", m.command, m.does) end
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
    json.array(r.moves)
    for _, w in ipairs(r.waves) do
      w.job_id, w.job_status = w.job_id or json.null, w.job_status or json.null
      w.devices = w.devices or json.null
      w.started_at = w.started_at and util.format_time(w.started_at, 0) or json.null
      w.next.earliest_start = w.next.earliest_start and util.format_time(w.next.earliest_start, offset) or json.null
      w.next.reason = w.next.reason or json.null
      -- typed wait conditions (docs/json.md, "Wait conditions"), as in the plan
      w.next.waiting_for = require("otarun.render.json").conditions(w.next.waiting_for, offset)
      if w.gate and w.gate.read_at then w.gate.read_at = util.format_time(w.gate.read_at, offset) end
    end
  end
  json.array(doc.rollouts)
  doc.format_version = "1.0" -- docs/schema/status.schema.json
  return json.encode(doc, { indent = "  " }) .. "\n"
end

function M.main(argv)
  local opts, files = command.parse(argv, M, "some")
  if opts.device then return require("otarun.cmd.device_task").status(opts, files) end
  local ctx = pipeline.context(opts)
  if ctx.format == "markdown" then failure.raise("usage", "--format for status must be text or json") end
  local st, path, serr = open_store(opts)
  if serr then failure.raise("error", "%s", serr) end
  ctx.mode, ctx.state = "state", st -- the diff against the recorded state (otarun.plan.diff)
  local res, err = pipeline.plan(files, ctx)
  if not res then
    if st then st:close() end
    failure.raise("error", "%s", err)
  end
  if not res.ok then
    io.stdout:write(pipeline.render_diagnostics(res, ctx))
    if st then st:close() end
    failure.exit("invalid")
  end
  local client_for, why = platform(opts)
  local doc = collect(res.plan, st, client_for, why)
  doc.store = st and path or (path .. " (not created yet: nothing applied)")
  if st then st:close() end
  local failed = doc.platform_failed
  doc.platform_failed = nil
  if ctx.format == "json" then io.stdout:write(render_json(doc, ctx.offset))
  else io.stdout:write(render_text(doc, ctx.offset)) end
  if failed then
    io.stderr:write("otarun status: the platform could not be read (", doc.platform, "); what is shown "
      .. "comes from the state store\n")
    return 1
  end
  return 0
end

return M
