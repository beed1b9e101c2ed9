import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { KObject } from '../../client/rest-client.js';
import { checkHostPath, MountError, VolumeManager, type VolumeManagerOptions } from './volume-manager.js';

const root = mkdtempSync(path.join(tmpdir(), 'k8ts-vm-'));
after(() => rmSync(root, { recursive: true, force: true }));
const b64 = (s: string) => Buffer.from(s).toString('base64');
let seq = 0;

interface Store {
  cms: Record<string, KObject>;
  secrets: Record<string, KObject>;
  tokens: KObject[];
}

function manager(over: Partial<VolumeManagerOptions> = {}, withTokens = true): { vm: VolumeManager; store: Store; rootDir: string; clock: { now: number } } {
  const store: Store = {
    cms: { 'ns/cfg': { data: { 'app.conf': 'v1', other: 'o' }, binaryData: { 'bin.dat': b64('\x00\x01') } }, 'ns/kube-root-ca.crt': { data: { 'ca.crt': 'CERT' } } },
    secrets: { 'ns/sec': { data: { password: b64('hunter2'), user: b64('admin') } } },
    tokens: [],
  };
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const rootDir = path.join(root, `k${seq++}`);
  const resources = {
    getConfigMap: async (ns: string, name: string) => store.cms[`${ns}/${name}`],
    getSecret: async (ns: string, name: string) => store.secrets[`${ns}/${name}`],
    ...(withTokens
      ? {
          requestToken: async (ns: string, sa: string, req: KObject) => {
            store.tokens.push({ ns, sa, ...req });
            return { token: `tok-${store.tokens.length}`, expirationTimestamp: new Date(clock.now + req.expirationSeconds * 1000).toISOString() };
          },
        }
      : {}),
  };
  const vm = new VolumeManager({ rootDir, resources, nodeName: 'node-a', now: () => clock.now, allocatable: { cpu: '4', memory: '8Gi' }, ...over });
  return { vm, store, rootDir, clock };
}

function pod(volumes: KObject[], containers: KObject[] = [{ name: 'c' }], extra: KObject = {}): KObject {
  return { metadata: { name: 'web', namespace: 'ns', uid: `uid-${seq++}`, labels: { app: 'web' }, annotations: { a: '1' } }, spec: { volumes, containers, serviceAccountName: 'sa', ...extra } };
}

const vdir = (rootDir: string, p: KObject, plugin: string, name: string) => path.join(rootDir, 'pods', p.metadata.uid, 'volumes', `kubernetes.io~${plugin}`, name);
const mode = (p: string) => statSync(p).mode & 0o7777;

