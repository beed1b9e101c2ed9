/**
 * Pure pieces of the PersistentVolume binder (upstream's pkg/controller/volume/persistentvolume
 * util): which volume a claim should bind to, whether a volume is bound to a claim, and the
 * objects a bind writes.
 */
import { labelSelectorFromObject, selectorMatches } from '../../../api/labels/index.js';
import { tryParseQuantity, type Quantity } from '../../../api/quantity.js';
import type { KObject } from '../../../client/rest-client.js';

/** Set on a claim once the binder has finished binding it. */
export const ANN_BIND_COMPLETED = 'pv.kubernetes.io/bind-completed';
/** Set on a volume or claim the binder (not the user) bound. */
export const ANN_BOUND_BY_CONTROLLER = 'pv.kubernetes.io/bound-by-controller';
/** Set by the scheduler on a claim of a WaitForFirstConsumer class once a consumer's node is chosen. */
export const ANN_SELECTED_NODE = 'volume.kubernetes.io/selected-node';
const BETA_STORAGE_CLASS = 'volume.beta.kubernetes.io/storage-class';

/** A volume's class: the beta annotation, else spec.storageClassName. */
export function volumeClass(pv: KObject): string {
  const ann = pv.metadata?.annotations?.[BETA_STORAGE_CLASS];
  return typeof ann === 'string' ? ann : (pv.spec?.storageClassName ?? '');
}

/** A claim's class: the beta annotation, else spec.storageClassName ('' when none). */
export function claimClass(pvc: KObject): string {
  const ann = pvc.metadata?.annotations?.[BETA_STORAGE_CLASS];
  return typeof ann === 'string' ? ann : (pvc.spec?.storageClassName ?? '');
}

/** The volume's claimRef names this claim (and, when it has a uid, this incarnation of it). */
export function isVolumeBoundToClaim(pv: KObject, pvc: KObject): boolean {
  const ref = pv.spec?.claimRef;
  if (!ref) return false;
  if (ref.name !== pvc.metadata?.name || ref.namespace !== pvc.metadata?.namespace) return false;
  return !ref.uid || ref.uid === pvc.metadata?.uid;
}

function storageOf(v: unknown): Quantity | undefined {
  return tryParseQuantity(v);
}

const modeOf = (spec: KObject | undefined) => spec?.volumeMode || 'Filesystem';

/** Why the volume cannot serve the claim, or undefined when it can (upstream's checkVolumeSatisfyClaim). */
export function volumeUnsuitableReason(pv: KObject, pvc: KObject): string | undefined {
  const want = storageOf(pvc.spec?.resources?.requests?.storage);
  const have = storageOf(pv.spec?.capacity?.storage);
  if (!want || !have || have.cmp(want) < 0) return 'requested PV is too small';
  if (volumeClass(pv) !== claimClass(pvc)) return 'storageClassName does not match';
  if (modeOf(pv.spec) !== modeOf(pvc.spec)) return 'incompatible volumeMode';
  const have2 = new Set<string>(pv.spec?.accessModes ?? []);
  if (!(pvc.spec?.accessModes ?? []).every((m: string) => have2.has(m))) return 'incompatible accessMode';
  return undefined;
}

/**
 * The volume a pending claim should bind to (upstream's findBestMatchForClaim): a volume already
 * pre-bound to the claim wins; otherwise, unless binding is delayed, the smallest Available,
 * unclaimed volume that has at least the claim's access modes (fewest extra modes first), its
 * class and volume mode, matches its selector and holds its storage request.
 */
