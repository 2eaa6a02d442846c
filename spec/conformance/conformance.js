'use strict';
// Conformance of otarun's emulator with Alibaba Cloud's official Node SDKs: @alicloud/iot20180120
// over @alicloud/openapi-client (V3 ACS3-HMAC-SHA256 by default, v1 with signatureAlgorithm 'v2')
// and @alicloud/pop-core (v1, GET and POST form). A full firmware -> verify -> dynamic job -> tasks
// -> cancel cycle must succeed with each; tampered signatures, replayed nonces, stale timestamps,
// unknown keys, missing STS tokens and bursts over the QPS must fail with the platform's codes.
//
//   node conformance.js                      starts $OTARUN_BIN (default ../../build/otarun)
//   node conformance.js --endpoint 127.0.0.1:PORT --key ID:SECRET --sts ID:SECRET:TOKEN
//                                            drives an emulator that is already running
// Prints one line per check and "N passed, N failed"; exits non-zero on any failure.
const path = require('path');
const http = require('http');
const { spawn } = require('child_process');

const OpenApi = require('@alicloud/openapi-client');
const Iot = require('@alicloud/iot20180120');
const RPCClient = require('@alicloud/pop-core');

// The helper modules the clients themselves use (they may be nested copies), patched to fix a
// nonce or a timestamp for the replay and expiry checks.
const from = (dir, name) => require(require.resolve(name, { paths: [dir] }));
const openapiDir = path.dirname(require.resolve('@alicloud/openapi-client'));
const TeaUtil = from(openapiDir, '@alicloud/tea-util').default;
const OpenApiUtil = from(openapiDir, '@alicloud/openapi-util').default;
const kitx = from(path.dirname(require.resolve('@alicloud/pop-core')), 'kitx');

const PK = 'a1Le6d0abcd';
const KEY = { id: 'LTAIconformance', secret: 'conformance-secret' };
const STS = { id: 'STSconformance', secret: 'sts-secret', token: 'sts-token/with+chars=' };

