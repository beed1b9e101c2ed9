/**
 * Pod and pod-template validation (upstream's pkg/apis/core/validation: ValidatePodSpec,
 * ValidatePodCreate, ValidatePodUpdate, ValidatePodStatusUpdate), with upstream's messages.
 * Generic metadata (name, namespace, labels…) is validated separately by validateObjectMeta.
 */
import { field, type FieldError } from '../errors.js';
import { tryParseQuantity, quantityFormatError, type Quantity } from '../quantity.js';
import {
  inclusiveRangeError,
  isConfigMapKey,
  isDNS1123Label,
  isDNS1123Subdomain,
  isEnvVarName,
  isHTTPHeaderName,
  isLabelValue,
  isValidID,
  isValidPortName,
  isValidPortNum,
  nameIsDNSSubdomain,
} from './identifiers.js';
import {
  child,
  fieldImmutableErrorMsg,
  get,
  index,
  isNegativeErrorMsg,
  isNotPositiveErrorMsg,
  key,
  list,
  map,
  semanticEqual,
  validateImmutable,
  validateLabels,
  validateLabelSelector,
  validateNonnegative,
  validateQualifiedName,
  type Obj,
} from './helpers.js';
import { validateAnnotations } from './object-meta.js';
import { validateIP } from './network.js';

const MaxInt32 = 2147483647;

/** Protocols a port may use, sorted as upstream lists them. */
export const supportedPortProtocols = ['SCTP', 'TCP', 'UDP'];

function dnsLabel(value: string, path: string): FieldError[] {
  return isDNS1123Label(value).map((m) => field.invalid(path, value, m));
}
function dnsSubdomain(value: string, path: string): FieldError[] {
  return isDNS1123Subdomain(value).map((m) => field.invalid(path, value, m));
}

// ---- resources ------------------------------------------------------------------------------

const standardContainerResources = new Set(['cpu', 'memory', 'ephemeral-storage']);
const standardResources = new Set([
  'cpu',
  'memory',
  'ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'pods',
  'services',
  'replicationcontrollers',
  'resourcequotas',
  'secrets',
  'persistentvolumeclaims',
  'configmaps',
  'services.nodeports',
  'services.loadbalancers',
  'storage',
  'requests.storage',
]);

function isHugePageResourceName(name: string): boolean {
  return name.startsWith('hugepages-');
}
/** No `/`, or a `kubernetes.io/` prefix. */
export function isNativeResource(name: string): boolean {
  return !name.includes('/') || name.includes('kubernetes.io/');
}
/** An extended resource such as `example.com/gpu`. */
export function isExtendedResourceName(name: string): boolean {
  if (isNativeResource(name) || name.startsWith('requests.')) return false;
  return validateQualifiedName(`requests.${name}`, '').length === 0;
}
function isOvercommitAllowed(name: string): boolean {
  return isNativeResource(name) && !isHugePageResourceName(name);
}

/** A resource name anywhere (quota, node capacity): qualified, and standard when unprefixed. */
export function validateResourceName(name: string, path: string): FieldError[] {
  const errs = validateQualifiedName(name, path);
  if (errs.length) return errs;
  if (!name.includes('/') && !standardResources.has(name) && !isHugePageResourceName(name) && !name.startsWith('requests.hugepages-') && !name.startsWith('limits.hugepages-')) {
    return [field.invalid(path, name, 'must be a standard resource type or fully qualified')];
  }
  return [];
}

function validateContainerResourceName(name: string, path: string): FieldError[] {
  const errs = validateResourceName(name, path);
  if (!name.includes('/')) {
    if (!standardContainerResources.has(name) && !isHugePageResourceName(name)) {
      return [...errs, field.invalid(path, name, 'must be a standard resource for containers')];
    }
  } else if (!isNativeResource(name) && !isExtendedResourceName(name)) {
    return [...errs, field.invalid(path, name, "doesn't follow extended resource name standard")];
  }
  return errs;
}

/** Parse a quantity field, reporting malformed ones. */
export function parseQuantityField(value: unknown, path: string, errs: FieldError[]): Quantity | undefined {
  const q = tryParseQuantity(value);
  if (!q) errs.push(field.invalid(path, value, quantityFormatError));
  return q;
}

/** Upstream's ValidateResourceQuantityValue: non-negative, integral for integer resources. */
export function validateResourceQuantityValue(resource: string, q: Quantity, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (q.sign() < 0) errs.push(field.invalid(path, q.toString(), isNegativeErrorMsg));
  if (isExtendedResourceName(resource) && q.scaledValue(-3) % 1000n !== 0n) errs.push(field.invalid(path, q.toString(), 'must be an integer'));
  return errs;
}

/** Container resource requirements: valid names and quantities, requests ≤ limits. */
export function validateResourceRequirements(res: unknown, path: string): FieldError[] {
  const r = map(res);
  const errs: FieldError[] = [];
  const limPath = child(path, 'limits');
  const reqPath = child(path, 'requests');
  const limits = new Map<string, Quantity>();
  let limCpuMem = false;
  let reqCpuMem = false;
  let hugePages = false;
  for (const [name, raw] of Object.entries(map(r.limits))) {
    const p = key(limPath, name);
    errs.push(...validateContainerResourceName(name, p));
    const q = parseQuantityField(raw, p, errs);
    if (!q) continue;
    errs.push(...validateResourceQuantityValue(name, q, p));
    limits.set(name, q);
    if (isHugePageResourceName(name)) hugePages = true;
    if (name === 'cpu' || name === 'memory') limCpuMem = true;
  }
  for (const [name, raw] of Object.entries(map(r.requests))) {
    const p = key(reqPath, name);
    errs.push(...validateContainerResourceName(name, p));
    const q = parseQuantityField(raw, p, errs);
    if (!q) continue;
    errs.push(...validateResourceQuantityValue(name, q, p));
    const limit = limits.get(name);
    if (limit) {
      if (q.cmp(limit) !== 0 && !isOvercommitAllowed(name)) {
        errs.push(field.invalid(reqPath, q.toString(), `must be equal to ${name} limit of ${limit.toString()}`));
      } else if (q.cmp(limit) > 0) {
        errs.push(field.invalid(reqPath, q.toString(), `must be less than or equal to ${name} limit of ${limit.toString()}`));
      }
    } else if (!isOvercommitAllowed(name) && !Object.prototype.hasOwnProperty.call(map(r.limits), name)) {
      errs.push(field.required(limPath, 'Limit must be set for non overcommitable resources'));
    }
    if (isHugePageResourceName(name)) hugePages = true;
    if (name === 'cpu' || name === 'memory') reqCpuMem = true;
  }
  if (!limCpuMem && !reqCpuMem && hugePages) errs.push(field.forbidden(path, 'HugePages require cpu or memory'));
  return errs;
}

// ---- ports, env -----------------------------------------------------------------------------

/** An int-or-string port: a number 1–65535 or an IANA service name. */
export function validatePortNumOrName(port: unknown, path: string): FieldError[] {
  if (typeof port === 'number') return isValidPortNum(port).map((m) => field.invalid(path, port, m));
  if (typeof port === 'string') return isValidPortName(port).map((m) => field.invalid(path, port, m));
  return [field.invalid(path, port ?? null, 'must be an integer or a string')];
}

function validateContainerPorts(ports: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  list(ports).forEach((port: Obj, i) => {
    const p = index(path, i);
    if (port?.name) {
      const msgs = isValidPortName(port.name);
      if (msgs.length) msgs.forEach((m) => errs.push(field.invalid(child(p, 'name'), port.name, m)));
      else if (names.has(port.name)) errs.push(field.duplicate(child(p, 'name'), port.name));
      else names.add(port.name);
    }
    if (!port?.containerPort) errs.push(field.required(child(p, 'containerPort'), ''));
    else for (const m of isValidPortNum(port.containerPort)) errs.push(field.invalid(child(p, 'containerPort'), port.containerPort, m));
    if (port?.hostPort) for (const m of isValidPortNum(port.hostPort)) errs.push(field.invalid(child(p, 'hostPort'), port.hostPort, m));
    if (!port?.protocol) errs.push(field.required(child(p, 'protocol'), ''));
    else if (!supportedPortProtocols.includes(port.protocol)) errs.push(field.notSupported(child(p, 'protocol'), port.protocol, supportedPortProtocols));
  });
  return errs;
}

