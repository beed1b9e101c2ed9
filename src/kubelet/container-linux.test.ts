import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as protoLoader from '@grpc/proto-loader';
import type { KObject } from '../client/rest-client.js';
import { linuxContainerConfig, linuxContainerResources, linuxSecurityContext, milliCPUToQuota, milliCPUToShares, qosClass, verifyRunAsNonRoot } from './container-linux.js';
import { criProtoPath } from './runtime/cri-runtime.js';
import type { ContainerConfig } from './runtime/runtime.js';

const GiB = 1024 ** 3;
const podWith = (containers: KObject[], spec: KObject = {}): KObject => ({ metadata: { name: 'p', namespace: 'ns', uid: 'u1' }, spec: { containers, ...spec } });

describe('cpu conversions', () => {
  const shares: [number, number][] = [[0, 2], [1, 2], [250, 256], [1000, 1024], [1500, 1536], [1_000_000, 262144]];
  for (const [m, want] of shares) it(`gives ${want} shares for ${m} milliCPU`, () => assert.equal(milliCPUToShares(m), want));
  const quotas: [number, number][] = [[0, 0], [5, 1000], [250, 25000], [1500, 150000]];
  for (const [m, want] of quotas) it(`gives quota ${want} for a ${m} milliCPU limit`, () => assert.equal(milliCPUToQuota(m), want));
});

describe('linuxContainerResources', () => {
  const cases: [string, KObject, KObject, Partial<ReturnType<typeof linuxContainerResources>>][] = [
    ['a best-effort container gets minimal shares, no quota and OOM score 1000', {}, {}, { cpuShares: 2, cpuQuota: 0, cpuPeriod: 100000, oomScoreAdj: 1000 }],
    [
      'a guaranteed container gets shares, quota, memory limit and OOM score -997',
      { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '500m', memory: '1Gi' } },
      {},
      { cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000, memoryLimitInBytes: GiB, oomScoreAdj: -997 },
    ],
    ['a limit-only cpu container takes its shares from the limit', { limits: { cpu: '2' } }, {}, { cpuShares: 2048, cpuQuota: 200000 }],
    ['a burstable container scores by its memory request', { requests: { memory: '4Gi' } }, {}, { oomScoreAdj: 750, cpuShares: 2 }],
    ['a node-critical pod scores -997', { requests: { memory: '1Gi' } }, { priority: 2000001000, priorityClassName: 'system-node-critical' }, { oomScoreAdj: -997 }],
  ];
  for (const [name, res, spec, want] of cases) {
    it(name, () => {
      const c = { name: 'c', resources: res };
      const got = linuxContainerResources(podWith([c], spec), c, { memoryCapacity: 16 * GiB });
      for (const [k, v] of Object.entries(want)) assert.equal((got as KObject)[k], v, k);
      if (!res.limits?.memory) assert.equal(got.memoryLimitInBytes, undefined);
    });
  }
});

describe('qosClass', () => {
  it('reuses the API computation', () => {
    assert.equal(qosClass(podWith([{ name: 'c' }])), 'BestEffort');
    assert.equal(qosClass(podWith([{ name: 'c', resources: { requests: { cpu: '1' } } }])), 'Burstable');
  });
});

describe('linuxSecurityContext', () => {
  it('merges pod-level users with the container and lists fsGroup before supplementalGroups', () => {
    const c = { name: 'c', securityContext: { runAsGroup: 7, capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] }, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true } };
    const pod = podWith([c], { securityContext: { runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [4, 5] }, shareProcessNamespace: true });
    const sc = linuxSecurityContext(pod, c);
    assert.deepEqual(sc.runAsUser, { value: 1000 });
    assert.deepEqual(sc.runAsGroup, { value: 7 });
    assert.deepEqual(sc.supplementalGroups, [2000, 4, 5]);
    assert.deepEqual(sc.capabilities, { addCapabilities: ['NET_ADMIN'], dropCapabilities: ['ALL'] });
    assert.equal(sc.noNewPrivs, true);
    assert.equal(sc.readonlyRootfs, true);
    assert.deepEqual(sc.namespaceOptions, { network: 'POD', pid: 'POD', ipc: 'POD' });
    assert.deepEqual(sc.seccomp, { profileType: 'Unconfined' });
    assert.equal(sc.apparmor, undefined);
    assert.ok(sc.maskedPaths?.includes('/proc/kcore'));
  });

  const ns: [string, KObject, KObject][] = [
    ['host namespaces map to NODE', { hostNetwork: true, hostPID: true, hostIPC: true }, { network: 'NODE', pid: 'NODE', ipc: 'NODE' }],
    ['the default is a per-container PID namespace', {}, { network: 'POD', pid: 'CONTAINER', ipc: 'POD' }],
  ];
  for (const [name, spec, want] of ns) it(name, () => assert.deepEqual(linuxSecurityContext(podWith([{ name: 'c' }], spec), { name: 'c' }).namespaceOptions, want));

  it('sets no_new_privs only when allowPrivilegeEscalation is false, and honours privileged, seccomp and Unmasked procMount', () => {
    const c1 = { name: 'c', securityContext: { allowPrivilegeEscalation: true, privileged: true, procMount: 'Unmasked', seccompProfile: { type: 'RuntimeDefault' } } };
    const sc = linuxSecurityContext(podWith([c1]), c1);
    assert.equal(sc.noNewPrivs, false);
    assert.equal(sc.privileged, true);
    assert.deepEqual(sc.maskedPaths, []);
    assert.deepEqual(sc.seccomp, { profileType: 'RuntimeDefault' });
    assert.equal(linuxSecurityContext(podWith([{ name: 'c' }]), { name: 'c' }).noNewPrivs, false);
  });
});

