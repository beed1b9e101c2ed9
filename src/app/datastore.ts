/**
 * A portable dump of a k8ts datastore (every key and value), to move a cluster between the SQLite
 * and etcd backends or keep a store-independent backup.
 *
 * Format (`k8ts-datastore` version 1), JSON lines:
 * - line 1, the header: `{"format":"k8ts-datastore","version":1,"revision":R,"keys":N,...}`, where R is
 *   the source store's revision the dump was read at and N the number of key lines that follow;
 * - then one line per key, in the source's key order: `{"key":"/registry/...","value":"..."}`.
 *
 * Values are copied byte for byte as stored: secrets encrypted at rest stay encrypted, so the server
 * on the target store needs the same `--encryption-provider-config` (its keys are bound to the key
 * names, which do not change). Revisions are not copied: they belong to one store, and the target
 * numbers the imported keys with its own. Every object's `resourceVersion` therefore changes, and
 * clients holding an old one (informers, watches, `kubectl --watch`) must relist: restart agents and
 * components after a migration.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { KeyExistsError, type Backend } from '../storage/interface.js';
import { leaseExpiry, LEASE_NAMESPACE, parseServerLease } from './kubernetes-endpoints.js';

/** The format name in a dump's header line. */
export const DATASTORE_FORMAT = 'k8ts-datastore';
/** The format version this code writes and reads. */
export const DATASTORE_VERSION = 1;

/** The prefix of every key k8ts stores. */
const ROOT = '/';

/** A dump's first line. */
export interface DatastoreHeader {
  format: typeof DATASTORE_FORMAT;
  version: number;
  /** The source store's revision the dump was read at (informational: revisions are per store). */
  revision: number;
  /** How many key lines follow. */
  keys: number;
  /** What the dump came from, e.g. `sqlite` or `etcd` (informational). */
  source?: string;
  /** When the dump was made (RFC 3339). */
  exportedAt?: string;
}

/** A dump line that cannot be read, with its 1-based line number. */
export class DatastoreFormatError extends Error {
  constructor(
    readonly line: number,
    detail: string,
  ) {
    super(`datastore dump line ${line}: ${detail}`);
    this.name = 'DatastoreFormatError';
  }
}

/** Options of {@link exportDatastore}. */
export interface ExportOptions {
  /** Called after each page written, with keys done and the total. */
  onProgress?(done: number, total: number): void;
  /** Keys read per list call. Default 500. */
  pageSize?: number;
  /** Recorded in the header's `source`. */
  source?: string;
}

/** What {@link exportDatastore} wrote. */
export interface ExportResult {
  keys: number;
  revision: number;
}

/**
 * Write every key of `backend` to `out` as a dump, read at one revision (a consistent copy even
 * while the store is being written). Honours back-pressure; does not end `out`.
 */
export async function exportDatastore(backend: Backend, out: Writable, opts: ExportOptions = {}): Promise<ExportResult> {
  const pageSize = opts.pageSize ?? 500;
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  // Every key starts with '/'; listing '/' (not '') keeps an etcd prefix such as /a from also
  // matching the keys of a neighbouring prefix /ab.
  let page = await backend.list(ROOT, { limit: pageSize });
  const revision = page.revision;
  const total = page.kvs.length + (page.more ? (page.remaining ?? 0) : 0);
  const header: DatastoreHeader = { format: DATASTORE_FORMAT, version: DATASTORE_VERSION, revision, keys: total, exportedAt: new Date().toISOString() };
  if (opts.source) header.source = opts.source;
  await write(JSON.stringify(header) + '\n');
  let done = 0;
  for (;;) {
    let chunk = '';
    for (const kv of page.kvs) chunk += JSON.stringify({ key: kv.key, value: kv.value }) + '\n';
    if (chunk) await write(chunk);
    done += page.kvs.length;
    opts.onProgress?.(done, total);
    if (!page.more || page.kvs.length === 0) break;
    // The next page starts just after the last key, at the same revision.
    page = await backend.list(ROOT, { revision, limit: pageSize, startKey: page.kvs[page.kvs.length - 1]!.key + '\0' });
  }
  if (done !== total) throw new Error(`export read ${done} keys but the store reported ${total} at revision ${revision}`);
  return { keys: done, revision };
}

/** {@link importDatastore} refused: k8ts servers are using the target store. */
export class LiveServersError extends Error {
  constructor(
    message: string,
    readonly servers: LiveServer[],
  ) {
    super(message);
    this.name = 'LiveServersError';
  }
}

