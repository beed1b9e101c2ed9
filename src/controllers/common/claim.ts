/**
 * Adoption and release (upstream's ControllerRefManager.ClaimObject): a controller owns the
 * objects whose controller reference points at it and that its selector still matches; it adopts
 * matching orphans and releases owned objects that no longer match.
 */
import { StatusError } from '../../api/errors.js';
import type { KObject, ResourceRef, RestClient } from '../../client/rest-client.js';
import { getControllerOf, newControllerRef, type OwnerReference } from './controller-ref.js';

/** What {@link claimObjects} needs to know about the controller. */
export interface ClaimOwner {
  owner: KObject;
  gvk: { apiVersion: string; kind: string };
  /** Does the controller's selector match the object? */
  match(obj: KObject): boolean;
  /**
   * A fresh (uncached) check that the controller still exists with the same uid and is not being
   * deleted; called at most once, before the first adoption.
   */
  canAdopt(): Promise<void>;
}

/** Merge patch that replaces the owner references, pinned to the resourceVersion read. */
function ownerRefsPatch(obj: KObject, refs: OwnerReference[]): KObject {
  return { metadata: { ownerReferences: refs, resourceVersion: obj.metadata?.resourceVersion } };
}

const isNotFound = (e: unknown) => e instanceof StatusError && e.code === 404;

/**
 * The objects the controller owns after adopting and releasing as needed. Objects that vanished
 * meanwhile are skipped; any other error is thrown after every object has been tried.
 */
export async function claimObjects(client: RestClient, ref: ResourceRef, objs: KObject[], o: ClaimOwner): Promise<KObject[]> {
  const claimed: KObject[] = [];
  const errs: unknown[] = [];
  const ownerUID = o.owner.metadata?.uid;
  const ownerDeleting = !!o.owner.metadata?.deletionTimestamp;
  let adoptCheck: Promise<void> | undefined;
  for (const obj of objs) {
    const cref = getControllerOf(obj);
    const refs: OwnerReference[] = Array.isArray(obj.metadata?.ownerReferences) ? obj.metadata.ownerReferences : [];
    try {
      if (cref) {
        if (cref.uid !== ownerUID) continue;
        if (o.match(obj)) {
          claimed.push(obj);
          continue;
        }
        if (ownerDeleting) continue;
        await client.patch(ref, obj.metadata.namespace, obj.metadata.name, ownerRefsPatch(obj, refs.filter((r) => r.uid !== ownerUID)));
        continue;
      }
      if (ownerDeleting || !o.match(obj) || obj.metadata?.deletionTimestamp) continue;
      if (o.owner.metadata?.namespace && o.owner.metadata.namespace !== obj.metadata?.namespace) continue;
      await (adoptCheck ??= o.canAdopt());
      const updated = await client.patch(ref, obj.metadata.namespace, obj.metadata.name, ownerRefsPatch(obj, [...refs, newControllerRef(o.owner, o.gvk)]));
      claimed.push(updated);
    } catch (e) {
      if (!isNotFound(e)) errs.push(e);
    }
  }
  if (errs.length) throw errs[0];
  return claimed;
}

/**
 * A `canAdopt` that GETs the controller from the API server (upstream's
 * RecheckDeletionTimestamp): adoption is refused when it is gone, replaced, or being deleted.
 */
export function recheckOwner(client: RestClient, ref: ResourceRef, owner: KObject): () => Promise<void> {
  return async () => {
    const fresh = await client.get(ref, owner.metadata.namespace, owner.metadata.name);
    if (fresh.metadata?.uid !== owner.metadata?.uid) {
      throw new Error(`original ${owner.kind ?? ref.resource} ${owner.metadata.namespace}/${owner.metadata.name} is gone: got uid ${fresh.metadata?.uid}, wanted ${owner.metadata?.uid}`);
    }
    if (fresh.metadata?.deletionTimestamp) {
      throw new Error(`${owner.kind ?? ref.resource} ${owner.metadata.namespace}/${owner.metadata.name} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
    }
  };
}
