/**
 * The Endpoints controller (upstream's pkg/controller/endpoint): for every Service with a selector,
 * an Endpoints object of the same name listing the selected pods' addresses, ready ones in
 * `addresses` and the rest in `notReadyAddresses`, grouped by resolved port set.
 *
 * It also plays the API server's endpoint reconciler for the selector-less `kubernetes` Service in
 * default: its Endpoints and EndpointSlice point at the API server itself.
 *
 * Pod changes are enqueued after a short batch period so a burst costs one write per Service.
 */
import { StatusError } from '../../api/errors.js';
import { selectorFromSet, selectorMatches } from '../../api/labels/index.js';
import { logger } from '../../base/log.js';
import type { Component, ComponentContext } from '../../client/component.js';
import { objectFromTombstone, splitMetaNamespaceKey, type DeletedFinalStateUnknown, type Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import {
  findPort,
  formatTriggerTime,
  HEADLESS_LABEL,
  LAST_CHANGE_TRIGGER_TIME_ANNOTATION,
  podIPv4,
  podIsReady,
  podTargetRef,
  SERVICE_NAME_LABEL,
  shouldPodBeInEndpoints,
  SKIP_MIRROR_LABEL,
  stableJSON,
  TriggerTimeTracker,
} from '../common/endpoint-util.js';
import { ControllerLoop } from '../common/controller-loop.js';

const log = logger('endpoints-controller');

/** Where the API server listens, for the `kubernetes` Service's endpoints. */
export interface APIServerEndpoint {
  ip: string;
  port: number;
}

export interface EndpointsControllerOptions {
  /** Concurrent syncs (upstream's --concurrent-endpoint-syncs). Default 5. */
  workers?: number;
  /** Delay coalescing pod changes into one write (upstream's --endpoint-updates-batch-period). Default 100 ms. */
  batchPeriodMs?: number;
  /** When set, keep default/kubernetes Endpoints and EndpointSlice pointing here. */
  apiServerEndpoint?: APIServerEndpoint;
  /** How often the `kubernetes` endpoints are re-asserted (upstream's endpoint-reconciler interval). Default 10 s. */
  apiServerReconcileMs?: number;
}

const KUBERNETES_KEY = 'default/kubernetes';
const key = (obj: KObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function hasSelector(svc: KObject): boolean {
  const sel = svc.spec?.selector;
  return !!sel && typeof sel === 'object' && Object.keys(sel).length > 0;
}

/**
 * The Endpoints subsets a Service should have for these pods (upstream's syncService body plus
 * RepackSubsets): addresses grouped by identical port sets, everything sorted for stable output.
 */
export function computeEndpointSubsets(svc: KObject, pods: KObject[]): KObject[] {
  const tolerateUnready = !!svc.spec?.publishNotReadyAddresses;
  const headless = svc.spec?.clusterIP === 'None';
  const svcPorts: KObject[] = svc.spec?.ports ?? [];
  // portSetKey → { ports, ready, notReady }
  const groups = new Map<string, { ports: KObject[]; ready: KObject[]; notReady: KObject[] }>();
  const add = (ports: KObject[], addr: KObject, ready: boolean) => {
    const sorted = [...ports].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.port - b.port || a.protocol.localeCompare(b.protocol));
    const k = stableJSON(sorted);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { ports: sorted, ready: [], notReady: [] }));
    (ready ? g.ready : g.notReady).push(addr);
  };
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, tolerateUnready)) continue;
    const addr: KObject = { ip: podIPv4(pod) };
    if (pod.spec?.hostname && pod.spec?.subdomain === svc.metadata?.name) addr.hostname = pod.spec.hostname;
    if (pod.spec?.nodeName) addr.nodeName = pod.spec.nodeName;
    addr.targetRef = podTargetRef(pod);
    const ready = tolerateUnready || podIsReady(pod);
    if (svcPorts.length === 0) {
      // Only headless Services publish portless addresses.
      if (headless) add([], addr, ready);
      continue;
    }
    const ports: KObject[] = [];
    for (const sp of svcPorts) {
      let port: number;
      try {
        port = findPort(pod, sp);
      } catch (e) {
        log.debug('skipping unresolvable port', { service: key(svc), pod: pod.metadata?.name, err: errText(e) });
        continue;
      }
      const p: KObject = { port, protocol: sp.protocol ?? 'TCP' };
      if (sp.name) p.name = sp.name;
      if (sp.appProtocol) p.appProtocol = sp.appProtocol;
      ports.push(p);
    }
    if (ports.length > 0 || headless) add(ports, addr, ready);
  }
  const byAddr = (a: KObject, b: KObject) => a.ip.localeCompare(b.ip) || (a.targetRef?.uid ?? '').localeCompare(b.targetRef?.uid ?? '');
  const subsets: KObject[] = [];
  for (const g of [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, v]) => v)) {
    const ss: KObject = {};
    if (g.ready.length) ss.addresses = g.ready.sort(byAddr);
    if (g.notReady.length) ss.notReadyAddresses = g.notReady.sort(byAddr);
    if (g.ports.length) ss.ports = g.ports;
    subsets.push(ss);
  }
  return subsets;
}

