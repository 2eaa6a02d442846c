-- A picture of a rehearsal (otarun rehearse --svg): devices upgraded per wave over time as stacked
-- areas, failed devices as a dashed line, wave starts, gate verdicts, halts and approvals marked,
-- a time axis in days or hours, a device axis, and a legend. Plain SVG 1.1 text with no script,
-- no external font or stylesheet, so GitHub renders it inline in a pull request.
--
--   svg.timeline{ title =, subtitle =, t0 =, t1 =, offset = (seconds east of UTC, for dates),
--                 times = { t1, t2, ... },               -- sample times (epoch), ascending
--                 series = { { name =, values = { n1, n2, ... } }, ... },   -- per wave, upgraded
--                 failed = { f1, f2, ... } | nil,        -- failed devices, all waves
--                 marks = { { t =, kind = "start"|"pass"|"fail"|"halt"|"resume"|"approve",
--                             wave =, label = }, ... },
--                 total = devices in scope | nil }  -> SVG text
-- Uses nothing but string formatting.
local M = {}

M.WIDTH, M.HEIGHT = 960, 460
local PAD = { left = 70, right = 190, top = 58, bottom = 62 }
M.PALETTE = { "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f",
              "#bab0ac", "#e15759" }
local MARK_COLOR = { start = "#555555", pass = "#2e7d32", fail = "#c62828", halt = "#c62828",
                     resume = "#1565c0", approve = "#6a1b9a" }

local function esc(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
    ['"'] = "&quot;", ["'"] = "&apos;" }))
end
M.escape = esc

local function num(x)
  local s = string.format("%.1f", x)
  return (s:gsub("%.0$", ""))
end

-- 1, 2, 5 x 10^k steps giving about `want` ticks up to max.
function M.nice_step(max, want)
  if max <= 0 then return 1 end
  local raw = max / (want or 5)
  local mag = 10 ^ math.floor(math.log(raw, 10))
  for _, m in ipairs({ 1, 2, 5, 10 }) do
    if raw <= m * mag then return math.max(1, math.floor(m * mag + 0.5)) end
  end
  return math.floor(10 * mag)
end

local function count_label(n)
  if n >= 1000000 and n % 100000 == 0 then return num(n / 1000000) .. "M" end
  if n >= 1000 and n % 100 == 0 then return num(n / 1000) .. "k" end
  return tostring(math.floor(n))
end

