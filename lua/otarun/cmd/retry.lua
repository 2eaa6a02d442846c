-- otarun retry FILE --wave W [--reason TEXT] [--canceled]: after a fix, upgrades the wave's FAILED
-- devices (and with --canceled its CANCELED ones) again through ReupgradeOTATask, at most 10 task
-- ids a call at the operation's 20 calls a second (the client's limiter), each call through the
-- intent journal and the audit log. A FAILED task that may still be waiting for its automatic retry
-- (failed within the wave's retry interval) is left to the platform. In a batch that needs
-- confirmation the re-upgraded tasks wait for it again (otarun confirm). The wave's gate then
-- counts the retried devices as they finish. docs/commands-ota.md.
-- Uses otarun.cli.command, otarun.failure, otarun.run.task_ops (its journaled batches), otarun.run.failures.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local task_ops = require("otarun.run.task_ops")
local failures = require("otarun.run.failures")

local M = {}

M.OPTIONS = { ["--wave"] = "string", ["--reason"] = "string", ["--rollout"] = "string",
              ["--canceled"] = "bool", ["--lock-timeout"] = "int" }

M.HELP = [[
usage: otarun retry FILE --wave W [--reason TEXT] [--canceled] [--rollout NAME]

Upgrades wave W's FAILED devices again (ReupgradeOTATask, at most 10 tasks a call, 20 calls a
second), after a fix. With --canceled, its CANCELED devices too. Tasks that failed within the
wave's retry interval may still be retried by the platform and are left alone (run retry again
later). In a wave with confirm = true the devices wait for confirmation again (otarun confirm).
Every call is journaled; who and why go to the audit log.

options:
  --wave W                the wave (required)
  --canceled              also re-upgrade CANCELED devices
  --reason TEXT           why (recorded)
  --rollout NAME          the rollout, when several have a wave W
  --state PATH            the state store (.otarun/state.db; also OTARUN_STATE)
  --endpoint URL, --region R, --profile P   where and as whom to call the platform
  --lock-timeout SECONDS  how long to wait for another otarun holding the rollout (30)

exit: 0 done (also when nothing needed a retry), 1 error (some call failed: run retry again),
      3 invalid script, 64 usage error
]]

-- The task ids of one job to re-upgrade, and how many were left to the platform's own retry.
local function candidates(client, r, w, job_id, statuses, now)
  local ids, waiting = {}, 0
  for _, status in ipairs(statuses) do
    local list, err = task_ops.list(client, job_id, status, r.instance)
    if not list then return nil, err end
    for _, t in ipairs(list) do
      if status == "FAILED" and failures.young(t, w, now) then waiting = waiting + 1
      else ids[#ids + 1] = t.TaskId end
    end
  end
  return ids, waiting
end

-- -> re-upgraded, failed calls
local function retry_job(st, client, r, w, job_id, statuses, now)
  local ids, waiting = candidates(client, r, w, job_id, statuses, now)
  if not ids then
    io.stderr:write(string.format("otarun retry: %s/%s: reading the tasks of job %s: %s\n", r.name, w.name, job_id, tostring(waiting)))
    return 0, 1
  end
  local done, failed = task_ops.send_batches(st, client, r, w, job_id, ids, "ReupgradeOTATask",
    { JobId = job_id }, "retry")
  io.stdout:write(string.format("%s/%s: job %s: %d device%s upgraded again%s%s\n", r.name, w.name, job_id, done,
    done == 1 and "" or "s", waiting > 0 and string.format(" (%d failed within the retry interval: left to the platform's retry)", waiting) or "",
    w.confirm and done > 0 and "; they wait for confirmation again (otarun confirm)" or ""))
  return done, failed
end

function M.main(argv)
  local opts, pos = command.parse(argv, M, "one")
  if not opts.wave then failure.raise("usage", "retry needs --wave W") end
  local ctx, rollouts = command.load(pos, opts)
  local r, w = command.pick_wave(rollouts, opts.rollout, opts.wave)
  local st = command.open_state(opts, "retry", { r }, opts.now and ctx.now)
  command.lock_rollouts(st, { r.name }, command.lock_timeout(opts), "retry")
  local jobs = require("otarun.run.stop").wave_jobs(st, r.name, w.name)
  if #jobs == 0 then
    st:close()
    failure.raise("error", "wave %q of rollout %q has no job yet: nothing to retry", w.name, r.name)
  end
  local client = command.client(opts, r.region)
  local why = opts.reason or "(no reason given)"
  assert(st:audit{ kind = "decision", action = "retry", rollout = r.name, wave = w.name, result = why })
  local statuses = opts.canceled and { "FAILED", "CANCELED" } or { "FAILED" }
  local total, failed = 0, 0
  for _, job_id in ipairs(jobs) do
    local d, f = retry_job(st, client, r, w, job_id, statuses, ctx.now or os.time())
    total, failed = total + d, failed + f
  end
  local rec = st:rollout(r.name)
  if total > 0 and rec and rec.halted then
    io.stdout:write(string.format("rollout %q is halted: `otarun resume` lets the run loop judge the wave again\n", r.name))
  end
  st:close()
  return failed > 0 and 1 or 0
end


return M