export function findBestMatch(pvc: KObject, volumes: KObject[], delayBinding = false): KObject | undefined {
  const want = storageOf(pvc.spec?.resources?.requests?.storage);
  if (!want) return undefined;
  const wantModes: string[] = pvc.spec?.accessModes ?? [];
  let selector: ReturnType<typeof labelSelectorFromObject> | undefined;
  if (pvc.spec?.selector) {
    try {
      selector = labelSelectorFromObject(pvc.spec.selector);
    } catch {
      return undefined;
    }
  }
  const cls = claimClass(pvc);
  let best: { pv: KObject; modes: number; size: Quantity } | undefined;
  for (const pv of volumes) {
    if (pv.metadata?.deletionTimestamp) continue;
    if (modeOf(pv.spec) !== modeOf(pvc.spec)) continue;
    const modes = new Set<string>(pv.spec?.accessModes ?? []);
    if (!wantModes.every((m) => modes.has(m))) continue;
    const size = storageOf(pv.spec?.capacity?.storage);
    if (isVolumeBoundToClaim(pv, pvc)) {
      if (size && size.cmp(want) >= 0 && volumeClass(pv) === cls) return pv;
      continue;
    }
    if (delayBinding) continue;
    if (pv.status?.phase !== 'Available' || pv.spec?.claimRef) continue;
    if (selector && !selectorMatches(selector, pv.metadata?.labels ?? {})) continue;
    if (volumeClass(pv) !== cls) continue;
    if (!size || size.cmp(want) < 0) continue;
    // Fewer access modes first (upstream walks its access-mode index from the smallest set), then the smallest size.
    if (!best || modes.size < best.modes || (modes.size === best.modes && size.cmp(best.size) < 0)) best = { pv, modes: modes.size, size };
  }
  return best?.pv;
}

/** The claimRef a volume bound to `pvc` carries (upstream's reference.GetReference). */
export function claimRefFor(pvc: KObject): KObject {
  return {
    kind: 'PersistentVolumeClaim',
    namespace: pvc.metadata.namespace,
    name: pvc.metadata.name,
    uid: pvc.metadata.uid,
    apiVersion: 'v1',
    resourceVersion: pvc.metadata.resourceVersion,
  };
}

/** The volume with its claimRef pointing at `pvc`, or undefined when it already does (upstream's bindVolumeToClaim). */
export function volumeBoundTo(pv: KObject, pvc: KObject): KObject | undefined {
  const ref = pv.spec?.claimRef;
  const ann = pv.metadata?.annotations ?? {};
  if (ref && ref.uid === pvc.metadata.uid && ref.name === pvc.metadata.name && ref.namespace === pvc.metadata.namespace) return undefined;
  const next = structuredClone(pv);
  // The controller made this bind only when nobody pre-bound the volume.
  if (!ref) next.metadata.annotations = { ...ann, [ANN_BOUND_BY_CONTROLLER]: 'yes' };
  next.spec.claimRef = claimRefFor(pvc);
  return next;
}

/** The claim with volumeName and the binder's annotations set, or undefined when nothing changes (upstream's bindClaimToVolume). */
export function claimBoundTo(pvc: KObject, pv: KObject): KObject | undefined {
  const ann = pvc.metadata?.annotations ?? {};
  const byController = !pvc.spec?.volumeName;
  if (pvc.spec?.volumeName === pv.metadata.name && ann[ANN_BIND_COMPLETED] === 'yes') return undefined;
  const next = structuredClone(pvc);
  next.spec.volumeName = pv.metadata.name;
  next.metadata.annotations = { ...ann, [ANN_BIND_COMPLETED]: 'yes', ...(byController ? { [ANN_BOUND_BY_CONTROLLER]: 'yes' } : {}) };
  return next;
}

/** Claim names a pod's volumes reference: persistentVolumeClaim volumes and generic ephemeral volumes (`<pod>-<volume>`). */
export function podClaimNames(pod: KObject): string[] {
  const out: string[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    if (v?.persistentVolumeClaim?.claimName) out.push(v.persistentVolumeClaim.claimName);
    else if (v?.ephemeral) out.push(`${pod.metadata?.name}-${v.name}`);
  }
  return out;
}

/** Newer of two copies of one object by resourceVersion (numeric when both are). */
export function newer(a: KObject | undefined, b: KObject | undefined): KObject | undefined {
  if (!a) return b;
  if (!b) return a;
  const ra = a.metadata?.resourceVersion ?? '';
  const rb = b.metadata?.resourceVersion ?? '';
  if (/^\d+$/.test(ra) && /^\d+$/.test(rb)) return BigInt(ra) >= BigInt(rb) ? a : b;
  return a;
}
