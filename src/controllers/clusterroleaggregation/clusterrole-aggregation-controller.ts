/**
 * The ClusterRole aggregation controller (upstream's pkg/controller/clusterroleaggregation): every
 * ClusterRole with an aggregationRule gets as its rules the union of the rules of the ClusterRoles
 * its selectors match, deduplicated, in selector order and then by role name. Level-triggered: any
 * ClusterRole change re-queues every aggregated ClusterRole, so chains (admin ← edit ← view) settle.
 */
import { StatusError } from '../../api/errors.js';
import { labelSelectorObjectMatches } from '../../api/labels/label-selector.js';
import type { Component, ComponentContext } from '../../client/component.js';
import type { Lister } from '../../client/informer.js';
import type { KObject, ResourceRef, RestClient } from '../../client/rest-client.js';
import { WorkQueue } from '../../client/workqueue.js';
import { resources } from '../../client/resources.js';
import { ControllerLoop } from '../common/controller-loop.js';

/**
 * rbac.authorization.k8s.io/v1 clusterroles. Belongs in src/client/resources.ts as
 * `clusterroles: grp('rbac.authorization.k8s.io', 'v1', 'clusterroles', false)`.
 */
/** The clusterroles resource (kept as an export for the tests). */
export const clusterRolesResource: ResourceRef = resources.clusterroles;

/** A policy rule reduced to the fields that matter, with a stable key for deduplication. */
function ruleKey(r: KObject): string {
  const list = (v: unknown) => (Array.isArray(v) ? v : []);
  return JSON.stringify([list(r.verbs), list(r.apiGroups), list(r.resources), list(r.resourceNames), list(r.nonResourceURLs)]);
}

/**
 * The rules `role` aggregates from `all` (upstream's syncClusterRole): for each selector in order,
 * the matching ClusterRoles other than itself sorted by name, each rule once.
 */
export function aggregatedRules(role: KObject, all: KObject[]): KObject[] {
  const selectors: KObject[] = Array.isArray(role.aggregationRule?.clusterRoleSelectors) ? role.aggregationRule.clusterRoleSelectors : [];
  const out: KObject[] = [];
  const seen = new Set<string>();
  const self = role.metadata?.name;
  for (const sel of selectors) {
    const matched = all
      .filter((r) => r.metadata?.name !== self && labelSelectorObjectMatches(sel as any, r.metadata?.labels ?? {}))
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
    for (const r of matched) {
      for (const rule of Array.isArray(r.rules) ? r.rules : []) {
        const k = ruleKey(rule);
        if (seen.has(k)) continue;
        seen.add(k);
        out.push(rule);
      }
    }
  }
  return out;
}

function sameRules(a: unknown, b: unknown): boolean {
  const x = Array.isArray(a) ? a : [];
  const y = Array.isArray(b) ? b : [];
  return x.length === y.length && x.every((r, i) => ruleKey(r) === ruleKey(y[i]));
}

export interface ClusterRoleAggregationControllerOptions {
  /** Concurrent syncs. Default 5, as upstream's kube-controller-manager. */
  workers?: number;
}

/** The ClusterRole aggregation controller, as a {@link Component}. Queue items are ClusterRole names. */
export class ClusterRoleAggregationController implements Component {
  readonly name = 'clusterrole-aggregation-controller';
  readonly queue = new WorkQueue<string>({ name: 'ClusterRoleAggregator' });
  private client!: RestClient;
  private lister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'clusterrole');
  private readonly workers: number;

  constructor(opts: ClusterRoleAggregationControllerOptions = {}) {
    this.workers = opts.workers ?? 5;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const inf = ctx.informers.forResource(clusterRolesResource);
    this.lister = inf.lister;
    const enqueueAll = () => {
      for (const r of this.lister.list()) if (r.aggregationRule) this.queue.add(r.metadata.name);
    };
    this.loop.regs.push(inf.addEventHandler({ onAdd: enqueueAll, onUpdate: enqueueAll, onDelete: enqueueAll }));
    ctx.informers.start();
    this.loop.run(() => inf.waitForSync(), this.workers, (k) => this.sync(k));
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Bring one aggregated ClusterRole's rules in line with what its selectors match. */
  async sync(name: string): Promise<void> {
    const role = this.lister.get('', name);
    if (!role?.aggregationRule) return;
    const want = aggregatedRules(role, this.lister.list());
    if (sameRules(want, role.rules)) return;
    try {
      await this.client.update(clusterRolesResource, { ...role, rules: want });
    } catch (e) {
      // Deleted meanwhile: nothing to do. A conflict is retried with the newer object from the cache.
      if (e instanceof StatusError && e.code === 404) return;
      throw e;
    }
  }
}
