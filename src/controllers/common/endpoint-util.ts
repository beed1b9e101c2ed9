/**
 * Helpers the Endpoints and EndpointSlice controllers share (upstream's pkg/controller/util/endpoint
 * and endpointslice/util): which pods belong in endpoints, how a Service port resolves against a
 * pod, and the last-change trigger time each write reports.
 */
import type { KObject } from '../../client/rest-client.js';

/** Annotation carrying the time of the earliest change not yet reflected in the endpoints. */
export const LAST_CHANGE_TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';
/** Service label holding the EndpointSlice's Service name. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Label naming the EndpointSlice's manager. */
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
/** Label set on Endpoints the mirroring controller should skip. */
export const SKIP_MIRROR_LABEL = 'endpointslice.kubernetes.io/skip-mirror';
/** Label marking endpoints of a headless Service. */
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';

/** True when the pod's Ready condition is True. */
export function podIsReady(pod: KObject): boolean {
  return !!pod.status?.conditions?.some((c: KObject) => c.type === 'Ready' && c.status === 'True');
}

/** The pod's IPv4 address, if it has one. */
export function podIPv4(pod: KObject): string | undefined {
  const ips: string[] = [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p: KObject) => p?.ip)].filter((s): s is string => typeof s === 'string' && s !== '');
  return ips.find((ip) => !ip.includes(':'));
}

/**
 * Whether a pod should appear in a Service's endpoints at all (upstream's ShouldPodBeInEndpoints):
 * it needs an IP, must not have finished for good, and terminating pods count only when asked.
 */
export function shouldPodBeInEndpoints(pod: KObject, includeTerminating: boolean): boolean {
  const phase = pod.status?.phase;
  const restart = pod.spec?.restartPolicy ?? 'Always';
  // A pod that can never run again cannot serve.
  if (phase === 'Failed' || phase === 'Succeeded') {
    if (restart === 'Never') return false;
    if (restart === 'OnFailure' && phase === 'Succeeded') return false;
  }
  if (!podIPv4(pod)) return false;
  if (!includeTerminating && pod.metadata?.deletionTimestamp) return false;
  return true;
}

/**
 * The port a Service port targets on this pod (upstream's podutil.FindPort): a number as is, a
 * name looked up among the pod's container ports with the same protocol. Throws when not found.
 */
export function findPort(pod: KObject, svcPort: KObject): number {
  const target = svcPort.targetPort ?? svcPort.port;
  const protocol = svcPort.protocol ?? 'TCP';
  if (typeof target === 'number') return target;
  if (typeof target === 'string' && /^[0-9]+$/.test(target)) return Number(target);
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const p of c.ports ?? []) {
      if (p.name === target && (p.protocol ?? 'TCP') === protocol) return Number(p.containerPort);
    }
  }
  throw new Error(`no suitable port for manifest: ${pod.metadata?.uid}`);
}

/** A pod's object reference, as Endpoints and EndpointSlices carry it. */
export function podTargetRef(pod: KObject): KObject {
  return { kind: 'Pod', namespace: pod.metadata?.namespace, name: pod.metadata?.name, uid: pod.metadata?.uid };
}

/** RFC 3339 with nanosecond digits where known, as Go's RFC3339Nano prints. */
export function formatTriggerTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z').replace(/\.Z$/, 'Z');
}

function parseTime(s: unknown): number {
  if (typeof s !== 'string') return 0;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : 0;
}

interface ServiceState {
  lastServiceTrigger: number;
  lastPodTriggers: Map<string, number>;
}

/**
 * Upstream's TriggerTimeTracker: for each Service, the earliest trigger time among the pods (Ready
 * transition) and the Service (creation) that changed since the last sync. Zero when nothing did.
 */
export class TriggerTimeTracker {
  private readonly states = new Map<string, ServiceState>();

  /** Compute for one sync and remember what was seen. `pods` are the Service's selected pods. */
  compute(serviceKey: string, service: KObject, pods: KObject[]): number {
    const prev = this.states.get(serviceKey);
    const next: ServiceState = { lastServiceTrigger: parseTime(service.metadata?.creationTimestamp), lastPodTriggers: new Map() };
    let min = 0;
    const consider = (t: number) => {
      if (t > 0 && (min === 0 || t < min)) min = t;
    };
    if (!prev || prev.lastServiceTrigger !== next.lastServiceTrigger) consider(next.lastServiceTrigger);
    for (const pod of pods) {
      const ready = pod.status?.conditions?.find((c: KObject) => c.type === 'Ready');
      const t = parseTime(ready?.lastTransitionTime);
      const podKey = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
      next.lastPodTriggers.set(podKey, t);
      if (!prev || prev.lastPodTriggers.get(podKey) !== t) consider(t);
    }
    this.states.set(serviceKey, next);
    return min;
  }

  /** Forget a deleted Service. */
  delete(serviceKey: string): void {
    this.states.delete(serviceKey);
  }
}

/** Order-insensitive JSON comparison helper: stable key order for plain objects. */
export function stableJSON(v: unknown): string {
  return JSON.stringify(v ?? null, (_k, val) => {
    if (val && typeof val === 'object' && !Array.isArray(val)) {
      return Object.fromEntries(Object.keys(val).sort().map((k) => [k, (val as Record<string, unknown>)[k]]));
    }
    return val;
  });
}
