-- Saved plans (`otarun plan --out FILE`): the plan's JSON plus a `saved`
-- section with what `otarun apply FILE` needs to perform exactly that plan or refuse it as stale.
-- Written atomically (temp file + rename). Uses otarun.render.json, otarun.json,
-- otarun.core.sys (write_atomic), otarun.core.sign (sha256_hex), cjson (reading back).
--
-- Format (format "otarun-saved-plan/1"):
--   { "format_version": "1.0", "generated_at", "mode": "live"|"state"|"offline",
--     "state_fingerprint": "64 hex digits" | null,     -- state:fingerprint(rollout names) it saw
--     "rollouts": [ { "name", "product", "region", "instance", "file", "line", "firmware",
--         "waves": [ { "name", "line", "kind", "status", "action", "reason", "job_id",
--                      "earliest_start", "calls": [ { "action", "params": { flat strings } } ] } ] } ],
--     "diagnostics", "policies", "summary",
--     "saved": { "format": "otarun-saved-plan/1",
--                "now": epoch the plan was computed for, "offset": seconds east of UTC,
--                "rollouts": [ names, in plan order ]   -- what the fingerprint covers
--                "scripts": [ { "path": as given on the command line, "sha256": of its bytes } ],
--                "vars": { NAME = VALUE }, "region": --region | null,
--                "endpoint": --endpoint / OTARUN_ENDPOINT | null, "state": the store's path } }
-- Apply performs, rollout by rollout in order, each wave's `calls` in order (a wave removed from
-- a script appears first in its rollout with action "cancel"); the identity of a create is its
-- `Tag.N.Value` whose `Tag.N.Key` is "otarun". It refuses (exit 5) when the store's fingerprint
-- over saved.rollouts differs from state_fingerprint, or a script's sha256 differs.
local M = {}

M.FORMAT = "otarun-saved-plan/1"

local function file_sha256(path)
  local fh, err = io.open(path, "rb")
  if not fh then return nil, err end
  local text = fh:read("a")
  fh:close()
  return require("otarun.core.sign").sha256_hex(text)
end
M.file_sha256 = file_sha256

-- The `saved` section. info: files, vars, region, endpoint, state (path). -> table | nil, message
function M.section(plan, info)
  local json = require("otarun.json")
  local scripts = json.array({})
  for i, path in ipairs(info.files or {}) do
    local sum, err = file_sha256(path)
    if not sum then return nil, "cannot hash " .. path .. ": " .. tostring(err) end
    scripts[i] = { path = path, sha256 = sum }
  end
  local names = json.array({})
  for i, r in ipairs(plan.rollouts) do names[i] = r.name end
  local vars = json.object({})
  for k, v in pairs(info.vars or {}) do vars[k] = v end
  local null = require("cjson").null
  return { format = M.FORMAT, now = plan.now, offset = plan.offset or 0, rollouts = names,
           scripts = scripts, vars = vars,
           region = info.region or null, endpoint = info.endpoint or null, state = info.state or null }
end

-- Writes the saved plan to path atomically. -> true | nil, message
function M.write(path, plan, info)
  local rjson = require("otarun.render.json")
  local json = require("otarun.json")
  local doc = rjson.document(plan)
  local saved, err = M.section(plan, info)
  if not saved then return nil, err end
  doc.saved = saved
  -- the plan replaces a regular file or nothing: never a device (as root, /dev/full would be
  -- replaced), a directory, or the target of a symbolic link someone left there (docs/trust.md)
  local kind = require("otarun.core.sys").kind(path)
  if kind == "link" then
    return nil, string.format("cannot save the plan to %s: it is a symbolic link; give the path of the file itself", path)
  elseif kind and kind ~= "file" then
    return nil, string.format("cannot save the plan to %s: it exists and is not a regular file (it is %s)", path,
      kind == "directory" and "a directory" or "a device, pipe or socket")
  end
  local ok, werr = require("otarun.core.sys").write_atomic(path, json.encode(doc, { indent = "  " }) .. "\n")
  if not ok then return nil, string.format("cannot save the plan to %s: %s", path, tostring(werr)) end
  return true
end

-- Reads a saved plan. -> doc | nil, message
function M.read(path)
  local text, err = require("otarun.util").read_file(path)
  if not text then return nil, "cannot read the saved plan: " .. tostring(err) end
  local ok, doc = pcall(require("cjson").decode, text)
  if not ok or type(doc) ~= "table" then return nil, path .. " is not a saved plan (not JSON)" end
  if type(doc.saved) ~= "table" or doc.saved.format ~= M.FORMAT then
    return nil, path .. " is not a saved plan of this otarun (format " .. M.FORMAT .. ")"
  end
  return doc
end

-- The scripts whose bytes changed since the plan was saved. -> { "path: why"... } (empty: none)
function M.changed_scripts(doc)
  local out = {}
  for _, s in ipairs(doc.saved.scripts or {}) do
    local sum = file_sha256(s.path)
    if not sum then out[#out + 1] = s.path .. ": cannot be read"
    elseif sum ~= s.sha256 then out[#out + 1] = s.path .. ": changed since the plan was saved" end
  end
  return out
end

return M
