/**
 * A real node's volumes and image pulls, driven with the real kubectl: volumeMounts with subPath
 * and subPathExpr, secret / projected / downward API volumes on tmpfs (and unmounted when the pod
 * goes), and a private plain-HTTP registry behind Basic auth configured with registries.yaml and
 * reached with an imagePullSecret.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCluster, eventually, type TestCluster } from '../helpers.js';
import { announceSkip, missingNodeCapability } from '../capabilities.js';
import { ensureTestImage } from '../images.js';
import { importBusyboxImage } from '../../src/kubelet/containerd/images.js';
import { startTestRegistry, type TestRegistry } from './oci-registry.js';

const BUSYBOX = 'k8ts.local/busybox:1';

const why = announceSkip('the real node volume and registry tests', missingNodeCapability([{ name: 'nft', pkg: 'nftables' }]));

// Ranges of this file alone (agent.test.ts uses block 1), so the two may run side by side.
const n = 3;
const bridge = `k8tsv${process.pid % 100000}`;

/** Mount points and their filesystem types, from a /proc/PID/mountinfo text. */
function mountTypes(mountinfo: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (f[4] && sep > 0) out.set(f[4].replace(/\\040/g, ' '), f[sep + 1]);
  }
  return out;
}

describe('a real node mounts subpaths and tmpfs volumes and pulls from a private registry', { skip: why }, () => {
  let c: TestCluster;
  let dataDir: string;
  let registry: TestRegistry;
  const pod = (name: string, spec: Record<string, unknown>) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec });
  const status = async (name: string) => JSON.parse(await c.ok(['get', 'pod', name, '-o', 'json'])).status;
  const phase = async (name: string) => (await status(name)).phase;
  const events = (name: string) => c.ok(['get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'jsonpath={range .items[*]}{.type} {.reason}: {.message}{"\\n"}{end}']);
  const kubeletRoot = () => join(dataDir, 'agent', 'kubelet');

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'k8ts-volreg-'));
    registry = await startTestRegistry({ archive: await ensureTestImage('busybox'), repository: 'test/busybox', tags: ['1'], username: 'alice', password: 's3cret-pw' });
    // The agent's default registries.yaml location: a plain-HTTP registry is its own mirror endpoint.
    mkdirSync(join(dataDir, 'agent'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, 'agent', 'registries.yaml'), `mirrors:\n  "${registry.host}":\n    endpoint:\n      - "http://${registry.host}"\n`);
    c = await startTestCluster({
      server: {
        dataDir,
        removeDataDirOnStop: false,
        clusterCIDR: `10.${100 + n}.0.0/16`,
        serviceCIDR: `10.${200 + n}.0.0/16`,
        loadBalancerPool: `127.0.${100 + n}.0/24`,
        agent: { bridge, kubeletPort: 0, backoffInitialMs: 1000, backoffMaxMs: 4000, heartbeatMs: 2000 },
      },
    });
    await importBusyboxImage({ socket: c.server.agent!.containerd!.socket, name: BUSYBOX });
    await eventually(async () => (await c.ok(['get', 'nodes', '-o', 'jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}'])) === 'True', 30_000, 200);
  });

  after(async () => {
    await registry?.close();
    if (!c) return;
    await c.server.agent?.stop({ removePods: true, removeState: true });
    await c.server.stop();
    await c.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('shares an emptyDir between two containers through different subpaths and mounts one ConfigMap key, which keeps its content when the ConfigMap changes', async () => {
    await c.ok(['create', 'configmap', 'app-cfg', '--from-literal=app.conf=version-1', '--from-literal=other=o']);
    await c.ok(['apply', '-f', '-'], {
      input: pod('subpaths', {
        volumes: [
          { name: 'shared', emptyDir: {} },
          { name: 'cfg', configMap: { name: 'app-cfg' } },
        ],
        containers: [
          {
            name: 'writer',
            image: BUSYBOX,
            command: ['sh', '-c', 'echo from-writer > /out/file && echo a-log-line > /logs/app.log && exec sleep 3600'],
            env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            volumeMounts: [
              { name: 'shared', mountPath: '/out', subPath: 'writer/out' },
              { name: 'shared', mountPath: '/logs', subPathExpr: 'logs/$(POD_NAME)' },
              { name: 'cfg', mountPath: '/etc/app.conf', subPath: 'app.conf' },
              { name: 'cfg', mountPath: '/cfg' },
            ],
          },
          {
            name: 'reader',
            image: BUSYBOX,
            command: ['sleep', '3600'],
            volumeMounts: [
              { name: 'shared', mountPath: '/all' },
              { name: 'shared', mountPath: '/in', subPath: 'writer/out', readOnly: true },
            ],
          },
        ],
      }),
    });
    await eventually(async () => (await phase('subpaths')) === 'Running', 60_000, 200);
    const read = (container: string, file: string) => c.ok(['exec', 'subpaths', '-c', container, '--', 'cat', file]);
    assert.equal(await eventually(async () => (await c.kubectl(['exec', 'subpaths', '-c', 'reader', '--', 'cat', '/in/file'])).stdout || undefined, 10_000, 200), 'from-writer\n');
    assert.equal(await read('reader', '/all/writer/out/file'), 'from-writer\n');
    assert.equal(await read('reader', '/all/logs/subpaths/app.log'), 'a-log-line\n');
    // The reader's subPath mount is read-only; the writer only sees its own subdirectory.
    const ro = await c.kubectl(['exec', 'subpaths', '-c', 'reader', '--', 'touch', '/in/nope']);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    assert.equal((await c.ok(['exec', 'subpaths', '-c', 'writer', '--', 'ls', '/out'])).trim(), 'file');
    // A single key mounted as a file.
    assert.equal(await read('writer', '/etc/app.conf'), 'version-1');
    assert.equal((await c.ok(['exec', 'subpaths', '-c', 'writer', '--', 'sh', '-c', '[ -f /etc/app.conf ] && echo file'])).trim(), 'file');

    // The whole-volume mount follows the ConfigMap; the subPath mount keeps what it had, as upstream.
    await c.ok(['patch', 'configmap', 'app-cfg', '--type=merge', '-p', '{"data":{"app.conf":"version-2"}}']);
    await eventually(async () => (await read('writer', '/cfg/app.conf')) === 'version-2', 60_000, 500);
    assert.equal(await read('writer', '/etc/app.conf'), 'version-1');

    // Each subPath is bound under the pod's volume-subpaths directory, and unbound with the pod.
    const uid = (await c.ok(['get', 'pod', 'subpaths', '-o', 'jsonpath={.metadata.uid}'])).trim();
    const podDir = join(kubeletRoot(), 'pods', uid);
    const subpathMounts = () => [...mountTypes(readFileSync('/proc/self/mountinfo', 'utf8')).keys()].filter((p) => p.startsWith(join(podDir, 'volume-subpaths') + '/')).map((p) => p.slice(podDir.length + 1)).sort();
    assert.deepEqual(subpathMounts(), ['volume-subpaths/cfg/writer/2', 'volume-subpaths/shared/reader/1', 'volume-subpaths/shared/writer/0', 'volume-subpaths/shared/writer/1']);
    await c.ok(['delete', 'pod', 'subpaths', '--grace-period=1', '--wait=true'], { timeoutMs: 60_000 });
    await eventually(async () => !existsSync(podDir), 30_000, 200);
    assert.deepEqual(subpathMounts(), []);
  });

  it('holds a container whose subPathExpr leaves its volume in CreateContainerConfigError with the kubelet message', async () => {
    await c.ok(['apply', '-f', '-'], {
      input: pod('badsub', {
        volumes: [{ name: 'shared', emptyDir: {} }],
        containers: [
          {
            name: 'c',
            image: BUSYBOX,
            command: ['sleep', '3600'],
            env: [{ name: 'UP', value: '..' }],
            volumeMounts: [
              { name: 'shared', mountPath: '/a', subPathExpr: '$(UP)/etc' },
              { name: 'shared', mountPath: '/b', subPathExpr: '$(NOT_SET)' },
            ],
          },
        ],
      }),
    });
    const cs = await eventually(async () => {
      const s = (await status('badsub')).containerStatuses?.[0];
      return s?.state?.waiting?.reason === 'CreateContainerConfigError' ? s : undefined;
    }, 30_000, 200);
    assert.equal(cs.state.waiting.message, "unable to provision SubPath `../etc`: must not contain '..'");
    assert.match(await events('badsub'), /Warning Failed: Error: unable to provision SubPath `\.\.\/etc`: must not contain '\.\.'/);
    await c.ok(['delete', 'pod', 'badsub', '--wait=false']);

    // The API refuses what it can see before expansion, with upstream's message.
    const r = await c.kubectl(['apply', '-f', '-'], {
      input: pod('bothsub', { volumes: [{ name: 's', emptyDir: {} }], containers: [{ name: 'c', image: BUSYBOX, volumeMounts: [{ name: 's', mountPath: '/s', subPath: 'a', subPathExpr: 'b' }] }] }),
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /spec\.containers\[0\]\.volumeMounts\[0\]\.subPathExpr: Invalid value: "b": subPathExpr and subPath are mutually exclusive/);
  });

  it('keeps secret, service account token and downward API volumes on tmpfs, and leaves no mount behind when the pod is deleted', async () => {
    await c.ok(['create', 'secret', 'generic', 'tmpfs-secret', '--from-literal=password=hunter2']);
    await c.ok(['create', 'configmap', 'tmpfs-cm', '--from-literal=k=v']);
    await c.ok(['apply', '-f', '-'], {
      input: pod('tmpfs', {
        terminationGracePeriodSeconds: 1,
        volumes: [
          { name: 'sec', secret: { secretName: 'tmpfs-secret' } },
          { name: 'info', downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } },
          { name: 'cm', configMap: { name: 'tmpfs-cm' } },
        ],
        containers: [
          {
            name: 'c',
            image: BUSYBOX,
            command: ['sleep', '3600'],
            volumeMounts: [
              { name: 'sec', mountPath: '/secret' },
              { name: 'info', mountPath: '/podinfo' },
              { name: 'cm', mountPath: '/cm' },
            ],
          },
        ],
      }),
    });
    await eventually(async () => (await phase('tmpfs')) === 'Running', 60_000, 200);
    const uid = (await c.ok(['get', 'pod', 'tmpfs', '-o', 'jsonpath={.metadata.uid}'])).trim();
    const inside = mountTypes(await c.ok(['exec', 'tmpfs', '--', 'cat', '/proc/self/mountinfo']));
    assert.equal(inside.get('/secret'), 'tmpfs');
    assert.equal(inside.get('/podinfo'), 'tmpfs');
    assert.equal(inside.get('/var/run/secrets/kubernetes.io/serviceaccount'), 'tmpfs', 'the kube-api-access projected volume');
    assert.notEqual(inside.get('/cm'), 'tmpfs', 'ConfigMap volumes stay on disk, as upstream');
    assert.equal(await c.ok(['exec', 'tmpfs', '--', 'cat', '/secret/password']), 'hunter2');

    // On the node: one tmpfs per such volume under the pod's directory.
    const podDir = join(kubeletRoot(), 'pods', uid);
    const hostMounts = () => [...mountTypes(readFileSync('/proc/self/mountinfo', 'utf8'))].filter(([p]) => p.startsWith(podDir + '/'));
    const onHost = hostMounts();
    assert.deepEqual(onHost.map(([p, t]) => `${p.slice(podDir.length + 1)} ${t}`).sort(), [
      'volumes/kubernetes.io~downward-api/info tmpfs',
      'volumes/kubernetes.io~projected/kube-api-access-' + onHost.find(([p]) => p.includes('kube-api-access-'))![0].split('kube-api-access-')[1] + ' tmpfs',
      'volumes/kubernetes.io~secret/sec tmpfs',
    ]);

    await c.ok(['delete', 'pod', 'tmpfs', '--wait=true'], { timeoutMs: 60_000 });
    await eventually(async () => !existsSync(podDir), 30_000, 200);
    assert.deepEqual(hostMounts(), [], 'no mount of the pod is left');
  });

  it('waits with FailedMount for an unbound claim, then mounts the hostPath PersistentVolume it binds to', async () => {
    const hostDir = mkdtempSync(join(tmpdir(), 'k8ts-pv-'));
    try {
      const obj = (o: Record<string, unknown>) => JSON.stringify(o);
      await c.ok(['apply', '-f', '-'], {
        input: obj({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data' }, spec: { storageClassName: 'manual', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }),
      });
      await c.ok(['apply', '-f', '-'], {
        input: pod('pvc-user', {
          // Bound straight to the node: the scheduler, as upstream's, holds pods whose claims are unbound.
          nodeName: c.server.agent!.nodeName,
          terminationGracePeriodSeconds: 1,
          volumes: [{ name: 'store', persistentVolumeClaim: { claimName: 'data' } }],
          containers: [{ name: 'c', image: BUSYBOX, command: ['sh', '-c', 'echo written-through-the-claim > /data/hello && exec sleep 3600'], volumeMounts: [{ name: 'store', mountPath: '/data' }] }],
        }),
      });
      const waiting = await eventually(async () => (await events('pvc-user')).split('\n').find((l) => l.startsWith('Warning FailedMount: ')), 60_000, 200);
      assert.equal(waiting, 'Warning FailedMount: Unable to attach or mount volumes: unmounted volumes=[store], unattached volumes=[], failed to process volumes=[store]: error processing PVC default/data: PVC is not bound');
      assert.equal(await phase('pvc-user'), 'Pending');

      await c.ok(['apply', '-f', '-'], {
        input: obj({
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name: 'host-pv' },
          spec: { storageClassName: 'manual', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: hostDir, type: 'Directory' } },
        }),
      });
      await eventually(async () => (await c.ok(['get', 'pvc', 'data', '-o', 'jsonpath={.status.phase}'])) === 'Bound', 60_000, 200);
      await eventually(async () => (await phase('pvc-user')) === 'Running', 60_000, 200);
      await eventually(async () => existsSync(join(hostDir, 'hello')), 10_000, 100);
      assert.equal(readFileSync(join(hostDir, 'hello'), 'utf8'), 'written-through-the-claim\n');
      await c.ok(['delete', 'pod', 'pvc-user', '--wait=true'], { timeoutMs: 60_000 });
      assert.equal(readFileSync(join(hostDir, 'hello'), 'utf8'), 'written-through-the-claim\n', 'the data outlives the pod');
    } finally {
      rmSync(hostDir, { recursive: true, force: true });
    }
  });

  it('pulls from a private plain-HTTP registry with an imagePullSecret, and fails with ErrImagePull and ImagePullBackOff without one', async () => {
    const image = `${registry.host}/test/busybox:1`;
    await c.ok(['apply', '-f', '-'], { input: pod('no-secret', { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image, command: ['sleep', '3600'] }] }) });
    // ErrImagePull lasts only until the kubelet's next sync, so polling the state can miss it on a
    // busy machine: the state must show one of the two, and the events (which stay) both.
    const seen = new Set<string>();
    await eventually(async () => {
      const w = (await status('no-secret')).containerStatuses?.[0]?.state?.waiting;
      if (w?.reason) seen.add(w.reason);
      const ev = await events('no-secret');
      return (seen.has('ErrImagePull') || seen.has('ImagePullBackOff')) && /Error: ErrImagePull/.test(ev) && /Error: ImagePullBackOff/.test(ev);
    }, 90_000, 100);
    const ev = await events('no-secret');
    assert.match(ev, new RegExp(`Normal Pulling: Pulling image "${image}"`));
    assert.match(ev, new RegExp(`Warning Failed: Failed to pull image "${image}": .*401 Unauthorized`));
    assert.match(ev, /Warning Failed: Error: ErrImagePull/);
    assert.match(ev, new RegExp(`Normal BackOff: Back-off pulling image "${image}"`));
    assert.match(ev, /Warning Failed: Error: ImagePullBackOff/);
    assert.ok(registry.requests.some((r) => r.endsWith(' 401')), 'the registry asked for credentials');
    assert.ok(!registry.requests.some((r) => r.includes('/blobs/') && r.endsWith(' 200')), 'nothing was served without credentials');
    await c.ok(['delete', 'pod', 'no-secret', '--wait=true'], { timeoutMs: 60_000 });

    await c.ok(['create', 'secret', 'docker-registry', 'regcred', `--docker-server=${registry.host}`, '--docker-username=alice', '--docker-password=s3cret-pw']);
    await c.ok(['apply', '-f', '-'], {
      input: pod('with-secret', { imagePullSecrets: [{ name: 'regcred' }], containers: [{ name: 'c', image, command: ['sh', '-c', 'echo pulled-and-running; exec sleep 3600'] }] }),
    });
    await eventually(async () => (await phase('with-secret')) === 'Running', 60_000, 200);
    assert.equal((await status('with-secret')).containerStatuses[0].image, image);
    assert.match(await events('with-secret'), new RegExp(`Normal Pulled: Successfully pulled image "${image}" in `));
    assert.ok(registry.requests.some((r) => r.startsWith('GET /v2/test/busybox/blobs/sha256:') && r.endsWith(' 200')), registry.requests.join('\n'));
    await eventually(async () => (await c.ok(['logs', 'with-secret'])) === 'pulled-and-running\n', 10_000, 200);
    await c.ok(['delete', 'pod', 'with-secret', '--wait=false']);
  });
});
