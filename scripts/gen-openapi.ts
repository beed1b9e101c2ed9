/**
 * Generates generated/openapi/schemas.json: OpenAPI v3 schemas of every built-in kind, keyed by upstream
 * definition name (io.k8s.api.core.v1.Pod, ...), derived from the installed `kubernetes-types` declarations.
 *
 * Run: node --import tsx scripts/gen-openapi.ts [--out <file>]
 *
 * TypeScript 7 ships no in-process compiler API (only an unstable IPC client to the native binary), so the
 * declarations are read with a small parser for the regular shape kubernetes-types uses: JSDoc-commented
 * `export interface X { field?: T; }` and `export type X = T;`, imports between files, `Array<T>`, `T[]`,
 * `{ [name: string]: T; }`, string literal types and unions.
 *
 * Integer formats come from @kubernetes/client-node's model type maps when installed (int32/int64/double/byte),
 * otherwise from a short table of int64 field names. Patch metadata comes from src/api/patch/patch-meta.ts.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** A JSON-compatible OpenAPI v3 schema object. */
export type Schema = { [key: string]: unknown };

/** Patch metadata per definition name and field, as exported by src/api/patch/patch-meta.ts. */
export type PatchMeta = Record<string, Record<string, { strategy?: string; mergeKey?: string }>>;

/** Format facts per definition name and field, e.g. int64 or byte. */
export type FormatFacts = Map<string, Map<string, string>>;

/** Options for {@link generateSchemas}. */
export interface GenerateOptions {
  /** Root of the kubernetes-types package; defaults to the one resolved from this repository. */
  typesDir?: string;
  /** Patch metadata; `undefined` loads src/api/patch/patch-meta.ts if present, `null` skips annotations. */
  patchMeta?: PatchMeta | null;
  /** Field formats; `undefined` derives them from @kubernetes/client-node if installed. */
  formats?: FormatFacts | null;
}

/** Result of {@link generateSchemas}. */
export interface GenerateResult {
  schemas: Record<string, Schema>;
  warnings: string[];
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REF_PREFIX = '#/components/schemas/';

// ---------------------------------------------------------------------------------------------------------
// Tokenizer and parser for the declaration subset.

type Token =
  | { t: 'doc'; v: string }
  | { t: 'id'; v: string }
  | { t: 'str'; v: string }
  | { t: 'num'; v: string }
  | { t: 'p'; v: string };

function tokenize(src: string, file: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new Error(`${file}: unterminated comment`);
      if (src[i + 2] === '*' && src[i + 3] !== '/') out.push({ t: 'doc', v: src.slice(i + 3, end) });
      i = end + 2;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      const end = src.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < n && src[j] !== c) {
        if (src[j] === '\\') { s += src[j + 1]; j += 2; continue; }
        s += src[j];
        j++;
      }
      out.push({ t: 'str', v: s });
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w$]/.test(src[j]!)) j++;
      out.push({ t: 'id', v: src.slice(i, j) });
      i = j;
      continue;
    }
    if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && /[0-9.]/.test(src[j]!)) j++;
      out.push({ t: 'num', v: src.slice(i, j) });
      i = j;
      continue;
    }
    if ('{}<>[]();:?|,=.&'.includes(c)) { out.push({ t: 'p', v: c }); i++; continue; }
    throw new Error(`${file}: unexpected character ${JSON.stringify(c)} at offset ${i}`);
  }
  return out;
}

/** A parsed type expression. */
export type TypeNode =
  | { k: 'prim'; name: string }
  | { k: 'lit'; value: string }
  | { k: 'ref'; name: string }
  | { k: 'array'; elem: TypeNode }
  | { k: 'map'; value: TypeNode }
  | { k: 'object'; members: Member[] }
  | { k: 'union'; types: TypeNode[] };

/** A parsed interface member. */
export interface Member {
  name: string;
  optional: boolean;
  doc?: string;
  type: TypeNode;
}

/** A parsed top-level declaration. */
export type Decl =
  | { kind: 'interface'; name: string; doc?: string; members: Member[] }
  | { kind: 'alias'; name: string; doc?: string; type: TypeNode };

/** A parsed declaration file. */
export interface ParsedModule {
  /** Module id relative to the package root, without extension, e.g. "core/v1". */
  id: string;
  imports: Map<string, { module: string; name: string }>;
  decls: Decl[];
}