/** Options of {@link importDatastore}. */
export interface ImportOptions {
  /**
   * Import into a store that already holds keys: its keys are replaced by the dump's, and keys the
   * dump lacks are deleted, so that the store ends up holding exactly the dump. Without it, a
   * non-empty store is refused.
   */
  overwrite?: boolean;
  /** Called as keys are written, with keys done and the total from the header. */
  onProgress?(done: number, total: number): void;
  /** Writes in flight at once. Default 128. */
  concurrency?: number;
  /** Import even though a k8ts server seems to be using the store (see {@link liveServers}). */
  force?: boolean;
  /** The clock for lease expiry (tests). */
  now?: () => number;
}

/** A k8ts server that holds an unexpired identity lease in a store. */
export interface LiveServer {
  /** The lease, `kube-system/apiserver-...`. */
  lease: string;
  holderIdentity?: string;
  /** The address it advertises, `ip:port`, if any. */
  address?: string;
  /** When it last renewed and when the lease expires (ms since the epoch); undefined if unreadable. */
  renewedAt?: number;
  expiresAt?: number;
}

/** Where API server identity leases are stored (the generic registry's key layout). */
const SERVER_LEASES = `/registry/coordination.k8s.io/leases/${LEASE_NAMESPACE}/apiserver-`;

/**
 * The k8ts servers using a store: those whose identity lease (renewed every few seconds while they
 * run, deleted when they stop) has not expired at `now`. A lease that cannot be read (encrypted at
 * rest) counts as live, since nothing tells it is not.
 */
export async function liveServers(backend: Backend, now = Date.now()): Promise<LiveServer[]> {
  const out: LiveServer[] = [];
  let startKey: string | undefined;
  for (;;) {
    const page = await backend.list(SERVER_LEASES, { limit: 500, startKey });
    for (const kv of page.kvs) {
      const name = kv.key.slice(kv.key.lastIndexOf('/') + 1);
      let obj: any;
      try {
        obj = JSON.parse(kv.value);
      } catch {
        out.push({ lease: `${LEASE_NAMESPACE}/${name}` });
        continue;
      }
      const l = parseServerLease(obj);
      if (!l || leaseExpiry(l) <= now) continue;
      out.push({
        lease: `${LEASE_NAMESPACE}/${l.name}`,
        holderIdentity: l.holderIdentity,
        address: l.endpoint ? (l.endpoint.ip.includes(':') ? `[${l.endpoint.ip}]:${l.endpoint.port}` : `${l.endpoint.ip}:${l.endpoint.port}`) : undefined,
        renewedAt: l.renewedAt,
        expiresAt: leaseExpiry(l),
      });
    }
    if (!page.more || page.kvs.length === 0) break;
    startKey = page.kvs[page.kvs.length - 1]!.key + '\0';
  }
  return out;
}

/** The refusal message for {@link liveServers}' answer. */
function liveServersMessage(servers: LiveServer[], now: number): string {
  const secs = (ms: number) => `${Math.max(0, Math.round(ms / 1000))}s`;
  const lines = servers.map((s) => {
    const who = [s.holderIdentity && `holder ${s.holderIdentity}`, s.address && `advertising ${s.address}`].filter(Boolean).join(', ');
    const when = s.expiresAt === undefined ? 'cannot be read (encrypted at rest?)' : `renewed ${secs(now - s.renewedAt!)} ago, expires in ${secs(s.expiresAt - now)}`;
    return `  lease ${s.lease}${who ? ` (${who})` : ''}: ${when}`;
  });
  return (
    `a k8ts server is using the target store (${servers.length} live API server lease${servers.length === 1 ? '' : 's'}):\n${lines.join('\n')}\n` +
    'stop every k8ts server on this store first; if they are already gone, wait until their leases expire, or pass --force'
  );
}

/** What {@link importDatastore} did. */
export interface ImportResult {
  header: DatastoreHeader;
  /** Keys written (created or replaced). */
  keys: number;
  /** Of those, keys that existed in the target and were replaced (only with `overwrite`). */
  replaced: number;
  /** Target keys absent from the dump that were deleted (only with `overwrite`). */
  deleted: number;
}

function parseHeader(line: string | undefined): DatastoreHeader {
  if (line === undefined) throw new DatastoreFormatError(1, 'the dump is empty (no header line)');
  let h: Partial<DatastoreHeader>;
  try {
    h = JSON.parse(line);
  } catch (e) {
    throw new DatastoreFormatError(1, `the header is not JSON (${(e as Error).message})`);
  }
  if (h === null || typeof h !== 'object' || h.format !== DATASTORE_FORMAT) {
    throw new DatastoreFormatError(1, `not a ${DATASTORE_FORMAT} dump (the header's format is ${JSON.stringify((h as any)?.format)})`);
  }
  if (h.version !== DATASTORE_VERSION) throw new DatastoreFormatError(1, `unsupported ${DATASTORE_FORMAT} version ${JSON.stringify(h.version)} (this k8ts reads version ${DATASTORE_VERSION})`);
  if (!Number.isSafeInteger(h.keys) || h.keys! < 0) throw new DatastoreFormatError(1, `the header's key count ${JSON.stringify(h.keys)} is not a non-negative integer`);
  if (!Number.isSafeInteger(h.revision) || h.revision! < 0) throw new DatastoreFormatError(1, `the header's revision ${JSON.stringify(h.revision)} is not a non-negative integer`);
  return h as DatastoreHeader;
}