describe('VolumeManager.setUpPod', () => {
  it('creates an emptyDir as a world-writable directory', async () => {
    const { vm, rootDir } = manager();
    const p = pod([{ name: 'scratch', emptyDir: {} }]);
    await vm.setUpPod(p);
    const d = vdir(rootDir, p, 'empty-dir', 'scratch');
    assert.ok(statSync(d).isDirectory());
    assert.equal(mode(d), 0o777);
  });

  it('writes a configMap volume with all keys (binaryData too) and the default mode', async () => {
    const { vm, rootDir } = manager();
    const p = pod([{ name: 'cfg', configMap: { name: 'cfg' } }]);
    await vm.setUpPod(p);
    const d = vdir(rootDir, p, 'configmap', 'cfg');
    assert.equal(readFileSync(path.join(d, 'app.conf'), 'utf8'), 'v1');
    assert.deepEqual([...readFileSync(path.join(d, 'bin.dat'))], [0, 1]);
    assert.equal(readlinkSync(path.join(d, 'app.conf')), '..data/app.conf');
    assert.equal(mode(path.join(d, 'app.conf')), 0o644);
  });

  it('writes selected items with per-item and default modes', async () => {
    const { vm, rootDir } = manager();
    const p = pod([
      { name: 'cfg', configMap: { name: 'cfg', defaultMode: 0o440, items: [{ key: 'app.conf', path: 'conf/app.conf' }, { key: 'other', path: 'o', mode: 0o600 }] } },
      { name: 'sec', secret: { secretName: 'sec', items: [{ key: 'password', path: 'pw', mode: 0o400 }] } },
    ]);
    await vm.setUpPod(p);
    const c = vdir(rootDir, p, 'configmap', 'cfg');
    assert.equal(readFileSync(path.join(c, 'conf/app.conf'), 'utf8'), 'v1');
    assert.equal(mode(path.join(c, 'conf/app.conf')), 0o440);
    assert.equal(mode(path.join(c, 'o')), 0o600);
    assert.equal(existsSync(path.join(c, 'bin.dat')), false);
    const s = vdir(rootDir, p, 'secret', 'sec');
    assert.equal(readFileSync(path.join(s, 'pw'), 'utf8'), 'hunter2');
    assert.equal(mode(path.join(s, 'pw')), 0o400);
  });

  it('adds group read and the fsGroup owner to API-backed volume files', async () => {
    const { vm, rootDir } = manager();
    const p = pod([{ name: 'sec', secret: { secretName: 'sec', defaultMode: 0o400 } }], undefined, { securityContext: { fsGroup: 1234 } });
    await vm.setUpPod(p);
    const f = path.join(vdir(rootDir, p, 'secret', 'sec'), 'password');
    assert.equal(mode(f), 0o440);
    assert.equal(statSync(f).gid, 1234);
  });

  it('leaves an optional missing configMap or secret as an empty volume', async () => {
    const { vm, rootDir } = manager();
    const p = pod([
      { name: 'a', configMap: { name: 'nope', optional: true } },
      { name: 'b', secret: { secretName: 'nope', optional: true } },
    ]);
    await vm.setUpPod(p);
    assert.ok(lstatSync(path.join(vdir(rootDir, p, 'configmap', 'a'), '..data')).isSymbolicLink());
    assert.ok(existsSync(vdir(rootDir, p, 'secret', 'b')));
  });

  const failures: [string, KObject, string][] = [
    ['a missing configMap', { name: 'cfg', configMap: { name: 'x' } }, 'MountVolume.SetUp failed for volume "cfg" : configmap "x" not found'],
    ['a missing secret', { name: 's', secret: { secretName: 'nope' } }, 'MountVolume.SetUp failed for volume "s" : secret "nope" not found'],
    ['a missing configMap key', { name: 'cfg', configMap: { name: 'cfg', items: [{ key: 'k', path: 'k' }] } }, 'MountVolume.SetUp failed for volume "cfg" : configmap references non-existent config key: k'],
    ['a missing secret key', { name: 's', secret: { secretName: 'sec', items: [{ key: 'k', path: 'k' }] } }, 'MountVolume.SetUp failed for volume "s" : references non-existent secret key: k'],
    [
      'several missing projected sources',
      { name: 'p', projected: { sources: [{ configMap: { name: 'x' } }, { secret: { name: 'y' } }] } },
      'MountVolume.SetUp failed for volume "p" : [configmap "x" not found, secret "y" not found]',
    ],
    ['an unsupported volume type', { name: 'nfs', nfs: { server: 'x', path: '/' } }, 'MountVolume.SetUp failed for volume "nfs" : unsupported volume type'],
  ];
  for (const [what, vol, msg] of failures) {
    it(`fails with upstream's FailedMount message for ${what}`, async () => {
      const { vm } = manager();
      await assert.rejects(vm.setUpPod(pod([vol])), (e: unknown) => e instanceof MountError && e.message === msg);
    });
  }

  it('still sets up the other volumes when one fails', async () => {
    const { vm, rootDir } = manager();
    const p = pod([{ name: 'bad', configMap: { name: 'x' } }, { name: 'good', emptyDir: {} }]);
    await assert.rejects(vm.setUpPod(p));
    assert.ok(existsSync(vdir(rootDir, p, 'empty-dir', 'good')));
  });

  it('writes downwardAPI items from metadata and container resources', async () => {
    const { vm, rootDir } = manager();
    const p = pod(
      [
        {
          name: 'info',
          downwardAPI: {
            items: [
              { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
              { path: 'name', fieldRef: { fieldPath: 'metadata.name' }, mode: 0o600 },
              { path: 'cpu_limit', resourceFieldRef: { containerName: 'c', resource: 'limits.cpu', divisor: '1m' } },
              { path: 'mem_req', resourceFieldRef: { containerName: 'c', resource: 'requests.memory', divisor: '1Mi' } },
            ],
          },
        },
      ],
      [{ name: 'c', resources: { requests: { memory: '32Mi' } } }],
    );
    await vm.setUpPod(p);
    const d = vdir(rootDir, p, 'downward-api', 'info');
    assert.equal(readFileSync(path.join(d, 'labels'), 'utf8'), 'app="web"');
    assert.equal(readFileSync(path.join(d, 'name'), 'utf8'), 'web');
    assert.equal(mode(path.join(d, 'name')), 0o600);
    assert.equal(readFileSync(path.join(d, 'cpu_limit'), 'utf8'), '4000');
    assert.equal(readFileSync(path.join(d, 'mem_req'), 'utf8'), '32');
  });

  it('projects a service account token, the root CA and the namespace like the kube-api-access volume', async () => {
    const { vm, rootDir, store } = manager();
    const p = pod([
      {
        name: 'kube-api-access',
        projected: {
          defaultMode: 0o644,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token', audience: 'api' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
    ]);
    await vm.setUpPod(p);
    const d = vdir(rootDir, p, 'projected', 'kube-api-access');
    assert.equal(readFileSync(path.join(d, 'token'), 'utf8'), 'tok-1');
    assert.equal(readFileSync(path.join(d, 'ca.crt'), 'utf8'), 'CERT');
    assert.equal(readFileSync(path.join(d, 'namespace'), 'utf8'), 'ns');
    assert.deepEqual(store.tokens, [{ ns: 'ns', sa: 'sa', audiences: ['api'], expirationSeconds: 3607, boundPod: { name: 'web', uid: p.metadata.uid } }]);
  });

  it('skips the token source silently without requestToken', async () => {
    const { vm, rootDir } = manager({}, false);
    const p = pod([{ name: 'kaa', projected: { sources: [{ serviceAccountToken: { path: 'token' } }, { configMap: { name: 'kube-root-ca.crt' } }] } }]);
    await vm.setUpPod(p);
    const d = vdir(rootDir, p, 'projected', 'kaa');
    assert.equal(existsSync(path.join(d, 'token')), false);
    assert.equal(readFileSync(path.join(d, 'ca.crt'), 'utf8'), 'CERT');
  });
});

describe('VolumeManager.refresh', () => {
  it('serializes overlapping setUpPod and refresh calls on the same volume', async () => {
    const { vm, store, rootDir } = manager();
    const p = pod([{ name: 'cfg', configMap: { name: 'cfg' } }]);
    const runs: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) {
      store.cms['ns/cfg'] = { data: { v: String(i) } };
      runs.push(i % 2 ? vm.refresh(p) : vm.setUpPod(p));
    }
    await Promise.all(runs);
    const d = vdir(rootDir, p, 'configmap', 'cfg');
    assert.equal(readFileSync(path.join(d, 'v'), 'utf8'), '9');
    // Exactly one version directory is left.
    assert.deepEqual(readdirSync(d).filter((n) => n.startsWith('..') && n !== '..data').length, 1);
  });

  it('swaps changed configMap data into place atomically, visible through the same mount path', async () => {
    const { vm, store, rootDir } = manager();
    const p = pod([{ name: 'cfg', configMap: { name: 'cfg' } }]);
    await vm.setUpPod(p);
    const d = vdir(rootDir, p, 'configmap', 'cfg');
    const before = readlinkSync(path.join(d, '..data'));
    await vm.refresh(p);
    assert.equal(readlinkSync(path.join(d, '..data')), before, 'unchanged data is not rewritten');
    store.cms['ns/cfg'] = { data: { 'app.conf': 'v2', added: 'n' } };
    await vm.refresh(p);
    assert.notEqual(readlinkSync(path.join(d, '..data')), before);
    assert.equal(readFileSync(path.join(d, 'app.conf'), 'utf8'), 'v2');
    assert.equal(readFileSync(path.join(d, 'added'), 'utf8'), 'n');
    assert.equal(existsSync(path.join(d, 'other')), false);
    assert.equal(existsSync(path.join(d, before)), false);
  });

  it('renews a token only after 80% of its lifetime', async () => {
    const { vm, store, rootDir, clock } = manager();
    const p = pod([{ name: 't', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 1000 } }] } }]);
    await vm.setUpPod(p);
    clock.now += 700_000;
    await vm.refresh(p);
    assert.equal(store.tokens.length, 1);
    clock.now += 200_000;
    await vm.refresh(p);
    assert.equal(store.tokens.length, 2);
    assert.equal(readFileSync(path.join(vdir(rootDir, p, 'projected', 't'), 'token'), 'utf8'), 'tok-2');
  });
});

