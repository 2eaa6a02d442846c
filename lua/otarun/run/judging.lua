-- Steps 2 and 3 of a tick (otarun.run.scheduler): what a tripped gate owes, gate readings and
-- their history, auto-confirmation, the firmware's own failures, and judging a running wave
-- (halting the rollout when its gate trips). Methods of the scheduler's tick object, added by
-- install(Sched).
-- Uses otarun.run.gate, otarun.run.stop, otarun.run.failures, otarun.run.auto_confirm, otarun.notify.
local gate = require("otarun.run.gate")
local stop = require("otarun.run.stop")
local notify = require("otarun.notify")
local failures = require("otarun.run.failures")
local auto_confirm = require("otarun.run.auto_confirm")

local M = {}

function M.install(Sched)
  -- The calls a tripped gate owes: cancel the strategy (dynamic), and the pending tasks ("abort").
  function Sched:follow_up(r, w, job_id)
    self:changed(r)
    local failures = stop.job(self.state, self.client, r, w.name, job_id, { strategy = w.kind == "dynamic",
      pending = w.on_fail == "abort", first_failure = true })
    for _, f in ipairs(failures) do
      self:emit{ kind = "error", rollout = r.name, wave = w.name, text = "cancelling " .. f.what .. ": " .. tostring(f.err) }
    end
  end

  function Sched:readings(r, w)
    local key = r.name .. "/" .. w.name
    local h = self.history[key]
    if not h then
      h = {}
      local cjson = require("cjson")
      for _, row in ipairs(self.state:gate_readings(r.name, w.name) or {}) do
        local ok, c = pcall(cjson.decode, row.counts or "{}")
        h[#h + 1] = { at = row.at, verdict = row.verdict, reason = row.reason, counts = ok and c or {} }
      end
      self.history[key] = h
    end
    while #h > gate.HISTORY do table.remove(h, 1) end
    return h
  end

  -- `run --auto-confirm`: confirms the waiting devices of running and passed waves with
  -- confirm = true while their window is open (otarun.run.auto_confirm).
  function Sched:confirm_waiting(r)
    local rec = self.state:rollout(r.name)
    if rec.halted then return end
    for _, w in ipairs(r.waves) do
      local row = rec.wave[w.name]
      if w.confirm and row and (row.state == "running" or row.state == "passed") then
        local n, err = auto_confirm.run(self, r, w, row)
        if not n then
          self:emit{ kind = "error", rollout = r.name, wave = w.name, text = "confirming waiting devices: " .. tostring(err.message or err) }
        elseif n > 0 then
          self:emit{ kind = "confirm", rollout = r.name, wave = w.name, job_id = row.job_id,
            text = string.format("%d device%s confirmed (--auto-confirm)", n, n == 1 and "" or "s") }
        end
      end
    end
  end

  -- Leaves out of the FAILED count what is not the firmware's failure (otarun.run.failures).
  function Sched:firmware_failures(r, w, job_id, counts)
    self.failed_prev = self.failed_prev or {}
    local key = r.name .. "/" .. w.name
    local out, err, calls = failures.adjust(self.client, job_id, counts, w, self.failed_prev[key],
      { now = self.now, instance = r.instance })
    if out then calls, err = err, nil end
    self.calls = self.calls + (calls or 0)
    if out then self.failed_prev[key] = out end
    return out, err
  end

  function Sched:judge(r, w, row)
    local st = self.state
    if not w.gate then
      self:changed(r)
      notify.decide(st, function()
        st:transition(r.name, w.name, "passed", "no gate")
        st:audit{ kind = "decision", action = "passed", rollout = r.name, wave = w.name, result = "no gate" }
        self:emit{ kind = "pass", rollout = r.name, wave = w.name, job_id = row.job_id,
          text = string.format("wave %q passed (no gate)", w.name) }
      end)
      return
    end
    local counts, err, calls = gate.read(self.client, row.job_id, { instance = r.instance })
    if counts then calls = err end
    self.calls = self.calls + (calls or 0)
    if counts then counts, err = self:firmware_failures(r, w, row.job_id, counts) end
    if not counts then
      self:emit{ kind = "error", rollout = r.name, wave = w.name, text = "reading the gate: " .. tostring(err) }
      return
    end
    local started = row.started_at or self.now
    if w.start and w.start > started then started = w.start end -- a scheduled static job
    local history = w.gate.check and self:readings(r, w) or {}
    local verdict, reason = gate.evaluate(counts, w.gate, { now = self.now, started_at = started,
      history = history, rollout = r.name, wave = w.name, check_limits = self.env.check_limits })
    local note = failures.note(counts)
    if note then reason = reason .. " (" .. note .. ")" end
    st:gate(r.name, w.name, counts, verdict, reason)
    if w.gate.check then history[#history + 1] = { at = self.now, verdict = verdict, reason = reason, counts = counts } end
    self:emit{ kind = "gate", rollout = r.name, wave = w.name, job_id = row.job_id, counts = counts,
      verdict = verdict, text = string.format("gate of %q: %s: %s", w.name, verdict, reason) }
    if verdict ~= "wait" then self:changed(r) end -- the wave moves on: plan it again
    if verdict == "pass" then
      notify.decide(st, function()
        st:transition(r.name, w.name, "passed", "gate passed: " .. reason)
        st:audit{ kind = "decision", action = "passed", rollout = r.name, wave = w.name, result = reason }
        self:emit{ kind = "pass", rollout = r.name, wave = w.name, job_id = row.job_id, counts = counts,
          text = string.format("wave %q passed its gate: %s", w.name, reason) }
      end)
    elseif verdict == "fail" then
      -- the decision first, durably; the calls it owes follow (and are finished by a later tick
      -- if this process dies in between)
      local why = string.format("gate of wave %q tripped: %s", w.name, reason)
      notify.decide(st, function()
        st:transition(r.name, w.name, "failed", "gate tripped: " .. reason)
        st:halt(r.name, why)
        self:emit{ kind = "fail", rollout = r.name, wave = w.name, text = why }
        self:emit{ kind = "halt", rollout = r.name, wave = w.name, job_id = row.job_id, counts = counts,
          text = "rollout " .. r.name .. " halted: " .. why }
      end)
      self:follow_up(r, w, row.job_id)
    end
  end
end

return M