function parseEntry(line: string, n: number): { key: string; value: string } {
  let e: { key?: unknown; value?: unknown };
  try {
    e = JSON.parse(line);
  } catch (err) {
    throw new DatastoreFormatError(n, `not JSON (${(err as Error).message})`);
  }
  if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new DatastoreFormatError(n, 'expected an object with "key" and "value"');
  if (typeof e.key !== 'string' || !e.key.startsWith(ROOT)) throw new DatastoreFormatError(n, `"key" must be a string starting with ${ROOT}`);
  if (typeof e.value !== 'string') throw new DatastoreFormatError(n, `"value" of ${e.key} must be a string`);
  return { key: e.key, value: e.value };
}

/** Read a dump line by line: the header, then each entry with its line number. Blank lines are skipped. */
async function* readDump(input: Readable): AsyncGenerator<{ header: DatastoreHeader } | { n: number; key: string; value: string }> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  let header: DatastoreHeader | undefined;
  let count = 0;
  try {
    for await (const line of rl) {
      n++;
      if (header === undefined) {
        header = parseHeader(line);
        yield { header };
        continue;
      }
      if (line.trim() === '') continue;
      count++;
      if (count > header.keys) throw new DatastoreFormatError(n, `more key lines than the header's ${header.keys}`);
      yield { n, ...parseEntry(line, n) };
    }
  } finally {
    rl.close();
    // Stopped early (a bad line, a failed write): release the input, e.g. a file's descriptor.
    if (!input.readableEnded) input.destroy();
  }
  if (header === undefined) parseHeader(undefined);
  else if (count !== header.keys) throw new DatastoreFormatError(n + 1, `the dump ends after ${count} of the header's ${header.keys} keys (truncated?)`);
}

/**
 * Read a whole dump without writing anything: its header if every line is well formed and the key
 * count matches, else a {@link DatastoreFormatError} naming the bad line. Run it before an import
 * from a file, since an import that fails halfway leaves a partial store.
 */
export async function checkDump(input: Readable): Promise<DatastoreHeader> {
  let header: DatastoreHeader | undefined;
  const seen = new Set<string>();
  for await (const item of readDump(input)) {
    if ('header' in item) header = item.header;
    else if (seen.has(item.key)) throw new DatastoreFormatError(item.n, `duplicate key ${item.key}`);
    else seen.add(item.key);
  }
  return header!;
}

/**
 * Write a dump's keys into `backend`. Refuses a store that a k8ts server is using (an unexpired API
 * server identity lease, see {@link liveServers}) unless `force`, and one that holds any key unless
 * `overwrite`.
 * Keys get new revisions in the target (see the module comment). Not atomic: a dump that turns out
 * corrupt halfway leaves the keys before the bad line written (use {@link checkDump} first).
 */
