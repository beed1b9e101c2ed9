/**
 * The size of a memory-backed (tmpfs) volume, as upstream's emptydir plugin computes it
 * (calculateEmptyDirMemorySize): the node's allocatable memory, lowered to the pod's memory limit
 * when the pod has one, and lowered again to the volume's sizeLimit when that is smaller. A pod
 * can never use more memory than its limit, so a bigger tmpfs would only hide where it fails.
 */
import { tryParseQuantity } from '../../api/quantity.js';
import { podLimits } from '../../api/quota/pod-resources.js';
import type { KObject } from '../../client/rest-client.js';

const limitOf = (c: KObject): number => tryParseQuantity(c?.resources?.limits?.memory)?.value() ?? 0;

/**
 * The pod's memory limit, as its cgroup would get it: only when every container that runs for the
 * pod's whole life (regular and sidecar containers) declares one; 0 means unlimited.
 */
export function podMemoryLimitBytes(pod: KObject): number {
  const longLived = [...(pod?.spec?.containers ?? []), ...(pod?.spec?.initContainers ?? []).filter((c: KObject) => c?.restartPolicy === 'Always')];
  if (longLived.length === 0 || longLived.some((c) => limitOf(c) <= 0)) return 0;
  return podLimits(pod, { overhead: true }).memory?.value() ?? 0;
}

/**
 * Bytes for a memory-backed volume of `pod`; 0 (no size option: the kernel's default of half the
 * RAM) only when neither the node's allocatable memory nor any limit is known.
 */
export function memoryBackedVolumeSize(pod: KObject, sizeLimit: unknown, allocatableMemory: unknown): number {
  let size = tryParseQuantity(allocatableMemory)?.value() ?? 0;
  const lower = (candidate: number) => {
    if (candidate > 0 && (size === 0 || candidate <= size)) size = candidate;
  };
  lower(podMemoryLimitBytes(pod));
  lower(tryParseQuantity(sizeLimit)?.value() ?? 0);
  return size;
}
