/**
 * core/v1 namespaces: cluster-scoped, phase Active on create, the `kubernetes` finalizer in
 * spec.finalizers, and deletion that waits for spec.finalizers (phase Terminating).
 */
import { defaultNamespace } from '../../../../api/defaulting/core.js';
import { validateNamespace, validateNamespaceStatusUpdate } from '../../../../api/validation/core.js';
import type { KObject, Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, nameColumn, statusStrategy } from '../../strategy-helpers.js';

/** Mark a namespace Terminating; true while spec.finalizers still hold it. */
export function namespacePendingFinalization(ns: KObject): boolean {
  (ns.status ??= {}).phase = 'Terminating';
  return Array.isArray(ns.spec?.finalizers) && ns.spec.finalizers.length > 0;
}

/** The namespaces strategy. */
export function namespaceStrategy(): Strategy {
  return {
    info: { group: '', version: 'v1', resource: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'] },
    nameValidation: 'dns-label',
    defaults: (obj) => {
      defaultNamespace(obj);
    },
    prepareForCreate(obj) {
      obj.status = { phase: 'Active' };
      const spec = (obj.spec ??= {});
      const fins: string[] = Array.isArray(spec.finalizers) ? spec.finalizers : [];
      if (!fins.includes('kubernetes')) fins.push('kubernetes');
      spec.finalizers = fins;
    },
    prepareForUpdate(obj, old) {
      obj.spec = { ...(obj.spec ?? {}), finalizers: structuredClone(old.spec?.finalizers ?? []) };
      if (old.status === undefined) delete obj.status;
      else obj.status = structuredClone(old.status);
    },
    validate: validateNamespace,
    validateUpdate: () => [],
    table: {
      columns: [nameColumn(), col('Status', 'string', 'The status of the namespace'), ageColumn()],
      cells: (ns, now) => [ns.metadata?.name ?? '', ns.status?.phase ?? '', age(ns, now)],
    },
    selectableFields: (ns) => ({ 'status.phase': ns.status?.phase ?? '', name: ns.metadata?.name ?? '' }),
    status: statusStrategy({ validate: validateNamespaceStatusUpdate }),
    pendingFinalization: namespacePendingFinalization,
  };
}
