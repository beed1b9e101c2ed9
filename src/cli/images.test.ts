// `k8ts images`: argument errors and queuing need nothing special; the end-to-end part (a real
// containerd in a network namespace of its own, the cached nginx image imported through the CLI,
// listed, and serving its welcome page in a pod) needs root, containerd, runc, CNI plugins and the
// nginx image (cached, or the Debian mirror to build it). Without them it skips, loudly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatSize, runImages } from './images.js';
import { agentRoot, importPendingImages, pendingImagesDir } from '../kubelet/containerd/image-store.js';
import { bridgeConflist, containerdPaths, removeStateDir, startContainerd, type ContainerdHandle } from '../kubelet/containerd/containerd.js';
import { busyboxLayer, importPauseImage, ociLayoutTar, tar } from '../kubelet/containerd/images.js';
import { inspectArchive, scanTar } from '../kubelet/containerd/image-archive.js';
import { CriRuntime } from '../kubelet/runtime/cri-runtime.js';
import type { PodSandboxConfig } from '../kubelet/runtime/runtime.js';
import { ensureTestImage, testImageUnavailable } from '../../test/images.js';
import { missingNodeCapability } from '../../test/capabilities.js';
import { removeAllPodSandboxes } from '../kubelet/runtime/cleanup.js';

const sha256hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function capture() {
  const io = { stdout: '', stderr: '', out: (s: string) => void (io.stdout += s), err: (s: string) => void (io.stderr += s) };
  return io;
}

/** A `docker save` style archive of the busybox layer, tagged as given. */
function dockerSaveBusybox(repoTag: string): Buffer {
  const layer = busyboxLayer();
  const diffId = 'sha256:' + sha256hex(layer);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'], Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: [diffId] } }));
  const cfgName = `${sha256hex(config)}.json`;
  return tar([
    { path: cfgName, type: 'file', mode: 0o644, data: config },
    { path: 'layer1/', type: 'dir', mode: 0o755 },
    { path: 'layer1/layer.tar', type: 'file', mode: 0o644, data: layer },
    { path: 'manifest.json', type: 'file', mode: 0o644, data: Buffer.from(JSON.stringify([{ Config: cfgName, RepoTags: [repoTag], Layers: ['layer1/layer.tar'] }])) },
    { path: 'repositories', type: 'file', mode: 0o644, data: Buffer.from(JSON.stringify({ [repoTag.split(':')[0]!]: { [repoTag.split(':')[1]!]: 'layer1' } })) },
  ]);
}

/** Removes io.containerd.image.name from an OCI archive's index.json, in place (same length, padded with spaces). */
async function dropImageNameAnnotation(file: string): Promise<void> {
  const buf = readFileSync(file);
  const idx = scanTar(file).find((e) => e.name === 'index.json')!;
  const json = JSON.parse(buf.subarray(idx.dataOffset, idx.dataOffset + idx.size).toString());
  delete json.manifests[0].annotations['io.containerd.image.name'];
  const text = Buffer.from(JSON.stringify(json).padEnd(idx.size, ' '));
  text.copy(buf, idx.dataOffset);
  writeFileSync(file, buf);
}

