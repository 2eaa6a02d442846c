-- A seeded mutation fuzzer for the JSON otarun reads from outside (docs/fuzzing.md): saved plans
-- (otarun.apply.saved.load, byte- and structure-level mutations of a real saved plan) and the
-- platform's answers as the client reads them (otarun.platform.client.classify, then
-- otarun.plan.refresh.read through a client that answers every call with a generated tree).
-- It also feeds the emulator: raw requests (query, form body, headers: the Lua half of its request
-- parsing) through its gateway, and random parameters of every action straight to its model.
-- Each input must give a result or a clean nil, message (an HTTP answer for the emulator): any
-- Lua error is a finding.
-- Usage: otarun lua fuzz/fuzz_json.lua SECONDS [SEED] -> prints totals; exit 1 on a finding.
local cjson = require("cjson")
local sys = require("otarun.core.sys")
local seconds, seed = tonumber(arg[1] or "10"), tonumber(arg[2] or "1")
local src = os.getenv("OTARUN_SRC") or "."
local bin = os.getenv("OTARUN_BIN") or "./build/otarun"
math.randomseed(seed)

local tmp = os.tmpname()
local base_path = tmp .. ".plan.json"
assert(os.execute(string.format("%s plan --offline --now 2026-05-01T10:00:00+08:00 --out %s %s/examples/version-waves.lua >/dev/null 2>&1",
  bin, base_path, src)), "cannot make the base saved plan")
local fh = assert(io.open(base_path, "rb"))
local base = fh:read("a")
fh:close()

local ATOMS = { cjson.null, true, false, 0, -1, 1e308, -1e308, 2^63, 0.5, "", "x", "\0\27[2J", "1.0",
  "otarun-saved-plan/1", "create", "cancel", string.rep("a", 300), {}, { 1, 2 }, { a = "b" } }
local KEYS = { "Data", "List", "SimpleOTAJobInfo", "JobId", "JobStatus", "Total", "PageCount", "CurrentPage",
  "FirmwareId", "SrcVersions", "SrcVersion", "Tags", "OtaTagDTO", "Key", "Value", "Success", "Code",
  "Message", "RequestId", "ProductKey", "DestVersion", "FirmwareSize", "Status", "JobType", "SelectionType",
  "TargetSelection", "GroupId", "GroupType", "MaximumPerMinute", "UtcCreate", "DynamicMode", "VerifyProgress",
  "FirmwareUrl", "Sign", "FirmwareSign", "DeviceCount", "TaskStatus", "Version", "Name" }