-- Time ticks: whole days when the span is over two days (every k days so that at most ~14
-- labels), else hours (1, 2, 3, 6 or 12).
function M.time_ticks(t0, t1, offset)
  local span = math.max(1, t1 - t0)
  local ticks = {}
  if span > 2 * 86400 then
    local every = math.max(1, math.ceil(span / 86400 / 14))
    -- midnights in the display offset
    local first = ((t0 + offset) // 86400 + 1) * 86400 - offset
    local day = 0
    for t = first, t1, 86400 do
      if day % every == 0 then
        local d = os.date("!%b %d", t + offset)
        ticks[#ticks + 1] = { t = t, label = d }
      end
      day = day + 1
    end
  else
    local hours = span / 3600
    local every = 1
    for _, e in ipairs({ 1, 2, 3, 6, 12 }) do
      every = e
      if hours / e <= 12 then break end
    end
    local step = every * 3600
    local first = ((t0 + offset) // step + 1) * step - offset
    for t = first, t1, step do
      ticks[#ticks + 1] = { t = t, label = os.date("!%H:%M", t + offset) }
    end
  end
  return ticks
end

local function offset_text(offset)
  local sign = offset < 0 and "-" or "+"
  local a = math.abs(offset)
  return string.format("UTC%s%02d:%02d", sign, a // 3600, a % 3600 // 60)
end

-- Stacked areas: series i sits on the sum of series 1..i-1.
local function stacked(out, d, x, y)
  local n = #d.times
  local base = {}
  for k = 1, n do base[k] = 0 end
  for i, s in ipairs(d.series) do
    local color = M.PALETTE[(i - 1) % #M.PALETTE + 1]
    local top, pts = {}, {}
    for k = 1, n do top[k] = base[k] + (s.values[k] or 0) end
    for k = 1, n do pts[#pts + 1] = num(x(d.times[k])) .. "," .. num(y(top[k])) end
    for k = n, 1, -1 do pts[#pts + 1] = num(x(d.times[k])) .. "," .. num(y(base[k])) end
    if n > 0 then
      out[#out + 1] = string.format('<polygon class="series" data-wave="%s" points="%s" fill="%s" fill-opacity="0.75" stroke="%s" stroke-width="1"><title>%s: %s devices upgraded</title></polygon>',
        esc(s.name), table.concat(pts, " "), color, color, esc(s.name), count_label(s.values[n] or 0))
    end
    base = top
  end
end

local function failed_line(out, d, x, y)
  if not d.failed or #d.times == 0 then return end
  local pts = {}
  for k = 1, #d.times do pts[#pts + 1] = num(x(d.times[k])) .. "," .. num(y(d.failed[k] or 0)) end
  out[#out + 1] = string.format('<polyline class="failed" points="%s" fill="none" stroke="#c62828" stroke-width="2" stroke-dasharray="6 3"><title>failed devices: %d</title></polyline>',
    table.concat(pts, " "), d.failed[#d.failed] or 0)
end

local function marks(out, d, x, top, bottom)
  -- several marks at one place stack their labels instead of overwriting each other
  local used = {}
  for _, m in ipairs(d.marks or {}) do
    local color = MARK_COLOR[m.kind] or "#333333"
    local px = x(m.t)
    local slot = math.floor(px / 70)
    local row = used[slot] or 0
    used[slot] = row + 1
    local label = m.label or (m.wave and (m.wave .. " " .. m.kind) or m.kind)
    local dash = m.kind == "start" and ' stroke-dasharray="3 3"' or ""
    out[#out + 1] = string.format('<g class="mark" data-kind="%s"%s><title>%s</title>', esc(m.kind),
      m.wave and (' data-wave="' .. esc(m.wave) .. '"') or "", esc(label))
    out[#out + 1] = string.format('<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="%s" stroke-width="1.2"%s/>',
      num(px), top, num(px), bottom, color, dash)
    local ly = top + 12 + row * 13
    if m.kind == "fail" or m.kind == "halt" then
      out[#out + 1] = string.format('<path d="M%s %d l5 -9 l5 9 z" fill="%s"/>', num(px - 5), ly + 1, color)
    elseif m.kind == "pass" then
      out[#out + 1] = string.format('<circle cx="%s" cy="%d" r="4" fill="%s"/>', num(px), ly - 3, color)
    else
      out[#out + 1] = string.format('<rect x="%s" y="%d" width="6" height="6" fill="%s"/>', num(px - 3), ly - 6, color)
    end
    out[#out + 1] = string.format('<text x="%s" y="%d" font-size="10" fill="%s">%s</text></g>',
      num(px + 7), ly, color, esc(label))
  end
end

local function legend(out, d, lx, ly)
  local rows = {}
  for i, s in ipairs(d.series) do
    rows[#rows + 1] = { kind = "area", color = M.PALETTE[(i - 1) % #M.PALETTE + 1],
      text = string.format("%s (%s)", s.name, count_label(s.values[#s.values] or 0)) }
  end
  if d.failed then rows[#rows + 1] = { kind = "dash", color = "#c62828", text = "failed (all waves)" } end
  rows[#rows + 1] = { kind = "circle", color = MARK_COLOR.pass, text = "gate passed" }
  rows[#rows + 1] = { kind = "tri", color = MARK_COLOR.fail, text = "gate failed / halt" }
  rows[#rows + 1] = { kind = "vline", color = MARK_COLOR.start, text = "wave started" }
  out[#out + 1] = string.format('<g class="legend" font-size="12"><text x="%d" y="%d" font-weight="bold">devices upgraded</text>', lx, ly)
  for i, r in ipairs(rows) do
    local y = ly + 8 + i * 18
    if r.kind == "area" then
      out[#out + 1] = string.format('<rect x="%d" y="%d" width="14" height="10" fill="%s" fill-opacity="0.75"/>', lx, y - 9, r.color)
    elseif r.kind == "dash" then
      out[#out + 1] = string.format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="4 2"/>', lx, y - 4, lx + 14, y - 4, r.color)
    elseif r.kind == "circle" then
      out[#out + 1] = string.format('<circle cx="%d" cy="%d" r="4" fill="%s"/>', lx + 7, y - 4, r.color)
    elseif r.kind == "tri" then
      out[#out + 1] = string.format('<path d="M%d %d l5 -9 l5 9 z" fill="%s"/>', lx + 2, y, r.color)
    else
      out[#out + 1] = string.format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-dasharray="3 3"/>', lx + 7, y - 11, lx + 7, y + 2, r.color)
    end
    out[#out + 1] = string.format('<text x="%d" y="%d">%s</text>', lx + 20, y, esc(r.text))
  end
  out[#out + 1] = "</g>"
end

function M.timeline(d)
  assert(type(d) == "table" and d.t0 and d.t1 and d.times and d.series, "svg.timeline needs t0, t1, times and series")
  local W, H = M.WIDTH, M.HEIGHT
  local x0, x1, y0, y1 = PAD.left, W - PAD.right, H - PAD.bottom, PAD.top
  local offset = d.offset or 0
  local span = math.max(1, d.t1 - d.t0)
  local ymax = d.total or 0
  for k = 1, #d.times do
    local sum = 0
    for _, s in ipairs(d.series) do sum = sum + (s.values[k] or 0) end
    if sum > ymax then ymax = sum end
    if d.failed and (d.failed[k] or 0) > ymax then ymax = d.failed[k] end
  end
  local step = M.nice_step(ymax, 5)
  local ytop = math.max(step, math.ceil(ymax / step) * step)
  local function x(t) return x0 + (math.min(math.max(t, d.t0), d.t1) - d.t0) / span * (x1 - x0) end
  local function y(v) return y0 - v / ytop * (y0 - y1) end

  local out = {}
  out[#out + 1] = '<?xml version="1.0" encoding="UTF-8"?>'
  out[#out + 1] = string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif">', W, H, W, H)
  out[#out + 1] = string.format('<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>', W, H)
  out[#out + 1] = string.format('<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>', x0, esc(d.title or "rehearsal"))
  if d.subtitle then
    out[#out + 1] = string.format('<text x="%d" y="42" font-size="12" fill="#555555">%s</text>', x0, esc(d.subtitle))
  end
  -- grid and device axis
  out[#out + 1] = '<g class="axis-y" font-size="11" fill="#444444">'
  for v = 0, ytop, step do
    out[#out + 1] = string.format('<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#e0e0e0"/>', x0, num(y(v)), x1, num(y(v)))
    out[#out + 1] = string.format('<text x="%d" y="%s" text-anchor="end">%s</text>', x0 - 6, num(y(v) + 4), count_label(v))
  end
  out[#out + 1] = string.format('<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">devices</text>', (y0 + y1) // 2, (y0 + y1) // 2)
  out[#out + 1] = "</g>"
  -- time axis
  out[#out + 1] = '<g class="axis-x" font-size="11" fill="#444444">'
  for _, tk in ipairs(M.time_ticks(d.t0, d.t1, offset)) do
    local px = num(x(tk.t))
    out[#out + 1] = string.format('<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#f0f0f0"/>', px, y1, px, y0)
    out[#out + 1] = string.format('<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#444444"/>', px, y0, px, y0 + 4)
    out[#out + 1] = string.format('<text x="%s" y="%d" text-anchor="middle">%s</text>', px, y0 + 17, esc(tk.label))
  end
  local days = span / 86400
  out[#out + 1] = string.format('<text x="%d" y="%d" text-anchor="middle">time (%s; %s days simulated)</text>',
    (x0 + x1) // 2, y0 + 40, offset_text(offset), num(days))
  out[#out + 1] = "</g>"
  stacked(out, d, x, y)
  failed_line(out, d, x, y)
  out[#out + 1] = string.format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444444"/>', x0, y0, x1, y0)
  out[#out + 1] = string.format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444444"/>', x0, y0, x0, y1)
  marks(out, d, x, y1, y0)
  legend(out, d, x1 + 20, y1 + 4)
  out[#out + 1] = "</svg>"
  return table.concat(out, "\n") .. "\n"
end

return M
