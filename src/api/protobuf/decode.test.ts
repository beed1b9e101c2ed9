import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Root, Type } from 'protobufjs';
import { StatusError } from '../errors.js';
import { decodeProtobufAs, decodeProtobufObject, isProtobufBody, PROTOBUF_MAGIC } from './decode.js';

const require = createRequire(import.meta.url);
const fixtures = new URL('./testdata/fixtures/', import.meta.url);
const readFixture = (name: string): Buffer => readFileSync(new URL(name, fixtures));

interface IndexEntry {
  case: string;
  kubectl: string;
  args: string[];
  seq?: number;
  method?: string;
  path?: string;
  contentType?: string;
  file: string;
}
const index = JSON.parse(readFixture('index.json').toString('utf8')) as IndexEntry[];

// Must run before anything decodes or builds a body: protobufjs and the schema load on the first protobuf body.
test('importing the decoder loads neither protobufjs nor the wire schema', () => {
  assert.equal(Object.keys(require.cache).some((k) => k.includes('/node_modules/protobufjs/')), false);
});

/**
 * Normalizes a JSON body that Go's encoding/json wrote into the form the decoder promises: `null` members are
 * removed (zero Time, nil pointers and slices: a Go server reads null and absent alike), and so are `{}` members
 * whose key names a Go non-pointer struct in the captured bodies (status, spec, strategy, resources,
 * loadBalancer, userInfo, metadata), which encoding/json cannot omit. Nothing else changes: `{}` inside arrays
 * and under other keys (emptyDir, seLinuxOptions: pointers, meaningful when empty) must match exactly.
 */
function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === null) continue;
      const n = normalize(x);
      if (nonPointerStructs.has(k) && n && typeof n === 'object' && !Array.isArray(n) && Object.keys(n).length === 0) continue;
      out[k] = n;
    }
    return out;
  }
  return v;
}
const nonPointerStructs = new Set(['status', 'spec', 'strategy', 'resources', 'loadBalancer', 'userInfo', 'metadata']);

/** Values that differ between runs by nature: checked for shape, then taken from the decoded side. */
const volatile: Record<string, { path: (string | number)[]; pattern: RegExp }[]> = {
  'certificate-approve': [{ path: ['status', 'conditions', 0, 'lastUpdateTime'], pattern: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/ }],
  'debug-node': [{ path: ['metadata', 'name'], pattern: /^node-debugger-n1-[a-z0-9]{5}$/ }],
};

function at(o: unknown, path: (string | number)[]): unknown {
  return path.reduce<unknown>((x, k) => (x as Record<string | number, unknown> | undefined)?.[k], o);
}
function setAt(o: unknown, path: (string | number)[], v: unknown): void {
  const parent = at(o, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1]] = v;
}

const protobufBodies = index.filter((e) => e.contentType?.startsWith('application/vnd.kubernetes.protobuf'));

test('the fixtures hold a protobuf body from kubectl 1.32 and 1.33 for every command the brief lists', () => {
  const wanted = [
    'create-deployment', 'create-namespace', 'create-configmap', 'create-secret-generic', 'create-service-clusterip',
    'create-service-nodeport', 'create-job', 'create-cronjob', 'create-priorityclass', 'create-quota', 'create-pdb',
    'create-role', 'create-rolebinding', 'create-serviceaccount', 'auth-can-i', 'auth-can-i-list', 'create-token',
  ];
  for (const c of wanted) {
    for (const v of ['1.32', '1.33']) {
      assert.ok(protobufBodies.some((e) => e.case === c && e.kubectl === v), `${c} from kubectl ${v}`);
      assert.ok(index.some((e) => e.case === c && e.kubectl === '1.31' && e.contentType === 'application/json'), `${c} from kubectl 1.31`);
    }
  }
});

for (const pb of protobufBodies) {
  const cmd = `kubectl ${pb.kubectl} ${pb.args.join(' ')}`;
  const json = index.find((e) => e.case === pb.case && e.kubectl === '1.31' && e.seq === pb.seq && e.path === pb.path && e.contentType === 'application/json');
  if (json) {
    test(`the protobuf body of \`${cmd}\` decodes to the JSON body kubectl 1.31 sent for the same command`, () => {
      const got = decodeProtobufObject(readFixture(pb.file));
      const want = normalize(JSON.parse(readFixture(json.file).toString('utf8')));
      for (const { path, pattern } of volatile[pb.case] ?? []) {
        assert.match(String(at(got, path)), pattern);
        setAt(want, path, at(got, path));
      }
      assert.deepStrictEqual(got, want);
    });
  }
  const dry = index.find((e) => e.case === pb.case && e.kubectl === pb.kubectl && e.file.endsWith('.dry-run.json'));
  if (dry) {
    test(`the protobuf body of \`${cmd}\` decodes to what the same kubectl prints with --dry-run=client -o json`, () => {
      assert.deepStrictEqual(decodeProtobufObject(readFixture(pb.file)), normalize(JSON.parse(readFixture(dry.file).toString('utf8'))));
    });
  }
  if (!json && !dry) test(`fixture ${pb.file} has something to be compared with`, () => assert.fail('no JSON counterpart'));
}

