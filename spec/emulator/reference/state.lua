-- Saving and restoring the emulator's model (otarun emulator --state FILE): export(emu) turns the
-- store, the simulation's event queue and the clock into a plain JSON-able table; import(emu, t)
-- rebuilds them into an empty emulator so that it carries on exactly as the saved one would have
-- (same task states after the same clock advances, same next identifiers). Indexes that follow from
-- the saved data (names, positions, task_of, firmware and job maps) are rebuilt, not saved; the
-- closures of static and verification jobs are reattached by ops_jobs.attach. Gateway state
-- (nonces, QPS windows, faults, request counters) is not the model's and is not saved.
--
-- JSON through lua-cjson 2.1.0 loses three things, handled here: numbers are written with 14
-- significant digits (a non-integral float is saved as { ["$f"] = "%a" text }, an integer of 10^14
-- or more as { ["$i"] = "decimal" }), every number is read back as a float (whole ones become
-- integers again), and a nil inside an array cannot be written (sparse columns save false).
-- Uses: store.lua, sim.lua, ids.lua (the generator), ops_jobs.lua (attach), cjson.
local cjson = require("cjson")
local store_mod = require("otarun.emulator.store")
local sim_mod = require("otarun.emulator.sim")
local int_list_json = require("otarun.core.fleet").int_list_json

local M = {}

M.FORMAT = "otarun-emulator-state"
M.VERSION = 1

local BIG = 1e14
local tointeger, mtype = math.tointeger, math.type

-- Numbers ---------------------------------------------------------------------------------------

local function enc(v)
  if type(v) ~= "number" then return v end
  if mtype(v) == "integer" then
    if v >= BIG or v <= -BIG then return { ["$i"] = string.format("%d", v) } end
    return v
  end
  if v == math.floor(v) and v < BIG and v > -BIG then return v end
  return { ["$f"] = string.format("%a", v) }
end

local function fail(fmt, ...) error({ state_error = string.format(fmt, ...) }, 0) end

local function dec(v, where)
  local tv = type(v)
  if tv == "number" then
    if v == math.floor(v) and v < 2^63 and v >= -2^63 then return tointeger(v) end
    return v
  end
  if tv == "table" then
    local i, f = v["$i"], v["$f"]
    if type(i) == "string" then
      local n = math.tointeger(tonumber(i))
      if not n then fail("%s: %q is not an integer", where, i) end
      return n
    end
    if type(f) == "string" then
      local n = tonumber(f)
      if not n then fail("%s: %q is not a number", where, f) end
      return n
    end
  end
  return v
end

local function want(v, kind, where)
  local ok
  if kind == "integer" then ok = mtype(v) == "integer"
  elseif kind == "number" then ok = type(v) == "number"
  else ok = type(v) == kind end
  if not ok then fail("%s: expected %s, found %s", where, kind, type(v) == "number" and tostring(v) or type(v)) end
  return v
end

local function num(v, kind, where) return want(dec(v, where), kind, where) end

-- A saved value of the given kind: numbers come back decoded (see dec), the rest as they are.
local function typed(v, kind, where)
  if kind == "integer" or kind == "number" then return num(v, kind, where) end
  return want(v, kind, where)
end

local function opt(v, kind, where)
  if v == nil then return nil end
  return want(v, kind, where)
end

-- Columns (store arrays indexed 1..n) -----------------------------------------------------------

-- sparse: nil entries are written as false (the column never holds false). The common values
-- (small integers, strings, booleans) skip enc: a column is up to a million entries.
local function col_out(col, n, sparse)
  local out = {}
  for i = 1, n do
    local v = col[i]
    if v == nil then
      if not sparse then error("state export: a dense column has a hole at " .. i) end
      v = false
    end
    local tv = mtype(v)
    if tv == nil or (tv == "integer" and v < BIG and v > -BIG) then out[i] = v
    else out[i] = enc(v) end
  end
  return out
end

