/**
 * Strategic merge patch (`application/strategic-merge-patch+json`), applied as upstream's
 * k8s.io/apimachinery/pkg/util/strategicpatch does on the server (StrategicMergeMapPatch):
 *
 * - maps merge recursively and `null` deletes a key;
 * - lists replace, unless the field's patch strategy is `merge`: lists of maps then merge element by
 *   element on the merge key (new elements added), lists of scalars merge as sets;
 * - directives: `$patch: replace | delete` in a map, `$patch: replace | delete` elements in a merging
 *   list, `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys`;
 * - element order follows upstream: `$setElementOrder` first, then the patch's order, then the live order.
 *
 * A field or type the schema does not know gets JSON-merge-patch semantics for its subtree (maps merge,
 * lists replace). Malformed directives are answered with 400 BadRequest, lists of lists with 422.
 */
import { cloneJson, goFormat, goTypeName, isObject, jsonEqual, type JsonObject } from './json-value.js';
import { badPatch, mergePatchMessages, unprocessablePatch } from './patch-errors.js';
import { splitPatchStrategy, type PatchFieldMeta, type PatchSchema } from './schema.js';

export type { PatchFieldMeta, PatchSchema, PatchTypeMeta } from './schema.js';

const directiveMarker = '$patch';
const deleteDirective = 'delete';
const replaceDirective = 'replace';
const mergeDirective = 'merge';
const retainKeysDirective = '$retainKeys';
const deleteFromPrimitiveListPrefix = '$deleteFromPrimitiveList';
const setElementOrderPrefix = '$setElementOrder';

/**
 * Applies a strategic merge patch to a copy of `original`.
 * @param original the current object (not modified)
 * @param patch the parsed patch (not modified)
 * @param schema type knowledge for patch strategies and merge keys
 * @param rootType definition name of the object's type, e.g. 'io.k8s.api.apps.v1.Deployment'
 * @returns the patched object
 * @throws StatusError 400 for a malformed patch or directive, 422 for lists of lists
 */
export function strategicMergePatch(original: object, patch: object, schema: PatchSchema, rootType: string): JsonObject {
  if (!isObject(original)) throw badPatch(mergePatchMessages.badJSONDoc);
  if (!isObject(patch)) {
    throw badPatch(`json: cannot unmarshal ${Array.isArray(patch) ? 'array' : typeof patch} into Go value of type map[string]interface {}`);
  }
  return mergeMap(cloneJson(original) as JsonObject, cloneJson(patch) as JsonObject, structCtx(schema, rootType));
}

// ---------------------------------------------------------------------------------------------------------
// Schema context: what a key of the current map is, and the context of its value.

interface Ctx {
  /** Type name, for error messages. */
  readonly name: string;
  lookup(key: string): { meta: PatchFieldMeta | undefined; child: Ctx };
}

const unknownCtx: Ctx = { name: 'unknown', lookup: () => ({ meta: undefined, child: unknownCtx }) };

function structCtx(schema: PatchSchema, type: string): Ctx {
  return {
    name: type,
    lookup(key) {
      const meta = schema.field(type, key);
      return { meta, child: ctxOf(schema, meta) };
    },
  };
}

function ctxOf(schema: PatchSchema, meta: PatchFieldMeta | undefined): Ctx {
  if (!meta || !meta.elementType) return unknownCtx;
  if (meta.kind === 'map' && meta.mapOfValues) {
    const valueCtx = structCtx(schema, meta.elementType);
    return { name: meta.elementType, lookup: () => ({ meta: undefined, child: valueCtx }) };
  }
  return structCtx(schema, meta.elementType);
}

function strategyOf(meta: PatchFieldMeta | undefined): string {
  const s = splitPatchStrategy(meta?.patchStrategy);
  if ('error' in s) throw badPatch(s.error);
  return s.strategy;
}

// ---------------------------------------------------------------------------------------------------------
// Errors with upstream's wording.

function errBadArgType(expected: 'map' | 'slice', actual: unknown): never {
  const want = expected === 'map' ? 'map[string]interface {}' : '[]interface {}';
  throw badPatch(`expected a ${want}, but received a ${goTypeName(actual)}`);
}

