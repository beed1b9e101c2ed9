/** Baseline: no hostPath volumes. */
import { joinQuote, pluralize, type Check } from '../check.js';

export const hostPathVolumes: Check = {
  id: 'hostPathVolumes',
  level: 'baseline',
  minVersion: 0,
  check(_meta, spec) {
    const bad = (spec.volumes ?? []).filter((v) => v.hostPath != null).map((v) => v.name);
    if (!bad.length) return undefined;
    return { reason: 'hostPath volumes', detail: `${pluralize('volume', 'volumes', bad.length)} ${joinQuote(bad)}` };
  },
};