const validEnvFieldPaths = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName', 'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs'];
const validResourceFieldPaths = ['limits.cpu', 'limits.ephemeral-storage', 'limits.memory', 'requests.cpu', 'requests.ephemeral-storage', 'requests.memory'];

function validateObjectFieldSelector(fs: Obj, path: string, volume: boolean): FieldError[] {
  if (!fs.apiVersion) return [field.required(child(path, 'apiVersion'), '')];
  if (!fs.fieldPath) return [field.required(child(path, 'fieldPath'), '')];
  const fp = String(fs.fieldPath);
  const sub = /^(metadata\.(?:labels|annotations))\['(.*)'\]$/.exec(fp);
  if (sub) {
    const k = sub[1] === 'metadata.annotations' ? sub[2].toLowerCase() : sub[2];
    return validateQualifiedName(k, path);
  }
  const allowed = volume ? ['metadata.annotations', 'metadata.labels', 'metadata.name', 'metadata.namespace', 'metadata.uid'] : validEnvFieldPaths;
  if (!allowed.includes(fp)) return [field.notSupported(child(path, 'fieldPath'), fp, [...allowed].sort())];
  return [];
}

function validateResourceFieldSelector(fs: Obj, path: string, volume: boolean): FieldError[] {
  if (volume && !fs.containerName) return [field.required(child(path, 'containerName'), '')];
  if (!fs.resource) return [field.required(child(path, 'resource'), '')];
  const r = String(fs.resource);
  if (!validResourceFieldPaths.includes(r) && !r.startsWith('requests.hugepages-') && !r.startsWith('limits.hugepages-')) {
    return [field.notSupported(child(path, 'resource'), r, validResourceFieldPaths)];
  }
  return [];
}

function validateKeySelector(s: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = String(s.name ?? '');
  for (const m of nameIsDNSSubdomain(name)) errs.push(field.invalid(child(path, 'name'), name, m));
  if (!s.key) errs.push(field.required(child(path, 'key'), ''));
  else for (const m of isConfigMapKey(String(s.key))) errs.push(field.invalid(child(path, 'key'), s.key, m));
  return errs;
}