function errNoMergeKey(m: unknown, key: string): never {
  throw badPatch(`map: ${goFormat(m)} does not contain declared merge key: ${key}`);
}

function errBadPatchType(t: unknown, m: unknown): never {
  throw badPatch(`unknown patch type: ${goFormat(t)} in map: ${goFormat(m)}`);
}

function extractKey(key: string, prefix: string): string {
  const slash = key.indexOf('/');
  if (slash < 0 || key.slice(0, slash) !== prefix) {
    throw badPatch(
      prefix === deleteFromPrimitiveListPrefix
        ? mergePatchMessages.badPatchFormatForPrimitiveList
        : mergePatchMessages.badPatchFormatForSetElementOrderList,
    );
  }
  return key.slice(slash + 1);
}

// ---------------------------------------------------------------------------------------------------------
// Maps.

/** Merges `patch` into `original` (both owned by the caller and mutated). */
function mergeMap(original: JsonObject, patch: JsonObject, ctx: Ctx): JsonObject {
  if (Object.prototype.hasOwnProperty.call(patch, directiveMarker)) return handleDirectiveInMergeMap(patch[directiveMarker], patch);
  applyRetainKeysDirective(original, patch);
  mergePatchIntoOriginal(original, patch, ctx);

  for (const patchKey of Object.keys(patch)) {
    const patchV = patch[patchKey];
    let key = patchKey;
    let isDeleteList = false;
    if (patchKey.startsWith(deleteFromPrimitiveListPrefix)) {
      key = extractKey(patchKey, deleteFromPrimitiveListPrefix);
      isDeleteList = true;
    }
    if (patchV === null) {
      delete original[key];
      continue;
    }
    if (!Object.prototype.hasOwnProperty.call(original, key)) {
      if (!isDeleteList) setMaterialized(original, key, patchV);
      continue;
    }
    const origV = original[key];
    if (kindOf(origV) !== kindOf(patchV)) {
      if (!isDeleteList) setMaterialized(original, key, patchV);
      continue;
    }
    if (isObject(origV) && isObject(patchV)) {
      const { meta, child } = ctx.lookup(key);
      const strategy = strategyOf(meta);
      if (strategy === replaceDirective) setMaterialized(original, key, patchV);
      else original[key] = mergeMap(origV, patchV, child);
    } else if (Array.isArray(origV) && Array.isArray(patchV)) {
      const { meta, child } = ctx.lookup(key);
      original[key] = mergeSliceHandler(origV, patchV, child, strategyOf(meta), meta?.patchMergeKey ?? '', isDeleteList);
    } else {
      original[key] = patchV;
    }
  }
  return original;
}

function handleDirectiveInMergeMap(directive: unknown, patch: JsonObject): JsonObject {
  if (directive === replaceDirective) {
    delete patch[directiveMarker];
    return materialize(patch) as JsonObject;
  }
  if (directive === deleteDirective) return {};
  return errBadPatchType(directive, patch);
}

/** `$retainKeys`: clears the keys of `original` the list does not name; every patched key must be named. */
function applyRetainKeysDirective(original: JsonObject, patch: JsonObject): void {
  if (!Object.prototype.hasOwnProperty.call(patch, retainKeysDirective)) return;
  const list = patch[retainKeysDirective];
  delete patch[retainKeysDirective];
  if (!Array.isArray(list)) throw badPatch(mergePatchMessages.badPatchFormatForRetainKeys);
  const keep = (k: string): boolean => list.some((v) => v === k);
  for (const k of Object.keys(patch)) {
    const v = patch[k];
    if (v === null || k.startsWith(deleteFromPrimitiveListPrefix) || k.startsWith(setElementOrderPrefix)) continue;
    if (!keep(k)) throw badPatch(mergePatchMessages.badPatchFormatForRetainKeys);
  }
  for (const k of Object.keys(original)) if (!keep(k)) delete original[k];
}

/**
 * `$setElementOrder/<list>`: merges the list it names (when patched) and orders the result by the
 * directive, then by the live order for elements the directive does not name.
 */
