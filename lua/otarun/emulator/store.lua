-- The emulator's entities and their indexes. Devices and tasks are C columns (otarun.core.fleet_model,
-- src/fleet_model.c: typed arrays indexed by device or task number, read here through column
-- objects such as s.t_status[t]); each job keeps its tasks in C, one bucket per status
-- (swap-remove, O(1) moves), which gives ListOTATaskByJob its Total and any page of a status
-- without scanning the fleet. Strings the model compares (versions, group ids, job statuses) are
-- interned as small integers ("symbols"). Jobs are Lua tables whose model fields live in C (the
-- JOB_FIELDS below, read and written through the job's metatable). docs/emulator-scale.md.
-- Used by every ops_*.lua, sim.lua and fleet.lua.
local fm = require("otarun.core.fleet_model")
local ids = require("otarun.emulator.ids")

local M = {}

-- Task statuses, as small integers; NAME gives the wire spelling.
local ST = { CONFIRM = 1, QUEUED = 2, NOTIFIED = 3, IN_PROGRESS = 4, SUCCEEDED = 5, FAILED = 6, CANCELED = 7 }
M.ST = ST
M.NAME = { "CONFIRM", "QUEUED", "NOTIFIED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELED" }
M.NST = 7

-- A job's fields kept in C: "sym" fields are strings, the others numbers or booleans.
M.JOB_FIELDS = {
  dest = "sym", need_src = "sym", group = "sym", selection = "sym", status = "sym",
  overwrite = "v", rate = "v", retry_interval = "v", retry_count = "v", timeout = "v",
  need_push = "v", need_confirm = "v", gen = "v", active = "v", wcount = "v", qhead = "v",
  qtail = "v", wstart = "v", pump_gen = "v", pump_at = "v",
}
local JOB_FIELDS = M.JOB_FIELDS

-- Task descriptions are packed integers (src/fleet_model.h): kind | a << 8 | b << 24 | c << 40.
local D_SUCCEEDED, D_FAILED, D_RETRY, D_TIMEOUT, D_OVERWRITTEN, D_BUSY, D_TEXT = 1, 2, 3, 4, 5, 6, 7

local Store = {}

local function list_proxy(core, a, b, c)
  return setmetatable({}, {
    __index = function(_, i) return core:list_at(i, a, b, c) end,
    __len = function() return core:list_len(a, b, c) end,
  })
end

function M.new(seed)
  local s = {
    seed = seed,
    gen = ids.generator(seed),
    syms = {}, sym_of = {},          -- symbol -> string, string -> symbol
    glists = {}, glist_of = {},      -- device group lists by number, and by table
    texts = {}, text_of = {}, desc_of = {},   -- task descriptions given as text (desc_of: text -> code)
    t_json = {}, t_json_progress = {}, t_json_stamp = {},   -- cached API views (ops_tasks.lua); not saved
    products = {}, product_list = {},
    groups = {}, group_list = {},
    firmware = {}, firmware_list = {},
    jobs = {}, job_list = {},        -- job_list[serial] = job
    job_versions = {}, job_proxies = {},
    task_prefix = nil,
    counts = { events = 0, calls = {} },
    trace = nil,                     -- function(task, old_status, new_status, now), for tests
  }
  -- the methods are copied in (a raw hit); ndev and ntask are the model's
  for k, f in pairs(Store) do s[k] = f end
  setmetatable(s, { __index = function(t, k)
    if k == "ndev" then return (t.core:sizes()) end
    if k == "ntask" then local _, n = t.core:sizes(); return n end
  end })
  local core = fm.new(s:sym("DYNAMIC"), s:sym("IN_PROGRESS"), s)
  s.core = core
  s.counts.tasks = setmetatable({}, { __index = function(_, i) return core:count(i) end,
                                      __len = function() return M.NST end })
  s.d_name = core:column("d_name")
  s.d_prod = core:column("d_prod", s.product_list)
  s.d_ver = core:column("d_ver", s.syms)
  s.d_online = core:column("d_online")
  s.d_task = core:column("d_task")
  s.d_groups = core:column("d_glist", s.glists)
  s.d_created = core:column("d_created")
  s.d_online_at = core:column("d_online_at")
  for _, c in ipairs({ "job", "dev", "status", "created", "modified", "retries", "gen", "started", "astart",
                       "dur", "retry_wait", "inq", "timeout", "stamp" }) do
    s["t_" .. c] = core:column("t_" .. c)
  end
  s.t_src = core:column("t_src", s.syms)
  s.t_desc = core:column("t_desc", function(code) return s:desc_text(code) end)
  s.task_prefix = s.gen:alnum(12)
  s.JOB_MT = M.job_meta(s)
  return s
end

function Store:sym(str)
  local n = self.sym_of[str]
  if n then return n end
  n = #self.syms + 1
  self.syms[n] = str
  self.sym_of[str] = n
  return n
end

-- Task descriptions: text <-> packed integer.
function Store:desc_code(text)
  if text == nil then return 0 end
  local n = self.text_of[text]
  if not n then
    n = #self.texts + 1
    self.texts[n] = text
    self.text_of[text] = n
    self.desc_of[text] = D_TEXT | (n << 8)
  end
  return D_TEXT | (n << 8)
end

function Store:desc_text(code)
  local kind = code & 0xFF
  if kind == D_SUCCEEDED then return "upgrade succeeded" end
  if kind == D_FAILED then return "upgrade failed" end
  if kind == D_RETRY then
    return string.format("upgrade failed; automatic retry %d of %d in %d minutes", (code >> 8) & 0xFFFF,
      (code >> 24) & 0xFFFF, code >> 40)
  end
  if kind == D_TIMEOUT then return string.format("upgrade timed out after %d minutes", code >> 8) end
  if kind == D_OVERWRITTEN then return "overwritten by batch " .. self.job_list[code >> 8].id end
  if kind == D_BUSY then
    return "the device already has a pending or in-progress task in batch " .. self.job_list[code >> 8].id
  end
  return self.texts[code >> 8]
end

-- Products ---------------------------------------------------------------------------------

function Store:product(key) return self.products[key] end

M.MAX_PRODUCTS = 65535   -- the model's product column holds 16 bits

function Store:add_product(key, name, params)
  if #self.product_list >= M.MAX_PRODUCTS then
    error({ fleet_error = string.format("the emulator holds at most %d products", M.MAX_PRODUCTS) }, 0)
  end
  local core = self.core
  local serial = core:add_prod()
  local p = {
    key = key, name = name or key, serial = serial,
    iot_prefix = self.gen:alnum(12),
    dyn_jobs = {}, name_seq = {},
    failure = params.failure or {}, dmin = params.dmin, dmax = params.dmax,
    poll = params.poll, reconnect = params.reconnect,
  }
  M.product_views(self, p)
  self.products[key] = p
  self.product_list[#self.product_list + 1] = p
  return p
end

-- p.by_ver[version], p.devices and p.by_name[name]: read from C.
function M.product_views(s, p)
  local core, serial = s.core, p.serial
  p.by_name = setmetatable({}, { __index = function(_, name) return core:dev_by_name(serial, name) end })
  local lists = {}
  p.by_ver = setmetatable({}, { __index = function(_, v)
    local sym = s.sym_of[v]
    if not sym then return nil end
    local l = lists[sym]
    if not l then l = list_proxy(core, "ver", serial, sym); lists[sym] = l end
    return l
  end })
  p.devices = list_proxy(core, "dev", serial)
end

-- The product's parameters, failure odds and running dynamic jobs, as the model reads them.
function Store:sync_product(p)
  local fail = {}
  for v, odds in pairs(p.failure) do fail[self:sym(v)] = odds end
  local dyn = {}
  for i, job in ipairs(p.dyn_jobs) do dyn[i] = job.serial end
  self.core:prod_set(p.serial, p.seed or self.seed, p.dmin, p.dmax, p.poll, p.reconnect, fail, dyn)
end

function Store:sync_products()
  for _, p in ipairs(self.product_list) do self:sync_product(p) end
end

-- Devices ----------------------------------------------------------------------------------

function Store:glist(groups)
  if not groups then return 0 end
  local n = self.glist_of[groups]
  if n then return n end
  local syms = {}
  for i, g in ipairs(groups) do syms[i] = self:sym(g) end
  n = self.core:add_glist(syms)
  self.glists[n] = groups
  self.glist_of[groups] = n
  return n
end

function Store:add_device(p, name, version, online, groups, now)
  return self.core:add_device(now, p.serial, self:sym(version), online, self:glist(groups), name)
end

-- count devices named prefix .. %06d from sequence number seq + 1 on (names taken skipped), online
-- with the odds `share` (the stateless hash, sim.lua's H_ONLINE), the offline ones scheduled to
-- come online. -> the first device, the last sequence number.
function Store:add_devices(p, version, groups, count, share, prefix, seq, now)
  return self.core:add_devices(now, p.serial, self:sym(version), self:glist(groups), count, share, prefix, seq)
end

function Store:ver_devices(p, v)
  local sym = self.sym_of[v]
  return sym and self.core:list("ver", p.serial, sym) or {}
end

function Store:set_version(d, v)
  self.core:set_version(d, self:sym(v))
end

function Store:iot_id(d)
  local p = self.d_prod[d]
  return string.format("%s%09d00100", p.iot_prefix, d)
end

function Store:device_by_iot_id(iot_id)
  local prefix, n = tostring(iot_id):match("^(%w%w%w%w%w%w%w%w%w%w%w%w)(%d%d%d%d%d%d%d%d%d)00100$")
  if not prefix then return nil end
  local d = tonumber(n)
  if d < 1 or d > self.ndev or self.d_prod[d].iot_prefix ~= prefix then return nil end
  return d
end

function Store:device_by_name(pk, name)
  local p = self.products[pk]
  return p and p.by_name[name]
end

function Store:in_group(d, gid)
  local sym = self.sym_of[gid]
  return sym ~= nil and self.core:in_group(d, sym)
end

function Store:online_count() return self.core:online_count() end

-- Groups -----------------------------------------------------------------------------------

function Store:add_group(id, gtype, name, now)
  local g = { id = id, type = gtype, name = name or id, created = now, members = {} }
  self.groups[id] = g
  self.group_list[#self.group_list + 1] = g
  return g
end

-- Jobs and tasks ---------------------------------------------------------------------------

-- The metatable of the store's jobs: JOB_FIELDS, versions, and the task lists come from C.
function M.job_meta(s)
  local core, syms = s.core, s.syms
  local function proxies(job)
    local px = s.job_proxies[job.serial]
    if px then return px end
    local serial = job.serial
    local bucket = {}
    for st = 1, M.NST do bucket[st] = list_proxy(core, serial, st) end
    px = {
      bucket = bucket, tasks = list_proxy(core, serial, 0),
      task_of = setmetatable({}, { __index = function(_, d) return core:task_of(serial, d) end }),
    }
    s.job_proxies[serial] = px
    return px
  end
  return {
    __index = function(job, k)
      local kind = JOB_FIELDS[k]
      if kind then
        local v = core:job_get(job.serial, k)
        if kind == "sym" and v then return syms[v] end
        return v
      end
      if k == "versions" then return s.job_versions[job.serial] end
      if k == "bucket" or k == "tasks" or k == "task_of" then return proxies(job)[k] end
    end,
    __newindex = function(job, k, v)
      local kind = JOB_FIELDS[k]
      if kind then
        if kind == "sym" and v ~= nil then v = s:sym(v) end
        core:job_set(job.serial, k, v)
      elseif k == "versions" then
        s.job_versions[job.serial] = v
        local list
        if v then
          list = {}
          for ver in pairs(v) do list[#list + 1] = s:sym(ver) end
        end
        core:job_versions(job.serial, list)
      else
        rawset(job, k, v)
      end
    end,
  }
end

-- Files a new job (or a saved one, with its model fields): its serial, and its model fields
-- moved into C.
function Store:add_job(job)
  local serial = self.core:add_job()
  assert(serial == #self.job_list + 1)
  rawset(job, "serial", serial)
  local moved = {}
  for k in pairs(JOB_FIELDS) do
    moved[k] = rawget(job, k)
    rawset(job, k, nil)
  end
  local versions = rawget(job, "versions")
  rawset(job, "versions", nil)
  rawset(job, "queue", nil)
  rawset(job, "tasks", nil)
  rawset(job, "bucket", nil)
  rawset(job, "task_of", nil)
  setmetatable(job, self.JOB_MT)
  moved.active = moved.active or 0
  moved.gen = moved.gen or 0
  moved.qhead = moved.qhead or 1
  moved.qtail = moved.qtail or 0
  moved.wcount = moved.wcount or 0
  moved.wstart = moved.wstart or 0
  for k in pairs(JOB_FIELDS) do job[k] = moved[k] end
  job.versions = versions
  self.job_list[serial] = job
  if job.id then self.jobs[job.id] = job end
  return job
end

function Store:task_id(t)
  return string.format("%s%010d", self.task_prefix, t)
end

function Store:task_by_id(id)
  id = tostring(id)
  if #id ~= 22 or id:sub(1, 12) ~= self.task_prefix then return nil end
  local t = tonumber(id:sub(13))
  if not t or t < 1 or t > self.ntask then return nil end
  return math.tointeger(t)
end

function Store:new_task(job, d, st, now, desc)
  return self.core:new_task(now, job.serial, d, st, self:desc_code(desc))
end

function Store:set_status(t, st, now, desc)
  self.core:set_status(now, t, st, self:desc_code(desc))
end

-- A change made by an API call: events scheduled for the task's old life become stale.
function Store:bump(t)
  self.core:bump(t)
end

function Store:job_of_task(t) return self.job_list[self.t_job[t]] end

return M
