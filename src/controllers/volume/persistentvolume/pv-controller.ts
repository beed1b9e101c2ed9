/**
 * The PersistentVolume binder (upstream's pkg/controller/volume/persistentvolume, the
 * persistent-volume-binder of kube-controller-manager): binds pending claims to the smallest
 * matching Available volume (or the volume pre-bound to them), keeps both sides' phases, and when
 * a bound claim goes releases the volume and reclaims it by its policy (Retain: kept Released;
 * Delete: the PersistentVolume object is deleted; Recycle: Failed, k8ts has no recycler).
 *
 * One worker serializes every decision, and the controller reads its own writes before the
 * informers catch up, so two claims never take one volume.
 */
import { StatusError } from '../../../api/errors.js';
import { logger } from '../../../base/log.js';
import type { Component, ComponentContext } from '../../../client/component.js';
import type { EventRecorder } from '../../../client/event-recorder.js';
import { objectFromTombstone, splitMetaNamespaceKey, type DeletedFinalStateUnknown, type Lister } from '../../../client/informer.js';
import type { KObject, RestClient } from '../../../client/rest-client.js';
import { resources } from '../../../client/resources.js';
import { WorkQueue } from '../../../client/workqueue.js';
import { ControllerLoop } from '../../common/controller-loop.js';
import { ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, claimBoundTo, claimClass, findBestMatch, isVolumeBoundToClaim, newer, volumeBoundTo, volumeUnsuitableReason } from './binder.js';

const log = logger('persistentvolume-binder');
const isCode = (e: unknown, code: number) => e instanceof StatusError && e.code === code;

export interface PersistentVolumeControllerOptions {
  /** How often every claim and volume is synced again (upstream's --pvclaimbinder-sync-period, 15 s). 0 disables. */
  resyncMs?: number;
}

/** The provisioner a claim waits for (and its beta spelling), set for external provisioners. */
const ANN_STORAGE_PROVISIONER = 'volume.kubernetes.io/storage-provisioner';
const ANN_BETA_STORAGE_PROVISIONER = 'volume.beta.kubernetes.io/storage-provisioner';

const claimKey = (ns: string, name: string) => `claim:${ns}/${name}`;
const volumeKey = (name: string) => `volume:${name}`;

