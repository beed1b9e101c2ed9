/**
 * StorageObjectInUseProtection admission (upstream's plugin/pkg/admission/storage/
 * storageobjectinuseprotection): every new PersistentVolumeClaim gets the
 * `kubernetes.io/pvc-protection` finalizer and every new PersistentVolume the
 * `kubernetes.io/pv-protection` finalizer, so neither goes while a pod or claim still uses it;
 * the protection controllers remove them.
 */
import type { AdmissionPlugin } from './index.js';

/** The finalizer guarding a claim a pod uses. */
export const PVC_PROTECTION_FINALIZER = 'kubernetes.io/pvc-protection';
/** The finalizer guarding a volume a claim is bound to. */
export const PV_PROTECTION_FINALIZER = 'kubernetes.io/pv-protection';

export const storageObjectInUseProtection: AdmissionPlugin = {
  name: 'StorageObjectInUseProtection',
  mutate(a) {
    const gr = a.store.gr;
    if (a.operation !== 'CREATE' || a.subresource || gr.group !== '') return;
    const finalizer = gr.resource === 'persistentvolumeclaims' ? PVC_PROTECTION_FINALIZER : gr.resource === 'persistentvolumes' ? PV_PROTECTION_FINALIZER : undefined;
    if (!finalizer) return;
    const meta = (a.object.metadata ??= {});
    const fs: string[] = Array.isArray(meta.finalizers) ? meta.finalizers : [];
    if (!fs.includes(finalizer)) meta.finalizers = [...fs, finalizer];
  },
};
