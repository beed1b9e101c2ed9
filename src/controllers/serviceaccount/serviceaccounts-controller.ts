/**
 * The ServiceAccounts controller (upstream's pkg/controller/serviceaccount ServiceAccountsController):
 * every active namespace has the managed service accounts (`default`), created when the namespace
 * appears and re-created when deleted.
 */
import { StatusError } from '../../api/errors.js';
import type { Component, ComponentContext } from '../../client/component.js';
import { objectFromTombstone, type DeletedFinalStateUnknown, type Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { ControllerLoop } from '../common/controller-loop.js';

export interface ServiceAccountsControllerOptions {
  /** Names of the service accounts every namespace gets. Default `['default']`. */
  serviceAccounts?: string[];
  /** Concurrent syncs. Default 1, as upstream. */
  workers?: number;
}

/** The ServiceAccounts controller, as a {@link Component}. Queue items are namespace names. */
export class ServiceAccountsController implements Component {
  readonly name = 'serviceaccount-controller';
  readonly queue = new WorkQueue<string>({ name: 'serviceaccount' });
  private client!: RestClient;
  private nsLister!: Lister;
  private saLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'namespace');
  private readonly names: string[];
  private readonly workers: number;

  constructor(opts: ServiceAccountsControllerOptions = {}) {
    this.names = opts.serviceAccounts ?? ['default'];
    this.workers = opts.workers ?? 1;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const nsInf = ctx.informers.forResource(resources.namespaces);
    const saInf = ctx.informers.forResource(resources.serviceaccounts);
    this.nsLister = nsInf.lister;
    this.saLister = saInf.lister;
    const onSADelete = (obj: KObject | DeletedFinalStateUnknown) => {
      const sa = objectFromTombstone(obj);
      if (this.names.includes(sa.metadata?.name)) this.queue.add(sa.metadata.namespace);
    };
    this.loop.regs.push(
      nsInf.addEventHandler({
        onAdd: (ns) => this.queue.add(ns.metadata.name),
        onUpdate: (_o, ns) => this.queue.add(ns.metadata.name),
      }),
      saInf.addEventHandler({ onDelete: onSADelete }),
    );
    ctx.informers.start();
    this.loop.run(
      async () => {
        await Promise.all([nsInf.waitForSync(), saInf.waitForSync()]);
      },
      this.workers,
      (k) => this.sync(k),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Create whichever managed service accounts the namespace lacks. */
  async sync(namespace: string): Promise<void> {
    const ns = this.nsLister.get('', namespace);
    // Nothing can be created in a namespace that is going away.
    if (!ns || ns.status?.phase === 'Terminating' || ns.metadata?.deletionTimestamp) return;
    for (const name of this.names) {
      if (this.saLister.get(namespace, name)) continue;
      try {
        await this.client.create(resources.serviceaccounts, namespace, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } });
      } catch (e) {
        if (e instanceof StatusError && e.code === 409) continue;
        // The namespace began terminating after the cache showed it.
        if (e instanceof StatusError && e.code === 403 && /being terminated/.test(e.message)) continue;
        throw e;
      }
    }
  }
}