/** The PersistentVolume binder, as a {@link Component}. */
export class PersistentVolumeController implements Component {
  readonly name = 'persistentvolume-binder-controller';
  readonly queue = new WorkQueue<string>({ name: 'persistentvolume' });
  private client!: RestClient;
  private recorder!: EventRecorder;
  private pvLister!: Lister;
  private pvcLister!: Lister;
  private scLister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'key');
  private readonly resyncMs: number;
  private resyncTimer?: NodeJS.Timeout;
  /** What this controller wrote last, newer than the informers until they catch up. */
  private readonly written = new Map<string, KObject>();

  constructor(opts: PersistentVolumeControllerOptions = {}) {
    this.resyncMs = opts.resyncMs ?? 15_000;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    this.recorder = ctx.recorder('persistentvolume-controller');
    const pvInf = ctx.informers.forResource(resources.persistentvolumes);
    const pvcInf = ctx.informers.forResource(resources.persistentvolumeclaims);
    const scInf = ctx.informers.forResource(resources.storageclasses);
    this.pvLister = pvInf.lister;
    this.pvcLister = pvcInf.lister;
    this.scLister = scInf.lister;
    this.loop.regs.push(
      pvInf.addEventHandler({
        onAdd: (pv) => this.onVolume(pv),
        onUpdate: (_o, pv) => this.onVolume(pv),
        onDelete: (obj) => {
          const pv = objectFromTombstone(obj);
          this.written.delete(volumeKey(pv.metadata?.name));
          const ref = pv.spec?.claimRef;
          if (ref?.name) this.queue.add(claimKey(ref.namespace ?? '', ref.name));
        },
      }),
      pvcInf.addEventHandler({
        onAdd: (pvc) => this.queue.add(claimKey(pvc.metadata.namespace, pvc.metadata.name)),
        onUpdate: (_o, pvc) => this.queue.add(claimKey(pvc.metadata.namespace, pvc.metadata.name)),
        onDelete: (obj) => this.onClaimDeleted(obj),
      }),
      scInf.addEventHandler({ onAdd: () => this.enqueuePendingClaims(), onUpdate: () => undefined }),
    );
    ctx.informers.start();
    this.loop.run(
      async () => {
        await Promise.all([pvInf.waitForSync(), pvcInf.waitForSync(), scInf.waitForSync()]);
        if (this.resyncMs > 0) this.resyncTimer = setInterval(() => this.resync(), this.resyncMs);
      },
      1,
      (k) => this.sync(k),
    );
  }

  async stop(): Promise<void> {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.loop.stop();
  }

  private onVolume(pv: KObject): void {
    this.queue.add(volumeKey(pv.metadata.name));
    // A new or freed volume may be what a pending claim waits for.
    if (pv.status?.phase === 'Available' || !pv.spec?.claimRef) this.enqueuePendingClaims();
    const ref = pv.spec?.claimRef;
    if (ref?.name) this.queue.add(claimKey(ref.namespace ?? '', ref.name));
  }

  private onClaimDeleted(obj: KObject | DeletedFinalStateUnknown): void {
    const pvc = objectFromTombstone(obj);
    this.written.delete(claimKey(pvc.metadata?.namespace, pvc.metadata?.name));
    if (pvc.spec?.volumeName) this.queue.add(volumeKey(pvc.spec.volumeName));
    for (const pv of this.pvLister.list()) if (isVolumeBoundToClaim(pv, pvc)) this.queue.add(volumeKey(pv.metadata.name));
  }

  private enqueuePendingClaims(): void {
    for (const pvc of this.pvcLister.list()) if (!pvc.spec?.volumeName) this.queue.add(claimKey(pvc.metadata.namespace, pvc.metadata.name));
  }

  private resync(): void {
    for (const pvc of this.pvcLister.list()) this.queue.add(claimKey(pvc.metadata.namespace, pvc.metadata.name));
    for (const pv of this.pvLister.list()) this.queue.add(volumeKey(pv.metadata.name));
  }

  // ---- reads that see this controller's own writes ------------------------------------------

  private volume(name: string): KObject | undefined {
    const cached = this.pvLister.get('', name);
    const mine = this.written.get(volumeKey(name));
    if (!cached) return undefined;
    return newer(cached, mine?.metadata?.uid === cached.metadata?.uid ? mine : undefined);
  }

  private volumes(): KObject[] {
    return this.pvLister.list().map((pv) => this.volume(pv.metadata.name) ?? pv);
  }

  private claim(ns: string, name: string): KObject | undefined {
    const cached = this.pvcLister.get(ns, name);
    const mine = this.written.get(claimKey(ns, name));
    if (!cached) return undefined;
    return newer(cached, mine?.metadata?.uid === cached.metadata?.uid ? mine : undefined);
  }

  private remember(key: string, obj: KObject): KObject {
    this.written.set(key, obj);
    return obj;
  }

  // ---- sync ----------------------------------------------------------------------------------

  async sync(key: string): Promise<void> {
    if (key.startsWith('claim:')) {
      const { namespace, name } = splitMetaNamespaceKey(key.slice('claim:'.length));
      const pvc = this.claim(namespace, name);
      if (!pvc) return;
      if (pvc.metadata?.annotations?.[ANN_BIND_COMPLETED]) await this.syncBoundClaim(pvc);
      else await this.syncUnboundClaim(pvc);
    } else if (key.startsWith('volume:')) {
      const pv = this.volume(key.slice('volume:'.length));
      if (pv) await this.syncVolume(pv);
    }
  }

  /** Binding waits for the first consumer: the class says WaitForFirstConsumer and no node is chosen yet. */
  private delayBinding(pvc: KObject): boolean {
    const cls = claimClass(pvc);
    if (!cls) return false;
    const sc = this.scLister.get('', cls);
    return sc?.volumeBindingMode === 'WaitForFirstConsumer' && !pvc.metadata?.annotations?.[ANN_SELECTED_NODE];
  }

  private async syncUnboundClaim(claim: KObject): Promise<void> {
    let pvc = claim;
    const wanted: string = pvc.spec?.volumeName ?? '';
    if (!wanted) {
      const delay = this.delayBinding(pvc);
      const pv = findBestMatch(pvc, this.volumes(), delay);
      if (pv) return this.bind(pv, pvc);
      const cls = claimClass(pvc);
      const sc = cls ? this.scLister.get('', cls) : undefined;
      if (delay) this.recorder.event(pvc, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
      else if (sc?.provisioner && sc.provisioner !== 'kubernetes.io/no-provisioner') {
        // An external provisioner picks up claims annotated with its name (upstream's setClaimProvisioner).
        const ann = pvc.metadata?.annotations ?? {};
        if (ann[ANN_STORAGE_PROVISIONER] !== sc.provisioner || ann[ANN_BETA_STORAGE_PROVISIONER] !== sc.provisioner) {
          const next = { ...pvc, metadata: { ...pvc.metadata, annotations: { ...ann, [ANN_STORAGE_PROVISIONER]: sc.provisioner, [ANN_BETA_STORAGE_PROVISIONER]: sc.provisioner } } };
          pvc = this.remember(claimKey(pvc.metadata.namespace, pvc.metadata.name), await this.client.update(resources.persistentvolumeclaims, next));
        }
        this.recorder.event(
          pvc,
          'Normal',
          'ExternalProvisioning',
          `Waiting for a volume to be created either by the external provisioner '${sc.provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`,
        );
      } else if (cls && !sc) this.recorder.event(pvc, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${cls}" not found`);
      else if (!cls) this.recorder.event(pvc, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set');
      return this.setClaimPhase(pvc, 'Pending');
    }
    // Pre-bound by the user to a named volume.
    const pv = this.volume(wanted);
    if (!pv) return this.setClaimPhase(pvc, 'Pending');
    if (!pv.spec?.claimRef) {
      const why = volumeUnsuitableReason(pv, pvc);
      if (why) {
        this.recorder.event(pvc, 'Warning', 'FailedBinding', `Cannot bind to requested volume "${wanted}": ${why}`);
        return this.setClaimPhase(pvc, 'Pending');
      }
      return this.bind(pv, pvc);
    }
    if (isVolumeBoundToClaim(pv, pvc)) return this.bind(pv, pvc);
    this.recorder.event(pvc, 'Warning', 'FailedBinding', `volume "${wanted}" already bound to a different claim.`);
    return this.setClaimPhase(pvc, 'Pending');
  }

  private async syncBoundClaim(pvc: KObject): Promise<void> {
    const name: string = pvc.spec?.volumeName ?? '';
    if (!name) {
      if (pvc.status?.phase !== 'Lost') this.recorder.event(pvc, 'Warning', 'ClaimLost', 'Bound claim has lost reference to PersistentVolume. Data on the volume is lost!');
      return this.setClaimPhase(pvc, 'Lost');
    }
    const pv = this.volume(name);
    if (!pv) {
      if (pvc.status?.phase !== 'Lost') this.recorder.event(pvc, 'Warning', 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
      return this.setClaimPhase(pvc, 'Lost');
    }
    if (!pv.spec?.claimRef || isVolumeBoundToClaim(pv, pvc)) return this.bind(pv, pvc);
    if (pvc.status?.phase !== 'Lost') this.recorder.event(pvc, 'Warning', 'ClaimMisbound', 'Two claims are bound to the same volume, this one is bound incorrectly');
    return this.setClaimPhase(pvc, 'Lost');
  }

  private async syncVolume(pv: KObject): Promise<unknown> {
    const ref = pv.spec?.claimRef;
    if (!ref) return this.setVolumePhase(pv, 'Available');
    if (!ref.uid) {
      // Pre-bound by the user to a claim by name: the claim's sync binds it.
      this.queue.add(claimKey(ref.namespace ?? '', ref.name));
      return this.setVolumePhase(pv, 'Available');
    }
    let pvc = this.claim(ref.namespace ?? '', ref.name);
    if (!pvc) {
      // The cache may be behind: ask the server before releasing anything.
      try {
        pvc = await this.client.get(resources.persistentvolumeclaims, ref.namespace ?? '', ref.name);
      } catch (e) {
        if (!isCode(e, 404)) throw e;
      }
    }
    if (pvc && pvc.metadata?.uid !== ref.uid) pvc = undefined;
    if (!pvc) return this.release(pv);
    if (!pvc.spec?.volumeName) {
      // Binding not finished yet: the claim's sync completes it.
      this.queue.add(claimKey(ref.namespace ?? '', ref.name));
      return;
    }
    if (pvc.spec.volumeName === pv.metadata.name) return this.setVolumePhase(pv, 'Bound');
    // The claim went to another volume: undo this side (upstream's unbindVolume).
    const next = structuredClone(pv);
    if (next.metadata?.annotations?.[ANN_BOUND_BY_CONTROLLER]) {
      delete next.spec.claimRef;
      delete next.metadata.annotations[ANN_BOUND_BY_CONTROLLER];
    } else next.spec.claimRef = { ...next.spec.claimRef, uid: '' };
    const updated = this.remember(volumeKey(pv.metadata.name), await this.client.update(resources.persistentvolumes, next));
    await this.setVolumePhase(updated, 'Available');
  }

  /** The claim of a bound volume is gone: Released, then reclaimed by the volume's policy. */
  private async release(pv: KObject): Promise<unknown> {
    const phase = pv.status?.phase;
    let cur = pv;
    if (phase !== 'Released' && phase !== 'Failed') {
      cur = await this.writeVolumePhase(pv, 'Released');
    }
    if (cur.status?.phase === 'Failed') return;
    switch (pv.spec?.persistentVolumeReclaimPolicy ?? 'Retain') {
      case 'Retain':
        return;
      case 'Delete':
        if (pv.metadata?.deletionTimestamp) return;
        try {
          await this.client.delete(resources.persistentvolumes, undefined, pv.metadata.name, { preconditions: { uid: pv.metadata.uid } });
        } catch (e) {
          if (!isCode(e, 404) && !isCode(e, 409)) {
            this.recorder.event(pv, 'Warning', 'VolumeFailedDelete', e instanceof Error ? e.message : String(e));
            throw e;
          }
        }
        return;
      default:
        this.recorder.event(pv, 'Warning', 'VolumeFailedRecycle', 'No recycler plugin found for the volume!');
        await this.writeVolumePhase(cur, 'Failed', 'VolumeFailedRecycle', 'No recycler plugin found for the volume!');
    }
  }

  /** Both sides of a bind, each write only when needed (upstream's bind). */
  private async bind(pv: KObject, pvc: KObject): Promise<void> {
    let vol = pv;
    const boundVol = volumeBoundTo(vol, pvc);
    if (boundVol) vol = this.remember(volumeKey(vol.metadata.name), await this.client.update(resources.persistentvolumes, boundVol));
    vol = await this.setVolumePhase(vol, 'Bound');
    let claim = pvc;
    const boundClaim = claimBoundTo(claim, vol);
    if (boundClaim) {
      claim = this.remember(claimKey(claim.metadata.namespace, claim.metadata.name), await this.client.update(resources.persistentvolumeclaims, boundClaim));
    }
    const st = claim.status ?? {};
    const capacity = vol.spec?.capacity ?? {};
    const modes = vol.spec?.accessModes ?? [];
    if (st.phase !== 'Bound' || JSON.stringify(st.capacity ?? {}) !== JSON.stringify(capacity) || JSON.stringify(st.accessModes ?? []) !== JSON.stringify(modes)) {
      const next = { ...claim, status: { ...st, phase: 'Bound', capacity: structuredClone(capacity), accessModes: [...modes] } };
      this.remember(claimKey(claim.metadata.namespace, claim.metadata.name), await this.client.update(resources.persistentvolumeclaims, next, 'status'));
      log.info('bound claim', { claim: `${claim.metadata.namespace}/${claim.metadata.name}`, volume: vol.metadata.name });
    }
  }

  private async setClaimPhase(pvc: KObject, phase: string): Promise<void> {
    if (pvc.status?.phase === phase) return;
    const next = { ...pvc, status: { ...pvc.status, phase } };
    this.remember(claimKey(pvc.metadata.namespace, pvc.metadata.name), await this.client.update(resources.persistentvolumeclaims, next, 'status'));
  }

  private async setVolumePhase(pv: KObject, phase: string): Promise<KObject> {
    if (pv.status?.phase === phase && !pv.status?.reason && !pv.status?.message) return pv;
    return this.writeVolumePhase(pv, phase);
  }

  private async writeVolumePhase(pv: KObject, phase: string, reason?: string, message?: string): Promise<KObject> {
    const status: KObject = { ...pv.status, phase };
    delete status.reason;
    delete status.message;
    if (reason) status.reason = reason;
    if (message) status.message = message;
    // The server stamps lastPhaseTransitionTime when the phase changes.
    if (pv.status?.phase !== phase) delete status.lastPhaseTransitionTime;
    return this.remember(volumeKey(pv.metadata.name), await this.client.update(resources.persistentvolumes, { ...pv, status }, 'status'));
  }
}