// ---- tiny harness ------------------------------------------------------------------------------
let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg || 'assertion failed'); }
function eq(got, want, what) {
  if (got !== want) throw new Error(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}
async function rejects(promise, code, status, what) {
  let err = null;
  try { await promise; } catch (e) { err = e; }
  assert(err, `${what}: expected ${code}, but the call succeeded`);
  eq(err.code, code, `${what}: error code (${err.message})`);
  const got = err.data && (err.data.statusCode || (err.entry && err.entry.response.statusCode));
  if (status && got !== undefined) eq(got, status, `${what}: HTTP status`);
  return err;
}

// ---- the emulator --------------------------------------------------------------------------------
function parseArgs() {
  const a = process.argv.slice(2);
  const o = {};
  for (let i = 0; i < a.length; i += 2) o[a[i].replace(/^--/, '')] = a[i + 1];
  return o;
}

function startEmulator() {
  const bin = process.env.OTARUN_BIN || path.join(__dirname, '..', '..', 'build', 'otarun');
  const args = ['emulator', '--listen', '127.0.0.1:0', '--clock', 'manual', '--quiet',
    '--fleet', path.join(__dirname, 'fleet.lua'),
    '--key', `${KEY.id}:${KEY.secret}`, '--key', `${STS.id}:${STS.secret}:${STS.token}`];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${bin} did not print "listening on" within 10 s`)), 10000);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${bin} exited with ${code} before listening: ${out}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/([\d.]+:\d+)/);
      if (m) { clearTimeout(timer); resolve({ endpoint: m[1], child }); }
    });
  });
}

let endpoint;
function admin(method, target, body) {
  const [host, port] = endpoint.split(':');
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: target, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}
const advance = (seconds) => admin('POST', `/_emulator/clock/advance?seconds=${seconds}`);

// ---- clients -------------------------------------------------------------------------------------
function iot(o = {}) {
  const k = o.key || KEY;
  const cfg = { accessKeyId: k.id, accessKeySecret: o.secret || k.secret, endpoint, protocol: 'http',
    regionId: 'cn-shanghai', readTimeout: 10000, connectTimeout: 5000 };
  if (o.token !== undefined ? o.token : k.token) cfg.securityToken = o.token !== undefined ? o.token : k.token;
  if (o.v1) cfg.signatureAlgorithm = 'v2';
  return new Iot.default(new OpenApi.Config(cfg));
}
function pop(o = {}) {
  const k = o.key || KEY;
  return new RPCClient({ accessKeyId: k.id, accessKeySecret: o.secret || k.secret, securityToken: k.token,
    endpoint: `http://${endpoint}`, apiVersion: '2018-01-20' });
}

// Temporarily fixes what the SDKs generate.
async function withPatched(obj, name, value, fn) {
  const saved = obj[name];
  obj[name] = () => value;
  try { return await fn(); } finally { obj[name] = saved; }
}
function oldTimestamp(minutes) {
  return new Date(Date.now() - minutes * 60000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// ---- the cycle -----------------------------------------------------------------------------------
let cycleNo = 0;
// ops: { createFirmware, queryFirmware, verify, dynamicJob, queryJob, listTasks, cancelStrategy,
//        cancelTasks, listJobs } each returning the response body in wire names.
async function cycle(ops) {
  cycleNo++;
  const device = `conf-${cycleNo}`;
  const fw = await ops.createFirmware({ FirmwareName: `conformance-${cycleNo}`, DestVersion: `2.5.${cycleNo}`,
    FirmwareUrl: `https://iotx-ota.oss-cn-shanghai.aliyuncs.com/ota/conformance-${cycleNo}.bin`,
    ProductKey: PK, FirmwareSize: 1048576, NeedToVerify: true });
  eq(fw.Success, true, 'CreateOTAFirmware Success');
  const firmwareId = fw.Data.FirmwareId;
  assert(firmwareId, 'CreateOTAFirmware returns Data.FirmwareId');
  eq((await ops.queryFirmware(firmwareId)).FirmwareInfo.Status, 0, 'new firmware Status (unverified)');

  const vj = await ops.verify({ FirmwareId: firmwareId, ProductKey: PK, TargetDeviceName: [device], TimeoutInMinutes: 60 });
  eq(vj.Success, true, `CreateOTAVerifyJob Success (${vj.Code} ${vj.ErrorMessage})`);
  await advance(2 * 3600);
  eq((await ops.queryFirmware(firmwareId)).FirmwareInfo.Status, 1, 'firmware Status after verification');

  const dj = await ops.dynamicJob({ FirmwareId: firmwareId, ProductKey: PK, SrcVersion: ['2.3.1'],
    Tag: [{ Key: 'otarun', Value: `conformance/wave ${cycleNo}` }], MaximumPerMinute: 1000,
    RetryInterval: 10, RetryCount: 1, TimeoutInMinutes: 60, NeedPush: true });
  eq(dj.Success, true, `CreateOTADynamicUpgradeJob Success (${dj.Code} ${dj.ErrorMessage})`);
  const jobId = dj.Data.JobId;
  const job = (await ops.queryJob(jobId)).Data;
  eq(job.JobStatus, 'IN_PROGRESS', 'QueryOTAJob JobStatus');
  eq(job.SelectionType, 'DYNAMIC', 'QueryOTAJob SelectionType');
  eq(job.Tags.OtaTagDTO[0].Value, `conformance/wave ${cycleNo}`, 'QueryOTAJob tag value');
  eq(job.SrcVersions.SrcVersion[0], '2.3.1', 'QueryOTAJob SrcVersion');

  const tasks = await ops.listTasks({ JobId: jobId, CurrentPage: 1, PageSize: 10 });
  eq(tasks.Success, true, 'ListOTATaskByJob Success');
  assert(tasks.Total > 0, `ListOTATaskByJob Total > 0 (got ${tasks.Total})`);
  assert(tasks.Data.SimpleOTATaskInfo.length > 0, 'ListOTATaskByJob lists tasks');
  eq(tasks.Data.SimpleOTATaskInfo[0].JobId, jobId, 'task JobId');
  await advance(600);

  eq((await ops.cancelStrategy(jobId)).Success, true, 'CancelOTAStrategyByJob Success');
  eq((await ops.queryJob(jobId)).Data.JobStatus, 'CANCELED', 'JobStatus after CancelOTAStrategyByJob');
  const ct = await ops.cancelTasks({ JobId: jobId, CancelQueuedTask: true, CancelNotifiedTask: true,
    CancelInProgressTask: true, CancelUnconfirmedTask: true });
  eq(ct.Success, true, `CancelOTATaskByJob Success (${ct.Code} ${ct.ErrorMessage})`);
  const jobs = await ops.listJobs({ FirmwareId: firmwareId, CurrentPage: 1, PageSize: 10 });
  eq(jobs.Total, 2, 'ListOTAJobByFirmware Total (verify + dynamic)');
}

// One device's operations and the task operations: NeedConfirm job -> ListOTAUnfinishedTaskByDevice
// -> ConfirmOTATask -> ListOTAJobByDevice -> CancelOTATaskByDevice -> ReupgradeOTATask (which
// needs confirmation again). ops: { call(action, params) } returning wire-named bodies.
async function deviceCycle(ops, n) {
  const device = `conf-${n}`;
  const fw = await ops.call('CreateOTAFirmware', { FirmwareName: `device-ops-${n}`, DestVersion: `2.6.${n}`,
    FirmwareUrl: `https://iotx-ota.oss-cn-shanghai.aliyuncs.com/ota/device-ops-${n}.bin`, ProductKey: PK, NeedToVerify: false });
  eq(fw.Success, true, `CreateOTAFirmware Success (${fw.Code} ${fw.ErrorMessage})`);
  const firmwareId = fw.Data.FirmwareId;
  const job = await ops.call('CreateOTAStaticUpgradeJob', { FirmwareId: firmwareId, ProductKey: PK,
    TargetSelection: 'SPECIFIC', TargetDeviceName: [device], NeedConfirm: true });
  eq(job.Success, true, `CreateOTAStaticUpgradeJob Success (${job.Code} ${job.ErrorMessage})`);
  const jobId = job.Data.JobId;
  const unfinished = await ops.call('ListOTAUnfinishedTaskByDevice', { ProductKey: PK, DeviceName: device });
  eq(unfinished.Success, true, 'ListOTAUnfinishedTaskByDevice Success');
  const task = unfinished.Data.SimpleOTATaskInfo[0];
  eq(task.JobId, jobId, 'unfinished task JobId');
  eq(task.TaskStatus, 'CONFIRM', 'unfinished task TaskStatus');
  eq((await ops.call('ConfirmOTATask', { TaskId: [task.TaskId] })).Success, true, 'ConfirmOTATask Success');
  const jobs = await ops.call('ListOTAJobByDevice', { FirmwareId: firmwareId, ProductKey: PK, DeviceName: device,
    CurrentPage: 1, PageSize: 10 });
  eq(jobs.Total, 1, 'ListOTAJobByDevice Total');
  eq(jobs.Data.SimpleOTAJobInfo[0].JobId, jobId, 'ListOTAJobByDevice JobId');
  eq((await ops.call('CancelOTATaskByDevice', { ProductKey: PK, FirmwareId: firmwareId, DeviceName: [device] })).Success,
    true, 'CancelOTATaskByDevice Success');
  const gone = await ops.call('ListOTAUnfinishedTaskByDevice', { ProductKey: PK, DeviceName: device });
  eq(gone.Data.SimpleOTATaskInfo.length, 0, 'no unfinished task after CancelOTATaskByDevice');
  const re = await ops.call('ReupgradeOTATask', { JobId: jobId, TaskId: [task.TaskId] });
  eq(re.Success, true, `ReupgradeOTATask Success (${re.Code} ${re.ErrorMessage})`);
  const again = await ops.call('ListOTAUnfinishedTaskByDevice', { ProductKey: PK, DeviceName: device });
  eq(again.Data.SimpleOTATaskInfo[0].TaskStatus, 'CONFIRM', 're-upgraded task waits for confirmation again');
  const eleven = Array.from({ length: 11 }, (_, i) => `task-${i}`);
  // pop-core throws business errors, the Tea SDK returns them
  const over = await ops.call('ConfirmOTATask', { TaskId: eleven }).catch((e) => ({ Success: false, Code: e.code }));
  eq(over.Success, false, 'ConfirmOTATask with 11 task ids is refused');
  eq(over.Code, 'iot.common.InvalidFormattedParameter', 'ConfirmOTATask with 11 task ids: Code');
}
// GenerateDeviceNameListURL, the upload of 250 names to its Host (an OSS PostObject form, sent with
// Node's own http), then CreateOTAStaticUpgradeJob with DnListFileUrl: one job of 250 devices.
function postForm(url, fields, fileText) {
  const boundary = `conformance${Date.now()}`;
  const parts = Object.entries(fields).map(([k, v]) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="devices.txt"\r\n` +
    `Content-Type: text/plain\r\n\r\n${fileText}\r\n--${boundary}--\r\n`);
  const body = Buffer.from(parts.join(''));
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
async function deviceListCycle(ops, n) {
  const fw = await ops.call('CreateOTAFirmware', { FirmwareName: `device-list-${n}`, DestVersion: `2.7.${n}`,
    FirmwareUrl: `https://iotx-ota.oss-cn-shanghai.aliyuncs.com/ota/device-list-${n}.bin`, ProductKey: PK, NeedToVerify: false });
  eq(fw.Success, true, 'CreateOTAFirmware Success');
  const url = await ops.call('GenerateDeviceNameListURL', {});
  eq(url.Success, true, 'GenerateDeviceNameListURL Success');
  const d = url.Data;
  for (const k of ['Key', 'Host', 'Policy', 'Signature', 'AccessKeyId', 'FileUrl']) assert(d[k], `Data.${k} is set`);
  eq(d.ObjectStorage, 'OSS', 'Data.ObjectStorage');
  const names = Array.from({ length: 250 }, (_, i) => `list${String(i + 1).padStart(6, '0')}`);
  const bad = await postForm(d.Host, { key: d.Key, OSSAccessKeyId: d.AccessKeyId, policy: d.Policy, Signature: 'x' }, 'dev000001');
  eq(bad.status, 403, 'an upload with a wrong Signature');
  const up = await postForm(d.Host, { key: d.Key, OSSAccessKeyId: d.AccessKeyId, policy: d.Policy, Signature: d.Signature,
    success_action_status: '200' }, names.join('\n'));
  eq(up.status, 200, `the upload (${up.body})`);
  const job = await ops.call('CreateOTAStaticUpgradeJob', { FirmwareId: fw.Data.FirmwareId, ProductKey: PK,
    TargetSelection: 'SPECIFIC', DnListFileUrl: d.FileUrl });
  eq(job.Success, true, `CreateOTAStaticUpgradeJob with DnListFileUrl (${job.Code} ${job.ErrorMessage})`);
  const tasks = await ops.call('ListOTATaskByJob', { JobId: job.Data.JobId, CurrentPage: 1, PageSize: 1 });
  eq(tasks.Total, 250, 'tasks of the device list job');
}
function sdkCall(client) {
  const R = Iot;
  const camel = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k[0].toLowerCase() + k.slice(1), v]));
  const lower = (a) => a[0].toLowerCase() + a.slice(1);
  return { call: async (action, p) => wire(await client[lower(action)](new R[`${action}Request`](camel(p)))) };
}
function popCall(client, method) {
  return { call: (action, p) => client.request(action, flat(p), { method, formatParams: false }) };
}

// Wire-named bodies from the Tea SDK's typed responses.
const wire = (resp) => resp.body.toMap();
function sdkOps(client) {
  const R = Iot;
  const tagged = (o) => Object.assign({}, o, { Tag: (o.Tag || []).map((t) => new R.CreateOTADynamicUpgradeJobRequestTag({ key: t.Key, value: t.Value })) });
  const camel = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k[0].toLowerCase() + k.slice(1), v]));
  return {
    createFirmware: async (p) => wire(await client.createOTAFirmware(new R.CreateOTAFirmwareRequest(camel(p)))),
    queryFirmware: async (id) => wire(await client.queryOTAFirmware(new R.QueryOTAFirmwareRequest({ firmwareId: id }))),
    verify: async (p) => wire(await client.createOTAVerifyJob(new R.CreateOTAVerifyJobRequest(camel(p)))),
    dynamicJob: async (p) => wire(await client.createOTADynamicUpgradeJob(new R.CreateOTADynamicUpgradeJobRequest(camel(tagged(p))))),
    queryJob: async (id) => wire(await client.queryOTAJob(new R.QueryOTAJobRequest({ jobId: id }))),
    listTasks: async (p) => wire(await client.listOTATaskByJob(new R.ListOTATaskByJobRequest(camel(p)))),
    cancelStrategy: async (id) => wire(await client.cancelOTAStrategyByJob(new R.CancelOTAStrategyByJobRequest({ jobId: id }))),
    cancelTasks: async (p) => wire(await client.cancelOTATaskByJob(new R.CancelOTATaskByJobRequest(camel(p)))),
    listJobs: async (p) => wire(await client.listOTAJobByFirmware(new R.ListOTAJobByFirmwareRequest(camel(p)))),
  };
}

