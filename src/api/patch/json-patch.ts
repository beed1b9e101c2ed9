/**
 * RFC 6902 JSON patch (`application/json-patch+json`), as the API server applies it
 * (evanphx/json-patch v4 semantics: negative array indices, `-` to append, replace needs an existing key).
 *
 * A body that is not a list of operations is a 400; an operation that does not apply is a 422 with
 * upstream's generic message, the precise reason being the error's `cause`.
 */
import { errors } from '../errors.js';
import { cloneJson, isObject, jsonEqual, type JsonObject } from './json-value.js';
import { badPatch, unprocessablePatch } from './patch-errors.js';

/** Upstream's cap on the number of operations in one JSON patch. */
export const maxJsonPatchOperations = 10000;

/** One decoded operation. */
export interface JsonPatchOperation {
  op: string;
  path?: unknown;
  from?: unknown;
  value?: unknown;
}

type Container = JsonObject | unknown[];

/** Go's word for the JSON type, in "cannot unmarshal X into Go value". */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (isObject(v)) return 'object';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}

/**
 * Checks that `patch` is a list of operation objects, as DecodePatch does.
 * @throws StatusError 400 for a body of the wrong shape, 413 for more than 10000 operations.
 */
export function decodeJsonPatch(patch: unknown): JsonPatchOperation[] {
  if (patch === null) return [];
  if (!Array.isArray(patch)) throw badPatch(`json: cannot unmarshal ${jsonKind(patch)} into Go value of type jsonpatch.Patch`);
  const ops: JsonPatchOperation[] = [];
  for (const item of patch) {
    if (item !== null && !isObject(item)) {
      throw badPatch(`json: cannot unmarshal ${jsonKind(item)} into Go value of type jsonpatch.Operation`);
    }
    const o = item ?? {};
    ops.push({ ...o, op: typeof o.op === 'string' ? o.op : 'unknown' } as JsonPatchOperation);
  }
  if (ops.length > maxJsonPatchOperations) {
    throw errors.requestEntityTooLarge(
      `The allowed maximum operations in a JSON patch is ${maxJsonPatchOperations}, got ${ops.length}`,
    );
  }
  return ops;
}

/**
 * Applies an RFC 6902 patch to a copy of `original`.
 * @param original the current object (not modified)
 * @param patch the parsed request body: a list of operations
 * @returns the patched object
 * @throws StatusError 400 (malformed body), 413 (too many operations), 422 (an operation does not apply)
 */
export function applyJsonPatch(original: object, patch: unknown): JsonObject {
  const ops = decodeJsonPatch(patch);
  const doc = { root: cloneJson(original) as unknown };
  for (const op of ops) {
    const failure = applyOperation(doc, op);
    if (failure !== undefined) throw unprocessablePatch(failure);
  }
  if (!isObject(doc.root)) throw unprocessablePatch('the patched document is not an object');
  return doc.root;
}

const missing = 'missing value';
const invalidIndex = 'invalid index referenced';

/** Applies one operation in place; returns the failure text, if any. */
function applyOperation(doc: { root: unknown }, op: JsonPatchOperation): string | undefined {
  switch (op.op) {
    case 'add':
    case 'remove':
    case 'replace':
    case 'test': {
      if (typeof op.path !== 'string') return `${op.op} operation failed to decode path: ${missing}`;
      const path = op.path;
      const target = locate(doc.root, path);
      if (!target) {
        if (op.op === 'test') return `test operation does not apply: is missing path: ${path}: ${missing}`;
        if (op.op === 'replace') return `replace operation does not apply: doc is missing path: ${path}: ${missing}`;
        return `${op.op} operation does not apply: doc is missing path: "${path}": ${missing}`;
      }
      const value = 'value' in op ? cloneJson(op.value) : null;
      if (op.op === 'add') {
        const err = addAt(target.container, target.key, value);
        return err && `error in add for path: '${path}': ${err}`;
      }
      if (op.op === 'remove') {
        const err = removeAt(target.container, target.key);
        return err && `error in remove for path: '${path}': ${err}`;
      }
      const got = getAt(target.container, target.key);
      if (op.op === 'replace') {
        if (got.err !== undefined) return `replace operation does not apply: doc is missing key: ${path}: ${missing}`;
        setAt(target.container, got.index ?? target.key, value);
        return undefined;
      }
      if (got.err !== undefined) return `error in test for path: '${path}': ${got.err}`;
      return jsonEqual(got.value, value) ? undefined : `testing value ${path} failed: test failed`;
    }
    case 'move':
    case 'copy': {
      if (typeof op.from !== 'string') {
        return `${op.op} operation failed to decode from: operation, missing from field: ${missing}`;
      }
      if (typeof op.path !== 'string') return `${op.op} operation failed to decode path: ${missing}`;
      const source = locate(doc.root, op.from);
      if (!source) return `${op.op} operation does not apply: doc is missing from path: ${op.from}: ${missing}`;
      const got = getAt(source.container, source.key);
      if (got.err !== undefined) {
        return op.op === 'move'
          ? `error in move for path: '${source.key}': ${got.err}`
          : `error in copy for from: '${op.from}': ${got.err}`;
      }
      let value = got.value;
      if (op.op === 'move') {
        const err = removeAt(source.container, source.key);
        if (err) return `error in move for path: '${source.key}': ${err}`;
      } else {
        value = cloneJson(value);
      }
      const dest = locate(doc.root, op.path);
      if (!dest) return `${op.op} operation does not apply: doc is missing destination path: ${op.path}: ${missing}`;
      const err = addAt(dest.container, dest.key, value);
      if (err) return op.op === 'move' ? `error in move for path: '${op.path}': ${err}` : `error while adding value during copy: ${err}`;
      return undefined;
    }
    default:
      return `Unexpected kind: ${op.op}`;
  }
}

