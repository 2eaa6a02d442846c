-- otarun confirm FILE --wave W [--devices a,b,...]: confirms the upgrade of a wave's devices that
-- wait for confirmation (confirm = true, task status CONFIRM) through ConfirmOTATask, at most 10
-- task ids a call at the operation's 20 calls a second, each call through the intent journal and
-- the audit log. Without --devices every waiting device of the wave is confirmed.
-- docs/commands-ota.md. Uses otarun.cli.command, otarun.failure, otarun.run.task_ops (its journaled batches).
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local task_ops = require("otarun.run.task_ops")

local M = {}

M.OPTIONS = { ["--wave"] = "string", ["--devices"] = "list", ["--reason"] = "string",
              ["--rollout"] = "string", ["--lock-timeout"] = "int" }

M.HELP = [[
usage: otarun confirm FILE --wave W [--devices NAME,NAME...] [--reason TEXT] [--rollout NAME]

Confirms the upgrade of wave W's devices that wait for confirmation (waves with confirm = true;
task status CONFIRM) through ConfirmOTATask, at most 10 tasks a call, 20 calls a second. Without
--devices every waiting device of the wave is confirmed. Devices that are not waiting are named
and skipped. Every call is journaled; who and why go to the audit log.

options:
  --wave W                the wave (required)
  --devices NAMES         only these devices (comma-separated; the option may repeat)
  --reason TEXT           why (recorded)
  --rollout NAME          the rollout, when several have a wave W
  --state PATH            the state store (.otarun/state.db; also OTARUN_STATE)
  --endpoint URL, --region R, --profile P   where and as whom to call the platform
  --lock-timeout SECONDS  how long to wait for another otarun holding the rollout (30)

exit: 0 done (also when no device was waiting), 1 error (some call failed: run confirm again),
      3 invalid script, 64 usage error
]]

-- confirm_job(st, client, r, w, job_id, names|nil) -> confirmed, failed calls, skipped names | nil, err
-- Also used by the scheduler's automatic confirmation (otarun.run.auto_confirm).
function M.confirm_job(st, client, r, w, job_id, names)
  local tasks, err
  if names then tasks, err = task_ops.of_devices(client, job_id, names, r.instance)
  else tasks, err = task_ops.list(client, job_id, "CONFIRM", r.instance) end
  if not tasks then return nil, err end
  local ids, skipped, seen = {}, {}, {}
  for _, t in ipairs(tasks) do
    seen[t.DeviceName or ""] = true
    if t.TaskStatus == "CONFIRM" then ids[#ids + 1] = t.TaskId
    else skipped[#skipped + 1] = string.format("%s (%s)", tostring(t.DeviceName), tostring(t.TaskStatus)) end
  end
  for _, n in ipairs(names or {}) do
    if not seen[n] then skipped[#skipped + 1] = n .. " (no task in job " .. job_id .. ")" end
  end
  local done, failed = task_ops.send_batches(st, client, r, w, job_id, ids, "ConfirmOTATask", nil, "confirm")
  return done, failed, skipped
end

function M.main(argv)
  local opts, pos = command.parse(argv, M, "one")
  if not opts.wave then failure.raise("usage", "confirm needs --wave W") end
  local names
  if opts.devices then
    names = {}
    for _, text in ipairs(opts.devices) do
      for _, n in ipairs(task_ops.split_names(text)) do names[#names + 1] = n end
    end
    if #names == 0 then failure.raise("usage", "--devices needs at least one device name") end
  end
  local ctx, rollouts = command.load(pos, opts)
  local r, w = command.pick_wave(rollouts, opts.rollout, opts.wave)
  local st = command.open_state(opts, "confirm", { r }, opts.now and ctx.now)
  command.lock_rollouts(st, { r.name }, command.lock_timeout(opts), "confirm")
  local row = (st:rollout(r.name) or { wave = {} }).wave[w.name]
  local job_id = row and row.job_id
  if not job_id then
    st:close()
    failure.raise("error", "wave %q of rollout %q has no job yet: nothing to confirm", w.name, r.name)
  end
  local client = command.client(opts, r.region)
  assert(st:audit{ kind = "decision", action = "confirm", rollout = r.name, wave = w.name, result = opts.reason or "(no reason given)" })
  local done, failed, skipped = M.confirm_job(st, client, r, w, job_id, names)
  st:close()
  if not done then failure.raise("error", "reading the tasks of job %s: %s", job_id, tostring(failed)) end
  io.stdout:write(string.format("%s/%s: job %s: %d device%s confirmed\n", r.name, w.name, job_id, done, done == 1 and "" or "s"))
  if #skipped > 0 then
    io.stdout:write(string.format("not waiting for confirmation, skipped: %s\n", table.concat(skipped, ", ")))
  end
  return failed > 0 and 1 or 0
end


return M
