-- Helpers for the emulator specs: a small fleet, firmware, calls that must succeed or must fail
-- with a given code, and a trace of task status changes (to count notifications per minute).
local emulator = require("otarun.emulator")
local store_mod = require("otarun.emulator.store")
local assert = require("luassert")

local M = {}

M.PK = "a1Le6d0abcd"
M.T0 = 1767225600          -- 2026-01-01T00:00:00Z

-- new{ fleet fields... } -> emu; defaults: 20 devices on 2.3.1, 80 on 2.3.0 in group IwOwQj7DJ,
-- every device online, no failures.
function M.new(fleet, opts)
  opts = opts or {}
  local emu = emulator.new({ now = opts.now or M.T0, seed = opts.seed or 7, region = opts.region, clock = opts.clock, speed = opts.speed })
  fleet = fleet or {}
  local f = { product = M.PK, online = 1,
              devices = { { version = "2.3.1", count = 20 }, { version = "2.3.0", count = 80, groups = { "IwOwQj7DJ" } } },
              duration = { min = "5m", max = "10m" } }
  for k, v in pairs(fleet) do f[k] = v end
  local ok, err = emu:load_fleet(f)
  assert(ok, err)
  return emu
end

function M.call(emu, action, params, ctx)
  local status, body = emu:call(action, params, ctx)
  if status ~= 200 or body.Success ~= true then
    error(string.format("%s: expected success, got %d %s", action, status, emulator.to_json(body)), 2)
  end
  return body
end

-- Expects a business error (HTTP 200, Success=false) with the code; returns the message.
function M.fails(emu, action, params, code, ctx)
  local status, body = emu:call(action, params, ctx)
  assert.are.equal(200, status, emulator.to_json(body))
  assert.are.equal(false, body.Success, emulator.to_json(body))
  assert.are.equal(code, body.Code, emulator.to_json(body))
  assert.is_string(body.ErrorMessage)
  assert.is_string(body.RequestId)
  return body.ErrorMessage
end

function M.firmware(emu, version, extra)
  local p = { FirmwareName = "fw" .. version:gsub("%.", "_"), DestVersion = version, ProductKey = M.PK,
              FirmwareUrl = "https://example/fw.bin", NeedToVerify = "false" }
  for k, v in pairs(extra or {}) do p[k] = v end
  return M.call(emu, "CreateOTAFirmware", p).Data.FirmwareId
end

function M.dynamic(emu, fid, extra, ctx)
  local p = { FirmwareId = fid, ProductKey = M.PK, ["SrcVersion.1"] = "2.3.0" }
  for k, v in pairs(extra or {}) do p[k] = v ~= false and v or nil end
  return M.call(emu, "CreateOTADynamicUpgradeJob", p, ctx).Data.JobId
end

function M.total(emu, job, status)
  local b = M.call(emu, "ListOTATaskByJob", { JobId = job, PageSize = "1", TaskStatus = status })
  return b.Total
end

-- { QUEUED = n, ... } for a job, from ListOTATaskByJob's Total.
function M.totals(emu, job)
  local out = {}
  for _, n in ipairs(store_mod.NAME) do out[n] = M.total(emu, job, n) end
  return out
end

-- The task of device `name` in job (ListOTATaskByJob with DeviceNames.1), or nil.
function M.task(emu, job, name)
  local b = M.call(emu, "ListOTATaskByJob", { JobId = job, ["DeviceNames.1"] = name })
  return b.Data.SimpleOTATaskInfo[1]
end

function M.device(emu, name)
  return M.call(emu, "QueryDeviceDetail", { ProductKey = M.PK, DeviceName = name }).Data
end

-- Records every status change: list of { task, old, new, now } (status names).
function M.trace(emu)
  local log = {}
  emu.store.trace = function(t, old, new, now)
    log[#log + 1] = { task = t, old = old and store_mod.NAME[old], new = store_mod.NAME[new], now = now,
                      job = emu.store:job_of_task(t).id }
  end
  return log
end

return M
