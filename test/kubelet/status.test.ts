import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeRuntime, EXIT_CODE_ANNOTATION, RUN_DURATION_ANNOTATION } from '../../src/kubelet/runtime/fake-runtime.js';
import { criLabels, type PodSandboxConfig } from '../../src/kubelet/runtime/runtime.js';
import { computePodStatus, type PodRuntimeView } from '../../src/kubelet/status.js';
import type { KObject } from '../../src/client/rest-client.js';

const CIDR = '10.64.3.0/24';

function pod(spec: KObject, extra: { annotations?: Record<string, string>; status?: KObject } = {}): KObject {
  return { metadata: { name: 'p', namespace: 'default', uid: 'u-1', annotations: extra.annotations ?? {} }, spec: { restartPolicy: 'Always', ...spec }, status: extra.status ?? {} };
}
const one = (image = 'nginx:1.27') => ({ containers: [{ name: 'c', image }] });

/** Run the pod's containers in a fresh fake runtime the way the kubelet would, and read the view. */
async function run(p: KObject, opts: { runMs?: number; startInit?: string[]; startMain?: boolean; waitMs?: number; sandbox?: boolean } = {}): Promise<{ view: PodRuntimeView; rt: FakeRuntime }> {
  const rt = new FakeRuntime({ podCIDR: CIDR, runDurationMs: opts.runMs ?? 1000 });
  if (opts.sandbox === false) return { view: { containers: [] }, rt };
  const cfg: PodSandboxConfig = {
    metadata: { name: p.metadata.name, namespace: 'default', uid: p.metadata.uid, attempt: 0 },
    labels: {},
    annotations: { ...p.metadata.annotations, [criLabels.restartPolicy]: p.spec.restartPolicy },
  };
  const sb = await rt.runPodSandbox(cfg);
  const start = async (c: KObject) => {
    await rt.pullImage({ image: c.image });
    const id = await rt.createContainer(sb, { metadata: { name: c.name, attempt: 0 }, image: { image: c.image }, labels: { [criLabels.containerName]: c.name }, annotations: {} });
    await rt.startContainer(id);
  };
  for (const name of opts.startInit ?? []) await start(p.spec.initContainers.find((c: KObject) => c.name === name));
  if (opts.startMain !== false) for (const c of p.spec.containers) await start(c);
  if (opts.waitMs) await sleep(opts.waitMs);
  const containers = await Promise.all((await rt.listContainers({ podSandboxId: sb })).map((c) => rt.containerStatus(c.id)));
  const view = { sandbox: await rt.podSandboxStatus(sb), containers };
  rt.close();
  return { view, rt };
}

const ctx = { hostIP: '172.16.0.4', runtimeName: 'k8ts-fake', now: '2025-01-01T00:00:00Z' };
const cond = (st: KObject, type: string) => st.conditions.find((c: KObject) => c.type === type);