describe('checkHostPath', () => {
  const base = path.join(root, 'hostpath');
  mkdirSync(base, { recursive: true });
  writeFileSync(path.join(base, 'file'), 'x');
  mkdirSync(path.join(base, 'dir'), { recursive: true });
  const sock = path.join(base, 'sock');
  const server = createServer();
  after(() => server.close());

  const cases: [string, string, string | undefined][] = [
    ['dir', 'Directory', undefined],
    ['file', 'Directory', `hostPath type check failed: ${path.join(base, 'file')} is not a directory`],
    ['missing', 'Directory', `hostPath type check failed: ${path.join(base, 'missing')} does not exist`],
    ['file', 'File', undefined],
    ['dir', 'File', `hostPath type check failed: ${path.join(base, 'dir')} is not a file`],
    ['dir', 'Socket', `hostPath type check failed: ${path.join(base, 'dir')} is not a socket file`],
    ['missing', '', undefined],
    ['file', 'Bogus', 'Bogus is an invalid volume type'],
  ];
  for (const [name, type, msg] of cases) {
    it(`checks ${name} against type ${JSON.stringify(type)}${msg ? ' and fails' : ''}`, async () => {
      const p = path.join(base, name);
      if (msg) await assert.rejects(checkHostPath(p, type), { message: msg });
      else await checkHostPath(p, type);
    });
  }

  it('accepts a socket for type Socket', async () => {
    await new Promise<void>((r) => server.listen(sock, r));
    await checkHostPath(sock, 'Socket');
  });

  it('creates what is missing for DirectoryOrCreate and FileOrCreate', async () => {
    await checkHostPath(path.join(base, 'new/deep'), 'DirectoryOrCreate');
    assert.ok(statSync(path.join(base, 'new/deep')).isDirectory());
    await checkHostPath(path.join(base, 'newfile'), 'FileOrCreate');
    assert.ok(statSync(path.join(base, 'newfile')).isFile());
    await assert.rejects(checkHostPath(path.join(base, 'file'), 'DirectoryOrCreate'), /is not a directory/);
  });

  it('reports a failed hostPath check as a FailedMount', async () => {
    const { vm } = manager();
    await assert.rejects(vm.setUpPod(pod([{ name: 'h', hostPath: { path: path.join(base, 'file'), type: 'Directory' } }])), {
      message: `MountVolume.SetUp failed for volume "h" : hostPath type check failed: ${path.join(base, 'file')} is not a directory`,
    });
  });
});

