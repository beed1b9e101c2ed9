/**
 * Decodes Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into the JSON object a
 * client would have sent as `application/json` for the same Go value.
 *
 * The body is the magic `k8s\0` followed by a runtime.Unknown whose typeMeta names the kind and whose raw holds
 * the object's own message. Field numbers and types come from `wire-schema.json`; how each field is spelt and
 * shaped in Go's JSON encoding (pointer, omitempty, inline, renamed) comes from `go-fields.json`, which
 * testdata/extract-go-fields.ts derives from the Go type information in kubectl binaries.
 *
 * Conversion follows encoding/json on the Go struct that Go's protobuf unmarshaller would have filled, with two
 * deliberate differences that do not change what a Go server would decode: JSON `null` is left out (zero
 * Time, nil slices and maps), and so is a non-pointer struct that converts to `{}` (a Go server reads `{}` and an
 * absent field alike). A field absent from the wire is left out. Scalars:
 * - Go pointer fields are present on the wire exactly when non-nil, so they are kept whatever their value
 *   (`replicas: 0`).
 * - Non-pointer fields are always written by Go's marshaller, so a zero value there means "unset"; it is left out
 *   when the json tag says omitempty and kept otherwise (`containerPort`, `allowed: false`), as encoding/json does.
 * - The same rule holds for the value-like messages: Quantity → string, IntOrString → number or string,
 *   Time → RFC 3339 (seconds), MicroTime → RFC 3339 with microseconds, RawExtension/FieldsV1 → embedded JSON
 *   (or a nested protobuf object), bytes → base64, Go slice types wrapped in `{items}` → arrays.
 * Schema and facts load on first use, so a server that never sees protobuf never pays for them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Field, MapField, Message, Root, Type } from 'protobufjs';
import { errors, StatusError } from '../errors.js';

/** The 4-byte prefix of every Kubernetes protobuf body. */
export const PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** Media type of Kubernetes protobuf bodies. */
export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';

const META = 'k8s.io.apimachinery.pkg.apis.meta.v1';
const TIME = `${META}.Time`;
const MICRO_TIME = `${META}.MicroTime`;
const FIELDS_V1 = `${META}.FieldsV1`;
const QUANTITY = 'k8s.io.apimachinery.pkg.api.resource.Quantity';
const INT_OR_STRING = 'k8s.io.apimachinery.pkg.util.intstr.IntOrString';
const RAW_EXTENSION = 'k8s.io.apimachinery.pkg.runtime.RawExtension';
const UNKNOWN = 'k8s.io.apimachinery.pkg.runtime.Unknown';

/** API group → package segment in the proto names (k8s.io.api.<pkg>.<version>). */
const groupPackages: Record<string, string> = {
  '': 'core',
  apps: 'apps',
  batch: 'batch',
  autoscaling: 'autoscaling',
  policy: 'policy',
  'authentication.k8s.io': 'authentication',
  'authorization.k8s.io': 'authorization',
  'rbac.authorization.k8s.io': 'rbac',
  'networking.k8s.io': 'networking',
  'storage.k8s.io': 'storage',
  'discovery.k8s.io': 'discovery',
  'coordination.k8s.io': 'coordination',
  'events.k8s.io': 'events',
  'scheduling.k8s.io': 'scheduling',
  'node.k8s.io': 'node',
  'certificates.k8s.io': 'certificates',
  'admissionregistration.k8s.io': 'admissionregistration',
  'flowcontrol.apiserver.k8s.io': 'flowcontrol',
};

/** meta/v1 kinds that every group version also accepts (metav1.AddToGroupVersion). */
const metaKinds = new Set(['DeleteOptions', 'CreateOptions', 'UpdateOptions', 'PatchOptions', 'GetOptions', 'ListOptions', 'WatchEvent', 'Status']);

/** Nesting limit for RawExtensions that hold protobuf objects themselves. */
const MAX_NESTED_OBJECTS = 8;

/**
 * Fields that wire-schema.json lacks (its extractor skipped fields named `options`); numbers and types are
 * those of k8s.io/api's generated.proto.
 */
const schemaPatches: [string, string, { id: number; type: string; rule?: string; keyType?: string }][] = [
  ['k8s.io.api.core.v1.PodDNSConfig', 'options', { id: 3, type: 'PodDNSConfigOption', rule: 'repeated' }],
  ['k8s.io.api.core.v1.FlexVolumeSource', 'options', { id: 5, type: 'string', keyType: 'string' }],
  ['k8s.io.api.core.v1.FlexPersistentVolumeSource', 'options', { id: 5, type: 'string', keyType: 'string' }],
];