const PRIMITIVES = new Set(['string', 'number', 'boolean', 'any', 'unknown', 'null', 'object']);

/** Turns a JSDoc body into plain description text (leading `*` gutters removed, blank edges trimmed). */
export function docText(raw: string): string {
  const lines = raw.split('\n').map((l) => l.replace(/^\s*\* ?/, '').replace(/\s+$/, ''));
  if (lines.length === 1) return lines[0]!.trim();
  while (lines.length && lines[0] === '') lines.shift();
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n');
}

class Parser {
  private pos = 0;
  constructor(private readonly toks: Token[], private readonly file: string) {}

  private peek(o = 0): Token | undefined { return this.toks[this.pos + o]; }
  private fail(msg: string): never {
    const tok = this.peek();
    throw new Error(`${this.file}: ${msg} near token ${this.pos} ${tok ? JSON.stringify(tok) : 'EOF'}`);
  }
  private isP(v: string, o = 0): boolean { const t = this.peek(o); return t?.t === 'p' && t.v === v; }
  private isId(v: string, o = 0): boolean { const t = this.peek(o); return t?.t === 'id' && t.v === v; }
  private expectP(v: string): void { if (!this.isP(v)) this.fail(`expected '${v}'`); this.pos++; }
  private expectId(v?: string): string {
    const t = this.peek();
    if (t?.t !== 'id' || (v !== undefined && t.v !== v)) this.fail(`expected ${v ?? 'identifier'}`);
    this.pos++;
    return t.v;
  }
  private takeDoc(): string | undefined {
    let doc: string | undefined;
    while (this.peek()?.t === 'doc') { doc = docText((this.peek() as { v: string }).v); this.pos++; }
    return doc;
  }

  parseModule(id: string, resolveImport: (spec: string) => string): ParsedModule {
    const mod: ParsedModule = { id, imports: new Map(), decls: [] };
    while (this.pos < this.toks.length) {
      const doc = this.takeDoc();
      if (this.pos >= this.toks.length) break;
      if (this.isId('import')) { this.parseImport(mod, resolveImport); continue; }
      if (this.isId('export')) {
        this.pos++;
        if (this.isId('declare')) this.pos++;
        if (this.isId('interface')) {
          this.pos++;
          const name = this.expectId();
          if (this.isId('extends')) this.fail(`interface ${name} uses extends, which the generator does not support`);
          mod.decls.push({ kind: 'interface', name, doc, members: this.parseMembers() });
          continue;
        }
        if (this.isId('type')) {
          this.pos++;
          const name = this.expectId();
          this.expectP('=');
          const type = this.parseType();
          this.expectP(';');
          mod.decls.push({ kind: 'alias', name, doc, type });
          continue;
        }
        if (this.isP('{')) { this.skipBalanced(); if (this.isP(';')) this.pos++; continue; } // export {}
      }
      this.fail('unsupported top-level statement');
    }
    return mod;
  }

  private parseImport(mod: ParsedModule, resolveImport: (spec: string) => string): void {
    this.expectId('import');
    if (this.isId('type')) this.pos++;
    const names: Array<[string, string]> = [];
    this.expectP('{');
    while (!this.isP('}')) {
      const orig = this.expectId();
      let local = orig;
      if (this.isId('as')) { this.pos++; local = this.expectId(); }
      names.push([local, orig]);
      if (this.isP(',')) this.pos++;
    }
    this.expectP('}');
    this.expectId('from');
    const spec = this.peek();
    if (spec?.t !== 'str') this.fail('expected module specifier');
    this.pos++;
    if (this.isP(';')) this.pos++;
    const target = resolveImport(spec.v);
    for (const [local, orig] of names) mod.imports.set(local, { module: target, name: orig });
  }

  private skipBalanced(): void {
    let depth = 0;
    do {
      if (this.isP('{')) depth++;
      else if (this.isP('}')) depth--;
      this.pos++;
    } while (depth > 0 && this.pos < this.toks.length);
  }

