/**
 * DefaultTolerationSeconds admission: new pods tolerate not-ready and unreachable nodes for 300 s
 * (configurable) unless they say otherwise, so the node lifecycle controller evicts them then.
 */
import { addDefaultTolerations, DefaultTolerationSeconds } from '../../api/defaulting/pod.js';
import type { AdmissionPlugin } from './index.js';

export function defaultTolerationSeconds(o: { notReadySeconds?: number; unreachableSeconds?: number } = {}): AdmissionPlugin {
  return {
    name: 'DefaultTolerationSeconds',
    mutate(a) {
      const gr = a.store.gr;
      if (a.operation !== 'CREATE' || a.subresource || gr.group !== '' || gr.resource !== 'pods') return;
      addDefaultTolerations(a.object, o.notReadySeconds ?? DefaultTolerationSeconds, o.unreachableSeconds ?? DefaultTolerationSeconds);
    },
  };
}