interface FieldRule {
  /** JSON name, or '' when the field's members are inlined into the parent. */
  json: string;
  omitempty: boolean;
  pointer: boolean;
  inline: boolean;
  /** A Go slice type that protobuf wraps in a message with a repeated `items` field. */
  wrapped: boolean;
}

interface Loaded {
  root: Root;
  unknown: Type;
  rules: Map<Type, Map<string, FieldRule>>;
  facts: Record<string, Record<string, string>>;
  isKind: Map<Type, boolean>;
}

let loaded: Loaded | undefined;

function load(): Loaded {
  if (loaded) return loaded;
  try {
    loaded = loadUncached();
  } catch (e) {
    // A build that did not copy the JSON files beside this module: a server fault, not the client's.
    throw errors.internal(`protobuf schema unavailable: ${(e as Error).message}`);
  }
  return loaded;
}

function loadUncached(): Loaded {
  const require = createRequire(import.meta.url);
  const protobuf = require('protobufjs') as typeof import('protobufjs');
  const schema = JSON.parse(readFileSync(new URL('./wire-schema.json', import.meta.url), 'utf8')) as NestedJson;
  for (const [msg, name, field] of schemaPatches) {
    let node: NestedJson | undefined = schema;
    for (const part of msg.split('.')) node = node?.nested?.[part];
    if (node?.fields && !node.fields[name]) node.fields[name] = field;
  }
  const root = protobuf.Root.fromJSON(schema as Parameters<typeof protobuf.Root.fromJSON>[0]);
  root.resolveAll();
  const facts = JSON.parse(readFileSync(new URL('./go-fields.json', import.meta.url), 'utf8')) as Record<string, Record<string, string>>;
  return { root, unknown: root.lookupType(UNKNOWN), rules: new Map(), facts, isKind: new Map() };
}

interface NestedJson {
  nested?: Record<string, NestedJson>;
  fields?: Record<string, unknown>;
}

function rulesFor(l: Loaded, type: Type): Map<string, FieldRule> {
  let r = l.rules.get(type);
  if (r) return r;
  r = new Map();
  const facts = l.facts[type.fullName.slice(1)];
  for (const f of type.fieldsArray) {
    const flags = facts?.[f.name];
    if (flags === undefined) {
      // Newer than the kubectl binaries the facts came from. Keep whatever the wire holds, as for a pointer:
      // for a non-pointer field a kept zero means the same to a Go server as an absent one, while dropping a
      // pointer's zero would not.
      r.set(f.name, { json: f.name, omitempty: true, pointer: true, inline: false, wrapped: false });
      continue;
    }
    const eq = flags.indexOf('=');
    const letters = eq < 0 ? flags : flags.slice(0, eq);
    const inline = letters.includes('i');
    r.set(f.name, {
      json: inline ? '' : eq < 0 ? f.name : flags.slice(eq + 1),
      omitempty: letters.includes('o'),
      pointer: letters.includes('p'),
      inline,
      wrapped: letters.includes('s'),
    });
  }
  l.rules.set(type, r);
  return r;
}

const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'toNumber' in v && typeof (v as { toNumber: unknown }).toNumber === 'function') {
    return (v as { toNumber(): number }).toNumber();
  }
  return Number(v);
}

/** Go's time.Time rendered as metav1.Time (seconds) or metav1.MicroTime (microseconds) JSON; null for zero. */
function formatTime(m: Message, micro: boolean): string | null {
  const o = m as unknown as { seconds?: unknown; nanos?: unknown };
  let seconds = toNumber(o.seconds ?? 0);
  let nanos = toNumber(o.nanos ?? 0);
  if (seconds === 0 && nanos === 0) return null;
  // time.Unix normalizes nanoseconds outside [0, 1e9) into the seconds.
  seconds += Math.floor(nanos / 1e9);
  nanos = ((nanos % 1e9) + 1e9) % 1e9;
  const d = new Date(seconds * 1000);
  const year = d.getUTCFullYear();
  // encoding/json refuses times outside years 0-9999 (Time.MarshalJSON errors), so no JSON body could hold one.
  if (Number.isNaN(year) || year < 0 || year > 9999) throw errors.badRequest(`Time.MarshalJSON: year outside of range [0,9999]`);
  const base = d.toISOString().slice(0, 19);
  if (!micro) return `${base}Z`;
  return `${base}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z`;
}

function isZeroScalar(v: unknown): boolean {
  if (typeof v === 'string') return v === '';
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'number') return v === 0;
  if (v instanceof Uint8Array) return v.length === 0;
  return toNumber(v) === 0;
}

function scalar(v: unknown, protoType: string): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (protoType === 'int64' || protoType === 'uint64' || protoType === 'sint64' || protoType === 'fixed64' || protoType === 'sfixed64') return toNumber(v);
  return v;
}

interface Ctx {
  l: Loaded;
  depth: number;
}

