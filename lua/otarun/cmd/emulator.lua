-- otarun emulator: a local IoT Platform OTA endpoint (docs/emulator.md). Builds the model (otarun.emulator),
-- the gateway and the admin API in front of it, and serves them over HTTP on loopback with
-- otarun.core.httpd until SIGINT/SIGTERM or POST /_emulator/shutdown. Prints
-- `listening on http://HOST:PORT` on stdout once ready (tests read the port from it).
local args = require("otarun.cli.args")
local failure = require("otarun.failure")
local util = require("otarun.util")

local M = {}

local OPTIONS = {
  ["--listen"] = "string", ["--fleet"] = "list", ["--key"] = "list", ["--clock"] = "string",
  ["--speed"] = "number", ["--state"] = "string", ["--allow-remote"] = "bool",
  ["--timestamp-window"] = "string", ["--qps"] = "list", ["--seed"] = "int", ["--max-body"] = "int",
  ["--quiet"] = "bool",
}

local HELP = [==[
usage: otarun emulator [--listen 127.0.0.1:PORT] [--fleet FILE]... [--key ID:SECRET[:TOKEN]]...
                       [--clock real|manual] [--speed N] [--state FILE] [--allow-remote]
                       [--timestamp-window 15m] [--qps Action=N]... [--seed N]

A local IoT Platform OTA endpoint with a simulated fleet. It verifies v1 (HMAC-SHA1) and V3
(ACS3-HMAC-SHA256) signatures from the request as received, the timestamp window, nonce replay,
unknown keys and STS tokens, answers Throttling.User beyond each operation's QPS, and answers in
the platform's two error formats. The admin API under /_emulator/ (loopback only) loads fleets,
moves a manual clock, injects faults and reports counters. Device list files for
GenerateDeviceNameListURL are uploaded to the emulated object storage under /_oss/ (an OSS
PostObject form; larger lists need a larger --max-body). What the emulator assumes where the
platform's documentation is silent: docs/platform-assumptions.md.

options:
  --listen HOST:PORT     address to serve on (default 127.0.0.1:8780; port 0 picks a free one).
                         Only loopback addresses unless --allow-remote.
  --fleet FILE           fleet file to load at start (repeatable; see docs/emulator.md)
  --key ID:SECRET[:TOKEN]  an accepted AccessKey (repeatable; with TOKEN it is an STS key and
                         requests must carry that security token). Without --key one fresh test
                         key pair is generated and printed: it is this emulator's own key and
                         works nowhere else.
  --clock real|manual    real (default): simulated time follows the wall clock, times --speed;
                         manual: time moves only with POST /_emulator/clock/advance?seconds=N
  --speed N              with --clock real, simulated seconds per real second (default 1)
  --timestamp-window D   allowed |request time - real time| (default 15m)
  --qps Action=N         per-account QPS limit of an operation (repeatable; N = 0: unlimited;
                         '*=N' sets every operation)
  --state FILE           load the model (fleet, firmware, jobs, tasks, clock, pending device
                         events) from FILE at start when it exists, and save it there on
                         shutdown (SIGINT, SIGTERM, POST /_emulator/shutdown). --fleet files are
                         loaded only when FILE does not exist yet. A real clock resumes from the
                         saved time.
  --seed N               seed of the simulation (default 7)
  --max-body BYTES       largest request body accepted (default 1048576)
  --quiet                do not print the start-up banner beyond the listening line

Start it and point clients at it:
  otarun emulator --listen 127.0.0.1:8780 --fleet examples/fleets/camera.lua --key LTAItest:testsecret

  Node SDK (@alicloud/iot20180120; V3 signatures by default, add signatureAlgorithm: 'v2' for v1):
    const { Config } = require('@alicloud/openapi-client');
    const Iot = require('@alicloud/iot20180120').default;
    const client = new Iot(new Config({ accessKeyId: 'LTAItest', accessKeySecret: 'testsecret',
                                        endpoint: '127.0.0.1:8780', protocol: 'http' }));
  pop-core (@alicloud/pop-core; v1 signatures, GET by default, { method: 'POST' } for a form body):
    new RPCClient({ accessKeyId: 'LTAItest', accessKeySecret: 'testsecret',
                    endpoint: 'http://127.0.0.1:8780', apiVersion: '2018-01-20' })
  otarun:
    ALIBABA_CLOUD_ACCESS_KEY_ID=LTAItest ALIBABA_CLOUD_ACCESS_KEY_SECRET=testsecret \
      otarun plan rollout.lua --endpoint http://127.0.0.1:8780

Admin API (JSON): POST /_emulator/fleet, GET /_emulator/clock, POST /_emulator/clock/advance?seconds=N,
POST|GET|DELETE /_emulator/faults, POST /_emulator/qps, GET /_emulator/counters,
POST /_emulator/counters/reset, GET /_emulator/jobs, GET /_emulator/jobs/JOBID/tasks,
POST /_emulator/jobs/JOBID, GET /_emulator/devices, POST /_emulator/devices/PK/NAME,
POST /_emulator/shutdown.
]==]
M.OPTIONS, M.HELP = OPTIONS, HELP

