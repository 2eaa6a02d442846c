-- Progress of a long run of API calls (apply): on a terminal one line on stderr, rewritten in
-- place (calls done / total, the rate, the wave at work); otherwise one plain log line per call,
-- which reads well in CI logs and files. Uses: otarun.core.sys (monotonic clock).
local M = {}

local Progress = {}
Progress.__index = Progress

-- new{ total = n, tty = bool, out = file (io.stderr), clock = fn, prefix = "otarun apply" }
function M.new(o)
  local sys = require("otarun.core.sys")
  local p = setmetatable({
    total = o.total or 0, done = 0, failed = 0, tty = o.tty == true, out = o.out or io.stderr,
    clock = o.clock or sys.monotonic, prefix = o.prefix or "otarun apply", drawn = false,
  }, Progress)
  p.started = p.clock()
  return p
end

function Progress:rate()
  local dt = self.clock() - self.started
  if dt <= 0 then return 0 end
  return self.done / dt
end

function Progress:draw(label)
  local text = string.format("%s: %d/%d calls, %.1f/s%s%s", self.prefix, self.done, self.total,
    self:rate(), self.failed > 0 and string.format(", %d failed", self.failed) or "",
    label and ("  " .. label) or "")
  if #text > 118 then text = text:sub(1, 115) .. "..." end
  self.out:write("\r\27[K", text)
  self.out:flush()
  self.drawn = true
end

-- One call done. job: the job it created or adopted; err: why it failed.
function Progress:step(where, action, job, err)
  self.done = self.done + 1
  if err then self.failed = self.failed + 1 end
  if self.tty then
    if err then
      self:clear()
      self.out:write(string.format("%s: %s: %s\n", self.prefix, where, err))
    end
    self:draw(where)
    return
  end
  local outcome = err and ("failed: " .. err) or (job and ("job " .. job) or "done")
  self.out:write(string.format("%s: [%d/%d] %s: %s %s\n", self.prefix, self.done, self.total, where,
    action, outcome))
end

-- Calls that will not be made (their wave stopped): they leave the total.
function Progress:skip(n)
  self.total = self.total - (n or 0)
end

-- A message between updates (kept above the progress line on a terminal).
function Progress:log(line)
  if self.tty then self:clear() end
  self.out:write(self.prefix, ": ", line, "\n")
  if self.tty and self.done > 0 then self:draw() end
end

function Progress:clear()
  if self.tty and self.drawn then
    self.out:write("\r\27[K")
    self.drawn = false
  end
end

-- Ends the display; returns seconds elapsed.
function Progress:finish()
  self:clear()
  self.out:flush()
  return self.clock() - self.started
end

return M
