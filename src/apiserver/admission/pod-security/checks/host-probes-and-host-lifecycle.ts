/** Baseline (1.34+): probes and lifecycle handlers must not target another host. */
import { allContainers, containersPhrase, joinQuote, pluralize, sortedSet, type Check } from '../check.js';

interface HandlerLike {
  httpGet?: { host?: string };
  tcpSocket?: { host?: string };
}

function hosts(h: HandlerLike | undefined): string[] {
  const out: string[] = [];
  if (h?.httpGet?.host) out.push(h.httpGet.host);
  if (h?.tcpSocket?.host) out.push(h.tcpSocket.host);
  return out;
}

export const hostProbesAndHostLifecycle: Check = {
  id: 'hostProbesAndHostLifecycle',
  level: 'baseline',
  minVersion: 34,
  check(_meta, spec) {
    const bad = new Set<string>();
    const found: string[] = [];
    for (const c of allContainers(spec)) {
      const hs = [
        ...hosts(c.livenessProbe),
        ...hosts(c.readinessProbe),
        ...hosts(c.startupProbe),
        ...hosts(c.lifecycle?.postStart),
        ...hosts(c.lifecycle?.preStop),
      ];
      if (hs.length) {
        bad.add(c.name);
        found.push(...hs);
      }
    }
    if (!bad.size) return undefined;
    const names = sortedSet(bad);
    const list = sortedSet(found);
    return {
      reason: 'probe or lifecycle host',
      detail: `${containersPhrase(names)} ${pluralize('uses', 'use', names.length)} ${pluralize('probe or lifecycle host', 'probe or lifecycle hosts', list.length)} ${joinQuote(list)}`,
    };
  },
};
