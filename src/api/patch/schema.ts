/**
 * The type knowledge strategic merge patch and server-side apply need: for a named type and a field,
 * the shape of the field's value and its patch / list metadata. Built from OpenAPI v3 component
 * schemas (upstream definition names) overlaid with the patch-meta fact table.
 */
import { isObject, type JsonObject } from './json-value.js';
import { atomicTypes as defaultAtomicTypes, patchMeta as defaultPatchMeta, type FieldPatchFacts } from './patch-meta.js';

/** What a field holds and how patches treat it. */
export interface PatchFieldMeta {
  /** Shape of the value. */
  kind: 'map' | 'list' | 'scalar';
  /**
   * Named type of the value (kind 'map' holding a struct), of the elements (kind 'list'),
   * or of the values (kind 'map' with `mapOfValues`); undefined for scalars or unknown shapes.
   */
  elementType?: string;
  /** The map is keyed by arbitrary strings (OpenAPI additionalProperties), not by field names. */
  mapOfValues?: boolean;
  /** Patch strategy, e.g. 'merge', 'retainKeys', 'merge,retainKeys', 'replace'. */
  patchStrategy?: string;
  /** Merge key of a list with strategy 'merge'. */
  patchMergeKey?: string;
  /** Server-side apply list type; derived from the patch strategy when absent. */
  listType?: 'atomic' | 'map' | 'set';
  /** Server-side apply list-map keys; the merge key when absent. */
  listMapKeys?: readonly string[];
  /** Defaults of list-map key fields. */
  keyDefaults?: Readonly<Record<string, unknown>>;
  /** 'atomic' when the map or struct is owned and replaced as a whole by server-side apply. */
  mapType?: 'atomic' | 'granular';
}

/** Facts about a named type itself. */
export interface PatchTypeMeta {
  /** 'atomic' for `+structType=atomic` / `x-kubernetes-map-type: atomic`. */
  mapType?: 'atomic' | 'granular';
}

/** Type lookup for patching; an unknown type or field yields undefined (JSON merge semantics there). */
export interface PatchSchema {
  /** Metadata of field `name` of the named type `type`, or undefined when unknown. */
  field(type: string, name: string): PatchFieldMeta | undefined;
  /** Facts about the named type, or undefined when unknown. */
  type?(type: string): PatchTypeMeta | undefined;
}

/** A group/version/kind. */
export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** A PatchSchema built from OpenAPI, which also maps a GVK to its root definition name. */
export interface OpenAPIPatchSchema extends PatchSchema {
  /** The definition name carrying `x-kubernetes-group-version-kind` for `gvk`, if any. */
  rootType(gvk: GroupVersionKind): string | undefined;
}

/** A schema that knows no types: every subtree gets JSON-merge-like semantics. */
export const emptyPatchSchema: PatchSchema = { field: () => undefined, type: () => undefined };

const refPrefix = '#/components/schemas/';

type Shape =
  | { k: 'struct'; name: string }
  | { k: 'map'; value: Shape }
  | { k: 'list'; items: Shape }
  | { k: 'scalar' }
  | { k: 'unknown' };

/**
 * Builds a PatchSchema from OpenAPI v3 `components.schemas`.
 * @param schemas definitions keyed by upstream name; references are `{$ref: '#/components/schemas/X'}`,
 *   possibly wrapped in `allOf`
 * @param meta the patch fact table; its facts win over the schemas' `x-kubernetes-*` extensions
 * @param atomic struct types that are atomic for server-side apply, in addition to `x-kubernetes-map-type`
 */
