/**
 * Validation of the smaller core/v1 kinds: Namespace, Node, ConfigMap, Secret, ServiceAccount,
 * Endpoints, Event, LimitRange and ResourceQuota (upstream's pkg/apis/core/validation).
 */
import { field, type FieldError } from '../errors.js';
import { tryParseQuantity, type Quantity } from '../quantity.js';
import { isConfigMapKey, isDNS1123Label, isDNS1123Subdomain, isLabelKey, isLabelValue, isValidPortNum, nameIsDNSSubdomain } from './identifiers.js';
import { child, fieldImmutableErrorMsg, get, index, key, list, map, semanticEqual, tooLong, validateImmutable, validateNonnegative, validateQualifiedName, type Obj } from './helpers.js';
import { validateKubeFinalizerName } from './object-meta.js';
import { validateCIDR, validateIP, validateNonSpecialIP } from './network.js';
import { parseQuantityField, supportedPortProtocols, validateResourceName, validateResourceQuantityValue } from './pod.js';

/** Data limit of a ConfigMap or Secret: 1 MiB. */
export const MaxSecretSize = 1024 * 1024;

// ---- Namespace --------------------------------------------------------------------------------

function validateNamespaceFinalizerName(value: string, path: string): FieldError[] {
  return [...validateQualifiedName(value, path), ...validateKubeFinalizerName(value, path)];
}

/** A Namespace: spec.finalizers are finalizer names. */
export function validateNamespace(ns: Obj): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of list(get(ns, 'spec', 'finalizers'))) errs.push(...validateNamespaceFinalizerName(String(f), 'spec.finalizers'));
  return errs;
}

/** A Namespace `/status` update: phase Active unless deleting, Terminating when deleting. */
export function validateNamespaceStatusUpdate(ns: Obj, _old: Obj): FieldError[] {
  const phase = get(ns, 'status', 'phase');
  if (!get(ns, 'metadata', 'deletionTimestamp')) {
    if (phase !== 'Active') return [field.invalid('status.Phase', phase ?? '', "may only be 'Active' if `deletionTimestamp` is empty")];
  } else if (phase !== 'Terminating') {
    return [field.invalid('status.Phase', phase ?? '', "may only be 'Terminating' if `deletionTimestamp` is not empty")];
  }
  return [];
}

/** A `namespaces/finalize` update: spec.finalizers are finalizer names. */
export function validateNamespaceFinalizeUpdate(ns: Obj, _old: Obj): FieldError[] {
  const errs: FieldError[] = [];
  list(get(ns, 'spec', 'finalizers')).forEach((f, i) => errs.push(...validateNamespaceFinalizerName(String(f), index('spec.finalizers', i))));
  return errs;
}

// ---- Node -------------------------------------------------------------------------------------

function validateTaintEffect(effect: unknown, allowEmpty: boolean, path: string): FieldError[] {
  if (!allowEmpty && !effect) return [field.required(path, '')];
  if (!['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(String(effect))) {
    return [field.notSupported(path, effect ?? '', ['NoSchedule', 'PreferNoSchedule', 'NoExecute'])];
  }
  return [];
}

/** Node taints: key, value, effect, unique by key and effect. */
export function validateNodeTaints(taints: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  list(taints).forEach((t: Obj, i) => {
    const p = index(path, i);
    errs.push(...validateQualifiedName(String(t?.key ?? ''), child(p, 'key')));
    const ve = isLabelValue(String(t?.value ?? ''));
    if (ve.length) errs.push(field.invalid(child(p, 'value'), t?.value ?? '', ve.join(';')));
    errs.push(...validateTaintEffect(t?.effect, false, child(p, 'effect')));
    const k = `${t?.effect}\u0000${t?.key}`;
    if (seen.has(k)) errs.push({ ...field.duplicate(p, t), detail: 'taints must be unique by key and effect pair' });
    else seen.add(k);
  });
  return errs;
}

function validateResourceList(resources: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(map(resources))) {
    const p = child(path, k);
    const q = parseQuantityField(v, p, errs);
    if (q) errs.push(...validateResourceQuantityValue(k, q, p));
  }
  return errs;
}