-- typed() for one entry of a column or list, with the common cases inline (cjson reads every
-- number as a float: whole ones become integers, as dec does).
local function fast_in(v, kind, where)
  local tv = type(v)
  if tv == "number" then
    if kind == "integer" then
      local iv = tointeger(v)
      if iv then return iv end
    elseif kind == "number" then
      return tointeger(v) or v
    end
  elseif tv == kind then
    return v
  end
  return typed(v, kind, where)
end

-- kind: "string" | "integer" | "number" | "boolean"
local function col_in(t, name, n, kind, sparse)
  local src = t[name]
  if type(src) ~= "table" then fail("column %s is missing", name) end
  if #src ~= n then fail("column %s has %d entries, expected %d", name, #src, n) end
  local out = {}
  local where = "column " .. name
  for i = 1, n do
    local v = src[i]
    if not (sparse and v == false) then out[i] = fast_in(v, kind, where) end
  end
  return out
end

local function list_out(list)
  local out = {}
  for i, v in ipairs(list or {}) do
    local tv = mtype(v)
    if tv == nil or (tv == "integer" and v < BIG and v > -BIG) then out[i] = v else out[i] = enc(v) end
  end
  return out
end

local function list_in(src, kind, where)
  if src == nil then return nil end
  want(src, "table", where)
  local out = {}
  for i = 1, #src do
    out[i] = fast_in(src[i], kind, where)
  end
  return out
end

-- Records: scalar fields copied as they are, table fields handled by the caller ----------------

-- Caches kept on records (ops_tasks.lua), rebuilt on demand.
local DERIVED = { json_piece = true, json_timeout = true }   -- json_timeout: older files

local function scalars_out(rec, tables, what)
  local out = {}
  for k, v in pairs(rec) do
    local tv = type(v)
    if tv == "table" or tv == "function" then
      if tables[k] == nil then error(string.format("state export: %s field %s (%s) is not known", what, k, tv)) end
    elseif not DERIVED[k] then
      out[k] = enc(v)
    end
  end
  return out
end

local function scalars_in(src, tables, where)
  want(src, "table", where)
  local out = {}
  for k, v in pairs(src) do
    if tables[k] == nil then
      if type(v) == "table" then v = dec(v, where .. "." .. k) end
      if type(v) == "table" then fail("%s.%s: unexpected table", where, k) end
      out[k] = dec(v, where .. "." .. k)
    end
  end
  return out
end

local function map_out(map)
  local out = {}
  for k, v in pairs(map or {}) do out[k] = enc(v) end
  return out
end

local function map_in(src, kind, where)
  want(src, "table", where)
  local out = {}
  for k, v in pairs(src) do
    out[want(k, "string", where)] = typed(v, kind, where .. "." .. k)
  end
  return out
end

-- Export ----------------------------------------------------------------------------------------

local PRODUCT_TABLES = { by_name = false, by_ver = true, devices = false, dyn_jobs = true, name_seq = true, failure = true }
local FIRMWARE_TABLES = { product = true, multi_files = true }
local JOB_TABLES = {
  firmware = true, product = true, tags = true, queue = true, tasks = true, task_of = false, bucket = true,
  versions = true, src_list = true, device_list = true, start_fn = false, on_done = false,
}
local GROUP_TABLES = { members = true }

local function export_products(s)
  local out = {}
  for i, p in ipairs(s.product_list) do
    local r = scalars_out(p, PRODUCT_TABLES, "product")
    r.failure = map_out(p.failure)
    r.name_seq = map_out(p.name_seq)
    r.by_ver = {}
    for v, list in pairs(p.by_ver) do r.by_ver[v] = list_out(list) end
    r.dyn_jobs = {}
    for j, job in ipairs(p.dyn_jobs) do r.dyn_jobs[j] = job.serial end
    out[i] = r
  end
  return out
end

