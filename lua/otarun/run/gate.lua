-- Health gates: reading a wave's device counts from the platform, judging them against
-- the wave's gate, and describing a reading against its thresholds for `status`.
--
-- Reading costs one ListOTATaskByJob per task status (TaskStatus filter, PageSize=1, its Total):
-- seven calls per gate whatever the fleet size, paced by the client's limiter (10/s).
-- Judging is pure (counts -> verdict), so it is tested without a platform.
--
-- Counts are devices (one task per device per job), never attempts. `finished` is succeeded +
-- failed: a cancelled task says nothing about the firmware (an operator or a later wave stopped
-- it), so it is reported but neither helps nor hurts a gate. A task that failed and waits for an
-- automatic retry is FAILED on the platform until the retry, and counts as failed meanwhile.
--
-- Rules: the gate trips as soon as failed > max_failed, or (once at least min_devices finished;
-- from the first finished device when min_devices is not set) failed / finished > max_failed_ratio
-- or succeeded / finished < min_success, or `check` says "fail" (or raises: a failure with its
-- message, never a crash). It passes when soak has elapsed since the job started, at least
-- min_devices finished, every threshold holds and `check` (if any) says "pass". Otherwise: wait.
-- Uses otarun.lang.sandbox (check functions run under budgets).
local util = require("otarun.util")

local M = {}

-- Wire spelling -> key in a counts table.
M.STATUSES = {
  { "CONFIRM", "confirm" }, { "QUEUED", "queued" }, { "NOTIFIED", "notified" },
  { "IN_PROGRESS", "in_progress" }, { "SUCCEEDED", "succeeded" }, { "FAILED", "failed" },
  { "CANCELED", "cancelled" },
}
M.CALLS_PER_READING = #M.STATUSES

-- Budgets for one call of a gate's check function: checks are small and run every tick.
M.CHECK_LIMITS = { memory = 16 * 1024 * 1024, instructions = 10000000 }
-- How many earlier readings a check function is given (newest last).
M.HISTORY = 200

-- Fills the derived fields of a counts table (in place) and returns it.
function M.derive(c)
  local total = 0
  for _, s in ipairs(M.STATUSES) do
    c[s[2]] = c[s[2]] or 0
    total = total + c[s[2]]
  end
  c.total = total
  c.finished = c.succeeded + c.failed
  c.pending = c.confirm + c.queued + c.notified + c.in_progress
  return c
end

-- read(client, job_id, { instance = IotInstanceId }) -> counts, calls | nil, err, calls
-- counts = { confirm, queued, notified, in_progress, succeeded, failed, cancelled, total,
--            finished, pending }
function M.read(client, job_id, opts)
  opts = opts or {}
  local c, calls = {}, 0
  for _, s in ipairs(M.STATUSES) do
    local res, err = client:call("ListOTATaskByJob", { JobId = job_id, TaskStatus = s[1],
      PageSize = 1, CurrentPage = 1, IotInstanceId = opts.instance })
    calls = calls + 1
    if not res then return nil, err, calls end
    local total = tonumber(res.Total)
    if not total then
      return nil, string.format("ListOTATaskByJob for job %s (%s) answered without a Total", job_id, s[1]), calls
    end
    c[s[2]] = math.tointeger(total) or total
  end
  return M.derive(c), calls
end

-- Counts keyed by the wire spelling ({ SUCCEEDED = n, ... }, as `status` reads them) -> counts.
function M.from_platform(t)
  local c = {}
  for _, s in ipairs(M.STATUSES) do c[s[2]] = t[s[1]] or 0 end
  return M.derive(c)
end

local function pct(x)
  local s = string.format("%.2f", x * 100):gsub("0+$", ""):gsub("%.$", "")
  return s .. "%"
end
M.pct = pct

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = type(v) == "table" and copy(v) or v end
  return out
end