  /** Parses `{ members }`; an object with a single index signature becomes a map type by the caller. */
  private parseMembers(): Member[] {
    this.expectP('{');
    const members: Member[] = [];
    while (!this.isP('}')) {
      const doc = this.takeDoc();
      if (this.isP('}')) break;
      if (this.isId('readonly') && !this.isP(':', 1) && !this.isP('?', 1)) this.pos++;
      if (this.isP('[')) {
        // index signature: [key: string]: T;
        this.pos++;
        this.expectId();
        this.expectP(':');
        this.expectId('string');
        this.expectP(']');
        this.expectP(':');
        const type = this.parseType();
        if (this.isP(';') || this.isP(',')) this.pos++;
        members.push({ name: '[index]', optional: true, doc, type });
        continue;
      }
      const t = this.peek();
      if (t?.t !== 'id' && t?.t !== 'str') this.fail('expected member name');
      this.pos++;
      let optional = false;
      if (this.isP('?')) { optional = true; this.pos++; }
      this.expectP(':');
      const type = this.parseType();
      if (this.isP(';') || this.isP(',')) this.pos++;
      members.push({ name: t.v, optional, doc, type });
    }
    this.expectP('}');
    return members;
  }

  parseType(): TypeNode {
    if (this.isP('|')) this.pos++;
    const types = [this.parsePostfix()];
    while (this.isP('|')) { this.pos++; types.push(this.parsePostfix()); }
    return types.length === 1 ? types[0]! : { k: 'union', types };
  }

  private parsePostfix(): TypeNode {
    let t = this.parsePrimary();
    while (this.isP('[') && this.isP(']', 1)) { this.pos += 2; t = { k: 'array', elem: t }; }
    return t;
  }

  private parsePrimary(): TypeNode {
    const tok = this.peek();
    if (!tok) this.fail('unexpected end of type');
    if (tok.t === 'str') { this.pos++; return { k: 'lit', value: tok.v }; }
    if (tok.t === 'p' && tok.v === '(') { this.pos++; const t = this.parseType(); this.expectP(')'); return t; }
    if (tok.t === 'p' && tok.v === '{') {
      const members = this.parseMembers();
      if (members.length === 1 && members[0]!.name === '[index]') return { k: 'map', value: members[0]!.type };
      return { k: 'object', members };
    }
    if (tok.t === 'id') {
      this.pos++;
      if (PRIMITIVES.has(tok.v)) return { k: 'prim', name: tok.v };
      let name = tok.v;
      while (this.isP('.')) { this.pos++; name += '.' + this.expectId(); }
      if (this.isP('<')) {
        this.pos++;
        const args = [this.parseType()];
        while (this.isP(',')) { this.pos++; args.push(this.parseType()); }
        this.expectP('>');
        if ((name === 'Array' || name === 'ReadonlyArray') && args.length === 1) return { k: 'array', elem: args[0]! };
        if (name === 'Record' && args.length === 2) return { k: 'map', value: args[1]! };
        this.fail(`unsupported generic type ${name}`);
      }
      return { k: 'ref', name };
    }
    this.fail('unsupported type');
  }
}

/** Parses one declaration file of the supported subset. */
export function parseDeclarations(src: string, id: string, file = id): ParsedModule {
  const resolveImport = (spec: string): string => {
    const base = id.includes('/') ? id.slice(0, id.lastIndexOf('/')) : '';
    const parts = (base ? base.split('/') : []).concat(spec.split('/'));
    const stack: string[] = [];
    for (const p of parts) {
      if (p === '.' || p === '') continue;
      if (p === '..') stack.pop();
      else stack.push(p);
    }
    return stack.join('/').replace(/\.d\.ts$|\.js$/, '');
  };
  return new Parser(tokenize(src, file), file).parseModule(id, resolveImport);
}

// ---------------------------------------------------------------------------------------------------------
// Naming.

/** Upstream definition-name prefix for a kubernetes-types module id. */
export function definitionPrefix(moduleId: string): string {
  switch (moduleId) {
    case 'meta/v1': return 'io.k8s.apimachinery.pkg.apis.meta.v1';
    case 'api/resource': return 'io.k8s.apimachinery.pkg.api.resource';
    case 'runtime': return 'io.k8s.apimachinery.pkg.runtime';
    case 'version': return 'io.k8s.apimachinery.pkg.version';
    case 'util/intstr': return 'io.k8s.apimachinery.pkg.util.intstr';
    case 'apiextensions/v1': return 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1';
    case 'apiregistration/v1': return 'io.k8s.kube-aggregator.pkg.apis.apiregistration.v1';
  }
  return 'io.k8s.api.' + moduleId.split('/').join('.');
}

const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const TIME = 'io.k8s.apimachinery.pkg.apis.meta.v1.Time';
const MICRO_TIME = 'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime';

