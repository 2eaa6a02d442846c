-- ListOTATaskByJob's task views are cached JSON texts spliced into the answer by the gateway's
-- encoder: what a client decodes must be exactly the view computed afresh from the model, for
-- every status, while progress moves, after a task changes and after UpdateOTAJob changes the
-- job's Timeout; in-process callers get the same views as tables.
local S = require("emulator.support")
local emulator = require("otarun.emulator")
local gateway = require("otarun.emulator.gateway")
local store_mod = require("otarun.emulator.store")
local ids = require("otarun.emulator.ids")
local cjson = require("cjson")

local encode = gateway.fast_json(emulator.ARRAY_MT, emulator.RAW_MT)

-- The view as the model defines it, computed without any cache.
local function expected(emu, t)
  local s = emu.store
  local job = s:job_of_task(t)
  local d = s.t_dev[t]
  local p = s.d_prod[d]
  return {
    TaskId = s:task_id(t), JobId = job.id, FirmwareId = job.firmware.id, IotId = s:iot_id(d),
    ProductKey = p.key, ProductName = p.name, DeviceName = s.d_name[d], SrcVersion = s.t_src[t],
    DestVersion = job.dest, TaskStatus = store_mod.NAME[s.t_status[t]], TaskDesc = s.t_desc[t],
    Progress = string.format("%d.00", emu.sim:progress(t)),
    Timeout = s.t_timeout[t] and tostring(s.t_timeout[t]) or nil,
    UtcCreate = ids.utc(s.t_created[t]), UtcModified = ids.utc(s.t_modified[t]),
  }
end

-- Lists every task of job the way the HTTP front does and checks each against expected();
-- returns the statuses seen and the decoded answers.
local function check_all(emu, job, params)
  local seen, pages = {}, {}
  local status, body = emu:call("ListOTATaskByJob", params or { JobId = job, PageSize = "100" }, { raw_json = true })
  assert.are.equal(200, status)
  local wire = cjson.decode(encode(body))
  local plain = S.call(emu, "ListOTATaskByJob", params or { JobId = job, PageSize = "100" })
  assert.are.same(wire.Data.SimpleOTATaskInfo, plain.Data.SimpleOTATaskInfo)
  assert.are.equal(plain.Total, wire.Total)
  for _, item in ipairs(wire.Data.SimpleOTATaskInfo) do
    local t = emu.store:task_by_id(item.TaskId)
    assert.are.same(expected(emu, t), item)
    seen[item.TaskStatus] = true
  end
  pages[#pages + 1] = wire
  return seen, wire
end

describe("ListOTATaskByJob views", function()
  it("match the model in every status, as progress moves and after Timeout changes", function()
    local emu = S.new({ failure = { ["2.3.0"] = 0.3 }, duration = { min = "10m", max = "90m" }, online = 0.8 })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"), { TimeoutInMinutes = "60", RetryInterval = "10",
      RetryCount = "1", MaximumPerMinute = "20" })
    local seen = {}
    local progress = {}
    for step = 1, 40 do
      local got, wire = check_all(emu, job)
      for k in pairs(got) do seen[k] = true end
      for _, item in ipairs(wire.Data.SimpleOTATaskInfo) do
        if item.TaskStatus == "IN_PROGRESS" then progress[item.Progress] = true end
      end
      if step == 10 then S.call(emu, "UpdateOTAJob", { JobId = job, MaximumPerMinute = "20", TimeoutInMinutes = "120" }) end
      if step == 20 then S.call(emu, "CancelOTATaskByJob", { JobId = job, CancelQueuedTask = "true" }) end
      emu:advance(150)
    end
    for _, st in ipairs({ "QUEUED", "NOTIFIED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELED" }) do
      assert.is_true(seen[st], st .. " was never listed")
    end
    local n = 0
    for _ in pairs(progress) do n = n + 1 end
    assert.is_true(n > 5, "progress values seen: " .. n)
    local wire = select(2, check_all(emu, job))
    -- the tasks made at the create keep its timeout; UpdateOTAJob reaches only later tasks
    assert.are.equal("60", wire.Data.SimpleOTATaskInfo[1].Timeout)
  end)

  it("match the model for a status page, a device list and a page past the end", function()
    local emu = S.new({ failure = { ["2.3.0"] = 0.5 } })
    local job = S.dynamic(emu, S.firmware(emu, "2.4.0"))
    emu:advance(3600)
    check_all(emu, job, { JobId = job, TaskStatus = "FAILED", PageSize = "7", CurrentPage = "2" })
    check_all(emu, job, { JobId = job, ["DeviceNames.1"] = "dev000030", ["DeviceNames.2"] = "dev000001",
                          ["DeviceNames.3"] = "dev000050" })
    local _, wire = check_all(emu, job, { JobId = job, PageSize = "50", CurrentPage = "9" })
    assert.are.equal(80, wire.Total)
    assert.are.same({}, wire.Data.SimpleOTATaskInfo)
    local _, body = emu:call("ListOTATaskByJob", { JobId = job, PageSize = "50", CurrentPage = "9" }, { raw_json = true })
    assert.truthy(encode(body):find('"SimpleOTATaskInfo":[]', 1, true))
    assert.truthy(emulator.to_json(S.call(emu, "ListOTATaskByJob", { JobId = job, CurrentPage = "9" }))
      :find('"SimpleOTATaskInfo":[]', 1, true))
  end)

  it("are spliced by fast_json next to empty lists and ordinary values", function()
    local shape = require("otarun.emulator.shape")
    local body = { A = shape.raw_array({ '{"x":1}', '{"y":"/"}' }), B = shape.array(), C = { D = shape.raw_array({}) },
                   E = "text", F = { 1, 2 } }
    assert.are.same({ A = { { x = 1 }, { y = "/" } }, B = {}, C = { D = {} }, E = "text", F = { 1, 2 } },
      cjson.decode(encode(body)))
    local text = encode(body)
    assert.truthy(text:find('"B":[]', 1, true))
    assert.truthy(text:find('"D":[]', 1, true))
    assert.are.equal(shape.RAW_MT, getmetatable(body.A))   -- the body is left as it was
  end)

  it("are joined like table.concat for any count, across the generated groups and past them", function()
    local join = require("otarun.emulator.answer_json").join
    for _, n in ipairs({ 0, 1, 2, 24, 25, 26, 50, 51, 99, 100, 101, 199, 200, 201, 350 }) do
      local t = {}
      for i = 1, n do t[i] = "{\"i\":" .. i .. "}" end
      assert.are.equal("pre[" .. table.concat(t, ",") .. "]post", join(t, "pre[", "]post"), "n = " .. n)
    end
  end)
end)
