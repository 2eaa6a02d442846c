-- The notification outbox (docs/notifications.md), kept in the state store's audit log with no
-- table of its own: an event is an audit row written in the transaction of the decision that
-- caused it; every delivery attempt to a target is an audit row with its outcome; a target's
-- first sighting is a "subscribe" row naming the last event before it (older events are not
-- sent to it). Pending for a target = its rollout's events after its subscription that the
-- target wants and that have no delivered row for it. How these rows are spelled in the audit
-- table lives only in ROW below and in M.kind_of, so they can be re-pointed in one place.
-- An index of the rows, read incrementally (audit ids only grow), lives with the store handle.
-- Uses otarun.state (through the handle it is given), cjson.
local cjson = require("cjson")

local M = {}

-- The audit rows' spelling: events as decisions, deliveries as (outgoing) calls.
local ROW = { event = { kind = "decision", prefix = "event:" }, notify = { kind = "call", action = "notify" } }

-- The kind `otarun log` shows (and --kind filters on) for an audit row: "event", "notify" or its own.
function M.kind_of(row)
  if row.kind == ROW.event.kind and type(row.action) == "string"
      and row.action:sub(1, #ROW.event.prefix) == ROW.event.prefix then
    return "event"
  end
  if row.kind == ROW.notify.kind and row.action == ROW.notify.action then return "notify" end
  return row.kind
end

local indexes = setmetatable({}, { __mode = "k" })

local function decode(text)
  if type(text) ~= "string" then return {} end
  local ok, t = pcall(cjson.decode, text)
  return ok and type(t) == "table" and t or {}
end

local function new_index()
  return { last = 0, events = {}, by_rollout = {}, occurrences = {}, last_of = {}, subs = {}, tries = {} }
end

-- Reads the audit rows written since the last call into the handle's index. Inside an open
-- transaction the rows are not taken in (they may still roll back); the caller sees them next time.
function M.index(st)
  local ix = indexes[st]
  if not ix then ix = new_index() indexes[st] = ix end
  if st.h and st.h.in_transaction and st.h:in_transaction() then return ix end
  local rows = st:log{ after = ix.last } or {}
  for _, row in ipairs(rows) do
    ix.last = row.id
    local kind = M.kind_of(row)
    if kind == "event" then
      local p = decode(row.params)
      local ev = { id = row.id, event = row.action:sub(#ROW.event.prefix + 1), rollout = row.rollout,
        wave = row.wave, at = p.at or row.at, text = p.text or row.result, job_id = p.job_id,
        counts = p.counts, occurrence = p.occurrence }
      ix.events[row.id] = ev
      local list = ix.by_rollout[row.rollout or ""] or {}
      list[#list + 1] = ev
      ix.by_rollout[row.rollout or ""] = list
      if ev.occurrence then ix.occurrences[(row.rollout or "") .. "\0" .. ev.occurrence] = ev end
      ix.last_of[(row.rollout or "") .. "\0" .. ev.event] = ev
    elseif kind == "notify" then
      local p = decode(row.params)
      local tkey = (row.rollout or "") .. "\0" .. tostring(p.target)
      if p.step == "subscribe" then
        ix.subs[tkey] = ix.subs[tkey] or { since = math.tointeger(p.since) or 0 }
      elseif p.event then
        local tk = tkey .. "\0" .. tostring(math.tointeger(p.event) or p.event)
        local t = ix.tries[tk] or { attempts = 0 }
        t.attempts, t.last_at = p.attempt or (t.attempts + 1), row.at
        if p.outcome == "delivered" then t.delivered = true end
        if p.outcome == "gave-up" then t.gave_up = true end
        ix.tries[tk] = t
      end
    end
  end
  return ix
end

-- Has an event with this occurrence key been recorded for the rollout?
function M.occurred(st, rollout, occurrence)
  return M.index(st).occurrences[rollout .. "\0" .. occurrence] ~= nil
end

-- The rollout's last recorded event of a kind, or nil.
function M.last(st, rollout, event)
  return M.index(st).last_of[rollout .. "\0" .. event]
end

-- Writes event ev { event, rollout, wave, job_id, text, counts, occurrence } as an audit row,
-- in whatever transaction is open. -> id | nil, message
function M.write_event(st, ev)
  local counts
  if type(ev.counts) == "table" then
    counts = {}
    for k, v in pairs(ev.counts) do if type(v) == "number" then counts[k] = v end end
  end
  return st:audit{ kind = ROW.event.kind, action = ROW.event.prefix .. ev.event, rollout = ev.rollout,
    wave = ev.wave, result = ev.text, params = { at = ev.at or st:now(), text = ev.text, job_id = ev.job_id,
      counts = counts, occurrence = ev.occurrence } }
end

-- Subscribes target key `target` (redacted url `shown`) of a rollout, once: events recorded
-- before now are not sent to it.
function M.subscribe(st, rollout, target, shown)
  local ix = M.index(st)
  local tkey = rollout .. "\0" .. target
  if ix.subs[tkey] then return ix.subs[tkey] end
  local since = ix.last
  local id, err = st:audit{ kind = ROW.notify.kind, action = ROW.notify.action, rollout = rollout,
    params = { step = "subscribe", target = target, url = shown, since = since },
    result = "subscribed " .. shown .. " to the events after audit entry " .. since }
  if not id then return nil, err end
  ix.subs[tkey] = { since = since }
  return ix.subs[tkey]
end

-- Records one attempt: outcome "delivered" | "failed" | "gave-up", with the HTTP status and why.
function M.attempt(st, ev, target, shown, n, outcome, status, why)
  return st:audit{ kind = ROW.notify.kind, action = ROW.notify.action, rollout = ev.rollout, wave = ev.wave,
    params = { step = "attempt", event = ev.id, kind = ev.event, target = target, url = shown, attempt = n,
      outcome = outcome, status = status },
    result = string.format("%s %s #%d to %s (attempt %d)%s", outcome, ev.event, ev.id, shown, n,
      why and (": " .. why) or "") }
end

-- The events of `rollout` not yet delivered to target key `target`, oldest first, each with
-- its tries { attempts, last_at, delivered, gave_up }. wants(event kind) -> bool.
function M.pending(st, rollout, target, wants)
  local ix = M.index(st)
  local sub = ix.subs[rollout .. "\0" .. target]
  if not sub then return {} end
  local out = {}
  for _, ev in ipairs(ix.by_rollout[rollout] or {}) do
    if ev.id > sub.since and wants(ev.event) then
      local t = ix.tries[rollout .. "\0" .. target .. "\0" .. tostring(ev.id)] or { attempts = 0 }
      if not t.delivered and not t.gave_up then out[#out + 1] = { event = ev, tries = t } end
    end
  end
  return out
end

-- Counts over every subscribed target of the rollouts: { pending =, failed = } (failed: gave up).
function M.totals(st, targets_of)
  local ix = M.index(st)
  local pending, failed = 0, 0
  for tk, t in pairs(ix.tries) do
    if t.gave_up then failed = failed + 1 end
    local _ = tk
  end
  for rollout, targets in pairs(targets_of) do
    for _, t in ipairs(targets) do
      pending = pending + #M.pending(st, rollout, t.key, t.wants)
    end
  end
  return { pending = pending, failed = failed }
end

return M
