/**
 * Decoding a JSON object against its kind's schema, as upstream's decode into Go types does:
 * a value of the wrong JSON type is a 400 ("cannot unmarshal string into Go struct field ..."),
 * `null` becomes the zero value, and unknown fields are reported (and dropped unless strict).
 * After this, per-kind code can rely on the shapes the schema promises.
 */
import type { JsonObject } from './paths.js';

export interface TypedDecodeResult {
  /** Paths of fields the schema does not declare, e.g. `spec.template.spec.containers[0].foo`. */
  unknown: string[];
  /** Go-style type errors; the first is what upstream reports. */
  typeErrors: string[];
}

/** Resolves `$ref` (possibly wrapped in a one-element `allOf`) to the named schema. */
export type SchemaResolver = (schema: JsonObject | undefined) => { schema: JsonObject | undefined; name?: string };

function jsKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  return typeof v;
}

/** Go-ish rendering of a schema's type for messages: []v1.Container, map[string]string, int32. */
function goType(s: JsonObject | undefined, name: string | undefined, resolve: SchemaResolver): string {
  if (name) {
    const parts = name.split('.');
    return `${parts[parts.length - 2]}.${parts[parts.length - 1]}`;
  }
  if (!s) return 'interface {}';
  if (s['x-kubernetes-int-or-string']) return 'intstr.IntOrString';
  if (s.type === 'array') {
    const r = resolve(s.items as JsonObject);
    return `[]${goType(r.schema, r.name, resolve)}`;
  }
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') {
    const r = resolve(s.additionalProperties as JsonObject);
    return `map[string]${goType(r.schema, r.name, resolve)}`;
  }
  if (s.type === 'integer') return s.format === 'int64' ? 'int64' : 'int32';
  if (s.type === 'number') return 'float64';
  if (s.type === 'boolean') return 'bool';
  if (s.type === 'string') return s.format === 'byte' ? '[]uint8' : 'string';
  return 'interface {}';
}

function zeroOf(s: JsonObject | undefined): unknown {
  if (!s) return undefined;
  if (s.type === 'string') return '';
  if (s.type === 'integer' || s.type === 'number') return 0;
  if (s.type === 'boolean') return false;
  if (s.type === 'array') return [];
  if (s.type === 'object' || s.properties) return {};
  return undefined;
}

/**
 * Walks `obj` against the schema `root` (a definition name's schema), fixing nulls to zero values,
 * collecting unknown fields (removing them when `prune`) and type errors.
 */
export function typedDecode(obj: unknown, root: JsonObject, rootName: string, resolve: SchemaResolver, prune: boolean): TypedDecodeResult {
  const out: TypedDecodeResult = { unknown: [], typeErrors: [] };
  // The path is a stack of segments, joined only for a message: most objects have no error.
  // Go's field path has no indexes; the path of an unknown field has them.
  const segments: (string | number)[] = [];
  const goPath = () => segments.filter((x) => typeof x === 'string').join('.');
  const fullPath = () => {
    let p = '';
    for (const x of segments) p = typeof x === 'number' ? `${p}[${x}]` : p ? `${p}.${x}` : x;
    return p;
  };
  // Not a closure inside walk: that would be allocated for every value walked.
  const failAt = (value: unknown, s: JsonObject, refName: string | undefined, owner: string): void => {
    const ownerShort = owner.split('.').pop();
    out.typeErrors.push(`json: cannot unmarshal ${jsKind(value)} into Go struct field ${ownerShort}.${goPath()} of type ${goType(s, refName, resolve)}`);
  };
  const walk = (value: unknown, schema: JsonObject | undefined, name: string | undefined, owner: string, depth: number): void => {
    if (!schema || depth > 64 || value === undefined || value === null) return;
    const r = resolve(schema);
    const s = r.schema;
    const n = r.name ?? name;
    if (!s) return;
    if (s['x-kubernetes-preserve-unknown-fields'] === true && !s.properties) return;
    if (s['x-kubernetes-int-or-string']) {
      if (typeof value !== 'string' && typeof value !== 'number') failAt(value, s, r.name, owner);
      return;
    }
    const isObjectSchema = s.type === 'object' || !!s.properties;
    if (isObjectSchema) {
      if (typeof value !== 'object' || Array.isArray(value)) return failAt(value, s, r.name, owner);
      const o = value as Record<string, unknown>;
      const props = s.properties as Record<string, JsonObject> | undefined;
      const extra = s.additionalProperties;
      for (const k in o) {
        const v = o[k];
        if (props && Object.hasOwn(props, k)) {
          if (v === null) {
            delete o[k];
            continue;
          }
          segments.push(k);
          walk(v, props[k], undefined, n ?? owner, depth + 1);
          segments.pop();
        } else if (extra && typeof extra === 'object') {
          if (v === null) {
            const z = zeroOf(resolve(extra as JsonObject).schema);
            if (z === undefined) delete o[k];
            else o[k] = z;
            continue;
          }
          segments.push(k);
          walk(v, extra as JsonObject, undefined, n ?? owner, depth + 1);
          segments.pop();
        } else if (props && extra !== true && s['x-kubernetes-preserve-unknown-fields'] !== true) {
          segments.push(k);
          out.unknown.push(fullPath());
          segments.pop();
          if (prune) delete o[k];
        }
      }
      return;
    }
    switch (s.type) {
      case 'array': {
        if (!Array.isArray(value)) return failAt(value, s, r.name, owner);
        const items = s.items as JsonObject | undefined;
        const itemSchema = items ? resolve(items).schema : undefined;
        for (let i = 0; i < value.length; i++) {
          if (value[i] === null) {
            const z = zeroOf(itemSchema);
            if (z !== undefined) value[i] = z;
            continue;
          }
          segments.push(i);
          walk(value[i], items, undefined, owner, depth + 1);
          segments.pop();
        }
        return;
      }
      case 'string':
        if (typeof value !== 'string') failAt(value, s, r.name, owner);
        return;
      case 'integer':
        if (typeof value !== 'number' || !Number.isInteger(value)) failAt(value, s, r.name, owner);
        else if (s.format !== 'int64' && (value > 2147483647 || value < -2147483648)) failAt(value, s, r.name, owner);
        return;
      case 'number':
        if (typeof value !== 'number') failAt(value, s, r.name, owner);
        return;
      case 'boolean':
        if (typeof value !== 'boolean') failAt(value, s, r.name, owner);
        return;
      default:
        return;
    }
  };
  walk(obj, root, rootName, rootName, 0);
  return out;
}
