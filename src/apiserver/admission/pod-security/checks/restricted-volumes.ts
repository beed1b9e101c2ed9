/** Restricted: only ephemeral, projected-style and PVC-backed volume types. */
import type { Volume } from 'kubernetes-types/core/v1.js';
import { joinQuote, pluralize, sortedSet, type Check } from '../check.js';

const allowed = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'] as const;

/** The restricted types upstream names, in its order (first one set wins). */
const named = [
  'hostPath', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'nfs', 'iscsi', 'glusterfs', 'rbd',
  'flexVolume', 'cinder', 'cephfs', 'flocker', 'fc', 'azureFile', 'vsphereVolume', 'quobyte', 'azureDisk',
  'photonPersistentDisk', 'portworxVolume', 'scaleIO', 'storageos',
] as const;

function isSet(v: Volume, key: string): boolean {
  return (v as unknown as Record<string, unknown>)[key] != null;
}

export const restrictedVolumes: Check = {
  id: 'restrictedVolumes',
  level: 'restricted',
  minVersion: 0,
  overrides: ['hostPathVolumes'],
  check(_meta, spec) {
    const bad: string[] = [];
    const types: string[] = [];
    for (const v of spec.volumes ?? []) {
      if (allowed.some((k) => isSet(v, k))) continue;
      bad.push(v.name);
      types.push(named.find((k) => isSet(v, k)) ?? 'unknown');
    }
    if (!bad.length) return undefined;
    const t = sortedSet(types);
    return {
      reason: 'restricted volume types',
      detail: `${pluralize('volume', 'volumes', bad.length)} ${joinQuote(bad)} ${pluralize('uses', 'use', bad.length)} ${pluralize('restricted volume type', 'restricted volume types', t.length)} ${joinQuote(t)}`,
    };
  },
};
