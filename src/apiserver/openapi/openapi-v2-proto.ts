/**
 * Encodes a Swagger 2.0 document as gnostic's `openapi.v2.Document` protobuf, the only form kubectl asks
 * `/openapi/v2` for (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`). The mapping follows
 * gnostic's JSON-to-proto compiler: named maps become repeated (name, value) pairs in document order, `type`
 * becomes a TypeItem, and vendor extensions, defaults and enum values are carried as YAML text.
 */
import { createRequire } from 'node:module';
import type * as Protobuf from 'protobufjs';
import type * as Yaml from 'yaml';
import { openapiV2Descriptor } from './openapi-v2-descriptor.js';
import type { JsonObject } from './paths.js';

type Msg = Record<string, unknown>;

// Both libraries load on the first /openapi/v2 request: together they are ~120 modules that a
// server start does not need.
const require = createRequire(import.meta.url);
let yamlLib: typeof Yaml | undefined;
let documentType: Protobuf.Type | undefined;

function docType(): Protobuf.Type {
  const protobuf = require('protobufjs') as typeof Protobuf;
  documentType ??= protobuf.Root.fromJSON(openapiV2Descriptor).lookupType('openapi.v2.Document');
  return documentType;
}

function anyOf(value: unknown): Msg {
  yamlLib ??= require('yaml') as typeof Yaml;
  return { yaml: yamlLib.stringify(value) };
}

function vendorExtensions(obj: JsonObject): Msg[] {
  return Object.keys(obj)
    .filter((k) => k.startsWith('x-'))
    .map((name) => ({ name, value: anyOf(obj[name]) }));
}

const SCHEMA_SCALARS: Record<string, string> = {
  format: 'format', title: 'title', description: 'description', multipleOf: 'multiple_of', maximum: 'maximum',
  exclusiveMaximum: 'exclusive_maximum', minimum: 'minimum', exclusiveMinimum: 'exclusive_minimum',
  maxLength: 'max_length', minLength: 'min_length', pattern: 'pattern', maxItems: 'max_items',
  minItems: 'min_items', uniqueItems: 'unique_items', maxProperties: 'max_properties',
  minProperties: 'min_properties', discriminator: 'discriminator', readOnly: 'read_only',
};

/** Converts a Swagger 2.0 schema object to an `openapi.v2.Schema` message. */
export function schemaMessage(s: JsonObject): Msg {
  const m: Msg = {};
  if (typeof s.$ref === 'string') m._ref = s.$ref;
  for (const [k, field] of Object.entries(SCHEMA_SCALARS)) if (s[k] !== undefined) m[field] = s[k];
  if (s.default !== undefined) m.default = anyOf(s.default);
  if (s.example !== undefined) m.example = anyOf(s.example);
  if (Array.isArray(s.required)) m.required = s.required;
  if (Array.isArray(s.enum)) m.enum = s.enum.map(anyOf);
  if (typeof s.additionalProperties === 'boolean') m.additional_properties = { boolean: s.additionalProperties };
  else if (s.additionalProperties) m.additional_properties = { schema: schemaMessage(s.additionalProperties as JsonObject) };
  if (typeof s.type === 'string') m.type = { value: [s.type] };
  else if (Array.isArray(s.type)) m.type = { value: s.type };
  if (Array.isArray(s.items)) m.items = { schema: (s.items as JsonObject[]).map(schemaMessage) };
  else if (s.items) m.items = { schema: [schemaMessage(s.items as JsonObject)] };
  if (Array.isArray(s.allOf)) m.all_of = (s.allOf as JsonObject[]).map(schemaMessage);
  if (s.properties) {
    m.properties = {
      additional_properties: Object.entries(s.properties as Record<string, JsonObject>)
        .map(([name, v]) => ({ name, value: schemaMessage(v) })),
    };
  }
  const ext = vendorExtensions(s);
  if (ext.length) m.vendor_extension = ext;
  return m;
}

function parameterMessage(p: JsonObject): Msg {
  if (typeof p.$ref === 'string') return { json_reference: { _ref: p.$ref } };
  if (p.in === 'body') {
    return {
      parameter: {
        body_parameter: {
          description: p.description, name: p.name, in: p.in, required: p.required === true,
          schema: schemaMessage((p.schema ?? {}) as JsonObject),
        },
      },
    };
  }
  const sub: Msg = {
    required: p.required === true, in: p.in, description: p.description, name: p.name, type: p.type,
  };
  if (p.format !== undefined) sub.format = p.format;
  if (p.uniqueItems !== undefined) sub.unique_items = p.uniqueItems;
  const ext = vendorExtensions(p);
  if (ext.length) sub.vendor_extension = ext;
  const key = p.in === 'path' ? 'path_parameter_sub_schema' : 'query_parameter_sub_schema';
  return { parameter: { non_body_parameter: { [key]: sub } } };
}

function operationMessage(op: JsonObject): Msg {
  const m: Msg = {};
  for (const k of ['tags', 'summary', 'description', 'produces', 'consumes', 'schemes', 'deprecated']) {
    if (op[k] !== undefined) m[k] = op[k];
  }
  if (op.operationId !== undefined) m.operation_id = op.operationId;
  if (Array.isArray(op.parameters)) m.parameters = (op.parameters as JsonObject[]).map(parameterMessage);
  if (op.responses) {
    m.responses = {
      response_code: Object.entries(op.responses as Record<string, JsonObject>).map(([name, r]) => {
        const resp: Msg = { description: r.description ?? '' };
        if (r.schema) resp.schema = { schema: schemaMessage(r.schema as JsonObject) };
        return { name, value: { response: resp } };
      }),
    };
  }
  const ext = vendorExtensions(op);
  if (ext.length) m.vendor_extension = ext;
  return m;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];

/** Encodes a Swagger 2.0 JSON document into gnostic `openapi.v2.Document` protobuf bytes. */
export function encodeSwaggerV2(doc: JsonObject): Buffer {
  const info = (doc.info ?? {}) as JsonObject;
  const m: Msg = {
    swagger: doc.swagger ?? '2.0',
    info: { title: info.title ?? '', version: info.version ?? '' },
  };
  if (doc.paths) {
    m.paths = {
      path: Object.entries(doc.paths as Record<string, JsonObject>).map(([name, item]) => {
        const pi: Msg = {};
        for (const method of METHODS) if (item[method]) pi[method] = operationMessage(item[method] as JsonObject);
        if (Array.isArray(item.parameters)) pi.parameters = (item.parameters as JsonObject[]).map(parameterMessage);
        return { name, value: pi };
      }),
    };
  }
  if (doc.definitions) {
    m.definitions = {
      additional_properties: Object.entries(doc.definitions as Record<string, JsonObject>)
        .map(([name, s]) => ({ name, value: schemaMessage(s) })),
    };
  }
  const t = docType();
  // Messages are built with the exact field names and JS types, so encode() takes them without fromObject().
  return Buffer.from(t.encode(m).finish());
}

/** Decodes `openapi.v2.Document` bytes into a plain object (field names as in the .proto); for tests. */
export function decodeSwaggerV2(bytes: Uint8Array): Msg {
  const t = docType();
  return t.toObject(t.decode(bytes), { defaults: false, arrays: true }) as Msg;
}