/** The Endpoints controller, as a {@link Component}. */
export class EndpointsController implements Component {
  readonly name = 'endpoints-controller';
  readonly queue = new WorkQueue<string>({ name: 'endpoints' });
  private client!: RestClient;
  private svcLister!: Lister;
  private podLister!: Lister;
  private epLister!: Lister;
  private sliceLister?: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'service');
  private readonly tracker = new TriggerTimeTracker();
  private readonly workers: number;
  private readonly batchMs: number;
  private readonly apiServer?: APIServerEndpoint;
  private readonly apiServerReconcileMs: number;
  private warnedInvalidAPIServer = false;

  constructor(opts: EndpointsControllerOptions = {}) {
    this.workers = opts.workers ?? 5;
    this.batchMs = opts.batchPeriodMs ?? 100;
    this.apiServer = opts.apiServerEndpoint;
    this.apiServerReconcileMs = opts.apiServerReconcileMs ?? 10_000;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const svcInf = ctx.informers.forResource(resources.services);
    const podInf = ctx.informers.forResource(resources.pods);
    const epInf = ctx.informers.forResource(resources.endpoints);
    this.svcLister = svcInf.lister;
    this.podLister = podInf.lister;
    this.epLister = epInf.lister;
    const synced = [svcInf.waitForSync(), podInf.waitForSync(), epInf.waitForSync()];
    this.loop.regs.push(
      svcInf.addEventHandler({
        onAdd: (s) => this.queue.add(key(s)),
        onUpdate: (_o, s) => this.queue.add(key(s)),
        onDelete: (s) => this.queue.add(key(objectFromTombstone(s))),
      }),
      podInf.addEventHandler({
        onAdd: (p) => this.onPod(p),
        onUpdate: (o, p) => this.onPodUpdate(o, p),
        onDelete: (p) => this.onPod(p),
      }),
      // Someone else changed or removed our object: put it back.
      epInf.addEventHandler({
        onUpdate: (_o, e) => this.queue.add(key(e)),
        onDelete: (e) => this.queue.add(key(objectFromTombstone(e))),
      }),
    );
    if (this.apiServer) {
      const sliceInf = ctx.informers.forResource(resources.endpointslices);
      this.sliceLister = sliceInf.lister;
      synced.push(sliceInf.waitForSync());
      const onSlice = (s: KObject | DeletedFinalStateUnknown) => {
        if (key(objectFromTombstone(s)) === KUBERNETES_KEY) this.queue.add(KUBERNETES_KEY);
      };
      this.loop.regs.push(sliceInf.addEventHandler({ onAdd: onSlice, onUpdate: (_o, s) => onSlice(s), onDelete: onSlice }));
    }
    ctx.informers.start();
    this.loop.run(
      async () => {
        await Promise.all(synced);
        if (this.loop.stopped) return;
        await this.deleteLeftovers();
      },
      this.workers,
      (k) => this.sync(k),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Services in the pod's namespace whose selector matches these labels. */
  private servicesFor(ns: string, labels: Record<string, string>): string[] {
    return this.svcLister
      .list(ns)
      .filter((s) => hasSelector(s) && selectorMatches(selectorFromSet(s.spec.selector), labels))
      .map(key);
  }

  private onPod(obj: KObject | DeletedFinalStateUnknown): void {
    const pod = objectFromTombstone(obj);
    for (const k of this.servicesFor(pod.metadata?.namespace ?? '', pod.metadata?.labels ?? {})) this.queue.addAfter(k, this.batchMs);
  }

  private onPodUpdate(old: KObject, cur: KObject): void {
    if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
    const keys = new Set(this.servicesFor(cur.metadata?.namespace ?? '', cur.metadata?.labels ?? {}));
    for (const k of this.servicesFor(old.metadata?.namespace ?? '', old.metadata?.labels ?? {})) keys.add(k);
    for (const k of keys) this.queue.addAfter(k, this.batchMs);
  }

  /** Endpoints whose Service is gone were orphaned while we were down (upstream's checkLeftoverEndpoints). */
  private async deleteLeftovers(): Promise<void> {
    for (const ep of this.epLister.list()) {
      // Leader-election records and selector-less user endpoints are not ours; we only remove
      // objects we would have written, i.e. ones marked skip-mirror.
      if (ep.metadata?.labels?.[SKIP_MIRROR_LABEL] !== 'true') continue;
      if (!this.svcLister.get(ep.metadata.namespace, ep.metadata.name)) this.queue.add(key(ep));
    }
  }

  /** Reconcile the Endpoints of one Service. */
  async sync(svcKey: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(svcKey);
    if (svcKey === KUBERNETES_KEY && this.apiServer) {
      try {
        await this.syncAPIServer();
      } catch (e) {
        // Invalid (e.g. a loopback address, which validation refuses) will not fix itself: say so once.
        if (!(e instanceof StatusError && e.code === 422)) throw e;
        if (!this.warnedInvalidAPIServer) log.error('cannot publish the API server endpoint', { endpoint: this.apiServer, err: errText(e) });
        this.warnedInvalidAPIServer = true;
      }
      this.queue.addAfter(KUBERNETES_KEY, this.apiServerReconcileMs);
      return;
    }
    const svc = this.svcLister.get(namespace, name);
    if (!svc) {
      this.tracker.delete(svcKey);
      const ep = this.epLister.get(namespace, name);
      // Only delete what this controller would have written.
      if (ep && ep.metadata?.labels?.[SKIP_MIRROR_LABEL] === 'true') await this.deleteIgnoringNotFound(resources.endpoints, namespace, name);
      return;
    }
    if (!hasSelector(svc) || svc.spec?.type === 'ExternalName') return;
    const sel = selectorFromSet(svc.spec.selector);
    const pods = this.podLister.list(namespace).filter((p) => selectorMatches(sel, p.metadata?.labels ?? {}));
    const subsets = computeEndpointSubsets(svc, pods);
    const trigger = this.tracker.compute(svcKey, svc, pods);

    const labels: Record<string, string> = { ...(svc.metadata?.labels ?? {}), [SKIP_MIRROR_LABEL]: 'true' };
    if (svc.spec?.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
    else delete labels[HEADLESS_LABEL];

    const cur = this.epLister.get(namespace, name);
    if (cur && stableJSON(cur.subsets ?? []) === stableJSON(subsets) && stableJSON(cur.metadata?.labels ?? {}) === stableJSON(labels)) return;

    const annotations: Record<string, string> = { ...(cur?.metadata?.annotations ?? {}) };
    if (trigger > 0) annotations[LAST_CHANGE_TRIGGER_TIME_ANNOTATION] = formatTriggerTime(trigger);
    else delete annotations[LAST_CHANGE_TRIGGER_TIME_ANNOTATION];
    const next: KObject = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { ...(cur?.metadata ?? { name, namespace }), labels, annotations },
      subsets,
    };
    if (Object.keys(annotations).length === 0) delete next.metadata.annotations;
    if (cur) await this.client.update(resources.endpoints, next);
    else await this.createTolerantOfExisting(next);
  }

  private async createTolerantOfExisting(ep: KObject): Promise<void> {
    try {
      await this.client.create(resources.endpoints, ep.metadata.namespace, ep);
    } catch (e) {
      // The cache had not seen it yet: retry against the real object.
      if (e instanceof StatusError && e.code === 409) throw new Error(`endpoints ${key(ep)} already exists; retrying`);
      throw e;
    }
  }

  private async deleteIgnoringNotFound(ref: (typeof resources)[keyof typeof resources], ns: string, name: string): Promise<void> {
    try {
      await this.client.delete(ref, ns, name);
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 404)) throw e;
    }
  }

  /** Keep default/kubernetes Endpoints and EndpointSlice pointing at the API server. */
  private async syncAPIServer(): Promise<void> {
    const { ip, port } = this.apiServer!;
    const ports = [{ name: 'https', port, protocol: 'TCP' }];
    const wantEp: KObject = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { [SKIP_MIRROR_LABEL]: 'true' } },
      subsets: [{ addresses: [{ ip }], ports }],
    };
    const curEp = this.epLister.get('default', 'kubernetes');
    if (!curEp) await this.createOrIgnore(resources.endpoints, wantEp);
    else if (stableJSON(curEp.subsets) !== stableJSON(wantEp.subsets) || curEp.metadata?.labels?.[SKIP_MIRROR_LABEL] !== 'true') {
      await this.client.update(resources.endpoints, { ...wantEp, metadata: { ...curEp.metadata, labels: { ...(curEp.metadata?.labels ?? {}), [SKIP_MIRROR_LABEL]: 'true' } } });
    }

    const wantSlice: KObject = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { [SERVICE_NAME_LABEL]: 'kubernetes' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [ip], conditions: { ready: true } }],
      ports,
    };
    const curSlice = this.sliceLister?.get('default', 'kubernetes');
    if (!curSlice) await this.createOrIgnore(resources.endpointslices, wantSlice);
    else if (
      stableJSON(curSlice.endpoints) !== stableJSON(wantSlice.endpoints) ||
      stableJSON(curSlice.ports) !== stableJSON(ports) ||
      curSlice.addressType !== 'IPv4' ||
      curSlice.metadata?.labels?.[SERVICE_NAME_LABEL] !== 'kubernetes'
    ) {
      if (curSlice.addressType !== 'IPv4') {
        // addressType is immutable.
        await this.deleteIgnoringNotFound(resources.endpointslices, 'default', 'kubernetes');
        await this.createOrIgnore(resources.endpointslices, wantSlice);
      } else {
        await this.client.update(resources.endpointslices, { ...wantSlice, metadata: { ...curSlice.metadata, labels: { ...(curSlice.metadata?.labels ?? {}), [SERVICE_NAME_LABEL]: 'kubernetes' } } });
      }
    }
  }

  private async createOrIgnore(ref: (typeof resources)[keyof typeof resources], obj: KObject): Promise<void> {
    try {
      await this.client.create(ref, obj.metadata.namespace, obj);
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 409)) throw e;
    }
  }
}
