-- Live plans: a static wave about to be created whose targets overlap an earlier static wave of the
-- rollout whose job still has pending tasks (docs/platform-assumptions.md, "Overlapping static
-- waves"). The platform fails the new task of every device still pending in the earlier job, so
-- the plan warns (`static-overlap`) with how many devices are still pending there. The offline
-- rule (otarun.core.validate) says it can happen; this says it will. Costs four ListOTATaskByJob
-- (PageSize 1, one per pending status) per earlier overlapping job, only for waves due now.
-- Uses an otarun.platform.client-like object (`call`).
local M = {}

M.PENDING = { "CONFIRM", "QUEUED", "NOTIFIED", "IN_PROGRESS" }

local function shares_targets(a, b)
  if a.group or b.group then return a.group ~= nil and a.group == b.group end
  if a.devices or b.devices then return false end           -- device lists: device-single-job
  if not (a.versions and #a.versions > 0) or not (b.versions and #b.versions > 0) then return true end
  local set = {}
  for _, v in ipairs(a.versions) do set[v] = true end
  for _, v in ipairs(b.versions) do
    if set[v] then return true end
  end
  return false
end

local function pending_of(client, job_id, instance)
  local n = 0
  for _, st in ipairs(M.PENDING) do
    local res = client:call("ListOTATaskByJob", { JobId = job_id, TaskStatus = st, PageSize = 1, CurrentPage = 1,
      IotInstanceId = instance })
    if not res then return nil end
    n = n + (tonumber(res.Total) or 0)
  end
  return n
end

-- check(plan, rollouts, client_for) -> diagnostics, calls
function M.check(plan, rollouts, client_for)
  local out, calls = {}, 0
  for _, r in ipairs(rollouts) do
    local entries = {}
    for _, pr in ipairs(plan.rollouts or {}) do
      if pr.name == r.name then
        for _, e in ipairs(pr.waves or {}) do entries[e.name] = e end
      end
    end
    local earlier = {}
    for _, w in ipairs(r.waves or {}) do
      local e = entries[w.name]
      if w.kind == "static" and e and e.action == "create" and w.overwrite ~= "replace" then
        for i = #earlier, 1, -1 do
          local pw = earlier[i]
          local pe = entries[pw.name]
          if pe.job_id and shares_targets(pw, w) then
            local client = client_for(r)
            local n = client and pending_of(client, pe.job_id, r.instance)
            calls = calls + #M.PENDING
            if n and n > 0 then
              out[#out + 1] = { severity = "warning", rule = "static-overlap", param = "TargetSelection",
                file = r.file, line = w.line, rollout = r.name, wave = w.name,
                message = string.format("%d devices are still pending in job %s of wave %q: those this wave "
                  .. "targets get a task that fails at once (the gate does not count them); wait until wave %q's "
                  .. "job is done, or set overwrite = \"replace\"", n, pe.job_id, pw.name, pw.name) }
            end
            break
          end
        end
      end
      if w.kind == "static" and e then earlier[#earlier + 1] = w end
    end
  end
  return out, calls
end

return M
