-- The state store as plan, apply, run, status, approve, abort, resume and log use it: where it
-- lives (--state, OTARUN_STATE, .otarun/state.db), the lock with a holder's message, recording
-- rollouts and waves, the intent journal around every changing call, grouped writes (settle +
-- job + transition + audit in one transaction), halts, approvals, overrides, gate readings, the
-- audit log with who (user@host) and what, the state fingerprint, and JSON exports written
-- atomically. Params tables are stored as canonical JSON (sorted keys) without secret keys.
-- Uses otarun.core.store (the C store), otarun.core.sys, otarun.json, cjson (decoding).
local core = require("otarun.core.store")
local json = require("otarun.json")
local sys = require("otarun.core.sys")
local cjson = require("cjson")

local M = {}

M.DEFAULT_PATH = ".otarun/state.db"
M.SCHEMA_VERSION = core.SCHEMA_VERSION

-- ---- paths and identity ------------------------------------------------------------------------

-- The store's path from the command's options: --state, then OTARUN_STATE, then the default.
function M.resolve(opts)
  local p = opts and opts.state
  if p == nil or p == "" then p = os.getenv("OTARUN_STATE") end
  if p == nil or p == "" then p = M.DEFAULT_PATH end
  return p
end

-- A postgres:// or postgresql:// URL (docs/state.md) rather than a file?
M.is_url = core.is_url
-- The path as it may be shown: a URL without its password.
M.redact = core.redact

-- Resolves the path and creates its parent directory (a URL has none). -> path | nil, message
function M.path(opts)
  local p = M.resolve(opts)
  if core.is_url(p) then return p end
  local dir = p:match("^(.*)/[^/]*$")
  if dir and dir ~= "" then
    local ok, err = sys.mkdirs(dir)
    if not ok then return nil, err end
  end
  return p
end

-- The CI systems' own names for the person who started a job, in the order they are looked for
-- (docs/actions.md).
M.CI_ACTOR_VARIABLES = { "GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BITBUCKET_STEP_TRIGGERER_UUID",
  "CIRCLE_USERNAME", "BUILDKITE_BUILD_CREATOR", "BUILD_USER_ID", "DRONE_COMMIT_AUTHOR" }

-- Who acts, for the audit log and every human action's record: OTARUN_ACTOR, then the CI's own
-- variable, then $USER / $LOGNAME, then the user in the password database (a container or a CI
-- job often has no $USER), then the uid. -> "NAME@host"
function M.who()
  local function set(name)
    local v = os.getenv(name)
    return v ~= nil and v ~= "" and v or nil
  end
  local user = set("OTARUN_ACTOR")
  for _, name in ipairs(M.CI_ACTOR_VARIABLES) do user = user or set(name) end
  user = user or set("USER") or set("LOGNAME") or sys.user()
  return user .. "@" .. (sys.hostname() or "unknown")
end

-- ---- canonical JSON ----------------------------------------------------------------------------

-- Is this key one the store refuses (AccessKeySecret, SecurityToken, Signature, ...)?
M.secret_key = core.secret_key

-- Marks a table to encode as a JSON array even when empty.
M.array_mt = json.ARRAY

-- Canonical JSON (sorted keys, no secret keys at any depth; otarun.json); a string is taken as
-- JSON already.
function M.json(v)
  if v == nil then return nil end
  if type(v) == "string" then return v end
  return json.encode(v, { sorted = true, empty_object = true, omit = core.secret_key })
end

-- ---- the handle --------------------------------------------------------------------------------

local State = {}
State.__index = State
State.__close = function(self) self:close() end

-- ---- the shared API quota (docs/state.md, "Shared API quota") ---------------------------------

local quota = { path = nil, h = nil, warned = false }

-- Makes the process-wide rate limiter draw every call from the buckets of the store at `path`
-- (a URL: a store shared by several processes), through a handle of its own, opened on first use.
function M.share_quota(path)
  if quota.path == path then return end
  if quota.h then quota.h:close() end
  quota.path, quota.h = path, nil
  require("otarun.platform.ratelimit").shared():share(function(account, action, rate)
    if not quota.h then
      local h, err = core.open(quota.path)
      if not h then
        if not quota.warned then
          io.stderr:write("otarun: the shared API quota is unavailable (", err, "); pacing this process alone\n")
          quota.warned = true
        end
        return nil
      end
      quota.h = h
    end
    local now = sys.now()
    local slot = quota.h:quota_take(account, action, rate, now)
    return slot and slot - now or nil
  end)
end

