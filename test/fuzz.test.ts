// Bad input never gets a 5xx: 10,000+ random and mutated requests against a live server, then the
// store is checked intact (every object still decodes and lists, untouched objects are unchanged).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../src/app/server.js';
import { issueCertificate } from '../src/base/pki.js';
import { setLogLevel } from '../src/base/log.js';

setLogLevel('error');

// A small deterministic PRNG so a failure can be replayed with the printed seed.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seeds = [
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'nginx', ports: [{ containerPort: 80 }] }] } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80, targetPort: 8080 }], selector: { a: 'b' } } },
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { k: 'v' } },
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec' }, data: { k: 'dg==' } },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd' },
    spec: { replicas: 1, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
  },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fz' } },
  { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } },
];
const collections = [
  '/api/v1/namespaces/fuzz/pods',
  '/api/v1/namespaces/fuzz/services',
  '/api/v1/namespaces/fuzz/configmaps',
  '/api/v1/namespaces/fuzz/secrets',
  '/apis/apps/v1/namespaces/fuzz/deployments',
  '/api/v1/namespaces',
  '/apis/batch/v1/namespaces/fuzz/jobs',
];
const weird = [null, 0, -1, 1e308, '', 'x'.repeat(300), true, [], {}, [{}], { $patch: 'delete' }, '../../etc', '\u0000', 'Foo_1', -0.5, '9223372036854775808'];

function mutate(r: () => number, v: any, depth = 0): any {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  if (depth > 6) return v;
  if (r() < 0.12) return pick(weird);
  if (Array.isArray(v)) {
    const out = v.map((x) => mutate(r, x, depth + 1));
    if (r() < 0.1) out.push(pick(weird));
    return out;
  }
  if (v && typeof v === 'object') {
    const out: any = {};
    for (const [k, x] of Object.entries(v)) {
      if (r() < 0.08) continue;
      out[r() < 0.03 ? k + '_x' : k] = mutate(r, x, depth + 1);
    }
    if (r() < 0.05) out[pick(['bogus', 'status', 'metadata', 'spec', 'kind', 'apiVersion'])] = pick(weird);
    return out;
  }
  return v;
}


/** One random or mutated request against the fuzz namespace's collections. */
function randomRequest(r: () => number): { method: string; path: string; body: Buffer | undefined; ct: string } {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
    const idx = Math.floor(r() * seeds.length);
    const coll = collections[idx];
    const method = pick(['POST', 'POST', 'POST', 'PUT', 'PATCH', 'PATCH', 'GET', 'DELETE']);
    const name = pick(['p', 's', 'cm', 'sec', 'd', 'fz', 'j', 'Foo_1', 'a'.repeat(260), '%00', '..', 'x%2Fy']);
    let path = method === 'POST' ? coll : `${coll}/${name}`;
    if (r() < 0.1) path += pick(['/status', '/scale', '/binding', '/eviction', '/bogus', '/log', '/finalize']);
    if (r() < 0.15) path = pick(['/api/v1/bogus', '/apis/nope/v1/x', '/api/v2/pods', '/apis/apps/v1/namespaces/fuzz/pods', '//api//v1', '/api/v1/namespaces/fuzz/pods?labelSelector=a%20in%20(', '/api/v1/pods?fieldSelector=bogus=1', '/api/v1/pods?limit=-5&continue=garbage', '/api/v1/namespaces/fuzz/pods?watch=true&resourceVersion=abc', '/api/v1/namespaces/fuzz/pods?resourceVersion=99999999&resourceVersionMatch=Exact']);
    let body: Buffer | undefined;
    let ct = 'application/json';
    if (method !== 'GET' && method !== 'DELETE') {
      const obj = mutate(r, structuredClone(seeds[idx]));
      let text = JSON.stringify(obj);
      const mode = r();
      if (mode < 0.05) text = text.slice(0, Math.floor(r() * text.length));
      else if (mode < 0.08) text = Buffer.from(Array.from({ length: 64 }, () => Math.floor(r() * 256))).toString('latin1');
      else if (mode < 0.1) text = `k8s\u0000${text}`;
      else if (mode < 0.11) text = JSON.stringify({ ...obj, pad: 'x'.repeat(3 * 1024 * 1024 + 10) });
      else if (mode < 0.14) text = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n';
      body = Buffer.from(text, mode < 0.08 && mode >= 0.05 ? 'latin1' : 'utf8');
      if (method === 'PATCH') ct = pick(['application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/json-patch+json', 'application/apply-patch+yaml', 'text/plain']);
      else ct = pick(['application/json', 'application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf', 'text/html']);
      if (method === 'PATCH' && ct === 'application/json-patch+json' && r() < 0.7) {
        body = Buffer.from(JSON.stringify([{ op: pick(['add', 'remove', 'replace', 'move', 'copy', 'test', 'bogus']), path: pick(['/spec', '/metadata/name', '/spec/containers/0', '/x/y/z', '', '/metadata/labels/a']), from: '/spec', value: pick(weird) }]));
      }
      if (method === 'PATCH' && ct === 'application/apply-patch+yaml') path += (path.includes('?') ? '&' : '?') + 'fieldManager=fuzz';
    }
  return { method, path, body, ct };
}