function mergePatchIntoOriginal(original: JsonObject, patch: JsonObject, ctx: Ctx): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(setElementOrderPrefix)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) errBadArgType('slice', order);
    const listKey = extractKey(key, setElementOrderPrefix);
    const foundOriginal = Object.prototype.hasOwnProperty.call(original, listKey);
    const foundPatch = Object.prototype.hasOwnProperty.call(patch, listKey);
    const originalList = foundOriginal ? original[listKey] : undefined;
    const patchList = foundPatch ? patch[listKey] : undefined;
    if (foundOriginal && !Array.isArray(originalList)) errBadArgType('slice', originalList);
    if (foundPatch && !Array.isArray(patchList)) errBadArgType('slice', patchList);
    const origArr = (originalList as unknown[] | undefined) ?? [];
    const patchArr = (patchList as unknown[] | undefined) ?? [];
    const { meta, child } = ctx.lookup(listKey);
    const strategy = strategyOf(meta);
    const mergeKey = meta?.patchMergeKey ?? '';
    validatePatchWithSetOrderList(patchArr, order, mergeKey);

    let merged: unknown[];
    if (foundOriginal && !foundPatch) merged = origArr;
    else if (!foundOriginal && foundPatch) merged = materialize(patchArr) as unknown[];
    else if (foundOriginal && foundPatch) merged = mergeSliceHandler(origArr, patchArr, child, strategy, mergeKey, false);
    else continue;

    const [patchItems, serverOnly] = mergeKey === '' ? partitionPrimitives(merged, order) : partitionMaps(merged, order, mergeKey);
    const kind = sliceElementKind(origArr, patchArr);
    original[listKey] = normalizeElementOrder(patchItems, serverOnly, order, origArr, mergeKey, kind);
    delete patch[listKey];
  }
}

/** The patch list must be a subset of the order list, in the same relative order (deletions aside). */
function validatePatchWithSetOrderList(patchList: unknown[], order: unknown[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const nonDelete = mergeKey ? extractToDeleteItems(patchList)[0] : patchList;
  let pi = 0;
  let si = 0;
  while (pi < nonDelete.length && si < order.length) {
    if (isObject(nonDelete[pi]) && Object.prototype.hasOwnProperty.call(nonDelete[pi], directiveMarker)) {
      pi++;
      continue;
    }
    if (mergeKeyValueEqual(nonDelete[pi], order[si], mergeKey)) pi++;
    si++;
  }
  if (pi < nonDelete.length && si >= order.length) {
    throw badPatch(`the order in patch list:\n${goFormat(patchList)}\n doesn't match ${setElementOrderPrefix} list:\n${goFormat(order)}`);
  }
}

function mergeKeyValueEqual(left: unknown, right: unknown, mergeKey: string): boolean {
  if (!mergeKey) return scalarEqual(left, right);
  if (!isObject(left)) errBadArgType('map', left);
  if (!isObject(right)) errBadArgType('map', right);
  if (!(mergeKey in left)) errNoMergeKey(left, mergeKey);
  if (!(mergeKey in right)) errNoMergeKey(right, mergeKey);
  return scalarEqual(left[mergeKey], right[mergeKey]);
}

// ---------------------------------------------------------------------------------------------------------
// Lists.

function mergeSliceHandler(
  original: unknown[],
  patch: unknown[],
  elemCtx: Ctx,
  strategy: string,
  mergeKey: string,
  isDeleteList: boolean,
): unknown[] {
  if (strategy === mergeDirective || isDeleteList) return mergeSlice(original, patch, elemCtx, mergeKey, isDeleteList);
  return materialize(patch) as unknown[];
}

function mergeSlice(original: unknown[], patch: unknown[], elemCtx: Ctx, mergeKey: string, isDeleteList: boolean): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = sliceElementKind(original, patch);
  let merged: unknown[];
  if (kind !== 'map') {
    if (isDeleteList) return original.filter((v) => !patch.some((d) => scalarEqual(d, v)));
    merged = dedupe([...original, ...patch]);
  } else {
    if (mergeKey === '') throw badPatch(`cannot merge lists without merge key for ${elemCtx.name}`);
    [original, patch] = mergeSliceWithSpecialElements(original, patch, mergeKey);
    merged = mergeSliceWithoutSpecialElements(original, patch, mergeKey, elemCtx);
  }
  const [patchItems, serverOnly] = mergeKey === '' ? partitionPrimitives(merged, patch) : partitionMaps(merged, patch, mergeKey);
  return normalizeElementOrder(patchItems, serverOnly, patch, original, mergeKey, kind);
}

