/** Pod facts several controllers read. */
import type { KObject } from '../../client/rest-client.js';

/** Ready=True (upstream's podutil.IsPodReady). */
export function isPodReady(pod: KObject): boolean {
  const conds: unknown = pod.status?.conditions;
  return Array.isArray(conds) && conds.some((c: KObject) => c?.type === 'Ready' && c?.status === 'True');
}