local function export_jobs(s)
  local out = {}
  for i, job in ipairs(s.job_list) do
    local r = scalars_out(job, JOB_TABLES, "job")
    r.firmware = job.firmware.id
    r.product = job.product.key
    r.tags = {}
    for k, t in ipairs(job.tags or {}) do r.tags[k] = { Key = t.Key, Value = t.Value } end
    if not job.tags then r.tags = nil end
    local q = {}
    for k = job.qhead, job.qtail do q[#q + 1] = enc(job.queue[k]) end
    r.queue = q
    r.tasks = list_out(job.tasks)
    r.bucket = {}
    for st = 1, store_mod.NST do r.bucket[st] = list_out(job.bucket[st]) end
    if job.versions then
      local vs = {}
      for v in pairs(job.versions) do vs[#vs + 1] = v end
      table.sort(vs)
      r.versions = vs
    end
    r.src_list = job.src_list and list_out(job.src_list)
    r.device_list = job.device_list and list_out(job.device_list)
    out[i] = r
  end
  return out
end

local function export_devices(s)
  local n = s.ndev
  local group_lists, group_index, gcol = {}, {}, {}
  for d = 1, n do
    local gs = s.d_groups[d]
    if gs then
      local k = group_index[gs]
      if not k then
        group_lists[#group_lists + 1] = list_out(gs)
        k = #group_lists
        group_index[gs] = k
      end
      gcol[d] = k
    else
      gcol[d] = 0
    end
  end
  local prod = {}
  for d = 1, n do prod[d] = s.d_prod[d].serial end
  return {
    name = col_out(s.d_name, n), product = prod, version = col_out(s.d_ver, n),
    online = col_out(s.d_online, n), task = col_out(s.d_task, n, true), groups = gcol,
    group_lists = group_lists, created = col_out(s.d_created, n), online_at = col_out(s.d_online_at, n, true),
  }
end

local TASK_COLUMNS = {
  -- name, kind, sparse
  { "job", "integer" }, { "dev", "integer" }, { "status", "integer" }, { "src", "string" },
  { "created", "number" }, { "modified", "number" }, { "retries", "integer" }, { "gen", "integer" },
  { "started", "number", true }, { "astart", "number", true }, { "dur", "integer", true },
  { "desc", "string", true }, { "retry_wait", "boolean", true }, { "inq", "boolean", true },
  { "timeout", "integer", true, "job" },   -- absent in older files: the job's timeout
}

-- The model as a plain table (see the module's header). Runs a real clock up to now first.
function M.export(emu)
  if emu.clock == "real" then emu:advance_to_real() end
  local s, sim = emu.store, emu.sim
  local tasks = {}
  for _, c in ipairs(TASK_COLUMNS) do tasks[c[1]] = col_out(s["t_" .. c[1]], s.ntask, c[3]) end
  local events = {}
  for i, e in ipairs(sim:queued()) do events[i] = { enc(e[1]), list_out(e[2]) } end
  local groups = {}
  for i, g in ipairs(s.group_list) do
    local r = scalars_out(g, GROUP_TABLES, "group")
    r.members = list_out(g.members)
    groups[i] = r
  end
  local firmware = {}
  for i, fw in ipairs(s.firmware_list) do
    local r = scalars_out(fw, FIRMWARE_TABLES, "firmware")
    r.product = fw.product.key
    if fw.multi_files then
      r.multi_files = {}
      for k, f in ipairs(fw.multi_files) do r.multi_files[k] = map_out(f) end
    end
    firmware[i] = r
  end
  return {
    format = M.FORMAT, version = M.VERSION,
    model = { seed = enc(emu.seed), region = emu.region, account = emu.account, instance = emu.instance,
              clock = emu.clock, now = enc(sim.now) },
    store = {
      seed = enc(s.seed), gen = enc(s.gen.s), task_prefix = s.task_prefix, ndev = s.ndev, ntask = s.ntask,
      counts = { tasks = list_out(s.counts.tasks), events = enc(s.counts.events), calls = map_out(s.counts.calls) },
      products = export_products(s), groups = groups, firmware = firmware, jobs = export_jobs(s),
      devices = export_devices(s), tasks = tasks,
    },
    sim = { now = enc(sim.now), events = enc(sim.events), queue = events },
  }
end

-- Import ----------------------------------------------------------------------------------------

local function import_products(s, src)
  for i, r in ipairs(want(src, "table", "store.products")) do
    local where = "store.products[" .. i .. "]"
    local p = scalars_in(r, PRODUCT_TABLES, where)
    want(p.key, "string", where .. ".key")
    p.serial = i
    p.failure = map_in(r.failure or {}, "number", where .. ".failure")
    p.name_seq = map_in(r.name_seq or {}, "integer", where .. ".name_seq")
    p.by_ver = {}
    for v, list in pairs(want(r.by_ver or {}, "table", where .. ".by_ver")) do
      p.by_ver[want(v, "string", where .. ".by_ver")] = list_in(list, "integer", where .. ".by_ver." .. v)
    end
    p.by_name, p.devices, p.dyn_jobs = {}, {}, list_in(r.dyn_jobs or {}, "integer", where .. ".dyn_jobs")
    s.products[p.key] = p
    s.product_list[i] = p
  end
end

local function import_devices(s, src, n)
  want(src, "table", "store.devices")
  local names = col_in(src, "name", n, "string")
  local prods = col_in(src, "product", n, "integer")
  local gcol = col_in(src, "groups", n, "integer")
  local glists = {}
  for i, gl in ipairs(want(src.group_lists or {}, "table", "store.devices.group_lists")) do
    glists[i] = list_in(gl, "string", "store.devices.group_lists")
  end
  s.d_name, s.d_ver = names, col_in(src, "version", n, "string")
  s.d_online = col_in(src, "online", n, "boolean")
  s.d_task = col_in(src, "task", n, "integer", true)
  s.d_created = col_in(src, "created", n, "number")
  s.d_online_at = col_in(src, "online_at", n, "number", true)
  for d = 1, n do
    local p = s.product_list[prods[d]] or fail("device %d: no product %s", d, tostring(prods[d]))
    s.d_prod[d] = p
    p.by_name[names[d]] = d
    p.devices[#p.devices + 1] = d
    if gcol[d] ~= 0 then s.d_groups[d] = glists[gcol[d]] or fail("device %d: no group list %d", d, gcol[d]) end
  end
  for _, p in ipairs(s.product_list) do
    for v, list in pairs(p.by_ver) do
      for pos, d in ipairs(list) do
        if s.d_prod[d] ~= p or s.d_ver[d] ~= v then fail("product %s: device %d is not on version %s", p.key, d, v) end
        s.d_vpos[d] = pos
      end
    end
  end
end

local function import_firmware(s, src)
  for i, r in ipairs(want(src, "table", "store.firmware")) do
    local where = "store.firmware[" .. i .. "]"
    local fw = scalars_in(r, FIRMWARE_TABLES, where)
    want(fw.id, "string", where .. ".id")
    fw.product = s.products[r.product] or fail("%s: no product %s", where, tostring(r.product))
    if r.multi_files then
      fw.multi_files = {}
      for k, f in ipairs(want(r.multi_files, "table", where .. ".multi_files")) do
        local mf = {}
        for key, v in pairs(want(f, "table", where .. ".multi_files")) do mf[key] = dec(v, where) end
        fw.multi_files[k] = mf
      end
    end
    s.firmware[fw.id] = fw
    s.firmware_list[i] = fw
  end
end

local function import_jobs(emu, s, src)
  local attach = require("otarun.emulator.ops_jobs").attach
  for i, r in ipairs(want(src, "table", "store.jobs")) do
    local where = "store.jobs[" .. i .. "]"
    local job = scalars_in(r, JOB_TABLES, where)
    want(job.id, "string", where .. ".id")
    job.serial = i
    job.firmware = s.firmware[r.firmware] or fail("%s: no firmware %s", where, tostring(r.firmware))
    job.product = s.products[r.product] or fail("%s: no product %s", where, tostring(r.product))
    if r.tags then
      job.tags = {}
      for k, t in ipairs(want(r.tags, "table", where .. ".tags")) do
        job.tags[k] = { Key = want(t.Key, "string", where .. ".tags"), Value = want(t.Value, "string", where .. ".tags") }
      end
    end
    job.queue = {}
    local q = list_in(r.queue or {}, "integer", where .. ".queue")
    want(job.qhead, "number", where .. ".qhead")
    for k = 1, #q do job.queue[job.qhead + k - 1] = q[k] end
    if job.qtail ~= job.qhead + #q - 1 then fail("%s: queue holds %d entries, qhead %s, qtail %s", where, #q, job.qhead, job.qtail) end
    job.tasks = list_in(r.tasks or {}, "integer", where .. ".tasks")
    job.bucket = {}
    for st = 1, store_mod.NST do
      job.bucket[st] = list_in((r.bucket or {})[st] or {}, "integer", where .. ".bucket[" .. st .. "]")
    end
    if r.versions then
      job.versions = {}
      for _, v in ipairs(list_in(r.versions, "string", where .. ".versions")) do job.versions[v] = true end
    end
    job.src_list = list_in(r.src_list, "string", where .. ".src_list")
    job.device_list = list_in(r.device_list, "integer", where .. ".device_list")
    job.task_of = {}
    s.job_list[i] = job
    s.jobs[job.id] = job
    attach(emu, job)
  end
end

local function import_tasks(s, src, n)
  want(src, "table", "store.tasks")
  for _, c in ipairs(TASK_COLUMNS) do
    if c[4] and src[c[1]] == nil then s["t_" .. c[1]] = {}
    else s["t_" .. c[1]] = col_in(src, c[1], n, c[2], c[3]) end
  end
  for _, job in ipairs(s.job_list) do
    if src.timeout == nil then
      for _, t in ipairs(job.tasks) do s.t_timeout[t] = job.timeout end
    end
    for _, t in ipairs(job.tasks) do
      if t < 1 or t > n or s.t_job[t] ~= job.serial then fail("job %s lists task %d, which is not its own", job.id, t) end
      job.task_of[s.t_dev[t]] = t
    end
    for st = 1, store_mod.NST do
      for pos, t in ipairs(job.bucket[st]) do
        if s.t_status[t] ~= st then fail("job %s: task %d is filed under the wrong status", job.id, t) end
        s.t_pos[t] = pos
      end
    end
  end
  for _, p in ipairs(s.product_list) do
    for k, serial in ipairs(p.dyn_jobs) do
      p.dyn_jobs[k] = s.job_list[serial] or fail("product %s: no dynamic job %d", p.key, serial)
    end
  end
end

local function import_sim(s, src, now)
  want(src, "table", "sim")
  local sim = sim_mod.new(s, now)
  sim.events = num(src.events or 0, "integer", "sim.events")
  for i, e in ipairs(want(src.queue or {}, "table", "sim.queue")) do
    local sec = num(want(e, "table", "sim.queue")[1], "integer", "sim.queue[" .. i .. "]")
    for _, code in ipairs(list_in(e[2], "integer", "sim.queue[" .. i .. "]")) do sim:queue_raw(sec, code) end
  end
  return sim
end

-- Builds the saved model into emu, which must be empty (no fleet loaded, no calls made).
-- Returns true or nil, message; on failure emu is left as it was.
function M.import(emu, t)
  if type(t) ~= "table" or t.format ~= M.FORMAT then
    return nil, "not a saved emulator state (no \"format\": \"" .. M.FORMAT .. "\")"
  end
  if t.version ~= M.VERSION then
    return nil, string.format("saved by an incompatible emulator: state version %s, this emulator reads version %d",
      tostring(t.version), M.VERSION)
  end
  local cur = emu.store
  if cur.ndev > 0 or #cur.product_list > 0 or #cur.job_list > 0 or #cur.firmware_list > 0 then
    return nil, "the emulator already holds a fleet or firmware; a saved state loads only into an empty emulator"
  end
  local ok, res = pcall(function()
    local m, st = want(t.model, "table", "model"), want(t.store, "table", "store")
    local s = store_mod.new(num(st.seed, "integer", "store.seed"))
    s.gen.s = num(st.gen, "integer", "store.gen")
    s.task_prefix = want(st.task_prefix, "string", "store.task_prefix")
    s.ndev, s.ntask = num(st.ndev, "integer", "store.ndev"), num(st.ntask, "integer", "store.ntask")
    local counts = want(st.counts, "table", "store.counts")
    s.counts.tasks = list_in(counts.tasks, "integer", "store.counts.tasks")
    s.counts.events = num(counts.events, "integer", "store.counts.events")
    s.counts.calls = map_in(counts.calls or {}, "integer", "store.counts.calls")
    import_products(s, st.products)
    for i, r in ipairs(want(st.groups or {}, "table", "store.groups")) do
      local g = scalars_in(r, GROUP_TABLES, "store.groups[" .. i .. "]")
      g.members = list_in(r.members or {}, "integer", "store.groups[" .. i .. "].members")
      s.groups[want(g.id, "string", "store.groups[" .. i .. "].id")] = g
      s.group_list[i] = g
    end
    import_devices(s, st.devices, s.ndev)
    import_firmware(s, st.firmware)
    local now = num(t.sim and t.sim.now, "number", "sim.now")
    local sim = import_sim(s, t.sim, now)
    import_jobs(emu, s, st.jobs)     -- the jobs' closures find emu.store and emu.sim when they run
    import_tasks(s, st.tasks, s.ntask)
    if #s.counts.tasks ~= store_mod.NST then fail("store.counts.tasks has %d entries, expected %d", #s.counts.tasks, store_mod.NST) end
    for k = 1, store_mod.NST do
      local total = 0
      for _, job in ipairs(s.job_list) do total = total + #job.bucket[k] end
      if total ~= s.counts.tasks[k] then fail("%d tasks are %s, the counters say %d", total, store_mod.NAME[k], s.counts.tasks[k]) end
    end
    return { store = s, sim = sim, seed = num(m.seed, "integer", "model.seed"),
             region = opt(m.region, "string", "model.region"), account = opt(m.account, "string", "model.account"),
             instance = opt(m.instance, "string", "model.instance") }
  end)
  if not ok then
    -- anything a damaged file makes the import trip over, typed or not, is reported the same way
    return nil, "the saved state is damaged: " .. tostring(type(res) == "table" and res.state_error or res)
  end
  emu.store, emu.sim = res.store, res.sim
  emu.seed, emu.instance = res.seed, res.instance
  emu.region = res.region or emu.region
  emu.account = res.account or emu.account
  return true
end

-- Long lists of integers (the columns, job task lists, status buckets) are written by
-- otarun.core.fleet's int_list_json and spliced into cjson's text in place of a marker: cjson
-- formats every number through its float formatter; the text reads back the same.
local RAW_MIN = 256
local MARK = "\0otarun-state-raw:"

local function int_list(t)
  local n = #t
  if n < RAW_MIN or next(t, n) ~= nil then return nil end
  return int_list_json(t)
end

local function pull_raw(t, raws, depth)
  if depth > 6 then return end
  for k, v in pairs(t) do
    if type(v) == "table" then
      local text = int_list(v)
      if text then
        raws[#raws + 1] = text
        t[k] = MARK .. #raws .. "\0"
      else
        pull_raw(v, raws, depth + 1)
      end
    end
  end
end

-- JSON text of export(emu).
function M.encode(emu)
  local doc, raws = M.export(emu), {}
  pull_raw(doc, raws, 0)
  local text = cjson.encode(doc)
  local parts, pos, found = {}, 1, 0
  while true do
    local a, b, k = text:find('"\\u0000otarun%-state%-raw:(%d+)\\u0000"', pos)
    if not a then break end
    parts[#parts + 1] = text:sub(pos, a - 1)
    parts[#parts + 1] = raws[tonumber(k)]
    found = found + 1
    pos = b + 1
  end
  if found ~= #raws then return cjson.encode(M.export(emu)) end   -- a model string looked like a marker
  parts[#parts + 1] = text:sub(pos)
  return table.concat(parts)
end

-- Reads JSON text into emu; true or nil, message.
function M.decode(emu, text)
  local ok, t = pcall(cjson.decode, text)
  if not ok then return nil, "not a saved emulator state (not JSON: " .. tostring(t) .. ")" end
  return M.import(emu, t)
end

return M