test('decoded bodies keep what Go pointers and non-omitempty fields say, and drop unset non-pointer fields', () => {
  const zero = decodeProtobufObject(readFixture('create-deployment-zero-0.k132.pb'));
  assert.equal((zero.spec as { replicas: number }).replicas, 0, 'replicas is *int32: present means set, even to 0');
  assert.equal((zero.metadata as Record<string, unknown>).generateName, undefined, 'the explicit empty generateName is dropped');
  assert.equal((zero.metadata as Record<string, unknown>).creationTimestamp, undefined, 'a zero Time is dropped');
  assert.equal(zero.status, undefined, 'an empty non-pointer status is dropped');

  const pod = decodeProtobufObject(readFixture('debug-copy-0.k132.pb')) as { spec: { volumes: Record<string, unknown>[]; containers: Record<string, unknown>[] } };
  assert.deepEqual(pod.spec.volumes[0], { name: 'cache', emptyDir: {} }, 'an empty pointer struct stays: the volume source is emptyDir');
  assert.deepEqual(pod.spec.volumes.find((v) => v.name === 'host'), { name: 'host', hostPath: { path: '/var/log', type: '' } }, 'a pointer to "" stays');
  const app = pod.spec.containers[0] as { ports: unknown[]; livenessProbe: { httpGet: { port: unknown } }; readinessProbe: { tcpSocket: { port: unknown } } };
  assert.deepEqual(app.ports[1], { containerPort: 9090, protocol: 'UDP' }, 'hostPort 0 (omitempty) is dropped');
  assert.equal(app.livenessProbe.httpGet.port, 'http', 'IntOrString of string type');
  assert.equal(app.readinessProbe.tcpSocket.port, 80, 'IntOrString of int type');

  const secret = decodeProtobufObject(readFixture('create-secret-generic-0.k132.pb'));
  assert.deepEqual(secret.data, { k: 'dg==', empty: '' }, 'bytes become base64');

  const svc = decodeProtobufObject(readFixture('create-service-nodeport-0.k132.pb')) as { spec: { ports: unknown[] } };
  assert.deepEqual(svc.spec.ports[0], { name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 });

  const csr = decodeProtobufObject(readFixture('certificate-approve-0.k132.pb')) as { spec: { extra: unknown } };
  assert.deepEqual(csr.spec.extra, { 'scopes.example.com': ['a', 'b'] }, 'map of ExtraValue becomes a map of arrays');
});

// ---- synthetic bodies, built with protobufjs from the same wire schema ----

let root: Root | undefined;
function schemaRoot(): Root {
  if (!root) {
    const protobuf = require('protobufjs') as typeof import('protobufjs');
    root = protobuf.Root.fromJSON(JSON.parse(readFileSync(new URL('./wire-schema.json', import.meta.url), 'utf8')));
  }
  return root;
}
function envelope(apiVersion: string, kind: string, raw: Uint8Array, extra: Record<string, unknown> = {}): Buffer {
  const unknown = schemaRoot().lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
  const typeMeta = apiVersion || kind ? { apiVersion, kind } : undefined;
  return Buffer.concat([PROTOBUF_MAGIC, unknown.encode(unknown.fromObject({ typeMeta, raw, ...extra })).finish()]);
}
function body(apiVersion: string, kind: string, typeName: string, object: Record<string, unknown>): Buffer {
  const t: Type = schemaRoot().lookupType(typeName);
  assert.equal(t.verify(object), null);
  return envelope(apiVersion, kind, t.encode(t.fromObject(object)).finish());
}