-- Runs the gate's check function in the sandbox. -> "pass"|"wait"|"fail", reason
local function run_check(fn, counts, ctx)
  local sandbox = require("otarun.lang.sandbox")
  local history = {}
  for i, h in ipairs(ctx.history or {}) do
    history[i] = { at = h.at, verdict = h.verdict, reason = h.reason, counts = copy(h.counts or {}) }
  end
  local info = { now = ctx.now, started_at = ctx.started_at,
                 elapsed = ctx.started_at and ctx.now and (ctx.now - ctx.started_at) or nil,
                 rollout = ctx.rollout, wave = ctx.wave }
  -- What the check returns is turned into plain strings inside the budgets: a __tostring or
  -- __eq of the script's must not run in the host (docs/sandbox.md).
  -- on success: true, verdict, reason, shown; on failure: false, message, traceback, kind
  local ok, verdict, reason, shown = sandbox.run(function(...)
    local v, r = fn(...)
    local text = type(v) == "string" and string.format("%q", v) or type(v)
    if type(v) ~= "string" then v = nil end
    if r ~= nil and type(r) ~= "string" then r = tostring(r) end
    if type(r) ~= "string" then r = nil end
    return v, r, text
  end, ctx.check_limits or M.CHECK_LIMITS, copy(counts), history, info)
  -- the check's words reach logs, the store and terminals: control characters shown as \xNN
  local function plain(v)
    return v and (tostring(v):gsub("[%c\127]", function(ch) return string.format("\\x%02x", ch:byte()) end))
  end
  verdict, reason = type(verdict) == "string" and verdict or nil, plain(reason)
  if not ok then verdict = plain(verdict) else shown = plain(shown) end
  if not ok and shown == "interrupted" then -- `run` is stopping: no verdict, so no action
    return "wait", "the check was " .. tostring(verdict):gsub("^.-: ", "")
  end
  if not ok then
    return "fail", "gate check raised an error: " .. tostring(verdict)
  end
  if verdict ~= "pass" and verdict ~= "wait" and verdict ~= "fail" then
    return "fail", string.format("gate check returned %s; it must return \"pass\", \"wait\" or \"fail\" and a reason",
      shown)
  end
  return verdict, reason
end

