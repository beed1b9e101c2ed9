/**
 * The scheduler as a control-plane component: a {@link ClusterSource} over shared informers
 * (nodes, pods, namespaces, PodDisruptionBudgets) and the REST API (pods/binding, pods/status,
 * events, deletes), driving a {@link Scheduler}.
 *
 * Each start builds a fresh Scheduler (cache, queue) from the informers' caches, so a component
 * stopped on losing a lease and started again on regaining it sees the cluster as it is then.
 */
import { StatusError } from '../api/errors.js';
import { logger, type Logger } from '../base/log.js';
import {
  DeletedFinalStateUnknown,
  EventReason,
  resources,
  type Component,
  type ComponentContext,
  type EventRecorder,
  type HandlerRegistration,
  type KObject,
  RestClient,
  type SharedInformer,
} from '../client/index.js';
import type { PodDisruptionBudget } from './framework/preemption.js';
import { DefaultSchedulerName, type Node, type Pod } from './framework/types.js';
import { Scheduler, type ClusterEventHandlers, type ClusterSource, type SchedulerOptions, type SchedulingFailure } from './scheduler.js';
import { bindingPlan, type VolumeListers } from './plugins/volume-binding/volume-binding.js';
import { rfc3339 } from '../base/time.js';

/** Options for {@link SchedulerComponent}. */
export interface SchedulerComponentOptions extends SchedulerOptions {
  /** How long start waits for the informers' first lists, ms; 0 (default): no limit. */
  cacheSyncTimeoutMs?: number;
  /**
   * Bind over connections of the scheduler's own rather than those its events, status patches and
   * informers share (as upstream keeps a separate client for events), so a burst of Scheduled
   * events never queues the bindings behind it. Default true; needs a RestClient in the context.
   */
  dedicatedBindingClient?: boolean;
}

const unwrap = <T>(o: T | DeletedFinalStateUnknown<T>): T => (o instanceof DeletedFinalStateUnknown ? o.obj : o);
const isAssigned = (p: Pod): boolean => !!p.spec?.nodeName;
const beingDeleted = (p: Pod): boolean => !!p.metadata?.deletionTimestamp;

/** RFC 3339 with whole seconds, metav1.Time's wire form. */
const nowTime = (): string => rfc3339();

function isNotFound(e: unknown): boolean {
  return e instanceof StatusError && e.code === 404;
}

/** The shared informers the scheduler reads. */
export interface SchedulerInformers {
  nodes: SharedInformer<Node>;
  pods: SharedInformer<Pod>;
  namespaces: SharedInformer<KObject>;
  pdbs: SharedInformer<PodDisruptionBudget>;
  /** Claims, volumes and classes, for VolumeBinding (absent: it lets every pod through). */
  pvcs?: SharedInformer<KObject>;
  pvs?: SharedInformer<KObject>;
  storageClasses?: SharedInformer<KObject>;
}

/** A {@link ClusterSource} backed by shared informers and the API server. */
export class ApiClusterSource implements ClusterSource {
  constructor(
    private readonly client: RestClient,
    private readonly informers: SchedulerInformers,
    private readonly recorder: EventRecorder,
    private readonly log: Logger,
    /** Connections of their own for pods/binding (default: `client`'s). */
    private readonly bindClient: RestClient = client,
  ) {}

  subscribe(h: ClusterEventHandlers): () => void {
    // Nodes first, so the initial pods land on known nodes.
    const regs: HandlerRegistration[] = [
      this.informers.nodes.addEventHandler({
        onAdd: (n) => h.addNode(n),
        onUpdate: (o, n) => {
          if (o !== n) h.updateNode(o, n);
        },
        onDelete: (n) => h.deleteNode(unwrap(n)),
      }),
      this.informers.pods.addEventHandler({
        onAdd: (p) => {
          // An unassigned pod on its way out is not worth a scheduling attempt.
          if (!isAssigned(p) && beingDeleted(p)) return;
          h.addPod(p);
        },
        onUpdate: (o, n) => {
          if (o === n) return;
          if (!isAssigned(n) && beingDeleted(n)) h.deletePod(n);
          else h.updatePod(o, n);
        },
        onDelete: (p) => h.deletePod(unwrap(p)),
      }),
    ];
    // Claims binding or volumes appearing may make a pod VolumeBinding rejected schedulable.
    const storage: [SharedInformer<KObject> | undefined, string][] = [
      [this.informers.pvcs, 'PersistentVolumeClaim'],
      [this.informers.pvs, 'PersistentVolume'],
      [this.informers.storageClasses, 'StorageClass'],
    ];
    for (const [inf, kind] of storage) {
      if (!inf || !h.storageChange) continue;
      regs.push(
        inf.addEventHandler({
          onAdd: (o) => h.storageChange?.(`${kind}Add`, undefined, o),
          onUpdate: (o, n) => {
            if (o !== n) h.storageChange?.(`${kind}Update`, o, n);
          },
          onDelete: () => undefined,
        }),
      );
    }
    return () => {
      for (const r of regs) r.remove();
    };
  }

