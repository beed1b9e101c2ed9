/**
 * Priority admission: a new pod's spec.priority and preemptionPolicy come from its PriorityClass
 * (or the global default class), and a pod naming a class that does not exist is refused.
 */
import { errors } from '../../api/errors.js';
import { setPodPriority, systemPriorities } from '../../api/defaulting/pod.js';
import type { KObject } from '../registry/generic/strategy.js';
import type { AdmissionAttributes, AdmissionPlugin } from './index.js';

export const priority: AdmissionPlugin = {
  name: 'Priority',
  mutate(a) {
    const gr = a.store.gr;
    if (a.operation !== 'CREATE' || a.subresource || gr.group !== '' || gr.resource !== 'pods') return;
    return setPriority(a);
  },
};

async function setPriority(a: AdmissionAttributes): Promise<void> {
  const gr = a.store.gr;
  const pod = a.object;
  const spec = (pod.spec ??= {});
  let cls: { value: number; preemptionPolicy?: string } | undefined;
  const name: string | undefined = spec.priorityClassName || undefined;
  if (name) {
    // The cache, then the store: a class created a moment ago is found.
    let pc: KObject | undefined = await a.cached.get('scheduling.k8s.io', 'priorityclasses', '', name);
    pc ??= await a.lookup('scheduling.k8s.io', 'priorityclasses')?.get({ namespace: '', name }).catch(() => undefined);
    if (pc) cls = { value: pc.value, preemptionPolicy: pc.preemptionPolicy };
    else if (systemPriorities[name] !== undefined) cls = { value: systemPriorities[name] };
    else throw errors.forbidden(gr, pod.metadata?.name ?? '', `no PriorityClass with name ${name} was found`);
  } else {
    // The global default; with several, the lowest value wins, as upstream.
    const items = await a.cached.list('scheduling.k8s.io', 'priorityclasses', '');
    const def = items.filter((c) => c.globalDefault === true).sort((x, y) => x.value - y.value)[0];
    if (def) {
      cls = { value: def.value, preemptionPolicy: def.preemptionPolicy };
      spec.priorityClassName = def.metadata.name;
    }
  }
  if (cls && spec.priority !== undefined && spec.priority !== null && spec.priority !== cls.value) {
    throw errors.forbidden(gr, pod.metadata?.name ?? '', `the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed ${cls.value} from the given PriorityClass name`);
  }
  setPodPriority(pod, cls);
}
