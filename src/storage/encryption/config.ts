/**
 * Upstream's EncryptionConfiguration file (`apiserver.config.k8s.io/v1`): which resources are
 * encrypted at rest, and by which ordered providers. The first provider (its first key) encrypts
 * new writes; every listed provider and key can decrypt.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/** One named key of a provider; `secret` is the decoded key bytes. */
export interface EncryptionKey {
  name: string;
  secret: Buffer;
}

/** One provider of a resources entry, in the file's order. */
export type EncryptionProvider =
  | { type: 'aescbc'; keys: EncryptionKey[] }
  | { type: 'aesgcm'; keys: EncryptionKey[] }
  | { type: 'secretbox'; keys: EncryptionKey[] }
  | { type: 'identity' };

/**
 * A resource selector of the file: `secrets` (core), `deployments.apps`, `*.apps` (a whole group),
 * `*.` (the whole core group) or `*.*` (everything).
 */
export interface ResourceSelector {
  /** As written in the file. */
  text: string;
  /** The API group ('' for core), or '*' for `*.*`. */
  group: string;
  /** The resource, or '*' for a whole group. */
  resource: string;
}

export interface EncryptionResourceConfig {
  resources: ResourceSelector[];
  providers: EncryptionProvider[];
}

/** A parsed, validated EncryptionConfiguration. Entries are matched in order; the first match wins. */
export interface EncryptionConfig {
  resources: EncryptionResourceConfig[];
}

const apiVersion = 'apiserver.config.k8s.io/v1';
const kind = 'EncryptionConfiguration';
const providerTypes = ['aescbc', 'aesgcm', 'secretbox', 'identity'] as const;
const keyLengths: Record<string, number[]> = { aescbc: [16, 24, 32], aesgcm: [16, 24, 32], secretbox: [32] };
const strictBase64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Read and validate an EncryptionConfiguration file. Throws an Error naming the file and the problem. */
export function loadEncryptionConfig(path: string): EncryptionConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`encryption provider config ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseEncryptionConfig(text);
  } catch (err) {
    throw new Error(`encryption provider config ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Parse and validate the text (YAML or JSON) of an EncryptionConfiguration. Throws an Error on any problem. */