-- The store handle with list() made strict: a damaged store (a column holding the wrong type,
-- docs/trust.md) stops the command with a clear error instead of reading as empty.
function M.guarded(h)
  return setmetatable({ raw = h }, { __index = function(_, k)
    local f = h[k]
    if k == "list" then
      return function(_, ...)
        local rows, err = f(h, ...)
        if not rows and tostring(err):find("state store is damaged", 1, true) then
          require("otarun.failure").raise("error", "%s", tostring(err))
        end
        return rows, err
      end
    end
    if type(f) ~= "function" then return f end
    return function(_, ...) return f(h, ...) end
  end })
end

-- open{state=, readonly=, command=, who=, now= (epoch or function), lock_timeout=,
--      scratch = true (a rehearsal's throw-away store: no gate readings, which only a later
--      process reads back)}
--   -> State | nil, message, code ("notstore", "newer", "notfound", "error", ...)
function M.open(opts)
  opts = opts or {}
  local path, err
  if opts.readonly then path = M.resolve(opts) else path, err = M.path(opts) end
  if not path then return nil, err, "error" end
  local h, msg, code = core.open(path, { readonly = opts.readonly or nil })
  if not h then return nil, msg, code end
  if core.is_url(path) then M.share_quota(path) end
  return setmetatable({
    h = M.guarded(h), file = h:path(), command = opts.command, who_ = opts.who or M.who(), clock = opts.now,
    lock_timeout = opts.lock_timeout or 0, scratch = opts.scratch or nil,
  }, State)
end

function State:close()
  if self.h then self.h:close() end
  self.h = nil
end

function State:path() return self.file end -- a URL without its password
function State:version() return self.h:version() end
function State:engine() return self.h:engine() end
-- false once the database session is lost: the command stops acting (docs/state.md, "Locks")
function State:connected() return self.h:connected() end

-- The time to record: --now or the simulated clock if given, else the wall clock.
function State:now()
  local c = self.clock
  if type(c) == "function" then return math.floor(c()) end
  if type(c) == "number" then return math.floor(c) end
  return math.floor(sys.now())
end