export function schemaFromOpenAPI(
  schemas: Record<string, unknown>,
  meta: Readonly<Record<string, Readonly<Record<string, FieldPatchFacts>>>> = defaultPatchMeta,
  atomic: ReadonlySet<string> = defaultAtomicTypes,
): OpenAPIPatchSchema {
  const defs = new Map<string, JsonObject>();
  for (const [name, def] of Object.entries(schemas)) if (isObject(def)) defs.set(name, def);
  const fieldCache = new Map<string, PatchFieldMeta | undefined>();
  let gvkIndex: Map<string, string> | undefined;

  const refName = (node: JsonObject): string | undefined => {
    const ref = node.$ref ?? (Array.isArray(node.allOf) && node.allOf.length === 1 && isObject(node.allOf[0]) ? node.allOf[0].$ref : undefined);
    return typeof ref === 'string' && ref.startsWith(refPrefix) ? ref.slice(refPrefix.length) : undefined;
  };

  /** Shape of a schema node; inline objects with properties get a synthesized name. */
  const shapeOf = (node: unknown, inlineName: string, depth = 0): Shape => {
    if (!isObject(node) || depth > 8) return { k: 'unknown' };
    const ref = refName(node);
    if (ref !== undefined) {
      const def = defs.get(ref);
      if (!def) return { k: 'unknown' };
      const s = shapeOf(def, ref, depth + 1);
      return s.k === 'struct' ? { k: 'struct', name: ref } : s;
    }
    if (node['x-kubernetes-int-or-string'] === true || node.format === 'int-or-string') return { k: 'scalar' };
    if (node['x-kubernetes-preserve-unknown-fields'] === true && !isObject(node.properties)) return { k: 'unknown' };
    const type = node.type;
    if (type === 'array') return { k: 'list', items: shapeOf(node.items, `${inlineName}/items`, depth + 1) };
    if (type === 'string' || type === 'integer' || type === 'number' || type === 'boolean') return { k: 'scalar' };
    if (isObject(node.properties)) {
      if (!defs.has(inlineName)) defs.set(inlineName, node);
      return { k: 'struct', name: inlineName };
    }
    if (isObject(node.additionalProperties)) {
      return { k: 'map', value: shapeOf(node.additionalProperties, `${inlineName}/additionalProperties`, depth + 1) };
    }
    if (type === 'object') return { k: 'map', value: { k: 'unknown' } };
    const alts = (node.oneOf ?? node.anyOf) as unknown;
    if (Array.isArray(alts) && alts.length > 0 && alts.every((a) => isObject(a) && ['string', 'integer', 'number', 'boolean'].includes(a.type as string))) {
      return { k: 'scalar' };
    }
    return { k: 'unknown' };
  };

  const structName = (s: Shape): string | undefined => (s.k === 'struct' ? s.name : undefined);

  const compute = (type: string, name: string): PatchFieldMeta | undefined => {
    const facts = meta[type]?.[name];
    const def = defs.get(type);
    const props = def && isObject(def.properties) ? def.properties : undefined;
    const prop = props && Object.prototype.hasOwnProperty.call(props, name) ? props[name] : undefined;
    let out: PatchFieldMeta | undefined;
    if (isObject(prop)) {
      const shape = shapeOf(prop, `${type}/${name}`);
      switch (shape.k) {
        case 'struct':
          out = { kind: 'map', elementType: shape.name };
          break;
        case 'map': {
          const e = structName(shape.value);
          out = e ? { kind: 'map', mapOfValues: true, elementType: e } : { kind: 'map', mapOfValues: true };
          break;
        }
        case 'list': {
          const e = structName(shape.items);
          out = e ? { kind: 'list', elementType: e } : { kind: 'list' };
          break;
        }
        case 'scalar':
          out = { kind: 'scalar' };
          break;
        default:
          out = { kind: 'map' };
      }
      const ext = (k: string): unknown => prop[k];
      if (typeof ext('x-kubernetes-patch-strategy') === 'string') out.patchStrategy = ext('x-kubernetes-patch-strategy') as string;
      if (typeof ext('x-kubernetes-patch-merge-key') === 'string') out.patchMergeKey = ext('x-kubernetes-patch-merge-key') as string;
      const lt = ext('x-kubernetes-list-type');
      if (lt === 'atomic' || lt === 'map' || lt === 'set') out.listType = lt;
      const keys = ext('x-kubernetes-list-map-keys');
      if (Array.isArray(keys) && keys.every((k) => typeof k === 'string')) out.listMapKeys = keys as string[];
      const mt = ext('x-kubernetes-map-type');
      if (mt === 'atomic' || mt === 'granular') out.mapType = mt;
      if (shape.k === 'list' && shape.items.k === 'struct') {
        const itemDef = defs.get(shape.items.name);
        const itemProps = itemDef && isObject(itemDef.properties) ? itemDef.properties : undefined;
        const defaults: Record<string, unknown> = {};
        for (const key of out.listMapKeys ?? (out.patchMergeKey ? [out.patchMergeKey] : [])) {
          const p = itemProps?.[key];
          if (isObject(p) && p.default !== undefined) defaults[key] = p.default;
        }
        if (Object.keys(defaults).length) out.keyDefaults = defaults;
      }
    } else if (facts && !props) {
      // No schema for the type: the facts alone say what the field is.
      out = { kind: facts.mergeKey || facts.listType || facts.strategy?.split(',').includes('merge') ? 'list' : 'map' };
    } else {
      return undefined;
    }
    if (facts) {
      if (facts.strategy !== undefined) out.patchStrategy = facts.strategy;
      if (facts.mergeKey !== undefined) out.patchMergeKey = facts.mergeKey;
      if (facts.listType !== undefined) out.listType = facts.listType;
      if (facts.listMapKeys !== undefined) out.listMapKeys = facts.listMapKeys;
      if (facts.keyDefaults !== undefined) out.keyDefaults = { ...out.keyDefaults, ...facts.keyDefaults };
      if (facts.mapType !== undefined) out.mapType = facts.mapType;
    }
    return out;
  };

  return {
    field(type: string, name: string): PatchFieldMeta | undefined {
      const key = `${type}\u0000${name}`;
      if (!fieldCache.has(key)) fieldCache.set(key, compute(type, name));
      return fieldCache.get(key);
    },
    type(type: string): PatchTypeMeta | undefined {
      const def = defs.get(type);
      if (atomic.has(type)) return { mapType: 'atomic' };
      if (!def) return meta[type] ? {} : undefined;
      const mt = def['x-kubernetes-map-type'];
      return mt === 'atomic' || mt === 'granular' ? { mapType: mt } : {};
    },
    rootType(gvk: GroupVersionKind): string | undefined {
      gvkIndex ??= buildGvkIndex(schemas);
      return gvkIndex.get(gvkKey(gvk));
    },
  };
}