// pop-core takes flat wire names; lists become Key.N and Key.N.Field.
function flat(p) {
  const out = {};
  for (const [k, v] of Object.entries(p)) {
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        if (item && typeof item === 'object') for (const [f, x] of Object.entries(item)) out[`${k}.${i + 1}.${f}`] = x;
        else out[`${k}.${i + 1}`] = item;
      });
    } else out[k] = v;
  }
  return out;
}
function popOps(client, method) {
  const call = (action, p) => client.request(action, flat(p), { method, formatParams: false });
  return {
    createFirmware: (p) => call('CreateOTAFirmware', p),
    queryFirmware: (id) => call('QueryOTAFirmware', { FirmwareId: id }),
    verify: (p) => call('CreateOTAVerifyJob', p),
    dynamicJob: (p) => call('CreateOTADynamicUpgradeJob', p),
    queryJob: (id) => call('QueryOTAJob', { JobId: id }),
    listTasks: (p) => call('ListOTATaskByJob', p),
    cancelStrategy: (id) => call('CancelOTAStrategyByJob', { JobId: id }),
    cancelTasks: (p) => call('CancelOTATaskByJob', p),
    listJobs: (p) => call('ListOTAJobByFirmware', p),
  };
}

const queryFw = (client) => client.queryOTAFirmware(new Iot.QueryOTAFirmwareRequest({ firmwareId: 'fw-240' }));

