/**
 * Converts the OpenAPI v3 pieces k8ts builds (schemas and operations) into a Swagger 2.0 document, the
 * format of `/openapi/v2`: refs become `#/definitions/X`, `allOf` ref wrappers become plain `$ref`s,
 * request bodies become `in: body` parameters and response `content` becomes `schema` plus `produces`.
 */
import type { JsonObject } from './paths.js';

const V3_REF = '#/components/schemas/';
const V2_REF = '#/definitions/';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];

/** Rewrites one v3 schema as a v2 schema. */
export function schemaToV2(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(schemaToV2);
  if (!schema || typeof schema !== 'object') return schema;
  const s = schema as JsonObject;
  const out: JsonObject = {};
  const allOf = s.allOf as JsonObject[] | undefined;
  if (Array.isArray(allOf) && allOf.length === 1 && typeof allOf[0]!.$ref === 'string' && !('$ref' in s)) {
    out.$ref = (allOf[0]!.$ref as string).replace(V3_REF, V2_REF);
  }
  for (const [k, v] of Object.entries(s)) {
    if (k === 'allOf' && out.$ref) continue;
    if (k === '$ref' && typeof v === 'string') { out.$ref = v.replace(V3_REF, V2_REF); continue; }
    // Vendor extensions and defaults are data, not schemas: copy them untouched.
    if (k.startsWith('x-') || k === 'default' || k === 'enum' || k === 'example') { out[k] = v; continue; }
    if (k === 'properties' && v && typeof v === 'object') {
      const props: JsonObject = {};
      for (const [name, sub] of Object.entries(v as JsonObject)) props[name] = schemaToV2(sub);
      out[k] = props;
      continue;
    }
    // Swagger 2.0 has no oneOf: IntOrString and Quantity are strings there, as upstream's v2 publishes them.
    if (k === 'oneOf') { if (!('type' in s)) out.type = 'string'; continue; }
    if (k === 'nullable' || k === 'anyOf') continue;
    out[k] = schemaToV2(v);
  }
  return out;
}

function parameterToV2(p: JsonObject): JsonObject {
  const schema = (p.schema ?? {}) as JsonObject;
  const out: JsonObject = { description: p.description, in: p.in, name: p.name, type: schema.type };
  if (p.required) out.required = true;
  if (schema.uniqueItems) out.uniqueItems = true;
  return out;
}

function operationToV2(op: JsonObject): JsonObject {
  const out: JsonObject = {};
  let consumes: string[] | undefined;
  const produces = new Set<string>();
  const params: JsonObject[] = [];
  for (const [k, v] of Object.entries(op)) {
    if (k === 'parameters') { for (const p of v as JsonObject[]) params.push(parameterToV2(p)); continue; }
    if (k === 'requestBody') {
      const body = v as JsonObject;
      const media = (body.content ?? {}) as Record<string, JsonObject>;
      consumes = Object.keys(media);
      const first = Object.values(media)[0];
      params.unshift({
        in: 'body', name: 'body', required: body.required === true,
        schema: schemaToV2(first?.schema ?? { type: 'object' }),
      });
      continue;
    }
    if (k === 'responses') {
      const responses: JsonObject = {};
      for (const [code, r] of Object.entries(v as Record<string, JsonObject>)) {
        const media = (r.content ?? {}) as Record<string, JsonObject>;
        for (const t of Object.keys(media)) produces.add(t);
        const first = Object.values(media)[0];
        responses[code] = first?.schema
          ? { description: r.description, schema: schemaToV2(first.schema) }
          : { description: r.description };
      }
      out.responses = responses;
      continue;
    }
    out[k] = v;
  }
  if (consumes) out.consumes = consumes;
  if (produces.size) out.produces = [...produces];
  if (params.length) out.parameters = params;
  out.schemes = ['https'];
  return out;
}

/** Converts a v3 `paths` object to Swagger 2.0 paths. */
export function pathsToV2(paths: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [path, item] of Object.entries(paths)) {
    const v2: JsonObject = {};
    for (const [k, v] of Object.entries(item as JsonObject)) {
      if (k === 'parameters') v2.parameters = (v as JsonObject[]).map(parameterToV2);
      else if (METHODS.includes(k)) v2[k] = operationToV2(v as JsonObject);
      else v2[k] = v;
    }
    out[path] = v2;
  }
  return out;
}
