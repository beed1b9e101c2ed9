/**
 * Controller references: the one ownerReference with `controller: true` that says which
 * controller manages an object (upstream's metav1.GetControllerOf and friends).
 */
import type { KObject } from '../../client/rest-client.js';

/** metav1.OwnerReference */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** The object's controller reference, if it has one. */
export function getControllerOf(obj: KObject | undefined | null): OwnerReference | undefined {
  const refs = obj?.metadata?.ownerReferences;
  if (!Array.isArray(refs)) return undefined;
  return refs.find((r: OwnerReference) => r?.controller === true);
}

/** True if `owner` (matched by uid) is the controller of `obj`. */
export function isControlledBy(obj: KObject | undefined | null, owner: KObject | undefined | null): boolean {
  const ref = getControllerOf(obj);
  const uid = owner?.metadata?.uid;
  return ref !== undefined && uid !== undefined && ref.uid === uid;
}

/**
 * A controller reference to `owner` (upstream's metav1.NewControllerRef): controller and
 * blockOwnerDeletion set. `apiVersion`/`kind` default to the owner's own fields.
 */
export function newControllerRef(owner: KObject, gvk: { apiVersion?: string; kind?: string } = {}): OwnerReference {
  const apiVersion = gvk.apiVersion ?? owner.apiVersion;
  const kind = gvk.kind ?? owner.kind;
  if (!apiVersion || !kind) throw new Error('newControllerRef: the owner has no apiVersion/kind and none was given');
  return { apiVersion, kind, name: owner.metadata?.name, uid: owner.metadata?.uid, controller: true, blockOwnerDeletion: true };
}

/**
 * The controller an object's reference points at, if it still exists and is the same object
 * (kind and uid match): upstream's resolveControllerRef pattern. `get` looks the owner up by
 * namespace and name, typically a lister.
 */
export function resolveControllerRef<T extends KObject>(
  namespace: string,
  ref: OwnerReference | undefined,
  kind: string,
  get: (namespace: string, name: string) => T | undefined,
): T | undefined {
  if (!ref || ref.kind !== kind) return undefined;
  const owner = get(namespace, ref.name);
  if (!owner || owner.metadata?.uid !== ref.uid) return undefined;
  return owner;
}
