/**
 * Pod status from what the runtime reports: phase, conditions and container statuses, as the
 * kubelet's generateAPIPodStatus computes them. Pure functions, so they are tested without a cluster.
 */
import { computePodQOS } from '../api/defaulting/pod.js';
import type { KObject } from '../client/rest-client.js';
import { criLabels, type ContainerStatus, type PodSandboxStatus } from './runtime/runtime.js';
import { rfc3339 } from '../base/time.js';

/** What the runtime holds for one pod. */
export interface PodRuntimeView {
  sandbox?: PodSandboxStatus;
  /** Every container of the pod the runtime still has (all attempts still present). */
  containers: ContainerStatus[];
}

/** Inputs besides the pod and the runtime view. */
export interface StatusContext {
  hostIP: string;
  /** CRI runtime name, for containerID (`<runtime>://<id>`). */
  runtimeName: string;
  /** RFC 3339 now. */
  now: string;
  /** When the kubelet first saw the pod; kept across updates. */
  startTime?: string;
  /** A pod IP to report when the sandbox no longer says (stopped pods keep their IP in status). */
  podIP?: string;
  /** Containers the kubelet holds back, with the waiting reason, e.g. CrashLoopBackOff. */
  waiting?: Record<string, { reason: string; message?: string }>;
  /** The pod is being torn down (deleted, or finished and stopped). */
  terminating?: boolean;
  /** Probe results by container ID; undefined means the container has no such probe. */
  probes?: { ready(containerId: string): boolean | undefined; started(containerId: string): boolean | undefined };
}

export { rfc3339 };
const fromNanos = (ns: number) => rfc3339(ns / 1e6);

/** The latest attempt per container name, and the one before it. */
export function latestByName(containers: ContainerStatus[]): Map<string, { latest: ContainerStatus; previous?: ContainerStatus }> {
  const out = new Map<string, { latest: ContainerStatus; previous?: ContainerStatus }>();
  const byAttempt = [...containers].sort((a, b) => b.metadata.attempt - a.metadata.attempt || b.createdAt - a.createdAt);
  for (const c of byAttempt) {
    const name = c.labels[criLabels.containerName] ?? c.metadata.name;
    const e = out.get(name);
    if (!e) out.set(name, { latest: c });
    else if (!e.previous) e.previous = c;
  }
  return out;
}

function terminated(c: ContainerStatus, runtimeName: string): KObject {
  return {
    terminated: {
      exitCode: c.exitCode,
      reason: c.reason || (c.exitCode === 0 ? 'Completed' : 'Error'),
      ...(c.message ? { message: c.message } : {}),
      startedAt: c.startedAt ? fromNanos(c.startedAt) : null,
      finishedAt: c.finishedAt ? fromNanos(c.finishedAt) : null,
      containerID: `${runtimeName}://${c.id}`,
    },
  };
}

/** One v1.ContainerStatus. */
function containerStatus(spec: KObject, entry: { latest: ContainerStatus; previous?: ContainerStatus } | undefined, ctx: StatusContext, defaultWaiting: string, init: boolean): KObject {
  const out: KObject = { name: spec.name, state: {}, lastState: {}, ready: false, restartCount: 0, image: spec.image, imageID: '', started: false };
  if (!entry) {
    const why = ctx.waiting?.[spec.name];
    out.state = { waiting: why ? { reason: why.reason, ...(why.message ? { message: why.message } : {}) } : { reason: defaultWaiting } };
    return out;
  }
  const { latest, previous } = entry;
  out.restartCount = latest.metadata.attempt;
  out.imageID = latest.imageRef;
  out.containerID = `${ctx.runtimeName}://${latest.id}`;
  const held = ctx.waiting?.[spec.name];
  if (held && latest.state === 'CONTAINER_EXITED') {
    out.state = { waiting: { reason: held.reason, ...(held.message ? { message: held.message } : {}) } };
    out.lastState = terminated(latest, ctx.runtimeName);
    return out;
  }
  if (previous?.state === 'CONTAINER_EXITED') out.lastState = terminated(previous, ctx.runtimeName);
  switch (latest.state) {
    case 'CONTAINER_RUNNING':
      out.state = { running: { startedAt: fromNanos(latest.startedAt) } };
      // Without probes a running container is started and ready; with them, once they succeed.
      out.started = ctx.probes?.started(latest.id) ?? true;
      out.ready = !init && out.started && (ctx.probes?.ready(latest.id) ?? true);
      break;
    case 'CONTAINER_EXITED':
      out.state = terminated(latest, ctx.runtimeName);
      out.ready = init && latest.exitCode === 0;
      break;
    case 'CONTAINER_CREATED':
      out.state = { waiting: { reason: 'ContainerCreating' } };
      break;
    default:
      out.state = { waiting: { reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated' } };
  }
  return out;
}

const isTerminatedWith = (s: KObject, ok: (code: number) => boolean) => s.state?.terminated && ok(s.state.terminated.exitCode);
const lastTerminated = (s: KObject) => !!s.lastState?.terminated;

/**
 * The pod phase (upstream getPhase): Pending until init containers succeeded and every container
 * started; Running while any runs or will be restarted; Succeeded/Failed when all stopped for good.
 */
export function podPhase(pod: KObject, init: KObject[], regular: KObject[], terminal: boolean): string {
  const policy = pod.spec?.restartPolicy ?? 'Always';
  let pendingInit = false;
  let failedInit = false;
  for (const s of init) {
    if (isTerminatedWith(s, (c) => c === 0)) continue;
    pendingInit = true;
    const failed = isTerminatedWith(s, (c) => c !== 0) || (s.state?.waiting && s.lastState?.terminated && s.lastState.terminated.exitCode !== 0);
    if (failed && policy === 'Never') failedInit = true;
    break;
  }
  if (failedInit) return 'Failed';
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of regular) {
    if (s.state?.running) running++;
    else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state?.waiting) {
      if (lastTerminated(s)) stopped++;
      else waiting++;
    }
  }
  if (pendingInit && !terminal) return 'Pending';
  if (waiting > 0 && !terminal) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0 || terminal) {
    if (terminal) return stopped > 0 && stopped === succeeded && waiting === 0 ? 'Succeeded' : 'Failed';
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'OnFailure') return 'Running';
    return 'Failed';
  }
  return 'Pending';
}

