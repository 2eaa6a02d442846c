-- otarun resume FILE: clears a halt after a human decision. The wave whose gate tripped is taken
-- as passed by that decision (the next wave's delay counts from now), and the halt is cleared;
-- who and why go to the audit log, with the `resume` notification event (otarun.notify). `otarun
-- run` then continues with the next wave.
local command = require("otarun.cli.command")
local failure = require("otarun.failure")

local M = {}

M.OPTIONS = { ["--reason"] = "string", ["--rollout"] = "string", ["--lock-timeout"] = "int" }

M.HELP = [[
usage: otarun resume FILE [--reason TEXT] [--rollout NAME]

Clears the halt of the rollouts in FILE (or of --rollout). A wave whose gate tripped counts as
passed by this decision, so `otarun run` goes on with the next wave (its delay counts from now).
Who and why are recorded in the audit log.

options:
  --reason TEXT           why it is safe to go on (recorded)
  --rollout NAME          only this rollout
  --state PATH            the state store (.otarun/state.db; also OTARUN_STATE)
  --lock-timeout SECONDS  how long to wait for another otarun holding the store (30)

exit: 0 resumed (or nothing was halted), 1 error, 3 invalid script, 64 usage error
]]

function M.main(argv)
  local opts, pos = command.parse(argv, M, "one")
  local ctx, rollouts = command.load_selected(pos, opts)
  local st = command.open_state(opts, "resume", rollouts, opts.now and ctx.now)
  command.lock(st)
  local who = require("otarun.state").who()
  local why = opts.reason or "(no reason given)"
  for _, r in ipairs(rollouts) do
    local rec = assert(st:rollout(r.name))
    if not rec.halted then
      io.stdout:write(string.format("rollout %q is not halted; nothing to resume\n", r.name))
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
