/** Baseline: no Windows HostProcess pods or containers. */
import { allContainers, containersPhrase, type Check } from '../check.js';

export const windowsHostProcess: Check = {
  id: 'windowsHostProcess',
  level: 'baseline',
  minVersion: 0,
  check(_meta, spec) {
    const setters: string[] = [];
    if (spec.securityContext?.windowsOptions?.hostProcess === true) setters.push('pod');
    const bad = allContainers(spec).filter((c) => c.securityContext?.windowsOptions?.hostProcess === true).map((c) => c.name);
    if (bad.length) setters.push(containersPhrase(bad));
    if (!setters.length) return undefined;
    return { reason: 'hostProcess', detail: `${setters.join(' and ')} must not set securityContext.windowsOptions.hostProcess=true` };
  },
};