test('value-like messages convert as their Go JSON forms', () => {
  const lease = decodeProtobufObject(body('coordination.k8s.io/v1', 'Lease', 'k8s.io.api.coordination.v1.Lease', {
    metadata: { name: 'l', creationTimestamp: { seconds: 1735689600, nanos: 999_999_999 } },
    spec: { holderIdentity: '', leaseDurationSeconds: 0, renewTime: { seconds: 1735689600, nanos: 123_456_789 }, acquireTime: {} },
  }));
  assert.deepEqual(lease, {
    kind: 'Lease',
    apiVersion: 'coordination.k8s.io/v1',
    metadata: { name: 'l', creationTimestamp: '2025-01-01T00:00:00Z' },
    // Pointers to zero values stay; a pointer to a zero MicroTime is JSON null and is dropped.
    spec: { holderIdentity: '', leaseDurationSeconds: 0, renewTime: '2025-01-01T00:00:00.123456Z' },
  });

  const rev = decodeProtobufObject(body('apps/v1', 'ControllerRevision', 'k8s.io.api.apps.v1.ControllerRevision', {
    metadata: { name: 'r', managedFields: [{ manager: 'm', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { Raw: Buffer.from('{"f:spec":{}}') }, time: { seconds: 1 } }] },
    data: { raw: Buffer.from('{"spec":{"template":{"x":1}}}') },
    revision: 0,
  }));
  assert.deepEqual(rev, {
    kind: 'ControllerRevision',
    apiVersion: 'apps/v1',
    metadata: { name: 'r', managedFields: [{ manager: 'm', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} }, time: '1970-01-01T00:00:01Z' }] },
    data: { spec: { template: { x: 1 } } },
    revision: 0, // not omitempty
  });

  const old = decodeProtobufObject(body('coordination.k8s.io/v1', 'Lease', 'k8s.io.api.coordination.v1.Lease', {
    spec: { acquireTime: { seconds: -86400, nanos: 1_500_000_000 } },
  }));
  assert.deepEqual(old.spec, { acquireTime: '1969-12-31T00:00:01.500000Z' }, 'times before 1970 and nanos past a second normalize as time.Unix does');
});

test('a field newer than the Go facts keeps whatever the wire holds, zero values included', () => {
  const pod = decodeProtobufObject(body('v1', 'Pod', 'k8s.io.api.core.v1.Pod', {
    metadata: { name: 'p', generateName: '' },
    spec: { hostnameOverride: '', containers: [{ name: 'c', image: 'i' }] },
  }));
  assert.deepEqual(pod, { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'p' }, spec: { hostnameOverride: '', containers: [{ name: 'c', image: 'i' }] } });
});

test('a RawExtension holding a protobuf object decodes that object too', () => {
  const cm = schemaRoot().lookupType('k8s.io.api.core.v1.ConfigMap');
  const inner = envelope('v1', 'ConfigMap', cm.encode(cm.fromObject({ metadata: { name: 'c' }, data: { a: 'b' } })).finish());
  const list = decodeProtobufObject(body('v1', 'List', 'k8s.io.api.core.v1.List', { metadata: {}, items: [{ raw: inner }, { raw: Buffer.from('{"kind":"Secret"}') }] }));
  assert.deepEqual(list, { kind: 'List', apiVersion: 'v1', items: [{ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'c' }, data: { a: 'b' } }, { kind: 'Secret' }] });
});

test('fields the wire schema lacks (named options) are decoded', () => {
  const pod = decodeProtobufObject(readFixture('debug-copy-0.k133.pb')) as { spec: { dnsConfig: unknown; volumes: Record<string, unknown>[] } };
  assert.deepEqual(pod.spec.dnsConfig, { nameservers: ['1.1.1.1'], searches: ['s.local'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] });
  assert.deepEqual(pod.spec.volumes.find((v) => v.name === 'flex'), { name: 'flex', flexVolume: { driver: 'example.com/drv', options: { k: 'v' } } });
});

test('decodeProtobufAs supplies the kind an envelope leaves out, and meta kinds decode under any group version', () => {
  const ev = schemaRoot().lookupType('k8s.io.api.policy.v1.Eviction');
  const raw = ev.encode(ev.fromObject({ metadata: { name: 'p' }, deleteOptions: { gracePeriodSeconds: 0, dryRun: ['All'] } })).finish();
  assert.deepEqual(decodeProtobufAs(envelope('', '', raw), 'policy/v1', 'Eviction'), {
    kind: 'Eviction',
    apiVersion: 'policy/v1',
    metadata: { name: 'p' },
    deleteOptions: { gracePeriodSeconds: 0, dryRun: ['All'] },
  });
  const del = decodeProtobufObject(body('apps/v1', 'DeleteOptions', 'k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions', { propagationPolicy: 'Foreground', preconditions: { uid: 'u' } }));
  assert.deepEqual(del, { kind: 'DeleteOptions', apiVersion: 'apps/v1', preconditions: { uid: 'u' }, propagationPolicy: 'Foreground' });
  const scale = decodeProtobufAs(body('autoscaling/v1', 'Scale', 'k8s.io.api.autoscaling.v1.Scale', { metadata: { name: 'web' }, spec: { replicas: 0 } }), 'autoscaling/v1', 'Scale');
  assert.deepEqual(scale, { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'web' } }, 'ScaleSpec.replicas is an omitempty int32');
});

