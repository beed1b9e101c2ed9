/**
 * Serves the cluster's OpenAPI: `/openapi/v3` (a root listing one document per group-version),
 * `/openapi/v3/<gv>` (OpenAPI 3.0 documents with paths and the schemas they reach) and `/openapi/v2`
 * (Swagger 2.0, as JSON or as gnostic protobuf, which is the form kubectl asks for).
 *
 * Schemas come from generated/openapi/schemas.json (see scripts/gen-openapi.ts), read on first use so
 * that startup does not pay for it. Every document is built once and memoized until the resource set changes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { encodeSwaggerV2 } from './openapi-v2-proto.js';
import {
  buildPaths, gvPrefix, type GroupVersionKind, type JsonObject, type OpenAPIResource,
} from './paths.js';
import { pathsToV2, schemaToV2 } from './swagger-v2.js';

export type { GroupVersionKind, JsonObject, OpenAPIResource } from './paths.js';

/** A served document: its bytes, the content hash and the quoted ETag header value built from it. */
export interface OpenAPIDocument {
  body: Buffer;
  /** Uppercase hex SHA-512 of `body`, as upstream computes it. */
  hash: string;
  /** `"<hash>"`, ready for the ETag header. */
  etag: string;
}

/** A framework-neutral HTTP answer produced by {@link OpenAPIService.handle}. */
export interface OpenAPIHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The request fields {@link OpenAPIService.handle} looks at. */
export interface OpenAPIHttpRequest {
  /** URL path without the query, e.g. '/openapi/v3/apis/apps/v1'. */
  path: string;
  /** Query string, with or without the leading '?', or parsed parameters. */
  query?: string | URLSearchParams;
  accept?: string;
  ifNoneMatch?: string;
}

/** Options for {@link OpenAPIService}. */
export interface OpenAPIServiceOptions {
  /** `info.version` of every document. */
  version?: string;
}

import { typedDecode, type TypedDecodeResult } from './typed-decode.js';

const REF = '#/components/schemas/';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const V2_PROTOBUF = 'com.github.proto-openapi.spec.v2@v1.0+protobuf';
const V2_PROTOBUF_CURRENT = 'com.github.proto-openapi.spec.v2.v1.0+protobuf';

/** Uppercase hex SHA-512, upstream's OpenAPI ETag format. */
export function contentHash(data: Uint8Array): string {
  return createHash('sha512').update(data).digest('hex').toUpperCase();
}

/** The `/openapi/v3` key of a group-version: 'api/v1' or 'apis/<group>/<version>'. */
export function gvPath(group: string, version: string): string {
  return gvPrefix(group, version).slice(1);
}

function collectRefs(value: unknown, out: Set<string>): void {
  if (Array.isArray(value)) { for (const v of value) collectRefs(v, out); return; }
  if (!value || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith(REF)) out.add(v.slice(REF.length));
    else collectRefs(v, out);
  }
}

/** Reverse-domain definition prefix for kinds without a built-in schema ('metrics.k8s.io' → 'io.k8s.metrics'). */
function syntheticDefinition(gvk: GroupVersionKind): string {
  const group = gvk.group === '' ? 'core' : gvk.group.split('.').reverse().join('.');
  return `${group}.${gvk.version}.${gvk.kind}`;
}

function gvkKey(g: GroupVersionKind): string {
  return `${g.group}/${g.version}/${g.kind}`;
}

/** Parses an Accept header into media ranges ordered by q (stable for equal q). */
function acceptRanges(accept: string | undefined): string[] {
  const items = (accept && accept.trim() ? accept : '*/*').split(',').map((part, i) => {
    const [type, ...params] = part.trim().split(';').map((s) => s.trim());
    const q = params.find((p) => p.startsWith('q='));
    return { type: type!.toLowerCase(), q: q ? Number(q.slice(2)) : 1, i };
  });
  return items.filter((x) => x.q > 0).sort((a, b) => b.q - a.q || a.i - b.i).map((x) => x.type);
}

function rangeMatches(range: string, type: string): boolean {
  if (range === '*/*') return true;
  const [rt, rs] = range.split('/');
  const [t, s] = type.split('/');
  return rt === t && (rs === '*' || rs === s);
}

function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((t) => {
    const v = t.trim().replace(/^W\//, '');
    return v === '*' || v === etag;
  });
}