function gvkKey(g: GroupVersionKind): string {
  return `${g.group}/${g.version}/${g.kind}`;
}

function buildGvkIndex(schemas: Record<string, unknown>): Map<string, string> {
  const index = new Map<string, string>();
  for (const name of Object.keys(schemas).sort()) {
    const def = schemas[name];
    const gvks = isObject(def) ? def['x-kubernetes-group-version-kind'] : undefined;
    if (!Array.isArray(gvks)) continue;
    for (const g of gvks) {
      if (!isObject(g) || typeof g.version !== 'string' || typeof g.kind !== 'string') continue;
      const key = gvkKey({ group: typeof g.group === 'string' ? g.group : '', version: g.version, kind: g.kind });
      if (!index.has(key)) index.set(key, name);
    }
  }
  return index;
}

/**
 * The definition name whose `x-kubernetes-group-version-kind` lists `gvk`
 * (e.g. apps/v1 Deployment → 'io.k8s.api.apps.v1.Deployment').
 */
export function findRootType(schemas: Record<string, unknown>, gvk: GroupVersionKind): string | undefined {
  return buildGvkIndex(schemas).get(gvkKey(gvk));
}

/** Splits a patch strategy into retainKeys and the other strategy, as upstream's extractRetainKeysPatchStrategy. */
export function splitPatchStrategy(strategy: string | undefined): { retainKeys: boolean; strategy: string } | { error: string } {
  const parts = strategy ? strategy.split(',') : [];
  if (parts.length === 0) return { retainKeys: false, strategy: '' };
  if (parts.length === 1) return parts[0] === 'retainKeys' ? { retainKeys: true, strategy: '' } : { retainKeys: false, strategy: parts[0]! };
  if (parts.length === 2) {
    if (parts[0] === 'retainKeys') return { retainKeys: true, strategy: parts[1]! };
    if (parts[1] === 'retainKeys') return { retainKeys: true, strategy: parts[0]! };
  }
  return { error: `unexpected patch strategy: [${parts.join(' ')}]` };
}

/** The server-side apply list type a field's metadata implies (upstream's schemaconv rules). */
export function listTypeOf(meta: PatchFieldMeta): { listType: 'atomic' | 'map' | 'set'; keys: readonly string[] } {
  if (meta.listType === 'map') return { listType: 'map', keys: meta.listMapKeys ?? (meta.patchMergeKey ? [meta.patchMergeKey] : []) };
  if (meta.listType) return { listType: meta.listType, keys: [] };
  const strategies = (meta.patchStrategy ?? '').split(',');
  if (strategies.includes('merge')) {
    return meta.patchMergeKey ? { listType: 'map', keys: meta.listMapKeys ?? [meta.patchMergeKey] } : { listType: 'set', keys: [] };
  }
  return { listType: 'atomic', keys: [] };
}