-- lock([timeout_seconds]) -> true, takeover (a dead holder's row) or nil
--   | nil, "PATH: state locked by pid N on host H since T (command)", "locked", holder
function State:lock(timeout)
  return self.h:lock(timeout or self.lock_timeout, self.command)
end

function State:unlock() return self.h:unlock() end

-- ---- locks per rollout (docs/state.md, "Locks") ------------------------------------------------

-- lock_rollout(name, [timeout]) -> true, takeover | nil, "... rollout "cam" locked by pid N ...", code
function State:lock_rollout(name, timeout)
  local ok, a, b = self.h:rollout_lock(name, timeout or 0, self.command)
  if ok then
    self.held = self.held or {}
    self.held[name] = true
  end
  return ok, a, b
end

function State:unlock_rollout(name)
  if self.held then self.held[name] = nil end
  return self.h:rollout_unlock(name)
end

function State:unlock_rollouts()
  for name in pairs(self.held or {}) do self:unlock_rollout(name) end
end
function State:locked() return self.h:locked() end
function State:holder() return self.h:holder() end

-- An environmental failure (nil, message from the core) raised inside a transaction body, so the
-- body stops and rolls back; the wrappers below turn it back into nil, message.
local EnvError = {}

local function must(ok, err, ...)
  if ok == nil then error(setmetatable({ message = err }, EnvError), 0) end
  return ok, err, ...
end

local function keep_env(e)
  if getmetatable(e) == EnvError then return e end
  return debug.traceback(tostring(e), 2)
end

-- -> true, results... | false, error object (rolled back)
local function run_tx(self, fn, ...)
  -- inside an open transaction a grouped write joins it (a decision and its notification event
  -- commit together, docs/notifications.md); a failure raises to the outer one, which rolls back
  if self.h:in_transaction() then return true, fn(self, ...) end
  local ok, err = self.h:begin()
  if not ok then return false, setmetatable({ message = err }, EnvError) end
  local res = table.pack(xpcall(fn, keep_env, self, ...))
  if not res[1] then
    self.h:rollback()
    return false, res[2]
  end
  ok, err = self.h:commit()
  if not ok then return false, setmetatable({ message = err }, EnvError) end
  return table.unpack(res, 1, res.n)
end

-- Runs fn(self, ...) in one transaction: committed if it returns, rolled back if it raises (the
-- error is raised again, as a message). -> fn's results
function State:transaction(fn, ...)
  local res = table.pack(run_tx(self, fn, ...))
  if not res[1] then
    local e = res[2]
    error(getmetatable(e) == EnvError and e.message or e, 0)
  end
  return table.unpack(res, 2, res.n)
end

-- A grouped write: true | nil, message for environmental failures; misuse still raises.
local function in_tx(self, fn)
  local ok, e = run_tx(self, fn)
  if ok then return true end
  if getmetatable(e) == EnvError then return nil, e.message end
  error(e, 0)
end

-- Runs fn(self) as one grouped write (joining an open transaction): true | nil, message for a
-- store failure (rolled back); a programming error still raises.
function State:group(fn) return in_tx(self, fn) end

-- ---- rollouts and waves ------------------------------------------------------------------------

-- Records a normalised rollout (otarun.core.validate) and its waves; existing waves keep their
-- state. -> true | nil, message
function State:record_rollout(r)
  local at = self:now()
  return in_tx(self, function()
    must(self.h:rollout_put{ name = r.name, file = r.file, product = r.product, region = r.region,
      firmware = r.firmware and r.firmware.id, at = at })
    for i, w in ipairs(r.waves or {}) do
      must(self.h:wave_put{ rollout = r.name, name = w.name, kind = w.kind, index = w.index or i, at = at })
    end
  end)
end

-- -> { name, product, ..., halted = bool, waves = { <rows by index> }, wave = { [name] = row } }
--    | nil (not recorded) | nil, message
function State:rollout(name)
  local rows, err = self.h:list("rollouts", { rollout = name })
  if not rows then return nil, err end
  local r = rows[1]
  if not r then return nil end
  r.halted = r.halted == 1
  r.waves, err = self.h:list("waves", { rollout = name })
  if not r.waves then return nil, err end
  r.wave = {}
  for _, w in ipairs(r.waves) do r.wave[w.name] = w end
  return r
end

function State:rollouts() return self.h:list("rollouts") end

-- -> changed (boolean) | nil, message
function State:transition(rollout, wave, to, why, job_id)
  return self.h:wave_transition{ rollout = rollout, wave = wave, to = to, why = why, job_id = job_id,
    at = self:now() }
end

-- ---- audit, halts, approvals, overrides, gates ---------------------------------------------------

local AUDIT_FIELDS = { "kind", "action", "rollout", "wave", "params", "result", "request_id" }

-- audit{kind, action, rollout, wave, params (table or JSON), result, request_id} -> id | nil, msg
function State:audit(e)
  for k in pairs(e) do
    local known = false
    for _, f in ipairs(AUDIT_FIELDS) do known = known or f == k end
    if not known then error("state:audit: unknown field " .. tostring(k), 2) end
  end
  return self.h:audit{ at = self:now(), who = self.who_, command = self.command, kind = e.kind,
    action = e.action, rollout = e.rollout, wave = e.wave, params = M.json(e.params),
    result = e.result, request_id = e.request_id }
end

-- Each of these changes state and says so in the audit log, atomically. -> true | nil, message
function State:halt(rollout, reason)
  return in_tx(self, function()
    must(self.h:rollout_halt(rollout, reason, self:now()))
    must(self:audit{ kind = "halt", rollout = rollout, result = reason })
  end)
end

function State:resume(rollout, why)
  return in_tx(self, function()
    must(self.h:rollout_unhalt(rollout, self:now()))
    must(self:audit{ kind = "resume", rollout = rollout, result = why })
  end)
end

function State:approve(rollout, wave, why)
  return in_tx(self, function()
    must(self.h:approval{ rollout = rollout, wave = wave, who = self.who_, why = why, at = self:now() })
    must(self:audit{ kind = "approval", rollout = rollout, wave = wave, result = why })
  end)
end

function State:approvals(rollout, wave)
  return self.h:list("approvals", { rollout = rollout, wave = wave })
end

-- override("policy.rule", reason, rollout, plan_fingerprint)
function State:override(rule, reason, rollout, plan_fingerprint)
  return in_tx(self, function()
    must(self.h:override{ rule = rule, reason = reason, rollout = rollout, who = self.who_,
      plan_fingerprint = plan_fingerprint, at = self:now() })
    must(self:audit{ kind = "override", action = rule, rollout = rollout, result = reason })
  end)
end

-- gate(rollout, wave, counts (table), verdict ("pass"|"wait"|"fail"), reason)
function State:gate(rollout, wave, counts, verdict, reason)
  -- a rehearsal's scratch store records no reading: only a later process (status, log, a
  -- restarted run, metrics) reads them back (docs/rehearse.md, "How a rehearsal ticks")
  if self.scratch then return true end
  return in_tx(self, function()
    local json = M.json(counts)
    must(self.h:gate_reading{ rollout = rollout, wave = wave, counts = json, verdict = verdict,
      reason = reason, at = self:now() })
    must(self:audit{ kind = "gate", rollout = rollout, wave = wave, action = verdict,
      params = json, result = reason })
  end)
end