describe('VolumeManager.mountsFor', () => {
  it('maps volumeMounts to CRI mounts, read-only for API volumes, with propagation, then /etc/hosts', async () => {
    const { vm, rootDir } = manager();
    const c = {
      name: 'c',
      volumeMounts: [
        { name: 'scratch', mountPath: '/tmp/s' },
        { name: 'cfg', mountPath: '/etc/cfg' },
        { name: 'host', mountPath: '/host', readOnly: true, mountPropagation: 'HostToContainer' },
      ],
    };
    const p = pod([{ name: 'scratch', emptyDir: {} }, { name: 'cfg', configMap: { name: 'cfg' } }, { name: 'host', hostPath: { path: '/var/log' } }], [c]);
    await vm.setUpPod(p);
    const hosts = vm.writeEtcHosts(p, ['10.244.0.5']);
    assert.deepEqual(await vm.mountsFor(p, c), [
      { containerPath: '/tmp/s', hostPath: vdir(rootDir, p, 'empty-dir', 'scratch'), readonly: false, selinuxRelabel: false, propagation: 'PROPAGATION_PRIVATE' },
      { containerPath: '/etc/cfg', hostPath: vdir(rootDir, p, 'configmap', 'cfg'), readonly: true, selinuxRelabel: false, propagation: 'PROPAGATION_PRIVATE' },
      { containerPath: '/host', hostPath: '/var/log', readonly: true, selinuxRelabel: false, propagation: 'PROPAGATION_HOST_TO_CONTAINER' },
      { containerPath: '/etc/hosts', hostPath: hosts, readonly: false, selinuxRelabel: false, propagation: 'PROPAGATION_PRIVATE' },
    ]);
  });

  it('resolves subPath and subPathExpr inside the volume, creating missing directories', async () => {
    const { vm, rootDir } = manager();
    const c = {
      name: 'c',
      volumeMounts: [
        { name: 'scratch', mountPath: '/a', subPath: 'logs/app' },
        { name: 'scratch', mountPath: '/b', subPathExpr: '$(POD_NAME)' },
        { name: 'cfg', mountPath: '/etc/app.conf', subPath: 'app.conf' },
      ],
    };
    const p = pod([{ name: 'scratch', emptyDir: {} }, { name: 'cfg', configMap: { name: 'cfg' } }], [c]);
    await vm.setUpPod(p);
    const m = await vm.mountsFor(p, c, [{ key: 'POD_NAME', value: 'web' }]);
    const scratch = vdir(rootDir, p, 'empty-dir', 'scratch');
    assert.equal(m[0].hostPath, path.join(scratch, 'logs/app'));
    assert.ok(statSync(m[0].hostPath).isDirectory());
    assert.equal(m[1].hostPath, path.join(scratch, 'web'));
    // A configMap key resolves to the file in the current version directory.
    const cfg = vdir(rootDir, p, 'configmap', 'cfg');
    assert.equal(m[2].hostPath, path.join(cfg, readlinkSync(path.join(cfg, '..data')), 'app.conf'));
    assert.equal(m[2].readonly, true);
  });

  it('refuses a subPath that escapes the volume through a symlink, without saying where it leads', async () => {
    const { vm, rootDir } = manager();
    const p = pod([{ name: 'scratch', emptyDir: {} }]);
    await vm.setUpPod(p);
    symlinkSync('/etc', path.join(vdir(rootDir, p, 'empty-dir', 'scratch'), 'evil'));
    for (const sub of ['evil', 'evil/new']) {
      await assert.rejects(vm.mountsFor(p, { name: 'c', volumeMounts: [{ name: 'scratch', mountPath: '/x', subPath: sub }] }), { message: 'failed to prepare subPath for volumeMount "scratch" of container "c"' });
    }
    assert.equal(existsSync('/etc/new'), false);
  });

  const rejected: [string, KObject, string][] = [
    ['an absolute subPath', { subPath: '/etc' }, 'error SubPath `/etc` must not be an absolute path'],
    ['a subPath with ..', { subPath: 'a/../../x' }, "unable to provision SubPath `a/../../x`: must not contain '..'"],
    ['a subPathExpr expanding to an absolute path', { subPathExpr: '$(ROOT)x' }, 'error SubPath `/x` must not be an absolute path'],
    ['a subPathExpr expanding to ..', { subPathExpr: '$(UP)/x' }, "unable to provision SubPath `../x`: must not contain '..'"],
    ['a subPathExpr naming unset or empty variables', { subPathExpr: '$(NOPE)/$(EMPTY)/$(POD)' }, 'missing value for EMPTY, NOPE'],
    ['a subPath under a file', { subPath: 'file/below' }, 'failed to create subPath directory for volumeMount "scratch" of container "c"'],
  ];
  for (const [what, fields, message] of rejected) {
    it(`refuses ${what} with upstream's message`, async () => {
      const { vm, rootDir } = manager();
      const p = pod([{ name: 'scratch', emptyDir: {} }]);
      await vm.setUpPod(p);
      writeFileSync(path.join(vdir(rootDir, p, 'empty-dir', 'scratch'), 'file'), 'x');
      const env = [
        { key: 'ROOT', value: '/' },
        { key: 'UP', value: '..' },
        { key: 'EMPTY', value: '' },
        { key: 'POD', value: 'web' },
      ];
      await assert.rejects(vm.mountsFor(p, { name: 'c', volumeMounts: [{ name: 'scratch', mountPath: '/x', ...fields }] }, env), { message });
    });
  }

  it('expands only $(VAR) in subPathExpr, keeps $$ as a literal $, and gives new subpaths the volume mode', async () => {
    const { vm, rootDir } = manager();
    const p = pod([{ name: 'scratch', emptyDir: {} }]);
    await vm.setUpPod(p);
    const m = await vm.mountsFor(p, { name: 'c', volumeMounts: [{ name: 'scratch', mountPath: '/x', subPathExpr: 'logs/$(POD)/$$HOME-${POD}' }] }, [{ key: 'POD', value: 'web-1' }]);
    const scratch = vdir(rootDir, p, 'empty-dir', 'scratch');
    assert.equal(m[0].hostPath, path.join(scratch, 'logs/web-1/$HOME-${POD}'));
    assert.equal(mode(path.join(scratch, 'logs')), 0o777);
    assert.equal(mode(m[0].hostPath), 0o777);
  });

  it('binds a subPath through a descriptor under volume-subpaths, re-binds it for a restarted container, and unmounts it on teardown', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const { vm, rootDir } = manager({ bindSubPaths: true });
    const c = { name: 'c', volumeMounts: [{ name: 'scratch', mountPath: '/a', subPath: 'logs' }, { name: 'cfg', mountPath: '/etc/app.conf', subPath: 'app.conf' }] };
    const p = pod([{ name: 'scratch', emptyDir: {} }, { name: 'cfg', configMap: { name: 'cfg' } }], [c]);
    await vm.setUpPod(p);
    const podDir = path.join(rootDir, 'pods', p.metadata.uid);
    const mountedHere = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m?.startsWith(podDir + '/')).sort();
    for (let attempt = 0; attempt < 2; attempt++) {
      const m = await vm.mountsFor(p, c);
      assert.deepEqual(m.map((x) => x.hostPath), [path.join(podDir, 'volume-subpaths/scratch/c/0'), path.join(podDir, 'volume-subpaths/cfg/c/1')]);
      assert.deepEqual(mountedHere(), m.map((x) => x.hostPath).sort(), 'one bind per subPath, also after a restart');
      assert.equal(readFileSync(m[1].hostPath, 'utf8'), 'v1');
      writeFileSync(path.join(m[0].hostPath, 'f'), 'x');
      assert.equal(readFileSync(path.join(vdir(rootDir, p, 'empty-dir', 'scratch'), 'logs', 'f'), 'utf8'), 'x');
    }
    await vm.tearDownPod(p.metadata.uid);
    assert.deepEqual(mountedHere(), []);
    assert.equal(existsSync(podDir), false);
  });

  it('fails for a mount of an unknown volume', async () => {
    const { vm } = manager();
    await assert.rejects(vm.mountsFor(pod([]), { name: 'c', volumeMounts: [{ name: 'nope', mountPath: '/x' }] }), { message: 'cannot find volume "nope" to mount into container "c"' });
  });
});

