/**
 * The root CA certificate publisher (upstream's pkg/controller/certificates/rootcacertpublisher):
 * every active namespace holds the ConfigMap `kube-root-ca.crt` with the cluster CA, which pods'
 * projected service account volumes mount to verify the API server.
 */
import { StatusError } from '../../api/errors.js';
import type { Component, ComponentContext } from '../../client/component.js';
import { objectFromTombstone, type DeletedFinalStateUnknown, type Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { ControllerLoop } from '../common/controller-loop.js';
import { rootCAConfigMap, rootCAConfigMapName, rootCADescription } from './root-ca-configmap.js';

export { rootCAConfigMap, rootCAConfigMapName, rootCADescription };

/** Queue items are namespace names. */
export class RootCACertPublisher implements Component {
  readonly name = 'root-ca-cert-publisher';
  readonly queue = new WorkQueue<string>({ name: 'root_ca_cert_publisher' });
  private client!: RestClient;
  private nsLister!: Lister;
  private cmLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'namespace');

  constructor(private readonly caPEM: string) {}

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const nsInf = ctx.informers.forResource(resources.namespaces);
    const cmInf = ctx.informers.forResource(resources.configmaps);
    this.nsLister = nsInf.lister;
    this.cmLister = cmInf.lister;
    const onConfigMap = (obj: KObject | DeletedFinalStateUnknown) => {
      const cm = objectFromTombstone(obj);
      if (cm.metadata?.name === rootCAConfigMapName) this.queue.add(cm.metadata.namespace);
    };
    this.loop.regs.push(
      nsInf.addEventHandler({ onAdd: (ns) => this.queue.add(ns.metadata.name), onUpdate: (_o, ns) => this.queue.add(ns.metadata.name) }),
      cmInf.addEventHandler({ onUpdate: (_o, cm) => onConfigMap(cm), onDelete: onConfigMap }),
    );
    ctx.informers.start();
    this.loop.run(async () => {
      await Promise.all([nsInf.waitForSync(), cmInf.waitForSync()]);
    }, 1, (k) => this.sync(k));
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Create the ConfigMap, or put back its content and annotation when someone changed them. */
  async sync(namespace: string): Promise<void> {
    const ns = this.nsLister.get('', namespace);
    if (!ns || ns.status?.phase === 'Terminating' || ns.metadata?.deletionTimestamp) return;
    const cm = this.cmLister.get(namespace, rootCAConfigMapName);
    try {
      if (!cm) {
        await this.client.create(resources.configmaps, namespace, rootCAConfigMap(namespace, this.caPEM));
        return;
      }
      if (cm.data?.['ca.crt'] === this.caPEM && cm.metadata?.annotations?.['kubernetes.io/description'] === rootCADescription && Object.keys(cm.data ?? {}).length === 1) return;
      const want = rootCAConfigMap(namespace, this.caPEM);
      await this.client.update(resources.configmaps, {
        ...cm,
        metadata: { ...cm.metadata, annotations: { ...cm.metadata?.annotations, ...want.metadata.annotations } },
        data: want.data,
      });
    } catch (e) {
      if (e instanceof StatusError && (e.code === 409 || e.code === 404)) {
        this.queue.addRateLimited(namespace);
        return;
      }
      if (e instanceof StatusError && e.code === 403 && /being terminated/.test(e.message)) return;
      throw e;
    }
  }
}
