/**
 * The patch machinery behind PATCH requests: JSON patch, JSON merge patch, strategic merge patch
 * and server-side apply, with type knowledge from the generated OpenAPI schemas. Loaded on the
 * first patch, so start-up pays nothing for it.
 */
import { readFileSync } from 'node:fs';
import { errors } from '../api/errors.js';
import { applyJsonPatch } from '../api/patch/json-patch.js';
import { applyMergePatch } from '../api/patch/merge-patch.js';
import { schemaFromOpenAPI, type OpenAPIPatchSchema } from '../api/patch/schema.js';
import { strategicMergePatch } from '../api/patch/strategic-merge-patch.js';
import { applyConflictError, serverSideApply, updateManagedFields } from '../api/apply/index.js';
import type { Patcher, PatchType } from './apiserver.js';
import type { KObject } from './registry/generic/strategy.js';
import { defaultSchemasPath } from './openapi/provider.js';

export async function loadPatcher(schemasPath = defaultSchemasPath()): Promise<Patcher> {
  let schemas: Record<string, unknown>;
  try {
    const doc = JSON.parse(readFileSync(schemasPath, 'utf8'));
    schemas = doc.components?.schemas ?? doc.definitions ?? doc;
  } catch (e) {
    throw errors.internal(`OpenAPI schemas unavailable for patching (${schemasPath}): ${(e as Error).message}`);
  }
  const schema: OpenAPIPatchSchema = schemaFromOpenAPI(schemas);
  const root = (g: string, v: string, k: string) => schema.rootType({ group: g, version: v, kind: k }) ?? '';
  return {
    patch(type: PatchType, current: KObject, patch: any, ctx): KObject {
      switch (type) {
        case 'json':
          return applyJsonPatch(current, patch) as KObject;
        case 'merge':
          return applyMergePatch(current, patch) as KObject;
        case 'strategic':
          return strategicMergePatch(current, patch, schema, root(ctx.group, ctx.version, ctx.kind)) as KObject;
        default:
          throw errors.badRequest(`unsupported patch type ${type}`);
      }
    },
    apply(live, applied, ctx) {
      const apiVersion = ctx.group ? `${ctx.group}/${ctx.version}` : ctx.version;
      const r = serverSideApply(live, applied, {
        manager: ctx.manager,
        force: ctx.force,
        apiVersion,
        now: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        schema,
        rootType: root(ctx.group, ctx.version, ctx.kind),
        kind: ctx.kind,
        subresource: ctx.subresource,
        // The main resource resets status; the status subresource keeps only status.
        ignoredFields: ctx.subresource === 'status' ? [['spec'], ['metadata', 'labels'], ['metadata', 'annotations']] : [['status']],
      });
      if (r.conflicts?.length) throw applyConflictError(r.conflicts);
      return r.object as KObject;
    },
    trackUpdate(obj, old, manager, apiVersion, subresource) {
      const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
      const out = updateManagedFields(old, obj, manager, apiVersion, new Date().toISOString().replace(/\.\d+Z$/, 'Z'), schema, root(group, version, obj.kind), subresource) as KObject;
      obj.metadata.managedFields = out.metadata?.managedFields;
    },
  };
}
