-- Checks a decoded plan JSON document against the plan JSON document's shape: every documented key present with the
-- right type. Returns the list of problems (empty when the shape is right).
local cjson = require("cjson")

local M = {}

local function kind_of(v)
  if v == cjson.null then return "null" end
  if type(v) == "number" then return v == math.floor(v) and "integer" or "number" end
  if type(v) == "table" then return (next(v) == nil or v[1] ~= nil) and "array|object" or "object" end
  return type(v)
end

local function ok(v, want)
  local k = kind_of(v)
  for alt in want:gmatch("[^|]+") do
    if alt == k or (alt == "array" and k == "array|object") or (alt == "object" and k == "array|object")
        or (alt == "number" and k == "integer") then
      return true
    end
  end
  return false
end

local function check(problems, where, t, fields)
  for key, want in pairs(fields) do
    if not ok(t[key], want) then
      problems[#problems + 1] = string.format("%s.%s: want %s, got %s", where, key, want, kind_of(t[key]))
    end
  end
end

local TOP = { format_version = "string", generated_at = "string", mode = "string",
              state_fingerprint = "string|null", rollouts = "array", diagnostics = "array",
              policies = "array", summary = "object" }
local ROLLOUT = { name = "string", product = "string", firmware = "object", region = "string", waves = "array" }
local WAVE = { name = "string", kind = "string", status = "string", action = "string", reason = "string",
               waiting_for = "array", job_id = "string|null", earliest_start = "string|null", calls = "array" }
-- the typed wait conditions (docs/json.md, "Wait conditions") and their fields
local CONDITION = { gate = { wave = "string" }, pass = { wave = "string" }, missing_wave = { wave = "string" },
                    delay = { after = "string", seconds = "integer" }, start = { at = "string" },
                    window = { window = "string" }, approval = { command = "string" }, due = { at = "string" } }
local REF = { job = true, device_list_url = true }
local DIAG = { severity = "string", rule = "string", message = "string", file = "string", line = "integer",
               rollout = "string|null", wave = "string|null", param = "string|null" }
local POLICY = { policy = "string", rule = "string", level = "string", passed = "boolean",
                 overridden = "boolean", message = "string|null" }
local SUMMARY = { create = "integer", update = "integer", replace = "integer", cancel = "integer",
                  wait = "integer", errors = "integer", warnings = "integer" }
local STATUS = { waiting = true, ready = true, running = true, passed = true, done = true, superseded = true,
                 failed = true, cancelled = true }
local ACTION = { create = true, update = true, replace = true, cancel = true, wait = true, none = true }
local RFC3339 = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[Z+-]"

function M.problems(doc)
  local p = {}
  check(p, "plan", doc, TOP)
  if doc.format_version ~= "1.0" then p[#p + 1] = "format_version is not 1.0" end
  if not (doc.mode == "offline" or doc.mode == "state" or doc.mode == "live") then p[#p + 1] = "bad mode" end
  if type(doc.generated_at) == "string" and not doc.generated_at:match(RFC3339) then p[#p + 1] = "generated_at" end
  check(p, "summary", doc.summary or {}, SUMMARY)
  for i, r in ipairs(type(doc.rollouts) == "table" and doc.rollouts or {}) do
    local rw = "rollouts[" .. i .. "]"
    check(p, rw, r, ROLLOUT)
    check(p, rw .. ".firmware", type(r.firmware) == "table" and r.firmware or {}, { id = "string" })
    for j, w in ipairs(type(r.waves) == "table" and r.waves or {}) do
      local ww = rw .. ".waves[" .. j .. "]"
      check(p, ww, w, WAVE)
      if w.kind ~= "dynamic" and w.kind ~= "static" then p[#p + 1] = ww .. ".kind" end
      if not STATUS[w.status] then p[#p + 1] = ww .. ".status " .. tostring(w.status) end
      if not ACTION[w.action] then p[#p + 1] = ww .. ".action " .. tostring(w.action) end
      if type(w.earliest_start) == "string" and not w.earliest_start:match(RFC3339) then
        p[#p + 1] = ww .. ".earliest_start " .. w.earliest_start
      end
      for k, c in ipairs(type(w.waiting_for) == "table" and w.waiting_for or {}) do
        local fields = CONDITION[c.kind]
        if not fields then p[#p + 1] = ww .. ".waiting_for[" .. k .. "].kind " .. tostring(c.kind)
        else check(p, ww .. ".waiting_for[" .. k .. "]", c, fields) end
      end
      if w.status ~= "waiting" and type(w.waiting_for) == "table" and #w.waiting_for > 0 then
        p[#p + 1] = ww .. ".waiting_for: a " .. tostring(w.status) .. " wave waits for nothing"
      end
      for k, c in ipairs(type(w.calls) == "table" and w.calls or {}) do
        check(p, ww .. ".calls[" .. k .. "]", c, { action = "string", params = "object" })
        for name, v in pairs(type(c.params) == "table" and c.params or {}) do
          if type(v) == "table" then
            -- a reference: exactly { ref, wave }
            local n = 0
            for _ in pairs(v) do n = n + 1 end
            if not (REF[v.ref] and type(v.wave) == "string" and n == 2) then
              p[#p + 1] = ww .. ".calls[" .. k .. "].params." .. tostring(name) .. " is not a reference"
            end
          elseif type(name) ~= "string" or type(v) ~= "string" then
            p[#p + 1] = ww .. ".calls[" .. k .. "].params." .. tostring(name) .. " is not a string"
          end
        end
      end
    end
  end
  for i, d in ipairs(type(doc.diagnostics) == "table" and doc.diagnostics or {}) do
    check(p, "diagnostics[" .. i .. "]", d, DIAG)
  end
  for i, d in ipairs(type(doc.policies) == "table" and doc.policies or {}) do
    check(p, "policies[" .. i .. "]", d, POLICY)
  end
  return p
end

return M