describe('persistentVolumeClaim volumes', () => {
  const hostDir = path.join(root, 'pv-host');
  mkdirSync(hostDir, { recursive: true });
  const claim = (over: KObject = {}) => ({ metadata: { name: 'data', namespace: 'ns', uid: 'claim-uid' }, spec: { volumeName: 'pv1' }, status: { phase: 'Bound' }, ...over });
  const pv = (spec: KObject) => ({ metadata: { name: 'pv1' }, spec: { claimRef: { namespace: 'ns', name: 'data', uid: 'claim-uid' }, ...spec } });
  function claimManager(pvc: KObject | undefined, vol: KObject | undefined) {
    const { vm } = manager();
    const r = (vm as unknown as { o: VolumeManagerOptions }).o.resources;
    r.getPersistentVolumeClaim = async (ns, name) => (ns === 'ns' && name === 'data' ? pvc : undefined);
    r.getPersistentVolume = async (name) => (name === 'pv1' ? vol : undefined);
    return vm;
  }
  const c = { name: 'c', volumeMounts: [{ name: 'vol', mountPath: '/data' }] };

  it('mounts the hostPath or local path of the bound PersistentVolume, read-only when the claim says so', async () => {
    for (const [source, readOnly] of [[{ hostPath: { path: hostDir, type: 'Directory' } }, false], [{ local: { path: hostDir } }, true]] as const) {
      const vm = claimManager(claim(), pv(source));
      const p = pod([{ name: 'vol', persistentVolumeClaim: { claimName: 'data', readOnly } }], [c]);
      await vm.setUpPod(p);
      const [m] = await vm.mountsFor(p, c);
      assert.equal(m.hostPath, hostDir);
      assert.equal(m.readonly, readOnly);
      await vm.tearDownPod(p.metadata.uid);
      await assert.rejects(vm.mountsFor(p, c), /is not mounted yet/);
    }
  });

  const failing: [string, KObject | undefined, KObject | undefined, string][] = [
    ['a missing claim', undefined, undefined, 'failed to fetch PVC from API server: persistentvolumeclaims "data" not found'],
    ['a pending claim', claim({ spec: {}, status: { phase: 'Pending' } }), undefined, 'PVC is not bound'],
    ['a claim being deleted', claim({ metadata: { name: 'data', namespace: 'ns', uid: 'claim-uid', deletionTimestamp: '2026-01-01T00:00:00Z' } }), undefined, 'PVC is being deleted'],
    ['a missing volume', claim(), undefined, 'failed to fetch PV pv1 from API server: persistentvolumes "pv1" not found'],
    ['a volume not bound back', claim(), { metadata: { name: 'pv1' }, spec: { hostPath: { path: hostDir } } }, 'found PV object pv1 but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim'],
    ['a volume bound to another claim', claim(), pv({ claimRef: { uid: 'other' }, hostPath: { path: hostDir } }), 'found PV object pv1 but its pv.Spec.ClaimRef.UID (other) does not point to claim.UID (claim-uid)'],
  ];
  for (const [what, pvc, vol, cause] of failing) {
    it(`waits on ${what} with upstream's FailedMount message`, async () => {
      const vm = claimManager(pvc, vol);
      const p = pod([{ name: 'vol', persistentVolumeClaim: { claimName: 'data' } }], [c]);
      await assert.rejects(vm.setUpPod(p), {
        name: 'MountError',
        message: `Unable to attach or mount volumes: unmounted volumes=[vol], unattached volumes=[], failed to process volumes=[vol]: error processing PVC ns/data: ${cause}`,
      });
    });
  }

  it('names the PersistentVolume when its path cannot be used', async () => {
    const vm = claimManager(claim(), pv({ hostPath: { path: path.join(root, 'absent'), type: 'Directory' } }));
    const p = pod([{ name: 'vol', persistentVolumeClaim: { claimName: 'data' } }], [c]);
    await assert.rejects(vm.setUpPod(p), { message: `MountVolume.SetUp failed for volume "pv1" : hostPath type check failed: ${path.join(root, 'absent')} does not exist` });
    const nfs = claimManager(claim(), pv({ nfs: { server: 'x', path: '/' } }));
    await assert.rejects(nfs.setUpPod(p), { message: 'MountVolume.SetUp failed for volume "pv1" : unsupported volume type: this node mounts only hostPath and local persistent volumes' });
  });
});

