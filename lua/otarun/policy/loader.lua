-- Loading policy files (policies/README.md): the built-in set embedded from the repository's policies/, then
-- ./policies/ when present, then each --policy DIR. Each file runs in the sandbox (docs/sandbox.md) with
-- one global, `policy "NAME" { ... }`; the native engine (otarun.core.policy) checks every
-- declaration against the schema (unknown fields and rule kinds suggest the closest name) and
-- compiles its rules.
-- A policy from a directory replaces a built-in one of the same name; two in directories clash.
local core = require("otarun.core.policy")
local sandbox = require("otarun.lang.sandbox")

local M = {}

-- The fields of a declaration, as the native schema (src/policy_schema.c) knows them.
M.FIELDS = core.fields().policy
-- Budgets for loading one file, and the default budgets of one custom check.
M.FILE_LIMITS = { memory = 64 * 1024 * 1024, instructions = 100000000 }
M.CHECK_LIMITS = { memory = 64 * 1024 * 1024, instructions = 50000000 }

-- Checks one declaration against the schema and compiles it, both in the native engine
-- (otarun.core.policy). Returns the policy record, or nil and a message.
local function build(decl)
  local name, body = decl.name, decl.body
  local compiled, err = core.compile(name, body)
  if not compiled then return nil, string.format("policy %q: %s", name, err) end
  local limits = { memory = M.CHECK_LIMITS.memory, instructions = M.CHECK_LIMITS.instructions }
  for k, v in pairs(body.limits or {}) do limits[k] = v end
  return { name = name, level = body.level, file = decl.file, line = decl.line,
           description = body.description, applies = body.applies, rules = body.rules or {},
           check = body.check, limits = limits, compiled = compiled }
end

-- Runs one policy file. Returns the list of policies and a list of errors { file, line, message }.
function M.load_text(text, path, opts)
  opts = opts or {}
  local decls, errors = {}, {}
  local function policy(name)
    local line = debug.getinfo(2, "l").currentline
    if type(name) ~= "string" or not name:match("^[%w_-]+$") or #name > 64 then
      error(string.format("policy expects a name of 1-64 letters, digits, '_' or '-' (no dots: " ..
        "overrides are written POLICY.RULE), got %s", type(name) == "string" and string.format("%q", name)
        or type(name)), 2)
    end
    return function(body)
      if type(body) ~= "table" then
        error(string.format("policy %q expects a table: policy %q { level = ..., rules = { ... } }", name, name), 2)
      end
      -- copied here, inside the budgets, with raw access: the host never meets a metamethod
      decls[#decls + 1] = { name = name, body = sandbox.raw_copy(body), file = path, line = line }
    end
  end
  local env = sandbox.env({ now = opts.now, globals = { policy = policy } })
  M.guard_rawset(env)
  local fn, serr = sandbox.load(text, "@" .. path, env)
  if not fn then return {}, { { file = path, line = 0, message = "syntax error: " .. tostring(serr) } } end
  local ok, msg = sandbox.run(fn, M.FILE_LIMITS)
  if not ok then return {}, { { file = path, line = 0, message = tostring(msg) } } end
  local policies = {}
  for _, decl in ipairs(decls) do
    local p, err = build(decl)
    if p then policies[#policies + 1] = p
    else errors[#errors + 1] = { file = path, line = decl.line, message = err } end
  end
  return policies, errors
end

-- Tables the checks see read-only; set by otarun.policy.custom. rawset on them is refused too.
M.readonly = setmetatable({}, { __mode = "k" })

function M.guard_rawset(env)
  env.rawset = function(t, k, v)
    if M.readonly[t] then error("the plan is read-only in a policy check", 2) end
    return rawset(t, k, v)
  end
end

local function read_file(path)
  local fh, err = io.open(path, "rb")
  if not fh then return nil, err end
  local text = fh:read("a")
  fh:close()
  return text
end

-- Test files live beside policies: tests/ (not scanned) or *_test.lua.
local function is_test(name) return name:match("_test%.lua$") ~= nil end

-- Policy files of a directory: list of { path =, text = } or nil, message. Missing is nil, nil.
local function dir_files(dir, required)
  local names, err, why = require("otarun.core.sys").list_files(dir, ".lua")
  if not names then
    if why == "missing" and not required then return {} end
    return nil, err
  end
  local files = {}
  for _, n in ipairs(names) do
    if not is_test(n) then
      local path = dir .. "/" .. n
      local text, rerr = read_file(path)
      if not text then return nil, "cannot read " .. path .. ": " .. tostring(rerr) end
      files[#files + 1] = { path = path, text = text }
    end
  end
  return files
end

-- The embedded built-in policy files (policies/*.lua, without policies/tests/).
function M.builtin_files()
  local embedded = require("otarun.core.embedded")
  local files = {}
  for _, name in ipairs(embedded.list("policies/")) do
    if not name:find("/", #"policies/" + 1, true) and not is_test(name) then
      local text, path = embedded.read(name)
      files[#files + 1] = { path = path or name, text = text, builtin = true }
    end
  end
  table.sort(files, function(a, b) return a.path < b.path end)
  return files
end

-- opts: dirs (list), builtin (default true), local_dir (default "policies"; false: none), now.
-- Returns policies (in order: built-in first), errors.
function M.load(opts)
  opts = opts or {}
  local groups = {}
  if opts.builtin ~= false then groups[#groups + 1] = { files = M.builtin_files(), builtin = true } end
  local errors = {}
  local dirs = {}
  if opts.local_dir ~= false then dirs[#dirs + 1] = { path = opts.local_dir or "policies", required = false } end
  for _, d in ipairs(opts.dirs or {}) do dirs[#dirs + 1] = { path = d, required = true } end
  local seen_dir = {}
  for _, d in ipairs(dirs) do
    local path = d.path:gsub("/+$", "")
    if not seen_dir[path] then
      seen_dir[path] = true
      local files, err = dir_files(path, d.required)
      if files then groups[#groups + 1] = { files = files }
      else errors[#errors + 1] = { file = path, line = 0, message = err } end
    end
  end
  local policies, by_name = {}, {}
  for _, g in ipairs(groups) do
    for _, f in ipairs(g.files) do
      local list, errs = M.load_text(f.text, f.path, opts)
      for _, e in ipairs(errs) do errors[#errors + 1] = e end
      for _, p in ipairs(list) do
        p.builtin = g.builtin or false
        local prev = by_name[p.name]
        if prev and not (prev.builtin and not p.builtin) then
          errors[#errors + 1] = { file = p.file, line = p.line, message = string.format(
            "policy %q is declared twice: %s:%d and %s:%d", p.name, prev.file, prev.line, p.file, p.line) }
        elseif prev then
          policies[prev.index] = p -- a local policy replaces the built-in of its name
          p.index = prev.index
          by_name[p.name] = p
        else
          policies[#policies + 1] = p
          p.index = #policies
          by_name[p.name] = p
        end
      end
    end
  end
  return policies, errors
end

return M
