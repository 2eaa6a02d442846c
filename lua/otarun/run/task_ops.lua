-- Reading a job's tasks for the task commands (otarun retry, otarun confirm, the scheduler's
-- automatic confirmation): every task of one status (ListOTATaskByJob pages of 100), the tasks of
-- named devices (DeviceNames.N, 50 a call), and splitting task ids into the batches that
-- ReupgradeOTATask and ConfirmOTATask take (1 to 10 ids a call: docs/platform-assumptions.md,
-- "Task operations"). Reads only; the changing calls are the commands' own, journaled.
-- Uses an otarun.platform.client-like object (`call`).
local M = {}

M.MAX_IDS = 10          -- TaskId.N of ReupgradeOTATask and ConfirmOTATask
M.PAGE_SIZE = 100       -- ListOTATaskByJob PageSize
M.MAX_TASKS = 100000    -- ListOTATaskByJob: CurrentPage x PageSize at most 100,000
M.NAMES_PER_CALL = 50   -- ListOTATaskByJob DeviceNames.N

local function items(res)
  local d = type(res) == "table" and res.Data
  local list = type(d) == "table" and d.SimpleOTATaskInfo
  return type(list) == "table" and list or {}
end

-- Every task of job_id in `status`, in the platform's order. -> list | nil, err
function M.list(client, job_id, status, instance)
  local out = {}
  for page = 1, M.MAX_TASKS // M.PAGE_SIZE do
    local res, err = client:call("ListOTATaskByJob", { JobId = job_id, TaskStatus = status,
      PageSize = M.PAGE_SIZE, CurrentPage = page, IotInstanceId = instance })
    if not res then return nil, err end
    local list = items(res)
    for _, t in ipairs(list) do out[#out + 1] = t end
    local total = tonumber(res.Total) or 0
    if #list < M.PAGE_SIZE or #out >= total then break end
  end
  return out
end

-- The tasks of the named devices in job_id (devices without a task are left out).
-- -> list | nil, err
function M.of_devices(client, job_id, names, instance)
  local out = {}
  for i = 1, #names, M.NAMES_PER_CALL do
    local p = { JobId = job_id, IotInstanceId = instance, DeviceNames = {} }
    for k = i, math.min(#names, i + M.NAMES_PER_CALL - 1) do p.DeviceNames[#p.DeviceNames + 1] = names[k] end
    local res, err = client:call("ListOTATaskByJob", p)
    if not res then return nil, err end
    for _, t in ipairs(items(res)) do out[#out + 1] = t end
  end
  return out
end

-- { "a", "b", ... } -> { { up to n }, ... }
function M.batches(list, n)
  n = n or M.MAX_IDS
  local out = {}
  for i = 1, #list, n do
    local b = {}
    for k = i, math.min(#list, i + n - 1) do b[#b + 1] = list[k] end
    out[#out + 1] = b
  end
  return out
end

-- Sends ACTION for the task ids in batches of MAX_IDS through the journal (params of each call:
-- extra plus TaskId and IotInstanceId); a failed batch is reported on stderr as CMD's and counted.
-- -> tasks done, batches failed
function M.send_batches(st, client, r, w, job_id, ids, action, extra, cmd)
  local done, failed = 0, 0
  for _, batch in ipairs(M.batches(ids, M.MAX_IDS)) do
    local params = { TaskId = batch, IotInstanceId = r.instance }
    for k, v in pairs(extra or {}) do params[k] = v end
    local res, err = require("otarun.journal").send(st, client, { rollout = r.name, wave = w.name,
      action = action, params = params }, { settle = function() return { job_id = job_id } end })
    if res then done = done + #batch
    else
      failed = failed + 1
      io.stderr:write(string.format("otarun %s: %s/%s: %s for %d tasks of job %s: %s\n", cmd,
        r.name, w.name, action, #batch, job_id, tostring(err.message or err)))
    end
  end
  return done, failed
end

-- "a,b , c" -> { "a", "b", "c" }
function M.split_names(text)
  local out = {}
  for name in tostring(text or ""):gmatch("[^,%s]+") do out[#out + 1] = name end
  return out
end

return M