describe('VolumeManager.writeEtcHosts', () => {
  it('writes the managed hosts file with hostname, FQDN and hostAliases', () => {
    const { vm } = manager();
    const p = pod([], undefined, { hostname: 'h1', subdomain: 'sub', hostAliases: [{ ip: '1.2.3.4', hostnames: ['foo', 'bar'] }] });
    const f = vm.writeEtcHosts(p, ['10.244.0.5', 'fd00::5']);
    assert.equal(path.basename(f), 'etc-hosts');
    assert.equal(
      readFileSync(f, 'utf8'),
      '# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n' +
        '10.244.0.5\th1.sub.ns.svc.cluster.local\th1\nfd00::5\th1.sub.ns.svc.cluster.local\th1\n\n# Entries added by HostAliases.\n1.2.3.4\tfoo\tbar\n',
    );
  });

  it('copies the node hosts file for a host-network pod', () => {
    const nodeHosts = path.join(root, 'node-hosts');
    writeFileSync(nodeHosts, '127.0.0.1 localhost\n');
    const { vm } = manager({ nodeHostsFile: nodeHosts });
    const f = vm.writeEtcHosts(pod([], undefined, { hostNetwork: true }), ['10.0.0.1']);
    assert.equal(readFileSync(f, 'utf8'), '# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n');
  });

  it('uses the pod name cut to 63 characters as hostname', () => {
    const { vm } = manager();
    const p = pod([]);
    p.metadata.name = 'a'.repeat(62) + '-bcd';
    assert.match(readFileSync(vm.writeEtcHosts(p, ['10.0.0.9']), 'utf8'), new RegExp(`\n10\\.0\\.0\\.9\\t${'a'.repeat(62)}\n$`));
  });
});

