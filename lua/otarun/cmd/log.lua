-- otarun log FILE: the audit log of the rollouts in FILE from the state store: every decision,
-- gate reading, approval, halt, resume, abort and changing API call, with when, who and why;
-- notification events and delivery attempts show as kinds event and notify (otarun.notify).
local command = require("otarun.cli.command")
local failure = require("otarun.failure")
local util = require("otarun.util")

local M = {}

-- The kinds of audit entry (docs/state.md).
M.KINDS = { call = true, decision = true, gate = true, approval = true, override = true, halt = true,
  resume = true, abort = true, event = true, notify = true }

M.OPTIONS = { ["--rollout"] = "string", ["--wave"] = "string", ["--kind"] = "list", ["--limit"] = "int" }

M.HELP = [[
usage: otarun log FILE [--format text|json] [--rollout NAME] [--wave W] [--kind KIND] [--limit N]

Prints the audit log of the rollouts in FILE, oldest first: API calls that changed the platform,
gate readings, approvals, halts, resumes, aborts and decisions, with who (user@host) and why.

options:
  --format text|json      text lines (default) or JSON (docs/json.md)
  --rollout NAME, --wave W  only these
  --kind KIND             only entries of this kind: call, decision, gate, approval, override,
                          halt, resume, abort, event, notify (repeatable; event: a notification
                          event, notify: a delivery attempt, docs/notifications.md)
  --limit N               only the last N entries
  --state PATH            the state store (.otarun/state.db; also OTARUN_STATE)

exit: 0, 1 error (no state store), 3 invalid script, 64 usage error
]]

function M.main(argv)
  local opts, pos = command.parse(argv, M, "one")
  local kinds
  if opts.kind then
    kinds = {}
    for _, k in ipairs(opts.kind) do
      if not M.KINDS[k] then
        local names = {}
        for n in pairs(M.KINDS) do names[#names + 1] = n end
        table.sort(names)
        local best = require("otarun.util").closest(k, names)
        failure.raise("usage", "--kind %s is not a kind of entry%s: give one of %s", k,
          best and (" (did you mean " .. best .. "?)") or "", table.concat(names, ", "))
      end
      kinds[k] = true
    end
  end
  local format = command.line_format(opts)
  local ctx, rollouts = command.load_selected(pos, opts)
  local state = require("otarun.state")
  local st, err = state.open{ state = opts.state, readonly = true, command = "log" }
  if not st then failure.raise("error", "%s", err) end
  local rows = {}
  local kind_of = require("otarun.notify").kind_of
  for _, r in ipairs(rollouts) do
    for _, row in ipairs(st:log{ rollout = r.name, wave = opts.wave } or {}) do
      row.kind = kind_of(row) -- notification rows are shown as kinds event and notify
      if not kinds or kinds[row.kind] then rows[#rows + 1] = row end
    end
  end
  st:close()
  table.sort(rows, function(a, b) return a.id < b.id end)
  if opts.limit and #rows > opts.limit then rows = { table.unpack(rows, #rows - opts.limit + 1) } end
  if format == "json" then
    local json = require("otarun.json")
    local out = json.array{}
    for i, row in ipairs(rows) do
      -- params are stored as canonical JSON (otarun.state): written as they are
      local params = row.params
      if params and params:match("^[%[{]") then params = json.raw(params) end
      out[i] = json.object{ at = util.format_time(row.at, ctx.offset), who = row.who, command = row.command,
        kind = row.kind, rollout = row.rollout, wave = row.wave, action = row.action, params = params,
        result = row.result, request_id = row.request_id }
    end
    -- docs/schema/log.schema.json
    io.stdout:write(json.line(json.object{ format_version = "1.0", entries = out }))
    return 0
  end
  for _, row in ipairs(rows) do
    local where = (row.rollout or "") .. (row.wave and ("/" .. row.wave) or "")
    io.stdout:write(string.format("%s  %-22s %-8s %-9s %-24s %s%s\n", util.format_time(row.at, ctx.offset),
      tostring(row.who), tostring(row.command or ""), row.kind, where,
      row.action and (row.action .. " ") or "", row.result or ""))
  end
  if #rows == 0 then io.stdout:write("(no entries)\n") end
  return 0
end

return M
