// The real runtime end to end: a private containerd under a temp state dir, offline busybox and
// pause images, and a pod driven through CriRuntime. Needs root plus containerd, runc and
// busybox-static; without them it skips, loudly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CriRuntime } from '../../src/kubelet/runtime/cri-runtime.js';
import { criLabels, isNotFound, type ContainerConfig, type ContainerState, type PodSandboxConfig } from '../../src/kubelet/runtime/runtime.js';
import { bridgeConflist, containerdConfig, containerdPaths, mountsUnder, removeStateDir, requireBinaries, startContainerd, type ContainerdHandle } from '../../src/kubelet/containerd/containerd.js';
import { busyboxLayer, importBusyboxImage, importPauseImage, ociLayoutTar, tar } from '../../src/kubelet/containerd/images.js';
import { removeAllPodSandboxes } from '../../src/kubelet/runtime/cleanup.js';

const BUSYBOX = 'k8ts.local/busybox:1';
const PAUSE = 'k8ts.local/pause:1';

function missingCapability(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  try {
    requireBinaries([
      { name: 'containerd', pkg: 'containerd' },
      { name: 'ctr', pkg: 'containerd' },
      { name: 'runc', pkg: 'runc' },
      { name: '/bin/busybox', pkg: 'busybox-static' },
    ]);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

describe('offline image building', () => {
  it('writes a tar whose header checksums and sizes a reader accepts, padded to 512-byte blocks', () => {
    const t = tar([
      { path: 'a/', type: 'dir', mode: 0o755 },
      { path: 'a/x', type: 'file', mode: 0o644, data: Buffer.from('hello') },
      { path: 'a/y', type: 'symlink', mode: 0o777, linkname: 'x' },
    ]);
    assert.equal(t.length % 512, 0);
    // header, header + 1 data block, header, 2 end blocks
    assert.equal(t.length, 512 * 6);
    const h = t.subarray(512, 1024);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    assert.equal(parseInt(h.subarray(148, 155).toString(), 8), sum);
    assert.equal(parseInt(h.subarray(124, 135).toString(), 8), 5);
    assert.equal(t.subarray(1024, 1029).toString(), 'hello');
    assert.equal(t.subarray(1536 + 157, 1536 + 158).toString(), 'x');
  });

  it('builds the same image digest twice from the same busybox, and names the image in the index annotation', (t) => {
    if (missingCapability()?.includes('busybox')) return t.skip('busybox-static missing');
    const a = ociLayoutTar({ name: BUSYBOX, layer: busyboxLayer() });
    const b = ociLayoutTar({ name: BUSYBOX, layer: busyboxLayer() });
    assert.equal(a.digest, b.digest);
    assert.ok(a.archive.includes(Buffer.from(`"io.containerd.image.name":"${BUSYBOX}"`)));
  });

  it('writes a containerd config carrying the settings this kernel requires', () => {
    const cfg = containerdConfig({ stateDir: '/s', pauseImage: PAUSE, cniConfDir: '/s/cni', cniBinDir: '/usr/lib/cni', logLevel: 'info' });
    for (const want of ['version = 2', 'restrict_oom_score_adj = true', `sandbox_image = "${PAUSE}"`, 'disable_tcp_service = true', 'snapshotter = "overlayfs"', 'SystemdCgroup = false', 'address = "/s/containerd/containerd.sock"', 'stream_server_address = "127.0.0.1"', 'conf_dir = "/s/cni"']) {
      assert.ok(cfg.includes(want), `config lacks ${want}`);
    }
  });
});

describe('the CRI runtime over a private containerd', () => {
  const why = missingCapability();
  if (why) console.error(`\n*** SKIPPING the containerd CRI tests: ${why} ***\n`);
  let stateDir: string;
  let cd: ContainerdHandle | undefined;
  let rt: CriRuntime;
  let sandboxId: string | undefined;
  let sbConfig: PodSandboxConfig;

  before(async () => {
    if (why) return;
    stateDir = mkdtempSync('/tmp/k8ts-cri-');
    cd = await startContainerd({ stateDir, pauseImage: PAUSE });
    rt = new CriRuntime({ socket: cd.socket });
    await importBusyboxImage({ socket: cd.socket, name: BUSYBOX });
    await importPauseImage({ socket: cd.socket, name: PAUSE });
  });

  after(async () => {
    if (why) return;
    try {
      if (rt) {
        await removeAllPodSandboxes(rt);
        rt.close();
      }
    } finally {
      await cd?.stop();
      if (stateDir) await removeStateDir(stateDir);
    }
  });

  const skip = why ? { skip: why } : {};

  it('answers Version with containerd as the runtime and the v1 API', skip, async () => {
    const v = await rt.version();
    assert.equal(v.runtimeName, 'containerd');
    assert.equal(v.runtimeApiVersion, 'v1');
    const st = await rt.status();
    assert.equal(st.conditions.find((c) => c.type === 'RuntimeReady')?.status, true);
  });

  it('lists the imported busybox and pause images', skip, async () => {
    const tags = (await rt.listImages()).flatMap((i) => i.repoTags);
    assert.ok(tags.includes(BUSYBOX), `images: ${tags}`);
    assert.ok(tags.includes(PAUSE), `images: ${tags}`);
    assert.equal((await rt.imageStatus({ image: 'k8ts.local/absent:1' })), undefined);
    assert.ok((await rt.imageStatus({ image: BUSYBOX }))?.id.startsWith('sha256:'));
  });

  it('runs a host-network pod sandbox that keeps label keys as they are', skip, async () => {
    sbConfig = {
      metadata: { name: 'p1', namespace: 'default', uid: 'uid-p1', attempt: 0 },
      // No hostname: with the node's network the pod shares its UTS namespace (upstream kubelet leaves it unset too).
      logDirectory: join(stateDir, 'pods', 'uid-p1'),
      dnsConfig: { servers: ['10.96.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] },
      labels: { [criLabels.podUID]: 'uid-p1', 'app.kubernetes.io/Name': 'Mixed_Case' },
      annotations: { note: 'x' },
      linux: { securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
    };
    sandboxId = await rt.runPodSandbox(sbConfig);
    const st = await rt.podSandboxStatus(sandboxId);
    assert.equal(st.state, 'SANDBOX_READY');
    assert.equal(st.metadata.uid, 'uid-p1');
    assert.equal(st.labels['app.kubernetes.io/Name'], 'Mixed_Case');
    const listed = await rt.listPodSandbox({ labelSelector: { [criLabels.podUID]: 'uid-p1' } });
    assert.deepEqual(listed.map((s) => s.id), [sandboxId]);
  });

  it('runs a container to exit code 3, with its output in the CRI log file', skip, async () => {
    const cfg: ContainerConfig = {
      metadata: { name: 'c1', attempt: 0 },
      image: { image: BUSYBOX },
      command: ['sh', '-c', 'echo hello; sleep 1; exit 3'],
      envs: [{ key: 'GREETING', value: 'hi' }],
      labels: { [criLabels.containerName]: 'c1' },
      annotations: {},
      logPath: 'c1/0.log',
    };
    const id = await rt.createContainer(sandboxId!, cfg, sbConfig);
    assert.equal((await rt.containerStatus(id)).state, 'CONTAINER_CREATED');
    await rt.startContainer(id);
    assert.equal((await rt.containerStatus(id)).state, 'CONTAINER_RUNNING');
    let state: ContainerState = 'CONTAINER_RUNNING';
    const end = Date.now() + 10_000;
    while (state !== 'CONTAINER_EXITED' && Date.now() < end) {
      await sleep(100);
      state = (await rt.containerStatus(id)).state;
    }
    const st = await rt.containerStatus(id);
    assert.equal(st.state, 'CONTAINER_EXITED');
    assert.equal(st.exitCode, 3);
    assert.ok(st.finishedAt > st.startedAt && st.startedAt > 0);
    assert.equal(st.logPath, join(stateDir, 'pods', 'uid-p1', 'c1/0.log'));
    const log = readFileSync(st.logPath!, 'utf8');
    assert.match(log, /^\S+ stdout F hello$/m);
    assert.deepEqual((await rt.listContainers({ podSandboxId: sandboxId })).map((c) => c.id), [id]);
    await rt.removeContainer(id);
    await assert.rejects(rt.containerStatus(id), (err) => isNotFound(err));
  });

  it('execs in a running container, and the pause image ends promptly with 0 on SIGTERM', skip, async () => {
    // The pause image may hold nothing but /pause, so the exec checks run in a busybox container.
    const sh = await rt.createContainer(sandboxId!, { metadata: { name: 'sh', attempt: 0 }, image: { image: BUSYBOX }, command: ['sleep', '60'], labels: {}, annotations: {}, logPath: 'sh/0.log' }, sbConfig);
    await rt.startContainer(sh);
    const id = await rt.createContainer(sandboxId!, { metadata: { name: 'pause', attempt: 0 }, image: { image: PAUSE }, labels: {}, annotations: {}, logPath: 'pause/0.log' }, sbConfig);
    await rt.startContainer(id);
    const r = await rt.execSync(sh, ['echo', 'hi'], 10);
    assert.equal(r.stdout.toString(), 'hi\n');
    assert.equal(r.exitCode, 0);
    const fail = await rt.execSync(sh, ['sh', '-c', 'echo oops >&2; exit 7'], 10);
    assert.equal(fail.stderr.toString(), 'oops\n');
    assert.equal(fail.exitCode, 7);
    const resolv = (await rt.execSync(sh, ['cat', '/etc/resolv.conf'], 10)).stdout.toString();
    assert.match(resolv, /nameserver 10\.96\.0\.10/);
    await rt.stopContainer(sh, 0);
    await rt.removeContainer(sh);
    const t0 = Date.now();
    await rt.stopContainer(id, 20);
    assert.ok(Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms: SIGTERM did not end the pause process`);
    const st = await rt.containerStatus(id);
    assert.equal(st.state, 'CONTAINER_EXITED');
    assert.equal(st.exitCode, 0);
    await rt.removeContainer(id);
  });

  it('stops and removes the sandbox, leaving no mounts of it behind', skip, async () => {
    await rt.stopPodSandbox(sandboxId!);
    assert.equal((await rt.podSandboxStatus(sandboxId!)).state, 'SANDBOX_NOTREADY');
    await rt.removePodSandbox(sandboxId!);
    await assert.rejects(rt.podSandboxStatus(sandboxId!), (err) => isNotFound(err));
    assert.deepEqual(await rt.listPodSandbox(), []);
    const left = mountsUnder(stateDir).filter((m) => m.includes(sandboxId!));
    assert.deepEqual(left, []);
  });

  it('restarts containerd when it is killed, and the CRI answers again', skip, async () => {
    const pid = cd!.pid()!;
    process.kill(pid, 'SIGKILL');
    const end = Date.now() + 10_000;
    while ((cd!.pid() === pid || cd!.pid() === undefined) && Date.now() < end) await sleep(50);
    assert.notEqual(cd!.pid(), pid);
    assert.equal(cd!.restarts(), 1);
    let v;
    while (!v && Date.now() < end) v = await rt.version().catch(() => undefined);
    assert.equal(v?.runtimeName, 'containerd');
  });
});

describe('the CRI runtime with a CNI pod network, inside a project-made network namespace', () => {
  const why = missingCapability();
  if (why) console.error(`\n*** SKIPPING the containerd CNI test: ${why} ***\n`);
  const tag = process.pid.toString(36).slice(-5);
  const netns = `k8ts-cri-${tag}`;
  const third = 100 + (process.pid % 150);
  const subnet = `10.244.${third}.0/24`;
  let stateDir: string;
  let cd: ContainerdHandle | undefined;
  let rt: CriRuntime | undefined;
  let nsMade = false;

  before(async () => {
    if (why) return;
    stateDir = mkdtempSync('/tmp/k8ts-cni-');
    // Everything networked lives in a namespace of our own: only lo and the bridge, nothing leaves it.
    execFileSync('ip', ['netns', 'add', netns]);
    nsMade = true;
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    const p = containerdPaths(stateDir);
    mkdirSync(p.cniConfDir, { recursive: true });
    writeFileSync(join(p.cniConfDir, '10-k8ts.conflist'), bridgeConflist({ bridge: `k8tscri${tag}`, subnet, dataDir: join(stateDir, 'cni', 'ipam') }));
    cd = await startContainerd({ stateDir, pauseImage: PAUSE, netns: `/var/run/netns/${netns}` });
    rt = new CriRuntime({ socket: cd.socket });
    await importBusyboxImage({ socket: cd.socket, name: BUSYBOX });
    await importPauseImage({ socket: cd.socket, name: PAUSE });
  });

  after(async () => {
    if (why) return;
    try {
      if (rt) {
        await removeAllPodSandboxes(rt);
        rt.close();
      }
      await cd?.stop();
      if (stateDir) await removeStateDir(stateDir);
    } finally {
      if (nsMade) execFileSync('ip', ['netns', 'del', netns]);
    }
  });

  it('gives a pod an IP from the node subnet on the bridge, reaches the gateway, and releases the IP on removal', why ? { skip: why } : {}, async () => {
    assert.equal((await rt!.status()).conditions.find((c) => c.type === 'NetworkReady')?.status, true);
    const sb: PodSandboxConfig = {
      metadata: { name: 'net', namespace: 'default', uid: 'uid-net', attempt: 0 },
      hostname: 'net-pod',
      logDirectory: join(stateDir, 'pods', 'uid-net'),
      labels: {},
      annotations: {},
    };
    const id = await rt!.runPodSandbox(sb);
    const ip = (await rt!.podSandboxStatus(id)).network?.ip ?? '';
    assert.ok(ip.startsWith(`10.244.${third}.`), `pod IP ${ip} outside ${subnet}`);
    const c = await rt!.createContainer(id, { metadata: { name: 'c', attempt: 0 }, image: { image: BUSYBOX }, command: ['sleep', '60'], labels: {}, annotations: {}, logPath: 'c/0.log' }, sb);
    await rt!.startContainer(c);
    assert.equal((await rt!.execSync(c, ['hostname'], 10)).stdout.toString(), 'net-pod\n');
    assert.match((await rt!.execSync(c, ['ip', '-4', 'addr', 'show', 'eth0'], 10)).stdout.toString(), new RegExp(`inet ${ip.replace(/\./g, '\\.')}/24`));
    const ping = await rt!.execSync(c, ['ping', '-c', '1', '-W', '2', `10.244.${third}.1`], 10);
    assert.equal(ping.exitCode, 0, ping.stdout.toString() + ping.stderr.toString());
    await rt!.stopContainer(c, 0);
    await rt!.removeContainer(c);
    await rt!.stopPodSandbox(id);
    await rt!.removePodSandbox(id);
    const ipamDir = join(stateDir, 'cni', 'ipam', 'k8ts');
    assert.ok(!readdirSafe(ipamDir).includes(ip), `host-local still holds ${ip}`);
  });
});

function readdirSafe(dir: string): string[] {
  try {
    return execFileSync('ls', [dir], { encoding: 'utf8' }).split('\n');
  } catch {
    return [];
  }
}