// ---------------------------------------------------------------------------------------------------------
// Facts that the declarations cannot carry.

/**
 * Formats used only when client-node's type maps are unavailable: keyed by `Type.field` or by bare field
 * name; every other number is an int32.
 */
const FALLBACK_FORMATS: Record<string, string> = {
  ...Object.fromEntries([
    'activeDeadlineSeconds', 'deletionGracePeriodSeconds', 'expirationSeconds', 'fsGroup', 'generation',
    'gracePeriodSeconds', 'int', 'ints', 'maxItems', 'maxLength', 'maxProperties', 'minItems', 'minLength',
    'minProperties', 'observedGeneration', 'remainingItemCount', 'revision', 'runAsGroup', 'runAsUser', 'seconds',
    'sizeBytes', 'startingDeadlineSeconds', 'supplementalGroups', 'terminationGracePeriodSeconds', 'tolerationSeconds',
  ].map((f) => [f, 'int64'])),
  maximum: 'double', minimum: 'double', multipleOf: 'double',
  'CertificateSigningRequestSpec.expirationSeconds': 'int32',
  'CertificateSigningRequestSpec.request': 'byte',
  'CertificateSigningRequestStatus.certificate': 'byte',
  'WebhookClientConfig.caBundle': 'byte',
  'Secret.data': 'byte',
  'ConfigMap.binaryData': 'byte',
};

/** Fields that upstream declares as struct values (not pointers), so their schemas default to `{}`. */
const VALUE_FIELDS = new Set(['metadata', 'spec', 'status']);

/** Struct types that server-side apply treats as atomic (`+structType=atomic` upstream). */
const ATOMIC_STRUCTS = new Set([
  'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector',
  'io.k8s.api.core.v1.LocalObjectReference',
  'io.k8s.api.core.v1.ObjectReference',
  'io.k8s.api.core.v1.ConfigMapKeySelector',
  'io.k8s.api.core.v1.SecretKeySelector',
  'io.k8s.api.core.v1.ObjectFieldSelector',
  'io.k8s.api.core.v1.ResourceFieldSelector',
  'io.k8s.api.core.v1.NodeSelector',
  'io.k8s.api.core.v1.NodeSelectorTerm',
  'io.k8s.api.core.v1.TopologySelectorTerm',
  'io.k8s.api.core.v1.TypedLocalObjectReference',
]);

