/**
 * The pvc-protection and pv-protection controllers (upstream's pkg/controller/volume/
 * pvcprotection and pvprotection): a claim being deleted keeps its `kubernetes.io/pvc-protection`
 * finalizer while a pod that has not terminated uses it, and a volume being deleted keeps
 * `kubernetes.io/pv-protection` while it is Bound. Objects created before admission added the
 * finalizer get it here.
 */
import { StatusError } from '../../../api/errors.js';
import type { Component, ComponentContext } from '../../../client/component.js';
import { objectFromTombstone, splitMetaNamespaceKey, type DeletedFinalStateUnknown, type Lister } from '../../../client/informer.js';
import type { KObject, RestClient } from '../../../client/rest-client.js';
import { resources } from '../../../client/resources.js';
import { WorkQueue } from '../../../client/workqueue.js';
import { ControllerLoop } from '../../common/controller-loop.js';
import { podClaimNames } from './binder.js';

/** The claim finalizer (as StorageObjectInUseProtection admission adds it). */
export const PVC_PROTECTION_FINALIZER = 'kubernetes.io/pvc-protection';
/** The volume finalizer. */
export const PV_PROTECTION_FINALIZER = 'kubernetes.io/pv-protection';

const isCode = (e: unknown, code: number) => e instanceof StatusError && e.code === code;
const hasFinalizer = (o: KObject, f: string) => Array.isArray(o.metadata?.finalizers) && o.metadata.finalizers.includes(f);
/** Terminal, or deleted with no grace left (upstream's podIsShutDown). */
const shutDown = (pod: KObject) =>
  pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed' || (!!pod.metadata?.deletionTimestamp && pod.metadata?.deletionGracePeriodSeconds === 0);

/**
 * True when a scheduled pod that has not shut down uses the claim (upstream's podUsesPVC): an
 * unscheduled pod never starts with a claim that is being deleted, so it does not hold it.
 */
export function claimInUse(pvc: KObject, pods: KObject[]): boolean {
  return pods.some((p) => p.metadata?.namespace === pvc.metadata?.namespace && !!p.spec?.nodeName && !shutDown(p) && podClaimNames(p).includes(pvc.metadata?.name));
}

/** Add or drop `finalizer` with one update; a conflict fails the sync so the queue retries it. */
async function setFinalizer(client: RestClient, ref: (typeof resources)['persistentvolumes'] | (typeof resources)['persistentvolumeclaims'], obj: KObject, finalizer: string, want: boolean): Promise<void> {
  const fs: string[] = Array.isArray(obj.metadata?.finalizers) ? obj.metadata.finalizers : [];
  const next = structuredClone(obj);
  next.metadata.finalizers = want ? [...fs, finalizer] : fs.filter((f) => f !== finalizer);
  try {
    await client.update(ref, next);
  } catch (e) {
    if (!isCode(e, 404)) throw e;
  }
}

/** The pvc-protection controller, as a {@link Component}. */
export class PVCProtectionController implements Component {
  readonly name = 'pvc-protection-controller';
  readonly queue = new WorkQueue<string>({ name: 'pvcprotection' });
  private client!: RestClient;
  private pvcLister!: Lister;
  private podLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'pvc');

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const pvcInf = ctx.informers.forResource(resources.persistentvolumeclaims);
    const podInf = ctx.informers.forResource(resources.pods);
    this.pvcLister = pvcInf.lister;
    this.podLister = podInf.lister;
    const onPVC = (pvc: KObject) => this.queue.add(`${pvc.metadata.namespace}/${pvc.metadata.name}`);
    const onPod = (obj: KObject | DeletedFinalStateUnknown) => {
      const pod = objectFromTombstone(obj);
      for (const c of podClaimNames(pod)) this.queue.add(`${pod.metadata?.namespace}/${c}`);
    };
    this.loop.regs.push(
      pvcInf.addEventHandler({ onAdd: onPVC, onUpdate: (_o, n) => onPVC(n), onDelete: () => undefined }),
      podInf.addEventHandler({ onAdd: () => undefined, onUpdate: (_o, n) => onPod(n), onDelete: onPod }),
    );
    ctx.informers.start();
    this.loop.run(() => Promise.all([pvcInf.waitForSync(), podInf.waitForSync()]), 1, (k) => this.sync(k));
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  async sync(key: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(key);
    const pvc = this.pvcLister.get(namespace, name);
    if (!pvc) return;
    const has = hasFinalizer(pvc, PVC_PROTECTION_FINALIZER);
    if (!pvc.metadata?.deletionTimestamp) {
      if (!has) await setFinalizer(this.client, resources.persistentvolumeclaims, pvc, PVC_PROTECTION_FINALIZER, true);
      return;
    }
    if (!has) return;
    if (claimInUse(pvc, this.podLister.list(namespace))) return;
    // The pod cache may lag behind a pod just created: confirm with the server (upstream's askAPIServer).
    const live = (await this.client.list(resources.pods, namespace)).items ?? [];
    if (claimInUse(pvc, live)) return;
    await setFinalizer(this.client, resources.persistentvolumeclaims, pvc, PVC_PROTECTION_FINALIZER, false);
  }
}

/** The pv-protection controller, as a {@link Component}. */
export class PVProtectionController implements Component {
  readonly name = 'pv-protection-controller';
  readonly queue = new WorkQueue<string>({ name: 'pvprotection' });
  private client!: RestClient;
  private pvLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'pv');

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const pvInf = ctx.informers.forResource(resources.persistentvolumes);
    this.pvLister = pvInf.lister;
    this.loop.regs.push(pvInf.addEventHandler({ onAdd: (pv) => this.queue.add(pv.metadata.name), onUpdate: (_o, pv) => this.queue.add(pv.metadata.name), onDelete: () => undefined }));
    ctx.informers.start();
    this.loop.run(() => pvInf.waitForSync(), 1, (k) => this.sync(k));
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  async sync(name: string): Promise<void> {
    const pv = this.pvLister.get('', name);
    if (!pv) return;
    const has = hasFinalizer(pv, PV_PROTECTION_FINALIZER);
    if (!pv.metadata?.deletionTimestamp) {
      if (!has) await setFinalizer(this.client, resources.persistentvolumes, pv, PV_PROTECTION_FINALIZER, true);
      return;
    }
    // A volume is in use while Bound (upstream's isBeingUsed).
    if (has && pv.status?.phase !== 'Bound') await setFinalizer(this.client, resources.persistentvolumes, pv, PV_PROTECTION_FINALIZER, false);
  }
}
