/** metav1.Condition helpers, as apimachinery's meta package has them. */
import { rfc3339 } from '../base/time.js';

type Obj = Record<string, any>;

/**
 * Set a metav1.Condition in a copy of the list (apimachinery's SetStatusCondition):
 * lastTransitionTime changes only when the status flips.
 */
export function setStatusCondition(conditions: Obj[] | undefined, cond: { type: string; status: string; reason: string; message: string; observedGeneration?: number }, nowMs: number): Obj[] {
  const list = (conditions ?? []).map((c) => ({ ...c }));
  const i = list.findIndex((c) => c.type === cond.type);
  if (i < 0) {
    list.push({ ...cond, lastTransitionTime: rfc3339(nowMs) });
    return list;
  }
  const cur = list[i]!;
  const lastTransitionTime = cur.status !== cond.status || !cur.lastTransitionTime ? rfc3339(nowMs) : cur.lastTransitionTime;
  list[i] = { ...cur, ...cond, lastTransitionTime };
  return list;
}