describe('VolumeManager.tearDownPod', () => {
  it('removes the pod directory without following symlinks out of it', async () => {
    const { vm, rootDir } = manager();
    const outside = path.join(root, 'precious');
    mkdirSync(outside, { recursive: true });
    writeFileSync(path.join(outside, 'keep'), 'x');
    const p = pod([{ name: 'scratch', emptyDir: {} }, { name: 'cfg', configMap: { name: 'cfg' } }]);
    await vm.setUpPod(p);
    symlinkSync(outside, path.join(vdir(rootDir, p, 'empty-dir', 'scratch'), 'link'));
    await vm.tearDownPod(p.metadata.uid);
    assert.equal(existsSync(path.join(rootDir, 'pods', p.metadata.uid)), false);
    assert.equal(readFileSync(path.join(outside, 'keep'), 'utf8'), 'x');
    await vm.tearDownPod(p.metadata.uid);
  });

  it('rejects a pod UID that is not a single path segment', async () => {
    const { vm } = manager();
    await assert.rejects(vm.tearDownPod('../x'), /invalid pod UID/);
  });

  it('keeps secret, projected and downward API volumes on tmpfs when asked, and unmounts them on teardown', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const { vm, rootDir } = manager({ tmpfsForSecrets: true });
    const p = pod([
      { name: 's', secret: { secretName: 'sec' } },
      { name: 'tok', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
      { name: 'dn', downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } },
      { name: 'cfg', configMap: { name: 'cfg' } },
      { name: 'scratch', emptyDir: {} },
    ]);
    await vm.setUpPod(p);
    await vm.refresh(p);
    const fsTypeOf = (d: string) => {
      const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === d);
      assert.ok(lines.length <= 1, `mounted once: ${lines.join('\n')}`);
      return lines[0]?.split(' - ')[1].split(' ')[0];
    };
    assert.equal(fsTypeOf(vdir(rootDir, p, 'secret', 's')), 'tmpfs');
    assert.equal(fsTypeOf(vdir(rootDir, p, 'projected', 'tok')), 'tmpfs');
    assert.equal(fsTypeOf(vdir(rootDir, p, 'downward-api', 'dn')), 'tmpfs');
    assert.equal(fsTypeOf(vdir(rootDir, p, 'configmap', 'cfg')), undefined, 'configMap volumes stay on disk, as upstream');
    assert.equal(fsTypeOf(vdir(rootDir, p, 'empty-dir', 'scratch')), undefined);
    assert.equal(readFileSync(path.join(vdir(rootDir, p, 'secret', 's'), 'user'), 'utf8'), 'admin');
    assert.equal(readFileSync(path.join(vdir(rootDir, p, 'downward-api', 'dn'), 'name'), 'utf8'), 'web');
    await vm.tearDownPod(p.metadata.uid);
    assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(path.join(rootDir, 'pods', p.metadata.uid)), false);
    assert.equal(existsSync(path.join(rootDir, 'pods', p.metadata.uid)), false);
  });

  it('mounts a memory emptyDir as tmpfs with its size limit and unmounts it on teardown', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const { vm, rootDir } = manager();
    const p = pod([{ name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '8Mi' } }]);
    await vm.setUpPod(p);
    await vm.setUpPod(p); // idempotent: no second mount
    const d = vdir(rootDir, p, 'empty-dir', 'mem');
    const info = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === d);
    assert.equal(info.length, 1, info.join('\n'));
    assert.match(info[0], / - tmpfs tmpfs .*size=8192k/);
    assert.equal(mode(d), 0o777);
    await vm.tearDownPod(p.metadata.uid);
    assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(d), false);
    assert.equal(existsSync(d), false);
  });

  it('sizes a memory emptyDir and the secret tmpfs by the pod memory limit, as upstream', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const { vm, rootDir } = manager({ tmpfsForSecrets: true, allocatable: { memory: '1Gi' } });
    const p = pod(
      [
        { name: 'mem', emptyDir: { medium: 'Memory' } },
        { name: 'big', emptyDir: { medium: 'Memory', sizeLimit: '2Gi' } },
        { name: 's', secret: { secretName: 'sec' } },
      ],
      [{ name: 'c', resources: { limits: { memory: '48Mi' } } }],
    );
    await vm.setUpPod(p);
    const sizeOf = (d: string) => /size=(\d+k)/.exec(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === d) ?? '')?.[1];
    assert.equal(sizeOf(vdir(rootDir, p, 'empty-dir', 'mem')), `${48 * 1024}k`);
    assert.equal(sizeOf(vdir(rootDir, p, 'empty-dir', 'big')), `${48 * 1024}k`, 'a sizeLimit above the pod limit is ignored');
    assert.equal(sizeOf(vdir(rootDir, p, 'secret', 's')), `${48 * 1024}k`);
    await vm.tearDownPod(p.metadata.uid);
  });
});
