/**
 * Content negotiation: reading request bodies (JSON, YAML, protobuf) with the size limit, and
 * parsing Accept for Tables, aggregated discovery and protobuf.
 */
import type { IncomingMessage } from 'node:http';
import { errors, StatusError } from '../../api/errors.js';

/** Upstream's limit on request bodies (3 MiB). */
export const maxRequestBodyBytes = 3 * 1024 * 1024;

export function readBody(req: IncomingMessage, limit = maxRequestBodyBytes): Promise<Buffer> {
  // A request the lean front parsed (apiserver/lean-http.ts) arrives with its whole body.
  const whole = (req as { leanBody?: Buffer }).leanBody;
  if (whole !== undefined) return whole.length > limit ? Promise.reject(errors.requestEntityTooLarge(`limit is ${limit}`)) : Promise.resolve(whole);
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    req.resume();
    return Promise.reject(errors.requestEntityTooLarge(`limit is ${limit}`));
  }
  // Plain listeners: an async iterator over the stream costs several times more per request.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    const onData = (c: Buffer) => {
      if (tooLarge) return;
      size += c.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        reject(errors.requestEntityTooLarge(`limit is ${limit}`));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      if (!tooLarge) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onAborted = () => {
      cleanup();
      reject(new Error('the request was aborted'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    // A request closed before its end never sends 'end'.
    const onClose = () => {
      if (!req.complete) onAborted();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

let yamlLib: typeof import('yaml') | undefined;
async function yaml(): Promise<typeof import('yaml')> {
  return (yamlLib ??= await import('yaml'));
}

let protobuf: typeof import('../../api/protobuf/decode.js') | undefined;

/**
 * Paths of duplicated object keys in a JSON text that JSON.parse already accepted
 * (strict field validation reports them; JSON.parse silently keeps the last).
 */
export function findDuplicateKeys(text: string): string[] {
  const dups: string[] = [];
  // The path is kept as segments and joined only for a duplicate: most bodies have none.
  const segments: (string | number)[] = [];
  const pathOf = (last: string) => {
    let p = '';
    for (const s of segments) p = typeof s === 'number' ? `${p}[${s}]` : p ? `${p}.${s}` : s;
    return p ? `${p}.${last}` : last;
  };
  let i = 0;
  const n = text.length;
  const ws = () => {
    for (let c = text.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = text.charCodeAt(++i));
  };
  const str = (): string => {
    const start = ++i;
    let escaped = false;
    for (let c = text.charCodeAt(i); c !== 34; c = text.charCodeAt(i)) {
      if (c === 92) {
        escaped = true;
        i += 2;
      } else i++;
    }
    i++;
    return escaped ? (JSON.parse(text.slice(start - 1, i)) as string) : text.slice(start, i - 1);
  };
  const value = (): void => {
    ws();
    const c = text.charCodeAt(i);
    if (c === 123) {
      // {
      i++;
      ws();
      if (text.charCodeAt(i) === 125) return void i++;
      let seen: Set<string> | undefined;
      let first: string | undefined;
      for (;;) {
        ws();
        const k = str();
        // Most objects are small: a Set only from the second key.
        if (first === undefined) first = k;
        else {
          seen ??= new Set([first]);
          if (seen.has(k)) dups.push(pathOf(k));
          seen.add(k);
        }
        ws();
        i++; // ':'
        segments.push(k);
        value();
        segments.pop();
        ws();
        if (text.charCodeAt(i++) === 125) return;
      }
    }
    if (c === 91) {
      // [
      i++;
      ws();
      if (text.charCodeAt(i) === 93) return void i++;
      for (let k = 0; ; k++) {
        segments.push(k);
        value();
        segments.pop();
        ws();
        if (text.charCodeAt(i++) === 93) return;
      }
    }
    if (c === 34) return void str();
    // A number or literal: up to the next delimiter.
    for (let d = text.charCodeAt(i); i < n && d !== 44 && d !== 125 && d !== 93 && d !== 32 && d !== 9 && d !== 10 && d !== 13; d = text.charCodeAt(++i));
  };
  value();
  return dups;
}

/**
 * {@link findDuplicateKeys} of a body's text, given the object JSON.parse made of it. A text that is
 * exactly the object's serialisation (compact JSON in insertion order, as clients send it) has no
 * duplicate: JSON.parse keeps one value per key. Serialising is cheaper than scanning the text.
 */
export function findDuplicateKeysOf(text: string, parsed: unknown): string[] {
  if (parsed !== null && typeof parsed === 'object' && JSON.stringify(parsed) === text) return [];
  return findDuplicateKeys(text);
}

export interface DecodedBody {
  object: any;
  /** The text, for JSON and YAML bodies (used to find duplicate fields under strict validation). */
  text?: string;
  format: 'json' | 'yaml' | 'protobuf';
}

/** Decode a request body according to its Content-Type; 415 for unknown types, 400 for malformed bodies. */
export async function decodeBody(buf: Buffer, contentType: string | undefined, patch = false): Promise<DecodedBody> {
  const mt = mediaType(contentType);
  if (buf.length === 0) throw errors.badRequest('the body of the request is empty');
  if (mt === 'application/vnd.kubernetes.protobuf') {
    protobuf ??= await import('../../api/protobuf/decode.js');
    return { object: protobuf.decodeProtobufObject(buf), format: 'protobuf' };
  }
  const text = buf.toString('utf8');
  const isJSONType =
    mt === '' ||
    mt === 'application/json' ||
    (patch && (mt === 'application/json-patch+json' || mt === 'application/merge-patch+json' || mt === 'application/strategic-merge-patch+json'));
  if (isJSONType) {
    try {
      return { object: JSON.parse(text), text, format: 'json' };
    } catch (e) {
      throw errors.badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
    }
  }
  if (mt === 'application/yaml' || mt === 'application/apply-patch+yaml' || mt === 'text/yaml' || mt === 'application/x-yaml') {
    const y = await yaml();
    let docs;
    try {
      docs = y.parseAllDocuments(text, { uniqueKeys: false });
    } catch (e) {
      throw errors.badRequest(`error converting YAML to JSON: ${(e as Error).message}`);
    }
    const list = Array.isArray(docs) ? docs : [docs];
    const firstErr = list.flatMap((d: any) => d.errors ?? [])[0];
    if (firstErr) throw errors.badRequest(`error converting YAML to JSON: ${firstErr.message.split('\n')[0]}`);
    const nonEmpty = list.filter((d: any) => d.contents !== null);
    if (nonEmpty.length !== 1) throw errors.badRequest('the body must contain exactly one YAML document');
    let obj;
    try {
      obj = nonEmpty[0].toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw errors.badRequest(`error converting YAML to JSON: ${(e as Error).message}`);
    }
    return { object: obj, text, format: 'yaml' };
  }
  throw new StatusError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`,
    reason: 'UnsupportedMediaType',
    code: 415,
  });
}

export interface AcceptClause {
  type: string;
  params: Record<string, string>;
}

export function parseAccept(header: string | undefined): AcceptClause[] {
  if (!header) return [];
  return header.split(',').map((part) => {
    const [type, ...ps] = part.split(';').map((s) => s.trim());
    const params: Record<string, string> = {};
    for (const p of ps) {
      const eq = p.indexOf('=');
      if (eq > 0) params[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
    }
    return { type: type.toLowerCase(), params };
  });
}

/** The Table version asked for, if the client asked for a server-side Table. */
export function wantsTable(accept: AcceptClause[]): 'v1' | 'v1beta1' | undefined {
  for (const a of accept) {
    if (a.type === 'application/json' && a.params.as === 'Table' && a.params.g === 'meta.k8s.io') {
      return a.params.v === 'v1beta1' ? 'v1beta1' : 'v1';
    }
    if (a.type === 'application/json' && !a.params.as) return undefined;
  }
  return undefined;
}

/** Whether the client asked for PartialObjectMetadata(List). */
export function wantsPartialMetadata(accept: AcceptClause[]): boolean {
  for (const a of accept) {
    if (a.type === 'application/json' && (a.params.as === 'PartialObjectMetadata' || a.params.as === 'PartialObjectMetadataList') && a.params.g === 'meta.k8s.io') return true;
    if (a.type === 'application/json' && !a.params.as) return false;
  }
  return false;
}

/** The aggregated discovery version asked for: v2, v2beta1 or none (legacy). */
export function wantsAggregatedDiscovery(accept: AcceptClause[]): 'v2' | 'v2beta1' | undefined {
  for (const a of accept) {
    if (a.type === 'application/json' && a.params.as === 'APIGroupDiscoveryList' && a.params.g === 'apidiscovery.k8s.io') {
      if (a.params.v === 'v2' || a.params.v === 'v2beta1') return a.params.v;
    }
    if (a.type === 'application/json' && !a.params.as) return undefined;
  }
  return undefined;
}
