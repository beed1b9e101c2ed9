/**
 * Validation of kinds from the smaller groups: discovery.k8s.io/v1 EndpointSlice,
 * coordination.k8s.io/v1 Lease, events.k8s.io/v1 Event, scheduling.k8s.io/v1 PriorityClass
 * and policy/v1 PodDisruptionBudget.
 */
import { field, type FieldError } from '../errors.js';
import { isDNS1123Label, isDNS1123Subdomain, isLabelKey, isValidPortNum, nameIsDNSSubdomain } from './identifiers.js';
import { child, get, index, list, map, semanticEqual, validateImmutable, validateLabelSelector, validateNonnegative, validateNotMoreThan100Percent, validatePositiveIntOrPercent, validateQualifiedName, type Obj } from './helpers.js';
import { parseIP } from './network.js';
import { supportedPortProtocols } from './pod.js';

// ---- EndpointSlice ----------------------------------------------------------------------------

const addressTypes = ['FQDN', 'IPv4', 'IPv6'];

function validateSliceAddress(addr: string, type: string, path: string): FieldError[] {
  if (type === 'IPv4') {
    const ip = parseIP(addr);
    return ip && ip.length === 4 && !addr.includes(':') ? [] : [field.invalid(path, addr, 'must be a valid IPv4 address')];
  }
  if (type === 'IPv6') {
    const ip = parseIP(addr);
    return ip && ip.length === 16 ? [] : [field.invalid(path, addr, 'must be a valid IPv6 address')];
  }
  if (type === 'FQDN') {
    const name = addr.replace(/\.$/, '');
    if (!name) return [field.required(path, '')];
    const e = isDNS1123Subdomain(name);
    if (e.length) return [field.invalid(path, name, e.join(','))];
    if (name.split('.').length < 2) return [field.invalid(path, name, 'should be a domain with at least two segments separated by dots')];
  }
  return [];
}

/** An EndpointSlice: addressType, endpoints (1–100 addresses each), ports. */
export function validateEndpointSlice(es: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const type = es.addressType;
  if (!type) errs.push(field.required('addressType', ''));
  else if (!addressTypes.includes(type)) errs.push(field.notSupported('addressType', type, addressTypes));
  const endpoints = list(es.endpoints) as Obj[];
  if (endpoints.length > 1000) errs.push({ type: 'FieldValueTooMany', field: 'endpoints', detail: 'must have at most 1000 items' });
  endpoints.forEach((ep, i) => {
    const p = index('endpoints', i);
    const addrs = list(ep?.addresses);
    if (addrs.length === 0) errs.push(field.required(child(p, 'addresses'), 'must contain at least 1 address'));
    else if (addrs.length > 100) errs.push({ type: 'FieldValueTooMany', field: child(p, 'addresses'), detail: 'must have at most 100 items' });
    addrs.forEach((a, j) => errs.push(...validateSliceAddress(String(a), String(type ?? ''), index(child(p, 'addresses'), j))));
    if (ep?.nodeName) for (const m of nameIsDNSSubdomain(String(ep.nodeName))) errs.push(field.invalid(child(p, 'nodeName'), ep.nodeName, m));
    if (ep?.hostname) errs.push(...isDNS1123Label(String(ep.hostname)).map((m) => field.invalid(child(p, 'hostname'), ep.hostname, m)));
  });
  const ports = list(es.ports) as Obj[];
  if (ports.length > 20000) errs.push({ type: 'FieldValueTooMany', field: 'ports', detail: 'must have at most 20000 items' });
  const names = new Set<string>();
  ports.forEach((port, i) => {
    const p = index('ports', i);
    const name = port?.name ?? '';
    if (name) errs.push(...isDNS1123Label(String(name)).map((m) => field.invalid(child(p, 'name'), name, m)));
    if (names.has(name)) errs.push(field.duplicate(child(p, 'name'), name));
    names.add(name);
    if (!port?.protocol) errs.push(field.required(child(p, 'protocol'), ''));
    else if (!supportedPortProtocols.includes(port.protocol)) errs.push(field.notSupported(child(p, 'protocol'), port.protocol, supportedPortProtocols));
    if (port?.port !== undefined && port?.port !== null) for (const m of isValidPortNum(port.port)) errs.push(field.invalid(child(p, 'port'), port.port, m));
    if (port?.appProtocol !== undefined && port?.appProtocol !== null) errs.push(...validateQualifiedName(String(port.appProtocol), child(p, 'appProtocol')));
  });
  return errs;
}

