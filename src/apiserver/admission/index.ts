/**
 * The admission chain: mutating plugins, then validating plugins, each in its own file, so that a
 * new plugin is a file and not an edit to the generic path.
 */
import type { UserInfo } from '../auth/authenticator.js';
import type { KObject } from '../registry/generic/strategy.js';
import type { Store, StoreAdmission } from '../registry/generic/store.js';
import type { StoreCache } from '../auth/store-cache.js';
import { namespaceLifecycle } from './namespace-lifecycle.js';

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE';
export type StoreLookup = (group: string, resource: string) => Store | undefined;

/** Upstream's admission.Attributes: the write, who makes it, and access to other resources. */
export interface AdmissionAttributes {
  operation: AdmissionOperation;
  /** The new object (mutable in `mutate`); for DELETE, the object being deleted. */
  object: KObject;
  oldObject?: KObject;
  /** The written resource's store: `store.gr`, `store.strategy.info` (kind, namespaced). */
  store: Store;
  /** Another resource's store (read-only use: get/list). */
  lookup: StoreLookup;
  /**
   * Reads from the server's watch-fed caches (upstream's informer listers): the objects of a
   * resource in a namespace ('' for cluster-scoped), or one by name. Cheap, and a moment behind
   * the store; falls back to the store when the server has no caches (tests).
   */
  cached: CachedReader;
  /** The requesting user; undefined for the server's own writes (bootstrap objects). */
  user?: UserInfo;
  /** '' for the main resource, else e.g. 'status', 'binding', 'eviction'. */
  subresource: string;
  dryRun: boolean;
  /** Add a `Warning` header to the response (Pod Security warn mode). */
  warn(text: string): void;
  /** Add an annotation to the request's audit event. */
  annotate(key: string, value: string): void;
}

export interface CachedReader {
  list(group: string, resource: string, namespace: string): Promise<KObject[]>;
  get(group: string, resource: string, namespace: string, name: string): Promise<KObject | undefined>;
}

/** A reader over `caches` (when given) or straight over the stores. */
export function cachedReader(lookup: StoreLookup, caches?: (group: string, resource: string) => StoreCache | undefined): CachedReader {
  return {
    async list(group, resource, namespace) {
      const c = caches?.(group, resource);
      if (c) {
        await c.synced;
        const out: KObject[] = [];
        for (const o of c.list()) if ((o.metadata?.namespace ?? '') === namespace) out.push(o);
        return out;
      }
      const store = lookup(group, resource);
      return store ? (await store.list(namespace)).items : [];
    },
    async get(group, resource, namespace, name) {
      const c = caches?.(group, resource);
      if (c) {
        await c.synced;
        return c.get(namespace || undefined, name);
      }
      const store = lookup(group, resource);
      return store ? store.get({ namespace, name }).catch(() => undefined) : undefined;
    },
  };
}

export interface AdmissionPlugin {
  name: string;
  /** May change the object. */
  mutate?(a: AdmissionAttributes): Promise<void> | void;
  /** Throws a StatusError to refuse. */
  validate?(a: AdmissionAttributes): Promise<void> | void;
}

export const defaultPlugins: AdmissionPlugin[] = [namespaceLifecycle];

type PluginStep = (a: AdmissionAttributes) => Promise<void> | void;

/**
 * The store extension: every plugin's mutate in the mutating phase, every plugin's validate in the
 * validating phase. Plugins that do not apply to a write answer synchronously; only a plugin that
 * returns a promise is awaited, so a write pays for the plugins that have work to do.
 */
export function admissionChain(lookup: StoreLookup, plugins: AdmissionPlugin[] = defaultPlugins, caches?: (group: string, resource: string) => StoreCache | undefined) {
  const cached = cachedReader(lookup, caches);
  const mutators: PluginStep[] = plugins.filter((p) => p.mutate).map((p) => (a) => p.mutate!(a));
  const validators: PluginStep[] = plugins.filter((p) => p.validate).map((p) => (a) => p.validate!(a));
  return (s: StoreAdmission): Promise<void> | void => {
    const hooks = s.hooks;
    const a: AdmissionAttributes = {
      operation: s.operation,
      object: s.object,
      oldObject: s.oldObject,
      store: s.store,
      lookup,
      cached,
      user: s.user,
      subresource: s.subresource,
      dryRun: s.dryRun,
      warn: (t) => hooks?.warn(t),
      annotate: (k, v) => hooks?.annotate(k, v),
    };
    const steps = s.phase === 'mutate' ? mutators : validators;
    for (let i = 0; i < steps.length; i++) {
      const r = steps[i]!(a);
      if (r) return finishChain(r, steps, i + 1, a);
    }
  };
}

/** The rest of a chain once a plugin went asynchronous. */
async function finishChain(first: Promise<void>, steps: PluginStep[], from: number, a: AdmissionAttributes): Promise<void> {
  await first;
  for (let i = from; i < steps.length; i++) {
    const r = steps[i]!(a);
    if (r) await r;
  }
}
