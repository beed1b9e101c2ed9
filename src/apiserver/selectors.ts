/**
 * Label and field selector parsing for list and watch requests, with parse errors as 400s.
 */
import { errors } from '../api/errors.js';
import { fieldSelectorMatches, parseFieldSelector, parseLabelSelector, selectorMatches } from '../api/labels/index.js';

export const selectorParsers = {
  parseLabelSelector(s: string): (labels: Record<string, string>) => boolean {
    let sel;
    try {
      sel = parseLabelSelector(s);
    } catch (e) {
      throw errors.badRequest((e as Error).message);
    }
    return (labels) => selectorMatches(sel, labels);
  },
  parseFieldSelector(s: string) {
    let sel;
    try {
      sel = parseFieldSelector(s);
    } catch (e) {
      throw errors.badRequest((e as Error).message);
    }
    return {
      match: (fields: Record<string, string>) => fieldSelectorMatches(sel, fields),
      requirements: sel.requirements.map((r) => ({ field: r.field, op: r.operator, value: r.value })),
    };
  },
};