describe('fuzzing the API', () => {
  let server: RunningServer;
  let agent: https.Agent;
  before(async () => {
    server = await startServer({ storagePath: ':memory:' });
    agent = new https.Agent({ keepAlive: true, maxSockets: 32, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key });
  });
  after(async () => {
    agent?.destroy();
    await server?.stop();
  });

  function send(method: string, path: string, body: Buffer | undefined, contentType: string, as: https.Agent = agent): Promise<{ code: number; text: string }> {
    const u = new URL(server.url);
    return new Promise((res, rej) => {
      const req = https.request(
        { host: u.hostname, port: u.port, method, path, agent: as, headers: body ? { 'Content-Type': contentType, 'Content-Length': body.length } : {} },
        (m) => {
          const chunks: Buffer[] = [];
          m.on('data', (d: Buffer) => chunks.push(d));
          m.on('end', () => res({ code: m.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        },
      );
      req.setTimeout(10_000, () => req.destroy(new Error(`timeout ${method} ${path}`)));
      req.on('error', rej);
      req.end(body);
    });
  }

  it('answers 10,000 random and mutated requests without a 5xx, and the store stays intact', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1e9);
    const r = rng(seed);
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
    // Objects the fuzzer never addresses: they must come out unchanged.
    await send('POST', '/api/v1/namespaces', Buffer.from(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fuzz' } })), 'application/json');
    await send('POST', '/api/v1/namespaces', Buffer.from(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'keep' } })), 'application/json');
    const kept = await send('POST', '/api/v1/namespaces/keep/configmaps', Buffer.from(JSON.stringify({ metadata: { name: 'sentinel' }, data: { a: '1' } })), 'application/json');
    assert.equal(kept.code, 201);
    const total = Number(process.env.FUZZ_REQUESTS ?? 10_000);
    const failures: string[] = [];
    const codes = new Map<number, number>();
    let i = 0;
    const worker = async () => {
      while (i < total) {
        const n = i++;
        const { method, path, body, ct } = randomRequest(r);
        let res;
        try {
          res = await send(method, path, body, ct);
        } catch (e) {
          failures.push(`#${n} ${method} ${path}: transport error ${(e as Error).message}`);
          continue;
        }
        codes.set(res.code, (codes.get(res.code) ?? 0) + 1);
        // The one 5xx upstream itself answers for bad input: a resourceVersion from the future is
        // 504 "Too large resource version" (reason Timeout), which client-go reflectors rely on.
        const tooLarge = res.code === 504 && /"reason":"Timeout"/.test(res.text) && /Too large resource version/.test(res.text);
        if (res.code >= 500 && !tooLarge) failures.push(`#${n} ${method} ${path} (${ct}) → ${res.code}: ${res.text.slice(0, 300)}`);
        else if (res.code >= 400) {
          const st = JSON.parse(res.text);
          if (st.kind !== 'Status' || st.code !== res.code) failures.push(`#${n} ${method} ${path} → ${res.code} without a Status body`);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    assert.deepEqual(failures.slice(0, 20), [], `seed ${seed}: ${failures.length} failures; codes ${JSON.stringify([...codes])}`);
    // The store is intact: the server is healthy, everything lists and decodes, the sentinel is unchanged.
    assert.equal((await send('GET', '/readyz', undefined, '')).code, 200);
    for (const coll of collections) {
      const l = await send('GET', coll, undefined, '');
      assert.equal(l.code, 200, `${coll}: ${l.text.slice(0, 200)}`);
      assert.ok(Array.isArray(JSON.parse(l.text).items));
    }
    const s = JSON.parse((await send('GET', '/api/v1/namespaces/keep/configmaps/sentinel', undefined, '')).text);
    assert.equal(s.metadata.resourceVersion, JSON.parse(kept.text).metadata.resourceVersion);
    assert.deepEqual(s.data, { a: '1' });
  });

  it('never answers 2xx where the answer must be 401 or 403, nor 5xx, for anonymous and under-privileged users', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1e9) + 1;
    const r = rng(seed);
    const tls = join(server.dataDir, 'tls');
    const ca = { cert: readFileSync(join(tls, 'ca.crt'), 'utf8'), key: readFileSync(join(tls, 'ca.key'), 'utf8') };
    const eve = await issueCertificate(ca, { commonName: 'eve', usage: 'client' });
    const viewer = await issueCertificate(ca, { commonName: 'viewer', usage: 'client' });
    // The first test may have deleted the fuzz namespace: wait until it can be had again.
    const nsBody = Buffer.from(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fuzz' } }));
    for (let t = 0; ; t++) {
      const made = await send('POST', '/api/v1/namespaces', nsBody, 'application/json');
      const cur = JSON.parse((await send('GET', '/api/v1/namespaces/fuzz', undefined, '')).text);
      if ((made.code === 201 || made.code === 409) && cur.status?.phase === 'Active') break;
      assert.ok(t < 300, `the fuzz namespace did not come back: ${made.text}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    const rb = await send('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/fuzz/rolebindings', Buffer.from(JSON.stringify({ metadata: { name: 'viewer' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'viewer' }] })), 'application/json');
    assert.equal(rb.code, 201, rb.text);
    const agents = {
      anonymous: new https.Agent({ keepAlive: true, maxSockets: 8, ca: server.ca }),
      eve: new https.Agent({ keepAlive: true, maxSockets: 8, ca: server.ca, cert: eve.cert, key: eve.key }),
      viewer: new https.Agent({ keepAlive: true, maxSockets: 8, ca: server.ca, cert: viewer.cert, key: viewer.key }),
    };
    const total = Number(process.env.FUZZ_REQUESTS ?? 10_000) / 2;
    const failures: string[] = [];
    const codes: Record<string, Record<number, number>> = { anonymous: {}, eve: {}, viewer: {} };
    let i = 0;
    const worker = async () => {
      while (i < total) {
        const n = i++;
        const who = (['anonymous', 'eve', 'viewer'] as const)[n % 3];
        const { method, path, body, ct } = randomRequest(r);
        let res;
        try {
          res = await send(method, path, body, ct, agents[who]);
        } catch (e) {
          failures.push(`#${n} ${who} ${method} ${path}: transport error ${(e as Error).message}`);
          continue;
        }
        codes[who][res.code] = (codes[who][res.code] ?? 0) + 1;
        const ok = res.code >= 200 && res.code < 300;
        // What every authenticated user may read (system:discovery), after the path is normalised.
        const discovery = /^\/(api|apis)(\/[^/]+){0,2}\/?$/.test(new URL(path, 'https://x').pathname) && !/\/namespaces\//.test(new URL(path, 'https://x').pathname);
        const tooLarge = res.code === 504 && /Too large resource version/.test(res.text);
        if (res.code >= 500 && !tooLarge) failures.push(`#${n} ${who} ${method} ${path} → ${res.code}: ${res.text.slice(0, 200)}`);
        else if (who === 'anonymous' && res.code !== 401) failures.push(`#${n} anonymous ${method} ${path} → ${res.code}, want 401`);
        else if (who === 'eve' && ok && !(discovery && method === 'GET')) failures.push(`#${n} eve (no bindings) ${method} ${path} → ${res.code}`);
        else if (who === 'viewer' && ok && method !== 'GET') failures.push(`#${n} viewer (view in fuzz) ${method} ${path} → ${res.code}`);
        else if (who === 'viewer' && ok && /\/secrets/.test(path)) failures.push(`#${n} viewer read secrets: ${path}`);
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    for (const a of Object.values(agents)) a.destroy();
    assert.deepEqual(failures.slice(0, 20), [], `seed ${seed}: ${failures.length} failures; codes ${JSON.stringify(codes)}`);
    assert.ok((codes.eve[403] ?? 0) > total / 6, `eve is mostly refused: ${JSON.stringify(codes.eve)}`);
    // Past authorization, a viewer's reads are answered (found or not).
    assert.ok((codes.viewer[200] ?? 0) + (codes.viewer[404] ?? 0) > 0, `the viewer's reads get past authorization: ${JSON.stringify(codes.viewer)}`);
  });
});