/**
 * Builds and serves OpenAPI documents for a set of served resources.
 *
 * ```ts
 * const openapi = new OpenAPIService(resources, 'generated/openapi/schemas.json');
 * const res = openapi.handle({ path: url.pathname, query: url.search, accept: req.headers.accept });
 * ```
 */
export class OpenAPIService {
  private resources: OpenAPIResource[];
  private readonly version: string;
  private schemas?: Record<string, JsonObject>;
  private byGvk?: Map<string, string>;
  private synthetic = new Map<string, JsonObject>();
  private readonly v3Docs = new Map<string, OpenAPIDocument | null>();
  private root?: { paths: Record<string, { serverRelativeURL: string }> };
  private v2?: { json: JsonObject; jsonDoc: OpenAPIDocument; proto?: Buffer };

  /**
   * @param resources the served resources (the caller maps its registry into {@link OpenAPIResource}s)
   * @param schemasPath path of generated/openapi/schemas.json, or the schema map itself
   */
  constructor(
    resources: OpenAPIResource[],
    private readonly schemasPath: string | Record<string, JsonObject>,
    options: OpenAPIServiceOptions = {},
  ) {
    this.resources = [...resources];
    this.version = options.version ?? 'v1.32.4+k8ts';
  }

  /** Replaces the served resources (e.g. after a CRD change); every document and hash is rebuilt lazily. */
  setResources(resources: OpenAPIResource[]): void {
    this.resources = [...resources];
    this.synthetic = new Map();
    this.v3Docs.clear();
    this.root = undefined;
    this.v2 = undefined;
  }

  /** The group-version paths served, e.g. ['api/v1', 'apis/apps/v1'], sorted. */
  groupVersions(): string[] {
    return [...new Set(this.resources.map((r) => gvPath(r.group, r.version)))].sort();
  }