/** Handles `$patch: delete | replace` elements; returns the updated original and the remaining patch. */
function mergeSliceWithSpecialElements(original: unknown[], patch: unknown[], mergeKey: string): [unknown[], unknown[]] {
  const plain: unknown[] = [];
  let replace = false;
  for (const v of patch) {
    const m = v as JsonObject;
    if (!Object.prototype.hasOwnProperty.call(m, directiveMarker)) {
      plain.push(v);
      continue;
    }
    const directive = m[directiveMarker];
    if (directive === deleteDirective) {
      if (!Object.prototype.hasOwnProperty.call(m, mergeKey)) errNoMergeKey(m, mergeKey);
      original = deleteMatchingEntries(original, mergeKey, m[mergeKey]);
    } else if (directive === replaceDirective) {
      replace = true;
    } else if (directive === mergeDirective) {
      throw badPatch('merging lists cannot yet be specified in the patch');
    } else {
      errBadPatchType(directive, m);
    }
  }
  if (replace) return [materialize(plain) as unknown[], []];
  return [original, plain];
}

function deleteMatchingEntries(original: unknown[], mergeKey: string, value: unknown): unknown[] {
  return original.filter((item, i) => {
    if (!isObject(item)) throw badPatch(`value for key ${i} is not a map.`);
    return !(Object.prototype.hasOwnProperty.call(item, mergeKey) && scalarEqual(item[mergeKey], value));
  });
}

function findByKey(list: unknown[], mergeKey: string, value: unknown): number {
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (!isObject(item)) throw badPatch(`value for key ${i} is not a map.`);
    if (Object.prototype.hasOwnProperty.call(item, mergeKey) && scalarEqual(item[mergeKey], value)) return i;
  }
  return -1;
}

/** Merges each patch element into the original element with the same key, or appends it. */
function mergeSliceWithoutSpecialElements(original: unknown[], patch: unknown[], mergeKey: string, elemCtx: Ctx): unknown[] {
  const out = original.slice();
  for (const v of patch) {
    const m = v as JsonObject;
    if (!Object.prototype.hasOwnProperty.call(m, mergeKey)) errNoMergeKey(m, mergeKey);
    const i = findByKey(out, mergeKey, m[mergeKey]);
    if (i >= 0) out[i] = mergeMap(out[i] as JsonObject, m, elemCtx);
    else {
      const added = materialize(m);
      if (added !== drop) out.push(added);
    }
  }
  return out;
}

type ElementKind = 'map' | 'string' | 'number' | 'bool' | 'null';

/** The common element kind of the lists; upstream's sliceElementType. */
function sliceElementKind(...lists: unknown[][]): ElementKind {
  let kind: ElementKind | undefined;
  for (const list of lists) {
    for (const v of list) {
      if (Array.isArray(v)) throw unprocessablePatch(mergePatchMessages.noListOfLists);
      const k: ElementKind = isObject(v) ? 'map' : v === null ? 'null' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? 'number' : 'string';
      if (kind === undefined) kind = k;
      else if (kind !== k) throw badPatch(`list element types are not identical: ${goFormat(lists)}`);
    }
  }
  if (kind === undefined) throw badPatch('no elements in any of the given slices');
  return kind;
}

function partitionPrimitives(list: unknown[], by: unknown[]): [unknown[], unknown[]] {
  const inPatch: unknown[] = [];
  const serverOnly: unknown[] = [];
  for (const v of list) (by.some((b) => scalarEqual(b, v)) ? inPatch : serverOnly).push(v);
  return [inPatch, serverOnly];
}

function partitionMaps(list: unknown[], by: unknown[], mergeKey: string): [unknown[], unknown[]] {
  const inPatch: unknown[] = [];
  const serverOnly: unknown[] = [];
  for (const v of list) {
    if (!isObject(v)) errBadArgType('map', v);
    if (!Object.prototype.hasOwnProperty.call(v, mergeKey)) errNoMergeKey(v, mergeKey);
    (findByKey(by, mergeKey, v[mergeKey]) >= 0 ? inPatch : serverOnly).push(v);
  }
  return [inPatch, serverOnly];
}