-- evaluate(counts, gate, ctx) -> verdict ("pass"|"wait"|"fail"), reason, checks
-- gate: the normalised wave's gate (nil: no gate, passes at once).
-- ctx: now, started_at (job start, epoch), history (earlier readings, oldest first), rollout, wave,
--      check_limits. checks: the list of { name, value, limit, ok, text } describe() prints.
function M.evaluate(counts, gate, ctx)
  ctx = ctx or {}
  counts = M.derive(copy(counts))
  if not gate then return "pass", "no gate", {} end
  local fails, waits, checks = {}, {}, {}
  local function note(name, ok, text, value, limit)
    checks[#checks + 1] = { name = name, ok = ok, text = text, value = value, limit = limit }
  end
  local finished, failed, succeeded = counts.finished, counts.failed, counts.succeeded

  if gate.soak then
    local elapsed = (ctx.started_at and ctx.now) and (ctx.now - ctx.started_at) or 0
    local ok = elapsed >= gate.soak
    note("soak", ok, string.format("soak %s of %s", M.duration(math.max(0, elapsed)), M.duration(gate.soak)),
      elapsed, gate.soak)
    if not ok then waits[#waits + 1] = string.format("soaking until %s after the start",
      M.duration(gate.soak)) end
  end
  local min = gate.min_devices
  if min then
    local ok = finished >= min
    note("min_devices", ok, string.format("%d of %d devices finished", finished, min), finished, min)
    if not ok then
      waits[#waits + 1] = string.format("%d of %d devices finished (%d pending)", finished, min, counts.pending)
    end
  end
  if gate.max_failed then
    local ok = failed <= gate.max_failed
    note("max_failed", ok, string.format("failed %d (max %d)", failed, gate.max_failed), failed, gate.max_failed)
    if not ok then fails[#fails + 1] = string.format("%d devices failed, more than max_failed = %d", failed, gate.max_failed) end
  end
  -- ratios are judged once enough devices finished to mean something
  local judging = finished > 0 and finished >= (min or 1)
  if gate.max_failed_ratio then
    local r = finished > 0 and failed / finished or 0
    local ok = not judging or r <= gate.max_failed_ratio
    note("max_failed_ratio", ok, string.format("failed %s (max %s)%s", pct(r), pct(gate.max_failed_ratio),
      judging and "" or ", not judged yet"), r, gate.max_failed_ratio)
    if not ok then
      fails[#fails + 1] = string.format("%d of %d finished devices failed (%s), more than max_failed_ratio = %s",
        failed, finished, pct(r), pct(gate.max_failed_ratio))
    end
  end
  if gate.min_success then
    local r = finished > 0 and succeeded / finished or 1
    local ok = not judging or r >= gate.min_success
    note("min_success", ok, string.format("success %s (min %s)%s", pct(r), pct(gate.min_success),
      judging and "" or ", not judged yet"), r, gate.min_success)
    if not ok then
      fails[#fails + 1] = string.format("%d of %d finished devices succeeded (%s), less than min_success = %s",
        succeeded, finished, pct(r), pct(gate.min_success))
    end
  end
  if gate.check then
    local v, why = run_check(gate.check, counts, ctx)
    note("check", v == "pass", "check: " .. v .. (why and (" (" .. why .. ")") or ""), v, nil)
    if v == "fail" then fails[#fails + 1] = "check failed" .. (why and (": " .. why) or "")
    elseif v == "wait" then waits[#waits + 1] = "check says wait" .. (why and (": " .. why) or "") end
  end
  if #fails > 0 then return "fail", table.concat(fails, "; "), checks end
  if #waits > 0 then return "wait", table.concat(waits, "; "), checks end
  local parts = {}
  for _, c in ipairs(checks) do parts[#parts + 1] = c.text end
  return "pass", #parts > 0 and table.concat(parts, ", ") or "gate holds", checks
end

-- "6h", "1d12h", "45m", "30s" (otarun.util.format_duration)
M.duration = util.format_duration

-- A one-line summary of counts: "312 succeeded, 4 failed, 80 pending, 0 cancelled (of 396)".
function M.counts_text(c)
  c = M.derive(copy(c or {}))
  return string.format("%d succeeded, %d failed, %d pending, %d cancelled (of %d)",
    c.succeeded, c.failed, c.pending, c.cancelled, c.total)
end

-- describe(reading, gate [, ctx]) -> text, checks
-- reading: { counts = {...} or JSON text, at = epoch, verdict, reason } (a store row or a fresh
-- reading); ctx: now, started_at (for soak). For `otarun status`: counts, each threshold with its
-- value and ✓/✗, the verdict and why.
function M.describe(reading, gate, ctx)
  if not reading then return "gate: no reading yet", {} end
  local counts = reading.counts
  if type(counts) == "string" then
    local ok, t = pcall(require("cjson").decode, counts)
    counts = ok and t or {}
  end
  ctx = ctx or {}
  local ectx = { now = ctx.now or reading.at, started_at = ctx.started_at }
  -- re-judge without the check function: its verdict is the recorded one
  local g = gate and copy(gate) or nil
  if g then g.check = nil end
  local _, _, checks = M.evaluate(counts or {}, g, ectx)
  local parts = {}
  for _, c in ipairs(checks) do parts[#parts + 1] = (c.ok and "✓ " or "✗ ") .. c.text end
  local text = "gate: " .. M.counts_text(counts)
  if #parts > 0 then text = text .. "; " .. table.concat(parts, ", ") end
  if reading.verdict then
    text = text .. " -> " .. reading.verdict .. (reading.reason and (": " .. reading.reason) or "")
  end
  return text, checks
end

return M
