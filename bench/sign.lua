-- bench/sign, otarun half (run by bench/sign as `otarun lua bench/sign.lua DIR`): signatures per
-- second for the same full CreateOTADynamicUpgradeJob request (DIR/sign_request.json) that the
-- Node half (DIR/node/sign.js, the official SDK functions) signs in the same run: through
-- otarun.core.sign exactly as otarun.client uses it (flatten, sign, Authorization), plus the whole
-- client:prepare (timestamp, nonce, URL, headers). Checks both sides produce the same signatures,
-- then prints one table.
local cjson = require("cjson")
local sign = require("otarun.core.sign")
local sys = require("otarun.core.sys")

local dir = arg[1] or "bench"
local fixture = cjson.decode(assert(io.open(dir .. "/sign_request.json")):read("a"))
local SECONDS = tonumber(os.getenv("BENCH_SECONDS") or "2")
local secret, id = fixture.secret, fixture.access_key_id

local function v3_once()
  local flat = sign.flatten(fixture.params)
  local sig, _, _, signed = sign.v3("POST", flat, fixture.v3_headers, "", secret)
  return sign.authorization(id, signed, sig), sig
end

local function v1_once()
  local q = sign.flatten(fixture.params)
  for k, v in pairs(fixture.v1_common) do q[k] = v end
  return sign.v1("POST", q, secret)
end

local client = require("otarun.client").new{
  endpoint = "https://" .. fixture.v3_headers.host, limiter = require("otarun.ratelimit").new{},
  credentials = require("otarun.credentials").static{ access_key_id = id, access_key_secret = secret } }
local fixed = { timestamp = fixture.v3_headers["x-acs-date"], nonce = fixture.v3_headers["x-acs-signature-nonce"] }
local function prepare_once()
  return nil, client:prepare("CreateOTADynamicUpgradeJob", fixture.params, fixed).signature
end

local function measure(name, fn)
  local _, sig = fn()
  if name == "v1" then sig = fn() end
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
  prepare = measure("v3-prepare", prepare_once) }
for _, s in ipairs({ "v3", "v1" }) do
  assert(node[s].signature == ours[s].signature,
    s .. ": signatures differ: node " .. node[s].signature .. ", otarun " .. ours[s].signature)
end
assert(ours.prepare.signature == ours.v3.signature)

print(string.format("bench/sign: one full CreateOTADynamicUpgradeJob request (%d parameters), %gs per row",
  (function() local n = 0 for _ in pairs(sign.flatten(fixture.params)) do n = n + 1 end return n end)(), SECONDS))
print(string.format("%-34s %14s %14s %8s", "signer", "otarun/s", "Node SDK/s", "ratio"))
local function row(label, o, n)
  print(string.format("%-34s %14.0f %14.0f %7.1fx", label, o.ops_per_sec, n.ops_per_sec,
    o.ops_per_sec / n.ops_per_sec))
end
row("V3 ACS3-HMAC-SHA256 (getAuthorization)", ours.v3, node.v3)
row("v1 HMAC-SHA1 (getRPCSignature)", ours.v1, node.v1)
row("V3 client:prepare (+URL, headers)", ours.prepare, node.v3)
print("signatures identical on both sides: yes")