describe('pod status computed from the fake runtime', () => {
  it('a pod whose sandbox does not exist yet is Pending with its containers waiting in ContainerCreating', async () => {
    const p = pod(one());
    const { view } = await run(p, { sandbox: false });
    const st = computePodStatus(p, view, ctx);
    assert.equal(st.phase, 'Pending');
    assert.equal(cond(st, 'PodReadyToStartContainers').status, 'False');
    assert.deepEqual(st.containerStatuses[0].state, { waiting: { reason: 'ContainerCreating' } });
    assert.equal(st.podIP, undefined);
  });

  it('a running long-lived pod is Running and Ready with a pod IP from the node range and filled-in container statuses', async () => {
    const p = pod(one());
    const { view } = await run(p);
    const st = computePodStatus(p, view, ctx);
    assert.equal(st.phase, 'Running');
    for (const t of ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled']) assert.equal(cond(st, t).status, 'True', t);
    assert.match(st.podIP, /^10\.64\.3\.\d+$/);
    assert.deepEqual(st.podIPs, [{ ip: st.podIP }]);
    assert.equal(st.hostIP, '172.16.0.4');
    assert.equal(st.qosClass, 'BestEffort');
    const cs = st.containerStatuses[0];
    assert.equal(cs.ready, true);
    assert.equal(cs.started, true);
    assert.equal(cs.restartCount, 0);
    assert.ok(cs.state.running.startedAt);
    assert.match(cs.containerID, /^k8ts-fake:\/\/[0-9a-f]{64}$/);
    assert.match(cs.imageID, /^docker\.io\/library\/nginx@sha256:[0-9a-f]{64}$/);
  });

  const batch: { name: string; policy: string; code: string; phase: string; reason: string }[] = [
    { name: 'a Never pod whose container exits 0 Succeeds', policy: 'Never', code: '0', phase: 'Succeeded', reason: 'Completed' },
    { name: 'a Never pod whose container exits 1 Fails', policy: 'Never', code: '1', phase: 'Failed', reason: 'Error' },
    { name: 'an OnFailure pod whose container exits 0 Succeeds', policy: 'OnFailure', code: '0', phase: 'Succeeded', reason: 'Completed' },
    { name: 'an OnFailure pod whose container exits 1 stays Running (it will be restarted)', policy: 'OnFailure', code: '1', phase: 'Running', reason: 'Error' },
  ];
  for (const t of batch) {
    it(t.name, async () => {
      const p = pod({ ...one(), restartPolicy: t.policy }, { annotations: { [EXIT_CODE_ANNOTATION]: t.code } });
      const { view } = await run(p, { runMs: 20, waitMs: 60 });
      const st = computePodStatus(p, view, ctx);
      assert.equal(st.phase, t.phase);
      assert.equal(st.containerStatuses[0].state.terminated.exitCode, Number(t.code));
      assert.equal(st.containerStatuses[0].state.terminated.reason, t.reason);
      assert.equal(cond(st, 'Ready').status, 'False');
      if (t.phase !== 'Running') assert.equal(cond(st, 'Ready').reason, 'PodCompleted');
    });
  }

  it('an Always pod held in back-off is Running with its container waiting in CrashLoopBackOff and the exit as lastState', async () => {
    const p = pod(one(), { annotations: { [RUN_DURATION_ANNOTATION]: '10', [EXIT_CODE_ANNOTATION]: '2' } });
    const { view } = await run(p, { waitMs: 50 });
    const st = computePodStatus(p, view, { ...ctx, waiting: { c: { reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container=c pod=p_default(u-1)' } } });
    assert.equal(st.phase, 'Running');
    const cs = st.containerStatuses[0];
    assert.equal(cs.state.waiting.reason, 'CrashLoopBackOff');
    assert.equal(cs.lastState.terminated.exitCode, 2);
    assert.equal(cond(st, 'ContainersReady').reason, 'ContainersNotReady');
    assert.equal(cond(st, 'ContainersReady').message, 'containers with unready status: [c]');
  });

  it('a pod with a running init container is Pending, not Initialized, and its app containers wait in PodInitializing', async () => {
    const p = pod({ initContainers: [{ name: 'init', image: 'busybox:1.36' }], containers: [{ name: 'c', image: 'nginx:1.27' }] });
    const { view } = await run(p, { startInit: ['init'], startMain: false });
    const st = computePodStatus(p, view, ctx);
    assert.equal(st.phase, 'Pending');
    assert.equal(cond(st, 'Initialized').status, 'False');
    assert.equal(cond(st, 'Initialized').message, 'containers with incomplete status: [init]');
    assert.equal(st.initContainerStatuses[0].state.running !== undefined, true);
    assert.deepEqual(st.containerStatuses[0].state, { waiting: { reason: 'PodInitializing' } });
  });

  it('a readiness gate whose condition is missing keeps the pod unready while its containers are ready', async () => {
    const p = pod({ ...one(), readinessGates: [{ conditionType: 'example.com/lb' }] });
    const { view } = await run(p);
    const st = computePodStatus(p, view, ctx);
    assert.equal(cond(st, 'ContainersReady').status, 'True');
    assert.equal(cond(st, 'Ready').status, 'False');
    assert.equal(cond(st, 'Ready').reason, 'ReadinessGatesNotReady');
  });

  it('a condition whose status did not change keeps its lastTransitionTime, and one that changed gets now', async () => {
    const p = pod(one(), { status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2020-01-01T00:00:00Z' }, { type: 'Initialized', status: 'False', lastTransitionTime: '2020-01-01T00:00:00Z' }] } });
    const { view } = await run(p);
    const st = computePodStatus(p, view, ctx);
    assert.equal(cond(st, 'Ready').lastTransitionTime, '2020-01-01T00:00:00Z');
    assert.equal(cond(st, 'Initialized').lastTransitionTime, ctx.now);
  });

  it('a Guaranteed pod reports qosClass Guaranteed', async () => {
    const res = { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } };
    const p = pod({ containers: [{ name: 'c', image: 'nginx:1.27', resources: res }] });
    const { view } = await run(p);
    assert.equal(computePodStatus(p, view, ctx).qosClass, 'Guaranteed');
  });

  it('a pod being torn down whose containers stopped with exit 0 is Succeeded even with restartPolicy Always', async () => {
    const p = pod(one());
    const { view } = await run(p);
    const stopped = { ...view, containers: view.containers.map((c) => ({ ...c, state: 'CONTAINER_EXITED' as const, exitCode: 0, finishedAt: c.startedAt })) };
    assert.equal(computePodStatus(p, stopped, { ...ctx, terminating: true, podIP: '10.64.3.9' }).phase, 'Succeeded');
  });
});