/** A Node: taints, podCIDRs and the quantities in status. */
export function validateNode(node: Obj): FieldError[] {
  const errs: FieldError[] = [];
  // Upstream reports taint problems under metadata.taints.
  errs.push(...validateNodeTaints(get(node, 'spec', 'taints'), 'metadata.taints'));
  errs.push(...validateResourceList(get(node, 'status', 'capacity'), 'status.capacity'));
  errs.push(...validateResourceList(get(node, 'status', 'allocatable'), 'status.allocatable'));
  const cidrs = list(get(node, 'spec', 'podCIDRs')).map(String);
  cidrs.forEach((c, i) => errs.push(...validateCIDR(index('spec.podCIDRs', i), c)));
  if (cidrs.length > 1) {
    const fams = cidrs.map((c) => (c.includes(':') ? 6 : 4));
    if (cidrs.length > 2 || fams[0] === fams[1]) errs.push(field.invalid('spec.podCIDRs', cidrs, 'may specify no more than one CIDR for each IP family'));
    const seen = new Set<string>();
    cidrs.forEach((c, i) => {
      if (seen.has(c)) errs.push(field.duplicate(index('spec.podCIDRs', i), c));
      seen.add(c);
    });
  }
  return errs;
}

/** A Node update: podCIDRs and providerID may only go from unset to set. */
export function validateNodeUpdate(node: Obj, old: Obj): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...validateResourceList(get(node, 'status', 'capacity'), 'status.capacity'));
  errs.push(...validateResourceList(get(node, 'status', 'allocatable'), 'status.allocatable'));
  const seen = new Set<string>();
  list(get(node, 'status', 'addresses')).forEach((a: Obj, i) => {
    const k = `${a?.type}\u0000${a?.address}`;
    if (seen.has(k)) errs.push(field.duplicate(index('status.addresses', i), a));
    seen.add(k);
  });
  const oldCIDRs = list(get(old, 'spec', 'podCIDRs'));
  const newCIDRs = list(get(node, 'spec', 'podCIDRs'));
  if (oldCIDRs.length > 0 && !semanticEqual(oldCIDRs, newCIDRs)) {
    errs.push(field.forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'));
  }
  const oldPID = get(old, 'spec', 'providerID');
  if (oldPID && oldPID !== get(node, 'spec', 'providerID')) {
    errs.push(field.forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
  }
  errs.push(...validateNodeTaints(get(node, 'spec', 'taints'), 'metadata.taints'));
  if (get(node, 'spec', 'externalID') !== get(old, 'spec', 'externalID')) errs.push(field.forbidden('spec.externalID', 'may not be updated'));
  return errs;
}

// ---- ConfigMap / Secret -----------------------------------------------------------------------

function byteLength(v: unknown): number {
  return Buffer.byteLength(String(v ?? ''));
}

function base64Length(v: unknown): number {
  const s = String(v ?? '');
  return Buffer.from(s, 'base64').length;
}

/** A ConfigMap: keys are config keys, no key in both data and binaryData, total ≤ 1 MiB. */
export function validateConfigMap(cm: Obj): FieldError[] {
  const errs: FieldError[] = [];
  let total = 0;
  const data = map(cm.data);
  const bin = map(cm.binaryData);
  for (const [k, v] of Object.entries(data)) {
    for (const m of isConfigMapKey(k)) errs.push(field.invalid(key('data', k), k, m));
    if (k in bin) errs.push(field.invalid(key('data', k), k, 'duplicate of key present in binaryData'));
    total += byteLength(v);
  }
  for (const [k, v] of Object.entries(bin)) {
    for (const m of isConfigMapKey(k)) errs.push(field.invalid(key('binaryData', k), k, m));
    total += base64Length(v);
  }
  if (total > MaxSecretSize) errs.push(tooLong('', MaxSecretSize));
  return errs;
}

/** A ConfigMap update: with `immutable: true` nothing but metadata may change. */
export function validateConfigMapUpdate(cm: Obj, old: Obj): FieldError[] {
  const errs: FieldError[] = [];
  if (old.immutable === true) {
    if (cm.immutable !== true) errs.push(field.forbidden('immutable', 'field is immutable when `immutable` is set'));
    if (!semanticEqual(cm.data, old.data)) errs.push(field.forbidden('data', 'field is immutable when `immutable` is set'));
    if (!semanticEqual(cm.binaryData, old.binaryData)) errs.push(field.forbidden('binaryData', 'field is immutable when `immutable` is set'));
  }
  errs.push(...validateConfigMap(cm));
  return errs;
}

/** A Secret: keys, total size ≤ 1 MiB, and the fields each well-known type requires. */
export function validateSecret(secret: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const data = map(secret.data);
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    for (const m of isConfigMapKey(k)) errs.push(field.invalid(key('data', k), k, m));
    total += base64Length(v);
  }
  if (total > MaxSecretSize) errs.push(tooLong('data', MaxSecretSize));
  const decodeJSON = (k: string): void => {
    if (!(k in data)) {
      errs.push(field.required(key('data', k), ''));
      return;
    }
    try {
      JSON.parse(Buffer.from(String(data[k]), 'base64').toString('utf8'));
    } catch (e) {
      errs.push(field.invalid(key('data', k), '<secret contents redacted>', (e as Error).message));
    }
  };
  switch (secret.type) {
    case 'kubernetes.io/service-account-token':
      if (!get(secret, 'metadata', 'annotations', 'kubernetes.io/service-account.name')) {
        errs.push(field.required('metadata.annotations[kubernetes.io/service-account.name]', ''));
      }
      break;
    case 'kubernetes.io/dockercfg':
      decodeJSON('.dockercfg');
      break;
    case 'kubernetes.io/dockerconfigjson':
      decodeJSON('.dockerconfigjson');
      break;
    case 'kubernetes.io/basic-auth':
      if (!('username' in data) && !('password' in data)) {
        errs.push(field.required('data[username]', ''));
        errs.push(field.required('data[password]', ''));
      }
      break;
    case 'kubernetes.io/ssh-auth':
      if (!data['ssh-privatekey']) errs.push(field.required('data[ssh-privatekey]', ''));
      break;
    case 'kubernetes.io/tls':
      if (!('tls.crt' in data)) errs.push(field.required('data[tls.crt]', ''));
      if (!('tls.key' in data)) errs.push(field.required('data[tls.key]', ''));
      break;
  }
  return errs;
}