  /** The `/openapi/v3` discovery document: one serverRelativeURL with a content hash per group-version. */
  v3Root(): { paths: Record<string, { serverRelativeURL: string }> } {
    if (this.root) return this.root;
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const gv of this.groupVersions()) {
      const doc = this.v3Document(gv)!;
      paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${doc.hash}` };
    }
    this.root = { paths };
    return this.root;
  }

  /** The OpenAPI 3.0 document of one group-version ('api/v1', 'apis/apps/v1'), or undefined if not served. */
  v3Document(gv: string): OpenAPIDocument | undefined {
    const key = gv.replace(/^\/+|\/+$/g, '');
    const cached = this.v3Docs.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const resources = this.resources.filter((r) => gvPath(r.group, r.version) === key);
    if (resources.length === 0) {
      this.v3Docs.set(key, null);
      return undefined;
    }
    const doc = this.buildV3(resources);
    const body = Buffer.from(JSON.stringify(doc));
    const hash = contentHash(body);
    const out = { body, hash, etag: `"${hash}"` };
    this.v3Docs.set(key, out);
    return out;
  }

  /** The v3 document of a group-version as an object (parsed from the memoized bytes). */
  v3Json(gv: string): JsonObject | undefined {
    const doc = this.v3Document(gv);
    return doc ? (JSON.parse(doc.body.toString('utf8')) as JsonObject) : undefined;
  }

  /** The Swagger 2.0 document of every served resource, with `#/definitions/X` refs. */
  v2Json(): JsonObject {
    return this.v2Built().json;
  }

  /** The Swagger 2.0 document as JSON bytes with its hash. */
  v2Document(): OpenAPIDocument {
    return this.v2Built().jsonDoc;
  }

  /** The Swagger 2.0 document encoded as gnostic `openapi.v2.Document` protobuf. */
  v2Protobuf(): OpenAPIDocument {
    const v2 = this.v2Built();
    v2.proto ??= encodeSwaggerV2(v2.json);
    // The ETag names the document, not the encoding (upstream hashes the JSON for both).
    return { body: v2.proto, hash: v2.jsonDoc.hash, etag: v2.jsonDoc.etag };
  }

  /**
   * Field paths in `obj` that the kind's schema does not declare, in the form upstream's strict decoding
   * errors use (`spec.template.spec.containers[0].foo`). Free-form parts (no properties, or
   * `x-kubernetes-preserve-unknown-fields`) are not checked. Kinds without a schema yield none.
   */
  /**
   * Decode `obj` against the kind's schema (see typed-decode.ts): type errors, nulls to zero
   * values, unknown fields (removed when `prune`). Kinds without a schema pass unchecked.
   */
  decodeTyped(obj: unknown, gvk: GroupVersionKind, prune: boolean): TypedDecodeResult {
    const def = this.lookup(gvk);
    const root = def ? this.schema(def) : undefined;
    if (!def || !root) return { unknown: [], typeErrors: [] };
    return typedDecode(obj, root, def, this.resolveRef, prune);
  }

  /** `$ref` (or a one-element `allOf` of one) resolved to the named schema; memoized per schema object. */
  private readonly resolved = new WeakMap<JsonObject, { schema: JsonObject | undefined; name?: string }>();
  private resolveRef = (start: JsonObject | undefined): { schema: JsonObject | undefined; name?: string } => {
    if (!start) return { schema: undefined };
    const known = this.resolved.get(start);
    if (known) return known;
    let s: JsonObject | undefined = start;
    let name: string | undefined;
    let result: { schema: JsonObject | undefined; name?: string } | undefined;
    for (let i = 0; s && i < 32; i++) {
      const allOf = s.allOf as JsonObject[] | undefined;
      const ref: string | undefined = typeof s.$ref === 'string' ? s.$ref
        : Array.isArray(allOf) && allOf.length === 1 && typeof allOf[0]!.$ref === 'string' ? allOf[0]!.$ref as string
          : undefined;
      if (!ref) {
        result = { schema: s, name };
        break;
      }
      name = ref.startsWith(REF) ? ref.slice(REF.length) : undefined;
      s = name ? this.schema(name) : undefined;
    }
    result ??= { schema: s, name };
    // An unresolved reference is not remembered: its schema may be registered later.
    if (result.schema) this.resolved.set(start, result);
    return result;
  };

  unknownFields(obj: unknown, gvk: GroupVersionKind, prune = false): string[] {
    const def = this.lookup(gvk);
    const out: string[] = [];
    if (def) this.walkUnknown(obj, this.schema(def), '', out, 0, prune);
    return out;
  }

  private resolveSchema(s: JsonObject | undefined): JsonObject | undefined {
    for (let i = 0; s && i < 32; i++) {
      const allOf = s.allOf as JsonObject[] | undefined;
      const ref = typeof s.$ref === 'string' ? s.$ref
        : Array.isArray(allOf) && allOf.length === 1 && typeof allOf[0]!.$ref === 'string' ? allOf[0]!.$ref as string
          : undefined;
      if (!ref) return s;
      s = ref.startsWith(REF) ? this.schema(ref.slice(REF.length)) : undefined;
    }
    return s;
  }

  /** Collects unknown field paths; with `prune`, also removes those fields (as decoding into Go types does). */
  private walkUnknown(value: unknown, schema: JsonObject | undefined, path: string, out: string[], depth: number, prune = false): void {
    const s = this.resolveSchema(schema);
    if (!s || depth > 64 || s['x-kubernetes-preserve-unknown-fields'] === true) return;
    if (Array.isArray(value)) {
      if (s.items) value.forEach((v, i) => this.walkUnknown(v, s.items as JsonObject, `${path}[${i}]`, out, depth + 1, prune));
      return;
    }
    if (!value || typeof value !== 'object') return;
    const props = s.properties as Record<string, JsonObject> | undefined;
    const extra = s.additionalProperties;
    for (const [k, v] of Object.entries(value)) {
      if (props && k in props) {
        this.walkUnknown(v, props[k], path ? `${path}.${k}` : k, out, depth + 1, prune);
      } else if (extra && typeof extra === 'object') {
        this.walkUnknown(v, extra as JsonObject, path ? `${path}.${k}` : k, out, depth + 1, prune);
      } else if (props && extra !== true) {
        out.push(path ? `${path}.${k}` : k);
        if (prune) delete (value as Record<string, unknown>)[k];
      }
    }
  }

  /**
   * Answers a GET for `/openapi/v2`, `/openapi/v3` or `/openapi/v3/<gv>` the way upstream does: ETags with
   * 304 on If-None-Match, `Cache-Control: public, immutable` for a matching `?hash=`, a 301 to the current
   * URL for a stale hash, 406 for unsupported media types. Returns undefined for other paths.
   */
  handle(req: OpenAPIHttpRequest): OpenAPIHttpResponse | undefined {
    const path = req.path.replace(/\/+$/, '');
    const query = typeof req.query === 'string' || req.query === undefined
      ? new URLSearchParams(req.query ?? '') : req.query;
    if (path === '/openapi/v3') {
      const body = Buffer.from(JSON.stringify(this.v3Root()));
      const etag = `"${contentHash(body)}"`;
      return this.respond(req, 200, { 'Content-Type': 'application/json', ETag: etag }, body, etag);
    }
    if (path.startsWith('/openapi/v3/')) {
      const gv = path.slice('/openapi/v3/'.length);
      const doc = this.v3Document(gv);
      if (!doc) return notFound();
      const vary = { Vary: 'Accept' };
      if (!acceptRanges(req.accept).some((r) => rangeMatches(r, 'application/json'))) {
        return { status: 406, headers: vary, body: Buffer.alloc(0) };
      }
      const hash = query.get('hash');
      if (hash && hash !== doc.hash) {
        return {
          status: 301,
          headers: { ...vary, Location: `/openapi/v3/${gv}?hash=${doc.hash}` },
          body: Buffer.alloc(0),
        };
      }
      const headers: Record<string, string> = { ...vary, 'Content-Type': 'application/json', ETag: doc.etag };
      if (hash) {
        headers['Cache-Control'] = 'public, immutable';
        headers.Expires = new Date(Date.now() + 365 * 24 * 3600 * 1000).toUTCString();
      }
      return this.respond(req, 200, headers, doc.body, doc.etag);
    }
    if (path === '/openapi/v2') {
      for (const range of acceptRanges(req.accept)) {
        if (range === `application/${V2_PROTOBUF}` || range === `application/${V2_PROTOBUF_CURRENT}`) {
          const doc = this.v2Protobuf();
          return this.respond(req, 200, {
            Vary: 'Accept', 'Content-Type': `application/${V2_PROTOBUF_CURRENT}`, ETag: doc.etag,
          }, doc.body, doc.etag);
        }
        if (rangeMatches(range, 'application/json')) {
          const doc = this.v2Document();
          return this.respond(req, 200, { Vary: 'Accept', 'Content-Type': 'application/json', ETag: doc.etag },
            doc.body, doc.etag);
        }
      }
      return { status: 406, headers: { Vary: 'Accept' }, body: Buffer.alloc(0) };
    }
    return undefined;
  }

  private respond(
    req: OpenAPIHttpRequest, status: number, headers: Record<string, string>, body: Buffer, etag: string,
  ): OpenAPIHttpResponse {
    if (etagMatches(req.ifNoneMatch, etag)) return { status: 304, headers, body: Buffer.alloc(0) };
    return { status, headers: { ...headers, 'Content-Length': String(body.length) }, body };
  }

  // -------------------------------------------------------------------------------------------------------

  private loadSchemas(): Record<string, JsonObject> {
    if (!this.schemas) {
      this.schemas = typeof this.schemasPath === 'string'
        ? (JSON.parse(readFileSync(this.schemasPath, 'utf8')) as Record<string, JsonObject>)
        : this.schemasPath;
      this.byGvk = new Map();
      for (const [def, s] of Object.entries(this.schemas)) {
        const gvks = s['x-kubernetes-group-version-kind'];
        if (Array.isArray(gvks)) for (const g of gvks as GroupVersionKind[]) this.byGvk.set(gvkKey(g), def);
      }
    }
    return this.schemas;
  }

  private schema(def: string): JsonObject | undefined {
    return this.synthetic.get(def) ?? this.loadSchemas()[def];
  }

  /** Definition of a kind: the built-in one, the resource's own schema, or a permissive stand-in. */
  private lookup = (gvk: GroupVersionKind): string | undefined => {
    this.loadSchemas();
    const known = this.byGvk!.get(gvkKey(gvk));
    if (known) return known;
    const isList = gvk.kind.endsWith('List');
    const itemKind = isList ? gvk.kind.slice(0, -4) : gvk.kind;
    const owner = this.resources.find((r) => r.group === gvk.group && r.version === gvk.version && r.kind === itemKind);
    if (!owner) return undefined;
    const def = syntheticDefinition(gvk);
    if (!this.synthetic.has(def)) {
      const gvkExt = [{ group: gvk.group, kind: gvk.kind, version: gvk.version }];
      const typeMeta = {
        apiVersion: { type: 'string', description: 'Versioned schema of this representation of an object.' },
        kind: { type: 'string', description: 'REST resource this object represents.' },
      };
      if (isList) {
        const itemDef = this.lookup({ ...gvk, kind: itemKind })!;
        this.synthetic.set(def, {
          description: `${gvk.kind} is a list of ${itemKind}.`,
          type: 'object',
          required: ['items'],
          properties: {
            ...typeMeta,
            items: { type: 'array', items: { allOf: [{ $ref: REF + itemDef }], default: {} } },
            metadata: { allOf: [{ $ref: REF + META + 'ListMeta' }], default: {} },
          },
          'x-kubernetes-group-version-kind': gvkExt,
        });
      } else if (owner.schema) {
        this.synthetic.set(def, { ...owner.schema, 'x-kubernetes-group-version-kind': gvkExt });
      } else {
        this.synthetic.set(def, {
          description: `${gvk.kind} (${gvk.group || 'core'}/${gvk.version}) has no published schema.`,
          type: 'object',
          properties: { ...typeMeta, metadata: { allOf: [{ $ref: REF + META + 'ObjectMeta' }], default: {} } },
          'x-kubernetes-group-version-kind': gvkExt,
          'x-kubernetes-preserve-unknown-fields': true,
        });
      }
    }
    return def;
  };

  private isBuiltin = (r: OpenAPIResource): boolean => {
    this.loadSchemas();
    return this.byGvk!.has(gvkKey(r));
  };

  /** The definitions reachable from `roots`, sorted by name. */
  private closure(roots: unknown): Record<string, JsonObject> {
    const seen = new Set<string>();
    const pending = new Set<string>();
    collectRefs(roots, pending);
    while (pending.size) {
      const [def] = pending;
      pending.delete(def!);
      if (seen.has(def!)) continue;
      seen.add(def!);
      const s = this.schema(def!);
      if (!s) throw new Error(`openapi: schema ${def} is referenced but not defined`);
      const next = new Set<string>();
      collectRefs(s, next);
      for (const n of next) if (!seen.has(n)) pending.add(n);
    }
    const out: Record<string, JsonObject> = {};
    for (const def of [...seen].sort()) out[def] = this.schema(def)!;
    return out;
  }

  private buildV3(resources: OpenAPIResource[]): JsonObject {
    const paths = buildPaths({ resources, lookup: this.lookup, isBuiltin: this.isBuiltin });
    // The kinds themselves are listed even when no operation references them (e.g. get-less resources).
    const kindRefs = resources.map((r) => this.lookup(r)).filter(Boolean).map((d) => ({ $ref: REF + d }));
    return {
      openapi: '3.0.0',
      info: { title: 'Kubernetes', version: this.version },
      paths,
      components: { schemas: this.closure([paths, kindRefs]) },
    };
  }

  private v2Built(): { json: JsonObject; jsonDoc: OpenAPIDocument; proto?: Buffer } {
    if (this.v2) return this.v2;
    const paths = buildPaths({ resources: this.resources, lookup: this.lookup, isBuiltin: this.isBuiltin });
    const kindRefs = this.resources.map((r) => this.lookup(r)).filter(Boolean).map((d) => ({ $ref: REF + d }));
    const schemas = this.closure([paths, kindRefs]);
    const definitions: JsonObject = {};
    for (const [def, s] of Object.entries(schemas)) definitions[def] = schemaToV2(s);
    const json: JsonObject = {
      swagger: '2.0',
      info: { title: 'Kubernetes', version: this.version },
      paths: pathsToV2(paths),
      definitions,
    };
    const body = Buffer.from(JSON.stringify(json));
    const hash = contentHash(body);
    this.v2 = { json, jsonDoc: { body, hash, etag: `"${hash}"` } };
    return this.v2;
  }
}

function notFound(): OpenAPIHttpResponse {
  const body = Buffer.from(JSON.stringify({
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: 'the server could not find the requested resource', reason: 'NotFound', details: {}, code: 404,
  }));
  return { status: 404, headers: { 'Content-Type': 'application/json' }, body };
}
