-- Notifications of a rollout's events (docs/notifications.md): which targets a rollout has (its
-- `notify` field and `run --notify URL`), recording events with the decisions that cause them
-- (M.record from the scheduler's emit, inside the decision's transaction where there is one),
-- the events a tick observes rather than decides (a wave waiting for approval, a rollout done),
-- and delivering what is recorded but not delivered: oldest first per target, a short timeout,
-- one failure per target per tick, retries with backoff on later ticks and a cap, every attempt
-- in the audit log. Secrets come from the environment at delivery time and are never stored;
-- URLs are stored and printed redacted.
-- Uses otarun.notify.outbox, otarun.notify.formats, otarun.core.http, otarun.core.sign, otarun.core.sys.
local outbox = require("otarun.notify.outbox")
local formats = require("otarun.notify.formats")

local M = {}

M.EVENTS = { "start", "pass", "halt", "approval", "drift", "done", "error", "approve", "abort", "resume" }
local KNOWN = {}
for _, e in ipairs(M.EVENTS) do KNOWN[e] = true end

M.TIMEOUT = 3          -- seconds one delivery may take, connection included
M.CONNECT_TIMEOUT = 2
M.BACKOFF = { 0, 30, 120, 600, 1800, 3600 } -- seconds after the previous attempt, per attempt
M.MAX_ATTEMPTS = #M.BACKOFF
M.MAX_PER_TICK = 50    -- deliveries per tick across all targets
M.TICK_BUDGET = 10     -- seconds of delivering per tick; what is left waits for the next tick

M.kind_of = outbox.kind_of

-- ---- targets -----------------------------------------------------------------------------------

-- The targets of rollout r: its `notify` entries, then one JSON target per extra URL.
-- env: fn(name) -> value (os.getenv). -> list of { url, shown, format, secret, key, wants,
-- problem } (problem: why it cannot be used, e.g. an unset variable; such a target is skipped)
function M.targets(r, extra, env)
  env = env or os.getenv
  local sign = require("otarun.core.sign")
  local out = {}
  local function add(spec, origin)
    local t = { format = spec.format or "json", origin = origin }
    local url = spec.url
    if not url and spec.url_env then
      url = env(spec.url_env)
      if url == nil or url == "" then
        t.problem = string.format("%s: url_env %s is not set", origin, spec.url_env)
      end
    end
    if url and url ~= "" then
      t.url, t.shown = url, formats.redact(url)
      local ok, why = require("otarun.core.http").check_url(url)
      if not ok then t.problem = origin .. ": " .. formats.scrub(why, formats.url_secrets(url)) end
    end
    if spec.secret_env and t.format ~= "slack" then
      local s = env(spec.secret_env)
      if s == nil or s == "" then
        t.problem = t.problem or string.format("%s: secret_env %s is not set", origin, spec.secret_env)
      else
        t.secret = s
      end
    end
    local on = {}
    for _, e in ipairs(spec.on or M.EVENTS) do on[e] = true end
    t.wants = function(e) return on[e] == true end
    t.on = spec.on or M.EVENTS
    -- the key names the target in the audit log without revealing its URL
    t.key = sign.sha256_hex((url or spec.url_env or "") .. "|" .. t.format):sub(1, 16)
    t.shown = t.shown or ("$" .. tostring(spec.url_env))
    out[#out + 1] = t
  end
  for i, spec in ipairs(r.notify or {}) do add(spec, string.format("rollout %q notify[%d]", r.name, i)) end
  for _, url in ipairs(extra or {}) do add({ url = url, format = "json" }, "--notify") end
  return out
end

-- ---- recording ---------------------------------------------------------------------------------

-- The scheduler's event kinds that are notifications, and how each occurrence is named (nil:
-- every emit is its own occurrence, the decision having been made once).
local FROM_SCHEDULER = {
  start = function(ev) return "start:" .. tostring(ev.wave) .. ":" .. tostring(ev.job_id) end,
  pass = false, halt = false, drift = false, error = false,
  approval = function(ev) return "approval:" .. tostring(ev.wave) end,
  done = function() return "done" end,
}

-- Two error texts that differ only in request ids and attempt counts are the same error.
local function same_error(a, b)
  local function norm(t) return (tostring(t):gsub("RequestId [%w-]+", "RequestId"):gsub("%[%d+ attempts?%]", "")) end
  return norm(a) == norm(b)
