/**
 * RFC 7386 JSON merge patch (`application/merge-patch+json`), as the API server applies it
 * (evanphx/json-patch MergePatch): objects merge recursively, `null` deletes, everything else replaces.
 * Like upstream, nulls nested inside replaced values are dropped rather than stored.
 */
import { cloneJson, isObject, type JsonObject } from './json-value.js';
import { badPatch, mergePatchMessages } from './patch-errors.js';

/**
 * Applies a JSON merge patch to a copy of `original`.
 * @param original the current object (not modified)
 * @param patch the parsed request body; must be a JSON object
 * @returns the patched object
 * @throws StatusError 400 "Invalid JSON Patch" when the patch is not an object
 */
export function applyMergePatch(original: object, patch: unknown): JsonObject {
  if (!isObject(original)) throw badPatch(mergePatchMessages.badJSONDoc);
  if (!isObject(patch)) throw badPatch('Invalid JSON Patch');
  return mergeInto(cloneJson(original) as JsonObject, patch);
}

/**
 * RFC 7386 MergePatch(target, patch) on plain values, without copying `target` first
 * (the result may share structure with `target`, never with `patch`).
 */
export function mergePatchValue(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return pruneNulls(cloneJson(patch));
  return mergeInto(isObject(target) ? target : {}, patch);
}

function mergeInto(doc: JsonObject, patch: JsonObject): JsonObject {
  for (const k of Object.keys(patch)) {
    const pv = patch[k];
    if (pv === null) {
      delete doc[k];
      continue;
    }
    const cur = doc[k];
    if (isObject(cur) && isObject(pv)) doc[k] = mergeInto(cur, pv);
    else doc[k] = pruneNulls(cloneJson(pv));
  }
  return doc;
}

/** Drops null members of objects, at any depth (null array elements stay, as upstream keeps them). */
function pruneNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (x === null ? x : pruneNulls(x)));
  if (isObject(v)) {
    for (const k of Object.keys(v)) {
      if (v[k] === null) delete v[k];
      else v[k] = pruneNulls(v[k]);
    }
  }
  return v;
}
