-- otarun resume FILE: a human decision that moves a halted or aborted rollout on (docs/actions.md).
-- Plain: the wave whose gate tripped counts as passed and the halt is cleared. --skip WAVE: an
-- aborted or failed wave counts as passed. --retry WAVE: an aborted or failed wave starts again
-- with a new job (its old jobs are set aside, "retired", and never taken for it again). Who and
-- why are recorded in the transition and the audit log, with the `resume` notification event
-- (otarun.notify); `otarun run` then goes on.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")

local M = {}

M.OPTIONS = { ["--reason"] = "string", ["--rollout"] = "string", ["--lock-timeout"] = "int",
  ["--retry"] = "string", ["--skip"] = "string" }

M.HELP = [[
usage: otarun resume FILE [--retry WAVE | --skip WAVE] [--reason TEXT] [--rollout NAME]

Moves a halted or aborted rollout on, by a human decision that is recorded (who, when, why):

  otarun resume FILE                the wave whose gate tripped counts as passed; the halt is
                                    cleared and `otarun run` goes on with the next wave
  otarun resume FILE --retry WAVE   an aborted or failed WAVE starts again with a new job (the
                                    old one is set aside); its gate judges the new job
  otarun resume FILE --skip WAVE    an aborted or failed WAVE counts as passed without running
                                    again; the next wave's delay counts from now

options:
  --retry WAVE            start this aborted or failed wave again
  --skip WAVE             accept this aborted or failed wave as passed
  --reason TEXT           why it is safe to go on (recorded; asked for in the audit log)
  --rollout NAME          only this rollout
  --state PATH            the state store (.otarun/state.db; also OTARUN_STATE)
  --lock-timeout SECONDS  how long to wait for another otarun holding the rollout (30)

exit: 0 resumed (or nothing was halted), 1 error, 3 invalid script, 64 usage error
]]

-- The states a human can retry or skip: the wave stopped before it passed.
local STOPPED = { failed = true, cancelled = true }

-- --retry / --skip WAVE of one rollout. -> message
local function decide(st, r, w, how, who, why)
  local rec = assert(st:rollout(r.name))
  local row = rec.wave[w.name]
  if not (row and STOPPED[row.state]) then
    failure.raise("error", "wave %q of rollout %q is %s, not aborted or failed: nothing to %s (otarun status %s)",
      w.name, r.name, row and row.state or "not recorded", how, r.file or "FILE")
  end
  local ok, err = pcall(st.transaction, st, function()
    if how == "retry" then
      for _, j in ipairs(st:jobs(r.name, w.name) or {}) do
        assert(st:job_status(j.job_id, require("otarun.plan.diff").RETIRED))
      end
      assert(st:transition(r.name, w.name, "waiting", string.format("retried by %s: %s", who, why)))
    else
      assert(st:transition(r.name, w.name, "passed", string.format("skipped by %s: %s", who, why), row.job_id))
    end
    assert(st:audit{ kind = "resume", rollout = r.name, wave = w.name, action = how, result = why })
    if rec.halted then assert(st:resume(r.name, why)) end
    require("otarun.notify").record(st, { kind = "resume", rollout = r.name, wave = w.name,
      text = string.format("wave %s of rollout %s %s by %s: %s", w.name, r.name,
        how == "retry" and "retried" or "skipped", who, why) })
    return true
  end)
  if not ok then failure.raise("error", "%s", err) end
  if how == "retry" then
    return string.format("wave %q of rollout %q will start again with a new job at the next `otarun run` "
      .. "(as %s: %s)\n", w.name, r.name, who, why)
  end
  return string.format("wave %q of rollout %q counts as passed (as %s: %s)\n", w.name, r.name, who, why)
end

function M.main(argv)
  local opts, pos = command.parse(argv, M, "one")
  if opts.retry and opts.skip then failure.raise("usage", "give --retry WAVE or --skip WAVE, not both") end
  local ctx, rollouts = command.load_selected(pos, opts)
  local st = command.open_state(opts, "resume", rollouts, opts.now and ctx.now)
  local names = {}
  for i, r in ipairs(rollouts) do names[i] = r.name end
  command.lock_rollouts(st, names, command.lock_timeout(opts), "resume")
  local who = require("otarun.state").who()
  local why = opts.reason or "(no reason given)"
  local target = opts.retry or opts.skip
  if target then
    local r, w = command.pick_wave(rollouts, opts.rollout, target)
    io.stdout:write(decide(st, r, w, opts.retry and "retry" or "skip", who, why))
    st:close()
    return failure.CODES.ok
  end
  for _, r in ipairs(rollouts) do
    local rec = assert(st:rollout(r.name))
    if not rec.halted then
      io.stdout:write(string.format("rollout %q is not halted; nothing to resume\n", r.name))
      for _, row in ipairs(rec.waves) do
        if row.state == "cancelled" then
          io.stdout:write(string.format("  wave %q was aborted: otarun resume %s --retry %s (start it again) "
            .. "or --skip %s (accept it as passed)\n", row.name, r.file or "FILE", row.name, row.name))
        end
      end
    else
      for _, row in ipairs(rec.waves) do
        if row.state == "failed" then
          local ok, err = st:transition(r.name, row.name, "passed",
            string.format("resumed by %s after its gate tripped: %s", who, why), row.job_id)
          if ok == nil then failure.raise("error", "%s", err) end
        end
      end
      local ok, err = require("otarun.notify").decide(st, function() -- the resume and its event together
        assert(st:resume(r.name, why))
        require("otarun.notify").record(st, { kind = "resume", rollout = r.name,
          text = string.format("rollout %s resumed by %s: %s", r.name, who, why) })
      end)
      if not ok then failure.raise("error", "%s", err) end
      io.stdout:write(string.format("resumed rollout %q (halted: %s) as %s: %s\n", r.name,
        tostring(rec.halt_reason), who, why))
    end
  end
  st:close()
  return 0
end

return M
