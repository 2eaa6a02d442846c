-- otarun abort FILE [--wave W]: stops a rollout (or one wave): cancels the dynamic strategies and
-- the pending tasks (queued, notified, unconfirmed, scheduled) of its jobs through the intent
-- journal, marks the waves cancelled and halts the rollout, with who and why in the audit log.
-- Devices already upgrading finish their upgrade (the platform cannot stop them). The `abort`
-- notification event is recorded with the halt (otarun.notify, docs/notifications.md). With
-- --device, one device's pending task (otarun.cmd.device_task).
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local stop = require("otarun.run.stop")

local M = {}

M.OPTIONS = { ["--wave"] = "string", ["--reason"] = "string", ["--rollout"] = "string",
              ["--lock-timeout"] = "int", ["--device"] = "string" }

M.HELP = [[
usage: otarun abort FILE [--wave W] [--reason TEXT] [--rollout NAME]
       otarun abort FILE --device NAME [--wave W] [--reason TEXT] [--rollout NAME]

Stops the rollouts in FILE (or --rollout), or only wave W: cancels their dynamic strategies
(CancelOTAStrategyByJob) and pending tasks (CancelOTATaskByJob: queued, notified, unconfirmed,
scheduled), marks the waves cancelled and halts the rollout so `otarun run` starts nothing more.
Devices already upgrading finish. Who and why go to the audit log.

With --device, only that device's pending task of the rollout's firmware is cancelled
(CancelOTATaskByDevice; with --wave only in that wave's job); nothing is halted.

options:
  --wave W                only this wave
  --device NAME           only this device's pending task (docs/commands-ota.md)
  --reason TEXT           why (recorded)
  --rollout NAME          only this rollout
  --state PATH            the state store (.otarun/state.db; also OTARUN_STATE)
  --endpoint URL, --region R, --profile P   where and as whom to call the platform
  --lock-timeout SECONDS  how long to wait for another otarun holding the rollout (30)

exit: 0 aborted, 1 error (some call failed: run abort again), 3 invalid script, 64 usage error
]]

local LIVE = { waiting = true, ready = true, running = true, passed = true, failed = true }

-- Cancels one wave's jobs. -> number of failed calls
local function abort_wave(st, client, r, w, row, why)
  local failures = 0
  local strategy = w.kind == "dynamic" and (row.state == "running" or row.state == "passed" or row.state == "failed")
  for _, job in ipairs(stop.wave_jobs(st, r.name, w.name)) do
    local failed = stop.job(st, client, r, w.name, job, { strategy = strategy, pending = true })
    for _, f in ipairs(failed) do
      io.stderr:write(string.format("otarun abort: %s/%s: cancelling %s of job %s: %s\n", r.name, w.name, f.what, job,
        tostring(f.err)))
    end
    if #failed == 0 then
      io.stdout:write(string.format("%s/%s: job %s: strategy and pending tasks cancelled\n", r.name, w.name, job))
    end
    failures = failures + #failed
  end
  if failures == 0 and LIVE[row.state] then
    st:transition(r.name, w.name, "cancelled", "aborted: " .. why)
  end
  return failures
end

function M.main(argv)
  local opts, pos = command.parse(argv, M, "one")
  if opts.device then return require("otarun.cmd.device_task").abort(opts, pos) end
  local ctx, rollouts = command.load(pos, opts)
  local targets = {}
  if opts.wave then
    local r, w = command.pick_wave(rollouts, opts.rollout, opts.wave)
    targets[1] = { r = r, waves = { w } }
  else
    if opts.rollout then rollouts = { command.pick_rollout(rollouts, opts.rollout) } end
    for _, r in ipairs(rollouts) do targets[#targets + 1] = { r = r, waves = r.waves } end
  end
  local all = {}
  for _, t in ipairs(targets) do all[#all + 1] = t.r end
  local st = command.open_state(opts, "abort", all, opts.now and ctx.now)
  local names = {}
  for i, r in ipairs(all) do names[i] = r.name end
  command.lock_rollouts(st, names, command.lock_timeout(opts), "abort")
  local client = command.client(opts, all[1].region)
  -- what an earlier abort (or run, or apply) killed mid-call left open is settled first, so a
  -- cancel that reached the platform is not sent again (otarun.journal)
  failure.check(require("otarun.journal").recover(st, function() return client end))
  local why = opts.reason or "(no reason given)"
  local failures = 0
  for _, t in ipairs(targets) do
    local r = t.r
    local rec = assert(st:rollout(r.name))
    local text = string.format("aborted%s by %s: %s", opts.wave and (" (wave " .. opts.wave .. ")") or "",
      require("otarun.state").who(), why)
    -- halt first: a run between two of these calls starts nothing more (with its event, docs/notifications.md)
    assert(require("otarun.notify").decide(st, function()
      assert(st:audit{ kind = "abort", rollout = r.name, wave = opts.wave, result = why })
      assert(st:halt(r.name, text))
      require("otarun.notify").record(st, { kind = "abort", rollout = r.name, wave = opts.wave, text = text })
    end))
    for _, w in ipairs(t.waves) do
      failures = failures + abort_wave(st, client, r, w, rec.wave[w.name], why)
    end
    io.stdout:write(string.format("rollout %q halted%s\n", r.name, failures > 0 and " (some calls failed; run abort again)" or ""))
  end
  st:close()
  return failures > 0 and failure.CODES.error or failure.CODES.ok
end

return M