async function main() {
  const args = parseArgs();
  let child = null;
  if (args.endpoint) {
    endpoint = args.endpoint.replace(/^https?:\/\//, '');
    if (args.key) [KEY.id, KEY.secret] = args.key.split(':');
    if (args.sts) [STS.id, STS.secret, STS.token] = args.sts.split(':');
  } else {
    const started = await startEmulator();
    endpoint = started.endpoint;
    child = started.child;
    child.removeAllListeners('exit');
  }
  console.log(`emulator at http://${endpoint}`);

  for (const [name, v1] of [['V3 (default)', false], ['v1 (signatureAlgorithm v2)', true]]) {
    await check(`iot20180120 ${name}: firmware -> verify -> dynamic job -> tasks -> cancel`, () => cycle(sdkOps(iot({ v1 }))));
    await check(`iot20180120 ${name}: device operations, confirm and re-upgrade`, () => deviceCycle(sdkCall(iot({ v1 })), v1 ? 2 : 1));
    await check(`iot20180120 ${name}: GenerateDeviceNameListURL, the upload, DnListFileUrl`, () => deviceListCycle(sdkCall(iot({ v1 })), v1 ? 2 : 1));
    await check(`iot20180120 ${name}: STS key with its security token`, async () => {
      eq((await queryFw(iot({ v1, key: STS }))).body.success, true, 'Success');
    });
    await check(`iot20180120 ${name}: STS key without its token is refused`, () =>
      rejects(queryFw(iot({ v1, key: STS, token: '' })), 'InvalidSecurityToken.MismatchWithAccessKey', 400, 'no token'));
    await check(`iot20180120 ${name}: wrong secret -> SignatureDoesNotMatch`, async () => {
      const err = await rejects(queryFw(iot({ v1, secret: 'tampered' })), 'SignatureDoesNotMatch', 400, 'tampered');
      assert(/server string to sign is:/.test(err.message), 'message echoes the string to sign');
    });
    await check(`iot20180120 ${name}: unknown key -> InvalidAccessKeyId.NotFound`, () =>
      rejects(queryFw(iot({ v1, key: { id: 'LTAInobody', secret: 'x' } })), 'InvalidAccessKeyId.NotFound', 404, 'unknown key'));
    await check(`iot20180120 ${name}: replayed nonce -> SignatureNonceUsed`, () =>
      withPatched(TeaUtil, 'getNonce', `replay-${v1 ? 'v1' : 'v3'}-${Date.now()}`, async () => {
        eq((await queryFw(iot({ v1 }))).body.success, true, 'first use');
        await rejects(queryFw(iot({ v1 })), 'SignatureNonceUsed', 400, 'second use');
      }));
    await check(`iot20180120 ${name}: timestamp 20 minutes old -> InvalidTimeStamp.Expired`, () =>
      withPatched(OpenApiUtil, 'getTimestamp', oldTimestamp(20), () =>
        rejects(queryFw(iot({ v1 })), 'InvalidTimeStamp.Expired', 400, 'stale timestamp')));
    await check(`iot20180120 ${name}: business errors come back with Success false, not thrown`, async () => {
      const r = await iot({ v1 }).queryOTAJob(new Iot.QueryOTAJobRequest({ jobId: 'no-such-job' }));
      eq(r.body.success, false, 'Success');
      assert(typeof r.body.code === 'string' && r.body.code.length > 0, 'Code is set');
    });
  }

  await check('iot20180120: a burst over CancelOTATaskByJob QPS 5 -> Throttling.User', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const client = iot();
    const calls = [];
    for (let i = 0; i < 8; i++) {
      calls.push(client.cancelOTATaskByJob(new Iot.CancelOTATaskByJobRequest({ jobId: 'burst', cancelQueuedTask: true })));
    }
    const results = await Promise.allSettled(calls);
    const throttled = results.filter((r) => r.status === 'rejected' && r.reason.code === 'Throttling.User').length;
    const answered = results.filter((r) => r.status === 'fulfilled').length;
    eq(answered, 5, 'calls let through within one second');
    eq(throttled, 3, 'calls throttled');
    await new Promise((r) => setTimeout(r, 1100)); // let the window slide before the next cycle
  });

  for (const method of ['GET', 'POST']) {
    await check(`pop-core ${method}: firmware -> verify -> dynamic job -> tasks -> cancel`, () => cycle(popOps(pop(), method)));
    await check(`pop-core ${method}: device operations, confirm and re-upgrade`, () =>
      deviceCycle(popCall(pop(), method), method === 'GET' ? 3 : 4));
    await check(`pop-core ${method}: wrong secret -> SignatureDoesNotMatch`, () =>
      rejects(pop({ secret: 'tampered' }).request('QueryOTAFirmware', { FirmwareId: 'fw-240' }, { method }), 'SignatureDoesNotMatch', 400, 'tampered'));
    await check(`pop-core ${method}: unknown key -> InvalidAccessKeyId.NotFound`, () =>
      rejects(pop({ key: { id: 'LTAInobody', secret: 'x' } }).request('QueryOTAFirmware', { FirmwareId: 'fw-240' }, { method }),
        'InvalidAccessKeyId.NotFound', 404, 'unknown key'));
    await check(`pop-core ${method}: replayed nonce -> SignatureNonceUsed`, () =>
      withPatched(kitx, 'makeNonce', `pop-replay-${method}-${Date.now()}`, async () => {
        eq((await pop().request('QueryOTAFirmware', { FirmwareId: 'fw-240' }, { method })).Success, true, 'first use');
        await rejects(pop().request('QueryOTAFirmware', { FirmwareId: 'fw-240' }, { method }), 'SignatureNonceUsed', 400, 'second use');
      }));
  }

  await check('the emulator counted what it saw', async () => {
    const c = (await admin('GET', '/_emulator/counters')).body;
    assert(c.requests.total > 50, `requests ${c.requests.total}`);
    assert(c.rejected_signatures >= 4, `rejected signatures ${c.rejected_signatures}`);
    assert(c.throttled.by_action.CancelOTATaskByJob >= 3, 'throttled CancelOTATaskByJob');
  });

  if (child) {
    await admin('POST', '/_emulator/shutdown').catch(() => {});
    await new Promise((r) => { child.on('exit', r); setTimeout(r, 3000); });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.log(`FAIL conformance run: ${e && e.stack ? e.stack : e}`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
