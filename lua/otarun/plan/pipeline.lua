-- The shared front half of validate / plan / apply / run: common options ->
-- evaluation context; each script loaded in its sandbox (otarun.lang.script); all declarations checked
-- and normalised together (otarun.core.validate, so cross-rollout rules see every file); the plan
-- built (otarun.plan). Diagnostics come back sorted by file, line, rollout, wave and rule.
local failure = require("otarun.failure")
local util = require("otarun.util")

local M = {}

M.FORMATS = { text = true, json = true, markdown = true }

-- Common options (as parsed from the command line) -> ctx: now, offset, vars, region, limits, format, color.
-- Raises a usage error (exit 64) for a bad value.
function M.context(opts)
  local ctx = { format = opts.format or "text", region = opts.region, vars = {}, offline = opts.offline == true }
  if not M.FORMATS[ctx.format] then
    failure.raise("usage", "--format must be text, json or markdown, got %q", ctx.format)
  end
  if opts.now then
    local epoch, offset = util.parse_time(opts.now)
    if not epoch then failure.raise("usage", "--now: %s", offset) end
    ctx.now, ctx.offset = epoch, offset
  else
    ctx.now, ctx.offset = math.floor(require("otarun.core.sys").now()), 0
  end
  for _, v in ipairs(opts.var or {}) do
    local name, value = v:match("^([%a_][%w_]*)=(.*)$")
    if not name then failure.raise("usage", "--var needs NAME=VALUE, got %q", v) end
    ctx.vars[name] = value
  end
  for _, o in ipairs({ { "max_memory", "--max-memory", "bytes" }, { "max_instructions", "--max-instructions", "instructions" },
                       { "max_seconds", "--max-seconds", "seconds" } }) do
    local v = opts[o[1]]
    if v ~= nil and not (v > 0 and v < math.huge) then
      failure.raise("usage", "%s must be a positive number of %s, got %s", o[2], o[3], tostring(v))
    end
  end
  if opts.max_seconds and opts.max_seconds > 86400 then
    failure.raise("usage", "--max-seconds must be at most 86400, got %s", tostring(opts.max_seconds))
  end
  -- --max-seconds bounds every sandboxed run of this process: scripts, policies, gate checks
  if opts.max_seconds then require("otarun.lang.sandbox").DEFAULT_SECONDS = opts.max_seconds end
  ctx.limits = { memory = opts.max_memory, instructions = opts.max_instructions, seconds = opts.max_seconds }
  ctx.color = ctx.format == "text" and not opts.no_color and os.getenv("NO_COLOR") == nil
              and require("otarun.core.sys").isatty(1)
  return ctx
end

-- A full collection between phases keeps the peak near the live data for large plans; small
-- ones (under 16 MB of Lua heap) are not worth the pause.
function M.collect()
  if collectgarbage("count") > 16 * 1024 then collectgarbage("collect") end
end

local function diag_less(a, b)
  if (a.file or "") ~= (b.file or "") then return (a.file or "") < (b.file or "") end
  if (a.line or 0) ~= (b.line or 0) then return (a.line or 0) < (b.line or 0) end
  if (a.rollout or "") ~= (b.rollout or "") then return (a.rollout or "") < (b.rollout or "") end
  if (a.wave or "") ~= (b.wave or "") then return (a.wave or "") < (b.wave or "") end
  if (a.rule or "") ~= (b.rule or "") then return (a.rule or "") < (b.rule or "") end
  if (a.message or "") ~= (b.message or "") then return (a.message or "") < (b.message or "") end
  return a._seq < b._seq
end