/** An EndpointSlice update: addressType is immutable. */
export function validateEndpointSliceUpdate(es: Obj, old: Obj): FieldError[] {
  return [...validateEndpointSlice(es), ...validateImmutable(es.addressType, old.addressType, 'addressType')];
}

// ---- Lease ------------------------------------------------------------------------------------

/** A Lease: positive duration, non-negative transitions, known strategy. */
export function validateLease(lease: Obj): FieldError[] {
  const spec = map(lease.spec);
  const errs: FieldError[] = [];
  if (spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds !== null && spec.leaseDurationSeconds <= 0) {
    errs.push(field.invalid('spec.leaseDurationSeconds', spec.leaseDurationSeconds, 'must be greater than 0'));
  }
  if (spec.leaseTransitions !== undefined && spec.leaseTransitions !== null) errs.push(...validateNonnegative(spec.leaseTransitions, 'spec.leaseTransitions'));
  if (spec.strategy !== undefined && spec.strategy !== null && spec.strategy !== 'OldestEmulationVersion') {
    errs.push(field.notSupported('spec.strategy', spec.strategy, ['OldestEmulationVersion']));
  }
  return errs;
}

// ---- events.k8s.io Event ----------------------------------------------------------------------

/**
 * An events.k8s.io/v1 Event, with the strict rules of that API. Paths use the core/v1 names
 * (`message`, `firstTimestamp`, `involvedObject`) as upstream reports them after conversion.
 */
export function validateEventsV1Event(ev: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const ns = String(get(ev, 'metadata', 'namespace') ?? '');
  const regNS = String(get(ev, 'regarding', 'namespace') ?? '');
  if (regNS === '' && ns !== 'default' && ns !== 'kube-system') errs.push(field.invalid('involvedObject.namespace', regNS, 'does not match event.namespace'));
  if (!ev.reportingController) errs.push(field.required('reportingController', ''));
  for (const m of isLabelKey(String(ev.reportingController ?? ''))) errs.push(field.invalid('reportingController', ev.reportingController ?? '', m));
  if (!ev.reportingInstance) errs.push(field.required('reportingInstance', ''));
  if (String(ev.reportingInstance ?? '').length > 128) errs.push(field.invalid('reportingInstance', '', 'can have at most 128 characters'));
  if (!ev.action) errs.push(field.required('action', ''));
  if (String(ev.action ?? '').length > 128) errs.push(field.invalid('action', '', 'can have at most 128 characters'));
  if (!ev.reason) errs.push(field.required('reason', ''));
  if (String(ev.reason ?? '').length > 128) errs.push(field.invalid('reason', '', 'can have at most 128 characters'));
  if (String(ev.note ?? '').length > 1024) errs.push(field.invalid('message', '', 'can have at most 1024 characters'));
  for (const m of isDNS1123Subdomain(ns)) errs.push(field.invalid('namespace', ns, m));
  if (ev.series) {
    if (!(ev.series.count >= 2)) errs.push(field.invalid('series.count', '', 'should be at least 2'));
    if (!ev.series.lastObservedTime) errs.push(field.required('series.lastObservedTime', ''));
  }
  if (!ev.eventTime) errs.push(field.required('eventTime', ''));
  if (ev.type !== 'Normal' && ev.type !== 'Warning') errs.push(field.invalid('type', '', `has invalid value: ${ev.type ?? ''}`));
  if (ev.deprecatedFirstTimestamp) errs.push(field.invalid('firstTimestamp', '', 'needs to be unset'));
  if (ev.deprecatedLastTimestamp) errs.push(field.invalid('lastTimestamp', '', 'needs to be unset'));
  if (ev.deprecatedCount) errs.push(field.invalid('count', '', 'needs to be unset'));
  if (get(ev, 'deprecatedSource', 'component') || get(ev, 'deprecatedSource', 'host')) errs.push(field.invalid('source', '', 'needs to be unset'));
  return errs;
}

/** An events.k8s.io/v1 Event update: the descriptive fields are immutable. */
export function validateEventsV1EventUpdate(ev: Obj, old: Obj): FieldError[] {
  const errs = validateEventsV1Event(ev);
  const pairs: Array<[string, string]> = [
    ['regarding', 'involvedObject'],
    ['reason', 'reason'],
    ['note', 'message'],
    ['deprecatedSource', 'source'],
    ['deprecatedFirstTimestamp', 'firstTimestamp'],
    ['deprecatedLastTimestamp', 'lastTimestamp'],
    ['deprecatedCount', 'count'],
    ['type', 'type'],
    ['eventTime', 'eventTime'],
    ['action', 'action'],
    ['related', 'related'],
    ['reportingController', 'reportingController'],
    ['reportingInstance', 'reportingInstance'],
  ];
  for (const [f, reported] of pairs) errs.push(...validateImmutable(ev[f], old[f], reported));
  return errs;
}