test('isProtobufBody recognizes the k8s\\0 magic only', () => {
  assert.equal(isProtobufBody(readFixture('create-namespace-0.k132.pb')), true);
  assert.equal(isProtobufBody(Buffer.from('{"kind":"Namespace"}')), false);
  assert.equal(isProtobufBody(Buffer.from('k8s')), false);
  assert.equal(isProtobufBody(Buffer.alloc(0)), false);
});

function assertBadRequest(fn: () => unknown, message?: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StatusError, `threw ${String(e)}`);
    assert.equal(e.code, 400);
    assert.equal(e.reason, 'BadRequest');
    if (message) assert.match(e.message, message);
    return;
  }
  assert.fail('did not throw');
}

const deployment = readFixture('create-deployment-0.k132.pb');
const badBodies: [string, () => Buffer, RegExp?][] = [
  ['an empty body', () => Buffer.alloc(0), /^empty data$/],
  ['a JSON body', () => Buffer.from('{"kind":"Deployment"}'), /does not appear to be a protobuf message, expected prefix \[107 56 115 0\]/],
  ['the magic alone', () => Buffer.from(PROTOBUF_MAGIC), /^empty body$/],
  ['garbage after the magic', () => Buffer.concat([PROTOBUF_MAGIC, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])])],
  ['a kind no group registers', () => body('apps/v1', 'Frobnicator', 'k8s.io.api.core.v1.ConfigMap', {}), /no kind "Frobnicator" is registered for version "apps\/v1"/],
  ['a group the server does not serve', () => body('example.com/v1', 'Deployment', 'k8s.io.api.core.v1.ConfigMap', {}), /no kind "Deployment" is registered for version "example.com\/v1"/],
  ['a group named like an Object member', () => body('constructor/v1', 'Deployment', 'k8s.io.api.core.v1.ConfigMap', {}), /no kind "Deployment" is registered for version "constructor\/v1"/],
  ['a version the schema lacks', () => body('apps/v1beta1', 'Deployment', 'k8s.io.api.core.v1.ConfigMap', {}), /no kind "Deployment" is registered/],
  ['a message that is part of a kind, not a kind', () => body('apps/v1', 'DeploymentSpec', 'k8s.io.api.apps.v1.DeploymentSpec', {}), /no kind "DeploymentSpec"/],
  ['an envelope without a kind', () => envelope('apps/v1', '', new Uint8Array(0)), /Object 'Kind' is missing in 'runtime.TypeMeta\{APIVersion:"apps\/v1", Kind:""\}'/],
  ['an envelope without an apiVersion', () => envelope('', 'Deployment', new Uint8Array(0)), /Object 'apiVersion' is missing/],
  ['an object whose raw bytes are garbage', () => envelope('apps/v1', 'Deployment', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))],
  ['a compressed envelope', () => envelope('v1', 'ConfigMap', new Uint8Array(0), { contentEncoding: 'gzip' }), /content encoding/],
  ['a time after the year 9999', () => body('coordination.k8s.io/v1', 'Lease', 'k8s.io.api.coordination.v1.Lease', { spec: { renewTime: { seconds: 253402300800 } } }), /year outside of range/],
  ['a RawExtension with invalid JSON', () => body('apps/v1', 'ControllerRevision', 'k8s.io.api.apps.v1.ControllerRevision', { data: { raw: Buffer.from('{nope') } }), /invalid embedded object/],
];
for (const [what, buf, message] of badBodies) {
  test(`decoding ${what} throws a 400 BadRequest StatusError`, () => assertBadRequest(() => decodeProtobufObject(buf()), message));
}

test('every truncation of a real body either decodes or throws a 400 BadRequest StatusError', () => {
  let rejected = 0;
  for (let n = 0; n < deployment.length; n++) {
    try {
      decodeProtobufObject(deployment.subarray(0, n));
    } catch (e) {
      assert.ok(e instanceof StatusError && e.code === 400, `prefix of ${n} bytes threw ${String(e)}`);
      rejected++;
    }
  }
  assert.ok(rejected > deployment.length / 2, `only ${rejected} of ${deployment.length} truncations were rejected`);
});

test('randomly corrupted real bodies never throw anything but a 400 StatusError', () => {
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const sources = ['create-deployment-0.k132.pb', 'debug-copy-0.k132.pb', 'auth-can-i-0.k132.pb', 'certificate-approve-0.k133.pb'].map(readFixture);
  for (let i = 0; i < 3000; i++) {
    const buf = Buffer.from(sources[i % sources.length]);
    for (let j = 1 + rand(4); j > 0; j--) buf[4 + rand(buf.length - 4)] = rand(256);
    try {
      const obj = decodeProtobufObject(buf);
      assert.equal(typeof obj.kind, 'string');
    } catch (e) {
      assert.ok(e instanceof StatusError && e.code === 400, `iteration ${i} threw ${String(e)}`);
    }
  }
});