/** Sorts the patch items by the patch order and the server-only items by the live order, then interleaves them. */
function normalizeElementOrder(
  patchItems: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  mergeKey: string,
  kind: ElementKind,
): unknown[] {
  const p = normalizeSliceOrder(patchItems, patchOrder, mergeKey, kind);
  const s = normalizeSliceOrder(serverOnly, serverOrder, mergeKey, kind);
  return mergeSortedSlice(s, p, serverOrder, mergeKey, kind);
}

function normalizeSliceOrder(toSort: unknown[], order: unknown[], mergeKey: string, kind: ElementKind): unknown[] {
  let toDelete: unknown[] = [];
  if (kind === 'map') {
    for (const list of [toSort, order]) {
      for (const item of list) {
        if (!isObject(item)) errBadArgType('map', item);
        if (!Object.prototype.hasOwnProperty.call(item, mergeKey)) errNoMergeKey(item, mergeKey);
      }
    }
    [toSort, toDelete] = extractToDeleteItems(toSort);
  }
  const rank = (v: unknown): number => {
    const i = indexOf(order, v, mergeKey, kind);
    return i < 0 ? Number.POSITIVE_INFINITY : i;
  };
  const sorted = toSort
    .map((v, i) => ({ v, i, r: rank(v) }))
    .sort((a, b) => (a.r === b.r ? a.i - b.i : a.r < b.r ? -1 : 1))
    .map((x) => x.v);
  return [...sorted, ...toDelete];
}

/** Merges two sorted lists, placing a server-only item before a patch item only when the live order says so. */
function mergeSortedSlice(left: unknown[], right: unknown[], serverOrder: unknown[], mergeKey: string, kind: ElementKind): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = indexOf(serverOrder, left[i], mergeKey, kind);
      const ri = indexOf(serverOrder, right[j], mergeKey, kind);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

function indexOf(list: unknown[], value: unknown, mergeKey: string, kind: ElementKind): number {
  const key = (v: unknown): unknown => (kind === 'map' ? (isObject(v) ? v[mergeKey] : undefined) : v);
  const want = key(value);
  for (let i = 0; i < list.length; i++) if (scalarEqual(key(list[i]), want)) return i;
  return -1;
}

function extractToDeleteItems(list: unknown[]): [unknown[], unknown[]] {
  const keep: unknown[] = [];
  const del: unknown[] = [];
  for (const v of list) {
    if (!isObject(v)) errBadArgType('map', v);
    (v[directiveMarker] === deleteDirective ? del : keep).push(v);
  }
  return [keep, del];
}

function dedupe(list: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const v of list) if (!out.some((o) => scalarEqual(o, v))) out.push(v);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Values copied from the patch where nothing merges with them.

const drop = Symbol('drop');

/**
 * A patch value stored as is: nulls in maps dropped, maps carrying `$patch` dropped (a `replace`
 * marker on a map value keeps the map), and directive keys removed.
 */
function materialize(v: unknown, inList = false): unknown {
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const item of v) {
      const m = materialize(item, true);
      if (m !== drop) out.push(m);
    }
    return out;
  }
  if (isObject(v)) {
    if (Object.prototype.hasOwnProperty.call(v, directiveMarker) && (inList || v[directiveMarker] !== replaceDirective)) return drop;
    const out: JsonObject = {};
    for (const k of Object.keys(v)) {
      if (k === directiveMarker || k === retainKeysDirective) continue;
      if (k.startsWith(`${setElementOrderPrefix}/`) || k.startsWith(`${deleteFromPrimitiveListPrefix}/`)) continue;
      if (v[k] === null) continue;
      const m = materialize(v[k]);
      if (m !== drop) out[k] = m;
    }
    return out;
  }
  return v;
}

function setMaterialized(target: JsonObject, key: string, v: unknown): void {
  const m = materialize(v);
  if (m === drop) delete target[key];
  else target[key] = m;
}

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'list';
  if (isObject(v)) return 'map';
  if (v === null) return 'null';
  return typeof v;
}

/** Go's interface equality for merge-key values and primitive list elements. */
function scalarEqual(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'object' && a !== null && jsonEqual(a, b));
}