function State:gate_readings(rollout, wave, limit)
  return self.h:list("gates", { rollout = rollout, wave = wave, limit = limit })
end

-- ---- jobs and the intent journal ---------------------------------------------------------------

-- job{job_id, rollout, wave, firmware, kind, params_fingerprint, identity, status, created_at}
function State:job(j)
  local t = {}
  for k, v in pairs(j) do t[k] = v end
  t.created_at = t.created_at or self:now()
  return self.h:job_put(t)
end

function State:job_status(job_id, status)
  return self.h:job_status(job_id, status, self:now())
end

function State:jobs(rollout, wave) return self.h:list("jobs", { rollout = rollout, wave = wave }) end

-- Durably records a changing call before it is sent; needs the lock.
-- intent{rollout, wave, action, params (table), identity} -> id | nil, message
function State:intent(i)
  return self.h:intent_begin{ rollout = i.rollout, wave = i.wave, action = i.action,
    params = M.json(i.params), identity = i.identity, at = self:now() }
end

-- The outcome of a call, all at once: the intent settled, the job recorded, the wave moved, the
-- call in the audit log.
-- record_call(id, { state = "settled"|"failed"|"unknown", job_id, result, request_id,
--   job = {...} | nil, transition = { rollout, wave, to, why } | nil,
--   audit = { action, rollout, wave, params } | nil }) -> true | nil, message
function State:record_call(id, r)
  return in_tx(self, function()
    local at = self:now()
    must(self.h:intent_settle(id, { state = r.state or "settled", job_id = r.job_id,
      result = r.result, at = at }))
    if r.job then
      local j = {}
      for k, v in pairs(r.job) do j[k] = v end
      j.job_id = j.job_id or r.job_id
      j.created_at = j.created_at or at
      must(self.h:job_put(j))
    end
    local t = r.transition
    if t then
      must(self.h:wave_transition{ rollout = t.rollout, wave = t.wave, to = t.to, why = t.why,
        job_id = t.job_id or r.job_id, at = at })
    end
    if r.audit then
      local a = r.audit
      must(self:audit{ kind = "call", action = a.action, rollout = a.rollout, wave = a.wave,
        params = a.params, result = r.result, request_id = r.request_id })
    end
  end)
end

-- Settles one intent alone (no job, transition or audit). -> true | nil, message
function State:settle(id, outcome)
  return self.h:intent_settle(id, { state = outcome.state or "settled", job_id = outcome.job_id,
    result = outcome.result, at = self:now() })
end

-- Intents a crash left open (pending or unknown), oldest first, params decoded into a table.
-- With the whole store locked, all of them (or the rollout's). Holding rollout locks only, or
-- `to_resolve` (the journal's recovery, about to act on them): only those of the rollouts this
-- handle holds, none when it holds none, since another process may be acting on the others right
-- now, its calls in flight (docs/state.md, "Locks").
function State:unsettled(rollout, to_resolve)
  local rows, err = self.h:list("unsettled", { rollout = rollout })
  if not rows then return nil, err end
  if not self.h:locked() and (to_resolve or (self.held and next(self.held))) then
    local mine = {}
    self.held = self.held or {}
    for _, row in ipairs(rows) do
      if row.rollout and self.held[row.rollout] then mine[#mine + 1] = row end
    end
    rows = mine
  end
  for _, row in ipairs(rows) do
    if row.params then
      local ok, t = pcall(cjson.decode, row.params)
      row.params = ok and t or row.params
    end
  end
  return rows
end

-- ---- reading back ------------------------------------------------------------------------------

-- log{rollout=, wave=, after=, limit=} -> audit rows, oldest first
function State:log(filter) return self.h:list("audit", filter) end
function State:transitions(rollout, wave) return self.h:list("transitions", { rollout = rollout, wave = wave }) end
function State:list(name, filter) return self.h:list(name, filter) end

-- What a saved plan over these rollouts depends on, as 64 hex digits.
function State:fingerprint(rollout_names) return self.h:fingerprint(rollout_names) end

local EXPORT_LISTS = { "rollouts", "waves", "transitions", "jobs", "intents", "gates", "approvals",
  "overrides", "audit" }

-- Writes every table (or those of one rollout) as JSON, atomically (temp file + rename).
function State:export(path, rollout)
  local doc = { format_version = "1", schema_version = self.h:version(), exported_at = self:now() }
  for _, name in ipairs(EXPORT_LISTS) do
    local rows, err = self.h:list(name, { rollout = rollout })
    if not rows then return nil, err end
    doc[name] = setmetatable(rows, M.array_mt)
  end
  return sys.write_atomic(path, M.json(doc) .. "\n")
end

return M