local function pick(t)
  local v = t[math.random(#t)]
  if type(v) ~= "table" then return v end
  local c = {} -- a fresh copy: a shared table would make cycles
  for k, x in pairs(v) do c[k] = x end
  return c
end

local function mutate_tree(v, depth)
  if type(v) ~= "table" or depth > 6 or math.random() < 0.1 then
    if math.random() < 0.3 then return pick(ATOMS) end
    return v
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  if #keys == 0 or math.random() < 0.1 then return pick(ATOMS) end
  local k = keys[math.random(#keys)]
  local r = math.random()
  if r < 0.6 then v[k] = mutate_tree(v[k], depth + 1)
  elseif r < 0.8 then v[k] = pick(ATOMS)
  elseif r < 0.9 then v[k] = nil
  else v[pick(KEYS)] = pick(ATOMS) end
  return v
end

local function mutate_bytes(s)
  local b = { s:byte(1, -1) }
  for _ = 1, math.random(1, 8) do
    local r, i = math.random(), math.random(math.max(#b, 1))
    if r < 0.4 then b[i] = math.random(0, 255)
    elseif r < 0.7 then table.remove(b, i)
    else table.insert(b, i, pick({ 34, 44, 58, 91, 93, 123, 125, 48, 110 })) end
  end
  local parts = {}
  for i = 1, #b, 4096 do parts[#parts + 1] = string.char(table.unpack(b, i, math.min(#b, i + 4095))) end
  return table.concat(parts)
end

local function random_tree(depth)
  if depth > 4 or math.random() < 0.3 then return pick(ATOMS) end
  local t = {}
  if math.random() < 0.4 then
    for i = 1, math.random(0, 3) do t[i] = random_tree(depth + 1) end
  else
    for _ = 1, math.random(0, 5) do t[pick(KEYS)] = random_tree(depth + 1) end
  end
  return t
end

local findings, runs = {}, { plans = 0, answers = 0, requests = 0 }
local function finding(kind, input, err)
  findings[#findings + 1] = { kind = kind, err = tostring(err) }
  local out = io.open(string.format("%s.finding%d.json", tmp, #findings), "wb")
  if out then out:write(input) out:close() end
end

local saved = require("otarun.apply.saved")
local client_mod = require("otarun.platform.client")
local refresh = require("otarun.plan.refresh")
local res = require("otarun.plan.pipeline").check({ src .. "/examples/version-waves.lua" },
  { vars = {}, now = 1777600800, limits = {} })
local rollouts = res.rollouts

local emulator = require("otarun.emulator")
local gateway = require("otarun.emulator.gateway")
local emu = emulator.new({ clock = "manual", seed = 3 })
assert(emu:load_fleet(require("otarun.emulator.fleet").load_file(src .. "/examples/fleets/camera.lua")[1]))
local gw = gateway.new({ model = emu, keys = { fuzzkey = { secret = "fuzzsecret" } },
  encode = gateway.fast_json(emulator.ARRAY_MT, emulator.RAW_MT), raw_json = true, host_id = "iot.fuzz" })
local PARAM_NAMES = { "Action", "Version", "Signature", "AccessKeyId", "SignatureNonce", "Timestamp",
  "SignatureMethod", "SignatureVersion", "Format", "ProductKey", "FirmwareId", "JobId", "SrcVersion.1",
  "SrcVersion.999999999999", "Tag.1.Key", "Tag.1.Value", "MaximumPerMinute", "TimeoutInMinutes",
  "GroupId", "TargetSelection", "TargetDeviceName.1", "PageSize", "CurrentPage", "TaskStatus",
  "DeviceName.1", "IotInstanceId", "DestVersion", "RetryInterval", "RetryCount", "GrayPercent" }
local VALUES = { "", "1", "0", "-1", "10000000000", "1e309", "nan", "%", "%zz", "+", "a b", "\0",
  "QueryProductList", "2018-01-20", "HMAC-SHA1", "2026-05-01T10:00:00Z", "DYNAMIC", "STATIC", "IN_PROGRESS",
  "fwCam240", "a1CamRehearse", "2.3.1", "2.4.0", "CamCanary", string.rep("9", 40), "ACS3-HMAC-SHA256 Credential=x,SignedHeaders=y,Signature=z" }

local function random_query()
  local parts = {}
  for _ = 1, math.random(0, 12) do
    parts[#parts + 1] = pick(PARAM_NAMES) .. (math.random() < 0.9 and ("=" .. pick(VALUES)) or "")
  end
  local q = table.concat(parts, "&")
  if math.random() < 0.3 then q = mutate_bytes(q .. " ") end
  return q
end

local deadline = sys.monotonic() + seconds
local t0 = sys.monotonic()
while sys.monotonic() < deadline do
  -- a saved plan
  local text
  if math.random() < 0.5 then
    text = mutate_bytes(base)
  else
    local ok, doc = pcall(cjson.decode, base)
    for _ = 1, math.random(1, 4) do doc = mutate_tree(doc, 0) end
    local eok, enc = pcall(cjson.encode, doc)
    text = eok and enc or base
  end
  local path = tmp .. ".mutant.json"
  local out = assert(io.open(path, "wb"))
  out:write(text)
  out:close()
  local ok, err = pcall(saved.load, path)
  if not ok then finding("saved plan", text, err) end
  runs.plans = runs.plans + 1
  -- the platform's answers
  local answers = {}
  local fake = { call = function(_, action)
    local body = cjson.encode(random_tree(0))
    if math.random() < 0.2 then body = mutate_bytes(body) end
    answers[#answers + 1] = body
    local status = pick({ 200, 200, 200, 400, 500, 503 })
    local decoded, cerr = client_mod.classify(action, { status = status, body = body, headers = {} })
    return decoded, cerr
  end }
  local rok, rerr = pcall(refresh.read, fake, rollouts, {})
  if not rok then finding("platform answer", table.concat(answers, "\n"), rerr) end
  runs.answers = runs.answers + 1
  -- the emulator: a raw request through the gateway, and an action's parameters to the model
  local headers = {}
  if math.random() < 0.5 then headers["content-type"] = "application/x-www-form-urlencoded" end
  if math.random() < 0.3 then headers["authorization"] = pick(VALUES) end
  if math.random() < 0.3 then headers["x-acs-action"] = pick(emulator.ACTIONS) end
  local req = { method = pick({ "GET", "POST" }), path = math.random() < 0.95 and "/" or "/x",
                query = random_query(), headers = headers, body = random_query(), remote = "127.0.0.1" }
  local gok, gerr = pcall(gw.handle, gw, req)
  if not gok then finding("emulator request", cjson.encode(req), gerr) end
  local params = {}
  for _ = 1, math.random(0, 8) do params[pick(PARAM_NAMES)] = pick(VALUES) end
  local action = pick(emulator.ACTIONS)
  local mok, merr = pcall(emu.call, emu, action, params, { region = "cn-shanghai" })
  if not mok then finding("emulator " .. action, cjson.encode(params), merr) end
  runs.requests = runs.requests + 1
end
local secs = sys.monotonic() - t0
os.remove(base_path)
os.remove(tmp .. ".mutant.json")
os.remove(tmp)
print(string.format("fuzz_json: %d saved plans, %d platform reads, %d emulator requests in %.1f s (%.0f exec/s), %d findings",
  runs.plans, runs.answers, runs.requests, secs, (runs.plans + runs.answers + runs.requests) / secs, #findings))
for i, f in ipairs(findings) do
  if i > 5 then break end
  print(string.format("  %s: %s (input in %s.finding%d.json)", f.kind, f.err, tmp, i))
end
os.exit(#findings == 0 and 0 or 1)