-- The order of diag_less as one string per diagnostic, compared by table.sort's own comparison
-- (thousands of diagnostics sort in a fraction of the comparator's time): the fields joined by
-- "\0", which sorts below every other byte, the line zero-padded, the position last. nil when a
-- field would break that (not a string, a "\0" inside, a line that is not a small non-negative
-- integer): the comparator then sorts.
local KEY_FIELDS = { "file", "rollout", "wave", "rule", "message" }
local function sort_key(d, i)
  local line = d.line or 0
  if math.type(line) ~= "integer" or line < 0 or line > 999999999 then return nil end
  for _, f in ipairs(KEY_FIELDS) do
    local v = d[f]
    if v ~= nil and (type(v) ~= "string" or v:find("\0", 1, true)) then return nil end
  end
  return string.format("%s\0%09d\0%s\0%s\0%s\0%s\0%09d", d.file or "", line, d.rollout or "", d.wave or "",
    d.rule or "", d.message or "", i)
end

function M.sort_diagnostics(list)
  local keys, of = {}, {}
  for i, d in ipairs(list) do
    local k = sort_key(d, i)
    if not k then keys = nil break end
    keys[i], of[k] = k, d
  end
  if keys then
    table.sort(keys)
    for i, k in ipairs(keys) do list[i] = of[k] end
    return list
  end
  for i, d in ipairs(list) do d._seq = i end
  table.sort(list, diag_less)
  for _, d in ipairs(list) do d._seq = nil end
  return list
end

local function summary_of(diagnostics)
  local s = { errors = 0, warnings = 0 }
  for _, d in ipairs(diagnostics) do
    if d.severity == "error" then s.errors = s.errors + 1 else s.warnings = s.warnings + 1 end
  end
  return s
end


-- check(files, ctx [, validate]) -> result | nil, message (the validator is missing):
--   { diagnostics (sorted), rollouts (normalised), counts = { files, rollouts, waves },
--     summary = { errors, warnings }, ok = no error diagnostics }
-- validate: an object with check(decls, opts) (default: otarun.core.validate; specs pass fakes).
function M.check(files, ctx, validate)
  local all, diagnostics = {}, {}
  local waves = 0
  for _, path in ipairs(files) do
    local decls, diags = require("otarun.lang.script").load(path, { vars = ctx.vars, now = ctx.now, limits = ctx.limits })
    for _, d in ipairs(diags or {}) do diagnostics[#diagnostics + 1] = d end
    for _, d in ipairs(decls or {}) do
      all[#all + 1] = d
      waves = waves + #(d.waves or {})
    end
  end
  -- Full collections between phases keep the peak near the live data: the compiled scripts and
  -- their sandboxes, then the raw declarations, are garbage once the next phase has its input.
  M.collect()
  local rollouts, ndecls = {}, #all
  if ndecls > 0 then
    local v = validate or require("otarun.core.validate")
    local res = v.check(all, { region = ctx.region, now = ctx.now })
    for _, d in ipairs(res.diagnostics or {}) do diagnostics[#diagnostics + 1] = d end
    rollouts = res.rollouts or {}
  end
  all = nil
  M.collect()
  M.sort_diagnostics(diagnostics)
  local summary = summary_of(diagnostics)
  return { diagnostics = diagnostics, rollouts = rollouts, summary = summary, ok = summary.errors == 0,
           counts = { files = #files, rollouts = ndecls, waves = waves } }
end

-- Live and state modes: refresh (live), the diff against what exists, and the platform checks,
-- whose diagnostics join the others. -> diff | nil, message (the platform could not be read)
local function compare(res, ctx)
  local diff = require("otarun.plan.diff")
  local snapshot
  if ctx.mode == "live" then
    local err, where
    local client_for = ctx.client_for or function() return ctx.client, "client" end
    snapshot, err, where = require("otarun.plan.refresh").read_all(client_for, res.rollouts,
      { known_jobs = diff.known_jobs(ctx.state, res.rollouts) })
    if not snapshot then return nil, M.platform_error(err, where) end
    res.refresh_calls = snapshot.calls
  end
  local d = diff.new{ rollouts = res.rollouts, snapshot = snapshot, state = ctx.state, mode = ctx.mode,
                      now = ctx.now }
  if snapshot then
    local checks = require("otarun.plan.platform_checks").run(res.rollouts, snapshot, function(r, w)
      return d.per[r.name].jobs[w.name] ~= nil
    end, function(r, job) return d:owns(r, job) end)
    if #checks > 0 then
      for _, c in ipairs(checks) do res.diagnostics[#res.diagnostics + 1] = c end
      M.sort_diagnostics(res.diagnostics)
      res.summary = summary_of(res.diagnostics)
      res.ok = res.summary.errors == 0
    end
  end
  return d
end

-- A failed platform read as a person reads it: where, what, and what to check. Never a secret:
-- client errors carry codes and the platform's messages only.
function M.platform_error(err, rollout)
  local where = rollout and string.format(" for rollout %q (%s)", rollout.name or "?", rollout.region or "?") or ""
  if type(err) ~= "table" then return "cannot read the platform" .. where .. ": " .. tostring(err) end
  local hint = ""
  if err.kind == "transport" then
    hint = "; is the endpoint right and reachable? (--endpoint, OTARUN_ENDPOINT), or plan with --offline"
  elseif err.code and (err.code:match("AccessKey") or err.code:match("Signature") or err.code:match("Forbidden")
      or err.code:match("Permission") or err.code:match("Token")) then
    hint = "; check the credentials (ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET, or --profile)"
  elseif err.kind == "throttled" then
    hint = "; the platform kept refusing for flow control, try again later"
  end
  return string.format("cannot read the platform%s: %s%s", where, tostring(err), hint)
end

-- plan(files, ctx [, validate]) -> result of check, plus result.plan when the scripts are valid.
-- ctx.mode "live" (ctx.client_for(rollout) -> client, key, or one ctx.client for every rollout)
-- or "state" also needs ctx.state (an
-- otarun.state handle, or nil when there is no store yet): the plan is then the diff against the
-- platform (live) or the recorded state, with state_fingerprint set (unless ctx.no_fingerprint:
-- `plan --offline` over a store's records). ctx.before_compare(rollouts), when given, runs once
-- the scripts are valid and before the platform or the store is read (apply takes the rollouts'
-- locks there, so the plan is made under them). -> nil, message when the platform cannot be read.
function M.plan(files, ctx, validate)
  local res, err = M.check(files, ctx, validate)
  if not res or not res.ok then return res, err end
  if ctx.before_compare then ctx.before_compare(res.rollouts) end
  local d
  if ctx.mode == "live" or ctx.mode == "state" then
    d, err = compare(res, ctx)
    if not d then return nil, err end
    if not res.ok then return res end
  end
  res.plan = require("otarun.plan").build(res.rollouts, {
    now = ctx.now, offset = ctx.offset, mode = ctx.mode or "offline",
    diagnostics = res.diagnostics, observed = ctx.observed, diff = d,
    state_fingerprint = d and not ctx.no_fingerprint and d:fingerprint(res.rollouts) or nil,
  })
  if not d or d.mode ~= "live" then res.plan.notes = { require("otarun.plan.platform_checks").SKIPPED }
  else
    -- how many devices each percent wave reaches, from the platform's counts (otarun.plan.reach)
    local client_for = ctx.client_for or function() return ctx.client end
    res.refresh_calls = (res.refresh_calls or 0) + require("otarun.plan.reach").annotate(res.plan, res.rollouts, client_for)
    -- static waves due now over devices still pending in an earlier wave (otarun.plan.overlap)
    local found, calls = require("otarun.plan.overlap").check(res.plan, res.rollouts, client_for)
    res.refresh_calls = res.refresh_calls + calls
    if #found > 0 then
      for _, f in ipairs(found) do res.diagnostics[#res.diagnostics + 1] = f end
      M.sort_diagnostics(res.diagnostics)
      res.summary = summary_of(res.diagnostics)
      res.plan.summary = require("otarun.plan").summarize(res.plan.rollouts, res.diagnostics)
    end
  end
  res.plan.refresh_calls = res.refresh_calls
  return res
end

-- Renders diagnostics alone (validate, or a plan stopped by errors) in ctx.format.
function M.render_diagnostics(res, ctx)
  if ctx.format == "json" then
    local s = { errors = res.summary.errors, warnings = res.summary.warnings, files = res.counts.files,
                rollouts = res.counts.rollouts, waves = res.counts.waves }
    return require("otarun.render.json").diagnostics(res.diagnostics, s)
  elseif ctx.format == "markdown" then
    return require("otarun.render.markdown").diagnostics(res.diagnostics, res.summary)
  end
  return require("otarun.render.text").diagnostics(res.diagnostics, res.counts, { color = ctx.color })
end

function M.render_plan(plan, ctx)
  if ctx.format == "json" then return require("otarun.render.json").plan(plan) end
  if ctx.format == "markdown" then return require("otarun.render.markdown").plan(plan) end
  return require("otarun.render.text").plan(plan, { color = ctx.color })
end

return M