export function parseEncryptionConfig(text: string): EncryptionConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new Error(`not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(doc)) throw new Error('the file must hold one EncryptionConfiguration object');
  if (doc.kind !== kind) throw new Error(`kind: must be "${kind}", got ${JSON.stringify(doc.kind ?? '')}`);
  if (doc.apiVersion !== apiVersion) throw new Error(`apiVersion: must be "${apiVersion}", got ${JSON.stringify(doc.apiVersion ?? '')}`);
  const entries = doc.resources;
  if (!Array.isArray(entries) || entries.length === 0) throw new Error('resources: Required value: at least one resources entry is required');

  const seen = new Map<string, string>();
  const earlier: ResourceSelector[] = [];
  const out: EncryptionResourceConfig[] = [];
  entries.forEach((entry, i) => {
    const at = `resources[${i}]`;
    if (!isObject(entry)) throw new Error(`${at}: must be an object with resources and providers`);
    const names = entry.resources;
    if (!Array.isArray(names) || names.length === 0) throw new Error(`${at}.resources: Required value: at least one resource is required`);
    const resources = names.map((n, j) => {
      const sel = parseSelector(n, `${at}.resources[${j}]`);
      const dup = seen.get(sel.text);
      if (dup) throw new Error(`${at}.resources[${j}]: Duplicate value: "${sel.text}" is already listed at ${dup}`);
      seen.set(sel.text, `${at}.resources[${j}]`);
      // A selector after a wildcard that covers it could never apply.
      const cover = earlier.find((w) => w.text !== sel.text && covers(w, sel));
      if (cover) throw new Error(`${at}.resources[${j}]: Invalid value: "${sel.text}" is shadowed by the earlier "${cover.text}"; list it before the wildcard`);
      earlier.push(sel);
      return sel;
    });
    const provs = entry.providers;
    if (!Array.isArray(provs) || provs.length === 0) throw new Error(`${at}.providers: Required value: at least one provider is required`);
    out.push({ resources, providers: provs.map((p, j) => parseProvider(p, `${at}.providers[${j}]`)) });
  });
  return { resources: out };
}

function parseSelector(v: unknown, at: string): ResourceSelector {
  if (typeof v !== 'string' || v === '') throw new Error(`${at}: Invalid value: resource names must be non-empty strings`);
  if (v !== v.toLowerCase()) throw new Error(`${at}: Invalid value: "${v}": resource names must be lowercase`);
  if (v === '*.*') return { text: v, group: '*', resource: '*' };
  if (v === '*.') return { text: v, group: '', resource: '*' };
  const dot = v.indexOf('.');
  const resource = dot < 0 ? v : v.slice(0, dot);
  const group = dot < 0 ? '' : v.slice(dot + 1);
  if (group.includes('*') || (resource.includes('*') && resource !== '*') || resource === '' || (resource === '*' && group === '' && dot < 0)) {
    throw new Error(`${at}: Invalid value: "${v}": use a resource ("secrets"), resource.group ("deployments.apps"), or a wildcard "*.", "*.<group>" or "*.*"`);
  }
  if (group.includes('/') || resource.includes('/')) throw new Error(`${at}: Invalid value: "${v}": subresources cannot be encrypted separately`);
  return { text: v, group, resource };
}

/** Whether selector `w` selects everything `s` selects. */
function covers(w: ResourceSelector, s: ResourceSelector): boolean {
  if (w.group === '*') return true;
  return w.resource === '*' && w.group === s.group;
}

function parseProvider(p: unknown, at: string): EncryptionProvider {
  if (!isObject(p)) throw new Error(`${at}: must be an object naming one provider`);
  const given = Object.keys(p);
  if (given.includes('kms')) throw new Error(`${at}.kms: Unsupported value: the kms provider is not supported by k8ts (use aescbc, aesgcm, secretbox or identity)`);
  const unknown = given.filter((k) => !(providerTypes as readonly string[]).includes(k));
  if (unknown.length) throw new Error(`${at}: Unsupported value: unknown provider "${unknown[0]}" (supported: ${providerTypes.join(', ')})`);
  if (given.length === 0) throw new Error(`${at}: Required value: a provider (${providerTypes.join(', ')}) is required`);
  if (given.length > 1) throw new Error(`${at}: Invalid value: more than one provider specified in a single element (${given.join(', ')}); use one list element per provider`);
  const type = given[0] as (typeof providerTypes)[number];
  const body = p[type];
  if (type === 'identity') {
    if (body !== null && body !== undefined && (!isObject(body) || Object.keys(body).length > 0)) {
      throw new Error(`${at}.identity: Invalid value: identity takes no settings (write "identity: {}")`);
    }
    return { type };
  }
  if (!isObject(body)) throw new Error(`${at}.${type}: must be an object with keys`);
  const keys = body.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${at}.${type}.keys: Required value: at least one key is required`);
  const names = new Set<string>();
  return {
    type,
    keys: keys.map((k, j) => {
      const kat = `${at}.${type}.keys[${j}]`;
      if (!isObject(k)) throw new Error(`${kat}: must be an object with name and secret`);
      const name = k.name;
      if (typeof name !== 'string' || name === '') throw new Error(`${kat}.name: Required value: key name is required`);
      if (name.includes(':')) throw new Error(`${kat}.name: Invalid value: "${name}": should not contain ':'`);
      if (names.has(name)) throw new Error(`${kat}.name: Duplicate value: "${name}": key names must be unique within a provider`);
      names.add(name);
      const secret = k.secret;
      if (typeof secret !== 'string' || secret === '') throw new Error(`${kat}.secret: Required value: secret is required`);
      // Never echo the secret itself.
      if (!strictBase64.test(secret)) throw new Error(`${kat}.secret: Invalid value: "REDACTED": secrets must be base64 encoded`);
      const bytes = Buffer.from(secret, 'base64');
      const allowed = keyLengths[type]!;
      if (!allowed.includes(bytes.length)) {
        throw new Error(`${kat}.secret: Invalid value: "REDACTED": secret is not of the expected length, got ${bytes.length}, expected one of [${allowed.join(' ')}]`);
      }
      return { name, secret: bytes };
    }),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
