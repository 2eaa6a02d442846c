-- The plan and diagnostics for a person at a terminal, terraform-like: one block per rollout, one
-- line per wave with its action symbol, the reason, the earliest start, and the exact API calls.
-- Colour (ANSI) only when the caller says so (a terminal, no NO_COLOR, no --no-color).
local util = require("otarun.util")
-- loaded with the first call shown: `validate` prints diagnostics only, and starts faster without
local json, calls, params

local M = {}

M.SYMBOL = { create = "+", update = "~", replace = "-/+", cancel = "-", wait = "…", none = " " }
local COLOR = { create = "32", update = "33", replace = "35", cancel = "31", wait = "36", none = "0",
                error = "31", warning = "33", bold = "1", dim = "2" }

-- Everything a script, a policy or the platform wrote is printed through esc: a control character
-- shows as \xNN, so no text can fake a plan line or send a terminal escape (docs/trust.md).
local function esc(v)
  return (tostring(v):gsub("[%c\127]", function(ch) return string.format("\\x%02x", ch:byte()) end))
end
M.esc = esc

local function painter(on)
  if not on then return function(_, s) return s end end
  return function(what, s) return "\27[" .. COLOR[what] .. "m" .. s .. "\27[0m" end
end

local function location(d)
  local where = esc(d.file or "?") .. ":" .. esc(d.line or 0)
  local subject = ""
  if d.rollout then subject = " " .. esc(d.rollout) .. (d.wave and ("/" .. esc(d.wave)) or "") .. ":" end
  return where, subject
end

-- "file:line: error[rule-id] rollout/wave: message (param)"
function M.diagnostic_line(d, paint)
  paint = paint or painter(false)
  local where, subject = location(d)
  local sev = d.severity == "error" and "error" or "warning"
  return string.format("%s: %s%s %s%s", where, paint(sev, sev .. "[" .. esc(d.rule) .. "]"),
    subject, esc(d.message), d.param and (" (" .. esc(d.param) .. ")") or "")
end

local function plural(n, word)
  return string.format("%d %s%s", n, word, n == 1 and "" or "s")
end

-- The diagnostics, then "N errors, N warnings in N files (N rollouts, N waves)."
-- counts: { files =, rollouts =, waves = } (each optional)
function M.diagnostics(list, counts, opts)
  local paint = painter(opts and opts.color)
  local out = {}
  for _, d in ipairs(list) do out[#out + 1] = M.diagnostic_line(d, paint) end
  local errors, warnings = 0, 0
  for _, d in ipairs(list) do
    if d.severity == "error" then errors = errors + 1 else warnings = warnings + 1 end
  end
  counts = counts or {}
  local scope = {}
  if counts.files then scope[#scope + 1] = plural(counts.files, "file") end
  if counts.rollouts then scope[#scope + 1] = plural(counts.rollouts, "rollout") end
  if counts.waves then scope[#scope + 1] = plural(counts.waves, "wave") end
  local verdict = errors > 0 and paint("error", "invalid") or "valid"
  out[#out + 1] = string.format("%s: %s, %s%s.", verdict, plural(errors, "error"), plural(warnings, "warning"),
    #scope > 0 and (" (" .. table.concat(scope, ", ") .. ")") or "")
  return table.concat(out, "\n") .. "\n"
end

local function render_call(out, call)
  if not calls then
    json, calls, params = require("otarun.json"), require("otarun.plan.calls"), require("otarun.platform.params")
  end
  out[#out + 1] = "      " .. esc(call.action)
  local names = params.sorted_names(call.params)
  local width = 0
  for _, k in ipairs(names) do if #k > width then width = #k end end
  local fmt = "        %-" .. width .. "s = %s"
  for _, k in ipairs(names) do
    local v = call.params[k]
    -- a reference to a value that exists once an earlier call ran: readable text, not quoted
    local shown = calls.is_ref(v) and esc(tostring(v)) or json.quote(v)
    out[#out + 1] = string.format(fmt, esc(k), shown)
  end
end

local function render_wave(out, plan, w, paint)
  local sym = M.SYMBOL[w.action] or "?"
  local head = string.format("  %s %s: %s (%s, %s)", sym, esc(w.name), esc(w.action), esc(w.kind or "?"), esc(w.status))
  out[#out + 1] = paint(w.action, head) .. (w.job_id and ("  job " .. esc(w.job_id)) or "")
  -- one reason per line: the planner joins them with "; "
  for part in ((w.reason or "") .. "; "):gmatch("(.-); ") do
    if part ~= "" then out[#out + 1] = "      " .. esc(part) end
  end
  if w.earliest_start and w.status == "waiting" then
    out[#out + 1] = "      earliest start " .. util.format_time(w.earliest_start, plan.offset or 0)
  elseif w.status == "waiting" then
    out[#out + 1] = "      earliest start unknown"
  end
  for _, c in ipairs(w.calls or {}) do render_call(out, c) end
  out[#out + 1] = ""
end

function M.summary_line(s)
  return string.format("Plan: %d to create, %d to update, %d to replace, %d to cancel, %d waiting.",
    s.create, s.update, s.replace, s.cancel, s.wait)
end

-- The failed policy results as otarun.policy words them ("x" denies, "!" warns, "~" overridden).
local function policy_text(results)
  if not results or #results == 0 then return {} end
  return require("otarun.policy").lines(results)
end

local MODE_TEXT = { offline = "offline, platform state unknown", state = "from recorded state",
                    live = "compared with the platform" }

function M.plan(plan, opts)
  local paint = painter(opts and opts.color)
  local out = { string.format("otarun plan (%s) at %s", MODE_TEXT[plan.mode] or plan.mode,
    util.format_time(plan.now, plan.offset or 0)), "" }
  for _, r in ipairs(plan.rollouts) do
    local fw = r.firmware or {}
    out[#out + 1] = paint("bold", "rollout " .. esc(r.name)) .. string.format("  (%s:%s)", esc(r.file or "?"), esc(r.line or 0))
    out[#out + 1] = string.format("  product %s, region %s%s, firmware %s%s", esc(r.product or "?"), esc(r.region or "?"),
      r.instance and (", instance " .. esc(r.instance)) or "", esc(fw.id or "?"), fw.version and (" (" .. esc(fw.version) .. ")") or "")
    out[#out + 1] = ""
    for _, w in ipairs(r.waves) do render_wave(out, plan, w, paint) end
  end
  if #plan.rollouts == 0 then out[#out + 1] = "No rollouts." end
  local policy_lines = policy_text(plan.policies)
  if #policy_lines > 0 then
    out[#out + 1] = "Policies:"
    for _, l in ipairs(policy_lines) do out[#out + 1] = "  " .. paint(l:sub(1, 1) == "x" and "error" or "warning", esc(l)) end
    out[#out + 1] = ""
  end
  if #plan.diagnostics > 0 then
    for _, d in ipairs(plan.diagnostics) do out[#out + 1] = M.diagnostic_line(d, paint) end
    out[#out + 1] = ""
  end
  out[#out + 1] = paint("bold", M.summary_line(plan.summary))
  return table.concat(out, "\n") .. "\n"
end

return M
