-- The plan as Markdown for a pull-request comment: the summary line, one table row per wave
-- (rollout, wave, kind, status, action, earliest start), a collapsed <details> per wave with its
-- reason and exact API calls, then policy results and diagnostics.
local json = require("otarun.json")
local calls = require("otarun.plan.calls")
local params = require("otarun.platform.params")
local text = require("otarun.render.text")
local util = require("otarun.util")

local M = {}

-- Table cells: no line breaks, no bare pipes, no HTML.
local function cell(s)
  s = text.esc((tostring(s == nil and "" or s):gsub("[\r\n]+", " ")))
  return (s:gsub("[|<>&`]", { ["|"] = "\\|", ["<"] = "&lt;", [">"] = "&gt;",
                                                  ["&"] = "&amp;", ["`"] = "&#96;" }))
end

local function html(s)
  return (text.esc(s):gsub("[<>&]", { ["<"] = "&lt;", [">"] = "&gt;", ["&"] = "&amp;" }))
end

-- A code fence longer than any run of backticks inside the block.
local function fence_for(body)
  local longest = 2
  for run in body:gmatch("`+") do if #run > longest then longest = #run end end
  return string.rep("`", longest + 1)
end

local function calls_block(w)
  local lines = {}
  for _, c in ipairs(w.calls or {}) do
    lines[#lines + 1] = text.esc(c.action)
    for _, k in ipairs(params.sorted_names(c.params)) do
      local v = c.params[k]
      lines[#lines + 1] = "  " .. text.esc(k) .. " = " .. (calls.is_ref(v) and text.esc(tostring(v)) or json.quote(v))
    end
  end
  local body = table.concat(lines, "\n")
  local fence = fence_for(body)
  return fence .. "text\n" .. body .. "\n" .. fence
end

local function when(plan, w)
  if not w.earliest_start then return w.status == "waiting" and "unknown" or "" end
  return util.format_time(w.earliest_start, plan.offset or 0)
end

local MODE_TEXT = { offline = "offline — platform state unknown", state = "from recorded state",
                    live = "compared with the platform" }

function M.plan(plan)
  local out = { string.format("## otarun plan (%s)", MODE_TEXT[plan.mode] or plan.mode), "",
                string.format("**%s**", text.summary_line(plan.summary)), "",
                string.format("Evaluated at %s.", util.format_time(plan.now, plan.offset or 0)), "" }
  if #plan.rollouts > 0 then
    out[#out + 1] = "| rollout | wave | kind | status | action | earliest start |"
    out[#out + 1] = "|---|---|---|---|---|---|"
    for _, r in ipairs(plan.rollouts) do
      for _, w in ipairs(r.waves) do
        out[#out + 1] = string.format("| %s | %s | %s | %s | `%s` %s | %s |", cell(r.name), cell(w.name),
          cell(w.kind), cell(w.status), text.SYMBOL[w.action] or "?", cell(w.action), cell(when(plan, w)))
      end
    end
    out[#out + 1] = ""
  end
  for _, r in ipairs(plan.rollouts) do
    for _, w in ipairs(r.waves) do
      out[#out + 1] = string.format("<details><summary><code>%s/%s</code> %s %s: %s</summary>", html(r.name),
        html(w.name), html(text.SYMBOL[w.action] or "?"), html(w.action), html(w.reason or ""))
      out[#out + 1] = ""
      if #(w.calls or {}) > 0 then
        out[#out + 1] = calls_block(w)
        out[#out + 1] = ""
      end
      out[#out + 1] = "</details>"
      out[#out + 1] = ""
    end
  end
  if #(plan.policies or {}) > 0 then
    out[#out + 1] = require("otarun.policy").markdown(plan.policies)
    out[#out + 1] = ""
  end
  if #plan.diagnostics > 0 then
    out[#out + 1] = M.diagnostics_table(plan.diagnostics)
  end
  return table.concat(out, "\n") .. "\n"
end

function M.diagnostics_table(list)
  local out = { "## Diagnostics", "", "| severity | where | rule | subject | message |", "|---|---|---|---|---|" }
  for _, d in ipairs(list) do
    local subject = d.rollout and (d.rollout .. (d.wave and ("/" .. d.wave) or "")) or ""
    out[#out + 1] = string.format("| %s | %s:%d | %s | %s | %s%s |", cell(d.severity),
      cell(d.file or "?"), d.line or 0, cell(d.rule), cell(subject), cell(d.message),
      d.param and (" (" .. cell(d.param) .. ")") or "")
  end
  out[#out + 1] = ""
  return table.concat(out, "\n")
end

-- `otarun validate --format markdown` and a plan that stopped at errors.
function M.diagnostics(list, summary)
  local function n(count, word) return string.format("%d %s%s", count, word, count == 1 and "" or "s") end
  local head = string.format("**%s: %s, %s.**", summary.errors > 0 and "Invalid" or "Valid",
    n(summary.errors, "error"), n(summary.warnings, "warning"))
  if #list == 0 then return head .. "\n" end
  return head .. "\n\n" .. M.diagnostics_table(list)
end

return M
