/**
 * The pod garbage collector (upstream's pkg/controller/podgc). Every check period it:
 * - deletes the oldest terminated pods beyond the terminated-pod threshold;
 * - force-deletes pods bound to nodes that no longer exist, once a node has been missing from the
 *   cache for the quarantine time and the API confirms it is gone (so a node being created is not
 *   mistaken for a deleted one);
 * - force-deletes terminating pods that were never scheduled (no kubelet will finish them).
 */
import { StatusError } from '../../api/errors.js';
import { logger } from '../../base/log.js';
import type { Component, ComponentContext } from '../../client/component.js';
import type { Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { rfc3339 } from '../../base/time.js';

const log = logger('pod-garbage-collector');

/** Upstream's default --terminated-pod-gc-threshold. */
export const DEFAULT_TERMINATED_POD_GC_THRESHOLD = 12500;

export interface PodGCControllerOptions {
  /** Terminated pods kept before the oldest are deleted; 0 or less disables that pass. Default 12500. */
  terminatedPodThreshold?: number;
  /** How often the passes run. Default 20 s, as upstream. */
  checkPeriodMs?: number;
  /** How long a node must be missing before its pods are deleted. Default 40 s, as upstream. */
  quarantineMs?: number;
  /** Milliseconds clock. Default Date.now. */
  now?: () => number;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const isTerminated = (p: KObject) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

/** The pod garbage collector, as a {@link Component}. */
export class PodGCController implements Component {
  readonly name = 'pod-garbage-collector';
  private client!: RestClient;
  private podLister!: Lister;
  private nodeLister!: Lister;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  /** Node name → when it was first found missing. */
  private readonly missingSince = new Map<string, number>();
  private readonly threshold: number;
  private readonly periodMs: number;
  private readonly quarantineMs: number;
  private readonly now: () => number;

  constructor(opts: PodGCControllerOptions = {}) {
    this.threshold = opts.terminatedPodThreshold ?? DEFAULT_TERMINATED_POD_GC_THRESHOLD;
    this.periodMs = opts.checkPeriodMs ?? 20_000;
    this.quarantineMs = opts.quarantineMs ?? 40_000;
    this.now = opts.now ?? Date.now;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const podInf = ctx.informers.forResource(resources.pods);
    const nodeInf = ctx.informers.forResource(resources.nodes);
    this.podLister = podInf.lister;
    this.nodeLister = nodeInf.lister;
    ctx.informers.start();
    this.running = (async () => {
      await Promise.all([podInf.waitForSync(), nodeInf.waitForSync()]);
      if (this.stopped) return;
      this.schedule(0);
    })();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.gc()
        .catch((e) => log.warn('pod gc pass failed', { err: errText(e) }))
        .finally(() => this.schedule(this.periodMs));
    }, delayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass of every collection. */
  async gc(): Promise<void> {
    const pods = this.podLister.list();
    if (this.threshold > 0) await this.gcTerminated(pods);
    await this.gcOrphaned(pods);
    await this.gcUnscheduledTerminating(pods);
  }

  private async gcTerminated(pods: KObject[]): Promise<void> {
    const terminated = pods.filter(isTerminated);
    const excess = terminated.length - this.threshold;
    if (excess <= 0) return;
    log.info('garbage collecting terminated pods', { count: excess, threshold: this.threshold });
    terminated.sort((a, b) => String(a.metadata?.creationTimestamp ?? '').localeCompare(String(b.metadata?.creationTimestamp ?? '')) || String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
    await Promise.all(terminated.slice(0, excess).map((p) => this.deletePod(p, false)));
  }

  private async gcOrphaned(pods: KObject[]): Promise<void> {
    const now = this.now();
    const missing = new Set<string>();
    for (const p of pods) {
      const node = p.spec?.nodeName;
      if (node && !this.nodeLister.get('', node)) missing.add(node);
    }
    for (const n of [...this.missingSince.keys()]) if (!missing.has(n)) this.missingSince.delete(n);
    const gone = new Set<string>();
    for (const n of missing) {
      const since = this.missingSince.get(n);
      if (since === undefined) {
        this.missingSince.set(n, now);
        if (this.quarantineMs > 0) continue;
      } else if (now - since < this.quarantineMs) continue;
      // The cache may lag; only the API can say the node is really gone.
      try {
        await this.client.get(resources.nodes, '', n);
        this.missingSince.delete(n);
      } catch (e) {
        if (e instanceof StatusError && e.code === 404) gone.add(n);
        else throw e;
      }
    }
    for (const p of pods) {
      if (!gone.has(p.spec?.nodeName)) continue;
      log.info('deleting orphaned pod', { pod: `${p.metadata.namespace}/${p.metadata.name}`, node: p.spec.nodeName });
      await this.markDisrupted(p, 'DeletionByPodGC', 'PodGC: node no longer exists');
      await this.deletePod(p, true);
    }
    for (const n of gone) this.missingSince.delete(n);
  }

  private async gcUnscheduledTerminating(pods: KObject[]): Promise<void> {
    for (const p of pods) {
      if (!p.metadata?.deletionTimestamp || p.spec?.nodeName) continue;
      await this.deletePod(p, true);
    }
  }

  /** Record why the pod goes (upstream's DisruptionTarget condition); best effort. */
  private async markDisrupted(pod: KObject, reason: string, message: string): Promise<void> {
    if (isTerminated(pod)) return;
    const ts = rfc3339(this.now());
    const conditions = [...(pod.status?.conditions ?? []).filter((c: KObject) => c.type !== 'DisruptionTarget'), { type: 'DisruptionTarget', status: 'True', reason, message, lastTransitionTime: ts }];
    try {
      await this.client.patch(resources.pods, pod.metadata.namespace, pod.metadata.name, { status: { phase: 'Failed', conditions } }, 'merge', { subresource: 'status' });
    } catch (e) {
      log.debug('could not mark pod disrupted', { pod: pod.metadata.name, err: errText(e) });
    }
  }

  private async deletePod(pod: KObject, force: boolean): Promise<void> {
    try {
      await this.client.delete(resources.pods, pod.metadata.namespace, pod.metadata.name, { ...(force ? { gracePeriodSeconds: 0 } : {}), preconditions: { uid: pod.metadata.uid } });
    } catch (e) {
      if (e instanceof StatusError && (e.code === 404 || e.code === 409)) return;
      throw e;
    }
  }
}