/** A Secret update: type is immutable; with `immutable: true` data may not change. */
export function validateSecretUpdate(secret: Obj, old: Obj): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...validateImmutable(secret.type, old.type, 'type'));
  if (old.immutable === true) {
    if (secret.immutable !== true) errs.push(field.forbidden('immutable', 'field is immutable when `immutable` is set'));
    if (!semanticEqual(secret.data, old.data)) errs.push(field.forbidden('data', 'field is immutable when `immutable` is set'));
  }
  errs.push(...validateSecret(secret));
  return errs;
}

// ---- ServiceAccount ---------------------------------------------------------------------------

/** A ServiceAccount: only metadata, validated generically; secret references need names. */
export function validateServiceAccount(sa: Obj): FieldError[] {
  const errs: FieldError[] = [];
  list(sa.imagePullSecrets).forEach((s: Obj, i) => {
    if (!s?.name) errs.push(field.required(child(index('imagePullSecrets', i), 'name'), ''));
  });
  return errs;
}

// ---- Endpoints --------------------------------------------------------------------------------

/** Endpoints: each subset has addresses; addresses are non-special IPs; ports valid. */
export function validateEndpoints(ep: Obj): FieldError[] {
  const errs: FieldError[] = [];
  list(ep.subsets).forEach((ss: Obj, i) => {
    const p = index('subsets', i);
    if (list(ss?.addresses).length === 0 && list(ss?.notReadyAddresses).length === 0) {
      errs.push(field.required(p, 'must specify `addresses` or `notReadyAddresses`'));
    }
    for (const kind of ['addresses', 'notReadyAddresses']) {
      list(ss?.[kind]).forEach((a: Obj, j) => {
        const ap = index(child(p, kind), j);
        errs.push(...validateIP(child(ap, 'ip'), String(a?.ip ?? '')));
        if (a?.hostname) errs.push(...isDNS1123Label(String(a.hostname)).map((m) => field.invalid(child(ap, 'hostname'), a.hostname, m)));
        if (a?.nodeName !== undefined && a?.nodeName !== null) {
          for (const m of nameIsDNSSubdomain(String(a.nodeName))) errs.push(field.invalid(child(ap, 'nodeName'), a.nodeName, m));
        }
        errs.push(...validateNonSpecialIP(child(ap, 'ip'), String(a?.ip ?? '')).filter((e) => e.detail !== 'must be a valid IP address'));
      });
    }
    const ports = list(ss?.ports) as Obj[];
    ports.forEach((port, j) => {
      const pp = index(child(p, 'ports'), j);
      if (ports.length > 1 && !port?.name) errs.push(field.required(child(pp, 'name'), ''));
      else if (port?.name) errs.push(...isDNS1123Label(String(port.name)).map((m) => field.invalid(child(pp, 'name'), port.name, m)));
      for (const m of isValidPortNum(port?.port ?? 0)) errs.push(field.invalid(child(pp, 'port'), port?.port ?? 0, m));
      if (!port?.protocol) errs.push(field.required(child(pp, 'protocol'), ''));
      else if (!supportedPortProtocols.includes(port.protocol)) errs.push(field.notSupported(child(pp, 'protocol'), port.protocol, supportedPortProtocols));
      if (port?.appProtocol !== undefined && port?.appProtocol !== null) errs.push(...validateQualifiedName(String(port.appProtocol), child(pp, 'appProtocol')));
    });
  });
  return errs;
}