function validateEnv(env: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  list(env).forEach((ev: Obj, i) => {
    const p = index(path, i);
    if (!ev?.name) errs.push(field.required(child(p, 'name'), ''));
    else for (const m of isEnvVarName(String(ev.name))) errs.push(field.invalid(child(p, 'name'), ev.name, m));
    const vf = ev?.valueFrom;
    if (!vf) return;
    const vp = child(p, 'valueFrom');
    let sources = 0;
    if (vf.fieldRef) {
      sources++;
      errs.push(...validateObjectFieldSelector(vf.fieldRef, child(vp, 'fieldRef'), false));
    }
    if (vf.resourceFieldRef) {
      sources++;
      errs.push(...validateResourceFieldSelector(vf.resourceFieldRef, child(vp, 'resourceFieldRef'), false));
    }
    if (vf.configMapKeyRef) {
      sources++;
      errs.push(...validateKeySelector(vf.configMapKeyRef, child(vp, 'configMapKeyRef')));
    }
    if (vf.secretKeyRef) {
      sources++;
      errs.push(...validateKeySelector(vf.secretKeyRef, child(vp, 'secretKeyRef')));
    }
    if (sources === 0) errs.push(field.invalid(vp, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
    else if (ev.value) errs.push(field.invalid(vp, '', 'may not be specified when `value` is not empty'));
    else if (sources > 1) errs.push(field.invalid(vp, '', 'may not have more than one field specified at a time'));
  });
  return errs;
}

function validateEnvFrom(envFrom: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  list(envFrom).forEach((ev: Obj, i) => {
    const p = index(path, i);
    if (ev?.prefix) for (const m of isEnvVarName(String(ev.prefix))) errs.push(field.invalid(child(p, 'prefix'), ev.prefix, m));
    let sources = 0;
    for (const kind of ['configMapRef', 'secretRef']) {
      const ref = ev?.[kind];
      if (!ref) continue;
      sources++;
      if (!ref.name) errs.push(field.required(child(p, kind, 'name'), ''));
      else for (const m of nameIsDNSSubdomain(String(ref.name))) errs.push(field.invalid(child(p, kind, 'name'), ref.name, m));
    }
    if (sources === 0) errs.push(field.invalid(path, '', 'must specify one of: `configMapRef` or `secretRef`'));
    else if (sources > 1) errs.push(field.invalid(path, '', 'may not have more than one field specified at a time'));
  });
  return errs;
}

// ---- volumes ----------------------------------------------------------------------------------

/** Volume source fields in the order upstream checks them (and the path name it reports). */
const volumeSources: Array<[string, string]> = [
  ['emptyDir', 'emptyDir'],
  ['hostPath', 'hostPath'],
  ['gitRepo', 'gitRepo'],
  ['gcePersistentDisk', 'gcePersistentDisk'],
  ['awsElasticBlockStore', 'awsElasticBlockStore'],
  ['secret', 'secret'],
  ['nfs', 'nfs'],
  ['iscsi', 'iscsi'],
  ['glusterfs', 'glusterfs'],
  ['flocker', 'flocker'],
  ['persistentVolumeClaim', 'persistentVolumeClaim'],
  ['rbd', 'rbd'],
  ['cinder', 'cinder'],
  ['cephfs', 'cephFS'],
  ['quobyte', 'quobyte'],
  ['downwardAPI', 'downwarAPI'],
  ['fc', 'fc'],
  ['flexVolume', 'flexVolume'],
  ['configMap', 'configMap'],
  ['azureFile', 'azureFile'],
  ['vsphereVolume', 'vsphereVolume'],
  ['photonPersistentDisk', 'photonPersistentDisk'],
  ['portworxVolume', 'portworxVolume'],
  ['azureDisk', 'azureDisk'],
  ['storageos', 'storageos'],
  ['projected', 'projected'],
  ['scaleIO', 'scaleIO'],
  ['csi', 'csi'],
  ['ephemeral', 'ephemeral'],
  ['image', 'image'],
];

const fileModeErrorMsg = 'must be a number between 0 and 0777 (octal), both inclusive';

function validateMode(mode: unknown, path: string): FieldError[] {
  if (mode === undefined || mode === null) return [];
  return typeof mode === 'number' && mode >= 0 && mode <= 0o777 ? [] : [field.invalid(path, mode, fileModeErrorMsg)];
}

function validateLocalDescendingPath(p: string, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (p.startsWith('/')) errs.push(field.invalid(path, p, 'must be a relative path'));
  if (p.split('/').includes('..')) errs.push(field.invalid(path, p, "must not contain '..'"));
  return errs;
}

function validateKeyToPaths(items: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  list(items).forEach((it: Obj, i) => {
    const p = index(path, i);
    if (!it?.key) errs.push(field.required(child(p, 'key'), ''));
    if (!it?.path) errs.push(field.required(child(p, 'path'), ''));
    else errs.push(...validateLocalDescendingPath(String(it.path), child(p, 'path')));
    errs.push(...validateMode(it?.mode, child(p, 'mode')));
  });
  return errs;
}

function validateVolumeSourceDetail(name: string, src: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  switch (name) {
    case 'emptyDir':
      if (src.sizeLimit !== undefined && src.sizeLimit !== null) {
        const q = tryParseQuantity(src.sizeLimit);
        if (!q || q.sign() < 0) errs.push(field.forbidden(child(path, 'sizeLimit'), 'SizeLimit field must be a valid resource quantity'));
      }
      if (src.medium && !['Memory', 'HugePages'].includes(src.medium) && !String(src.medium).startsWith('HugePages-')) {
        errs.push(field.notSupported(child(path, 'medium'), src.medium, ['', 'Memory', 'HugePages']));
      }
      break;
    case 'hostPath':
      if (!src.path) errs.push(field.required(child(path, 'path'), ''));
      else if (String(src.path).split('/').includes('..')) errs.push(field.invalid(child(path, 'path'), src.path, "must not contain '..'"));
      break;
    case 'secret':
      if (!src.secretName) errs.push(field.required(child(path, 'secretName'), ''));
      errs.push(...validateMode(src.defaultMode, child(path, 'defaultMode')));
      errs.push(...validateKeyToPaths(src.items, child(path, 'items')));
      break;
    case 'configMap':
      if (!src.name) errs.push(field.required(child(path, 'name'), ''));
      errs.push(...validateMode(src.defaultMode, child(path, 'defaultMode')));
      errs.push(...validateKeyToPaths(src.items, child(path, 'items')));
      break;
    case 'persistentVolumeClaim':
      if (!src.claimName) errs.push(field.required(child(path, 'claimName'), ''));
      break;
    case 'nfs':
      if (!src.server) errs.push(field.required(child(path, 'server'), ''));
      if (!src.path) errs.push(field.required(child(path, 'path'), ''));
      else if (!String(src.path).startsWith('/')) errs.push(field.invalid(child(path, 'path'), src.path, 'must be an absolute path'));
      break;
    case 'downwardAPI':
      errs.push(...validateMode(src.defaultMode, child(path, 'defaultMode')));
      list(src.items).forEach((it: Obj, i) => {
        const p = index(child(path, 'items'), i);
        if (!it?.path) errs.push(field.required(child(p, 'path'), ''));
        else errs.push(...validateLocalDescendingPath(String(it.path), child(p, 'path')));
        errs.push(...validateMode(it?.mode, child(p, 'mode')));
        if (it?.fieldRef) errs.push(...validateObjectFieldSelector(it.fieldRef, child(p, 'fieldRef'), true));
        if (it?.resourceFieldRef) errs.push(...validateResourceFieldSelector(it.resourceFieldRef, child(p, 'resourceFieldRef'), true));
      });
      break;
    case 'projected':
      errs.push(...validateMode(src.defaultMode, child(path, 'defaultMode')));
      list(src.sources).forEach((s: Obj, i) => {
        const p = index(child(path, 'sources'), i);
        let n = 0;
        for (const k of ['secret', 'configMap', 'downwardAPI', 'serviceAccountToken', 'clusterTrustBundle']) {
          if (!s?.[k]) continue;
          n++;
          if (n > 1) errs.push(field.forbidden(child(p, k), 'may not specify more than 1 volume type per source'));
        }
        if (s?.serviceAccountToken) {
          const st = s.serviceAccountToken;
          if (typeof st.expirationSeconds === 'number' && st.expirationSeconds < 600) errs.push(field.invalid(child(p, 'serviceAccountToken', 'expirationSeconds'), st.expirationSeconds, 'may not specify a duration less than 10 minutes'));
          if (!st.path) errs.push(field.required(child(p, 'serviceAccountToken', 'path'), ''));
        }
        if (s?.secret) errs.push(...validateKeyToPaths(s.secret.items, child(p, 'secret', 'items')));
        if (s?.configMap) errs.push(...validateKeyToPaths(s.configMap.items, child(p, 'configMap', 'items')));
      });
      break;
    case 'csi':
      if (!src.driver) errs.push(field.required(child(path, 'driver'), ''));
      break;
    case 'ephemeral':
      if (!src.volumeClaimTemplate) errs.push(field.required(child(path, 'volumeClaimTemplate'), ''));
      break;
    case 'image':
      if (!src.reference) errs.push(field.required(child(path, 'reference'), ''));
      break;
    case 'gitRepo':
      if (!src.repository) errs.push(field.required(child(path, 'repository'), ''));
      break;
  }
  return errs;
}

/** Validate volumes; returns the valid volumes by name for mount checks. */
export function validateVolumes(volumes: unknown, path: string): { errors: FieldError[]; names: Map<string, Obj> } {
  const errs: FieldError[] = [];
  const names = new Map<string, Obj>();
  list(volumes).forEach((vol: Obj, i) => {
    const p = index(path, i);
    const el: FieldError[] = [];
    let count = 0;
    for (const [src, reported] of volumeSources) {
      if (vol?.[src] === undefined || vol?.[src] === null) continue;
      if (count > 0) {
        el.push(field.forbidden(child(p, reported), 'may not specify more than 1 volume type'));
      } else {
        count++;
        el.push(...validateVolumeSourceDetail(src, map(vol[src]), child(p, src)));
      }
    }
    if (count === 0) el.push(field.required(p, 'must specify a volume type'));
    const name = vol?.name;
    if (!name) el.push(field.required(child(p, 'name'), ''));
    else el.push(...dnsLabel(String(name), child(p, 'name')));
    if (name && names.has(name)) el.push(field.duplicate(child(p, 'name'), name));
    if (el.length === 0) names.set(name, vol);
    else errs.push(...el);
  });
  return { errors: errs, names };
}

function validateVolumeMounts(mounts: unknown, volumes: Map<string, Obj>, devices: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  const devNames = new Set(list(devices).map((d: Obj) => d?.name));
  const devPaths = new Set(list(devices).map((d: Obj) => d?.devicePath));
  list(mounts).forEach((m: Obj, i) => {
    const p = index(path, i);
    if (!m?.name) errs.push(field.required(child(p, 'name'), ''));
    if (!volumes.has(m?.name)) errs.push(field.notFound(child(p, 'name'), m?.name ?? ''));
    if (!m?.mountPath) errs.push(field.required(child(p, 'mountPath'), ''));
    if (seen.has(m?.mountPath)) errs.push(field.invalid(child(p, 'mountPath'), m.mountPath, 'must be unique'));
    seen.add(m?.mountPath);
    if (devNames.has(m?.name)) errs.push(field.invalid(child(p, 'name'), m.name, 'must not already exist in volumeDevices'));
    if (devPaths.has(m?.mountPath)) errs.push(field.invalid(child(p, 'mountPath'), m.mountPath, 'must not already exist as a path in volumeDevices'));
    if (m?.subPath) errs.push(...validateLocalDescendingPath(String(m.subPath), child(path, 'subPath')));
    if (m?.subPathExpr) {
      if (m.subPath) errs.push(field.invalid(child(p, 'subPathExpr'), m.subPathExpr, 'subPathExpr and subPath are mutually exclusive'));
      errs.push(...validateLocalDescendingPath(String(m.subPathExpr), child(path, 'subPathExpr')));
    }
    if (m?.mountPropagation && !['None', 'HostToContainer', 'Bidirectional'].includes(m.mountPropagation)) {
      errs.push(field.notSupported(child(path, 'mountPropagation'), m.mountPropagation, ['Bidirectional', 'HostToContainer', 'None']));
    }
  });
  return errs;
}

// ---- probes, lifecycle, security --------------------------------------------------------------

function validateHandler(h: Obj, path: string, kinds: string[], gracePeriod: number | undefined): FieldError[] {
  const errs: FieldError[] = [];
  let n = 0;
  for (const k of kinds) {
    if (!h[k]) continue;
    if (n > 0) {
      errs.push(field.forbidden(child(path, k), 'may not specify more than 1 handler type'));
      continue;
    }
    n++;
    const v = h[k];
    const p = child(path, k);
    switch (k) {
      case 'exec':
        if (list(v.command).length === 0) errs.push(field.required(child(p, 'command'), ''));
        break;
      case 'httpGet':
        if (!v.path) errs.push(field.required(child(p, 'path'), ''));
        errs.push(...validatePortNumOrName(v.port, child(p, 'port')));
        if (!['HTTP', 'HTTPS'].includes(v.scheme)) errs.push(field.notSupported(child(p, 'scheme'), v.scheme ?? '', ['HTTP', 'HTTPS']));
        for (const hd of list(v.httpHeaders)) for (const m of isHTTPHeaderName(String(hd?.name ?? ''))) errs.push(field.invalid(child(p, 'httpHeaders'), hd?.name, m));
        break;
      case 'tcpSocket':
        errs.push(...validatePortNumOrName(v.port, child(p, 'port')));
        break;
      case 'grpc':
        errs.push(...validatePortNumOrName(v.port, child(p, 'port')));
        break;
      case 'sleep':
        if (gracePeriod !== undefined && (typeof v.seconds !== 'number' || v.seconds < 0 || v.seconds > gracePeriod)) {
          errs.push(field.invalid(p, v.seconds, `must be non-negative and less than terminationGracePeriodSeconds (${gracePeriod})`));
        }
        break;
    }
  }
  if (n === 0) errs.push(field.required(path, 'must specify a handler type'));
  return errs;
}

function validateProbe(probe: unknown, path: string, kind: 'liveness' | 'readiness' | 'startup', gracePeriod: number | undefined): FieldError[] {
  if (!probe || typeof probe !== 'object') return [];
  const pr = probe as Obj;
  const errs = validateHandler(pr, path, ['exec', 'httpGet', 'tcpSocket', 'grpc'], gracePeriod);
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    errs.push(...validateNonnegative(pr[f], child(path, f)));
  }
  if (typeof pr.terminationGracePeriodSeconds === 'number' && pr.terminationGracePeriodSeconds <= 0) {
    errs.push(field.invalid(child(path, 'terminationGracePeriodSeconds'), pr.terminationGracePeriodSeconds, 'must be greater than 0'));
  }
  if (kind !== 'readiness' && pr.successThreshold !== undefined && pr.successThreshold !== 1) {
    errs.push(field.invalid(child(path, 'successThreshold'), pr.successThreshold, 'must be 1'));
  }
  if (kind === 'readiness' && pr.terminationGracePeriodSeconds !== undefined && pr.terminationGracePeriodSeconds !== null) {
    errs.push(field.invalid(child(path, 'terminationGracePeriodSeconds'), pr.terminationGracePeriodSeconds, 'must not be set for readinessProbes'));
  }
  return errs;
}

function validateLifecycle(lc: Obj, path: string, gracePeriod: number | undefined): FieldError[] {
  const errs: FieldError[] = [];
  for (const k of ['postStart', 'preStop']) {
    if (lc[k]) errs.push(...validateHandler(lc[k], child(path, k), ['exec', 'httpGet', 'tcpSocket', 'sleep'], gracePeriod));
  }
  return errs;
}

function validateSecurityContext(sc: unknown, path: string): FieldError[] {
  if (!sc || typeof sc !== 'object') return [];
  const s = sc as Obj;
  const errs: FieldError[] = [];
  for (const f of ['runAsUser', 'runAsGroup']) {
    if (typeof s[f] === 'number') for (const m of isValidID(s[f])) errs.push(field.invalid(child(path, f), s[f], m));
  }
  if (s.procMount !== undefined && s.procMount !== null && !['Default', 'Unmasked'].includes(s.procMount)) {
    errs.push(field.notSupported(child(path, 'procMount'), s.procMount, ['Default', 'Unmasked']));
  }
  if (s.allowPrivilegeEscalation === false && s.privileged === true) {
    errs.push(field.invalid(path, s, 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true'));
  }
  if (s.allowPrivilegeEscalation === false && list(get(s, 'capabilities', 'add')).includes('CAP_SYS_ADMIN')) {
    errs.push(field.invalid(path, s, 'cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN'));
  }
  return errs;
}

// ---- containers -------------------------------------------------------------------------------

function validateContainerCommon(c: Obj, volumes: Map<string, Obj>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!c?.name) errs.push(field.required(child(path, 'name'), ''));
  else errs.push(...dnsLabel(String(c.name), child(path, 'name')));
  if (!c?.image) errs.push(field.required(child(path, 'image'), ''));
  switch (c?.terminationMessagePolicy) {
    case 'File':
    case 'FallbackToLogsOnError':
      break;
    case undefined:
    case null:
    case '':
      errs.push(field.required(child(path, 'terminationMessagePolicy'), ''));
      break;
    default:
      errs.push(field.notSupported(child(path, 'terminationMessagePolicy'), c.terminationMessagePolicy, ['File', 'FallbackToLogsOnError']));
  }
  errs.push(...validateContainerPorts(c?.ports, child(path, 'ports')));
  errs.push(...validateEnv(c?.env, child(path, 'env')));
  errs.push(...validateEnvFrom(c?.envFrom, child(path, 'envFrom')));
  errs.push(...validateVolumeMounts(c?.volumeMounts, volumes, c?.volumeDevices, child(path, 'volumeMounts')));
  switch (c?.imagePullPolicy) {
    case 'Always':
    case 'IfNotPresent':
    case 'Never':
      break;
    case undefined:
    case null:
    case '':
      errs.push(field.required(child(path, 'imagePullPolicy'), ''));
      break;
    default:
      errs.push(field.notSupported(child(path, 'imagePullPolicy'), c.imagePullPolicy, ['Always', 'IfNotPresent', 'Never']));
  }
  errs.push(...validateResourceRequirements(c?.resources, child(path, 'resources')));
  errs.push(...validateSecurityContext(c?.securityContext, child(path, 'securityContext')));
  return errs;
}

function hostPortConflicts(containers: Obj[], path: string, seen = new Set<string>()): FieldError[] {
  const errs: FieldError[] = [];
  containers.forEach((c, ci) => {
    list(c?.ports).forEach((port: Obj, pi) => {
      if (!port?.hostPort) return;
      const k = `${port.protocol ?? ''}/${port.hostIP ?? ''}/${port.hostPort}`;
      if (seen.has(k)) errs.push(field.duplicate(child(index(child(index(path, ci), 'ports'), pi), 'hostPort'), k));
      else seen.add(k);
    });
  });
  return errs;
}

function validateContainers(containers: unknown, volumes: Map<string, Obj>, gracePeriod: number | undefined, path: string): FieldError[] {
  const cs = list(containers) as Obj[];
  if (cs.length === 0) return [field.required(path, '')];
  const errs: FieldError[] = [];
  const names = new Set<string>();
  cs.forEach((c, i) => {
    const p = index(path, i);
    errs.push(...validateContainerCommon(c, volumes, p));
    if (names.has(c?.name)) errs.push(field.duplicate(child(p, 'name'), c.name));
    else names.add(c?.name);
    if (c?.lifecycle) errs.push(...validateLifecycle(c.lifecycle, child(p, 'lifecycle'), gracePeriod));
    errs.push(...validateProbe(c?.livenessProbe, child(p, 'livenessProbe'), 'liveness', gracePeriod));
    errs.push(...validateProbe(c?.readinessProbe, child(p, 'readinessProbe'), 'readiness', gracePeriod));
    errs.push(...validateProbe(c?.startupProbe, child(p, 'startupProbe'), 'startup', gracePeriod));
    if (c?.restartPolicy !== undefined && c?.restartPolicy !== null) errs.push(field.forbidden(child(p, 'restartPolicy'), 'may not be set for non-init containers'));
  });
  errs.push(...hostPortConflicts(cs, path));
  return errs;
}

function validateInitContainers(inits: unknown, regular: unknown, volumes: Map<string, Obj>, gracePeriod: number | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set((list(regular) as Obj[]).map((c) => c?.name));
  (list(inits) as Obj[]).forEach((c, i) => {
    const p = index(path, i);
    errs.push(...validateContainerCommon(c, volumes, p));
    let restartAlways = false;
    if (c?.restartPolicy !== undefined && c?.restartPolicy !== null) {
      if (c.restartPolicy !== 'Always') errs.push(field.notSupported(child(p, 'restartPolicy'), c.restartPolicy, ['Always']));
      restartAlways = c.restartPolicy === 'Always';
    }
    if (names.has(c?.name)) errs.push(field.duplicate(child(p, 'name'), c.name));
    else if (c?.name) names.add(c.name);
    errs.push(...hostPortConflicts([c], path));
    if (restartAlways) {
      if (c.lifecycle) errs.push(...validateLifecycle(c.lifecycle, child(p, 'lifecycle'), gracePeriod));
      errs.push(...validateProbe(c.livenessProbe, child(p, 'livenessProbe'), 'liveness', gracePeriod));
      errs.push(...validateProbe(c.readinessProbe, child(p, 'readinessProbe'), 'readiness', gracePeriod));
      errs.push(...validateProbe(c.startupProbe, child(p, 'startupProbe'), 'startup', gracePeriod));
    } else {
      for (const f of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe']) {
        if (c?.[f]) errs.push(field.forbidden(child(p, f), 'may not be set for init containers without restartPolicy=Always'));
      }
    }
  });
  return errs;
}

/** The fields an ephemeral container may set (upstream's allowedEphemeralContainerFields); the rest are forbidden. */
const allowedEphemeralContainerFields = new Set([
  'name', 'image', 'command', 'args', 'workingDir', 'env', 'envFrom', 'volumeMounts', 'volumeDevices',
  'terminationMessagePath', 'terminationMessagePolicy', 'imagePullPolicy', 'securityContext', 'stdin', 'stdinOnce', 'tty', 'targetContainerName',
]);

const isZeroValue = (v: unknown) => v === undefined || v === null || v === false || v === '' || v === 0 || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as Obj).length === 0);

