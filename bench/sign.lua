-- bench/sign, otarun half (run by bench/sign as `otarun lua bench/sign.lua DIR`): signatures per
-- second for the same full CreateOTADynamicUpgradeJob request (DIR/sign_request.json) that the
-- Node half (DIR/node/sign.js, the official SDK functions) signs in the same run: through the
-- one-call signers otarun.platform.client uses (sign.request_v3 / request_v1: flatten, encode, sort, sign,
-- Authorization), through the old three-step path (sign.flatten, sign.v3 / v1, sign.authorization)
-- for comparison, and the whole client:prepare (timestamp, nonce, URL, header list). Checks that
-- every row produces the Node SDK's signature, then prints one table.
local cjson = require("cjson")
local sign = require("otarun.core.sign")
local sys = require("otarun.core.sys")

local dir = arg[1] or "bench"
local fixture = cjson.decode(assert(io.open(dir .. "/sign_request.json")):read("a"))
local SECONDS = tonumber(os.getenv("BENCH_SECONDS") or "2")
local secret, id = fixture.secret, fixture.access_key_id

local h3, c1 = fixture.v3_headers, fixture.v1_common

-- the facts table is built on every call, as client:prepare does
local function v3_once()
  local r = sign.request_v3{ host = h3.host, action = h3["x-acs-action"],
    version = h3["x-acs-version"], date = h3["x-acs-date"], nonce = h3["x-acs-signature-nonce"],
    params = fixture.params, access_key_id = id, secret = secret }
  return r.authorization, r.signature
end

local function v1_once()
  local r = sign.request_v1{ action = c1.Action, version = c1.Version, date = c1.Timestamp,
    nonce = c1.SignatureNonce, params = fixture.params, access_key_id = id, secret = secret }
  return r.signature
end

local function v3_old_once()
  local flat = sign.flatten(fixture.params)
  local sig, _, _, signed = sign.v3("POST", flat, h3, "", secret)
  return sign.authorization(id, signed, sig), sig
end

local function v1_old_once()
  local q = sign.flatten(fixture.params)
  for k, v in pairs(c1) do q[k] = v end
  return sign.v1("POST", q, secret)
end

local client = require("otarun.platform.client").new{
  endpoint = "https://" .. fixture.v3_headers.host, limiter = require("otarun.platform.ratelimit").new{},
  credentials = require("otarun.platform.credentials").static{ access_key_id = id, access_key_secret = secret } }
local fixed = { timestamp = fixture.v3_headers["x-acs-date"], nonce = fixture.v3_headers["x-acs-signature-nonce"] }
local function prepare_once()
  return nil, client:prepare("CreateOTADynamicUpgradeJob", fixture.params, fixed).signature
end

local function measure(name, fn)
  local _, sig = fn()
  if name:sub(1, 2) == "v1" then sig = fn() end
  for _ = 1, 2000 do fn() end
  local n, start = 0, sys.monotonic()
  local now = start
  while now - start < SECONDS do
    for _ = 1, 200 do fn() end
    n = n + 200
    now = sys.monotonic()
  end
  return { ops_per_sec = n / (now - start), signature = sig }
end

local node = {}
local pipe = assert(io.popen("cd '" .. dir .. "/node' && node sign.js"))
for line in pipe:lines() do
  local r = cjson.decode(line)
  node[r.signer] = r
end
assert(pipe:close(), "node half failed")
local ours = { v3 = measure("v3", v3_once), v1 = measure("v1", v1_once),
  prepare = measure("v3-prepare", prepare_once), v3_old = measure("v3-old", v3_old_once),
  v1_old = measure("v1-old", v1_old_once) }
local SIDE = { v3 = "v3", v1 = "v1", prepare = "v3", v3_old = "v3", v1_old = "v1" }
for name, r in pairs(ours) do
  local s = SIDE[name]
  assert(node[s].signature == r.signature,
    name .. ": signatures differ: node " .. node[s].signature .. ", otarun " .. r.signature)
end

print(string.format("bench/sign: one full CreateOTADynamicUpgradeJob request (%d parameters), %gs per row",
  (function() local n = 0 for _ in pairs(sign.flatten(fixture.params)) do n = n + 1 end return n end)(), SECONDS))
print(string.format("%-44s %12s %12s %8s", "signer", "otarun/s", "Node SDK/s", "ratio"))
local function row(label, o, n)
  print(string.format("%-44s %12.0f %12.0f %7.1fx", label, o.ops_per_sec, n.ops_per_sec,
    o.ops_per_sec / n.ops_per_sec))
end
row("V3 flatten + sign (request_v3)", ours.v3, node.v3)
row("v1 flatten + sign (request_v1)", ours.v1, node.v1)
row("V3 full client:prepare (+URL, header list)", ours.prepare, node.v3)
row("V3 old path (flatten, v3, authorization)", ours.v3_old, node.v3)
row("v1 old path (flatten, v1)", ours.v1_old, node.v1)
print("signatures identical on both sides: yes")