export async function importDatastore(backend: Backend, input: Readable, opts: ImportOptions = {}): Promise<ImportResult> {
  if (!opts.force) {
    // A running server would keep writing (and caching) the old state beside the imported one.
    const now = (opts.now ?? Date.now)();
    const live = await liveServers(backend, now);
    if (live.length) throw new LiveServersError(liveServersMessage(live, now), live);
  }
  const existing = await backend.count(ROOT);
  if (existing > 0 && !opts.overwrite) {
    throw new Error(`the target store is not empty (${existing} keys): import only into an empty store, or overwrite it (--overwrite replaces its contents with the dump)`);
  }
  const limit = Math.max(1, opts.concurrency ?? 128);
  const inDump = opts.overwrite && existing > 0 ? new Set<string>() : undefined;
  let header: DatastoreHeader | undefined;
  let done = 0;
  let replaced = 0;
  const inflight = new Set<Promise<void>>();
  let failure: unknown;

  const put = async (n: number, key: string, value: string): Promise<void> => {
    try {
      try {
        await backend.create(key, value);
        return;
      } catch (e) {
        if (!(e instanceof KeyExistsError) || !opts.overwrite) throw e;
      }
      // Nothing else writes the store during an import, so one read-then-update suffices; retry a few times anyway.
      for (let attempt = 0; ; attempt++) {
        const cur = await backend.get(key);
        try {
          if (cur.kv) await backend.update(key, value, cur.kv.modRevision);
          else await backend.create(key, value);
          replaced += cur.kv ? 1 : 0;
          return;
        } catch (e) {
          if (attempt >= 3) throw e;
        }
      }
    } catch (e) {
      const msg = e instanceof KeyExistsError ? `duplicate key ${key}` : `writing ${key}: ${(e as Error).message ?? String(e)}`;
      throw new DatastoreFormatError(n, msg);
    }
  };

  for await (const item of readDump(input)) {
    if ('header' in item) {
      header = item.header;
      opts.onProgress?.(0, header.keys);
      continue;
    }
    if (failure) break;
    inDump?.add(item.key);
    const p: Promise<void> = put(item.n, item.key, item.value).then(
      () => {
        inflight.delete(p);
        done++;
        if (done % 256 === 0) opts.onProgress?.(done, header!.keys);
      },
      (e) => {
        inflight.delete(p);
        failure ??= e;
      },
    );
    inflight.add(p);
    if (inflight.size >= limit) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  if (failure) throw failure;

  let deleted = 0;
  if (inDump) {
    // The store must end up equal to the dump: remove what only the target had.
    const stale: string[] = [];
    let startKey: string | undefined;
    for (;;) {
      const page = await backend.list(ROOT, { limit: 1000, startKey });
      for (const kv of page.kvs) if (!inDump.has(kv.key)) stale.push(kv.key);
      if (!page.more || page.kvs.length === 0) break;
      startKey = page.kvs[page.kvs.length - 1]!.key + '\0';
    }
    for (let i = 0; i < stale.length; i += limit) {
      await Promise.all(stale.slice(i, i + limit).map((k) => backend.delete(k).catch(() => undefined)));
    }
    deleted = stale.length;
  }
  opts.onProgress?.(done, header!.keys);
  return { header: header!, keys: done, replaced, deleted };
}

// ---- opening a store for the CLI (src/cli may not import src/storage) ----

/** Which store `k8ts datastore` works on. */
export type DatastoreTarget =
  | { kind: 'sqlite'; /** The database file (DATA_DIR/db/state.db). */ path: string; /** Create it if missing (import). */ create?: boolean }
  | { kind: 'etcd'; endpoints: string[]; prefix?: string; tls?: { ca: string; cert?: string; key?: string } };

/**
 * TLS to etcd from the `--etcd-cafile`, `--etcd-certfile` and `--etcd-keyfile` flags (file paths);
 * undefined when none is given. A client certificate needs its key (and the reverse), and the CA
 * that signed etcd's serving certificate: flags that cannot work are refused, not dropped.
 */
export function etcdTLSFromFiles(files: { cafile?: string; certfile?: string; keyfile?: string }): { ca: string; cert?: string; key?: string } | undefined {
  const { cafile, certfile, keyfile } = files;
  if (!cafile && !certfile && !keyfile) return undefined;
  if (!cafile) throw new Error('--etcd-certfile and --etcd-keyfile need --etcd-cafile (the CA of the etcd servers\' certificates)');
  if (!!certfile !== !!keyfile) throw new Error('--etcd-certfile and --etcd-keyfile go together (the client certificate and its key)');
  const read = (flag: string, f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch (e) {
      throw new Error(`${flag} ${f}: ${(e as Error).message}`);
    }
  };
  return { ca: read('--etcd-cafile', cafile), cert: certfile ? read('--etcd-certfile', certfile) : undefined, key: keyfile ? read('--etcd-keyfile', keyfile) : undefined };
}

/**
 * Fail when a process (a k8ts server) has the SQLite database open. Every open SqliteBackend holds
 * a shared lock on the file (WAL mode), so an exclusive lock is refused while one runs. This is
 * a check at one moment: a server started afterwards is not kept out.
 */
export function assertSqliteNotInUse(path: string): void {
  const db = new Database(path, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
  } catch (e) {
    if ((e as { code?: string }).code === 'SQLITE_BUSY' || (e as { code?: string }).code === 'SQLITE_LOCKED') {
      throw new Error(`${path} is in use (is a k8ts server running on this data dir?): stop the server first`);
    }
    throw e;
  } finally {
    db.close();
  }
}

/** Open the store a `k8ts datastore` command names: raw, without encryption (values are copied as stored). */
export async function openDatastore(target: DatastoreTarget): Promise<Backend> {
  if (target.kind === 'etcd') {
    const { EtcdBackend } = await import('../storage/etcd/etcd-backend.js');
    return EtcdBackend.open({ endpoints: target.endpoints, prefix: target.prefix, tls: target.tls });
  }
  if (existsSync(target.path)) assertSqliteNotInUse(target.path);
  else if (target.create) mkdirSync(dirname(target.path), { recursive: true, mode: 0o700 });
  else throw new Error(`no k8ts database at ${target.path} (is --data-dir right?)`);
  const { SqliteBackend } = await import('../storage/sqlite/sqlite-backend.js');
  return SqliteBackend.open({ path: target.path });
}