end

-- Records a scheduler event ev { kind, rollout, wave, job_id, text, counts, t } as a notification
-- event when it is one (start, pass, halt, drift, error; approve, abort and resume from their
-- commands). An error repeating the rollout's last event (but for request ids) is not recorded again.
-- -> id | nil
function M.record(st, ev)
  local naming = FROM_SCHEDULER[ev.kind]
  if naming == nil and not (ev.kind == "approve" or ev.kind == "abort" or ev.kind == "resume") then return nil end
  if not ev.rollout or not st then return nil end
  local occurrence = naming and naming(ev) or nil
  if occurrence and outbox.occurred(st, ev.rollout, occurrence) then return nil end
  if ev.kind == "error" then
    local last = outbox.last(st, ev.rollout, "error")
    local list = outbox.index(st).by_rollout[ev.rollout] or {}
    if last and list[#list] == last and same_error(last.text, ev.text) then return nil end
  end
  return outbox.write_event(st, { event = ev.kind, rollout = ev.rollout, wave = ev.wave, job_id = ev.job_id,
    text = ev.text, counts = ev.counts, at = ev.t, occurrence = occurrence })
end

-- Runs fn() in one store transaction, so a decision and the events it emits (M.record) commit
-- together or not at all. -> true | nil, message (a store failure, rolled back)
function M.decide(st, fn)
  return st:group(function() fn() end)
end

-- What a tick observed rather than decided: waves waiting only for an approval, rollouts done.
function M.observe(st, report, emit)
  for _, rr in ipairs(report.rollouts or {}) do
    for _, pw in ipairs(rr.waves or {}) do
      if pw.status == "waiting" and pw.spec and pw.spec.approve and pw.reasons and #pw.reasons == 1
          and (not pw.earliest_start or pw.earliest_start <= report.at)
          and not outbox.occurred(st, rr.name, "approval:" .. pw.name) then
        emit{ kind = "approval", rollout = rr.name, wave = pw.name,
          text = string.format("wave %q waits for an %s", pw.name, pw.reasons[1]) }
      end
    end
    for _, pw in ipairs(rr.waves or {}) do
      -- a start whose record a crash cut off (the job was recorded, the event not), or an adoption
      if pw.status == "running" and pw.job_id and not outbox.occurred(st, rr.name,
          "start:" .. pw.name .. ":" .. pw.job_id) then
        emit{ kind = "start", rollout = rr.name, wave = pw.name, job_id = pw.job_id,
          text = string.format("wave %q is running: job %s", pw.name, pw.job_id) }
      end
    end
    if rr.done and not outbox.occurred(st, rr.name, "done") then
      emit{ kind = "done", rollout = rr.name, text = string.format("rollout %s is done", rr.name) }
    end
  end
end

-- ---- delivery ----------------------------------------------------------------------------------

local Notifier = {}
Notifier.__index = Notifier

-- new{ extra = { urls }, env = getenv, log = fn(line), send = false (record only: rehearse) }
function M.new(o)
  o = o or {}
  return setmetatable({ extra = o.extra or {}, env = o.env or os.getenv, log = o.log,
    send = o.send ~= false, targets_of = {}, warned = {}, stats = { sent = 0, failed = 0 } }, Notifier)
end

-- At a tick's start: the rollouts' targets, each subscribed on first sight; the tick's delivery
-- budget (M.MAX_PER_TICK, M.TICK_BUDGET) starts afresh.
function Notifier:begin(st, rollouts)
  self.targets_of = {}
  self.budget = nil
  for _, r in ipairs(rollouts) do self:include(st, r) end
end

-- One more rollout of this tick (the scheduler adds each as it takes the rollout's lock): its
-- targets, each subscribed on first sight.
function Notifier:include(st, r)
  local list = {}
  for _, t in ipairs(M.targets(r, self.extra, self.env)) do
    if t.problem then
      if not self.warned[t.problem] and self.log then self.log("notify: " .. t.problem .. "; not sent") end
      self.warned[t.problem] = true
    else
      list[#list + 1] = t
      if self.send then outbox.subscribe(st, r.name, t.key, t.shown) end
    end
  end
  self.targets_of[r.name] = list
end

local function due(tries, now)
  if tries.attempts == 0 then return true end
  local wait = M.BACKOFF[tries.attempts + 1] or M.BACKOFF[#M.BACKOFF]
  return now >= (tries.last_at or 0) + wait
end

-- Sends one event to one target. -> true | nil, why
function Notifier:deliver_one(st, t, item, now)
  local sys = require("otarun.core.sys")
  local ev, n = item.event, item.tries.attempts + 1
  local req = formats.request(t, ev, math.floor(sys.now() * 1000))
  self.http = self.http or assert(require("otarun.core.http").client())
  local res, err = self.http:request{ method = "POST", url = req.url, headers = req.headers, body = req.body,
    timeout = M.TIMEOUT, connect_timeout = M.CONNECT_TIMEOUT, body_limit = 65536 }
  local ok, why = false, nil
  if res then ok, why = formats.accepted(t.format, res) else why = err end
  local secrets = formats.url_secrets(req.url)
  if t.secret then secrets[#secrets + 1] = t.secret end
  why = why and formats.scrub(why, secrets)
  local outcome = ok and "delivered" or (n >= M.MAX_ATTEMPTS and "gave-up" or "failed")
  outbox.attempt(st, ev, t.key, t.shown, n, outcome, res and res.status or nil, why)
  if self.log then
    self.log(string.format("notify: %s %s #%d to %s (attempt %d)%s", outcome, ev.event, ev.id, t.shown, n,
      why and (": " .. why) or ""))
  end
  if ok then self.stats.sent = self.stats.sent + 1 return true end
  self.stats.failed = self.stats.failed + 1
  return nil, why
end

-- Delivers what is pending, oldest first per target; a target whose oldest event fails (or waits
-- for its backoff) gets nothing more this tick, so order holds and a dead receiver costs one
-- timeout per tick.
-- only: deliver to the targets of that one rollout (the budget is the tick's, shared).
function Notifier:deliver(st, now, only)
  if not self.send then return end
  local clock = require("otarun.core.sys").monotonic
  self.budget = self.budget or { left = M.MAX_PER_TICK, stop_at = clock() + M.TICK_BUDGET }
  local b = self.budget
  for rollout, targets in pairs(self.targets_of) do
    if only == nil or rollout == only then
      for _, t in ipairs(targets) do
        for _, item in ipairs(outbox.pending(st, rollout, t.key, t.wants)) do
          if b.left <= 0 or clock() >= b.stop_at or not due(item.tries, now) then break end
          b.left = b.left - 1
          if not self:deliver_one(st, t, item, now) then break end
        end
      end
    end
  end
end

-- At a tick's end (the locks still held): record what the tick observed, then deliver.
function Notifier:finish(st, report, emit)
  M.observe(st, report, emit)
  self:deliver(st, report.at)
end

-- The same for one rollout's line of the tick's report, before its lock is let go (a runner
-- releases each rollout as soon as its part of the tick is done, docs/state.md "Locks").
function Notifier:finish_rollout(st, line, at, emit)
  M.observe(st, { rollouts = { line }, at = at }, emit)
  self:deliver(st, at, line.name)
end

-- { pending =, failed = } over the targets of the last tick (for the metrics).
function Notifier:totals(st)
  return outbox.totals(st, self.targets_of)
end

function Notifier:close()
  if self.http then self.http:close() self.http = nil end
end

-- The notifications a rehearsal would send: every recorded event matched against each target's
-- `on`. -> list of { at, event, rollout, wave, text, targets = { shown urls } }
function M.would_send(st, rollouts, extra)
  local ix = outbox.index(st)
  local out = {}
  for _, r in ipairs(rollouts) do
    local targets = M.targets(r, extra, function() return nil end)
    for _, ev in ipairs(ix.by_rollout[r.name] or {}) do
      local to = {}
      for _, t in ipairs(targets) do
        if t.wants(ev.event) then to[#to + 1] = { url = t.shown, format = t.format } end
      end
      if #to > 0 then
        out[#out + 1] = { id = ev.id, at = ev.at, event = ev.event, rollout = ev.rollout, wave = ev.wave,
          text = ev.text, job_id = ev.job_id, targets = to }
      end
    end
  end
  table.sort(out, function(a, b) return a.id < b.id end)
  return out
end

return M
