/** Restricted (1.19+): a RuntimeDefault or Localhost seccomp profile on the pod or every container. */
import { allContainers, containersPhrase, joinQuote, sortedSet, type Check } from '../check.js';
import { validSeccomp } from './seccomp-profile-baseline.js';

export const seccompProfileRestricted: Check = {
  id: 'seccompProfile_restricted',
  level: 'restricted',
  minVersion: 19,
  overrides: ['seccompProfile_baseline'],
  check(_meta, spec) {
    const setters: string[] = [];
    const values: string[] = [];
    let podSet = false;
    const podProfile = spec.securityContext?.seccompProfile;
    if (podProfile) {
      if (!validSeccomp(podProfile.type)) {
        setters.push('pod');
        values.push(podProfile.type ?? '');
      } else podSet = true;
    }
    const explicit: string[] = [];
    const implicit: string[] = [];
    for (const c of allContainers(spec)) {
      const p = c.securityContext?.seccompProfile;
      if (p) {
        if (!validSeccomp(p.type)) {
          explicit.push(c.name);
          values.push(p.type ?? '');
        }
      } else if (!podSet) implicit.push(c.name);
    }
    if (explicit.length) setters.push(containersPhrase(explicit));
    if (setters.length) {
      return {
        reason: 'seccompProfile',
        detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(sortedSet(values))}`,
      };
    }
    if (implicit.length) {
      return {
        reason: 'seccompProfile',
        detail: `pod or ${containersPhrase(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`,
      };
    }
    return undefined;
  },
};
