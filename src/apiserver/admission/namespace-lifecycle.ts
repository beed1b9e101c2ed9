/**
 * NamespaceLifecycle admission: no new content in a missing or terminating namespace, and the
 * system namespaces cannot be deleted.
 */
import { errors, StatusError } from '../../api/errors.js';
import type { AdmissionPlugin } from './index.js';

const immortal = new Set(['default', 'kube-system', 'kube-public']);

export const namespaceLifecycle: AdmissionPlugin = {
  name: 'NamespaceLifecycle',
  async validate(op, obj, _old, store, lookup) {
    const gr = store.gr;
    if (gr.group === '' && gr.resource === 'namespaces') {
      if (op === 'DELETE' && immortal.has(obj.metadata?.name)) {
        throw errors.forbidden(gr, obj.metadata.name, 'this namespace may not be deleted');
      }
      return;
    }
    if (op !== 'CREATE' || !store.strategy.info.namespaced) return;
    const nsName = obj.metadata?.namespace;
    if (!nsName) return;
    const nsStore = lookup('', 'namespaces');
    if (!nsStore) return;
    let ns;
    try {
      ns = await nsStore.get({ namespace: '', name: nsName });
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) throw errors.notFound({ group: '', resource: 'namespaces' }, nsName);
      throw e;
    }
    if (ns.metadata?.deletionTimestamp || ns.status?.phase === 'Terminating') {
      throw errors.forbidden(gr, obj.metadata?.name ?? '', `unable to create new content in namespace ${nsName} because it is being terminated`);
    }
  },
};