// ---- PriorityClass ----------------------------------------------------------------------------

/** Values of the built-in priority classes. */
export const systemPriorityClasses: Record<string, number> = {
  'system-node-critical': 2000001000,
  'system-cluster-critical': 2000000000,
};
/** The highest value a user-defined PriorityClass may have. */
export const HighestUserDefinablePriority = 1000000000;

/** A PriorityClass: `system-` names are reserved, user values ≤ 1e9, known preemption policy. */
export function validatePriorityClass(pc: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const name = String(get(pc, 'metadata', 'name') ?? '');
  if (name.startsWith('system-')) {
    let why: string | undefined;
    if (!(name in systemPriorityClasses)) why = `${name} is not a known system priority class`;
    else if (systemPriorityClasses[name] !== pc.value) why = `value of ${name} PriorityClass must be ${systemPriorityClasses[name]}`;
    if (why) errs.push(field.forbidden('metadata.name', `priority class names with 'system-' prefix are reserved for system use only. error: ${why}`));
  } else if (typeof pc.value === 'number' && pc.value > HighestUserDefinablePriority) {
    errs.push(field.forbidden('value', `maximum allowed value of a user defined priority is ${HighestUserDefinablePriority}`));
  }
  if (pc.preemptionPolicy !== undefined && pc.preemptionPolicy !== null && !['PreemptLowerPriority', 'Never'].includes(pc.preemptionPolicy)) {
    errs.push(field.notSupported('preemptionPolicy', pc.preemptionPolicy, ['PreemptLowerPriority', 'Never']));
  }
  return errs;
}

/** A PriorityClass update: value and preemptionPolicy are immutable. */
export function validatePriorityClassUpdate(pc: Obj, old: Obj): FieldError[] {
  const errs: FieldError[] = [];
  if (pc.value !== old.value) errs.push(field.forbidden('value', 'may not be changed in an update.'));
  errs.push(...validateImmutable(pc.preemptionPolicy, old.preemptionPolicy, 'preemptionPolicy'));
  return errs;
}

// ---- PodDisruptionBudget ----------------------------------------------------------------------

/** A PodDisruptionBudget: minAvailable xor maxUnavailable, int-or-percent ≤ 100%, selector. */
export function validatePodDisruptionBudget(pdb: Obj): FieldError[] {
  const spec = map(pdb.spec);
  const errs: FieldError[] = [];
  const has = (v: unknown) => v !== undefined && v !== null;
  if (has(spec.minAvailable) && has(spec.maxUnavailable)) errs.push(field.invalid('spec', spec, 'minAvailable and maxUnavailable cannot be both set'));
  if (has(spec.minAvailable)) {
    errs.push(...validatePositiveIntOrPercent(spec.minAvailable, 'spec.minAvailable'));
    errs.push(...validateNotMoreThan100Percent(spec.minAvailable, 'spec.minAvailable'));
  }
  if (has(spec.maxUnavailable)) {
    errs.push(...validatePositiveIntOrPercent(spec.maxUnavailable, 'spec.maxUnavailable'));
    errs.push(...validateNotMoreThan100Percent(spec.maxUnavailable, 'spec.maxUnavailable'));
  }
  errs.push(...validateLabelSelector(spec.selector, 'spec.selector'));
  if (has(spec.unhealthyPodEvictionPolicy) && !['AlwaysAllow', 'IfHealthyBudget'].includes(String(spec.unhealthyPodEvictionPolicy))) {
    errs.push(field.notSupported('spec.unhealthyPodEvictionPolicy', spec.unhealthyPodEvictionPolicy, ['AlwaysAllow', 'IfHealthyBudget']));
  }
  return errs;
}

/** A PodDisruptionBudget `/status` update: counters are non-negative. */
export function validatePodDisruptionBudgetStatusUpdate(pdb: Obj, _old: Obj): FieldError[] {
  const st = map(pdb.status);
  const errs: FieldError[] = [];
  for (const f of ['disruptionsAllowed', 'currentHealthy', 'desiredHealthy', 'expectedPods']) errs.push(...validateNonnegative(st[f], `status.${f}`));
  return errs;
}

