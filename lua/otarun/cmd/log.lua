-- otarun log FILE: the audit log of the rollouts in FILE from the state store: every decision,
-- gate reading, approval, halt, resume, abort and changing API call, with when, who and why.
local args = require("otarun.cli.args")
local control = require("otarun.control")
local util = require("otarun.util")

local M = {}

M.OPTIONS = { ["--rollout"] = "string", ["--wave"] = "string", ["--kind"] = "list", ["--limit"] = "int" }

M.HELP = [[
usage: otarun log FILE [--format text|json] [--rollout NAME] [--wave W] [--kind KIND] [--limit N]

Prints the audit log of the rollouts in FILE, oldest first: API calls that changed the platform,
gate readings, approvals, halts, resumes, aborts and decisions, with who (user@host) and why.

options:
  --format text|json      text lines (default) or JSON (docs/json.md)
  --rollout NAME, --wave W  only these
  --kind KIND             only entries of this kind: call, decision, gate, approval, override,
                          halt, resume, abort (repeatable)
  --limit N               only the last N entries
  --state PATH            the state store (.otarun/state.db; also OTARUN_STATE)

exit: 0, 1 error (no state store), 3 invalid script, 64 usage error
]]

local function run(argv)
  local opts, pos = control.parse(argv, M)
  if not opts then return 0 end
  if #pos ~= 1 then args.usage_error("log needs exactly one FILE") end
  local format = control.line_format(opts)
  local ctx, rollouts = control.load_selected(pos, opts, "log")
  local state = require("otarun.state")
  local st, err = state.open{ state = opts.state, readonly = true, command = "log" }
  if not st then control.fail(1, "%s", err) end
  local kinds
  if opts.kind then
    kinds = {}
    for _, k in ipairs(opts.kind) do kinds[k] = true end
  end
  local rows = {}
  for _, r in ipairs(rollouts) do
    for _, row in ipairs(st:log{ rollout = r.name, wave = opts.wave } or {}) do
      if not kinds or kinds[row.kind] then rows[#rows + 1] = row end
    end
  end
  st:close()
  table.sort(rows, function(a, b) return a.id < b.id end)
  if opts.limit and #rows > opts.limit then rows = { table.unpack(rows, #rows - opts.limit + 1) } end
  if format == "json" then
    local cjson = require("cjson")
    local out = {}
    for i, row in ipairs(rows) do
      local params = row.params
      if params then
        local ok, t = pcall(cjson.decode, params)
        params = ok and type(t) == "table" and require("otarun.json").object(t) or params
      end
      out[i] = { at = util.format_time(row.at, ctx.offset), who = row.who, command = row.command,
        kind = row.kind, rollout = row.rollout, wave = row.wave, action = row.action, params = params,
        result = row.result, request_id = row.request_id }
    end
    -- docs/schema/log.schema.json
    local json = require("otarun.json")
    io.stdout:write(json.encode({ format_version = "1.0", entries = json.array(out) }), "\n")
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

function M.main(argv) return control.guard("log", run, argv) end

return M
