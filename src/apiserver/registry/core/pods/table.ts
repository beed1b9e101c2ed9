/**
 * The pods table as `kubectl get pods` shows it (upstream's printPod): Name, Ready, Status,
 * Restarts, Age | IP, Node, Nominated Node, Readiness Gates.
 */
import { translateTimestampSince } from '../../../../api/duration.js';
import type { KObject, TableConvertor } from '../../generic/strategy.js';
import { ageColumn, col, nameColumn } from '../../strategy-helpers.js';

const arr = (v: unknown): any[] => (Array.isArray(v) ? v : []);

function isRestartableInit(c: any): boolean {
  return c?.restartPolicy === 'Always';
}

function conditionTrue(pod: KObject, type: string): boolean {
  return arr(pod.status?.conditions).some((c) => c?.type === type && c?.status === 'True');
}

function laterOf(a: string | undefined, b: string | undefined): string | undefined {
  if (!b) return a;
  if (!a) return b;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/** The cells of one pod row, in column order. */
export function podCells(pod: KObject, now: Date): unknown[] {
  const spec = pod.spec ?? {};
  const status = pod.status ?? {};
  let restarts = 0;
  let sidecarRestarts = 0;
  let totalContainers = arr(spec.containers).length;
  let readyContainers = 0;
  let lastRestart: string | undefined;
  let lastSidecarRestart: string | undefined;

  const phase: string = status.phase ?? '';
  let reason: string = status.reason || phase;
  for (const c of arr(status.conditions)) {
    if (c?.type === 'PodScheduled' && c?.reason === 'SchedulingGated') reason = 'SchedulingGated';
  }

  const initSpecs = new Map<string, any>();
  for (const c of arr(spec.initContainers)) {
    initSpecs.set(c?.name, c);
    if (isRestartableInit(c)) totalContainers++;
  }

  let initializing = false;
  const initStatuses = arr(status.initContainerStatuses);
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i];
    restarts += cs?.restartCount ?? 0;
    const finished = cs?.lastState?.terminated?.finishedAt;
    lastRestart = laterOf(lastRestart, finished);
    const sidecar = isRestartableInit(initSpecs.get(cs?.name));
    if (sidecar) {
      sidecarRestarts += cs?.restartCount ?? 0;
      lastSidecarRestart = laterOf(lastSidecarRestart, finished);
    }
    const term = cs?.state?.terminated;
    const wait = cs?.state?.waiting;
    if (term && term.exitCode === 0) continue;
    if (sidecar && cs?.started === true) {
      if (cs?.ready) readyContainers++;
      continue;
    }
    if (term) {
      if (!term.reason) reason = term.signal ? `Init:Signal:${term.signal}` : `Init:ExitCode:${term.exitCode ?? 0}`;
      else reason = `Init:${term.reason}`;
      initializing = true;
    } else if (wait && wait.reason && wait.reason !== 'PodInitializing') {
      reason = `Init:${wait.reason}`;
      initializing = true;
    } else {
      reason = `Init:${i}/${arr(spec.initContainers).length}`;
      initializing = true;
    }
    break;
  }

  if (!initializing || conditionTrue(pod, 'Initialized')) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = arr(status.containerStatuses);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i];
      restarts += cs?.restartCount ?? 0;
      lastRestart = laterOf(lastRestart, cs?.lastState?.terminated?.finishedAt);
      const wait = cs?.state?.waiting;
      const term = cs?.state?.terminated;
      if (wait && wait.reason) reason = wait.reason;
      else if (term && term.reason) reason = term.reason;
      else if (term && !term.reason) reason = term.signal ? `Signal:${term.signal}` : `ExitCode:${term.exitCode ?? 0}`;
      else if (cs?.ready && cs?.state?.running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    if (reason === 'Completed' && hasRunning) reason = conditionTrue(pod, 'Ready') ? 'Running' : 'NotReady';
  }

  const deleting = !!pod.metadata?.deletionTimestamp;
  if (deleting && status.reason === 'NodeLost') reason = 'Unknown';
  else if (deleting && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  let restartsCell = String(restarts);
  if (restarts !== 0 && lastRestart) restartsCell = `${restarts} (${translateTimestampSince(lastRestart, now)} ago)`;

  const podIP = arr(status.podIPs)[0]?.ip || status.podIP || '<none>';
  const node = spec.nodeName || '<none>';
  const nominated = status.nominatedNodeName || '<none>';
  let gates = '<none>';
  const readinessGates = arr(spec.readinessGates);
  if (readinessGates.length > 0) {
    let trueCount = 0;
    for (const g of readinessGates) {
      const c = arr(status.conditions).find((x) => x?.type === g?.conditionType);
      if (c?.status === 'True') trueCount++;
    }
    gates = `${trueCount}/${readinessGates.length}`;
  }
  return [pod.metadata?.name ?? '', `${readyContainers}/${totalContainers}`, reason, restartsCell, translateTimestampSince(pod.metadata?.creationTimestamp, now), podIP, node, nominated, gates];
}

/** The pods table convertor. */
export const podTable: TableConvertor = {
  columns: [
    nameColumn(),
    col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'string', 'The aggregate status of the containers in this pod.'),
    col('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
    ageColumn(),
    col('IP', 'string', 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
    col('Node', 'string', 'NodeName indicates in which node this pod is scheduled.', 1),
    col('Nominated Node', 'string', 'nominatedNodeName is set only when this pod preempts other pods on the node.', 1),
    col('Readiness Gates', 'string', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
  ],
  cells: podCells,
};
