-- What makes a rehearsal's answer "this rollout will not finish" rather than "completed": a wave
-- whose target the simulated fleet does not have (a group it lacks, no device on its source
-- versions), a gate that can never pass (fewer devices than min_devices), and a rollout still
-- running when --until ends the simulation. `otarun rehearse` prints each as one line and exits 1
-- (docs/rehearse.md). Reads the emulator's store (otarun.emulator.store) once; no API calls.
local M = {}

-- Devices of the rollout's product that the wave's target can reach in this fleet. -> count | nil,
-- problem (a target the fleet does not have)
local function reachable(store, r, w)
  local p = store:product(r.product)
  if not p then return 0 end
  if w.group then
    if not store.groups[w.group] then
      return nil, string.format("wave %s targets group %s, which the fleet does not have", w.name, w.group)
    end
  end
  local names
  if w.devices then
    names = {}
    for _, n in ipairs(w.devices) do names[n] = true end
  end
  -- the candidates: the product's devices on each of the wave's versions, or all of them (the
  -- model's lists: counted in C when nothing else filters them)
  local filtered = names or w.group
  local lists, seen = {}, {}
  for _, v in ipairs(w.versions or {}) do
    if not seen[v] then
      seen[v] = true
      lists[#lists + 1] = filtered and store:ver_devices(p, v) or p.by_ver[v] or {}
    end
  end
  if not w.versions then lists[1] = filtered and store.core:list("dev", p.serial) or p.devices end
  local n = 0
  for _, list in ipairs(lists) do
    if not filtered then
      n = n + #list
    else
      for _, d in ipairs(list) do
        if (not names or names[store.d_name[d]]) and (not w.group or store:in_group(d, w.group)) then
          n = n + 1
        end
      end
    end
  end
  return n
end

-- Before the simulation: targets the fleet cannot serve, gates that cannot pass.
-- -> { "one line"... }
function M.before(rollouts, emu)
  local out = {}
  for _, r in ipairs(rollouts) do
    for _, w in ipairs(r.waves) do
      local n, problem = reachable(emu.store, r, w)
      if problem then
        out[#out + 1] = problem
      elseif n == 0 and (w.versions or w.devices) then
        out[#out + 1] = string.format("wave %s reaches no device of the fleet (%s)", w.name,
          w.versions and ("source versions " .. table.concat(w.versions, ", ")) or "its device list")
      elseif w.gate and w.gate.min_devices and n < w.gate.min_devices and not w.percent then
        out[#out + 1] = string.format("gate of %s can never pass: %d device%s < min_devices %d", w.name, n,
          n == 1 and "" or "s", w.gate.min_devices)
      end
    end
  end
  return out
end

-- After it: rollouts neither done nor halted when the simulation stopped (a halt says so itself).
-- report: the scheduler's last report; until_text: when the simulation stopped. -> { lines }
function M.after(report, until_text)
  local out = {}
  for _, r in ipairs(report.rollouts) do
    if not r.done and not r.halted then
      local open = {}
      for _, pw in ipairs(r.waves) do
        if pw.status ~= "passed" and pw.status ~= "done" and pw.status ~= "superseded" then
          open[#open + 1] = pw.name .. " " .. tostring(pw.status)
            .. (pw.status == "waiting" and pw.reason and (" for " .. pw.reason) or "")
        end
      end
      out[#out + 1] = string.format("rollout %s did not finish by %s (--until): %s", r.name, until_text,
        table.concat(open, ", "))
    elseif r.halted then
      out[#out + 1] = string.format("rollout %s halted: %s", r.name, tostring(r.halt_reason))
    end
  end
  return out
end

return M