local function parse_listen(text)
  local host, port = text:match("^%[(.+)%]:(%d+)$")
  if not host then host, port = text:match("^([^:]+):(%d+)$") end
  if not host then failure.raise("usage", "--listen needs HOST:PORT (e.g. 127.0.0.1:8780 or [::1]:0), got %q", text) end
  port = tonumber(port)
  if port > 65535 then failure.raise("usage", "--listen: port %d is out of range (0-65535)", port) end
  return host, port
end

local function parse_keys(list)
  local keys = {}
  for _, k in ipairs(list or {}) do
    local id, secret, token = k:match("^([^:]+):([^:]+):(.+)$")
    if not id then id, secret = k:match("^([^:]+):([^:]+)$") end
    if not id then failure.raise("usage", "--key needs ID:SECRET or ID:SECRET:TOKEN (the value given is not shown)") end
    keys[id] = { secret = secret, token = token }
  end
  return keys
end

local function parse_qps(list, actions)
  local qps = {}
  for _, item in ipairs(list or {}) do
    local action, n = item:match("^([%w%*]+)=(%d+)$")
    if not action then failure.raise("usage", "--qps needs Action=N with N a whole number, got %q", item) end
    n = tonumber(n)
    if action == "*" then
      for _, a in ipairs(actions) do qps[a] = n end
    else
      qps[action] = n
    end
  end
  return qps
end

local function generated_key()
  local sign = require("otarun.core.sign")
  local id = "LTAIemu" .. sign.nonce():sub(1, 17)
  return id, sign.nonce() .. sign.nonce():sub(1, 8)
end

local function out(fmt, ...)
  io.stdout:write(string.format(fmt, ...))
  io.stdout:flush()
end

