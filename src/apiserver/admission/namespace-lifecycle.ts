/**
 * NamespaceLifecycle admission: no new content in a missing or terminating namespace, and the
 * system namespaces cannot be deleted.
 */
import { errors, StatusError, type GroupResource } from '../../api/errors.js';
import type { Store } from '../registry/generic/store.js';
import type { KObject } from '../registry/generic/strategy.js';
import type { AdmissionAttributes, AdmissionPlugin } from './index.js';

const immortal = new Set(['default', 'kube-system', 'kube-public']);

/**
 * Namespaces recently seen Active, per namespace store (so servers in one process never share it):
 * a create needs no namespace read for a second after the last one. A delete through this server
 * forgets the entry at once; another server's delete is seen within the second, and the namespace
 * controller removes anything created meanwhile, as with upstream's informer-fed cache.
 */
const recentlyActive = new WeakMap<object, Map<string, number>>();
const activeTTLms = 1000;

export const namespaceLifecycle: AdmissionPlugin = {
  name: 'NamespaceLifecycle',
  // Creates are checked first among the mutating plugins (as upstream's Admit), before others
  // look things up in the namespace; deletes in the validating phase.
  mutate: (a) => (a.operation === 'CREATE' ? lifecycle(a) : undefined),
  validate: (a) => (a.operation === 'DELETE' ? lifecycle(a) : undefined),
};

/** Synchronous unless the namespace must be read (no promise for the chain to await). */
function lifecycle({ operation: op, object: obj, store, lookup }: AdmissionAttributes): Promise<void> | void {
  const gr = store.gr;
  if (gr.group === '' && gr.resource === 'namespaces') {
    if (op === 'DELETE' && immortal.has(obj.metadata?.name)) {
      throw errors.forbidden(gr, obj.metadata.name, 'this namespace may not be deleted');
    }
    if (op === 'DELETE') recentlyActive.get(store)?.delete(obj.metadata?.name);
    return;
  }
  if (op !== 'CREATE' || !store.strategy.info.namespaced) return;
  const nsName = obj.metadata?.namespace;
  if (!nsName) return;
  const nsStore = lookup('', 'namespaces');
  if (!nsStore) return;
  let seen = recentlyActive.get(nsStore);
  if (!seen) recentlyActive.set(nsStore, (seen = new Map()));
  const until = seen.get(nsName);
  if (until !== undefined && until > Date.now()) return;
  return checkNamespace(nsStore, seen, nsName, gr, obj);
}

async function checkNamespace(nsStore: Store, seen: Map<string, number>, nsName: string, gr: GroupResource, obj: KObject): Promise<void> {
  let ns;
  try {
    ns = await nsStore.get({ namespace: '', name: nsName });
  } catch (e) {
    if (e instanceof StatusError && e.code === 404) throw errors.notFound({ group: '', resource: 'namespaces' }, nsName);
    throw e;
  }
  if (ns.metadata?.deletionTimestamp || ns.status?.phase === 'Terminating') {
    seen.delete(nsName);
    throw errors.forbidden(gr, obj.metadata?.name ?? '', `unable to create new content in namespace ${nsName} because it is being terminated`);
  }
  seen.set(nsName, Date.now() + activeTTLms);
}
