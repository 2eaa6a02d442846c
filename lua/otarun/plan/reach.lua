-- How much of the fleet a static percent wave reaches (docs/platform-assumptions.md,
-- "Percentages"). GrayPercent is a share of the devices still on the source versions when the job
-- is created, so a ramp's waves compound: after 1% and 10% of what is left, 10.9% of the fleet on
-- those versions was targeted. For each percent wave this gives the GrayPercent to send (the
-- wave's own, or the one that brings the total to N% for `percent = { total = N }`), the share of
-- the fleet (on its versions, as they were before the first wave) the wave reaches, and the total
-- reached with the earlier percent waves on the same versions. Devices that failed an earlier wave
-- stay on the source versions and count as still reachable: the shares are the targeted ones.
-- Uses otarun.platform.params (number text).
local params = require("otarun.platform.params")

local M = {}

M.MIN_GRAY = 0.001     -- the smallest GrayPercent the platform takes (3 decimals)

-- Results by wave table, made once: a plan asks for a wave's reach up to three times, and each
-- answer walks the earlier waves (the normalised waves do not change once validated).
local KEY_OF = setmetatable({}, { __mode = "k" })
local REACH_OF = setmetatable({}, { __mode = "k" })

local function versions_key(w)
  local key = KEY_OF[w]
  if key then return key end
  local list = {}
  for i, v in ipairs(w.versions or {}) do list[i] = v end
  table.sort(list)
  key = table.concat(list, "\0")
  KEY_OF[w] = key
  return key
end

local function is_percent(w) return w.kind == "static" and w.percent ~= nil end

-- GrayPercent text: at most 3 decimals, rounded up so a total is reached, no trailing zeros.
local function gray_text(x)
  local milli = math.ceil(x * 1000 - 1e-6)
  if milli < 1 then milli = 1 end
  if milli > 100000 then milli = 100000 end
  local s = string.format("%d.%03d", milli // 1000, milli % 1000):gsub("0+$", ""):gsub("%.$", "")
  return s
end

-- of(rollout, wave) -> nil for a wave that is not a static percent wave, else
-- { gray = "text" (GrayPercent to send), share = % of the fleet this wave reaches,
--   before = % reached by the earlier percent waves on its versions, total = before + share,
--   unreachable = true when a total is already reached (the wave then sends MIN_GRAY) }
local function reach_of(rollout, wave)
  local key, reached = versions_key(wave), 0
  for _, w in ipairs(rollout.waves or {}) do
    if w == wave or w.name == wave.name then break end
    if is_percent(w) and versions_key(w) == key then
      if w.percent_total then reached = math.max(reached, w.percent)
      else reached = reached + w.percent * (100 - reached) / 100 end
    end
  end
  local out = { before = reached }
  if wave.percent_total then
    local target = wave.percent
    if target <= reached + 1e-9 or reached >= 100 then
      out.gray, out.unreachable = gray_text(M.MIN_GRAY), true
    else
      out.gray = gray_text((target - reached) / (100 - reached) * 100)
    end
  else
    out.gray = wave.percent_text or params.text(wave.percent)
  end
  out.share = tonumber(out.gray) * (100 - reached) / 100
  out.total = reached + out.share
  return out
end

function M.of(rollout, wave)
  if not is_percent(wave) then return nil end
  local memo = REACH_OF[wave]
  if memo and memo.rollout == rollout then return memo.result end
  local result = reach_of(rollout, wave)
  REACH_OF[wave] = { rollout = rollout, result = result }
  return result
end

local function pct(x)
  local s = string.format("%.2f", x):gsub("0+$", ""):gsub("%.$", "")
  return s .. "%"
end

-- The plan's words for a percent wave's reach, or nil.
function M.text(rollout, wave)
  local r = M.of(rollout, wave)
  if not r then return nil end
  local on = wave.versions and #wave.versions > 0 and (" on " .. table.concat(wave.versions, ", ")) or ""
  if r.unreachable then
    return string.format("total %s of the devices%s was already reached by the earlier waves; GrayPercent %s",
      pct(wave.percent), on, r.gray)
  end
  if r.before == 0 then
    return string.format("GrayPercent %s reaches about %s of the devices%s", r.gray, pct(r.share), on)
  end
  return string.format("GrayPercent %s of the devices still on the source versions reaches about %s of the devices%s, %s in total with the earlier waves",
    r.gray, pct(r.share), on, pct(r.total))
end

-- With the platform (live plans): the first percent wave of each chain that has a job tells how
-- many devices its GrayPercent took (ListOTATaskByJob, PageSize 1, its Total), hence about how
-- many were on the chain's versions; every later percent wave's reason then says about how many
-- devices it reaches. One call per chain. plan: the built plan; client_for(rollout) -> client.
-- -> calls made
function M.annotate(plan, rollouts, client_for)
  local calls = 0
  for _, r in ipairs(rollouts) do
    local entries = {}
    for _, pr in ipairs(plan.rollouts or {}) do
      if pr.name == r.name then
        for _, e in ipairs(pr.waves or {}) do entries[e.name] = e end
      end
    end
    local first, order = {}, {}
    for _, w in ipairs(r.waves or {}) do
      if is_percent(w) then
        local key = versions_key(w)
        if not first[key] then first[key], order[#order + 1] = w, key end
      end
    end
    for _, key in ipairs(order) do
      local w1 = first[key]
      local e1 = entries[w1.name]
      local client = e1 and e1.job_id and client_for(r)
      if client then
        local res = client:call("ListOTATaskByJob", { JobId = e1.job_id, PageSize = 1, CurrentPage = 1,
          IotInstanceId = r.instance })
        calls = calls + 1
        local total = res and tonumber(res.Total)
        local gray = tonumber(M.of(r, w1).gray)
        if total and total > 0 and gray and gray > 0 then
          local pool = total * 100 / gray
          for _, w in ipairs(r.waves) do
            local e = entries[w.name]
            if w ~= w1 and is_percent(w) and versions_key(w) == key and e and (e.action == "create" or e.action == "wait") then
              local n = math.floor(M.of(r, w).share / 100 * pool + 0.5)
              e.reason = string.format("%s; about %d devices (wave %q's job took %d tasks: about %d devices were on these versions)",
                e.reason, n, w1.name, total, math.floor(pool + 0.5))
              if e.reach then e.reach.devices = n end
            end
          end
        end
      end
    end
  end
  return calls
end

return M
