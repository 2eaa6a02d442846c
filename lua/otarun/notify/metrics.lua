-- `otarun run`'s Prometheus metrics (docs/metrics.md): the text exposition format (version
-- 0.0.4), written atomically to --metrics-file after each tick and served on /metrics by
-- --metrics-listen. Waves by state and halts come from the tick's report, devices by task status
-- from the last gate reading of each running wave, gate verdicts from the store's readings (so
-- they count across runs), API calls and throttled answers from the client, notifications from
-- the outbox. No URL, token or secret is a label.
-- Uses otarun.core.sys, otarun.core.httpd (with --metrics-listen).
local M = {}

M.CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

M.WAVE_STATES = { "waiting", "ready", "running", "passed", "done", "superseded", "failed", "cancelled" }
M.TASK_STATUSES = { "confirm", "queued", "notified", "in_progress", "succeeded", "failed", "cancelled" }
local VERDICTS = { "pass", "wait", "fail" }

local function escape(v)
  return (tostring(v):gsub("\\", "\\\\"):gsub("\n", "\\n"):gsub('"', '\\"'))
end

local function number(v)
  if v ~= v then return "NaN" end
  if v == math.huge then return "+Inf" elseif v == -math.huge then return "-Inf" end
  if math.type(v) == "integer" then return string.format("%d", v) end
  if v == math.floor(v) and math.abs(v) < 2^53 then return string.format("%d", math.floor(v)) end
  return string.format("%.17g", v)
end