/** A value-like message as Go's JSON shows it (null for Go's zero Time or an empty RawExtension). */
function special(ctx: Ctx, typeName: string, m: Message): { value: unknown } | undefined {
  const o = m as unknown as Record<string, unknown>;
  switch (typeName) {
    case TIME:
    case MICRO_TIME:
      return { value: formatTime(m, typeName === MICRO_TIME) };
    case QUANTITY: {
      // resource.Quantity's zero value marshals as "0".
      const s = typeof o.string === 'string' ? o.string : '';
      return { value: s === '' ? '0' : s };
    }
    case INT_OR_STRING:
      return { value: toNumber(o.type ?? 0) === 1 ? (typeof o.strVal === 'string' ? o.strVal : '') : toNumber(o.intVal ?? 0) };
    case RAW_EXTENSION:
    case FIELDS_V1: {
      const raw = (typeName === RAW_EXTENSION ? o.raw : o.Raw) as Uint8Array | undefined;
      if (!raw || raw.length === 0) return { value: null };
      return { value: embedded(ctx, Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)) };
    }
    default:
      return undefined;
  }
}

/** The contents of a RawExtension: JSON as sent, or a nested protobuf object. */
function embedded(ctx: Ctx, raw: Buffer): unknown {
  if (raw.subarray(0, 4).equals(PROTOBUF_MAGIC)) {
    if (ctx.depth >= MAX_NESTED_OBJECTS) throw errors.badRequest('protobuf objects nested too deeply');
    return decodeEnvelope(ctx.l, raw, undefined, ctx.depth + 1);
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw errors.badRequest(`invalid embedded object: ${(e as Error).message}`);
  }
}

/** Converts one element of a repeated or map field; elements are never dropped. */
function element(ctx: Ctx, field: Field | MapField, wrapped: boolean, v: unknown): unknown {
  const rt = field.resolvedType;
  if (rt && 'fieldsArray' in rt) {
    const m = v as Message;
    if (wrapped) return unwrapItems(rt, m) ?? [];
    const s = special(ctx, rt.fullName.slice(1), m);
    if (s) return s.value;
    return convertMessage(ctx, rt, m);
  }
  return scalar(v, field.type);
}

function unwrapItems(type: Type, m: Message): unknown[] | undefined {
  const items = (m as unknown as Record<string, unknown>).items;
  if (!Array.isArray(items) || items.length === 0) return undefined;
  const f = type.fields.items;
  return items.map((x) => scalar(x, f?.type ?? 'string'));
}

function convertMessage(ctx: Ctx, type: Type, msg: Message): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const rules = rulesFor(ctx.l, type);
  const o = msg as unknown as Record<string, unknown>;
  for (const field of type.fieldsArray) {
    const rule = rules.get(field.name)!;
    const v = o[field.name];
    let value: unknown;
    if (field.map) {
      const entries = v && typeof v === 'object' ? Object.entries(v) : [];
      if (entries.length === 0) continue;
      value = Object.fromEntries(entries.map(([k, x]) => [k, element(ctx, field, rule.wrapped, x)]));
    } else if (field.repeated) {
      if (!Array.isArray(v) || v.length === 0) continue;
      value = v.map((x) => element(ctx, field, false, x));
    } else {
      if (!has(o, field.name) || v === null || v === undefined) continue;
      const rt = field.resolvedType;
      if (rt && 'fieldsArray' in rt) {
        const m = v as Message;
        if (rule.wrapped) {
          value = unwrapItems(rt, m);
          if (value === undefined) continue;
        } else {
          const s = special(ctx, rt.fullName.slice(1), m);
          if (s) {
            if (s.value === null) continue;
            value = s.value;
          } else {
            const sub = convertMessage(ctx, rt, m);
            if (rule.inline) {
              Object.assign(out, sub);
              continue;
            }
            // A non-nil pointer is meaningful even when empty (emptyDir: {}); an empty struct is not.
            if (!rule.pointer && Object.keys(sub).length === 0) continue;
            value = sub;
          }
        }
      } else {
        if (!rule.pointer && rule.omitempty && isZeroScalar(v)) continue;
        value = scalar(v, field.type);
      }
    }
    out[rule.json] = value;
  }
  return out;
}

/** Whether `type` is a kind a client may send at the top level, as opposed to a part of one. */
function isKind(l: Loaded, type: Type): boolean {
  let k = l.isKind.get(type);
  if (k === undefined) {
    const md = type.fields.metadata;
    const mdType = md?.resolvedType?.fullName;
    k = mdType === `.${META}.ObjectMeta` || mdType === `.${META}.ListMeta` || type.name.endsWith('Options') || (type.fullName.startsWith(`.${META}.`) && metaKinds.has(type.name));
    l.isKind.set(type, k);
  }
  return k;
}

