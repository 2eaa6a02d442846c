-- Which rollouts a runner's tick takes, and in what order, when several runners share one store
-- (docs/state.md, "Locks"): each rollout's lock is taken as the tick reaches it, a rollout held by
-- another process is skipped, and runners started together walk the rollouts in orders of their
-- own so that they split the work.
-- Uses: otarun.core.sys (host and pid), the state store's rollout locks.
local M = {}

-- The order this process walks the rollouts in: the scripts' order, or with env.spread (several
-- runners on one store, `otarun run`) an order of its own, by a hash of each name and the runner
-- (host and pid), so runners started together take different rollouts first.
function M.order(sched, rollouts)
  if not sched.env.spread then return rollouts end
  local sys = require("otarun.core.sys")
  local me = string.format("%s:%d", sys.hostname() or "", sys.getpid())
  local key = {}
  for _, r in ipairs(rollouts) do
    local h = 2166136261 -- FNV-1a, 32 bits
    for i = 1, #r.name do h = ((h ~ r.name:byte(i)) * 16777619) & 0xffffffff end
    for i = 1, #me do h = ((h ~ me:byte(i)) * 16777619) & 0xffffffff end
    key[r] = h
  end
  local order = table.move(rollouts, 1, #rollouts, 1, {})
  table.sort(order, function(a, b)
    if key[a] ~= key[b] then return key[a] < key[b] end
    return a.name < b.name
  end)
  return order
end

-- With env.skip_ticked (`run` on the wall clock): did another process tick rollout r since this
-- tick began? Its record was then written after this tick's start (a second later at least, by
-- that process's clock), and this tick leaves it alone rather than read the platform for it again.
local function ticked_by_another(sched, r)
  if not sched.env.skip_ticked then return false end
  local rows = sched.state:list("rollouts", { rollout = r.name })
  local row = rows and rows[1]
  return row ~= nil and type(row.updated_at) == "number" and row.updated_at > sched.now
end

-- Takes rollout r's lock for this tick. -> true | false (skipped, a `skip` event emitted) |
-- nil, message (the store failed)
function M.take(sched, r)
  local st = sched.state
  local ok, err, code = st:lock_rollout(r.name, 0)
  if not ok then
    if code ~= "locked" then return nil, err end
    sched:emit{ kind = "skip", rollout = r.name, text = err }
    return false
  end
  if ticked_by_another(sched, r) then
    st:unlock_rollout(r.name)
    sched:emit{ kind = "skip", rollout = r.name, text = "ticked by another process since this tick began" }
    return false
  end
  return true
end

return M