function condition(type: string, ok: boolean, prev: KObject[] | undefined, now: string, reason?: string, message?: string): KObject {
  const status = ok ? 'True' : 'False';
  const old = prev?.find((c) => c?.type === type);
  const c: KObject = { type, status, lastTransitionTime: old && old.status === status && old.lastTransitionTime ? old.lastTransitionTime : now };
  if (reason) c.reason = reason;
  if (message) c.message = message;
  return c;
}

/** The whole status the kubelet writes for a pod. */
export function computePodStatus(pod: KObject, view: PodRuntimeView, ctx: StatusContext): KObject {
  const spec = pod.spec ?? {};
  const prevConds: KObject[] | undefined = pod.status?.conditions;
  const byName = latestByName(view.containers);
  const initSpecs: KObject[] = spec.initContainers ?? [];
  const specs: KObject[] = spec.containers ?? [];

  const initStatuses: KObject[] = [];
  let initDone = true;
  for (const c of initSpecs) {
    const st = containerStatus(c, byName.get(c.name), ctx, 'PodInitializing', true);
    initStatuses.push(st);
    if (!isTerminatedWith(st, (code) => code === 0)) initDone = false;
  }
  const statuses = specs.map((c) => containerStatus(c, byName.get(c.name), ctx, initDone ? 'ContainerCreating' : 'PodInitializing', false));
  const running = statuses.some((s) => s.state.running) || initStatuses.some((s) => s.state.running);
  const phase = podPhase(pod, initStatuses, statuses, !!ctx.terminating && !running);

  const sandboxReady = view.sandbox?.state === 'SANDBOX_READY';
  const hostNetwork = !!spec.hostNetwork;
  const podIP = hostNetwork ? ctx.hostIP : (sandboxReady ? view.sandbox?.network?.ip : undefined) || ctx.podIP || '';
  const completed = phase === 'Succeeded' || phase === 'Failed';
  const unready = statuses.filter((s) => !s.ready).map((s) => s.name);
  const containersReady = !completed && unready.length === 0;
  const notReadyReason = completed ? 'PodCompleted' : 'ContainersNotReady';
  const notReadyMsg = completed ? undefined : `containers with unready status: [${unready.join(' ')}]`;

  // Readiness gates: conditions others set on the pod.
  const missingGates: string[] = [];
  for (const g of spec.readinessGates ?? []) {
    const c = prevConds?.find((x) => x?.type === g.conditionType);
    if (!c || c.status !== 'True') missingGates.push(g.conditionType);
  }
  const ready = containersReady && missingGates.length === 0;
  const incompleteInit = initStatuses.filter((s) => !isTerminatedWith(s, (code) => code === 0)).map((s) => s.name);

  const conditions = [
    condition('PodReadyToStartContainers', sandboxReady, prevConds, ctx.now),
    condition('Initialized', initDone || completed, prevConds, ctx.now, initDone || completed ? undefined : 'ContainersNotInitialized', initDone || completed ? undefined : `containers with incomplete status: [${incompleteInit.join(' ')}]`),
    condition(
      'Ready',
      ready,
      prevConds,
      ctx.now,
      ready ? undefined : containersReady ? 'ReadinessGatesNotReady' : notReadyReason,
      ready ? undefined : containersReady ? `corresponding condition of pod readiness gate "${missingGates[0]}" does not exist.` : notReadyMsg,
    ),
    condition('ContainersReady', containersReady, prevConds, ctx.now, containersReady ? undefined : notReadyReason, containersReady ? undefined : notReadyMsg),
    condition('PodScheduled', true, prevConds, ctx.now),
  ];

  const status: KObject = {
    phase,
    conditions,
    hostIP: ctx.hostIP,
    hostIPs: [{ ip: ctx.hostIP }],
    startTime: ctx.startTime ?? pod.status?.startTime ?? ctx.now,
    containerStatuses: statuses,
    qosClass: computePodQOS(pod),
  };
  if (podIP) {
    status.podIP = podIP;
    status.podIPs = [{ ip: podIP }];
  }
  if (initStatuses.length) status.initContainerStatuses = initStatuses;
  // Ephemeral containers are reported, but never make the pod ready, running or done.
  const ephemeral: KObject[] = spec.ephemeralContainers ?? [];
  if (ephemeral.length) status.ephemeralContainerStatuses = ephemeral.map((c) => ({ ...containerStatus(c, byName.get(c.name), ctx, 'ContainerCreating', false), ready: false }));
  return status;
}

/** A stable text of a status without heartbeat-like noise, to tell real changes apart. */
export function statusFingerprint(status: KObject): string {
  return JSON.stringify(status);
}
