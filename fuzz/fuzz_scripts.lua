-- The script-level mutation fuzzer (docs/fuzzing.md): rollout scripts derived from examples/,
-- mutated at the byte level (flip, delete, insert) and the token level (delete, duplicate, swap, or
-- replace a token with one from a hostile list), each run through the real binary as
-- `validate --max-seconds 2` and `plan --offline --max-seconds 2`. A finding is a crash (a signal
-- or an undocumented exit code), a hang (no answer within 20 s) or a traceback / internal error.
-- Usage: otarun lua fuzz/fuzz_scripts.lua (SECONDS | -n COUNT) [SEED] -> totals; exit 1 on a finding.
local sys = require("otarun.core.sys")
local src = os.getenv("OTARUN_SRC") or "."
local bin = os.getenv("OTARUN_BIN") or "./build/otarun"

local M = {}

local EXAMPLES = { "static-ramp.lua", "version-waves.lua", "dynamic-group.lua", "regions-loop.lua", "rehearsal.lua" }
local HOSTILE = { "nil", "{}", "true", "0", "-1", "1e309", "0/0", "2^63", '"\\0\\27[2J"', '""', "...",
  "while true do end", "string.rep('x', 1e9)", "error(setmetatable({}, {__tostring = error}))",
  "setmetatable({}, {__index = function(t, k) return t[k] end})", "rollout", "wave", "firmware", "var",
  "(", ")", "{", "}", "[[", "]]", "=", ",", "..", "#", "function() end", "require('x')", "os.exit(1)",
  "load('return 1')()", "coroutine.yield()", "collectgarbage()", "local", "return", "goto x", "::x::" }
local CODES = { validate = { [0] = true, [3] = true }, plan = { [0] = true, [2] = true, [3] = true, [4] = true } }

local function read(path)
  local fh = assert(io.open(path, "rb"))
  local t = fh:read("a")
  fh:close()
  return t
end

local function tokens(text)
  local out, i = {}, 1
  while i <= #text do
    local s, e = text:find("^%s+", i)
    if not s then s, e = text:find("^[%a_][%w_]*", i) end
    if not s then s, e = text:find("^%d[%w%.]*", i) end
    if not s then s, e = text:find('^"[^"\n]*"', i) end
    if not s then s, e = text:find("^%-%-[^\n]*", i) end
    if not s then s, e = i, i end
    out[#out + 1] = text:sub(s, e)
    i = e + 1
  end
  return out
end

function M.mutate(text)
  if math.random() < 0.4 then
    local b = { text:byte(1, -1) }
    for _ = 1, math.random(1, 6) do
      local r, i = math.random(), math.random(#b)
      if r < 0.4 then b[i] = math.random(0, 255) elseif r < 0.7 then table.remove(b, i)
      else table.insert(b, i, text:byte(math.random(#text))) end
    end
    local parts = {}
    for i = 1, #b, 4096 do parts[#parts + 1] = string.char(table.unpack(b, i, math.min(#b, i + 4095))) end
    return table.concat(parts)
  end
  local t = tokens(text)
  for _ = 1, math.random(1, 4) do
    local r, i, j = math.random(), math.random(#t), math.random(#t)
    if r < 0.25 then table.remove(t, i)
    elseif r < 0.5 then table.insert(t, i, t[j])
    elseif r < 0.7 then t[i], t[j] = t[j], t[i]
    else t[i] = HOSTILE[math.random(#HOSTILE)] end
  end
  return table.concat(t)
end

-- Runs one mutant through both commands. -> nil | finding { kind, command, detail }
function M.check(path)
  for _, cmd in ipairs({ "validate", "plan" }) do
    local out = path .. ".out"
    local line = string.format("timeout -s KILL 20 %s %s%s --max-seconds 2 --now 2026-05-01T10:00:00+08:00 %s >%s 2>&1",
      bin, cmd, cmd == "plan" and " --offline" or "", path, out)
    local _, how, code = os.execute(line)
    local text = read(out)
    os.remove(out)
    if how == "signal" or code == 137 then return { kind = "hang or signal", command = cmd, detail = tostring(code) } end
    if code > 128 then return { kind = "crash", command = cmd, detail = "exit " .. code } end
    if not CODES[cmd][code] then return { kind = "undocumented exit code", command = cmd, detail = code .. ": " .. text:sub(1, 300) } end
    if text:find("traceback", 1, true) or text:find("internal error", 1, true) then
      return { kind = "traceback", command = cmd, detail = text:sub(1, 600) }
    end
  end
end

-- run{ seconds = s | count = n, seed = n } -> { runs, findings = { ... }, seconds }
function M.run(opts)
  math.randomseed(opts.seed or 1)
  local bases = {}
  for i, name in ipairs(EXAMPLES) do bases[i] = read(src .. "/examples/" .. name) end
  local dir = os.tmpname()
  os.remove(dir)
  assert(require("otarun.core.sys").mkdirs(dir))
  local result = { runs = 0, findings = {} }
  local t0 = sys.monotonic()
  while (opts.count and result.runs < opts.count) or (opts.seconds and sys.monotonic() - t0 < opts.seconds) do
    local text = M.mutate(bases[math.random(#bases)])
    local path = dir .. "/mutant.lua"
    local fh = assert(io.open(path, "wb"))
    fh:write(text)
    fh:close()
    local f = M.check(path)
    result.runs = result.runs + 1
    if f then
      f.input = dir .. "/finding" .. (#result.findings + 1) .. ".lua"
      local keep = assert(io.open(f.input, "wb"))
      keep:write(text)
      keep:close()
      result.findings[#result.findings + 1] = f
    end
  end
  result.seconds = sys.monotonic() - t0
  os.remove(dir .. "/mutant.lua")
  if #result.findings == 0 then os.remove(dir) end
  return result
end

if arg and arg[0] and arg[0]:match("fuzz_scripts%.lua$") then
  local opts = { seed = tonumber(arg[3] or arg[2] or "1") }
  if arg[1] == "-n" then opts.count = tonumber(arg[2]); opts.seed = tonumber(arg[3] or "1")
  else opts.seconds = tonumber(arg[1] or "30"); opts.seed = tonumber(arg[2] or "1") end
  local r = M.run(opts)
  print(string.format("fuzz_scripts: %d mutants (x2 commands) in %.1f s (%.1f mutants/s), %d findings",
    r.runs, r.seconds, r.runs / r.seconds, #r.findings))
  for i, f in ipairs(r.findings) do
    if i > 5 then break end
    print(string.format("  %s in %s: %s (input %s)", f.kind, f.command, f.detail, f.input))
  end
  os.exit(#r.findings == 0 and 0 or 1)
end
return M
