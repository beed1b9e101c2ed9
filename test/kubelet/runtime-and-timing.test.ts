import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeRuntime, normalizeImage } from '../../src/kubelet/runtime/fake-runtime.js';
import { criLabels, isNotFound, type ContainerEvent, type PodSandboxConfig } from '../../src/kubelet/runtime/runtime.js';
import { Limiter, Ticker } from '../../src/kubelet/timing.js';
import { nthAddress, nthSubnet } from '../../src/kubelet/hollow.js';

const sbConfig = (uid: string, policy = 'Always'): PodSandboxConfig => ({ metadata: { name: uid, namespace: 'default', uid, attempt: 0 }, labels: { [criLabels.podUID]: uid }, annotations: { [criLabels.restartPolicy]: policy } });

describe('the fake runtime', () => {
  it('hands out distinct sandbox IPs from the pod CIDR, skipping the gateway, and reuses released ones', async () => {
    const rt = new FakeRuntime({ podCIDR: '10.1.2.0/30' }); // room for exactly one pod (.2)
    const a = await rt.runPodSandbox(sbConfig('a'));
    assert.equal((await rt.podSandboxStatus(a)).network?.ip, '10.1.2.2');
    await assert.rejects(rt.runPodSandbox(sbConfig('b')), /no IP addresses available/);
    await rt.removePodSandbox(a);
    const b = await rt.runPodSandbox(sbConfig('b'));
    assert.equal((await rt.podSandboxStatus(b)).network?.ip, '10.1.2.2');
  });

  it('refuses sandboxes until it has a pod CIDR, and reports NetworkReady false meanwhile', async () => {
    const rt = new FakeRuntime();
    assert.equal((await rt.status()).conditions.find((c) => c.type === 'NetworkReady')?.status, false);
    await assert.rejects(rt.runPodSandbox(sbConfig('a')), /network plugin is not ready/);
    await rt.updateRuntimeConfig({ podCIDR: '10.9.0.0/24' });
    assert.ok(await rt.runPodSandbox(sbConfig('a')));
  });

  it('runs a batch pod container for the run duration, exits 0 and emits started and stopped events', async () => {
    const rt = new FakeRuntime({ podCIDR: '10.9.0.0/24', runDurationMs: 30 });
    const events: ContainerEvent['type'][] = [];
    rt.watchContainerEvents((e) => events.push(e.type));
    const sb = await rt.runPodSandbox(sbConfig('a', 'Never'));
    await rt.pullImage({ image: 'busybox' });
    const id = await rt.createContainer(sb, { metadata: { name: 'c', attempt: 0 }, image: { image: 'busybox' }, labels: {}, annotations: {} });
    await rt.startContainer(id);
    assert.equal((await rt.containerStatus(id)).state, 'CONTAINER_RUNNING');
    await sleep(80);
    const st = await rt.containerStatus(id);
    assert.equal(st.state, 'CONTAINER_EXITED');
    assert.equal(st.exitCode, 0);
    assert.deepEqual(events, ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT']);
    rt.close();
  });

  it('keeps an Always pod container running past the run duration', async () => {
    const rt = new FakeRuntime({ podCIDR: '10.9.0.0/24', runDurationMs: 10 });
    const sb = await rt.runPodSandbox(sbConfig('a'));
    await rt.pullImage({ image: 'nginx:1.27' });
    const id = await rt.createContainer(sb, { metadata: { name: 'c', attempt: 0 }, image: { image: 'nginx:1.27' }, labels: {}, annotations: {} });
    await rt.startContainer(id);
    await sleep(40);
    assert.equal((await rt.containerStatus(id)).state, 'CONTAINER_RUNNING');
    rt.close();
  });

  it('refuses to create a container whose image was not pulled, and answers NotFound for unknown ids', async () => {
    const rt = new FakeRuntime({ podCIDR: '10.9.0.0/24' });
    const sb = await rt.runPodSandbox(sbConfig('a'));
    await assert.rejects(rt.createContainer(sb, { metadata: { name: 'c', attempt: 0 }, image: { image: 'x:1' }, labels: {}, annotations: {} }), /not present/);
    await rt.containerStatus('nope').then(() => assert.fail('expected NotFound'), (e) => assert.ok(isNotFound(e)));
  });

  const images: [string, string][] = [
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.27', 'docker.io/library/nginx:1.27'],
    ['bitnami/redis:7', 'docker.io/bitnami/redis:7'],
    ['registry.k8s.io/pause:3.10', 'registry.k8s.io/pause:3.10'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
  ];
  for (const [input, want] of images) it(`normalises the image name ${input} to ${want}`, () => assert.equal(normalizeImage(input), want));
});

describe('shared timing', () => {
  it('fires periodic callbacks at their staggered offsets, each about once per period', async () => {
    const t = new Ticker(10);
    const hits: number[][] = [[], [], []];
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) t.every(150, () => hits[i]!.push(Date.now() - t0), i * 50);
    await sleep(420);
    t.stop();
    for (let i = 0; i < 3; i++) assert.ok(hits[i]!.length >= 2 && hits[i]!.length <= 3, `callback ${i} fired ${hits[i]!.length} times`);
    // Staggered: the first runs come in offset order, and each callback keeps its phase.
    assert.ok(hits[0]![0]! <= hits[1]![0]! && hits[1]![0]! <= hits[2]![0]!, JSON.stringify(hits));
    // Never early: the k-th run of callback i is not before offset + k periods.
    for (let i = 0; i < 3; i++) hits[i]!.forEach((at, k) => assert.ok(at >= i * 50 + k * 150 - 15, JSON.stringify(hits)));
  });

  it('does not run a cancelled one-shot callback', async () => {
    const t = new Ticker(5);
    let ran = 0;
    const cancel = t.after(20, () => ran++);
    t.after(20, () => ran += 10);
    cancel();
    await sleep(60);
    assert.equal(ran, 10);
    t.stop();
  });

  it('keeps at most max tasks running at once', async () => {
    const l = new Limiter(3);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 12 }, () =>
        l.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await sleep(5);
          active--;
        }),
      ),
    );
    assert.equal(peak, 3);
  });

  it('carves per-node pod CIDRs and node addresses without overlap', () => {
    assert.equal(nthSubnet('10.64.0.0/10', 24, 0), '10.64.0.0/24');
    assert.equal(nthSubnet('10.64.0.0/10', 24, 4999), '10.83.135.0/24');
    assert.equal(nthAddress('172.16.0.0/12', 0), '172.16.0.1');
    assert.equal(nthAddress('172.16.0.0/12', 300), '172.16.1.45');
    assert.throws(() => nthSubnet('10.0.0.0/24', 24, 1), /no room/);
  });
});