function lookupKind(l: Loaded, apiVersion: string, kind: string): Type {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const candidates: string[] = [];
  if (group === 'meta.k8s.io') candidates.push(`${META}.${kind}`);
  else if (has(groupPackages, group) && /^v[0-9a-z]+$/.test(version)) {
    candidates.push(`k8s.io.api.${groupPackages[group]}.${version}.${kind}`);
    if (metaKinds.has(kind)) candidates.push(`${META}.${kind}`);
  }
  for (const name of candidates) {
    const t = l.root.lookup(name);
    if (t && 'fieldsArray' in t && isKind(l, t as Type)) return t as Type;
  }
  throw errors.badRequest(`no kind "${kind}" is registered for version "${apiVersion}" in scheme "pkg/api/legacyscheme/scheme.go:30"`);
}

function decodeRaw(type: Type, raw: Uint8Array): Message {
  try {
    return type.decode(raw);
  } catch (e) {
    throw errors.badRequest(`unable to decode ${type.name} from protobuf: ${(e as Error).message}`);
  }
}

function decodeEnvelope(l: Loaded, buf: Buffer, defaults: { apiVersion: string; kind: string } | undefined, depth: number): Record<string, unknown> {
  if (buf.length === 0) throw errors.badRequest('empty data');
  if (!isProtobufBody(buf)) throw errors.badRequest(`provided data does not appear to be a protobuf message, expected prefix [${[...PROTOBUF_MAGIC].join(' ')}]`);
  if (buf.length === PROTOBUF_MAGIC.length) throw errors.badRequest('empty body');
  const unk = decodeRaw(l.unknown, buf.subarray(PROTOBUF_MAGIC.length)) as unknown as {
    typeMeta?: { apiVersion?: string; kind?: string };
    raw?: Uint8Array;
    contentEncoding?: string;
  };
  const declared = { apiVersion: unk.typeMeta?.apiVersion ?? '', kind: unk.typeMeta?.kind ?? '' };
  const apiVersion = declared.apiVersion || defaults?.apiVersion || '';
  const kind = declared.kind || defaults?.kind || '';
  const tm = `runtime.TypeMeta{APIVersion:${JSON.stringify(declared.apiVersion)}, Kind:${JSON.stringify(declared.kind)}}`;
  if (!kind) throw errors.badRequest(`Object 'Kind' is missing in '${tm}'`);
  if (!apiVersion) throw errors.badRequest(`Object 'apiVersion' is missing in '${tm}'`);
  if (unk.contentEncoding) throw errors.badRequest(`unsupported content encoding ${JSON.stringify(unk.contentEncoding)} in protobuf envelope`);
  const type = lookupKind(l, apiVersion, kind);
  const msg = decodeRaw(type, unk.raw ?? new Uint8Array(0));
  const ctx: Ctx = { l, depth };
  let body: Record<string, unknown>;
  try {
    body = convertMessage(ctx, type, msg);
  } catch (e) {
    if (e instanceof StatusError) throw e;
    throw errors.badRequest(`unable to convert ${kind} from protobuf: ${(e as Error).message}`);
  }
  return { kind, apiVersion, ...body };
}

/**
 * Loads protobufjs, the wire schema and the Go field facts now rather than on the first protobuf body (about
 * 100 ms), e.g. from a setImmediate after the server starts listening.
 */
export function preloadProtobufSchema(): void {
  load();
}

/** Whether a request body starts with the Kubernetes protobuf magic `k8s\0`. */
export function isProtobufBody(buf: Buffer): boolean {
  return buf.length >= PROTOBUF_MAGIC.length && buf.subarray(0, PROTOBUF_MAGIC.length).equals(PROTOBUF_MAGIC);
}

/**
 * Decodes a `k8s\0`-prefixed protobuf body into its JSON-form object, `apiVersion` and `kind` included (taken
 * from the envelope's typeMeta). Throws StatusError 400 (BadRequest) for anything it cannot decode: wrong magic,
 * truncated or malformed bytes, a missing or unregistered kind; 500 if the schema files are missing.
 */
export function decodeProtobufObject(buf: Buffer): Record<string, unknown> {
  return decodeEnvelope(load(), buf, undefined, 0);
}

/**
 * As decodeProtobufObject, with the kind to assume where the envelope leaves typeMeta empty (as upstream's
 * decoder does with the endpoint's default kind): e.g. `decodeProtobufAs(body, 'policy/v1', 'Eviction')`.
 * A kind named in the envelope wins; the caller checks that it is the one the endpoint accepts.
 */
export function decodeProtobufAs(buf: Buffer, apiVersion: string, kind: string): Record<string, unknown> {
  return decodeEnvelope(load(), buf, { apiVersion, kind }, 0);
}
