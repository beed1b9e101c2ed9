/**
 * A container's environment as the kubelet builds it (upstream kubelet_pods.go
 * makeEnvironmentVariables): envFrom first, then env in order (later names override earlier ones),
 * `$(VAR)` expansion against earlier variables and the service environment, downward API
 * fieldRef/resourceFieldRef, ConfigMap/Secret key references, then the service links.
 */
import type { KObject } from '../client/rest-client.js';
import { parseQuantity, tryParseQuantity, type Quantity } from '../api/quantity.js';
import { isEnvVarName } from '../api/validation/identifiers.js';

/** A name/value pair of the CRI environment. */
export interface EnvVar {
  key: string;
  value: string;
}

/** Where ConfigMaps and Secrets come from; `undefined` means NotFound. */
export interface PodResources {
  getConfigMap(ns: string, name: string): Promise<KObject | undefined>;
  getSecret(ns: string, name: string): Promise<KObject | undefined>;
}

/** What {@link makeEnvironment} needs beyond the pod. */
export interface EnvContext {
  nodeName: string;
  nodeIP: string;
  /** All node IPs (status.hostIPs); defaults to `[nodeIP]`. */
  nodeIPs?: string[];
  podIP: string;
  podIPs: string[];
  resources: PodResources;
  /** Service link variables ({@link serviceEnvironment}). */
  serviceEnv?: EnvVar[];
  /** Node allocatable (cpu, memory, ephemeral-storage): the default of limits the downward API reads. */
  allocatable?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// $(VAR) expansion (upstream third_party/forked/golang/expansion)

/**
 * Expands `$(NAME)` with `lookup`; an unknown name stays as written, `$$` is a literal `$`, and an
 * unterminated `$(` is kept.
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] !== '$' || i + 1 >= input.length) continue;
    out += input.slice(checkpoint, i);
    const next = input[i + 1];
    let advance = 1;
    if (next === '$') {
      out += '$';
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += '$(';
      } else {
        const name = input.slice(i + 2, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close - i;
      }
    } else {
      out += '$' + next;
    }
    i += advance;
    checkpoint = i + 1;
  }
  return out + input.slice(checkpoint);
}

// ---------------------------------------------------------------------------------------------
// Downward API

/** Go's %q for the ASCII strings labels and annotations hold. */
function goQuote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `k="v"` lines sorted by key (upstream fieldpath.FormatMap). */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${goQuote(String(m![k]))}`)
    .join('\n');
}

const SUBSCRIPT = /^(metadata\.(?:labels|annotations))\['(.*)'\]$/;

/** The metadata fields both env and volumes may read (upstream fieldpath.ExtractFieldPathAsString). */
export function extractMetadataField(pod: KObject, fieldPath: string): string {
  const meta = pod.metadata ?? {};
  const sub = SUBSCRIPT.exec(fieldPath);
  if (sub) {
    const map = sub[1] === 'metadata.labels' ? meta.labels : meta.annotations;
    return map?.[sub[2]] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.annotations':
      return formatMap(meta.annotations);
    case 'metadata.labels':
      return formatMap(meta.labels);
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
  }
  throw new Error(`unsupported fieldPath: ${fieldPath}`);
}

function podFieldValue(pod: KObject, fieldPath: string, ctx: EnvContext): string {
  const podIPs = ctx.podIPs.length ? ctx.podIPs : ctx.podIP ? [ctx.podIP] : [];
  switch (fieldPath) {
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP':
      return ctx.nodeIPs?.[0] ?? ctx.nodeIP;
    case 'status.hostIPs':
      return (ctx.nodeIPs ?? [ctx.nodeIP]).join(',');
    case 'status.podIP':
      return podIPs[0] ?? '';
    case 'status.podIPs':
      return podIPs.join(',');
  }
  return extractMetadataField(pod, fieldPath);
}

function quantityOf(raw: unknown): Quantity {
  return tryParseQuantity(raw) ?? parseQuantity('0');
}

/**
 * A container resource as the downward API shows it (upstream ExtractContainerResourceValue):
 * cpu in divisor units rounded up from millicores, memory/storage/hugepages in divisor units rounded
 * up. Limits the container does not set default to `allocatable`.
 */
export function containerResourceValue(sel: KObject, container: KObject, allocatable?: Record<string, string>): string {
  const divisorQ = tryParseQuantity(sel.divisor);
  const divisor = divisorQ && !divisorQ.isZero() ? divisorQ : parseQuantity('1');
  const resource: string = sel.resource ?? '';
  const dot = resource.indexOf('.');
  const kind = resource.slice(0, dot);
  const name = resource.slice(dot + 1);
  if (dot < 0 || (kind !== 'limits' && kind !== 'requests')) throw new Error(`unsupported container resource : ${resource}`);
  const known = name === 'cpu' || name === 'memory' || name === 'ephemeral-storage' || name.startsWith('hugepages-');
  if (!known) throw new Error(`unsupported container resource : ${resource}`);
  let raw = container.resources?.[kind]?.[name];
  // Upstream defaults only cpu, memory and ephemeral-storage limits to node allocatable.
  if (raw === undefined && kind === 'limits' && !name.startsWith('hugepages-')) raw = allocatable?.[name];
  const q = quantityOf(raw);
  if (name === 'cpu') return String(Math.ceil(q.milliValue() / divisor.milliValue()));
  return String(Math.ceil(q.value() / divisor.value()));
}

// ---------------------------------------------------------------------------------------------
// makeEnvironment

function decodeSecret(v: unknown): string {
  return Buffer.from(String(v ?? ''), 'base64').toString('utf8');
}

/**
 * The container's environment, in a stable order (envFrom keys, then env names, by first
 * appearance; then service variables the container does not define). Throws with upstream's
 * message when a non-optional source is missing, which the kubelet reports as
 * CreateContainerConfigError.
 */
export async function makeEnvironment(pod: KObject, container: KObject, ctx: EnvContext): Promise<EnvVar[]> {
  const ns: string = pod.metadata?.namespace ?? 'default';
  const configMaps = new Map<string, KObject>();
  const secrets = new Map<string, KObject>();
  const getCM = async (name: string): Promise<KObject | undefined> => {
    if (!configMaps.has(name)) {
      const cm = await ctx.resources.getConfigMap(ns, name);
      if (!cm) return undefined;
      configMaps.set(name, cm);
    }
    return configMaps.get(name);
  };
  const getSecret = async (name: string): Promise<KObject | undefined> => {
    if (!secrets.has(name)) {
      const s = await ctx.resources.getSecret(ns, name);
      if (!s) return undefined;
      secrets.set(name, s);
    }
    return secrets.get(name);
  };

  const env = new Map<string, string>();
  for (const from of container.envFrom ?? []) {
    const prefix: string = from.prefix ?? '';
    let data: Record<string, string>;
    if (from.configMapRef) {
      const cm = await getCM(from.configMapRef.name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new Error(`configmap ${JSON.stringify(from.configMapRef.name)} not found`);
      }
      data = cm.data ?? {};
    } else if (from.secretRef) {
      const s = await getSecret(from.secretRef.name);
      if (!s) {
        if (from.secretRef.optional) continue;
        throw new Error(`secret ${JSON.stringify(from.secretRef.name)} not found`);
      }
      data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, decodeSecret(v)]));
    } else {
      continue;
    }
    // Keys that are not valid variable names are skipped (upstream records an event).
    for (const [k, v] of Object.entries(data)) {
      const key = prefix + k;
      if (isEnvVarName(key).length === 0) env.set(key, String(v));
    }
  }

  const service = new Map((ctx.serviceEnv ?? []).map((e) => [e.key, e.value]));
  const lookup = (name: string): string | undefined => env.get(name) ?? service.get(name);
  for (const e of container.env ?? []) {
    let value: string = e.value ?? '';
    if (value !== '') {
      value = expandVars(value, lookup);
    } else if (e.valueFrom) {
      const vf = e.valueFrom;
      if (vf.fieldRef) {
        value = podFieldValue(pod, vf.fieldRef.fieldPath, ctx);
      } else if (vf.resourceFieldRef) {
        value = containerResourceValue(vf.resourceFieldRef, container, ctx.allocatable);
      } else if (vf.configMapKeyRef) {
        const { name, key, optional } = vf.configMapKeyRef;
        const cm = await getCM(name);
        if (!cm) {
          if (optional) continue;
          throw new Error(`configmap ${JSON.stringify(name)} not found`);
        }
        const v = cm.data?.[key];
        if (v === undefined) {
          if (optional) continue;
          throw new Error(`couldn't find key ${key} in ConfigMap ${ns}/${name}`);
        }
        value = String(v);
      } else if (vf.secretKeyRef) {
        const { name, key, optional } = vf.secretKeyRef;
        const s = await getSecret(name);
        if (!s) {
          if (optional) continue;
          throw new Error(`secret ${JSON.stringify(name)} not found`);
        }
        const v = s.data?.[key];
        if (v === undefined) {
          if (optional) continue;
          throw new Error(`couldn't find key ${key} in Secret ${ns}/${name}`);
        }
        value = decodeSecret(v);
      }
    }
    env.set(e.name, value);
  }

  const out: EnvVar[] = [...env].map(([key, value]) => ({ key, value }));
  for (const [key, value] of service) if (!env.has(key)) out.push({ key, value });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Service links