describe('k8ts images without a running node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-images-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fails with exit code 1 and names the file when an archive is missing', async () => {
    const io = capture();
    assert.equal(await runImages(['import', join(dir, 'nope.tar'), '--data-dir', dir], io), 1);
    assert.match(io.stderr, /nope\.tar: no such file/);
  });

  it('fails with exit code 1, importing nothing, when one of the files is not an image archive', async (t) => {
    if (!existsSync('/bin/busybox')) return t.skip('busybox-static missing');
    const good = join(dir, 'good.tar');
    writeFileSync(good, dockerSaveBusybox('busybox:q'));
    const bad = join(dir, 'notes.txt');
    writeFileSync(bad, 'just text\n'.repeat(200));
    const io = capture();
    assert.equal(await runImages(['import', good, bad, '--data-dir', join(dir, 'node-a')], io), 1);
    assert.match(io.stderr, /notes\.txt: not an image archive/);
    assert.ok(!existsSync(pendingImagesDir(join(dir, 'node-a'))), 'the good archive was queued although the command failed');
  });

  it('queues an archive in ROOT/images when the node is not running, and ls shows it waiting with its normalised name', async (t) => {
    if (!existsSync('/bin/busybox')) return t.skip('busybox-static missing');
    const root = join(dir, 'node-b');
    const src = join(dir, 'bb.tar');
    writeFileSync(src, dockerSaveBusybox('busybox:queued'));
    const io = capture();
    assert.equal(await runImages(['import', src, '--data-dir', root], io), 0, io.stderr);
    assert.match(io.stdout, /will be imported when the node starts/);
    assert.deepEqual(readdirSync(pendingImagesDir(root)), ['bb.tar']);
    const ls = capture();
    assert.equal(await runImages(['ls', '--data-dir', root], ls), 0);
    assert.match(ls.stderr, /not running/);
    assert.match(ls.stdout, /bb\.tar\s+\S+\s+docker\.io\/library\/busybox:queued/);
  });

  it('refuses an OCI archive that carries only a tag unless --name gives the repository, which then names it', async (t) => {
    if (!existsSync('/bin/busybox')) return t.skip('busybox-static missing');
    const { archive } = ociLayoutTar({ name: 'placeholder:v7', layer: busyboxLayer() });
    // Keep only the tag in ref.name, as skopeo's oci-archive: transport writes it.
    const src = join(dir, 'tag-only.tar');
    writeFileSync(src, archive);
    const root = join(dir, 'node-c');
    await dropImageNameAnnotation(src);
    const io = capture();
    assert.equal(await runImages(['import', src, '--data-dir', root], io), 1);
    assert.match(io.stderr, /names no image; give one with --name/);
    const ok = capture();
    assert.equal(await runImages(['import', src, '--name', 'localhost:5000/app', '--data-dir', root], ok), 0, ok.stderr);
    assert.match(ok.stdout, /\(localhost:5000\/app:v7\)/);
    assert.deepEqual((await inspectArchive(join(pendingImagesDir(root), 'tag-only.tar'))).names, ['localhost:5000/app:v7']);
  });

  it('takes DIR/agent as the node root of a server data dir, and DIR itself for an agent data dir', () => {
    const server = join(dir, 'server');
    mkdirSync(server);
    writeFileSync(join(server, 'kubeconfig.yaml'), '');
    assert.equal(agentRoot(server), join(server, 'agent'));
    assert.equal(agentRoot(join(dir, 'plain-agent')), join(dir, 'plain-agent'));
  });

  it('prints sizes the way crictl does', () => {
    assert.deepEqual([formatSize(512), formatSize(4200), formatSize(187_654_321), formatSize(2_000_000_000)], ['512B', '4.2kB', '188MB', '2GB']);
  });

  it('rejects a build without packages or busybox, and without an output file', async () => {
    const a = capture();
    assert.equal(await runImages(['build', 'web:1', '-o', join(dir, 'x.tar')], a), 1);
    assert.match(a.stderr, /--debian/);
    const b = capture();
    assert.equal(await runImages(['build', 'web:1', '--debian', 'nginx-light'], b), 1);
    assert.match(b.stderr, /-o FILE is required/);
  });
});

async function missingCapability(): Promise<string | undefined> {
  return missingNodeCapability() ?? testImageUnavailable('nginx');
}

