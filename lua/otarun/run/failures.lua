-- Which FAILED tasks a gate counts as the firmware's failures (docs/platform-assumptions.md,
-- "Failed tasks and the gate"). Two kinds of FAILED task say nothing final about the firmware:
--
--   * a task the platform failed at once because its device already had a pending task in another
--     batch (a static wave overlapping an earlier one): its TaskDesc names the other batch;
--   * a task that failed and may still be waiting for its automatic retry: the documentation does
--     not say whether such a task shows FAILED or a pending status, so a FAILED task of a wave with
--     retries counts only once it has stayed FAILED longer than the retry interval (a pending retry
--     would have moved it on by then), or at once when the wave has no retries.
--
-- The failed tasks are read only when the FAILED count moved since the last reading or some of them
-- were still young: at most MAX_PAGES pages of PAGE_SIZE (ListOTATaskByJob, TaskStatus=FAILED).
-- Beyond what was read, the shares found in the pages read are applied to the rest (rounded down:
-- the doubt goes to counting a failure).
-- Uses otarun.util (times).
local util = require("otarun.util")

local M = {}

M.PAGE_SIZE = 100
M.MAX_PAGES = 5
M.SLACK = 60                 -- seconds added to the retry interval before a FAILED task is final

-- TaskDesc texts of a task the platform refused because its device was busy elsewhere.
M.NOT_FIRMWARE = {
  "already has a pending", "pending or in%-progress task", "another upgrade task", "已存在", "正在升级",
}

local function not_firmware(desc)
  if type(desc) ~= "string" then return false end
  for _, pat in ipairs(M.NOT_FIRMWARE) do
    if desc:find(pat) then return true end
  end
  return false
end

-- True when a FAILED task of the wave may still be waiting for its automatic retry.
function M.young(t, wave, now)
  local wait = (wave.retry_interval and (wave.retry_count or 0) > 0) and (wave.retry_interval * 60 + M.SLACK) or nil
  if not wait then return false end
  local at = util.parse_time(t.UtcModified)
  return not at or now - at < wait
end

-- classify(tasks, wave, now) -> other, young
-- tasks: SimpleOTATaskInfo items; wave: retry_interval (minutes), retry_count.
function M.classify(tasks, wave, now)
  local other, young = 0, 0
  for _, t in ipairs(tasks) do
    if not_firmware(t.TaskDesc) then
      other = other + 1
    elseif M.young(t, wave, now) then
      young = young + 1
    end
  end
  return other, young
end

-- adjust(client, job_id, counts, wave, prev, ctx) -> counts, calls | nil, err, calls
-- counts: a fresh reading (otarun.run.gate.read); prev: the previous reading's counts or nil;
-- ctx: now (epoch), instance. Sets failed_raw, failed_other, failed_young and lowers `failed` (and
-- `finished`) to the firmware's final failures. Young tasks wait: they are not counted as finished.
function M.adjust(client, job_id, counts, wave, prev, ctx)
  local raw = counts.failed or 0
  counts.failed_raw, counts.failed_other, counts.failed_young = raw, 0, 0
  if raw == 0 then return counts, 0 end
  prev = prev or {}
  if prev.failed_raw == raw and (prev.failed_young or 0) == 0 and prev.failed_other then
    counts.failed_other = prev.failed_other
  else
    local tasks, calls = {}, 0
    for page = 1, M.MAX_PAGES do
      local res, err = client:call("ListOTATaskByJob", { JobId = job_id, TaskStatus = "FAILED",
        PageSize = M.PAGE_SIZE, CurrentPage = page, IotInstanceId = ctx.instance })
      calls = calls + 1
      if not res then return nil, err, calls end
      local list = type(res.Data) == "table" and res.Data.SimpleOTATaskInfo or {}
      for _, t in ipairs(list) do tasks[#tasks + 1] = t end
      if #list < M.PAGE_SIZE or #tasks >= raw then break end
    end
    local other, young = M.classify(tasks, wave, ctx.now)
    if #tasks > 0 and #tasks < raw then
      other, young = other * raw // #tasks, young * raw // #tasks
    end
    counts.failed_other, counts.failed_young = other, young
    M.apply(counts)
    return counts, calls
  end
  M.apply(counts)
  return counts, 0
end

function M.apply(c)
  local excluded = math.min(c.failed_raw, (c.failed_other or 0) + (c.failed_young or 0))
  c.failed = c.failed_raw - excluded
  c.finished = (c.succeeded or 0) + c.failed
  return c
end

-- The note a gate reading carries when some FAILED tasks were not counted, or nil.
function M.note(c)
  local parts = {}
  if (c.failed_other or 0) > 0 then
    parts[#parts + 1] = string.format("%d failed because the device had a pending task in another batch", c.failed_other)
  end
  if (c.failed_young or 0) > 0 then
    parts[#parts + 1] = string.format("%d failed within the retry interval (may be retried)", c.failed_young)
  end
  if #parts == 0 then return nil end
  return "not counted as firmware failures: " .. table.concat(parts, "; ")
end

return M