/**
 * Ephemeral containers (debug containers added through `/ephemeralcontainers`): the common container
 * checks, a name unique across every container of the pod, a target that is a regular or init
 * container, and nothing the pod could come to rely on (ports, probes, lifecycle, resources, subPath).
 */
function validateEphemeralContainers(ephemerals: unknown, containers: unknown, inits: unknown, volumes: Map<string, Obj>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const others = new Set([...(list(containers) as Obj[]), ...(list(inits) as Obj[])].map((c) => c?.name));
  const all = new Set(others);
  (list(ephemerals) as Obj[]).forEach((c, i) => {
    const p = index(path, i);
    errs.push(...validateContainerCommon(c, volumes, p));
    if (all.has(c?.name)) errs.push(field.duplicate(child(p, 'name'), c.name));
    else all.add(c?.name);
    if (c?.targetContainerName && !others.has(c.targetContainerName)) errs.push(field.notFound(child(p, 'targetContainerName'), c.targetContainerName));
    for (const [k, v] of Object.entries(map(c))) {
      if (!allowedEphemeralContainerFields.has(k) && !isZeroValue(v)) errs.push(field.forbidden(child(p, k), 'cannot be set for an Ephemeral Container'));
    }
    (list(c?.volumeMounts) as Obj[]).forEach((m, mi) => {
      for (const k of ['subPath', 'subPathExpr']) if (m?.[k]) errs.push(field.forbidden(child(index(child(p, 'volumeMounts'), mi), k), 'cannot be set for an Ephemeral Container'));
    });
  });
  return errs;
}

