-- Monte Carlo rehearsals (otarun rehearse --runs N, docs/rehearse.md): the same rehearsal N times
-- with the fleet's seed varied (otarun.run.rehearsal, run seed S, S+1, ...), each run stopped as
-- soon as every rollout completed or halted, and a summary per rollout: how often it halted (with a
-- Wilson 95% interval), at which wave, after how many failed devices, and how long halting or
-- completing took. The runs go in this process, or in child processes of the binary (--jobs).
-- Uses otarun.run.rehearsal, otarun.json.
local rehearsal = require("otarun.run.rehearsal")
local gate = require("otarun.run.gate")
local util = require("otarun.util")

local M = {}

M.Z95 = 1.959963984540054

-- Wilson score interval for k successes in n trials. -> lo, hi (shares in [0, 1])
function M.wilson(k, n, z)
  z = z or M.Z95
  if n == 0 then return 0, 1 end
  local p, z2 = k / n, z * z
  local denom = 1 + z2 / n
  local center = (p + z2 / (2 * n)) / denom
  local half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
  return math.max(0, center - half), math.min(1, center + half)
end

-- { median, min, max } of a list of numbers (nil when empty); the median of an even count is the
-- lower middle value, so it is always one of the runs.
function M.spread(list)
  if #list == 0 then return nil end
  local s = {}
  for i, v in ipairs(list) do s[i] = v end
  table.sort(s)
  return { median = s[(#s + 1) // 2], min = s[1], max = s[#s] }
end

-- run(o, n, first_seed [, on_run(i, result)]) -> results | nil, message
-- o: the options of rehearsal.run; results: { { seed, outcomes, wall } } in seed order.
function M.run(o, n, first_seed, on_run)
  local emulator = require("otarun.emulator")
  local fleets, err = emulator.load_fleet_file(o.fleet)
  if not fleets then return nil, err end
  local results = {}
  -- a run allocates its whole emulator and drops it at the end: collecting less eagerly saved
  -- about a fifth of the CPU of a 100,000-device run when measured
  collectgarbage("incremental", 300, 200)
  local before
  for i = 1, n do
    local ro = setmetatable({ seed = first_seed + i - 1, fleets = fleets, decided = true, before = before },
      { __index = o })
    local res, rerr = rehearsal.run(ro)
    if not res then return nil, rerr end
    before = res.before
    results[i] = { seed = ro.seed, outcomes = res.outcomes, wall = res.wall, devices = res.devices,
      problems = res.problems or {} }
    if on_run then on_run(i, results[i]) end
    res = nil -- the emulator of one run is garbage before the next one is built
    collectgarbage()
  end
  return results
end

-- Per rollout, in the order of the first run. -> { { rollout, runs, halted, share, ci = { lo, hi },
--   halted_at = { { wave, runs } }, failed_at_halt, seconds_to_halt, completed, seconds_to_complete,
--   running, failed_at_end, halted_seeds } }
function M.summarize(results)
  local order, by = {}, {}
  for _, r in ipairs(results) do
    for _, oc in ipairs(r.outcomes) do
      local s = by[oc.rollout]
      if not s then
        s = { rollout = oc.rollout, runs = 0, halted = 0, completed = 0, running = 0, waves = {}, wave_order = {},
              fh = {}, th = {}, tc = {}, fe = {}, halted_seeds = {} }
        by[oc.rollout] = s
        order[#order + 1] = s
      end
      s.runs = s.runs + 1
      if oc.outcome == "halted" then
        s.halted = s.halted + 1
        local w = oc.wave or "?"
        if not s.waves[w] then s.waves[w] = 0; s.wave_order[#s.wave_order + 1] = w end
        s.waves[w] = s.waves[w] + 1
        s.fh[#s.fh + 1] = oc.failed
        s.th[#s.th + 1] = oc.seconds
        s.halted_seeds[#s.halted_seeds + 1] = r.seed
      else
        if oc.outcome == "completed" then
          s.completed = s.completed + 1
          s.tc[#s.tc + 1] = oc.seconds
        else
          s.running = s.running + 1
        end
        s.fe[#s.fe + 1] = oc.failed
      end
    end
  end
  local out = {}
  for _, s in ipairs(order) do
    local lo, hi = M.wilson(s.halted, s.runs)
    local at = {}
    for _, w in ipairs(s.wave_order) do at[#at + 1] = { wave = w, runs = s.waves[w] } end
    out[#out + 1] = { rollout = s.rollout, runs = s.runs, halted = s.halted, share = s.halted / s.runs,
      ci = { lo, hi }, halted_at = at, failed_at_halt = M.spread(s.fh), seconds_to_halt = M.spread(s.th),
      completed = s.completed, seconds_to_complete = M.spread(s.tc), running = s.running,
      failed_at_end = M.spread(s.fe), halted_seeds = s.halted_seeds }
  end
  return out
end

-- "12.5%" with up to one decimal
local function share(x)
  local s = string.format("%.1f", x * 100):gsub("%.0$", "")
  return s .. "%"
end
M.share = share

local function plural(n, one, many) return n == 1 and (n .. " " .. one) or (n .. " " .. (many or one .. "s")) end

local function spread_text(sp, fmt)
  if not sp then return "-" end
  if sp.min == sp.max then return fmt(sp.median) end
  return string.format("%s (median; %s–%s)", fmt(sp.median), fmt(sp.min), fmt(sp.max))
end

local function dur(secs) return gate.duration(secs) end
local function num(n) return string.format("%d", math.floor(n + 0.5)) end

-- The line the issue asks for: "halted in K of N runs (P%, 95% CI a–b%)".
function M.halt_line(s)
  return string.format("halted in %d of %d runs (%s, 95%% CI %s–%s)", s.halted, s.runs, share(s.share),
    share(s.ci[1]):gsub("%%$", ""), share(s.ci[2]))
end

function M.text(results, o, wall)
  local lines = {}
  local n = #results
  local sets = {}
  for v, odds in pairs(o.set or {}) do sets[#sets + 1] = string.format("%s=%s", v, odds) end
  table.sort(sets)
  lines[#lines + 1] = string.format("%d rehearsals of %s against %s (fleet seeds %d–%d%s): %d devices, up to %s each",
    n, table.concat(o.files or {}, " "), o.fleet, results[1].seed, results[n].seed,
    #sets > 0 and (", --set " .. table.concat(sets, " --set ")) or "", results[1].devices or 0,
    dur(o.stop - o.start))
  for _, s in ipairs(M.summarize(results)) do
    lines[#lines + 1] = ""
    lines[#lines + 1] = string.format("rollout %s: %s", s.rollout, M.halt_line(s))
    for _, a in ipairs(s.halted_at) do
      lines[#lines + 1] = string.format("  halted at wave %s in %s", a.wave, plural(a.runs, "run"))
    end
    if s.halted > 0 then
      lines[#lines + 1] = "  failed devices at the halt: " .. spread_text(s.failed_at_halt, num)
      lines[#lines + 1] = "  time to the halt: " .. spread_text(s.seconds_to_halt, dur)
    end
    if s.completed > 0 then
      lines[#lines + 1] = string.format("  completed in %s, after %s", plural(s.completed, "run"),
        spread_text(s.seconds_to_complete, dur))
    end
    if s.running > 0 then
      lines[#lines + 1] = string.format("  still running at the end (--until) in %s", plural(s.running, "run"))
    end
    if s.completed + s.running > 0 then
      lines[#lines + 1] = "  failed devices in runs that did not halt: " .. spread_text(s.failed_at_end, num)
    end
    if s.halted > 0 and s.halted < s.runs then
      local seeds = {}
      for i = 1, math.min(10, #s.halted_seeds) do seeds[i] = tostring(s.halted_seeds[i]) end
      lines[#lines + 1] = string.format("  seeds that halted: %s%s (replay one with --seed)", table.concat(seeds, ", "),
        #s.halted_seeds > 10 and ", ..." or "")
    end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = string.format("wall time %.1f s (%.2f s a run)", wall, wall / math.max(1, n))
  return table.concat(lines, "\n") .. "\n"
end

function M.json(results, o, wall)
  local json = require("otarun.json")
  local rollouts = json.array{}
  for _, s in ipairs(M.summarize(results)) do
    rollouts[#rollouts + 1] = { rollout = s.rollout, runs = s.runs, halted = s.halted, halted_share = s.share,
      ci95 = s.ci, summary = M.halt_line(s), halted_at = json.array(s.halted_at),
      failed_at_halt = s.failed_at_halt or json.null, seconds_to_halt = s.seconds_to_halt or json.null,
      completed = s.completed, seconds_to_complete = s.seconds_to_complete or json.null, running = s.running,
      failed_at_end = s.failed_at_end or json.null, halted_seeds = json.array(s.halted_seeds) }
  end
  local runs = json.array{}
  for i, r in ipairs(results) do
    local oc = json.array{}
    for j, x in ipairs(r.outcomes) do
      oc[j] = { rollout = x.rollout, outcome = x.outcome, wave = x.wave, failed = x.failed, seconds = x.seconds }
    end
    local problems = json.array{}
    for j, line in ipairs(r.problems or {}) do problems[j] = line end
    runs[i] = { seed = r.seed, rollouts = oc, problems = problems, wall_seconds = r.wall }
  end
  local set = {}
  for v, odds in pairs(o.set or {}) do set[v] = odds end
  return json.line({ runs = #results, first_seed = results[1].seed, devices = results[1].devices,
    start = util.format_time(o.start, o.offset or 0), until_seconds = o.stop - o.start,
    set = next(set) and json.object(set) or json.null, rollouts = rollouts, results = runs, wall_seconds = wall })
end

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- The same runs in `jobs` child processes of this binary (`otarun rehearse ARGV... --runs K
-- --seed S --format json`), each a contiguous block of seeds, all started before any is read.
-- argv: the command line without --runs, --seed, --jobs and --format (arg[0] first).
-- -> results in seed order (as M.run) | nil, message
function M.run_parallel(n, first_seed, jobs, argv)
  local json = require("otarun.json")
  local children, seed = {}, first_seed
  for j = 1, jobs do
    local k = n // jobs + (j <= n % jobs and 1 or 0)
    if k > 0 then
      local words = {}
      for i, a in ipairs(argv) do words[i] = shell_quote(a) end
      local errfile = os.tmpname()
      local cmd = string.format("%s --runs %d --seed %d --format json --jobs 1 2>%s", table.concat(words, " "), k,
        seed, shell_quote(errfile))
      children[#children + 1] = { p = assert(io.popen(cmd)), err = errfile, seed = seed, k = k }
      seed = seed + k
    end
  end
  local results, failed = {}, nil
  for _, c in ipairs(children) do
    local out = c.p:read("a")
    c.p:close()
    local ok, doc = pcall(json.decode, out)
    if ok and type(doc) == "table" and type(doc.results) == "table" then
      for _, r in ipairs(doc.results) do
        for _, x in ipairs(r.rollouts) do
          x.failed, x.seconds = math.tointeger(x.failed) or x.failed, math.tointeger(x.seconds) or x.seconds
        end
        results[#results + 1] = { seed = math.tointeger(r.seed) or r.seed, outcomes = r.rollouts, wall = r.wall_seconds,
          devices = math.tointeger(doc.devices) or doc.devices, problems = r.problems or {} }
      end
    elseif not failed then
      local fh = io.open(c.err, "rb")
      local msg = fh and fh:read("a") or ""
      if fh then fh:close() end
      failed = string.format("the runs of seeds %d–%d failed: %s", c.seed, c.seed + c.k - 1,
        msg ~= "" and (msg:gsub("%s+$", "")) or "no output")
    end
    os.remove(c.err)
  end
  if failed then return nil, failed end
  return results
end

return M
