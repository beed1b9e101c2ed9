/**
 * The ephemeral volume controller (upstream's pkg/controller/volume/ephemeral): for each generic
 * ephemeral volume of a pod it creates the claim `<pod>-<volume>` from the volume's
 * volumeClaimTemplate, owned by the pod (controller, blockOwnerDeletion), so the claim lives and
 * dies with the pod. A claim of that name that the pod does not own is left alone.
 */
import { StatusError } from '../../../api/errors.js';
import type { Component, ComponentContext } from '../../../client/component.js';
import type { EventRecorder } from '../../../client/event-recorder.js';
import { objectFromTombstone, splitMetaNamespaceKey, type Lister } from '../../../client/informer.js';
import type { KObject, RestClient } from '../../../client/rest-client.js';
import { resources } from '../../../client/resources.js';
import { WorkQueue } from '../../../client/workqueue.js';
import { ControllerLoop } from '../../common/controller-loop.js';

const isCode = (e: unknown, code: number) => e instanceof StatusError && e.code === code;

/** The claims a pod's generic ephemeral volumes need, as they are created (upstream's handleVolume). */
export function ephemeralClaims(pod: KObject): KObject[] {
  const out: KObject[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    const t = v?.ephemeral?.volumeClaimTemplate;
    if (!t) continue;
    const metadata: KObject = {
      name: `${pod.metadata.name}-${v.name}`,
      namespace: pod.metadata.namespace,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid, controller: true, blockOwnerDeletion: true }],
    };
    if (t.metadata?.labels) metadata.labels = { ...t.metadata.labels };
    if (t.metadata?.annotations) metadata.annotations = { ...t.metadata.annotations };
    out.push({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata, spec: structuredClone(t.spec ?? {}) });
  }
  return out;
}

/** The ephemeral volume controller, as a {@link Component}. */
export class EphemeralVolumeController implements Component {
  readonly name = 'ephemeral-volume-controller';
  readonly queue = new WorkQueue<string>({ name: 'ephemeral_volume' });
  private client!: RestClient;
  private recorder!: EventRecorder;
  private podLister!: Lister;
  private pvcLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'pod');

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    this.recorder = ctx.recorder('ephemeral_volume');
    const podInf = ctx.informers.forResource(resources.pods);
    const pvcInf = ctx.informers.forResource(resources.persistentvolumeclaims);
    this.podLister = podInf.lister;
    this.pvcLister = pvcInf.lister;
    const onPod = (pod: KObject) => {
      if (!pod.metadata?.deletionTimestamp && (pod.spec?.volumes ?? []).some((v: KObject) => v?.ephemeral)) this.queue.add(`${pod.metadata.namespace}/${pod.metadata.name}`);
    };
    this.loop.regs.push(
      podInf.addEventHandler({ onAdd: onPod, onUpdate: (_o, n) => onPod(n), onDelete: () => undefined }),
      // A claim deleted under a live pod is made again.
      pvcInf.addEventHandler({
        onAdd: () => undefined,
        onUpdate: () => undefined,
        onDelete: (obj) => {
          const pvc = objectFromTombstone(obj);
          const ref = pvc.metadata?.ownerReferences?.find((r: KObject) => r.kind === 'Pod' && r.controller);
          if (ref) this.queue.add(`${pvc.metadata.namespace}/${ref.name}`);
        },
      }),
    );
    ctx.informers.start();
    this.loop.run(() => Promise.all([podInf.waitForSync(), pvcInf.waitForSync()]), 1, (k) => this.sync(k));
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  async sync(key: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(key);
    const pod = this.podLister.get(namespace, name);
    if (!pod || pod.metadata?.deletionTimestamp) return;
    for (const claim of ephemeralClaims(pod)) {
      if (this.pvcLister.get(namespace, claim.metadata.name)) continue;
      try {
        await this.client.create(resources.persistentvolumeclaims, namespace, claim);
      } catch (e) {
        if (isCode(e, 409)) continue;
        this.recorder.event(pod, 'Warning', 'FailedBinding', `PVC creation failed: ${e instanceof Error ? e.message : String(e)}`);
        throw e;
      }
    }
  }
}
