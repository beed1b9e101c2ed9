/**
 * The service (load balancer) controller of the cloud controller manager (upstream's
 * cloud-provider/controllers/service): LoadBalancer Services get a load balancer from the provider,
 * with the cleanup finalizer so that the load balancer is removed before the Service goes, and the
 * provider's addresses in status.loadBalancer.
 */
import { StatusError } from '../../api/errors.js';
import { logger } from '../../base/log.js';
import type { Component, ComponentContext } from '../../client/component.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import { objectFromTombstone, type Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { ControllerLoop } from '../common/controller-loop.js';
import type { CloudProvider, LoadBalancer } from './provider.js';

const log = logger('service-lb-controller');

/** Upstream's finalizer: the load balancer is cleaned up before the Service is deleted. */
export const LOAD_BALANCER_CLEANUP_FINALIZER = 'service.kubernetes.io/load-balancer-cleanup';

export interface ServiceLBControllerOptions {
  provider: CloudProvider;
  /** The cluster name providers use to name load balancers. Default "kubernetes". */
  clusterName?: string;
}

const keyOf = (o: KObject) => `${o.metadata.namespace}/${o.metadata.name}`;

export class ServiceLBController implements Component {
  readonly name = 'service-lb-controller';
  readonly queue = new WorkQueue<string>({ name: 'service-lb' });
  private readonly loop = new ControllerLoop(this.queue, 'service');
  private client!: RestClient;
  private services!: Lister;
  private nodes!: Lister;
  private recorder?: EventRecorder;
  private readonly lb?: LoadBalancer;
  private readonly clusterName: string;

  constructor(o: ServiceLBControllerOptions) {
    this.lb = o.provider.loadBalancer?.();
    this.clusterName = o.clusterName ?? 'kubernetes';
  }

  /** Whether this controller manages the Service's load balancer. */
  private wants(svc: KObject): boolean {
    return svc.spec?.type === 'LoadBalancer' && !!this.lb?.handlesClass(svc.spec?.loadBalancerClass) && !svc.metadata.deletionTimestamp;
  }

  async start(ctx: ComponentContext): Promise<void> {
    if (!this.lb) return;
    this.client = ctx.client;
    this.recorder = ctx.recorder('service-lb-controller');
    const svcInf = ctx.informers.forResource(resources.services);
    const nodeInf = ctx.informers.forResource(resources.nodes);
    this.services = svcInf.lister;
    this.nodes = nodeInf.lister;
    this.loop.regs.push(
      svcInf.addEventHandler({
        onAdd: (s) => this.queue.add(keyOf(s)),
        onUpdate: (_o, s) => this.queue.add(keyOf(s)),
        onDelete: (obj) => this.queue.add(keyOf(objectFromTombstone(obj))),
      }),
      nodeInf.addEventHandler({
        onAdd: () => this.nodesChanged(),
        onDelete: () => this.nodesChanged(),
      }),
    );
    ctx.informers.start();
    this.loop.run(
      async () => {
        await Promise.all([svcInf.waitForSync(), nodeInf.waitForSync()]);
        // Addresses already handed out stay with their Services across restarts and leader changes.
        this.lb!.observeExisting?.(this.services.list());
      },
      1,
      (k) => this.sync(k),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  private nodesChanged(): void {
    for (const s of this.services?.list() ?? []) if (this.wants(s)) this.queue.add(keyOf(s));
  }

  private readyNodes(): KObject[] {
    return this.nodes.list().filter((n) => !n.spec?.unschedulable && n.status?.conditions?.some((c: KObject) => c.type === 'Ready' && c.status === 'True'));
  }

  async sync(key: string): Promise<void> {
    const [namespace, name] = key.split('/');
    const svc: KObject | undefined = this.services.get(namespace, name);
    if (!svc) return; // The finalizer means a Service with a load balancer is never gone before cleanup.
    const finalizers: string[] = svc.metadata.finalizers ?? [];
    const hasFinalizer = finalizers.includes(LOAD_BALANCER_CLEANUP_FINALIZER);
    if (!this.wants(svc)) {
      const handledBefore = hasFinalizer || (svc.status?.loadBalancer?.ingress?.length && this.lb!.handlesClass(svc.spec?.loadBalancerClass));
      if (!handledBefore) return;
      this.recorder?.event(svc, 'Normal', 'DeletingLoadBalancer', 'Deleting load balancer');
      await this.lb!.ensureLoadBalancerDeleted(this.clusterName, svc);
      if (svc.status?.loadBalancer?.ingress?.length) await this.patchStatus(svc, {});
      if (hasFinalizer) await this.setFinalizer(svc, false);
      this.recorder?.event(svc, 'Normal', 'DeletedLoadBalancer', 'Deleted load balancer');
      return;
    }
    if (!hasFinalizer) await this.setFinalizer(svc, true);
    const had = JSON.stringify(svc.status?.loadBalancer ?? {});
    if (!svc.status?.loadBalancer?.ingress?.length) this.recorder?.event(svc, 'Normal', 'EnsuringLoadBalancer', 'Ensuring load balancer');
    let status;
    try {
      status = await this.lb!.ensureLoadBalancer(this.clusterName, svc, this.readyNodes());
    } catch (e) {
      this.recorder?.event(svc, 'Warning', 'SyncLoadBalancerFailed', `Error syncing load balancer: failed to ensure load balancer: ${(e as Error).message}`);
      throw e;
    }
    if (JSON.stringify(status) !== had) {
      await this.patchStatus(svc, status);
      this.recorder?.event(svc, 'Normal', 'EnsuredLoadBalancer', 'Ensured load balancer');
      log.info('load balancer ensured', { service: key, ingress: status.ingress.map((i) => i.ip ?? i.hostname).join(',') });
    }
  }

  private async patchStatus(svc: KObject, loadBalancer: object): Promise<void> {
    try {
      await this.client.patch(resources.services, svc.metadata.namespace, svc.metadata.name, { status: { loadBalancer } }, 'merge', { subresource: 'status' });
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 404)) throw e;
    }
  }

  private async setFinalizer(svc: KObject, present: boolean): Promise<void> {
    const cur: string[] = svc.metadata.finalizers ?? [];
    const next = present ? [...cur, LOAD_BALANCER_CLEANUP_FINALIZER] : cur.filter((f) => f !== LOAD_BALANCER_CLEANUP_FINALIZER);
    try {
      // resourceVersion makes this a conditional write: a concurrent change is retried, not lost.
      await this.client.patch(resources.services, svc.metadata.namespace, svc.metadata.name, { metadata: { finalizers: next, resourceVersion: svc.metadata.resourceVersion } }, 'merge');
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 404)) throw e;
    }
  }
}
