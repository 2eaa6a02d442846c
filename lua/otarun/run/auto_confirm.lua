-- The scheduler's automatic confirmation (`otarun run --auto-confirm`, docs/commands-ota.md): on
-- each tick, a running wave with confirm = true has the devices that wait for confirmation
-- confirmed while its window is open (a wave without a window: at any time), at most PER_TICK
-- devices a tick, through ConfirmOTATask (10 task ids a call, each through the intent journal,
-- otarun.journal.send). Devices then upgrade only inside the window even though the job runs
-- around the clock. Uses otarun.run.task_ops, otarun.journal, otarun.util (windows).
local task_ops = require("otarun.run.task_ops")
local util = require("otarun.util")

local M = {}

M.PER_TICK = 500

-- Is the wave's window open at `now`? (no window: always)
function M.open(wave, now)
  if not wave.window then return true end
  local at = util.next_window_open(wave.window, now)
  return at ~= nil and at <= now
end

-- run(sched, r, w, row) -> confirmed | nil, err   (sched: the scheduler; row: the wave's store row)
function M.run(sched, r, w, row)
  if not (w.confirm and row.job_id and M.open(w, sched.now)) then return 0 end
  local client = sched.client
  local list, err = client:call("ListOTATaskByJob", { JobId = row.job_id, TaskStatus = "CONFIRM",
    PageSize = task_ops.PAGE_SIZE, CurrentPage = 1, IotInstanceId = r.instance })
  sched.calls = sched.calls + 1
  if not list then return nil, err end
  local ids = {}
  local page, total = 1, tonumber(list.Total) or 0
  while true do
    for _, t in ipairs(type(list.Data) == "table" and list.Data.SimpleOTATaskInfo or {}) do
      if #ids < M.PER_TICK then ids[#ids + 1] = t.TaskId end
    end
    page = page + 1
    if #ids >= M.PER_TICK or (page - 1) * task_ops.PAGE_SIZE >= total then break end
    list, err = client:call("ListOTATaskByJob", { JobId = row.job_id, TaskStatus = "CONFIRM",
      PageSize = task_ops.PAGE_SIZE, CurrentPage = page, IotInstanceId = r.instance })
    sched.calls = sched.calls + 1
    if not list then return nil, err end
  end
  if #ids == 0 then return 0 end
  local journal = require("otarun.journal")
  local done = 0
  for _, batch in ipairs(task_ops.batches(ids, task_ops.MAX_IDS)) do
    local res, cerr = journal.send(sched.state, client, { rollout = r.name, wave = w.name, action = "ConfirmOTATask",
      params = { TaskId = batch, IotInstanceId = r.instance } },
      { settle = function() return { job_id = row.job_id } end })
    if not res then return nil, cerr end
    done = done + #batch
  end
  return done
end

return M