describe('k8ts images with a real node: the nginx image serves its welcome page in a pod', async () => {
  const why = await missingCapability();
  if (why) console.error(`\n*** SKIPPING the k8ts images end-to-end test: ${why} ***\n`);
  const skip = why ? { skip: why } : {};
  const tag = process.pid.toString(36).slice(-5);
  const netns = `k8ts-img-${tag}`;
  const subnet = `10.${200 + (process.pid % 50)}.${process.pid % 250}.0/24`;
  let root: string;
  let cd: ContainerdHandle | undefined;
  let rt: CriRuntime | undefined;
  let nsMade = false;
  let nginxArchive: string;

  before(async () => {
    if (why) return;
    const t0 = Date.now();
    nginxArchive = await ensureTestImage('nginx');
    console.error(`nginx test image ready in ${Date.now() - t0} ms: ${nginxArchive}`);
    root = mkdtempSync('/tmp/k8ts-img-');
    // A busybox archive waits in ROOT/images before the node starts.
    const src = join(root, 'bb-src.tar');
    writeFileSync(src, dockerSaveBusybox('busybox:pending'));
    assert.equal(await runImages(['import', src, '--data-dir', root], capture()), 0);
    execFileSync('ip', ['netns', 'add', netns]);
    nsMade = true;
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    const p = containerdPaths(root);
    mkdirSync(p.cniConfDir, { recursive: true });
    writeFileSync(join(p.cniConfDir, '10-k8ts.conflist'), bridgeConflist({ bridge: `k8tsimg${tag}`, subnet, dataDir: join(root, 'cni', 'ipam') }));
    cd = await startContainerd({ stateDir: root, netns: `/var/run/netns/${netns}` });
    rt = new CriRuntime({ socket: cd.socket });
    await importPauseImage({ socket: cd.socket, name: 'k8ts.local/pause:1' });
  });

  after(async () => {
    if (why) return;
    try {
      if (rt) {
        await removeAllPodSandboxes(rt);
        rt.close();
      }
      await cd?.stop();
      if (root) await removeStateDir(root);
    } finally {
      // Deleting the namespace takes its bridge and veths with it.
      if (nsMade) execFileSync('ip', ['netns', 'del', netns]);
    }
  });

  it('imports the archives waiting in ROOT/images at start once, and again only when containerd lost the image', skip, async () => {
    assert.deepEqual(await importPendingImages(root, cd!.socket), ['docker.io/library/busybox:pending']);
    assert.ok(await rt!.imageStatus({ image: 'busybox:pending' }), 'busybox:pending not in containerd');
    assert.deepEqual(await importPendingImages(root, cd!.socket), [], 'a second start imported the archive again');
    // When containerd lost the image (a wiped state dir), the next start imports it again.
    await rt!.removeImage({ image: 'busybox:pending' });
    assert.deepEqual(await importPendingImages(root, cd!.socket), ['docker.io/library/busybox:pending']);
  });

  it('imports the nginx archive through the CLI into the running node and lists it', skip, async () => {
    const io = capture();
    const t0 = Date.now();
    assert.equal(await runImages(['import', nginxArchive, '--data-dir', root], io), 0, io.stderr);
    console.error(`imported nginx in ${Date.now() - t0} ms`);
    assert.match(io.stdout, /imported docker\.io\/library\/nginx:latest/);
    const ls = capture();
    assert.equal(await runImages(['ls', '--data-dir', root], ls), 0, ls.stderr);
    assert.match(ls.stdout, /^REF\s+DIGEST\s+SIZE$/m);
    assert.match(ls.stdout, /^docker\.io\/library\/nginx:latest\s+[0-9a-f]{12}\s+\d+(\.\d)?MB$/m);
    assert.match(ls.stdout, /^docker\.io\/library\/busybox:pending\s/m);
    assert.doesNotMatch(ls.stdout, /Waiting in/);
  });

  it('runs a pod from image "nginx" whose welcome page answers on port 80', skip, async () => {
    const sb: PodSandboxConfig = {
      metadata: { name: 'web', namespace: 'default', uid: 'uid-web', attempt: 0 },
      hostname: 'web',
      logDirectory: join(root, 'pods', 'uid-web'),
      dnsConfig: { servers: ['10.43.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] },
      labels: {},
      annotations: {},
    };
    const sandbox = await rt!.runPodSandbox(sb);
    const id = await rt!.createContainer(sandbox, { metadata: { name: 'nginx', attempt: 0 }, image: { image: 'nginx' }, labels: {}, annotations: {}, logPath: 'nginx/0.log' }, sb);
    await rt!.startContainer(id);
    let page = '';
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      const r = await rt!.execSync(id, ['curl', '-s', 'localhost'], 10);
      page = r.stdout.toString();
      if (page.includes('Welcome to nginx')) break;
      await sleep(200);
    }
    assert.match(page, /Welcome to nginx/);
    // The pod's own address works too, so nginx listens beyond loopback.
    const ip = (await rt!.podSandboxStatus(sandbox)).network?.ip;
    assert.ok(ip, 'the pod has no IP');
    assert.match((await rt!.execSync(id, ['curl', '-s', `http://${ip}/`], 10)).stdout.toString(), /Welcome to nginx/);
    // The image sends nginx's access log to the container's output, so it lands in the CRI log.
    const log = readFileSync(join(root, 'pods', 'uid-web', 'nginx', '0.log'), 'utf8');
    assert.match(log, /^\S+ stdout F .*"GET \/ HTTP\/1\.1" 200 /m);
    const t0 = Date.now();
    await rt!.stopContainer(id, 10);
    const st = await rt!.containerStatus(id);
    assert.equal(st.state, 'CONTAINER_EXITED');
    assert.ok(Date.now() - t0 < 8000, `nginx took ${Date.now() - t0} ms to stop`);
  });
});
