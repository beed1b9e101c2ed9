/**
 * The EndpointSlice controller (upstream's pkg/controller/endpointslice): for every Service with a
 * selector, IPv4 EndpointSlices named `<service>-<random>` holding at most `maxEndpointsPerSlice`
 * endpoints each, one set of slices per distinct resolved port set, owned by the Service.
 *
 * Reconciling keeps endpoints in the slice they already sit in, fills slices with room before
 * creating new ones, and deletes slices left empty; a Service with no endpoints keeps one empty
 * placeholder slice, as upstream does. Slices this controller created but its cache has not yet
 * seen hold the Service's sync back, so a stale cache never produces duplicates.
 */
import { StatusError } from '../../api/errors.js';
import { selectorFromSet, selectorMatches } from '../../api/labels/index.js';
import type { Component, ComponentContext } from '../../client/component.js';
import { objectFromTombstone, splitMetaNamespaceKey, type DeletedFinalStateUnknown, type Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { newControllerRef } from '../common/controller-ref.js';
import {
  findPort,
  formatTriggerTime,
  HEADLESS_LABEL,
  LAST_CHANGE_TRIGGER_TIME_ANNOTATION,
  MANAGED_BY_LABEL,
  podIPv4,
  podIsReady,
  podTargetRef,
  SERVICE_NAME_LABEL,
  shouldPodBeInEndpoints,
  stableJSON,
  TriggerTimeTracker,
} from '../common/endpoint-util.js';
import { ControllerLoop } from '../common/controller-loop.js';

/** The managed-by value of slices this controller owns. */
export const ENDPOINTSLICE_CONTROLLER_NAME = 'endpointslice-controller.k8s.io';
/** Upstream's default --max-endpoints-per-slice. */
export const DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100;
const ZONE_LABEL = 'topology.kubernetes.io/zone';
const PENDING_TIMEOUT_MS = 10_000;

export interface EndpointSliceControllerOptions {
  /** Concurrent syncs (upstream's --concurrent-service-endpoint-syncs). Default 5. */
  workers?: number;
  /** Default 100. */
  maxEndpointsPerSlice?: number;
  /** Delay coalescing pod changes (upstream's --endpointslice-updates-batch-period). Default 100 ms. */
  batchPeriodMs?: number;
}

const key = (obj: KObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;

function hasSelector(svc: KObject): boolean {
  const sel = svc.spec?.selector;
  return !!sel && typeof sel === 'object' && Object.keys(sel).length > 0;
}

const endpointKey = (ep: KObject): string => ep.targetRef?.uid ?? ep.addresses?.[0] ?? '';
const sortPorts = (ports: KObject[]) => [...ports].sort((a, b) => a.name.localeCompare(b.name) || a.port - b.port || a.protocol.localeCompare(b.protocol));
const portsKey = (ports: KObject[] | undefined) => stableJSON(sortPorts((ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP', ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) }))));

/** Desired endpoints of a Service, grouped by port set. */
export interface DesiredGroup {
  ports: KObject[];
  endpoints: Map<string, KObject>;
}

/**
 * What the Service's slices should contain (upstream's reconciler inputs): one endpoint per pod
 * with an IPv4 address, including terminating pods, grouped by the ports they resolve.
 */
export function desiredEndpoints(svc: KObject, pods: KObject[], nodeZone: (node: string) => string | undefined = () => undefined): Map<string, DesiredGroup> {
  const publishNotReady = !!svc.spec?.publishNotReadyAddresses;
  const groups = new Map<string, DesiredGroup>();
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, true)) continue;
    const ports: KObject[] = [];
    for (const sp of svc.spec?.ports ?? []) {
      let port: number;
      try {
        port = findPort(pod, sp);
      } catch {
        continue;
      }
      const p: KObject = { name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP' };
      if (sp.appProtocol) p.appProtocol = sp.appProtocol;
      ports.push(p);
    }
    const terminating = !!pod.metadata?.deletionTimestamp;
    const ready = podIsReady(pod);
    const ep: KObject = {
      addresses: [podIPv4(pod)],
      conditions: { ready: publishNotReady || (ready && !terminating), serving: ready, terminating },
    };
    if (pod.spec?.hostname && pod.spec?.subdomain === svc.metadata?.name) ep.hostname = pod.spec.hostname;
    if (pod.spec?.nodeName) {
      ep.nodeName = pod.spec.nodeName;
      const zone = nodeZone(pod.spec.nodeName);
      if (zone) ep.zone = zone;
    }
    ep.targetRef = podTargetRef(pod);
    const sorted = sortPorts(ports);
    const k = portsKey(sorted);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { ports: sorted, endpoints: new Map() }));
    g.endpoints.set(endpointKey(ep), ep);
  }
  return groups;
}

interface PlannedSlice {
  existing?: KObject;
  ports: KObject[];
  endpoints: KObject[];
}

/** The EndpointSlice controller, as a {@link Component}. */
export class EndpointSliceController implements Component {
  readonly name = 'endpointslice-controller';
  readonly queue = new WorkQueue<string>({ name: 'endpointslice' });
  private client!: RestClient;
  private svcLister!: Lister;
  private podLister!: Lister;
  private sliceLister!: Lister;
  private nodeLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'service');
  private readonly tracker = new TriggerTimeTracker();
  /** Per Service: slices written (name → resourceVersion written) or deleted (name → '') the cache has not caught up with. */
  private readonly pending = new Map<string, Map<string, { rv: string; at: number }>>();
  private readonly workers: number;
  private readonly maxPerSlice: number;
  private readonly batchMs: number;

  constructor(opts: EndpointSliceControllerOptions = {}) {
    this.workers = opts.workers ?? 5;
    this.maxPerSlice = opts.maxEndpointsPerSlice ?? DEFAULT_MAX_ENDPOINTS_PER_SLICE;
    this.batchMs = opts.batchPeriodMs ?? 100;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const svcInf = ctx.informers.forResource(resources.services);
    const podInf = ctx.informers.forResource(resources.pods);
    const sliceInf = ctx.informers.forResource(resources.endpointslices);
    const nodeInf = ctx.informers.forResource(resources.nodes);
    this.svcLister = svcInf.lister;
    this.podLister = podInf.lister;
    this.sliceLister = sliceInf.lister;
    this.nodeLister = nodeInf.lister;
    const onSlice = (obj: KObject | DeletedFinalStateUnknown) => {
      const s = objectFromTombstone(obj);
      if (s.metadata?.labels?.[MANAGED_BY_LABEL] !== ENDPOINTSLICE_CONTROLLER_NAME) return;
      const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (svc) this.queue.add(`${s.metadata.namespace}/${svc}`);
    };
    this.loop.regs.push(
      svcInf.addEventHandler({
        onAdd: (s) => this.queue.add(key(s)),
        onUpdate: (_o, s) => this.queue.add(key(s)),
        onDelete: (s) => this.queue.add(key(objectFromTombstone(s))),
      }),
      podInf.addEventHandler({
        onAdd: (p) => this.onPod(p),
        onUpdate: (o, p) => {
          if (o.metadata?.resourceVersion === p.metadata?.resourceVersion) return;
          this.onPod(o);
          this.onPod(p);
        },
        onDelete: (p) => this.onPod(p),
      }),
      sliceInf.addEventHandler({ onAdd: onSlice, onUpdate: (_o, s) => onSlice(s), onDelete: onSlice }),
    );
    ctx.informers.start();
    this.loop.run(
      async () => {
        await Promise.all([svcInf.waitForSync(), podInf.waitForSync(), sliceInf.waitForSync(), nodeInf.waitForSync()]);
      },
      this.workers,
      (k) => this.sync(k),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  private onPod(obj: KObject | DeletedFinalStateUnknown): void {
    const pod = objectFromTombstone(obj);
    const labels = pod.metadata?.labels ?? {};
    for (const s of this.svcLister.list(pod.metadata?.namespace ?? '')) {
      if (hasSelector(s) && selectorMatches(selectorFromSet(s.spec.selector), labels)) this.queue.addAfter(key(s), this.batchMs);
    }
  }

  /** Managed slices of the Service in the cache. */
  private slicesOf(namespace: string, name: string): KObject[] {
    return this.sliceLister
      .list(namespace)
      .filter((s) => s.metadata?.labels?.[SERVICE_NAME_LABEL] === name && s.metadata?.labels?.[MANAGED_BY_LABEL] === ENDPOINTSLICE_CONTROLLER_NAME);
  }

  /** True when the cache reflects every write this controller made for the Service. */
  private cacheCaughtUp(svcKey: string, namespace: string): boolean {
    const p = this.pending.get(svcKey);
    if (!p) return true;
    for (const [name, { rv, at }] of p) {
      const s = this.sliceLister.get(namespace, name);
      const have = Number(s?.metadata?.resourceVersion);
      const seen = rv === '' ? !s : !!s && (!Number.isFinite(have) || have >= Number(rv));
      // A write never observed (e.g. replaced by someone else) must not block the Service forever.
      if (seen || Date.now() - at > PENDING_TIMEOUT_MS) p.delete(name);
    }
    if (p.size === 0) this.pending.delete(svcKey);
    return p.size === 0;
  }

  private expect(svcKey: string, name: string, rv: string): void {
    let p = this.pending.get(svcKey);
    if (!p) this.pending.set(svcKey, (p = new Map()));
    p.set(name, { rv, at: Date.now() });
  }

  /** Reconcile the EndpointSlices of one Service. */
  async sync(svcKey: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(svcKey);
    if (!this.cacheCaughtUp(svcKey, namespace)) {
      // Our own writes are not in the cache yet; acting now could duplicate slices.
      this.queue.addAfter(svcKey, 50);
      return;
    }
    const svc = this.svcLister.get(namespace, name);
    const existing = this.slicesOf(namespace, name);
    if (!svc || svc.spec?.type === 'ExternalName') {
      // The garbage collector would remove them through the owner reference; doing it here keeps
      // a cluster without it tidy too.
      this.tracker.delete(svcKey);
      for (const s of existing) await this.deleteSlice(svcKey, s);
      return;
    }
    if (!hasSelector(svc)) return;

    const sel = selectorFromSet(svc.spec.selector);
    const pods = this.podLister.list(namespace).filter((p) => selectorMatches(sel, p.metadata?.labels ?? {}));
    const groups = desiredEndpoints(svc, pods, (n) => this.nodeLister.get('', n)?.metadata?.labels?.[ZONE_LABEL]);
    const trigger = this.tracker.compute(svcKey, svc, pods);
    const { keep, create, remove } = this.plan(existing, groups);

    const labels: Record<string, string> = { ...(svc.metadata?.labels ?? {}), [SERVICE_NAME_LABEL]: name, [MANAGED_BY_LABEL]: ENDPOINTSLICE_CONTROLLER_NAME };
    if (svc.spec?.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
    else delete labels[HEADLESS_LABEL];
    const owner = newControllerRef(svc, { apiVersion: 'v1', kind: 'Service' });
    const annotate = (meta: KObject) => {
      const annotations = { ...(meta.annotations ?? {}) };
      if (trigger > 0) annotations[LAST_CHANGE_TRIGGER_TIME_ANNOTATION] = formatTriggerTime(trigger);
      else delete annotations[LAST_CHANGE_TRIGGER_TIME_ANNOTATION];
      if (Object.keys(annotations).length) meta.annotations = annotations;
      else delete meta.annotations;
      return meta;
    };

    for (const p of create) {
      const slice: KObject = {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: annotate({ generateName: `${name.slice(0, 62 - 5)}-`, namespace, labels, ownerReferences: [owner] }),
        addressType: 'IPv4',
        endpoints: p.endpoints,
        ports: p.ports,
      };
      const created = await this.client.create(resources.endpointslices, namespace, slice);
      this.expect(svcKey, created.metadata.name, String(created.metadata.resourceVersion));
    }
    for (const p of keep) {
      const cur = p.existing!;
      const sameOwner = (cur.metadata?.ownerReferences ?? []).some((r: KObject) => r.uid === svc.metadata?.uid && r.controller);
      const same =
        stableJSON(cur.endpoints ?? []) === stableJSON(p.endpoints) &&
        stableJSON(cur.metadata?.labels ?? {}) === stableJSON(labels) &&
        sameOwner;
      if (same) continue;
      const next: KObject = {
        ...cur,
        metadata: annotate({ ...cur.metadata, labels, ownerReferences: [owner] }),
        endpoints: p.endpoints,
        ports: p.ports,
      };
      const updated = await this.client.update(resources.endpointslices, next);
      this.expect(svcKey, updated.metadata.name, String(updated.metadata.resourceVersion));
    }
    for (const s of remove) await this.deleteSlice(svcKey, s);
  }

  /**
   * Decide which slices to keep (with new contents), create and delete: endpoints stay where they
   * are, new ones fill slices with room first, slices left empty go, and a Service with no
   * endpoints keeps one empty placeholder.
   */
  private plan(existing: KObject[], groups: Map<string, DesiredGroup>): { keep: PlannedSlice[]; create: PlannedSlice[]; remove: KObject[] } {
    const keep: PlannedSlice[] = [];
    const create: PlannedSlice[] = [];
    const remove: KObject[] = [];
    const byPorts = new Map<string, KObject[]>();
    for (const s of existing) {
      // addressType is immutable; only IPv4 slices are ours to fill.
      if (s.addressType !== 'IPv4') {
        remove.push(s);
        continue;
      }
      const k = portsKey(s.ports);
      if (!byPorts.has(k)) byPorts.set(k, []);
      byPorts.get(k)!.push(s);
    }
    const total = [...groups.values()].reduce((n, g) => n + g.endpoints.size, 0);
    if (total === 0) {
      // Placeholder: one slice with neither endpoints nor ports.
      const all = existing.filter((s) => s.addressType === 'IPv4');
      const placeholder = all.find((s) => !(s.endpoints ?? []).length && !(s.ports ?? []).length) ?? all[0];
      if (placeholder) keep.push({ existing: placeholder, ports: [], endpoints: [] });
      else create.push({ ports: [], endpoints: [] });
      for (const s of all) if (s !== placeholder) remove.push(s);
      return { keep, create, remove };
    }
    for (const [k, g] of groups) {
      const remaining = new Map(g.endpoints);
      const slices: PlannedSlice[] = [];
      for (const s of byPorts.get(k) ?? []) {
        const eps: KObject[] = [];
        for (const ep of s.endpoints ?? []) {
          const want = remaining.get(endpointKey(ep));
          if (want && eps.length < this.maxPerSlice) {
            eps.push(want);
            remaining.delete(endpointKey(ep));
          }
        }
        slices.push({ existing: s, ports: g.ports, endpoints: eps });
      }
      byPorts.delete(k);
      const rest = [...remaining.values()];
      // Fill the fullest slices first so the set stays compact.
      for (const p of [...slices].sort((a, b) => b.endpoints.length - a.endpoints.length)) {
        if (p.endpoints.length === 0) continue;
        while (rest.length && p.endpoints.length < this.maxPerSlice) p.endpoints.push(rest.shift()!);
      }
      for (const p of slices) {
        if (p.endpoints.length === 0 && rest.length) while (rest.length && p.endpoints.length < this.maxPerSlice) p.endpoints.push(rest.shift()!);
      }
      while (rest.length) create.push({ ports: g.ports, endpoints: rest.splice(0, this.maxPerSlice) });
      for (const p of slices) {
        if (p.endpoints.length === 0) remove.push(p.existing!);
        else {
          p.endpoints.sort((a, b) => String(a.addresses[0]).localeCompare(String(b.addresses[0])));
          keep.push(p);
        }
      }
    }
    for (const k of create) k.endpoints.sort((a, b) => String(a.addresses[0]).localeCompare(String(b.addresses[0])));
    for (const leftover of byPorts.values()) remove.push(...leftover);
    return { keep, create, remove };
  }

  private async deleteSlice(svcKey: string, s: KObject): Promise<void> {
    try {
      await this.client.delete(resources.endpointslices, s.metadata.namespace, s.metadata.name, { preconditions: { uid: s.metadata.uid } });
    } catch (e) {
      if (!(e instanceof StatusError && (e.code === 404 || e.code === 409))) throw e;
    }
    this.expect(svcKey, s.metadata.name, '');
  }
}
