/** The patch formats the API server accepts on PATCH, and the type knowledge they need. */
export { applyJsonPatch, decodeJsonPatch, maxJsonPatchOperations, type JsonPatchOperation } from './json-patch.js';
export { applyMergePatch, mergePatchValue } from './merge-patch.js';
export { strategicMergePatch } from './strategic-merge-patch.js';
export {
  emptyPatchSchema,
  findRootType,
  schemaFromOpenAPI,
  type GroupVersionKind,
  type OpenAPIPatchSchema,
  type PatchFieldMeta,
  type PatchSchema,
  type PatchTypeMeta,
} from './schema.js';
export { atomicTypes, patchMeta, type FieldPatchFacts } from './patch-meta.js';
