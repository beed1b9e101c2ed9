/**
 * Which controllers could adopt an orphan: those whose (non-empty) label selector matches its labels.
 */
import { labelSelectorFromObject, selectorIsEmpty, selectorMatches } from '../../api/labels/index.js';
import type { KObject } from '../../client/rest-client.js';

/** The candidates (ReplicaSets, Deployments, ...) whose spec.selector selects `obj`. */
export function selectingControllers(candidates: KObject[], obj: KObject): KObject[] {
  const labels = obj.metadata?.labels ?? {};
  return candidates.filter((c) => {
    try {
      const sel = labelSelectorFromObject(c.spec?.selector);
      return !selectorIsEmpty(sel) && selectorMatches(sel, labels);
    } catch {
      return false;
    }
  });
}
