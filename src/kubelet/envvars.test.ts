import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KObject } from '../client/rest-client.js';
import { containerResourceValue, expandVars, makeEnvironment, serviceEnvironment, type EnvContext } from './envvars.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function resources(cms: Record<string, KObject> = {}, secrets: Record<string, KObject> = {}) {
  return {
    getConfigMap: async (ns: string, name: string) => cms[`${ns}/${name}`],
    getSecret: async (ns: string, name: string) => secrets[`${ns}/${name}`],
  };
}

const pod: KObject = {
  metadata: { name: 'web', namespace: 'ns1', uid: 'u-1', labels: { app: 'web', tier: 'fe' }, annotations: { note: 'say "hi"' } },
  spec: { nodeName: 'node-a', serviceAccountName: 'sa1' },
};

function ctx(over: Partial<EnvContext> = {}): EnvContext {
  return {
    nodeName: 'node-a',
    nodeIP: '10.0.0.5',
    podIP: '10.244.1.7',
    podIPs: ['10.244.1.7', 'fd00::7'],
    resources: resources(
      { 'ns1/cfg': { data: { A: 'a', 'a=b': 'x', '1dot.dash-ok': 'y', B: 'b' } }, 'kube-system/other': { data: {} } },
      { 'ns1/sec': { data: { PASS: b64('p@ss'), TOKEN: b64('t') } } },
    ),
    ...over,
  };
}

const toMap = (vars: { key: string; value: string }[]) => Object.fromEntries(vars.map((v) => [v.key, v.value]));

describe('expandVars', () => {
  const vars: Record<string, string> = { A: 'x', EMPTY: '' };
  const cases: [string, string][] = [
    ['$(A)', 'x'],
    ['pre-$(A)-post', 'pre-x-post'],
    ['$(MISSING)', '$(MISSING)'],
    ['$$(A)', '$(A)'],
    ['$$$(A)', '$x'],
    ['$(A', '$(A'],
    ['a$b', 'a$b'],
    ['end$', 'end$'],
    ['$(EMPTY)z', 'z'],
    ['$()', '$()'],
  ];
  for (const [input, want] of cases) {
    it(`expands ${JSON.stringify(input)} to ${JSON.stringify(want)}`, () => {
      assert.equal(expandVars(input, (n) => vars[n]), want);
    });
  }
});

describe('makeEnvironment', () => {
  it('resolves literal values, $(VAR) references to earlier variables and service variables, in declaration order', async () => {
    const c = { name: 'c', env: [{ name: 'X', value: '1' }, { name: 'Y', value: '$(X)-$(SVC_SERVICE_HOST)-$(Z)' }, { name: 'Z', value: 'late' }] };
    const env = await makeEnvironment(pod, c, ctx({ serviceEnv: [{ key: 'SVC_SERVICE_HOST', value: '10.96.0.9' }, { key: 'X', value: 'shadowed' }] }));
    assert.deepEqual(env, [
      { key: 'X', value: '1' },
      { key: 'Y', value: '1-10.96.0.9-$(Z)' },
      { key: 'Z', value: 'late' },
      { key: 'SVC_SERVICE_HOST', value: '10.96.0.9' },
    ]);
  });

  it('takes envFrom with prefix, skips invalid keys, and lets env override envFrom', async () => {
    const c = {
      name: 'c',
      envFrom: [{ configMapRef: { name: 'cfg' } }, { secretRef: { name: 'sec' }, prefix: 'S_' }, { configMapRef: { name: 'nope', optional: true } }],
      env: [{ name: 'A', value: 'override' }],
    };
    const m = toMap(await makeEnvironment(pod, c, ctx()));
    assert.deepEqual(m, { A: 'override', '1dot.dash-ok': 'y', B: 'b', S_PASS: 'p@ss', S_TOKEN: 't' });
  });

  it('resolves the downward API fields', async () => {
    const paths: [string, string][] = [
      ['metadata.name', 'web'],
      ['metadata.namespace', 'ns1'],
      ['metadata.uid', 'u-1'],
      ["metadata.labels['app']", 'web'],
      ["metadata.annotations['note']", 'say "hi"'],
      ["metadata.labels['missing']", ''],
      ['metadata.labels', 'app="web"\ntier="fe"'],
      ['metadata.annotations', 'note="say \\"hi\\""'],
      ['spec.nodeName', 'node-a'],
      ['spec.serviceAccountName', 'sa1'],
      ['status.hostIP', '10.0.0.5'],
      ['status.hostIPs', '10.0.0.5'],
      ['status.podIP', '10.244.1.7'],
      ['status.podIPs', '10.244.1.7,fd00::7'],
    ];
    const c = { name: 'c', env: paths.map(([p], i) => ({ name: `V${i}`, valueFrom: { fieldRef: { fieldPath: p } } })) };
    const m = toMap(await makeEnvironment(pod, c, ctx()));
    paths.forEach(([p, want], i) => assert.equal(m[`V${i}`], want, p));
  });

  it('resolves configMapKeyRef and secretKeyRef, skipping optional misses', async () => {
    const c = {
      name: 'c',
      env: [
        { name: 'CM', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'A' } } },
        { name: 'SEC', valueFrom: { secretKeyRef: { name: 'sec', key: 'PASS' } } },
        { name: 'OPT1', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'nokey', optional: true } } },
        { name: 'OPT2', valueFrom: { secretKeyRef: { name: 'nosecret', key: 'k', optional: true } } },
      ],
    };
    assert.deepEqual(toMap(await makeEnvironment(pod, c, ctx())), { CM: 'a', SEC: 'p@ss' });
  });

  const failures: [string, KObject, string][] = [
    ['a missing ConfigMap in envFrom', { envFrom: [{ configMapRef: { name: 'x' } }] }, 'configmap "x" not found'],
    ['a missing Secret in envFrom', { envFrom: [{ secretRef: { name: 's' } }] }, 'secret "s" not found'],
    ['a missing ConfigMap key', { env: [{ name: 'E', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'y' } } }] }, "couldn't find key y in ConfigMap ns1/cfg"],
    ['a missing ConfigMap', { env: [{ name: 'E', valueFrom: { configMapKeyRef: { name: 'x', key: 'y' } } }] }, 'configmap "x" not found'],
    ['a missing Secret key', { env: [{ name: 'E', valueFrom: { secretKeyRef: { name: 'sec', key: 'k' } } }] }, "couldn't find key k in Secret ns1/sec"],
    ['a missing Secret', { env: [{ name: 'E', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }, 'secret "s" not found'],
    ['an unsupported field path', { env: [{ name: 'E', valueFrom: { fieldRef: { fieldPath: 'spec.bogus' } } }] }, 'unsupported fieldPath: spec.bogus'],
  ];
  for (const [what, c, msg] of failures) {
    it(`fails with upstream's message for ${what}`, async () => {
      await assert.rejects(makeEnvironment(pod, { name: 'c', ...c }, ctx()), { message: msg });
    });
  }

  it('resolves resourceFieldRef with divisors, rounding cpu up and defaulting limits to allocatable', async () => {
    const c = {
      name: 'c',
      resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '1500m' } },
      env: [
        { name: 'REQ_CPU', valueFrom: { resourceFieldRef: { resource: 'requests.cpu' } } },
        { name: 'REQ_CPU_M', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } },
        { name: 'LIM_CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
        { name: 'REQ_MEM_MI', valueFrom: { resourceFieldRef: { resource: 'requests.memory', divisor: '1Mi' } } },
        { name: 'LIM_MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory' } } },
        { name: 'LIM_EPH', valueFrom: { resourceFieldRef: { resource: 'limits.ephemeral-storage', divisor: '1Gi' } } },
      ],
    };
    const m = toMap(await makeEnvironment(pod, c, ctx({ allocatable: { cpu: '4', memory: '8Gi', 'ephemeral-storage': '100Gi' } })));
    assert.deepEqual(m, { REQ_CPU: '1', REQ_CPU_M: '250', LIM_CPU: '2', REQ_MEM_MI: '64', LIM_MEM: String(8 * 1024 ** 3), LIM_EPH: '100' });
  });
});

