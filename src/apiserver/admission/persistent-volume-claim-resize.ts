/**
 * PersistentVolumeClaimResize admission (upstream's plugin/pkg/admission/storage/
 * persistentvolume/resize): a claim's storage request may grow only once it is Bound, and only
 * when its StorageClass sets allowVolumeExpansion.
 */
import { errors } from '../../api/errors.js';
import { tryParseQuantity } from '../../api/quantity.js';
import type { AdmissionAttributes, AdmissionPlugin } from './index.js';

const BETA_CLASS = 'volume.beta.kubernetes.io/storage-class';

export const persistentVolumeClaimResize: AdmissionPlugin = {
  name: 'PersistentVolumeClaimResize',
  validate(a) {
    const gr = a.store.gr;
    if (a.operation !== 'UPDATE' || a.subresource || gr.group !== '' || gr.resource !== 'persistentvolumeclaims' || !a.oldObject) return;
    return checkResize(a);
  },
};

async function checkResize(a: AdmissionAttributes): Promise<void> {
  const gr = a.store.gr;
  const pvc = a.object;
  const old = a.oldObject!;
  const newSize = tryParseQuantity(pvc.spec?.resources?.requests?.storage);
  const oldSize = tryParseQuantity(old.spec?.resources?.requests?.storage);
  if (!newSize || (oldSize && newSize.cmp(oldSize) <= 0)) return;
  const name: string = pvc.metadata?.name ?? '';
  if (old.status?.phase !== 'Bound') throw errors.forbidden(gr, name, 'Only bound persistent volume claims can be expanded');
  const ann = old.metadata?.annotations?.[BETA_CLASS];
  const cls: string = typeof ann === 'string' ? ann : (old.spec?.storageClassName ?? '');
  const sc = cls ? await a.cached.get('storage.k8s.io', 'storageclasses', '', cls) : undefined;
  if (sc?.allowVolumeExpansion !== true) {
    throw errors.forbidden(gr, name, 'only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize');
  }
}
