/**
 * A pod's effective requests and limits (upstream's pkg/api/v1/resource PodRequests/PodLimits):
 * regular and sidecar containers add up, ordinary init containers run one at a time so each only
 * raises the maximum, and the pod overhead is added when asked.
 */
import { parseResourceList, addLists, type ResourceList } from './resource-list.js';

type Obj = Record<string, any>;
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

function maxInto(into: ResourceList, l: ResourceList): void {
  for (const [k, v] of Object.entries(l)) if (!into[k] || v.cmp(into[k]) > 0) into[k] = v;
}

function effective(pod: Obj, pick: (c: Obj) => unknown, overhead: 'all' | 'present' | false): ResourceList {
  let total: ResourceList = {};
  for (const c of arr(pod?.spec?.containers)) total = addLists(total, parseResourceList(pick(c)));
  let sidecars: ResourceList = {};
  const initMax: ResourceList = {};
  for (const c of arr(pod?.spec?.initContainers)) {
    const own = parseResourceList(pick(c));
    if (c?.restartPolicy === 'Always') {
      total = addLists(total, own);
      sidecars = addLists(sidecars, own);
      maxInto(initMax, sidecars);
    } else {
      maxInto(initMax, addLists(own, sidecars));
    }
  }
  maxInto(total, initMax);
  if (overhead && pod?.spec?.overhead) {
    let extra = parseResourceList(pod.spec.overhead);
    // Limits get overhead only where a limit exists: no limit stays unlimited.
    if (overhead === 'present') extra = Object.fromEntries(Object.entries(extra).filter(([k]) => total[k]));
    total = addLists(total, extra);
  }
  return total;
}

/** The pod's requests; with `overhead`, spec.overhead is added (quota counts it, LimitRanger does not). */
export function podRequests(pod: Obj, opts: { overhead?: boolean } = {}): ResourceList {
  return effective(pod, (c) => c?.resources?.requests, opts.overhead ? 'all' : false);
}

/** The pod's limits; with `overhead`, spec.overhead is added to the limits that are set. */
export function podLimits(pod: Obj, opts: { overhead?: boolean } = {}): ResourceList {
  return effective(pod, (c) => c?.resources?.limits, opts.overhead ? 'present' : false);
}