describe('containerResourceValue', () => {
  it('rejects an unknown resource with upstream message', () => {
    assert.throws(() => containerResourceValue({ resource: 'limits.gpu' }, {}), { message: 'unsupported container resource : limits.gpu' });
  });
});

describe('serviceEnvironment', () => {
  const svc = (ns: string, name: string, clusterIP: string, ports: KObject[]) => ({ metadata: { namespace: ns, name }, spec: { clusterIP, ports } });
  const services = [
    svc('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443, protocol: 'TCP' }]),
    svc('ns1', 'my-db', '10.96.0.20', [{ port: 5432 }, { name: 'metrics', port: 9187, protocol: 'UDP' }]),
    svc('ns1', 'headless', 'None', [{ port: 80 }]),
    svc('ns2', 'other', '10.96.0.30', [{ port: 80 }]),
    svc('ns1', 'v6', 'fd00::10', [{ port: 80 }]),
  ];

  it('builds docker-link variables for the namespace plus the kubernetes service', () => {
    const m = toMap(serviceEnvironment(services, 'ns1'));
    assert.deepEqual(m, {
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      KUBERNETES_SERVICE_PORT: '443',
      KUBERNETES_SERVICE_PORT_HTTPS: '443',
      KUBERNETES_PORT: 'tcp://10.96.0.1:443',
      KUBERNETES_PORT_443_TCP: 'tcp://10.96.0.1:443',
      KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
      KUBERNETES_PORT_443_TCP_PORT: '443',
      KUBERNETES_PORT_443_TCP_ADDR: '10.96.0.1',
      MY_DB_SERVICE_HOST: '10.96.0.20',
      MY_DB_SERVICE_PORT: '5432',
      MY_DB_SERVICE_PORT_METRICS: '9187',
      MY_DB_PORT: 'tcp://10.96.0.20:5432',
      MY_DB_PORT_5432_TCP: 'tcp://10.96.0.20:5432',
      MY_DB_PORT_5432_TCP_PROTO: 'tcp',
      MY_DB_PORT_5432_TCP_PORT: '5432',
      MY_DB_PORT_5432_TCP_ADDR: '10.96.0.20',
      MY_DB_PORT_9187_UDP: 'udp://10.96.0.20:9187',
      MY_DB_PORT_9187_UDP_PROTO: 'udp',
      MY_DB_PORT_9187_UDP_PORT: '9187',
      MY_DB_PORT_9187_UDP_ADDR: '10.96.0.20',
      V6_SERVICE_HOST: 'fd00::10',
      V6_SERVICE_PORT: '80',
      V6_PORT: 'tcp://[fd00::10]:80',
      V6_PORT_80_TCP: 'tcp://[fd00::10]:80',
      V6_PORT_80_TCP_PROTO: 'tcp',
      V6_PORT_80_TCP_PORT: '80',
      V6_PORT_80_TCP_ADDR: 'fd00::10',
    });
  });

  it('keeps only the kubernetes service when service links are disabled', () => {
    const keys = serviceEnvironment(services, 'ns1', false).map((e) => e.key);
    assert.ok(keys.every((k) => k.startsWith('KUBERNETES_')), keys.join(','));
    assert.equal(keys.length, 8);
  });
});
