-- otarun approve FILE WAVE: records a human's approval of a wave that has approve = true, with who
-- (user@host) and why, in the state store and its audit log; `otarun run` starts the wave once
-- it is otherwise due. Approving twice records nothing new. The `approve` notification event is
-- recorded with the approval (otarun.notify, docs/notifications.md).
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local util = require("otarun.util")

local M = {}

M.OPTIONS = { ["--reason"] = "string", ["--rollout"] = "string", ["--lock-timeout"] = "int" }

M.HELP = [[
usage: otarun approve FILE WAVE [--reason TEXT] [--rollout NAME]

Records an approval for WAVE (a wave with approve = true), with who and why, in the state store.
`otarun run` starts the wave once it is otherwise due (time, after, delay, window).

options:
  --reason TEXT           why (recorded in the audit log)
  --rollout NAME          the rollout, when several in FILE have a wave of that name
  --state PATH            the state store (.otarun/state.db; also OTARUN_STATE)
  --lock-timeout SECONDS  how long to wait for another otarun holding the rollout (30)

exit: 0 approved (or already approved), 1 error, 3 invalid script, 64 usage error
]]

function M.main(argv)
  local opts, pos = command.parse(argv, M)
  if #pos ~= 2 then failure.raise("usage", "approve needs FILE and WAVE (e.g. otarun approve rollout.lua canary)") end
  local ctx, rollouts = command.load({ pos[1] }, opts)
  local r, w = command.pick_wave(rollouts, opts.rollout, pos[2])
  if not w.approve then
    failure.raise("error", "wave %q of rollout %q does not wait for approval (it has no approve = true); nothing to approve",
      w.name, r.name)
  end
  local st = command.open_state(opts, "approve", { r }, opts.now and ctx.now)
  command.lock_rollouts(st, { r.name }, command.lock_timeout(opts), "approve")
  local prior = st:approvals(r.name, w.name) or {}
  if #prior > 0 then
    local a = prior[#prior]
    io.stdout:write(string.format("wave %q of rollout %q was already approved by %s at %s%s\n", w.name, r.name,
      tostring(a.who), util.format_time(a.at, ctx.offset), a.why and a.why ~= "" and (": " .. a.why) or ""))
    st:close()
    return 0
  end
  local notify = require("otarun.notify")
  local ok, err = notify.decide(st, function() -- the approval and its event together
    assert(st:approve(r.name, w.name, opts.reason or ""))
    notify.record(st, { kind = "approve", rollout = r.name, wave = w.name, text = string.format("wave %q approved by %s%s",
      w.name, require("otarun.state").who(), opts.reason and (": " .. opts.reason) or "") })
  end)
  st:close()
  if not ok then failure.raise("error", "%s", err) end
  io.stdout:write(string.format("approved wave %q of rollout %q as %s%s; `otarun run` starts it when it is otherwise due\n",
    w.name, r.name, require("otarun.state").who(), opts.reason and (": " .. opts.reason) or ""))
  return 0
end

return M