/** Definitions whose declaration is an empty interface standing for free-form JSON. */
const FREE_FORM: Record<string, Schema> = {
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON': { 'x-kubernetes-preserve-unknown-fields': true },
  'io.k8s.apimachinery.pkg.runtime.RawExtension': { type: 'object' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1': { type: 'object' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.Patch': { type: 'object' },
};

/** GVKs of meta types whose declarations use plain `string` for apiVersion/kind. */
const EXTRA_GVK: Record<string, Array<{ group: string; version: string; kind: string }>> = {
  'io.k8s.apimachinery.pkg.apis.meta.v1.Status': [{ group: '', version: 'v1', kind: 'Status' }],
  'io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup': [{ group: '', version: 'v1', kind: 'APIGroup' }],
  'io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList': [{ group: '', version: 'v1', kind: 'APIGroupList' }],
  'io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList': [{ group: '', version: 'v1', kind: 'APIResourceList' }],
  'io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions': [{ group: '', version: 'v1', kind: 'APIVersions' }],
};

// ---------------------------------------------------------------------------------------------------------
// Formats from @kubernetes/client-node.

function pascal(s: string): string { return s ? s[0]!.toUpperCase() + s.slice(1) : s; }

interface AttributeEntry { name: string; baseName: string; type: string; format: string }

/**
 * Reads client-node's generated model type maps into definition → field → format facts. Classes are named
 * `V1PodSpec`, or `CoreV1EndpointPort` where the bare name is shared between groups.
 */
export async function loadClientNodeFormats(modules: ParsedModule[]): Promise<FormatFacts | null> {
  let lib: Record<string, unknown>;
  try {
    lib = (await import('@kubernetes/client-node')) as unknown as Record<string, unknown>;
  } catch {
    return null;
  }
  const facts: FormatFacts = new Map();
  for (const mod of modules) {
    const parts = mod.id.split('/');
    if (parts.length !== 2) continue;
    const [group, version] = parts as [string, string];
    for (const decl of mod.decls) {
      if (decl.kind !== 'interface') continue;
      const candidates = [`${pascal(group)}${pascal(version)}${decl.name}`, `${pascal(version)}${decl.name}`];
      for (const cls of candidates) {
        const ctor = lib[cls] as { getAttributeTypeMap?: () => AttributeEntry[] } | undefined;
        if (typeof ctor?.getAttributeTypeMap !== 'function') continue;
        const fields = new Map<string, string>();
        for (const a of ctor.getAttributeTypeMap()) if (a.format) fields.set(a.baseName, a.format);
        if (fields.size) facts.set(`${definitionPrefix(mod.id)}.${decl.name}`, fields);
        break;
      }
    }
  }
  return facts;
}

// ---------------------------------------------------------------------------------------------------------
// Schema building.

interface Resolved { def: string; decl: Decl }

class SchemaBuilder {
  private readonly byDef = new Map<string, { mod: ParsedModule; decl: Decl }>();
  readonly warnings: string[] = [];

  constructor(
    modules: ParsedModule[],
    private readonly formats: FormatFacts | null,
    private readonly patchMeta: PatchMeta | null,
  ) {
    for (const mod of modules) {
      for (const decl of mod.decls) this.byDef.set(`${definitionPrefix(mod.id)}.${decl.name}`, { mod, decl });
    }
  }

  private resolve(mod: ParsedModule, name: string): Resolved | undefined {
    const imp = mod.imports.get(name);
    const def = imp ? `${definitionPrefix(imp.module)}.${imp.name}` : `${definitionPrefix(mod.id)}.${name}`;
    const hit = this.byDef.get(def);
    return hit ? { def, decl: hit.decl } : undefined;
  }

  build(): Record<string, Schema> {
    const out: Record<string, Schema> = {};
    for (const [def, { mod, decl }] of this.byDef) {
      out[def] = decl.kind === 'interface' ? this.interfaceSchema(def, mod, decl) : this.aliasSchema(def, mod, decl);
    }
    out[INT_OR_STRING] = {
      description:
        'IntOrString holds either an int32 or a string. JSON and YAML carry the inner value as is, so a field ' +
        'of this type accepts a number (such as a port number) or a name.',
      // No `type`: upstream's v3 uses oneOf, and kubectl explain then shows the name ("<IntOrString>").
      format: 'int-or-string',
      oneOf: [{ type: 'integer' }, { type: 'string' }],
      'x-kubernetes-int-or-string': true,
    };
    return out;
  }

  private interfaceSchema(def: string, mod: ParsedModule, decl: Extract<Decl, { kind: 'interface' }>): Schema {
    const schema: Schema = {};
    if (decl.doc) schema.description = decl.doc;
    const free = FREE_FORM[def];
    if (free) return { ...schema, ...free };
    if (decl.members.length === 0) return { ...schema, type: 'object' }; // empty structs exist upstream too
    schema.type = 'object';
    const props: Record<string, Schema> = {};
    const required: string[] = [];
    let apiVersion: string | undefined;
    let kind: string | undefined;
    const fieldFormats = this.formats?.get(def);
    const patch = this.patchMeta?.[def];
    for (const m of decl.members) {
      if (m.name === 'apiVersion' && m.type.k === 'lit') apiVersion = m.type.value;
      if (m.name === 'kind' && m.type.k === 'lit') kind = m.type.value;
      const format = this.formats ? fieldFormats?.get(m.name) ?? fallbackNumberFormat(def, m.name) : fallbackFormat(def, m.name);
      const prop = this.typeSchema(mod, m.type, format, !m.optional || VALUE_FIELDS.has(m.name));
      if (m.doc) prop.description = m.doc;
      const pm = patch?.[m.name];
      if (pm) applyPatchMeta(prop, pm, () => this.itemProperties(mod, m.type));
      props[m.name] = prop;
      if (!m.optional) required.push(m.name);
    }
    if (patch) {
      for (const field of Object.keys(patch)) {
        if (!(field in props)) this.warnings.push(`${def}: patch metadata names unknown field ${field}`);
      }
    }
    schema.properties = props;
    if (required.length) schema.required = required;
    if (apiVersion !== undefined && kind !== undefined) {
      const slash = apiVersion.indexOf('/');
      const group = slash < 0 ? '' : apiVersion.slice(0, slash);
      const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
      schema['x-kubernetes-group-version-kind'] = [{ group, kind, version }];
    } else if (EXTRA_GVK[def]) {
      schema['x-kubernetes-group-version-kind'] = EXTRA_GVK[def];
    }
    if (ATOMIC_STRUCTS.has(def)) schema['x-kubernetes-map-type'] = 'atomic';
    return schema;
  }

  /** Field names of the object type that a list field holds, to check merge keys against. */
  private itemProperties(mod: ParsedModule, t: TypeNode): Set<string> | undefined {
    if (t.k !== 'array' || t.elem.k !== 'ref') return undefined;
    const r = this.resolve(mod, t.elem.name);
    if (!r || r.decl.kind !== 'interface') return undefined;
    return new Set(r.decl.members.map((m) => m.name));
  }

  private aliasSchema(def: string, mod: ParsedModule, decl: Extract<Decl, { kind: 'alias' }>): Schema {
    const schema: Schema = {};
    if (decl.doc) schema.description = decl.doc;
    if (def === QUANTITY) {
      // Written as a string ("500m") or a bare number (2); modelled like upstream's v3 (oneOf, no type).
      return { ...schema, oneOf: [{ type: 'string' }, { type: 'number' }], 'x-kubernetes-int-or-string': true };
    }
    if (def === TIME || def === MICRO_TIME) return { ...schema, type: 'string', format: 'date-time' };
    const t = decl.type;
    if (t.k === 'prim' || t.k === 'array' || t.k === 'map') return { ...schema, ...this.typeSchema(mod, t, undefined, false) };
    // Unions of a schema with a boolean or a list (JSONSchemaPropsOr*): any JSON value.
    return { ...schema, 'x-kubernetes-preserve-unknown-fields': true };
  }

  /** Schema of a field or element type. `valueStruct` marks values that upstream defaults to `{}`. */
  private typeSchema(mod: ParsedModule, t: TypeNode, format: string | undefined, valueStruct: boolean): Schema {
    switch (t.k) {
      case 'prim':
        if (t.name === 'string') return format === 'byte' ? { type: 'string', format: 'byte' } : { type: 'string' };
        if (t.name === 'boolean') return { type: 'boolean' };
        if (t.name === 'number') {
          if (format === 'double' || format === 'float') return { type: 'number', format: 'double' };
          return { type: 'integer', format: format === 'int64' ? 'int64' : 'int32' };
        }
        return { 'x-kubernetes-preserve-unknown-fields': true };
      case 'lit':
        return { type: 'string' };
      case 'array':
        return { type: 'array', items: this.typeSchema(mod, t.elem, format, true) };
      case 'map':
        return { type: 'object', additionalProperties: this.typeSchema(mod, t.value, format, true) };
      case 'union': {
        const names = t.types.map((x) => (x.k === 'prim' ? x.name : x.k)).sort().join('|');
        if (names === 'number|string') return refSchema(INT_OR_STRING, false);
        if (t.types.every((x) => x.k === 'lit')) return { type: 'string', enum: t.types.map((x) => (x as { value: string }).value) };
        this.warnings.push(`unsupported union ${names}; emitted as free-form`);
        return { 'x-kubernetes-preserve-unknown-fields': true };
      }
      case 'ref': {
        const r = this.resolve(mod, t.name);
        if (!r) {
          this.warnings.push(`${mod.id}: unresolved type ${t.name}; emitted as free-form`);
          return { 'x-kubernetes-preserve-unknown-fields': true };
        }
        const isStruct = r.decl.kind === 'interface' && !FREE_FORM[r.def];
        return refSchema(r.def, valueStruct && isStruct);
      }
      case 'object':
        this.warnings.push(`${mod.id}: inline object type; emitted as free-form object`);
        return { type: 'object' };
    }
  }
}

/** With client-node facts present, the table only fills in numeric fields of types client-node lacks. */
function fallbackNumberFormat(def: string, field: string): string | undefined {
  const f = fallbackFormat(def, field);
  return f === 'byte' ? undefined : f;
}

function fallbackFormat(def: string, field: string): string | undefined {
  const type = def.slice(def.lastIndexOf('.') + 1);
  return FALLBACK_FORMATS[`${type}.${field}`] ?? FALLBACK_FORMATS[field];
}

function refSchema(def: string, withDefault: boolean): Schema {
  const s: Schema = { allOf: [{ $ref: REF_PREFIX + def }] };
  if (withDefault) s.default = {};
  return s;
}

/** Adds patch and list-type annotations to a property schema. */
function applyPatchMeta(
  prop: Schema,
  pm: { strategy?: string; mergeKey?: string },
  itemProps: () => Set<string> | undefined,
): void {
  if (pm.mergeKey) prop['x-kubernetes-patch-merge-key'] = pm.mergeKey;
  if (pm.strategy) prop['x-kubernetes-patch-strategy'] = pm.strategy;
  if (prop.type !== 'array') return;
  const strategies = (pm.strategy ?? '').split(',');
  if (pm.mergeKey && strategies.includes('merge')) {
    const known = itemProps();
    if (!known || known.has(pm.mergeKey)) {
      prop['x-kubernetes-list-type'] = 'map';
      prop['x-kubernetes-list-map-keys'] = [pm.mergeKey];
    }
  } else if (!pm.mergeKey && strategies.includes('merge')) {
    const items = prop.items as Schema | undefined;
    if (items && typeof items.type === 'string' && items.type !== 'object') prop['x-kubernetes-list-type'] = 'set';
  }
}

/** Recursively sorts object keys (arrays keep their order) so output bytes never depend on insertion order. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// Entry points.

/** Locates the installed kubernetes-types package. */
export function findTypesDir(): string {
  const req = createRequire(join(REPO_ROOT, 'package.json'));
  return dirname(req.resolve('kubernetes-types/package.json'));
}

function listDeclarationFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (name === 'node_modules') continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Parses every declaration file of the kubernetes-types package. */
export function parsePackage(typesDir: string): ParsedModule[] {
  return listDeclarationFiles(typesDir).map((file) => {
    const id = relative(typesDir, file).split(sep).join('/').replace(/\.d\.ts$/, '');
    return parseDeclarations(readFileSync(file, 'utf8'), id, file);
  });
}

/** Loads `patchMeta` from src/api/patch/patch-meta.ts, or returns null (with a warning) if it isn't there. */
export async function loadPatchMeta(
  warnings: string[],
  file = join(REPO_ROOT, 'src/api/patch/patch-meta.ts'),
): Promise<PatchMeta | null> {
  if (!existsSync(file)) {
    warnings.push('src/api/patch/patch-meta.ts not found; schemas carry no patch metadata');
    return null;
  }
  try {
    const mod = (await import(pathToFileURL(file).href)) as { patchMeta?: PatchMeta };
    if (!mod.patchMeta) {
      warnings.push('src/api/patch/patch-meta.ts exports no patchMeta; schemas carry no patch metadata');
      return null;
    }
    return mod.patchMeta;
  } catch (err) {
    warnings.push(`loading src/api/patch/patch-meta.ts failed (${(err as Error).message}); no patch metadata`);
    return null;
  }
}

/** Builds the schema map (deterministic: same inputs, same bytes after JSON.stringify). */
export async function generateSchemas(opts: GenerateOptions = {}): Promise<GenerateResult> {
  const warnings: string[] = [];
  const modules = parsePackage(opts.typesDir ?? findTypesDir());
  let formats = opts.formats;
  if (formats === undefined) {
    formats = await loadClientNodeFormats(modules);
    if (!formats) warnings.push('@kubernetes/client-node not installed; integer formats use the fallback table');
  }
  const patchMeta = opts.patchMeta === undefined ? await loadPatchMeta(warnings) : opts.patchMeta;
  const builder = new SchemaBuilder(modules, formats, patchMeta);
  const built = builder.build();
  warnings.push(...builder.warnings);
  return { schemas: canonical(built) as Record<string, Schema>, warnings };
}

async function main(): Promise<void> {
  const started = performance.now();
  const outIdx = process.argv.indexOf('--out');
  const out = outIdx > 0 ? resolve(process.argv[outIdx + 1]!) : join(REPO_ROOT, 'generated/openapi/schemas.json');
  const { schemas, warnings } = await generateSchemas();
  for (const w of warnings) process.stderr.write(`gen-openapi: warning: ${w}\n`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(schemas) + '\n');
  const ms = Math.round(performance.now() - started);
  process.stdout.write(`gen-openapi: ${Object.keys(schemas).length} schemas → ${relative(process.cwd(), out)} (${ms} ms)\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    process.stderr.write(`gen-openapi: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
