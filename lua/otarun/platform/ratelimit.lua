-- The client-side rate limiter: per-action rates (the platform's per-account QPS)
-- and an optional overall ceiling. Requests are paced, not bursted: each action owns a "next free
-- slot" that advances by interval = 1 / rate * (1 + margin) per request, so no sliding one-second
-- window on the server ever sees more than `rate` requests, even with a little network jitter.
-- One shared instance (shared()) serves everything an otarun process does; tests make their own
-- with an injected clock. Uses: otarun.core.sys (monotonic clock, sleep) by default.
local M = {}

-- Per-account QPS of the IoT OTA operations; unknown actions get DEFAULT_RATE.
M.DEFAULT_LIMITS = {
  CreateOTADynamicUpgradeJob = 20, CreateOTAStaticUpgradeJob = 20,
  CancelOTAStrategyByJob = 10, CancelOTATaskByJob = 5,
  QueryOTAJob = 10, ListOTAJobByFirmware = 10, ListOTATaskByJob = 10,
  QueryOTAFirmware = 20, ListOTAFirmware = 10, CreateOTAVerifyJob = 10, CreateOTAFirmware = 10,
  QueryDeviceGroupList = 100, QueryDeviceDetail = 50,
  -- docs/platform-assumptions.md, "Task operations" and "Device operations"
  ReupgradeOTATask = 20, ConfirmOTATask = 20, CancelOTATaskByDevice = 10,
}
M.DEFAULT_RATE = 10
-- 1.5% slower than the nominal rate: one request per 50.75 ms at 20/s keeps 20 requests strictly
-- inside more than one second even when one of them is delayed by up to 0.7 ms on the way.
M.DEFAULT_MARGIN = 0.015
-- With a quota shared between processes (share()), 5%: at 10/s, 5 ms of jitter per request.
M.SHARED_MARGIN = 0.05

local Limiter = {}
Limiter.__index = Limiter

-- new{ limits = { Action = qps }, overall_qps = n|nil, margin =, clock = fn, sleep = fn }
function M.new(opts)
  opts = opts or {}
  local sys
  if not (opts.clock and opts.sleep) then sys = require("otarun.core.sys") end
  local l = setmetatable({
    rates = {}, next_at = {}, overall_next = nil,
    margin = opts.margin or M.DEFAULT_MARGIN,
    clock = opts.clock or sys.monotonic, sleep = opts.sleep or sys.sleep,
    waited = 0,
  }, Limiter)
  for action, qps in pairs(M.DEFAULT_LIMITS) do l.rates[action] = qps end
  l:configure(opts.limits, opts.overall_qps)
  return l
end

-- Sets rates (Action = qps; false removes a limit) and the overall ceiling (nil keeps it, false
-- removes it). Errors name the offending entry.
function Limiter:configure(limits, overall_qps)
  for action, qps in pairs(limits or {}) do
    if qps == false then
      self.rates[action] = false
    else
      assert(type(qps) == "number" and qps > 0,
        string.format("rate limit for %s must be a positive number of requests per second", action))
      self.rates[action] = qps
    end
  end
  if overall_qps == false then
    self.overall = nil
  elseif overall_qps ~= nil then
    assert(type(overall_qps) == "number" and overall_qps > 0, "overall_qps must be positive")
    self.overall = overall_qps
  end
end

function Limiter:rate(action)
  local r = self.rates[action]
  if r == nil then r = M.DEFAULT_RATE end
  return r or nil
end

-- A quota shared with other processes (docs/state.md, "Shared API quota"):
-- fn(account, action, rate) -> seconds until this request's slot | nil (no answer: the local
-- pacing stands alone). nil removes it.
function Limiter:share(fn) self.shared_fn = fn end

-- Reserves the next slot for action (and, with a shared quota, the account's slot) and sleeps
-- until it; returns the seconds waited.
function Limiter:acquire(action, account)
  local now = self.clock()
  local at = now
  local rate = self:rate(action)
  if rate and self.next_at[action] and self.next_at[action] > at then at = self.next_at[action] end
  if self.overall and self.overall_next and self.overall_next > at then at = self.overall_next end
  if rate then self.next_at[action] = at + (1 + self.margin) / rate end
  if self.overall then self.overall_next = at + (1 + self.margin) / self.overall end
  local wait = at - now
  if self.shared_fn and account and rate then
    -- a wider margin: several processes' requests reach the server with independent delays
    local w = self.shared_fn(account, action, rate / (1 + math.max(self.margin, M.SHARED_MARGIN)))
    if w and w > wait then wait = w end
  end
  if wait > 0 then
    self.sleep(wait)
    self.waited = self.waited + wait
  end
  return wait > 0 and wait or 0
end

-- After a throttled answer: nothing more for this action until `seconds` from now.
function Limiter:hold(action, seconds)
  local until_at = self.clock() + seconds
  if (self.next_at[action] or 0) < until_at then self.next_at[action] = until_at end
end

local shared
-- The process-wide limiter every client uses unless given its own.
function M.shared()
  if not shared then shared = M.new() end
  return shared
end

return M
