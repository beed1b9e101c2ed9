/**
 * The ResourceQuota controller (upstream's pkg/controller/resourcequota): keeps every quota's
 * status.hard equal to spec.hard and status.used equal to what the namespace's objects really use.
 * Level-triggered: a quota is recomputed from the informer caches when its spec changes, when an
 * object it counts is deleted or stops being charged (a pod reaching a terminal phase, a service
 * leaving NodePort/LoadBalancer), and on a periodic full resync. Admission charges creates as they
 * happen; this controller gives usage back and corrects any drift.
 */
import type { GroupResource } from '../../api/errors.js';
import {
  calculateUsage,
  formatResourceList,
  listsEqual,
  maskList,
  parseResourceList,
  objectCountName,
  podChargesCompute,
  quotaServiceType,
  scopeSelectorsOf,
  evaluatorFor as quotaEvaluatorFor,
  type QuotaEvaluator,
  type ResourceList,
} from '../../api/quota/index.js';
import { Quantity } from '../../api/quantity.js';
import type { Component, ComponentContext } from '../../client/component.js';
import { objectFromTombstone, type DeletedFinalStateUnknown, type Lister } from '../../client/informer.js';
import type { KObject, ResourceRef, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { ControllerLoop } from '../common/controller-loop.js';

/**
 * The kinds counted by default: those k8ts serves that quota tracks. ReplicationControllers
 * belong here once the server serves them (their informers would never sync).
 */
export const defaultQuotaResources: ResourceRef[] = [
  resources.pods,
  resources.services,
  resources.configmaps,
  resources.secrets,
  resources.resourcequotas,
  resources.serviceaccounts,
  resources.persistentvolumeclaims,
  resources.deployments,
  resources.replicasets,
  resources.statefulsets,
  resources.daemonsets,
  resources.jobs,
  resources.cronjobs,
];

export interface ResourceQuotaControllerOptions {
  /** Full recomputation of every quota, ms (upstream's --resource-quota-sync-period, 5 min). */
  resyncPeriodMs?: number;
  /** Concurrent syncs (upstream's --concurrent-resource-quota-syncs, 5). */
  workers?: number;
  /** The kinds whose objects are counted. Default {@link defaultQuotaResources}. */
  resources?: ResourceRef[];
}

interface Counted {
  ev: QuotaEvaluator;
  lister: Lister;
}

const grKey = (gr: GroupResource) => `${gr.group}/${gr.resource}`;

/** Whether an update can only lower a kind's usage in a way no delete reports (upstream's quota monitor filter). */
function releasesUsage(gr: GroupResource, old: KObject, cur: KObject, now: Date): boolean {
  if (gr.group !== '') return false;
  if (gr.resource === 'pods') return podChargesCompute(old, now) && !podChargesCompute(cur, now);
  if (gr.resource === 'services') return quotaServiceType(old) !== quotaServiceType(cur);
  if (gr.resource === 'persistentvolumeclaims') {
    return JSON.stringify(old?.spec?.resources?.requests?.storage) !== JSON.stringify(cur?.spec?.resources?.requests?.storage);
  }
  return false;
}

/** Whether a quota's status needs computing now: limits not yet copied, or a limited resource without usage. */
function needsStatus(q: KObject): boolean {
  const hard = parseResourceList(q?.spec?.hard);
  if (!q?.status?.hard || !listsEqual(hard, parseResourceList(q.status.hard))) return true;
  const used = q.status.used ?? {};
  return Object.keys(hard).some((k) => used[k] === undefined);
}

/** The ResourceQuota controller, as a {@link Component}. Queue items are `namespace/name` keys. */
export class ResourceQuotaController implements Component {
  readonly name = 'resourcequota-controller';
  readonly queue = new WorkQueue<string>({ name: 'resourcequota' });
  private client!: RestClient;
  private quotaLister!: Lister;
  private readonly counted = new Map<string, Counted>();
  private readonly loop = new ControllerLoop(this.queue, 'resourcequota');
  private readonly resyncPeriodMs: number;
  private readonly workers: number;
  private readonly refs: ResourceRef[];
  private resyncTimer?: NodeJS.Timeout;
  /** Discovery answers for kinds counted without a watch: `group/resource` → where to list them, or null. */
  private readonly discovered = new Map<string, { ref: ResourceRef | null; until: number }>();

  constructor(opts: ResourceQuotaControllerOptions = {}) {
    this.resyncPeriodMs = opts.resyncPeriodMs ?? 5 * 60_000;
    this.workers = opts.workers ?? 5;
    this.refs = opts.resources ?? defaultQuotaResources;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const rqInf = ctx.informers.forResource(resources.resourcequotas);
    this.quotaLister = rqInf.lister;
    this.loop.regs.push(
      rqInf.addEventHandler({
        onAdd: (q) => this.enqueue(q),
        onUpdate: (old, cur) => {
          // Status writes (ours and admission's) are not a reason to recount; spec changes are.
          if (JSON.stringify(old?.spec?.hard ?? {}) !== JSON.stringify(cur?.spec?.hard ?? {}) || needsStatus(cur)) this.enqueue(cur);
        },
      }),
    );
    const syncs: Promise<unknown>[] = [rqInf.waitForSync()];
    for (const ref of this.refs) {
      const gr = { group: ref.group, resource: ref.resource };
      const ev = quotaEvaluatorFor(gr);
      if (!ev || this.counted.has(grKey(gr))) continue;
      const inf = ref.resource === 'resourcequotas' && ref.group === '' ? rqInf : ctx.informers.forResource(ref);
      this.counted.set(grKey(gr), { ev, lister: inf.lister });
      if (inf !== rqInf) syncs.push(inf.waitForSync());
      this.loop.regs.push(
        inf.addEventHandler({
          onUpdate: (old, cur) => {
            if (releasesUsage(gr, old, cur, new Date())) this.enqueueNamespace(cur?.metadata?.namespace, ev);
          },
          onDelete: (obj: KObject | DeletedFinalStateUnknown) => {
            const o = objectFromTombstone(obj);
            this.enqueueNamespace(o?.metadata?.namespace, ev);
          },
        }),
      );
    }
    ctx.informers.start();
    this.resyncTimer = setInterval(() => this.enqueueAll(), this.resyncPeriodMs);
    this.resyncTimer.unref?.();
    this.loop.run(() => Promise.all(syncs), this.workers, (k) => this.sync(k));
  }

  async stop(): Promise<void> {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
    await this.loop.stop();
  }

  private enqueue(q: KObject): void {
    const ns = q?.metadata?.namespace;
    const name = q?.metadata?.name;
    if (ns && name) this.queue.add(`${ns}/${name}`);
  }

  /** Queue the namespace's quotas that limit something this kind uses (upstream's replenishQuota). */
  private enqueueNamespace(namespace: string | undefined, ev: QuotaEvaluator): void {
    if (!namespace || !this.quotaLister) return;
    for (const q of this.quotaLister.list(namespace)) {
      if (ev.matchingResources(Object.keys(parseResourceList(q?.spec?.hard))).length > 0) this.enqueue(q);
    }
  }

  /** Queue every quota (the periodic full resync). */
  enqueueAll(): void {
    for (const q of this.quotaLister?.list() ?? []) this.enqueue(q);
  }

  /**
   * `count/<resource>[.<group>]` limits on kinds this controller does not watch (custom resources,
   * say): found through discovery and counted with a list on each sync, so they are exact after
   * every resync rather than at once.
   */
  private async countUnwatched(namespace: string, quota: KObject): Promise<ResourceList> {
    const out: ResourceList = {};
    const scoped = scopeSelectorsOf(quota).length > 0;
    for (const name of Object.keys(quota.spec?.hard ?? {})) {
      if (!name.startsWith('count/')) continue;
      const rest = name.slice('count/'.length);
      const dot = rest.indexOf('.');
      const gr = dot < 0 ? { group: '', resource: rest } : { group: rest.slice(dot + 1), resource: rest.slice(0, dot) };
      if (this.counted.has(grKey(gr)) || objectCountName(gr) !== name || !quotaEvaluatorFor(gr)) continue;
      // Object counts never match a scope (as upstream).
      if (scoped) {
        out[name] = Quantity.fromValue(0);
        continue;
      }
      const ref = await this.discover(gr);
      if (!ref) continue;
      try {
        const list = await this.client.list(ref, namespace);
        out[name] = Quantity.fromValue(Array.isArray(list.items) ? list.items.length : 0);
      } catch {
        // Left out: the previous figure stays until a later sync can count.
      }
    }
    return out;
  }

  /** The preferred version of a namespaced, listable kind, from discovery (cached for a minute). */
  private async discover(gr: GroupResource): Promise<ResourceRef | null> {
    const key = grKey(gr);
    const hit = this.discovered.get(key);
    if (hit && hit.until > Date.now()) return hit.ref;
    let ref: ResourceRef | null = null;
    try {
      let gv = 'v1';
      if (gr.group) {
        const g = await this.client.request<KObject>('GET', `/apis/${gr.group}`);
        gv = g?.preferredVersion?.groupVersion ?? '';
      }
      if (gv) {
        const rl = await this.client.request<KObject>('GET', gr.group ? `/apis/${gv}` : '/api/v1');
        const r = (rl?.resources ?? []).find((x: KObject) => x?.name === gr.resource);
        if (r?.namespaced && Array.isArray(r.verbs) && r.verbs.includes('list')) {
          ref = { group: gr.group, version: gr.group ? gv.slice(gr.group.length + 1) : 'v1', resource: gr.resource, namespaced: true };
        }
      }
    } catch {
      ref = null;
    }
    this.discovered.set(key, { ref, until: Date.now() + 60_000 });
    return ref;
  }

  /** Recompute one quota's status from the caches and write it if it changed (upstream's syncResourceQuota). */
  async sync(key: string): Promise<void> {
    const slash = key.indexOf('/');
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const quota = this.quotaLister.get(namespace, name);
    if (!quota) return;
    const hard = parseResourceList(quota.spec?.hard);
    const evaluators = [...this.counted.values()].map((c) => c.ev);
    const observed = {
      ...calculateUsage(quota, evaluators, (gr) => this.counted.get(grKey(gr))?.lister.list(namespace)),
      ...(await this.countUnwatched(namespace, quota)),
    };
    // Resources this controller cannot count keep their last figure; only limited ones are kept.
    const used = maskList({ ...parseResourceList(quota.status?.used), ...observed }, Object.keys(hard));
    const dirty =
      !quota.status?.hard ||
      !quota.status?.used ||
      !listsEqual(hard, parseResourceList(quota.status.hard)) ||
      !listsEqual(used, parseResourceList(quota.status.used));
    if (!dirty) return;
    const next: KObject = { ...quota, status: { hard: formatResourceList(hard), used: formatResourceList(used) } };
    await this.client.update(resources.resourcequotas, next, 'status');
  }
}