-- Builds model, gateway, admin; returns them.
local function build(opts, keys)
  local emulator = require("otarun.emulator")
  local gateway = require("otarun.emulator.gateway")
  local admin_mod = require("otarun.emulator.admin")
  local clock = opts.clock or "real"
  if clock ~= "real" and clock ~= "manual" then failure.raise("usage", "--clock must be real or manual, got %q", clock) end
  if opts.speed and opts.speed <= 0 then failure.raise("usage", "--speed must be a positive number") end
  local window = 900
  if opts.timestamp_window then
    local w, err = util.parse_duration(opts.timestamp_window)
    if not w then w = tonumber(opts.timestamp_window) end
    if not w then failure.raise("usage", "--timestamp-window: %s", err) end
    window = w
  end
  local model = emulator.new({ clock = clock, speed = opts.speed, seed = opts.seed })
  local actions = {}
  for a in pairs(gateway.DEFAULT_QPS) do actions[#actions + 1] = a end
  for _, a in ipairs(emulator.ACTIONS or {}) do actions[#actions + 1] = a end
  local gw = gateway.new({
    model = model, keys = keys, timestamp_window = window, nonce_window = math.max(window, 900),
    qps = parse_qps(opts.qps, actions), encode = gateway.fast_json(emulator.ARRAY_MT, emulator.RAW_MT),
    raw_json = true,
    host_id = "iot." .. (model.region or "cn-shanghai") .. ".aliyuncs.com",
  })
  local function load_file(path)
    local list, err = emulator.load_fleet_file(path)
    return list, err
  end
  -- the admin API loads fleet files only from the directories of the --fleet files (docs/trust.md):
  -- a request must not read an arbitrary file of the host
  local paths, allowed = require("otarun.core.sys"), {}
  for _, f in ipairs(opts.fleet or {}) do
    local real = paths.resolve(f)
    if real then allowed[#allowed + 1] = real:match("^(.*)/[^/]*$") end
  end
  local function admin_load(path)
    local real = type(path) == "string" and paths.resolve(path)
    for _, dir in ipairs(real and allowed or {}) do
      if real:sub(1, #dir + 1) == dir .. "/" then return load_file(real) end
    end
    return nil, "fleet files are loaded only from the directory of the emulator's --fleet files; "
      .. "send the fleet itself as the request body"
  end
  local adm = admin_mod.new({ gateway = gw, model = model, encode = emulator.to_json, load_fleet_file = admin_load })
  return model, gw, adm, load_file
end

local function load_fleets(model, load_file, files)
  for _, path in ipairs(files or {}) do
    local list, err = load_file(path)
    if not list then return nil, err end
    for _, f in ipairs(list) do
      local ok, lerr = model:load_fleet(f)
      if not ok then return nil, path .. ": " .. tostring(lerr) end
    end
  end
  return true
end

-- --state FILE: load at start (a missing file is a first run; anything unreadable, damaged or
-- from an incompatible emulator stops the start rather than silently starting empty), save on
-- every way of stopping, atomically (a reader sees the old file or the new one).
local function load_state(model, path)
  local fh, oerr, code = io.open(path, "rb")
  if not fh then
    if code == 2 then return false end -- ENOENT: first run, nothing saved yet
    return nil, "cannot read the state file: " .. tostring(oerr)
  end
  local text = fh:read("a")
  fh:close()
  local ok, err = require("otarun.emulator.state").decode(model, text)
  if not ok then return nil, path .. ": " .. err .. " (move the file away to start afresh)" end
  return true
end

local function save_state(model, path)
  local text = require("otarun.emulator.state").encode(model)
  return require("otarun.core.sys").write_atomic(path, text)
end

function M.main(argv)
  local opts = args.parse(argv, OPTIONS)
  if opts.help then
    io.stdout:write(HELP)
    return 0
  end
  local host, port = parse_listen(opts.listen or "127.0.0.1:8780")
  local keys = parse_keys(opts.key)
  local generated
  if next(keys) == nil then
    local id, secret = generated_key()
    keys[id] = { secret = secret }
    generated = { id = id, secret = secret }
  end
  local model, gw, adm, load_file = build(opts, keys)
  local restored = false
  if opts.state then
    local r, err = load_state(model, opts.state)
    if r == nil then failure.raise("error", "%s", err) end
    restored = r
  end
  if restored and opts.fleet then
    -- the saved state holds the fleet as it was left; loading the files again would double it
    io.stderr:write("otarun emulator: state restored from ", opts.state, "; --fleet files not loaded again\n")
  else
    local ok, err = load_fleets(model, load_file, opts.fleet)
    if not ok then failure.raise("error", "cannot load the fleet: %s", err) end
  end
  local httpd = require("otarun.core.httpd")
  local srv, lerr = httpd.listen({ host = host, port = port, allow_remote = opts.allow_remote, max_body = opts.max_body })
  if not srv then failure.raise("error", "%s", lerr) end
  adm.server_stats = function() return srv:stats() end
  if generated then
    -- The one place otarun prints a secret: a key pair made up just now for this emulator.
    out("no --key given; this emulator's own fresh test key (valid only here):\n"
      .. "  AccessKeyId     %s\n  AccessKeySecret %s\n", generated.id, generated.secret)
  end
  if not opts.quiet then
    out("otarun emulator: clock %s%s; admin API at %s/_emulator/\n", model.clock,
      model.clock == "real" and string.format(" (x%s)", tostring(model.speed)) or "", srv:url())
  end
  out("listening on %s\n", srv:url())
  local sys = require("otarun.core.sys")
  -- Each answer is garbage within the request (a page of task views is tens of KB) while the
  -- model is a large, long-lived heap: generational collection leaves the old heap alone in
  -- minor cycles (bench/emulator: about 20% less CPU per ListOTATaskByJob PageSize=100 request).
  collectgarbage("generational")
  local last_tick = sys.monotonic()
  local reason, detail = srv:serve(require("otarun.emulator.admin").router(gw, adm), {
    ["until"] = function()
      -- keep a real clock's devices moving even while nobody calls
      local t = sys.monotonic()
      if model.clock == "real" and t - last_tick >= 1 and model.advance_to_real then
        last_tick = t
        model:advance_to_real()
      end
      return false
    end,
  })
  srv:close()
  local saved = true
  if opts.state then
    local sok, serr = save_state(model, opts.state)
    if not sok then
      saved = false
      io.stderr:write("otarun emulator: could not save the state to ", opts.state, ": ", tostring(serr), "\n")
    end
  end
  local c = gw:counters_snapshot()
  io.stderr:write(string.format("otarun emulator: stopped (%s%s) after %d requests, %d throttled%s\n",
    tostring(reason), detail and (" " .. detail) or "", c.requests.total, c.throttled.total,
    (opts.state and saved) and ("; state saved to " .. opts.state) or ""))
  if not (reason and saved) then failure.exit("error") end -- what failed was said above
  return failure.CODES.ok
end

return M