function envName(s: string): string {
  return s.replace(/-/g, '_').toUpperCase();
}

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function isServiceIPSet(svc: KObject): boolean {
  const ip = svc.spec?.clusterIP;
  return typeof ip === 'string' && ip !== '' && ip !== 'None';
}

/** The docker-link style variables of some services (upstream envvars.FromServices). */
export function fromServices(services: KObject[]): EnvVar[] {
  const out: EnvVar[] = [];
  for (const svc of services) {
    const ports: KObject[] = svc.spec?.ports ?? [];
    if (!isServiceIPSet(svc) || ports.length === 0) continue;
    const ip: string = svc.spec.clusterIP;
    const prefix = envName(svc.metadata.name);
    out.push({ key: `${prefix}_SERVICE_HOST`, value: ip });
    out.push({ key: `${prefix}_SERVICE_PORT`, value: String(ports[0].port) });
    for (const p of ports) if (p.name) out.push({ key: `${prefix}_SERVICE_PORT_${envName(p.name)}`, value: String(p.port) });
    ports.forEach((p, i) => {
      const proto: string = p.protocol || 'TCP';
      const url = `${proto.toLowerCase()}://${hostPort(ip, p.port)}`;
      if (i === 0) out.push({ key: `${prefix}_PORT`, value: url });
      const pp = `${prefix}_PORT_${p.port}_${proto.toUpperCase()}`;
      out.push({ key: pp, value: url });
      out.push({ key: `${pp}_PROTO`, value: proto.toLowerCase() });
      out.push({ key: `${pp}_PORT`, value: String(p.port) });
      out.push({ key: `${pp}_ADDR`, value: ip });
    });
  }
  return out;
}

/**
 * The service environment of a pod in `namespace` (upstream getServiceEnvVarMap): the `kubernetes`
 * service of `default` always, and, when `enableServiceLinks` (default true), every service of the
 * namespace with a cluster IP. A service of the pod's namespace wins over the master one of the same
 * name. Services are taken in name order so the result is stable.
 */
export function serviceEnvironment(services: KObject[], namespace: string, enableServiceLinks = true): EnvVar[] {
  const chosen = new Map<string, KObject>();
  for (const svc of services) {
    if (!isServiceIPSet(svc)) continue;
    const name: string = svc.metadata?.name;
    const ns: string = svc.metadata?.namespace ?? 'default';
    if (ns === 'default' && name === 'kubernetes') {
      if (!chosen.has(name)) chosen.set(name, svc);
    } else if (ns === namespace && enableServiceLinks) {
      chosen.set(name, svc);
    }
  }
  const sorted = [...chosen.keys()].sort().map((k) => chosen.get(k)!);
  // Later duplicates overwrite earlier ones, as upstream's map does.
  const m = new Map<string, string>();
  for (const e of fromServices(sorted)) m.set(e.key, e.value);
  return [...m].map(([key, value]) => ({ key, value }));
}