-- Renders families { { name, help, type, samples = { { labels = { {k, v}, ... }, value } } } }.
function M.render(families)
  local out = {}
  for _, f in ipairs(families) do
    out[#out + 1] = string.format("# HELP %s %s", f.name, (f.help:gsub("\\", "\\\\"):gsub("\n", "\\n")))
    out[#out + 1] = string.format("# TYPE %s %s", f.name, f.type)
    for _, s in ipairs(f.samples) do
      local labels = {}
      for _, kv in ipairs(s.labels or {}) do labels[#labels + 1] = string.format('%s="%s"', kv[1], escape(kv[2])) end
      local set = #labels > 0 and ("{" .. table.concat(labels, ",") .. "}") or ""
      out[#out + 1] = f.name .. set .. " " .. number(s.value)
    end
  end
  return table.concat(out, "\n") .. "\n"
end

local Metrics = {}
Metrics.__index = Metrics

function M.new()
  return setmetatable({ devices = {}, verdicts = {}, gate_last = 0, report = nil, tick_seconds = nil,
    last_ok = nil, text = nil, client_stats = nil, notes = { pending = 0, failed = 0 } }, Metrics)
end

-- A scheduler event: gate readings give the devices of running waves.
function Metrics:event(ev)
  if ev.kind == "gate" and ev.rollout and ev.wave and type(ev.counts) == "table" then
    self.devices[ev.rollout .. "\0" .. ev.wave] = { rollout = ev.rollout, wave = ev.wave, counts = ev.counts }
  end
end

-- Reads the store's gate readings written since the last call into the verdict counts.
function Metrics:read_gates(st)
  local rows = st:list("gates", { after = self.gate_last }) or {}
  for _, row in ipairs(rows) do
    self.gate_last = row.id
    local key = row.rollout .. "\0" .. row.wave
    local v = self.verdicts[key] or { rollout = row.rollout, wave = row.wave, pass = 0, wait = 0, fail = 0 }
    v[row.verdict] = (v[row.verdict] or 0) + 1
    self.verdicts[key] = v
  end
end

-- After a tick: its report (nil when it failed), how long it took, the client's stats, the
-- notification totals.
function Metrics:tick(o)
  self.tick_seconds = o.seconds
  if o.report then
    self.report = o.report
    self.last_ok = o.finished_at
  end
  self.client_stats = o.client_stats or self.client_stats
  self.notes = o.notifications or self.notes
  if o.state then self:read_gates(o.state) end
  self.text = nil
end

local function sorted_values(t)
  local list = {}
  for k, v in pairs(t) do list[#list + 1] = { k = k, v = v } end
  table.sort(list, function(a, b) return a.k < b.k end)
  return list
end

function Metrics:families()
  local fam = {}
  local function family(name, type_, help)
    local f = { name = name, type = type_, help = help, samples = {} }
    fam[#fam + 1] = f
    return f
  end
  local waves = family("otarun_waves", "gauge", "Waves of each rollout by state.")
  local halted = family("otarun_rollout_halted", "gauge", "1 when the rollout is halted.")
  local running = {}
  for _, r in ipairs(self.report and self.report.rollouts or {}) do
    local by = {}
    for _, s in ipairs(M.WAVE_STATES) do by[s] = 0 end
    for _, w in ipairs(r.waves or {}) do
      by[w.status] = (by[w.status] or 0) + 1
      if w.status == "running" then running[r.name .. "\0" .. w.name] = true end
    end
    for _, s in ipairs(M.WAVE_STATES) do
      waves.samples[#waves.samples + 1] = { labels = { { "rollout", r.name }, { "state", s } }, value = by[s] }
    end
    halted.samples[#halted.samples + 1] = { labels = { { "rollout", r.name } }, value = r.halted and 1 or 0 }
  end
  local devices = family("otarun_wave_devices", "gauge",
    "Devices of each running wave by task status, from the wave's last gate reading.")
  for _, e in ipairs(sorted_values(self.devices)) do
    if running[e.k] then
      for _, s in ipairs(M.TASK_STATUSES) do
        devices.samples[#devices.samples + 1] = { labels = { { "rollout", e.v.rollout }, { "wave", e.v.wave },
          { "status", s } }, value = e.v.counts[s] or 0 }
      end
    end
  end
  local verdicts = family("otarun_gate_verdicts_total", "counter",
    "Gate readings recorded in the state store, by wave and verdict.")
  for _, e in ipairs(sorted_values(self.verdicts)) do
    for _, v in ipairs(VERDICTS) do
      verdicts.samples[#verdicts.samples + 1] = { labels = { { "rollout", e.v.rollout }, { "wave", e.v.wave },
        { "verdict", v } }, value = e.v[v] }
    end
  end
  local calls = family("otarun_api_requests_total", "counter",
    "API requests sent by this process (every attempt), by action.")
  local throttled = family("otarun_api_throttled_total", "counter",
    "API answers refused by flow control (Throttling*) in this process, by action.")
  for _, e in ipairs(sorted_values(self.client_stats and self.client_stats.by_action or {})) do
    calls.samples[#calls.samples + 1] = { labels = { { "action", e.k } }, value = e.v.requests }
    throttled.samples[#throttled.samples + 1] = { labels = { { "action", e.k } }, value = e.v.throttled }
  end
  local dur = family("otarun_tick_duration_seconds", "gauge", "How long the last tick took.")
  if self.tick_seconds then dur.samples[1] = { value = self.tick_seconds } end
  local last = family("otarun_last_successful_tick_timestamp_seconds", "gauge",
    "When the last tick that completed finished (Unix time).")
  if self.last_ok then last.samples[1] = { value = self.last_ok } end
  local pending = family("otarun_notifications_pending", "gauge",
    "Notifications recorded and not yet delivered to a target (retries included).")
  pending.samples[1] = { value = self.notes.pending or 0 }
  local failed = family("otarun_notifications_failed", "gauge",
    "Notifications given up after the last retry, per event and target.")
  failed.samples[1] = { value = self.notes.failed or 0 }
  return fam
end

function Metrics:text_now()
  self.text = self.text or M.render(self:families())
  return self.text
end

-- Writes the exposition to path atomically (temp file + rename). -> true | nil, message
function Metrics:write(path)
  return require("otarun.core.sys").write_atomic(path, self:text_now())
end

-- "127.0.0.1:PORT" -> a server answering GET /metrics. -> server | nil, message
function M.listen(spec)
  local host, port = tostring(spec):match("^%[?([%w%.:]-)%]?:(%d+)$")
  port = tonumber(port)
  if not host or not port or port > 65535 then
    return nil, string.format("--metrics-listen wants HOST:PORT such as 127.0.0.1:9464, got %q", tostring(spec))
  end
  if not require("otarun.core.http").is_loopback(host) then
    return nil, string.format("--metrics-listen %s: only a loopback address (127.0.0.1, ::1, localhost) is served; "
      .. "put a reverse proxy or node_exporter in front for remote scrapes", spec)
  end
  return require("otarun.core.httpd").listen{ host = host, port = port, allow_remote = false }
end

-- The request handler of the /metrics server.
function Metrics:handler()
  return function(req)
    if req.path ~= "/metrics" then return 404, { ["Content-Type"] = "text/plain" }, "not found: try /metrics\n" end
    if req.method ~= "GET" and req.method ~= "HEAD" then
      return 405, { ["Content-Type"] = "text/plain", Allow = "GET, HEAD" }, "GET /metrics\n"
    end
    return 200, { ["Content-Type"] = M.CONTENT_TYPE }, self:text_now()
  end
end

return M