/** Splits an RFC 6901 pointer into unescaped tokens; undefined for the whole document or a malformed pointer. */
function tokens(path: string): string[] | undefined {
  if (!path.startsWith('/')) return undefined;
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~[01]/g, (m) => (m === '~1' ? '/' : '~')));
}

/** The container holding the pointer's last token, or undefined when a parent is missing. */
function locate(root: unknown, path: string): { container: Container; key: string } | undefined {
  const parts = tokens(path);
  if (!parts) return undefined;
  let cur = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const got = isContainer(cur) ? getAt(cur, parts[i]!) : undefined;
    if (!got || got.err !== undefined || !isContainer(got.value)) return undefined;
    cur = got.value;
  }
  if (!isContainer(cur)) return undefined;
  return { container: cur, key: parts[parts.length - 1]! };
}

function isContainer(v: unknown): v is Container {
  return Array.isArray(v) || isObject(v);
}

/** Parses an array index as Go's strconv.Atoi does. */
function parseIndex(key: string): number | string {
  if (!/^[+-]?\d+$/.test(key)) return `strconv.Atoi: parsing ${JSON.stringify(key)}: invalid syntax`;
  return Number.parseInt(key, 10);
}

function getAt(c: Container, key: string): { value?: unknown; index?: string; err?: string } {
  if (!Array.isArray(c)) {
    if (!Object.prototype.hasOwnProperty.call(c, key)) return { err: `unable to get nonexistent key: ${key}: ${missing}` };
    return { value: c[key] };
  }
  let idx = parseIndex(key);
  if (typeof idx === 'string') return { err: idx };
  if (idx < 0) {
    if (idx < -c.length) return { err: `Unable to access invalid index: ${idx}: ${invalidIndex}` };
    idx += c.length;
  }
  if (idx >= c.length) return { err: `Unable to access invalid index: ${idx}: ${invalidIndex}` };
  return { value: c[idx], index: String(idx) };
}

function setAt(c: Container, key: string, value: unknown): void {
  if (Array.isArray(c)) c[Number(key)] = value;
  else c[key] = value;
}

function addAt(c: Container, key: string, value: unknown): string | undefined {
  if (!Array.isArray(c)) {
    c[key] = value;
    return undefined;
  }
  if (key === '-') {
    c.push(value);
    return undefined;
  }
  let idx = parseIndex(key);
  if (typeof idx === 'string') return `value was not a proper array index: '${key}': ${idx}`;
  const size = c.length + 1;
  if (idx >= size || idx < -size) return `Unable to access invalid index: ${idx}: ${invalidIndex}`;
  if (idx < 0) idx += size;
  c.splice(idx, 0, value);
  return undefined;
}

function removeAt(c: Container, key: string): string | undefined {
  if (!Array.isArray(c)) {
    if (!Object.prototype.hasOwnProperty.call(c, key)) return `Unable to remove nonexistent key: ${key}: ${missing}`;
    delete c[key];
    return undefined;
  }
  let idx = parseIndex(key);
  if (typeof idx === 'string') return idx;
  if (idx >= c.length || idx < -c.length) return `Unable to access invalid index: ${idx}: ${invalidIndex}`;
  if (idx < 0) idx += c.length;
  c.splice(idx, 1);
  return undefined;
}