// ---- scheduling -------------------------------------------------------------------------------

/** Tolerations: key, operator Equal/Exists, value, effect, tolerationSeconds only with NoExecute. */
export function validateTolerations(tolerations: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  list(tolerations).forEach((t: Obj, i) => {
    const p = index(path, i);
    if (t?.key) errs.push(...validateQualifiedName(String(t.key), child(p, 'key')));
    if (!t?.key && t?.operator !== 'Exists') {
      errs.push(field.invalid(child(p, 'operator'), t?.operator ?? '', 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    }
    if (t?.tolerationSeconds !== undefined && t?.tolerationSeconds !== null && t?.effect !== 'NoExecute') {
      errs.push(field.invalid(child(p, 'effect'), t?.effect ?? '', "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    switch (t?.operator ?? '') {
      case 'Equal':
      case '': {
        const ve = isLabelValue(String(t?.value ?? ''));
        if (ve.length) errs.push(field.invalid(child(p, 'operator'), t?.value ?? '', ve.join(';')));
        break;
      }
      case 'Exists':
        if (t?.value) errs.push(field.invalid(child(p, 'operator'), t.value, "value must be empty when `operator` is 'Exists'"));
        break;
      default:
        errs.push(field.notSupported(child(p, 'operator'), t.operator, ['Equal', 'Exists']));
    }
    if (t?.effect && !['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(t.effect)) {
      errs.push(field.notSupported(child(p, 'effect'), t.effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']));
    }
  });
  return errs;
}

function validateNodeSelectorTerm(term: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  list(term?.matchExpressions).forEach((rq: Obj, j) => {
    const p = index(child(path, 'matchExpressions'), j);
    const values = list(rq?.values);
    switch (rq?.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) errs.push(field.required(child(p, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) errs.push(field.forbidden(child(p, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      case 'Gt':
      case 'Lt':
        if (values.length !== 1) errs.push(field.required(child(p, 'values'), "must be specified single value when `operator` is 'Lt' or 'Gt'"));
        break;
      default:
        errs.push(field.invalid(child(p, 'operator'), rq?.operator ?? '', 'not a valid selector operator'));
    }
    errs.push(...validateQualifiedName(String(rq?.key ?? ''), child(p, 'key')));
    values.forEach((v, k) => errs.push(...isLabelValue(String(v)).map((m) => field.invalid(index(child(p, 'values'), k), v, m))));
  });
  list(term?.matchFields).forEach((rq: Obj, j) => {
    const p = index(child(path, 'matchFields'), j);
    if (rq?.operator !== 'In' && rq?.operator !== 'NotIn') errs.push(field.invalid(child(p, 'operator'), rq?.operator ?? '', 'not a valid selector operator'));
    else if (list(rq?.values).length !== 1) errs.push(field.required(child(p, 'values'), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"));
    if (rq?.key !== 'metadata.name') errs.push(field.invalid(child(p, 'key'), rq?.key ?? '', 'not a valid field selector key'));
  });
  return errs;
}

function validatePodAffinityTerms(terms: unknown, path: string, weighted: boolean): FieldError[] {
  const errs: FieldError[] = [];
  list(terms).forEach((t: Obj, i) => {
    const p = index(path, i);
    const term = weighted ? t?.podAffinityTerm ?? {} : t ?? {};
    const tp = weighted ? child(p, 'podAffinityTerm') : p;
    if (weighted && (typeof t?.weight !== 'number' || t.weight <= 0 || t.weight > 100)) errs.push(field.invalid(child(p, 'weight'), t?.weight, 'must be in the range 1-100'));
    errs.push(...validateLabelSelector(term.labelSelector, child(tp, 'labelSelector')));
    errs.push(...validateLabelSelector(term.namespaceSelector, child(tp, 'namespaceSelector')));
    for (const ns of list(term.namespaces)) errs.push(...isDNS1123Label(String(ns)).map((m) => field.invalid(child(tp, 'namespace'), ns, m)));
    if (!term.topologyKey) errs.push(field.required(child(tp, 'topologyKey'), 'can not be empty'));
    else errs.push(...validateQualifiedName(String(term.topologyKey), child(tp, 'topologyKey')));
  });
  return errs;
}

function validateAffinity(aff: unknown, path: string): FieldError[] {
  if (!aff || typeof aff !== 'object') return [];
  const a = aff as Obj;
  const errs: FieldError[] = [];
  const na = a.nodeAffinity;
  if (na) {
    const req = na.requiredDuringSchedulingIgnoredDuringExecution;
    if (req) {
      const tp = child(path, 'nodeAffinity', 'requiredDuringSchedulingIgnoredDuringExecution', 'nodeSelectorTerms');
      const terms = list(req.nodeSelectorTerms);
      if (terms.length === 0) errs.push(field.required(tp, 'must have at least one node selector term'));
      terms.forEach((t: Obj, i) => errs.push(...validateNodeSelectorTerm(t, index(tp, i))));
    }
    list(na.preferredDuringSchedulingIgnoredDuringExecution).forEach((t: Obj, i) => {
      const p = index(child(path, 'nodeAffinity', 'preferredDuringSchedulingIgnoredDuringExecution'), i);
      if (typeof t?.weight !== 'number' || t.weight <= 0 || t.weight > 100) errs.push(field.invalid(child(p, 'weight'), t?.weight, 'must be in the range 1-100'));
      errs.push(...validateNodeSelectorTerm(map(t?.preference), child(p, 'preference')));
    });
  }
  for (const kind of ['podAffinity', 'podAntiAffinity']) {
    const pa = a[kind];
    if (!pa) continue;
    errs.push(...validatePodAffinityTerms(pa.requiredDuringSchedulingIgnoredDuringExecution, child(path, kind, 'requiredDuringSchedulingIgnoredDuringExecution'), false));
    errs.push(...validatePodAffinityTerms(pa.preferredDuringSchedulingIgnoredDuringExecution, child(path, kind, 'preferredDuringSchedulingIgnoredDuringExecution'), true));
  }
  return errs;
}

function validateTopologySpreadConstraints(cs: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const items = list(cs) as Obj[];
  items.forEach((c, i) => {
    const p = index(path, i);
    if (typeof c?.maxSkew !== 'number' || c.maxSkew <= 0) errs.push(field.invalid(child(p, 'maxSkew'), c?.maxSkew ?? 0, isNotPositiveErrorMsg));
    if (!c?.topologyKey) errs.push(field.required(child(p, 'topologyKey'), 'can not be empty'));
    if (!['DoNotSchedule', 'ScheduleAnyway'].includes(c?.whenUnsatisfiable)) {
      errs.push(field.notSupported(child(p, 'whenUnsatisfiable'), c?.whenUnsatisfiable ?? '', ['DoNotSchedule', 'ScheduleAnyway']));
    }
    if (items.slice(i + 1).some((o) => o?.topologyKey === c?.topologyKey && o?.whenUnsatisfiable === c?.whenUnsatisfiable)) {
      errs.push(field.duplicate(child(p, '{topologyKey, whenUnsatisfiable}'), `{${c?.topologyKey}, ${c?.whenUnsatisfiable}}`));
    }
    if (c?.minDomains !== undefined && c?.minDomains !== null) {
      if (c.minDomains <= 0) errs.push(field.invalid(child(p, 'minDomains'), c.minDomains, isNotPositiveErrorMsg));
      if (c.whenUnsatisfiable !== 'DoNotSchedule') errs.push(field.invalid(child(p, 'minDomains'), c.minDomains, `can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ${c.whenUnsatisfiable}`));
    }
    errs.push(...validateLabelSelector(c?.labelSelector, child(p, 'labelSelector')));
  });
  return errs;
}

function validateDNSConfig(cfg: unknown, dnsPolicy: unknown, path: string): FieldError[] {
  if (dnsPolicy === 'None') {
    if (!cfg) return [field.required(path, 'must provide `dnsConfig` when `dnsPolicy` is None')];
    if (list((cfg as Obj).nameservers).length === 0) return [field.required(child(path, 'nameservers'), 'must provide at least one DNS nameserver when `dnsPolicy` is None')];
  }
  if (!cfg || typeof cfg !== 'object') return [];
  const c = cfg as Obj;
  const errs: FieldError[] = [];
  const ns = list(c.nameservers);
  if (ns.length > 3) errs.push(field.invalid(child(path, 'nameservers'), ns, 'must not have more than 3 nameservers'));
  ns.forEach((n, i) => errs.push(...validateIP(index(child(path, 'nameservers'), i), String(n))));
  const searches = list(c.searches);
  if (searches.length > 32) errs.push(field.invalid(child(path, 'searches'), searches, 'must not have more than 32 search paths'));
  if (searches.join(' ').length > 2048) errs.push(field.invalid(child(path, 'searches'), searches, 'must not have more than 2048 characters (including spaces) in the search list'));
  searches.forEach((s, i) => {
    if (s === '.') return;
    const v = String(s).replace(/\.$/, '');
    const re = /^_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*$/;
    if (v.length > 253 || !re.test(v)) {
      errs.push(
        field.invalid(
          index(child(path, 'searches'), i),
          v,
          "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*')",
        ),
      );
    }
  });
  list(c.options).forEach((o: Obj, i) => {
    if (!o?.name) errs.push(field.required(index(child(path, 'options'), i), 'must not be empty'));
  });
  return errs;
}

function validatePodSecurityContext(sc: unknown, path: string): FieldError[] {
  if (!sc || typeof sc !== 'object') return [];
  const s = sc as Obj;
  const errs: FieldError[] = [];
  for (const f of ['fsGroup', 'runAsUser', 'runAsGroup']) {
    if (typeof s[f] === 'number') for (const m of isValidID(s[f])) errs.push(field.invalid(child(path, f), s[f], m));
  }
  list(s.supplementalGroups).forEach((g, i) => {
    if (typeof g === 'number') for (const m of isValidID(g)) errs.push(field.invalid(index(child(path, 'supplementalGroups'), i), g, m));
  });
  if (s.fsGroupChangePolicy !== undefined && s.fsGroupChangePolicy !== null && !['Always', 'OnRootMismatch'].includes(s.fsGroupChangePolicy)) {
    errs.push(field.notSupported(child(path, 'fsGroupChangePolicy'), s.fsGroupChangePolicy, ['Always', 'OnRootMismatch']));
  }
  const sysctls = list(s.sysctls) as Obj[];
  const seen = new Set<string>();
  sysctls.forEach((sy, i) => {
    const p = child(index(child(path, 'sysctls'), i), 'name');
    if (!sy?.name) errs.push(field.required(p, ''));
    else if (seen.has(sy.name)) errs.push(field.duplicate(p, sy.name));
    seen.add(sy?.name);
  });
  return errs;
}

// ---- pod spec ---------------------------------------------------------------------------------

/** Options for {@link validatePodSpec}. */
export interface PodSpecOptions {
  /** True for a Pod (stricter hostNetwork port rule), false for templates. */
  isPod?: boolean;
  /** Extra volume names that mounts may refer to (StatefulSet volumeClaimTemplates). */
  extraVolumes?: string[];
}

/** A PodSpec anywhere: a Pod's `spec` or a template's `spec.template.spec`. */
export function validatePodSpec(spec: unknown, path: string, opts: PodSpecOptions = {}): FieldError[] {
  const s = map(spec);
  const errs: FieldError[] = [];
  if (s.terminationGracePeriodSeconds === undefined || s.terminationGracePeriodSeconds === null) {
    errs.push(field.required(child(path, 'terminationGracePeriodSeconds'), ''));
  }
  const grace = typeof s.terminationGracePeriodSeconds === 'number' ? s.terminationGracePeriodSeconds : undefined;
  const vols = validateVolumes(s.volumes, child(path, 'volumes'));
  errs.push(...vols.errors);
  for (const extra of opts.extraVolumes ?? []) if (!vols.names.has(extra)) vols.names.set(extra, { name: extra, persistentVolumeClaim: { claimName: extra } });
  errs.push(...validateContainers(s.containers, vols.names, grace, child(path, 'containers')));
  errs.push(...validateInitContainers(s.initContainers, s.containers, vols.names, grace, child(path, 'initContainers')));
  errs.push(...validateEphemeralContainers(s.ephemeralContainers, s.containers, s.initContainers, vols.names, child(path, 'ephemeralContainers')));

  if (s.hostNetwork) {
    (list(s.containers) as Obj[]).forEach((c, ci) => {
      list(c?.ports).forEach((port: Obj, pi) => {
        const hp = port?.hostPort ?? 0;
        const cp = port?.containerPort ?? 0;
        if ((opts.isPod || hp !== 0) && hp !== cp) {
          errs.push(field.invalid(child(index(child(index(child(path, 'containers'), ci), 'ports'), pi), 'hostPort'), hp, 'must match `containerPort` when `hostNetwork` is true'));
        }
      });
    });
  }

  switch (s.restartPolicy) {
    case 'Always':
    case 'OnFailure':
    case 'Never':
      break;
    case undefined:
    case null:
    case '':
      errs.push(field.required(child(path, 'restartPolicy'), ''));
      break;
    default:
      errs.push(field.notSupported(child(path, 'restartPolicy'), s.restartPolicy, ['Always', 'OnFailure', 'Never']));
  }
  switch (s.dnsPolicy) {
    case 'ClusterFirstWithHostNet':
    case 'ClusterFirst':
    case 'Default':
    case 'None':
      break;
    case undefined:
    case null:
    case '':
      errs.push(field.required(child(path, 'dnsPolicy'), ''));
      break;
    default:
      errs.push(field.notSupported(child(path, 'dnsPolicy'), s.dnsPolicy, ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None']));
  }
  errs.push(...validateLabels(s.nodeSelector, child(path, 'nodeSelector')));
  errs.push(...validatePodSecurityContext(s.securityContext, child(path, 'securityContext')));
  list(s.imagePullSecrets).forEach((ps: Obj, i) => {
    if (ps && Object.keys(ps).some((k) => k !== 'name')) errs.push(field.invalid(index(child(path, 'imagePullSecrets'), i), ps, 'only name may be set'));
  });
  errs.push(...validateAffinity(s.affinity, child(path, 'affinity')));
  errs.push(...validateDNSConfig(s.dnsConfig, s.dnsPolicy, child(path, 'dnsConfig')));
  list(s.readinessGates).forEach((g: Obj, i) => errs.push(...validateQualifiedName(String(g?.conditionType ?? ''), child(index(child(path, 'readinessGates'), i), 'conditionType'))));
  const gates = new Set<string>();
  list(s.schedulingGates).forEach((g: Obj, i) => {
    const p = index(child(path, 'schedulingGates'), i);
    errs.push(...validateQualifiedName(String(g?.name ?? ''), p));
    if (gates.has(g?.name)) errs.push(field.duplicate(p, g.name));
    gates.add(g?.name);
  });
  errs.push(...validateTopologySpreadConstraints(s.topologySpreadConstraints, child(path, 'topologySpreadConstraints')));
  if (s.serviceAccountName) for (const m of nameIsDNSSubdomain(String(s.serviceAccountName))) errs.push(field.invalid(child(path, 'serviceAccountName'), s.serviceAccountName, m));
  if (s.nodeName) for (const m of nameIsDNSSubdomain(String(s.nodeName))) errs.push(field.invalid(child(path, 'nodeName'), s.nodeName, m));
  if (s.activeDeadlineSeconds !== undefined && s.activeDeadlineSeconds !== null) {
    const v = s.activeDeadlineSeconds;
    if (typeof v !== 'number' || v < 1 || v > MaxInt32) errs.push(field.invalid(child(path, 'activeDeadlineSeconds'), v, inclusiveRangeError(1, MaxInt32)));
  }
  if (s.hostname) errs.push(...dnsLabel(String(s.hostname), child(path, 'hostname')));
  if (s.subdomain) errs.push(...dnsLabel(String(s.subdomain), child(path, 'subdomain')));
  errs.push(...validateTolerations(s.tolerations, child(path, 'tolerations')));
  list(s.hostAliases).forEach((ha: Obj, i) => {
    const p = index(child(path, 'hostAliases'), i);
    errs.push(...validateIP(child(p, 'ip'), String(ha?.ip ?? '')));
    list(ha?.hostnames).forEach((h, j) => errs.push(...dnsSubdomain(String(h), index(child(p, 'hostnames'), j))));
  });
  if (s.priorityClassName) for (const m of nameIsDNSSubdomain(String(s.priorityClassName))) errs.push(field.invalid(child(path, 'priorityClassName'), s.priorityClassName, m));
  if (s.runtimeClassName !== undefined && s.runtimeClassName !== null) {
    for (const m of nameIsDNSSubdomain(String(s.runtimeClassName))) errs.push(field.invalid(child(path, 'runtimeClassName'), s.runtimeClassName, m));
  }
  if (s.preemptionPolicy !== undefined && s.preemptionPolicy !== null) {
    if (s.preemptionPolicy === '') errs.push(field.required(child(path, 'preemptionPolicy'), ''));
    else if (!['PreemptLowerPriority', 'Never'].includes(s.preemptionPolicy)) errs.push(field.notSupported(child(path, 'preemptionPolicy'), s.preemptionPolicy, ['PreemptLowerPriority', 'Never']));
  }
  if (s.os !== undefined && s.os !== null && !['linux', 'windows'].includes(s.os?.name)) {
    errs.push(field.notSupported(child(path, 'os', 'name'), s.os?.name ?? '', ['linux', 'windows']));
  }
  return errs;
}

const mirrorPodAnnotation = 'kubernetes.io/config.mirror';
const podDeletionCostAnnotation = 'controller.kubernetes.io/pod-deletion-cost';

function validatePodSpecificAnnotations(annotations: unknown, spec: Obj, path: string): FieldError[] {
  const a = map(annotations);
  const errs: FieldError[] = [];
  if (mirrorPodAnnotation in a && !spec?.nodeName) {
    errs.push(field.invalid(key(path, mirrorPodAnnotation), a[mirrorPodAnnotation], 'must set spec.nodeName if mirror pod annotation is set'));
  }
  if (podDeletionCostAnnotation in a) {
    const v = String(a[podDeletionCostAnnotation]);
    if (!/^[-+]?\d+$/.test(v.trim()) || Number(v) > MaxInt32 || Number(v) < -MaxInt32 - 1) {
      errs.push(field.invalid(key(path, podDeletionCostAnnotation), v, 'must be a 32bit integer'));
    }
  }
  return errs;
}

/** A PodTemplateSpec (`spec.template` of workloads): labels, annotations and the pod spec. */
export function validatePodTemplateSpec(template: unknown, path: string, opts: PodSpecOptions = {}): FieldError[] {
  const t = map(template);
  const meta = map(t.metadata);
  const errs: FieldError[] = [];
  errs.push(...validateLabels(meta.labels, child(path, 'labels')));
  errs.push(...validateAnnotations(meta.annotations, child(path, 'annotations')));
  errs.push(...validatePodSpecificAnnotations(meta.annotations, map(t.spec), child(path, 'annotations')));
  errs.push(...validatePodSpec(t.spec, child(path, 'spec'), { ...opts, isPod: false }));
  if (list(get(t, 'spec', 'ephemeralContainers')).length > 0) {
    errs.push(field.forbidden(child(path, 'spec', 'ephemeralContainers'), 'ephemeral containers not allowed in pod template'));
  }
  return errs;
}

function validatePodMetadataAndSpec(pod: Obj): FieldError[] {
  const spec = map(pod.spec);
  const errs: FieldError[] = [];
  errs.push(...validatePodSpecificAnnotations(get(pod, 'metadata', 'annotations'), spec, 'metadata.annotations'));
  errs.push(...validatePodSpec(spec, 'spec', { isPod: true }));
  if (!spec.serviceAccountName) {
    list(spec.volumes).forEach((v: Obj, vi) => {
      list(get(v, 'projected', 'sources')).forEach((src: Obj, si) => {
        if (src?.serviceAccountToken) {
          errs.push(field.forbidden(child(index(child(index('spec.volumes', vi), 'projected', 'sources'), si), 'serviceAccountToken'), 'must not be specified when serviceAccountName is not set'));
        }
      });
    });
  }
  for (const kind of ['containers', 'initContainers']) {
    list(spec[kind]).forEach((c: Obj, i) => {
      const img = c?.image;
      if (typeof img === 'string' && img.length !== img.trim().length) {
        errs.push(field.invalid(child(index(child('spec', kind), i), 'image'), img, 'must not have leading or trailing whitespace'));
      }
    });
  }
  return errs;
}

/** A new Pod (metadata beyond annotations is validated generically). */
export function validatePod(pod: Obj): FieldError[] {
  const errs = validatePodMetadataAndSpec(pod);
  const spec = map(pod.spec);
  if (list(spec.ephemeralContainers).length > 0) errs.push(field.forbidden('spec.ephemeralContainers', 'cannot be set on create'));
  if (spec.nodeName && list(spec.schedulingGates).length > 0) errs.push(field.forbidden('spec.nodeName', 'cannot be set until all schedulingGates have been cleared'));
  return errs;
}

/** The fields a pod update may change, as upstream lists them. */
export const updatablePodSpecFields = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
];

/** A short diff of two JSON values, one `- path: old` / `+ path: new` pair per change. */
export function describeDiff(oldVal: unknown, newVal: unknown, path = ''): string[] {
  if (semanticEqual(oldVal, newVal)) return [];
  const isObj = (v: unknown) => v !== null && typeof v === 'object';
  if (isObj(oldVal) && isObj(newVal) && Array.isArray(oldVal) === Array.isArray(newVal)) {
    const out: string[] = [];
    const keys = Array.isArray(oldVal)
      ? [...Array(Math.max((oldVal as unknown[]).length, (newVal as unknown[]).length)).keys()].map(String)
      : [...new Set([...Object.keys(oldVal as Obj), ...Object.keys(newVal as Obj)])];
    for (const k of keys) {
      const p = Array.isArray(oldVal) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
      out.push(...describeDiff((oldVal as Obj)[k], (newVal as Obj)[k], p));
    }
    return out;
  }
  const show = (v: unknown) => (v === undefined ? '<unset>' : JSON.stringify(v));
  return [`- \t${path}: ${show(oldVal)}`, `+ \t${path}: ${show(newVal)}`];
}

function validateContainerUpdates(newCs: unknown, oldCs: unknown, path: string): { errs: FieldError[]; stop: boolean } {
  const n = list(newCs);
  const o = list(oldCs);
  if (n.length !== o.length) return { errs: [field.forbidden(path, 'pod updates may not add or remove containers')], stop: true };
  const errs: FieldError[] = [];
  n.forEach((c: Obj, i) => {
    if (!c?.image) errs.push(field.required(child(index(path, i), 'image'), ''));
    if (typeof c?.image === 'string' && c.image.trim().length !== c.image.length) {
      errs.push(field.invalid(child(index(path, i), 'image'), c.image, 'must not have leading or trailing whitespace'));
    }
  });
  return { errs, stop: false };
}

function tolerationEqualIgnoringSeconds(a: Obj, b: Obj): boolean {
  return semanticEqual({ ...a, tolerationSeconds: undefined }, { ...b, tolerationSeconds: undefined });
}

/**
 * A Pod update: the spec is immutable except container images, activeDeadlineSeconds (down
 * only), added tolerations, removed scheduling gates and the grace-period fix-up.
 */
export function validatePodUpdate(newPod: Obj, oldPod: Obj): FieldError[] {
  const errs = validatePodMetadataAndSpec(newPod);
  const na = map(get(newPod, 'metadata', 'annotations'));
  const oa = map(get(oldPod, 'metadata', 'annotations'));
  for (const k of Object.keys(oa)) {
    if (k in na && na[k] === oa[k]) continue;
    if (k === mirrorPodAnnotation) errs.push(field.forbidden(key('metadata.annotations', k), 'may not remove or update mirror pod annotation'));
  }
  for (const k of Object.keys(na)) {
    if (!(k in oa) && k === mirrorPodAnnotation) errs.push(field.forbidden(key('metadata.annotations', k), 'may not add mirror pod annotation'));
  }
  const ns = map(newPod.spec);
  const os = map(oldPod.spec);
  for (const kind of ['containers', 'initContainers']) {
    const r = validateContainerUpdates(ns[kind], os[kind], child('spec', kind));
    errs.push(...r.errs);
    if (r.stop) return errs;
  }
  if (ns.activeDeadlineSeconds !== undefined && ns.activeDeadlineSeconds !== null) {
    const v = ns.activeDeadlineSeconds;
    if (v < 0 || v > MaxInt32) return [...errs, field.invalid('spec.activeDeadlineSeconds', v, inclusiveRangeError(0, MaxInt32))];
    if (typeof os.activeDeadlineSeconds === 'number' && os.activeDeadlineSeconds < v) {
      return [...errs, field.invalid('spec.activeDeadlineSeconds', v, 'must be less than or equal to previous value')];
    }
  } else if (os.activeDeadlineSeconds !== undefined && os.activeDeadlineSeconds !== null) {
    errs.push(field.invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'));
  }
  // Only additions to tolerations (tolerationSeconds of existing ones may change).
  const newTols = list(ns.tolerations) as Obj[];
  for (const old of list(os.tolerations) as Obj[]) {
    if (!newTols.some((t) => tolerationEqualIgnoringSeconds(old, t))) {
      errs.push(field.forbidden('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds'));
      break;
    }
  }
  // Only deletions of scheduling gates.
  const oldGates = new Set((list(os.schedulingGates) as Obj[]).map((g) => g?.name));
  (list(ns.schedulingGates) as Obj[]).forEach((g, i) => {
    if (!oldGates.has(g?.name)) errs.push(field.forbidden(child(index('spec.schedulingGates', i), 'name'), `only deletion is allowed, but found new scheduling gate '${g?.name}'`));
  });
  if (semanticEqual(ns, os)) return errs;

  const munged: Obj = structuredClone(ns);
  for (const kind of ['containers', 'initContainers']) {
    list(munged[kind]).forEach((c: Obj, i) => {
      c.image = get(os, kind, String(i), 'image');
    });
  }
  munged.activeDeadlineSeconds = os.activeDeadlineSeconds;
  munged.schedulingGates = os.schedulingGates;
  munged.tolerations = os.tolerations;
  if (typeof os.terminationGracePeriodSeconds === 'number' && os.terminationGracePeriodSeconds < 0 && munged.terminationGracePeriodSeconds === 1) {
    munged.terminationGracePeriodSeconds = os.terminationGracePeriodSeconds;
  }
  // Gated pods may gain nodeSelector entries and node affinity before scheduling.
  if (list(os.schedulingGates).length > 0) {
    const oldSel = map(os.nodeSelector);
    const newSel = map(munged.nodeSelector);
    if (Object.entries(oldSel).some(([k, v]) => newSel[k] !== v)) {
      errs.push(field.invalid('spec.nodeSelector', newSel, 'only additions to spec.nodeSelector are allowed (no mutations or deletions)'));
    }
    munged.nodeSelector = os.nodeSelector;
    if (munged.affinity || os.affinity) {
      munged.affinity = { ...map(munged.affinity), nodeAffinity: get(os, 'affinity', 'nodeAffinity') };
    }
  }
  if (!semanticEqual(munged, os)) {
    const diff = ['  core.PodSpec{', ...describeDiff(os, munged), '  }'].join('\n');
    errs.push(field.forbidden('spec', `pod updates may not change fields other than ${updatablePodSpecFields.join(',')}\n${diff}`));
  }
  return errs;
}

function validateContainerStateTransition(newStatuses: unknown, oldStatuses: unknown, path: string, restartPolicy: string, initSpecs?: Obj[]): FieldError[] {
  if (restartPolicy === 'Always') return [];
  const errs: FieldError[] = [];
  (list(oldStatuses) as Obj[]).forEach((old, i) => {
    const term = get(old, 'state', 'terminated');
    if (!term) return;
    if (term.exitCode !== 0 && restartPolicy === 'OnFailure') return;
    if (initSpecs && initSpecs.some((c) => c?.name === old.name && c?.restartPolicy === 'Always')) return;
    for (const n of list(newStatuses) as Obj[]) {
      if (n?.name === old.name && !get(n, 'state', 'terminated')) errs.push(field.forbidden(child(index(path, i), 'state'), 'may not be transitioned to non-terminated state'));
    }
  });
  return errs;
}

/** A `/status` update of a Pod. */
export function validatePodStatusUpdate(newPod: Obj, oldPod: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const ns = map(newPod.status);
  const os = map(oldPod.status);
  list(ns.conditions).forEach((c: Obj, i) => {
    if (['PodScheduled', 'Ready', 'Initialized'].includes(c?.type)) return;
    errs.push(...validateQualifiedName(String(c?.type ?? ''), child(index('metadata.conditions', i), 'Type')));
  });
  if (get(newPod, 'spec', 'nodeName') !== get(oldPod, 'spec', 'nodeName')) errs.push(field.forbidden('status.nodeName', 'may not be changed directly'));
  if (ns.nominatedNodeName && ns.nominatedNodeName !== os.nominatedNodeName) {
    for (const m of nameIsDNSSubdomain(String(ns.nominatedNodeName))) errs.push(field.invalid('status.nominatedNodeName', ns.nominatedNodeName, m));
  }
  if (os.qosClass) errs.push(...validateImmutable(ns.qosClass, os.qosClass, 'status.qosClass'));
  const rp = String(get(oldPod, 'spec', 'restartPolicy') ?? '');
  errs.push(...validateContainerStateTransition(ns.containerStatuses, os.containerStatuses, 'status.containerStatuses', rp));
  errs.push(...validateContainerStateTransition(ns.initContainerStatuses, os.initContainerStatuses, 'status.initContainerStatuses', rp, list(get(oldPod, 'spec', 'initContainers'))));
  const podIPs = list(ns.podIPs) as Obj[];
  podIPs.forEach((ip, i) => errs.push(...validateIP(index('status.podIPs', i), String(ip?.ip ?? ''))));
  const seen = new Set<string>();
  podIPs.forEach((ip, i) => {
    if (seen.has(ip?.ip)) errs.push(field.duplicate(index('status.podIPs', i), ip));
    seen.add(ip?.ip);
  });
  const hostIPs = list(ns.hostIPs) as Obj[];
  if (hostIPs.length > 0 && ns.hostIP !== hostIPs[0]?.ip) errs.push(field.invalid('status.hostIPs[0].ip', hostIPs[0]?.ip, 'must be equal to `hostIP`'));
  hostIPs.forEach((ip, i) => errs.push(...validateIP(index('status.hostIPs', i), String(ip?.ip ?? ''))));
  return errs;
}

/**
 * Ephemeral container updates (`/ephemeralcontainers`): the whole pod validates (the new ephemeral
 * containers with it), and existing ephemeral containers may not change or go.
 */
export function validatePodEphemeralContainersUpdate(newPod: Obj, oldPod: Obj): FieldError[] {
  if (mirrorPodAnnotation in map(get(oldPod, 'metadata', 'annotations'))) return [field.forbidden('', 'static pods do not support ephemeral containers')];
  const errs = validatePodMetadataAndSpec(newPod);
  const byName = new Map((list(get(newPod, 'spec', 'ephemeralContainers')) as Obj[]).map((c) => [c?.name, c]));
  for (const old of list(get(oldPod, 'spec', 'ephemeralContainers')) as Obj[]) {
    const cur = byName.get(old?.name);
    if (!cur) errs.push(field.forbidden('spec.ephemeralContainers', `existing ephemeral containers "${old?.name}" may not be removed\n`));
    else if (!semanticEqual(cur, old)) errs.push(field.forbidden('spec.ephemeralContainers', `existing ephemeral containers "${old?.name}" may not be changed\n${describeDiff(old, cur).join('\n')}`));
  }
  return errs;
}