// ---- Event (core/v1) --------------------------------------------------------------------------

/** A core/v1 Event, with upstream's legacy (lenient) rules. */
export function validateEvent(ev: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const ns = String(get(ev, 'metadata', 'namespace') ?? '');
  const involvedNS = String(get(ev, 'involvedObject', 'namespace') ?? '');
  if (!ev.eventTime) {
    if (involvedNS === '') {
      if (ns !== '' && ns !== 'default') errs.push(field.invalid('involvedObject.namespace', involvedNS, 'does not match event.namespace'));
    } else if (ns !== involvedNS) {
      errs.push(field.invalid('involvedObject.namespace', involvedNS, 'does not match event.namespace'));
    }
  } else {
    if (involvedNS === '' && ns !== 'default' && ns !== 'kube-system') errs.push(field.invalid('involvedObject.namespace', involvedNS, 'does not match event.namespace'));
    if (!ev.reportingComponent) errs.push(field.required('reportingController', ''));
    for (const m of isLabelKey(String(ev.reportingComponent ?? ''))) errs.push(field.invalid('reportingController', ev.reportingComponent ?? '', m));
    if (!ev.reportingInstance) errs.push(field.required('reportingInstance', ''));
    if (String(ev.reportingInstance ?? '').length > 128) errs.push(field.invalid('reportingInstance', '', 'can have at most 128 characters'));
    if (!ev.action) errs.push(field.required('action', ''));
    if (String(ev.action ?? '').length > 128) errs.push(field.invalid('action', '', 'can have at most 128 characters'));
    if (!ev.reason) errs.push(field.required('reason', ''));
    if (String(ev.reason ?? '').length > 128) errs.push(field.invalid('reason', '', 'can have at most 128 characters'));
    if (String(ev.message ?? '').length > 1024) errs.push(field.invalid('message', '', 'can have at most 1024 characters'));
  }
  for (const m of isDNS1123Subdomain(ns)) errs.push(field.invalid('namespace', ns, m));
  return errs;
}

// ---- LimitRange -------------------------------------------------------------------------------

const standardLimitTypes = new Set(['Pod', 'Container', 'PersistentVolumeClaim']);

/** A LimitRange: types, resource names, and min ≤ default request ≤ default ≤ max. */
export function validateLimitRange(lr: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const types = new Set<string>();
  list(get(lr, 'spec', 'limits')).forEach((limit: Obj, i) => {
    const p = index('spec.limits', i);
    const type = String(limit?.type ?? '');
    const te = validateQualifiedName(type, child(p, 'type'));
    errs.push(...te);
    if (!te.length && !type.includes('/') && !standardLimitTypes.has(type)) errs.push(field.invalid(child(p, 'type'), type, 'must be a standard limit type or fully qualified'));
    if (types.has(type)) errs.push(field.duplicate(child(p, 'type'), type));
    types.add(type);
    const read = (f: string): Map<string, Quantity> => {
      const out = new Map<string, Quantity>();
      for (const [k, v] of Object.entries(map(limit?.[f]))) {
        const fp = key(child(p, f), k);
        errs.push(...validateResourceName(k, fp));
        const q = parseQuantityField(v, fp, errs);
        if (q) out.set(k, q);
      }
      return out;
    };
    const max = read('max');
    const min = read('min');
    let def = new Map<string, Quantity>();
    let defReq = new Map<string, Quantity>();
    if (type === 'Pod') {
      if (Object.keys(map(limit?.default)).length) errs.push(field.forbidden(child(p, 'default'), "may not be specified when `type` is 'Pod'"));
      if (Object.keys(map(limit?.defaultRequest)).length) errs.push(field.forbidden(child(p, 'defaultRequest'), "may not be specified when `type` is 'Pod'"));
    } else {
      def = read('default');
      defReq = read('defaultRequest');
    }
    if (type === 'PersistentVolumeClaim' && !min.has('storage') && !max.has('storage')) {
      errs.push(field.required(child(p, 'limits'), 'either minimum or maximum storage value is required, but neither was provided'));
    }
    const ratios = read('maxLimitRequestRatio');
    const keys = new Set([...max.keys(), ...min.keys(), ...def.keys(), ...defReq.keys(), ...ratios.keys()]);
    for (const k of keys) {
      const mn = min.get(k);
      const mx = max.get(k);
      const d = def.get(k);
      const dr = defReq.get(k);
      if (mn && mx && mn.cmp(mx) > 0) errs.push(field.invalid(key(child(p, 'min'), k), mn.toString(), `min value ${mn} is greater than max value ${mx}`));
      if (dr && mn && mn.cmp(dr) > 0) errs.push(field.invalid(key(child(p, 'defaultRequest'), k), dr.toString(), `min value ${mn} is greater than default request value ${dr}`));
      if (dr && mx && dr.cmp(mx) > 0) errs.push(field.invalid(key(child(p, 'defaultRequest'), k), dr.toString(), `default request value ${dr} is greater than max value ${mx}`));
      if (dr && d && dr.cmp(d) > 0) errs.push(field.invalid(key(child(p, 'defaultRequest'), k), dr.toString(), `default request value ${dr} is greater than default limit value ${d}`));
      if (d && mn && mn.cmp(d) > 0) errs.push(field.invalid(key(child(p, 'default'), k), mn.toString(), `min value ${mn} is greater than default value ${d}`));
      if (d && mx && d.cmp(mx) > 0) errs.push(field.invalid(key(child(p, 'default'), k), mx.toString(), `default value ${d} is greater than max value ${mx}`));
      const r = ratios.get(k);
      if (r && r.cmp(tryParseQuantity('1')!) < 0) errs.push(field.invalid(key(child(p, 'maxLimitRequestRatio'), k), r.toString(), `ratio ${r} is less than 1`));
    }
  });
  return errs;
}