describe('verifyRunAsNonRoot', () => {
  const pod = (sc: KObject) => podWith([{ name: 'c', securityContext: sc }]);
  const cases: [string, KObject, number | undefined, string | undefined, string | undefined][] = [
    ['allows anything without runAsNonRoot', {}, 0, undefined, undefined],
    ['rejects runAsUser 0', { runAsNonRoot: true, runAsUser: 0 }, undefined, undefined, `container's runAsUser breaks non-root policy (pod: "p_ns(u1)", container: c)`],
    ['accepts a non-zero runAsUser', { runAsNonRoot: true, runAsUser: 5 }, 0, undefined, undefined],
    ['rejects an image running as root', { runAsNonRoot: true }, 0, undefined, 'container has runAsNonRoot and image will run as root (pod: "p_ns(u1)", container: c)'],
    ['rejects a non-numeric image user', { runAsNonRoot: true }, undefined, 'app', 'container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root (pod: "p_ns(u1)", container: c)'],
  ];
  for (const [name, sc, uid, user, msg] of cases) {
    it(name, () => {
      const p = pod(sc);
      if (msg) assert.throws(() => verifyRunAsNonRoot(p, p.spec.containers[0], uid, user), { message: msg });
      else verifyRunAsNonRoot(p, p.spec.containers[0], uid, user);
    });
  }
});

// The same renaming CriRuntime applies (map fields keep their keys).
const MAPS = new Set(['labels', 'annotations']);
function rename(v: unknown, f: (k: string) => string): unknown {
  if (Array.isArray(v)) return v.map((x) => rename(x, f));
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [f(k), MAPS.has(k) ? x : rename(x, f)]));
}
const snake = (v: unknown) => rename(v, (k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
const camel = (v: unknown) => rename(v, (k) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));

/** Every leaf of `want` is in `got` (decoding adds defaults). */
function assertSubset(got: unknown, want: unknown, at = '$'): void {
  if (Array.isArray(want)) {
    assert.ok(Array.isArray(got), `${at} is not an array`);
    assert.equal((got as unknown[]).length, want.length, `${at} length`);
    want.forEach((w, i) => assertSubset((got as unknown[])[i], w, `${at}[${i}]`));
  } else if (want && typeof want === 'object') {
    for (const [k, w] of Object.entries(want)) assertSubset((got as KObject)?.[k], w, `${at}.${k}`);
  } else {
    assert.equal(got, want, at);
  }
}

describe('cri-api.proto', () => {
  it('round-trips a ContainerConfig with mounts, devices and the whole Linux config through protobuf encoding', () => {
    const pod = podWith([], { securityContext: { runAsUser: 1000, fsGroup: 2000 } });
    const c = {
      name: 'c',
      resources: { requests: { cpu: '250m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi', 'hugepages-2Mi': '4Mi' } },
      securityContext: { capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] }, allowPrivilegeEscalation: false, runAsGroup: 3, seLinuxOptions: { level: 's0:c1' }, appArmorProfile: { type: 'Localhost', localhostProfile: 'k8s-x' } },
    };
    const linux = linuxContainerConfig(pod, c, { memoryCapacity: 8 * GiB });
    linux.securityContext!.capabilities!.addAmbientCapabilities = ['NET_BIND_SERVICE'];
    const config: ContainerConfig = {
      metadata: { name: 'c', attempt: 1 },
      image: { image: 'busybox' },
      envs: [{ key: 'A', value: 'b' }],
      mounts: [
        { containerPath: '/data', hostPath: '/var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/d', readonly: true, selinuxRelabel: true, propagation: 'PROPAGATION_HOST_TO_CONTAINER', recursiveReadOnly: true },
        { containerPath: '/etc/hosts', hostPath: '/var/lib/kubelet/pods/u1/etc-hosts', propagation: 'PROPAGATION_BIDIRECTIONAL' },
      ],
      devices: [{ containerPath: '/dev/fuse', hostPath: '/dev/fuse', permissions: 'rwm' }],
      labels: { 'io.kubernetes.pod.name': 'p' },
      annotations: { someKey: 'v' },
      linux,
    };
    assert.equal(linux.resources?.hugepageLimits?.[0].pageSize, '2MB');
    const def = protoLoader.loadSync(criProtoPath(), { keepCase: true, longs: Number, enums: String, defaults: true });
    const method = (def['runtime.v1.RuntimeService'] as KObject).CreateContainer;
    const wire: Buffer = method.requestSerialize({ pod_sandbox_id: 'sb', config: snake(config) });
    const back = method.requestDeserialize(wire);
    assert.equal(back.pod_sandbox_id, 'sb');
    assertSubset(camel(back.config), config);
    // Spot-check the snake_case names on the wire object itself.
    assert.deepEqual(back.config.linux.security_context.run_as_user, { value: 1000 });
    assert.equal(back.config.linux.security_context.no_new_privs, true);
    assert.equal(back.config.linux.security_context.apparmor.profile_type, 'Localhost');
    assert.equal(back.config.linux.resources.cpu_quota, 100000);
    assert.equal(back.config.mounts[0].recursive_read_only, true);
  });
});