  async bind(pod: Pod, nodeName: string): Promise<void> {
    const ns = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata!.name!;
    const binding = {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name, namespace: ns, ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}) },
      target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
    };
    await this.bindVolumes(pod, nodeName);
    try {
      await this.bindClient.send('POST', this.bindClient.path(resources.pods, ns, name, 'binding'), binding);
    } catch (e) {
      // Bound already (an earlier attempt whose response we lost, or another scheduler): done.
      if (!(e instanceof StatusError && e.code === 409 && /already assigned/.test(e.message))) throw e;
      return;
    }
    this.recorder.event(pod as KObject, 'Normal', EventReason.Scheduled, `Successfully assigned ${ns}/${name} to ${nodeName}`);
  }

  async recordFailure(pod: Pod, failure: SchedulingFailure): Promise<void> {
    const ns = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata!.name!;
    this.recorder.event(pod as KObject, 'Warning', EventReason.FailedScheduling, failure.message);
    // Upstream skips pods deleted or bound meanwhile.
    const cur = this.informers.pods.lister.get(ns, name) ?? pod;
    if (cur.metadata?.uid !== pod.metadata?.uid || isAssigned(cur) || beingDeleted(cur)) return;
    const old = (cur.status?.conditions ?? []).find((c) => c.type === 'PodScheduled');
    const nominatedChanges = failure.nominatedNodeName !== undefined && failure.nominatedNodeName !== (cur.status?.nominatedNodeName ?? '');
    const conditionChanges = !old || old.status !== 'False' || old.reason !== failure.reason || old.message !== failure.message;
    if (!conditionChanges && !nominatedChanges) return;
    const condition = {
      type: 'PodScheduled',
      status: 'False',
      reason: failure.reason,
      message: failure.message,
      lastProbeTime: null,
      lastTransitionTime: old && old.status === 'False' && old.lastTransitionTime ? old.lastTransitionTime : nowTime(),
    };
    const status: KObject = { conditions: [condition] };
    if (nominatedChanges) status.nominatedNodeName = failure.nominatedNodeName || null;
    try {
      await this.client.patch(resources.pods, ns, name, { metadata: { uid: pod.metadata?.uid }, status }, 'strategic', { subresource: 'status' });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  async preemptVictim(victim: Pod, preemptor: Pod, nodeName: string): Promise<void> {
    const ns = victim.metadata?.namespace ?? 'default';
    const name = victim.metadata!.name!;
    const uid = victim.metadata?.uid;
    try {
      // DisruptionTarget tells the victim's owner why it goes (upstream does this before the delete).
      const condition = {
        type: 'DisruptionTarget',
        status: 'True',
        reason: 'PreemptionByScheduler',
        message: `${preemptor.spec?.schedulerName || DefaultSchedulerName}: preempting to accommodate a higher priority pod`,
        lastTransitionTime: nowTime(),
      };
      await this.client.patch(resources.pods, ns, name, { metadata: { uid }, status: { conditions: [condition] } }, 'strategic', { subresource: 'status' });
      await this.client.delete(resources.pods, ns, name, uid ? { preconditions: { uid } } : {});
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    this.log.info('preempted victim', { victim: `${ns}/${name}`, preemptor: `${preemptor.metadata?.namespace}/${preemptor.metadata?.name}`, node: nodeName });
    this.recorder.event(victim as KObject, 'Normal', EventReason.Preempted, `Preempted by pod ${preemptor.metadata?.uid ?? ''} on node ${nodeName}`);
  }

  namespaceLabels(namespace: string): Record<string, string> | undefined {
    return this.informers.namespaces.lister.get(undefined, namespace)?.metadata?.labels;
  }

  podDisruptionBudgets(): readonly PodDisruptionBudget[] {
    return this.informers.pdbs.lister.list();
  }

  /**
   * Before the pod is bound, its WaitForFirstConsumer claims get their volume on the chosen node
   * (the volume's claimRef, which the PV controller completes) or, for provisioning classes, the
   * selected-node annotation the provisioner waits for (upstream's VolumeBinding PreBind).
   */
  private async bindVolumes(pod: Pod, nodeName: string): Promise<void> {
    const listers = this.volumeListers();
    const node = this.informers.nodes.lister.get(undefined, nodeName);
    if (!listers || !node) return;
    const plan = bindingPlan(pod, node, listers);
    for (const { pv, pvc } of plan.volumes) {
      const next = structuredClone(pv);
      next.metadata.annotations = { ...next.metadata.annotations, 'pv.kubernetes.io/bound-by-controller': 'yes' };
      next.spec.claimRef = { kind: 'PersistentVolumeClaim', namespace: pvc.metadata.namespace, name: pvc.metadata.name, uid: pvc.metadata.uid, apiVersion: 'v1', resourceVersion: pvc.metadata.resourceVersion };
      await this.client.update(resources.persistentvolumes, next);
    }
    for (const pvc of plan.selectNode) {
      await this.client.patch(resources.persistentvolumeclaims, pvc.metadata.namespace, pvc.metadata.name, { metadata: { annotations: { 'volume.kubernetes.io/selected-node': nodeName } } }, 'merge');
    }
  }

  volumeListers(): VolumeListers | undefined {
    const { pvcs, pvs, storageClasses } = this.informers;
    if (!pvcs || !pvs || !storageClasses) return undefined;
    return {
      claim: (ns, name) => pvcs.lister.get(ns, name),
      volume: (name) => pvs.lister.get(undefined, name),
      volumes: () => pvs.lister.list(),
      storageClass: (name) => storageClasses.lister.get(undefined, name),
    };
  }
}

/**
 * kube-scheduler as a {@link Component} named `scheduler`. Start and stop are idempotent, and a
 * stopped component can be started again (each start schedules with a fresh cache and queue).
 */
export class SchedulerComponent implements Component {
  readonly name = 'scheduler';
  private readonly opts: SchedulerComponentOptions;
  private readonly log: Logger;
  private current: Scheduler | null = null;
  private recorder: EventRecorder | null = null;
  private bindClient: RestClient | null = null;
  /** Start and stop run one at a time, in call order. */
  private chain: Promise<void> = Promise.resolve();
  private running = false;
  /** Bumped by stop, so a start waiting for cache sync gives up. */
  private epoch = 0;
  private wakeStop: (() => void) | null = null;

  constructor(opts: SchedulerComponentOptions = {}) {
    this.opts = opts;
    this.log = opts.log ?? logger('scheduler');
  }

  /** The running Scheduler (cache, queue, stats), or null when stopped. */
  get scheduler(): Scheduler | null {
    return this.current;
  }

  start(ctx: ComponentContext): Promise<void> {
    const epoch = this.epoch;
    return this.serialize(() => this.doStart(ctx, epoch));
  }

  stop(): Promise<void> {
    this.epoch++;
    this.wakeStop?.();
    return this.serialize(() => this.doStop());
  }

  private serialize(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async doStart(ctx: ComponentContext, epoch: number): Promise<void> {
    if (this.running || epoch !== this.epoch) return;
    const f = ctx.informers;
    const informers: SchedulerInformers = {
      nodes: f.forResource<Node>(resources.nodes),
      pods: f.forResource<Pod>(resources.pods),
      namespaces: f.forResource(resources.namespaces),
      pdbs: f.forResource<PodDisruptionBudget>(resources.poddisruptionbudgets),
      pvcs: f.forResource(resources.persistentvolumeclaims),
      pvs: f.forResource(resources.persistentvolumes),
      storageClasses: f.forResource(resources.storageclasses),
    };
    f.start();
    // Scheduling before the caches are full could overcommit nodes whose pods are not listed yet.
    const stopped = new Promise<false>((resolve) => (this.wakeStop = () => resolve(false)));
    const timeoutMs = this.opts.cacheSyncTimeoutMs || undefined;
    const synced = await Promise.race([
      Promise.all(Object.values(informers).map((i: SharedInformer<any>) => i.waitForSync({ timeoutMs }))).then((r) => r.every(Boolean)),
      stopped,
    ]);
    this.wakeStop = null;
    if (epoch !== this.epoch) return;
    if (!synced) throw new Error('scheduler: timed out waiting for informer caches to sync');
    // Events report as the profile's scheduler name, as upstream's do.
    const recorder = ctx.recorder(this.opts.profile?.schedulerName ?? DefaultSchedulerName);
    const bindClient =
      this.opts.dedicatedBindingClient !== false && ctx.client instanceof RestClient ? new RestClient({ ...ctx.client.config, userAgent: ctx.client.config.userAgent ?? 'k8ts-scheduler' }) : null;
    const scheduler = new Scheduler(new ApiClusterSource(ctx.client, informers, recorder, this.log, bindClient ?? ctx.client), {
      ...this.opts,
      log: this.log,
    });
    scheduler.start();
    this.current = scheduler;
    this.recorder = recorder;
    this.bindClient = bindClient;
    this.running = true;
    this.log.info('scheduler started', { nodes: informers.nodes.indexer.list().length, queue: scheduler.queue.stats() });
  }

  private async doStop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const s = this.current;
    const r = this.recorder;
    const b = this.bindClient;
    this.current = null;
    this.recorder = null;
    this.bindClient = null;
    // Unsubscribes from the informers (which stay running for others) and waits for bindings.
    await s?.stop();
    b?.close();
    await r?.flush();
    this.log.info('scheduler stopped');
  }
}
