-- otarun abort FILE [--wave W]: stops a rollout (or one wave): cancels the dynamic strategies and
-- the pending tasks (queued, notified, unconfirmed, scheduled) of its jobs through the intent
-- journal, marks the waves cancelled and halts the rollout, with who and why in the audit log.
-- Devices already upgrading finish their upgrade (the platform cannot stop them). With --device,
-- one device's pending task (otarun.cmd.device_task).
local args = require("otarun.cli.args")
local control = require("otarun.control")

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
  --lock-timeout SECONDS  how long to wait for another otarun holding the store (30)

exit: 0 aborted, 1 error (some call failed: run abort again), 3 invalid script, 64 usage error
]]

local LIVE = { waiting = true, ready = true, running = true, passed = true, failed = true }

-- Cancels one wave's jobs. -> number of failed calls
local function abort_wave(st, client, r, w, row, why)
  local failures = 0
  for _, job in ipairs(control.wave_jobs(st, r.name, w.name)) do
    if w.kind == "dynamic" and (row.state == "running" or row.state == "passed" or row.state == "failed") then
      local ok, err = control.cancel_strategy(st, client, r, w.name, job)
      if not ok then
        failures = failures + 1
        io.stderr:write(string.format("otarun abort: %s/%s: cancelling the strategy of job %s: %s\n", r.name, w.name, job, tostring(err.message or err)))
      end
    end
    local ok, err = control.cancel_pending(st, client, r, w.name, job)
    if not ok then
      failures = failures + 1
      io.stderr:write(string.format("otarun abort: %s/%s: cancelling the pending tasks of job %s: %s\n", r.name, w.name, job, tostring(err.message or err)))
    else
      io.stdout:write(string.format("%s/%s: job %s: strategy and pending tasks cancelled\n", r.name, w.name, job))
    end
  end
  if failures == 0 and LIVE[row.state] then
    st:transition(r.name, w.name, "cancelled", "aborted: " .. why)
  end
  return failures
end

local function run(argv)
  local opts, pos = control.parse(argv, M)
  if not opts then return 0 end
  if opts.device then return require("otarun.cmd.device_task").abort(opts, pos) end
  if #pos ~= 1 then args.usage_error("abort needs exactly one FILE") end
  local ctx, rollouts = control.load(pos, opts, "abort")
  local targets = {}
  if opts.wave then
    local r, w = control.pick_wave(rollouts, opts.rollout, opts.wave)
    targets[1] = { r = r, waves = { w } }
  else
    if opts.rollout then rollouts = { control.pick_rollout(rollouts, opts.rollout) } end
    for _, r in ipairs(rollouts) do targets[#targets + 1] = { r = r, waves = r.waves } end
  end
  local all = {}
  for _, t in ipairs(targets) do all[#all + 1] = t.r end
  local st = control.open_state(opts, "abort", all, opts.now and ctx.now)
  control.lock(st)
  local client = control.client(opts, all[1].region)
  local why = opts.reason or "(no reason given)"
  local failures = 0
  for _, t in ipairs(targets) do
    local r = t.r
    local rec = assert(st:rollout(r.name))
    assert(st:audit{ kind = "abort", rollout = r.name, wave = opts.wave, result = why })
    -- halt first: a run between two of these calls starts nothing more
    assert(st:halt(r.name, string.format("aborted%s by %s: %s", opts.wave and (" (wave " .. opts.wave .. ")") or "",
      require("otarun.state").who(), why)))
    for _, w in ipairs(t.waves) do
      failures = failures + abort_wave(st, client, r, w, rec.wave[w.name], why)
    end
    io.stdout:write(string.format("rollout %q halted%s\n", r.name, failures > 0 and " (some calls failed; run abort again)" or ""))
  end
  st:close()
  return failures > 0 and 1 or 0
end

function M.main(argv) return control.guard("abort", run, argv) end

return M