// ---- ResourceQuota ----------------------------------------------------------------------------

const quotaScopes = ['Terminating', 'NotTerminating', 'BestEffort', 'NotBestEffort', 'PriorityClass', 'CrossNamespacePodAffinity'];

function validateQuotaResources(resources: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(map(resources))) {
    const p = key(path, k);
    errs.push(...validateResourceName(k, p));
    const q = parseQuantityField(v, p, errs);
    if (q) errs.push(...validateResourceQuantityValue(k, q, p));
  }
  return errs;
}

/** A ResourceQuota: resource names, quantities, scopes. */
export function validateResourceQuota(rq: Obj): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...validateQuotaResources(get(rq, 'spec', 'hard'), 'spec.hard'));
  const scopes = list(get(rq, 'spec', 'scopes')).map(String);
  for (const s of scopes) if (!quotaScopes.includes(s)) errs.push(field.invalid('spec.scopes', scopes, 'unsupported scope'));
  if ((scopes.includes('BestEffort') && scopes.includes('NotBestEffort')) || (scopes.includes('Terminating') && scopes.includes('NotTerminating'))) {
    errs.push(field.invalid('spec.scopes', scopes, 'conflicting scopes'));
  }
  list(get(rq, 'spec', 'scopeSelector', 'matchExpressions')).forEach((req: Obj, i) => {
    const p = 'spec.scopeSelector.matchExpressions';
    if (!quotaScopes.includes(req?.scopeName)) errs.push(field.invalid(child(p, 'scopeName'), req?.scopeName ?? '', 'unsupported scope'));
    const values = list(req?.values);
    switch (req?.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) errs.push(field.required(child(p, 'values'), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length !== 0) errs.push(field.invalid(child(p, 'values'), values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"));
        break;
      default:
        errs.push(field.invalid(child(p, 'operator'), req?.operator ?? '', 'not a valid selector operator'));
    }
    void i;
  });
  errs.push(...validateQuotaResources(get(rq, 'status', 'hard'), 'status.hard'));
  errs.push(...validateQuotaResources(get(rq, 'status', 'used'), 'status.used'));
  return errs;
}

/** A ResourceQuota update: scopes are immutable. */
export function validateResourceQuotaUpdate(rq: Obj, old: Obj): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...validateQuotaResources(get(rq, 'spec', 'hard'), 'spec.hard'));
  const a = new Set(list(get(rq, 'spec', 'scopes')).map(String));
  const b = new Set(list(get(old, 'spec', 'scopes')).map(String));
  if (a.size !== b.size || [...a].some((s) => !b.has(s))) errs.push(field.invalid('spec.scopes', list(get(rq, 'spec', 'scopes')), fieldImmutableErrorMsg));
  return errs;
}

/** A ResourceQuota `/status` update. */
export function validateResourceQuotaStatusUpdate(rq: Obj, _old: Obj): FieldError[] {
  return [...validateQuotaResources(get(rq, 'status', 'hard'), 'status.hard'), ...validateQuotaResources(get(rq, 'status', 'used'), 'status.used')];
}

