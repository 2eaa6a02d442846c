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
local ints_in_place = require("otarun.core.fleet").ints_in_place

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

local function opt(v, kind, where) if v ~= nil then return want(v, kind, where) end end

-- Columns (store arrays indexed 1..n) -----------------------------------------------------------

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
  -- a list of whole numbers (the long ones: task lists, buckets, the queue) becomes integers in
  -- place, in C; anything else goes the long way, which names what is wrong
  if kind == "integer" and ints_in_place(src) then return src end
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

local RAW_MT = {}   -- a column written as JSON text by the model (encode only)

-- Export ----------------------------------------------------------------------------------------

local PRODUCT_TABLES = { by_name = false, by_ver = true, devices = false, dyn_jobs = true, name_seq = true, failure = true }
local FIRMWARE_TABLES = { product = true, multi_files = true }
local JOB_TABLES = {
  firmware = true, product = true, tags = true, queue = true, tasks = true, task_of = false, bucket = true,
  versions = true, src_list = true, device_list = true, start_fn = false, on_done = false,
}
local GROUP_TABLES = { members = true }

-- A model list (m:list's arguments) as the saved state holds it; raw: JSON text (encode only).
local function model_list(s, raw, ...)
  if raw then return setmetatable({ text = s.core:list_json(...) }, RAW_MT) end
  return s.core:list(...)
end

local function export_products(s, raw)
  local out = {}
  for i, p in ipairs(s.product_list) do
    local r = scalars_out(p, PRODUCT_TABLES, "product")
    r.failure = map_out(p.failure)
    r.name_seq = map_out(p.name_seq)
    r.by_ver = {}
    for _, sym in ipairs(s.core:ver_keys(p.serial)) do
      r.by_ver[s.syms[sym]] = model_list(s, raw, "ver", p.serial, sym)
    end
    r.dyn_jobs = {}
    for j, job in ipairs(p.dyn_jobs) do r.dyn_jobs[j] = job.serial end
    out[i] = r
  end
  return out
end

local function export_jobs(s, raw)
  local out = {}
  for i, job in ipairs(s.job_list) do
    local r = scalars_out(job, JOB_TABLES, "job")
    for k in pairs(store_mod.JOB_FIELDS) do
      local v = job[k]
      if v ~= nil then r[k] = enc(v) end
    end
    r.firmware = job.firmware.id
    r.product = job.product.key
    r.tags = {}
    for k, t in ipairs(job.tags or {}) do r.tags[k] = { Key = t.Key, Value = t.Value } end
    if not job.tags then r.tags = nil end
    r.queue = s.core:job_queue(job.serial)
    r.tasks = model_list(s, raw, job.serial, 0)
    r.bucket = {}
    for st = 1, store_mod.NST do r.bucket[st] = model_list(s, raw, job.serial, st) end
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

-- A model column as the saved state holds it: a list, or (raw) JSON text for encode.
local function column(s, name, map, raw)
  if raw then return setmetatable({ text = s.core:col_json(name, map, enc) }, RAW_MT) end
  return s.core:col_table(name, map, enc)
end

local function export_devices(s, raw)
  local group_lists, remap = {}, {}
  for k, g in ipairs(s.core:glist_order()) do
    group_lists[k] = list_out(s.glists[g])
    remap[g] = k
  end
  local serials = {}
  for i = 1, #s.product_list do serials[i] = i end
  return {
    name = column(s, "d_name", nil, raw), product = column(s, "d_prod", serials, raw),
    version = column(s, "d_ver", s.syms, raw), online = column(s, "d_online", nil, raw),
    task = column(s, "d_task", nil, raw), groups = column(s, "d_glist", remap, raw),
    group_lists = group_lists, created = column(s, "d_created", nil, raw),
    online_at = column(s, "d_online_at", nil, raw),
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
function M.export(emu, raw)
  if emu.clock == "real" then emu:advance_to_real() end
  local s, sim = emu.store, emu.sim
  local tasks = {}
  local desc = function(code) return s:desc_text(code) end
  for _, c in ipairs(TASK_COLUMNS) do
    local map = (c[1] == "src" and s.syms) or (c[1] == "desc" and desc) or nil
    tasks[c[1]] = column(s, "t_" .. c[1], map, raw)
  end
  local events
  if raw and s.core.q_json then
    events = setmetatable({ text = s.core:q_json() }, RAW_MT)   -- seconds and codes are integers < 2^53
  else
    events = {}
    for i, e in ipairs(sim:queued()) do events[i] = { enc(e[1]), list_out(e[2]) } end
  end
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
      products = export_products(s, raw), groups = groups, firmware = firmware, jobs = export_jobs(s, raw),
      devices = export_devices(s, raw), tasks = tasks,
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
    p.serial = s.core:add_prod()
    p.failure = map_in(r.failure or {}, "number", where .. ".failure")
    p.name_seq = map_in(r.name_seq or {}, "integer", where .. ".name_seq")
    p.saved_by_ver = {}
    for v, list in pairs(want(r.by_ver or {}, "table", where .. ".by_ver")) do
      p.saved_by_ver[want(v, "string", where .. ".by_ver")] = list_in(list, "integer", where .. ".by_ver." .. v)
    end
    p.by_name, p.dyn_jobs = {}, list_in(r.dyn_jobs or {}, "integer", where .. ".dyn_jobs")
    store_mod.product_views(s, p)
    s.products[p.key] = p
    s.product_list[i] = p
  end
end

-- A column of the saved state into the model: cjson's list checked and converted in C, odd
-- entries through fast_in (which raises the error naming the column).
local function col_load(s, name, src, saved, kind, map)
  local list = src[saved]
  local n = name:sub(1, 2) == "d_" and s.ndev or s.ntask
  if type(list) ~= "table" then fail("column %s is missing", saved) end
  if #list ~= n then fail("column %s has %d entries, expected %d", saved, #list, n) end
  s.core:col_load(name, list, "column " .. saved, function(v, where) return fast_in(v, kind, where) end, map,
    name == "t_desc" and s.desc_of or s.sym_of)
end

local function import_devices(s, src, n)
  want(src, "table", "store.devices")
  local glists = {}
  for i, gl in ipairs(want(src.group_lists or {}, "table", "store.devices.group_lists")) do
    glists[i] = list_in(gl, "string", "store.devices.group_lists")
    if s:glist(glists[i]) ~= i then fail("store.devices.group_lists: group list %d", i) end
  end
  local gcol = list_in(src.groups, "integer", "column groups")
  if #gcol ~= n then fail("column groups has %d entries, expected %d", #gcol, n) end
  for d = 1, n do
    if gcol[d] ~= 0 and not glists[gcol[d]] then fail("device %d: no group list %d", d, gcol[d]) end
  end
  local sym = function(v) return s:sym(v) end   -- col_load looks in s.sym_of first
  col_load(s, "d_prod", src, "product", "integer")
  local ok, err = pcall(col_load, s, "d_name", src, "name", "string")
  if not ok then error(type(err) == "table" and err or { state_error = tostring(err) }, 0) end
  col_load(s, "d_ver", src, "version", "string", sym)
  col_load(s, "d_online", src, "online", "boolean")
  col_load(s, "d_task", src, "task", "integer")
  col_load(s, "d_glist", src, "groups", "integer")
  col_load(s, "d_created", src, "created", "number")
  col_load(s, "d_online_at", src, "online_at", "number")
  s.core:rebuild_devices()
  for _, p in ipairs(s.product_list) do
    for v, list in pairs(p.saved_by_ver) do
      local ok, err = pcall(s.core.ver_list_load, s.core, p.serial, s:sym(v), list)
      if not ok then fail("product %s: %s (version %s)", p.key, tostring(err), v) end
    end
    p.saved_by_ver = nil
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
    job.firmware = s.firmware[r.firmware] or fail("%s: no firmware %s", where, tostring(r.firmware))
    job.product = s.products[r.product] or fail("%s: no product %s", where, tostring(r.product))
    if r.tags then
      job.tags = {}
      for k, t in ipairs(want(r.tags, "table", where .. ".tags")) do
        job.tags[k] = { Key = want(t.Key, "string", where .. ".tags"), Value = want(t.Value, "string", where .. ".tags") }
      end
    end
    local q = list_in(r.queue or {}, "integer", where .. ".queue")
    want(job.qhead, "number", where .. ".qhead")
    if job.qtail ~= job.qhead + #q - 1 then fail("%s: queue holds %d entries, qhead %s, qtail %s", where, #q, job.qhead, job.qtail) end
    if r.versions then
      job.versions = {}
      for _, v in ipairs(list_in(r.versions, "string", where .. ".versions")) do job.versions[v] = true end
    end
    job.src_list = list_in(r.src_list, "string", where .. ".src_list")
    job.device_list = list_in(r.device_list, "integer", where .. ".device_list")
    s:add_job(job)
    s.core:job_queue_load(job.serial, job.qhead, q)
    job.saved_tasks = list_in(r.tasks or {}, "integer", where .. ".tasks")
    job.saved_bucket = {}
    for st = 1, store_mod.NST do
      job.saved_bucket[st] = list_in((r.bucket or {})[st] or {}, "integer", where .. ".bucket[" .. st .. "]")
    end
    s.jobs[job.id] = job
    attach(emu, job)
  end
end

local function import_tasks(s, src, n)
  want(src, "table", "store.tasks")
  local desc = function(text) return s:desc_code(text) end
  for _, c in ipairs(TASK_COLUMNS) do
    local name = c[1]
    if c[4] and src[name] == nil then
      -- older files: the job's timeout
      local col = {}
      local jobs = list_in(src.job, "integer", "column job")
      for t = 1, n do
        local job = s.job_list[jobs[t]]
        col[t] = job and job.timeout or false
      end
      col_load(s, "t_" .. name, { [name] = col }, name, c[2])
    else
      col_load(s, "t_" .. name, src, name, c[2], (name == "src" and function(v) return s:sym(v) end) or (name == "desc" and desc) or nil)
    end
  end
  local t_job, t_status, core = s.t_job, s.t_status, s.core
  for _, job in ipairs(s.job_list) do
    for _, t in ipairs(job.saved_tasks) do
      if t < 1 or t > n or t_job[t] ~= job.serial then fail("job %s lists task %d, which is not its own", job.id, t) end
    end
    core:job_list_load(job.serial, 0, job.saved_tasks)
    for st = 1, store_mod.NST do
      for _, t in ipairs(job.saved_bucket[st]) do
        if t < 1 or t > n or t_status[t] ~= st then fail("job %s: task %d is filed under the wrong status", job.id, t) end
      end
      core:job_list_load(job.serial, st, job.saved_bucket[st])
    end
    rawset(job, "saved_tasks", nil)
    rawset(job, "saved_bucket", nil)
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
    local ndev, ntask = num(st.ndev, "integer", "store.ndev"), num(st.ntask, "integer", "store.ntask")
    if ndev < 0 or ntask < 0 or ndev >= 2^32 or ntask >= 2^32 then fail("store.ndev, store.ntask: out of range") end
    local counts = want(st.counts, "table", "store.counts")
    local task_counts = list_in(counts.tasks, "integer", "store.counts.tasks")
    s.counts.events = num(counts.events, "integer", "store.counts.events")
    s.counts.calls = map_in(counts.calls or {}, "integer", "store.counts.calls")
    import_products(s, st.products)
    s.core:resize(ndev, ntask)
    for i, r in ipairs(want(st.groups or {}, "table", "store.groups")) do
      local g = scalars_in(r, GROUP_TABLES, "store.groups[" .. i .. "]")
      g.members = list_in(r.members or {}, "integer", "store.groups[" .. i .. "].members")
      s.groups[want(g.id, "string", "store.groups[" .. i .. "].id")] = g
      s.group_list[i] = g
    end
    import_devices(s, st.devices, ndev)
    import_firmware(s, st.firmware)
    local now = num(t.sim and t.sim.now, "number", "sim.now")
    local sim = import_sim(s, t.sim, now)
    import_jobs(emu, s, st.jobs)     -- the jobs' closures find emu.store and emu.sim when they run
    import_tasks(s, st.tasks, ntask)
    if #task_counts ~= store_mod.NST then fail("store.counts.tasks has %d entries, expected %d", #task_counts, store_mod.NST) end
    for k = 1, store_mod.NST do
      local total = 0
      for _, job in ipairs(s.job_list) do total = total + #job.bucket[k] end
      if total ~= task_counts[k] then fail("%d tasks are %s, the counters say %d", total, store_mod.NAME[k], task_counts[k]) end
    end
    s.core:counts(task_counts)
    s:sync_products()
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
  if #t < RAW_MIN or next(t, #t) ~= nil then return nil end
  return int_list_json(t)
end

local function pull_raw(t, raws, depth)
  if depth > 6 then return end
  for k, v in pairs(t) do
    if type(v) == "table" and getmetatable(v) == RAW_MT then
      raws[#raws + 1] = v.text
      t[k] = MARK .. #raws .. "\0"
    elseif type(v) == "table" then
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
  local doc, raws = M.export(emu, true), {}
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
