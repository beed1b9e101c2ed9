/**
 * DefaultStorageClass admission (upstream's plugin/pkg/admission/storage/storageclass/setdefault):
 * a new claim that names no class (storageClassName unset, no beta annotation) gets the default
 * StorageClass; with several defaults the newest wins, ties broken by name. An explicit `""` means
 * "no class" and is left alone.
 */
import type { KObject } from '../registry/generic/strategy.js';
import type { AdmissionAttributes, AdmissionPlugin } from './index.js';

const IS_DEFAULT = 'storageclass.kubernetes.io/is-default-class';
const BETA_IS_DEFAULT = 'storageclass.beta.kubernetes.io/is-default-class';
const BETA_CLASS = 'volume.beta.kubernetes.io/storage-class';

/** The default class among `classes` (upstream's GetDefaultClass), or undefined. */
export function defaultClassOf(classes: KObject[]): KObject | undefined {
  const defaults = classes.filter((c) => c.metadata?.annotations?.[IS_DEFAULT] === 'true' || c.metadata?.annotations?.[BETA_IS_DEFAULT] === 'true');
  defaults.sort((a, b) => {
    const ta = Date.parse(a.metadata?.creationTimestamp ?? '') || 0;
    const tb = Date.parse(b.metadata?.creationTimestamp ?? '') || 0;
    return tb - ta || String(a.metadata?.name).localeCompare(String(b.metadata?.name));
  });
  return defaults[0];
}

export const defaultStorageClass: AdmissionPlugin = {
  name: 'DefaultStorageClass',
  mutate(a) {
    const gr = a.store.gr;
    if (a.operation !== 'CREATE' || a.subresource || gr.group !== '' || gr.resource !== 'persistentvolumeclaims') return;
    return setDefaultClass(a);
  },
};

async function setDefaultClass(a: AdmissionAttributes): Promise<void> {
  const pvc = a.object;
  const spec = (pvc.spec ??= {});
  if (spec.storageClassName !== undefined && spec.storageClassName !== null) return;
  if (pvc.metadata?.annotations?.[BETA_CLASS] !== undefined) return;
  const def = defaultClassOf(await a.cached.list('storage.k8s.io', 'storageclasses', ''));
  if (def) spec.storageClassName = def.metadata.name;
}
