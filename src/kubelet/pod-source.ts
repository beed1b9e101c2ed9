/**
 * Where a kubelet learns about the pods bound to its node. A real kubelet watches
 * `spec.nodeName=<node>`; hollow nodes share one watch on all pods, indexed by node name, and the
 * source hands each node its own pods. Kubelets see only the {@link PodSource} interface.
 */
import type { KObject, RestClient } from '../client/rest-client.js';
import { resources } from '../client/resources.js';
import { NODE_NAME_INDEX, SharedInformer, nodeNameIndexFunc, objectFromTombstone } from '../client/informer.js';

/** Callbacks for one node's pods. */
export interface PodHandler {
  /** A pod bound to the node appeared or changed (also each cached pod on subscribe). */
  podChanged(pod: KObject): void;
  /** The pod object is gone from the API. */
  podRemoved(pod: KObject): void;
}

/** A stream of the pods bound to each subscribed node. */
export interface PodSource {
  /** Receive the pods of `nodeName`; cached ones are replayed at once. Returns an unsubscribe function. */
  subscribe(nodeName: string, handler: PodHandler): () => void;
  start(): void;
  /** True once the initial list has been delivered. */
  waitForSync(timeoutMs?: number): Promise<boolean>;
  stop(): Promise<void>;
}

/** A {@link PodSource} over one shared informer, dispatching by `spec.nodeName`. */
export class InformerPodSource implements PodSource {
  private readonly handlers = new Map<string, PodHandler>();

  /**
   * @param informer a pod informer (any scope); a node-name index is added if missing.
   * @param owned stop the informer with the source (false when it comes from a shared factory).
   */
  constructor(
    readonly informer: SharedInformer<KObject>,
    private readonly owned = true,
  ) {
    if (!informer.indexer.indexNames().includes(NODE_NAME_INDEX)) informer.addIndexers({ [NODE_NAME_INDEX]: nodeNameIndexFunc });
    informer.addEventHandler({
      onAdd: (pod) => this.changed(pod),
      onUpdate: (_old, pod) => this.changed(pod),
      onDelete: (obj) => {
        const pod = objectFromTombstone(obj);
        const h = pod?.spec?.nodeName ? this.handlers.get(pod.spec.nodeName) : undefined;
        h?.podRemoved(pod);
      },
    });
  }

  /** One informer over every pod in the cluster: for many kubelets in one process. */
  static shared(client: RestClient): InformerPodSource {
    return new InformerPodSource(new SharedInformer<KObject>({ client, ref: resources.pods }, { name: 'hollow-pods', indexers: { [NODE_NAME_INDEX]: nodeNameIndexFunc } }));
  }

  /** The field-selected watch of a single real kubelet. */
  static forNode(client: RestClient, nodeName: string): InformerPodSource {
    return new InformerPodSource(new SharedInformer<KObject>({ client, ref: resources.pods }, { name: `pods@${nodeName}`, fieldSelector: `spec.nodeName=${nodeName}` }));
  }

  private changed(pod: KObject): void {
    const node = pod?.spec?.nodeName;
    if (node) this.handlers.get(node)?.podChanged(pod);
  }

  subscribe(nodeName: string, handler: PodHandler): () => void {
    this.handlers.set(nodeName, handler);
    if (this.informer.hasSynced()) for (const pod of this.informer.indexer.byIndex(NODE_NAME_INDEX, nodeName)) handler.podChanged(pod);
    return () => {
      if (this.handlers.get(nodeName) === handler) this.handlers.delete(nodeName);
    };
  }

  start(): void {
    this.informer.start();
  }

  waitForSync(timeoutMs?: number): Promise<boolean> {
    return this.informer.waitForSync({ timeoutMs });
  }

  async stop(): Promise<void> {
    this.handlers.clear();
    if (this.owned) await this.informer.stop();
  }
}
