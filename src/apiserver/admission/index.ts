/**
 * The admission chain: mutating plugins, then validating plugins, each in its own file, so that a
 * new plugin is a file and not an edit to the generic path.
 */
import type { KObject } from '../registry/generic/strategy.js';
import type { Store } from '../registry/generic/store.js';
import { namespaceLifecycle } from './namespace-lifecycle.js';

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE';
export type StoreLookup = (group: string, resource: string) => Store | undefined;

export interface AdmissionPlugin {
  name: string;
  /** May change the object. */
  mutate?(op: AdmissionOperation, obj: KObject, old: KObject | undefined, store: Store, lookup: StoreLookup): Promise<void> | void;
  /** Throws a StatusError to refuse. */
  validate?(op: AdmissionOperation, obj: KObject, old: KObject | undefined, store: Store, lookup: StoreLookup): Promise<void> | void;
}

export const defaultPlugins: AdmissionPlugin[] = [namespaceLifecycle];

/** The store extension that runs every plugin's mutate, then every plugin's validate. */
export function admissionChain(lookup: StoreLookup, plugins: AdmissionPlugin[] = defaultPlugins) {
  return async (op: AdmissionOperation, obj: KObject, old: KObject | undefined, store: Store): Promise<void> => {
    for (const p of plugins) if (p.mutate) await p.mutate(op, obj, old, store, lookup);
    for (const p of plugins) if (p.validate) await p.validate(op, obj, old, store, lookup);
  };
}
