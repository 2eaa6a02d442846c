// bench/sign, Node half: the official SDK's own signing functions (@alicloud/openapi-util) on a
// full CreateOTADynamicUpgradeJob request, exactly as openapi-client's doRequest (V3) and
// doRPCRequest (v1) call them: flatten the request (query()), hash the empty body, sign.
// Prints one JSON line per signer: {"signer": ..., "ops_per_sec": ..., "signature": ...}.
'use strict';
const Util = require('@alicloud/openapi-util').default;
const fixture = require('../sign_request.json');

const SECONDS = Number(process.env.BENCH_SECONDS || 2);

function v3Once() {
  const query = Util.query(fixture.params);
  const headers = Object.assign({}, fixture.v3_headers);
  const payload = Util.hexEncode(Util.hash(Buffer.from(''), 'ACS3-HMAC-SHA256'));
  return Util.getAuthorization({ pathname: '/', method: 'POST', query, headers },
    'ACS3-HMAC-SHA256', payload, fixture.access_key_id, fixture.secret);
}

function v1Once() {
  const signed = Object.assign({}, fixture.v1_common, Util.query(fixture.params));
  return Util.getRPCSignature(signed, 'POST', fixture.secret);
}

function measure(name, fn) {
  const last = fn();
  for (let i = 0; i < 2000; i++) fn(); // warm up the JIT
  let n = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(SECONDS * 1e9));
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 200; i++) fn();
    n += 200;
    now = process.hrtime.bigint();
  }
  const secs = Number(now - start) / 1e9;
  const sig = name === 'v3' ? last.replace(/.*Signature=/, '') : last;
  console.log(JSON.stringify({ side: 'node', signer: name, ops_per_sec: n / secs, signature: sig }));
}

measure('v3', v3Once);
measure('v1', v1Once);
