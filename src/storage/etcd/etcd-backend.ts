/**
 * {@link Backend} on a real etcd v3 cluster, mapped as upstream's storage/etcd3 does: every key lives
 * under a configurable prefix, resourceVersion is the key's mod revision, creates and updates are
 * transactions comparing the create or mod revision, and watches ask for previous values.
 *
 * etcd does not report its compacted revision, so {@link EtcdBackend.compactedRevision} remembers the
 * compactions it made and otherwise finds the boundary by probing reads at past revisions.
 */
import { CompareResult, CompareTarget, Etcd3, type IKeyValue, type IOptions, type IWatchResponse } from 'etcd3';
import {
  type Backend,
  ClosedError,
  CompactedError,
  ConflictError,
  FutureRevisionError,
  type GetResult,
  KeyExistsError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  NotFoundError,
  type Watch,
  type WatchEvent,
  type WatchHandler,
  type WatchOptions,
} from '../interface.js';
import { prefixEnd } from '../key-range.js';
import { WatchQueue } from '../watch-queue.js';

/** Options of {@link EtcdBackend.open}. */
export interface EtcdBackendOptions {
  /** Client URLs, e.g. `http://127.0.0.1:2379` (use `https://` with {@link tls}). */
  endpoints: string[];
  /** Prepended to every key in etcd. Default '' (the Backend keys already start with `/registry/`). */
  prefix?: string;
  /** PEM CA bundle and optional client certificate and key. */
  tls?: { ca: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /** Run auto-compaction this often; 0 or undefined disables it. */
  compactIntervalMs?: number;
  /** Auto-compaction keeps this many most recent revisions of history. Default 1000. */
  compactKeepRevisions?: number;
  /** A watcher with more undelivered events than this is closed with SlowWatcherError. Default 10,000. */
  watchBufferLimit?: number;
}

/** The etcd revision as a number (int64 strings from gRPC; revisions stay far below 2^53). */
const num = (s: string | number | undefined): number => Number(s ?? 0);

const reCompacted = /required revision has been compacted/;
const reFuture = /required revision is a future revision/;

/** Retry delay after a watch stream fails, before resuming it from the last revision seen. */
const watchRetryMs = 200;

/** The etcd-backed storage backend. Open with {@link EtcdBackend.open}. */
export class EtcdBackend implements Backend {
  private closed = false;

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly watches = new Set<EtcdWatch>();
  /** The highest compacted revision this client knows of (its own compactions, or found by probing). */
  private knownCompacted = 0;
  private compactTimer: NodeJS.Timeout | undefined;
  private readonly prefix: string;
  private readonly watchBufferLimit: number;

  private constructor(
    /** @internal */ readonly client: Etcd3,
    opts: EtcdBackendOptions,
  ) {
    this.prefix = opts.prefix ?? '';
    this.watchBufferLimit = opts.watchBufferLimit ?? 10_000;
    const interval = opts.compactIntervalMs ?? 0;
    if (interval > 0) {
      const keep = opts.compactKeepRevisions ?? 1000;
      this.compactTimer = setInterval(() => {
        void this.autoCompact(keep).catch(() => {});
      }, interval);
      this.compactTimer.unref();
    }
  }

  /** Connect to etcd and check that it answers. */
  static async open(opts: EtcdBackendOptions): Promise<EtcdBackend> {
    if (opts.endpoints.length === 0) throw new Error('EtcdBackend: endpoints must not be empty');
    // Lists of many objects are one range response: lift gRPC's 4 MiB receive cap, as upstream's
    // etcd client does (MaxCallRecvMsgSize = MaxInt32).
    const options: IOptions = { hosts: opts.endpoints, grpcOptions: { 'grpc.max_receive_message_length': -1 } };
    if (opts.tls) {
      const buf = (x: string | Buffer | undefined) => (x === undefined ? undefined : Buffer.from(x));
      options.credentials = { rootCertificate: buf(opts.tls.ca)!, certChain: buf(opts.tls.cert), privateKey: buf(opts.tls.key) };
    }
    const client = new Etcd3(options);
    const backend = new EtcdBackend(client, opts);
    try {
      await backend.currentRevision();
    } catch (err) {
      await backend.close();
      throw new Error(`EtcdBackend: cannot reach etcd at ${opts.endpoints.join(',')}: ${String(err)}`, { cause: err });
    }
    return backend;
  }

  // --- key mapping ---

  private k(key: string): Buffer {
    return Buffer.from(this.prefix + key, 'utf8');
  }

  /** The exclusive end of the range of keys under `prefix` (a zero byte means "to the end of the keyspace"). */
  private end(prefix: string): Buffer {
    const e = prefixEnd(this.prefix + prefix);
    return e === undefined ? Buffer.from([0]) : Buffer.from(e, 'utf8');
  }

  private kv(raw: IKeyValue): KeyValue {
    return {
      key: raw.key.toString('utf8').slice(this.prefix.length),
      value: raw.value.toString('utf8'),
      createRevision: num(raw.create_revision),
      modRevision: num(raw.mod_revision),
    };
  }

  // --- plumbing ---

  /** Run one call: refuse it once closed, and let close() wait for it. */
  private run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ClosedError());
    const p = fn();
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /** Translate etcd's revision errors on a read at `rev`; rethrow anything else. */
  private async revisionError(err: unknown, rev: number): Promise<never> {
    const msg = String((err as Error)?.message ?? err);
    if (reCompacted.test(msg)) throw new CompactedError(rev, await this.findCompacted());
    if (reFuture.test(msg)) throw new FutureRevisionError(rev, await this.headRevision());
    throw err;
  }

  private async headRevision(): Promise<number> {
    const res = await this.client.kv.range({ key: Buffer.from([0]), count_only: true });
    return num(res.header.revision);
  }

  /** True when a read at `rev` is still possible, i.e. `rev` is at or above the compacted revision. */
  private async readable(rev: number): Promise<boolean> {
    try {
      await this.client.kv.range({ key: Buffer.from([0]), count_only: true, revision: rev });
      return true;
    } catch (err) {
      if (reCompacted.test(String((err as Error)?.message))) return false;
      throw err;
    }
  }

  /**
   * The compacted revision: the lowest readable revision. One read when nobody else compacted since
   * this client's last look, else a binary search over the revisions.
   */
  private async findCompacted(): Promise<number> {
    const head = await this.headRevision();
    let bad = Math.max(1, Math.min(this.knownCompacted, head));
    if (await this.readable(bad)) {
      // Compacted at revision 1 and never compacted are the same store.
      return this.knownCompacted > 1 ? this.knownCompacted : 0;
    }
    let good = head;
    while (good - bad > 1) {
      const mid = Math.floor((bad + good) / 2);
      if (await this.readable(mid)) good = mid;
      else bad = mid;
    }
    this.knownCompacted = Math.max(this.knownCompacted, good);
    return good;
  }

  private async autoCompact(keep: number): Promise<void> {
    if (this.closed) return;
    const target = (await this.currentRevision()) - keep;
    if (target > this.knownCompacted) await this.compact(target);
  }

  // --- Backend ---

  currentRevision(): Promise<number> {
    return this.run(() => this.headRevision());
  }

  get(key: string, opts?: { revision?: number }): Promise<GetResult> {
    const rev = opts?.revision ?? 0;
    return this.run(async () => {
      const res = await this.client.kv.range({ key: this.k(key), revision: rev }).catch((err) => this.revisionError(err, rev));
      const out: GetResult = { revision: rev || num(res.header.revision) };
      if (res.kvs.length > 0) out.kv = this.kv(res.kvs[0]!);
      return out;
    });
  }

  list(prefix: string, opts?: ListOptions): Promise<ListResult> {
    const rev = opts?.revision ?? 0;
    const start = opts?.startKey !== undefined && opts.startKey > prefix ? opts.startKey : prefix;
    return this.run(async () => {
      const res = await this.client.kv
        .range({ key: this.k(start), range_end: this.end(prefix), revision: rev, limit: opts?.limit ?? 0 })
        .catch((err) => this.revisionError(err, rev));
      const kvs = res.kvs.map((kv) => this.kv(kv));
      const out: ListResult = { kvs, revision: rev || num(res.header.revision), more: res.more };
      if (res.more) out.remaining = num(res.count) - kvs.length;
      return out;
    });
  }

  count(prefix: string): Promise<number> {
    return this.run(async () => {
      const res = await this.client.kv.range({ key: this.k(prefix), range_end: this.end(prefix), count_only: true });
      return num(res.count);
    });
  }

  create(key: string, value: string): Promise<KeyValue> {
    return this.run(async () => {
      const res = await this.client.kv.txn({
        compare: [{ key: this.k(key), target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
        success: [{ request_put: { key: this.k(key), value: Buffer.from(value, 'utf8') } }],
      });
      if (!res.succeeded) throw new KeyExistsError(key);
      const rev = num(res.header.revision);
      return { key, value, createRevision: rev, modRevision: rev };
    });
  }

  update(key: string, value: string, expectedModRevision: number): Promise<KeyValue> {
    return this.run(async () => {
      const res = await this.client.kv.txn({
        compare: [
          { key: this.k(key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expectedModRevision },
          // An absent key has mod revision 0: without this, expecting 0 would create it.
          { key: this.k(key), target: CompareTarget.Version, result: CompareResult.Greater, version: 0 },
        ],
        success: [{ request_put: { key: this.k(key), value: Buffer.from(value, 'utf8'), prev_kv: true } }],
        failure: [{ request_range: { key: this.k(key) } }],
      });
      if (!res.succeeded) throw this.casFailure(key, res.responses[0]?.response_range?.kvs[0]);
      const rev = num(res.header.revision);
      const prev = res.responses[0]!.response_put.prev_kv;
      return { key, value, createRevision: num(prev.create_revision), modRevision: rev };
    });
  }

  delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    return this.run(async () => {
      const res = await this.client.kv.txn({
        compare:
          expectedModRevision === undefined
            ? []
            : [{ key: this.k(key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expectedModRevision }],
        success: [{ request_delete_range: { key: this.k(key), prev_kv: true } }],
        failure: [{ request_range: { key: this.k(key) } }],
      });
      if (!res.succeeded) throw this.casFailure(key, res.responses[0]?.response_range?.kvs[0]);
      const prev = res.responses[0]!.response_delete_range.prev_kvs[0];
      if (!prev) throw new NotFoundError(key);
      return { ...this.kv(prev), modRevision: num(res.header.revision) };
    });
  }

  private casFailure(key: string, current: IKeyValue | undefined): Error {
    return current ? new ConflictError(key, this.kv(current)) : new NotFoundError(key);
  }

  watch(prefix: string, opts: WatchOptions, handler: WatchHandler): Watch {
    const w = new EtcdWatch(this, this.k(prefix), this.end(prefix), this.prefix.length, opts, handler, this.watchBufferLimit);
    if (this.closed) {
      w.queue.close();
      return w;
    }
    this.watches.add(w);
    void w.start();
    return w;
  }

  /** @internal */
  unregister(w: EtcdWatch): void {
    this.watches.delete(w);
  }

  /** @internal A CompactedError for a watch after `afterRevision`, or undefined when that history is still there. */
  async watchCompacted(afterRevision: number): Promise<CompactedError | undefined> {
    if (afterRevision < this.knownCompacted) return new CompactedError(afterRevision, this.knownCompacted);
    try {
      // etcd itself only refuses a watch starting below the compacted revision; the interface also
      // refuses one starting at it (afterRevision = compacted - 1), as the suite requires.
      if (await this.readable(Math.max(1, afterRevision))) return undefined;
    } catch (err) {
      if (reFuture.test(String((err as Error)?.message))) return undefined;
      throw err;
    }
    return new CompactedError(afterRevision, await this.findCompacted());
  }

  compact(revision: number): Promise<void> {
    return this.run(async () => {
      try {
        await this.client.kv.compact({ revision, physical: true });
      } catch (err) {
        const msg = String((err as Error)?.message ?? err);
        if (reFuture.test(msg)) throw new FutureRevisionError(revision, await this.headRevision());
        // At or below the compacted revision: nothing to do.
        if (!reCompacted.test(msg)) throw err;
      }
      this.knownCompacted = Math.max(this.knownCompacted, revision);
    });
  }

  compactedRevision(): Promise<number> {
    return this.run(() => this.findCompacted());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.compactTimer) clearInterval(this.compactTimer);
    await Promise.allSettled([...this.inflight]);
    for (const w of [...this.watches]) w.end(undefined);
    this.client.close();
  }
}

type WatchStream = Awaited<ReturnType<Etcd3['watchClient']['watch']>>;

/** One watch: its own gRPC watch stream, resumed from the last revision seen if the stream fails. */
class EtcdWatch implements Watch {
  readonly queue: WatchQueue;
  /** Every event at or below this revision has been queued. */
  private cursor: number;
  private stream: WatchStream | undefined;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly backend: EtcdBackend,
    private readonly key: Buffer,
    private readonly rangeEnd: Buffer,
    private readonly prefixLen: number,
    private readonly opts: WatchOptions,
    handler: WatchHandler,
    limit: number,
  ) {
    this.cursor = opts.afterRevision;
    this.queue = new WatchQueue(handler, limit, () => this.release());
  }

  async start(): Promise<void> {
    try {
      const compacted = await this.backend.watchCompacted(this.cursor);
      if (compacted) return this.end(compacted);
    } catch {
      // etcd unreachable for the check: the retry reconnects from the cursor, and etcd still refuses compacted starts.
      this.scheduleRetry();
      return;
    }
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.queue.closed || this.backend.isClosed) return;
    let stream: WatchStream;
    try {
      stream = await this.backend.client.watchClient.watch();
    } catch {
      this.scheduleRetry();
      return;
    }
    if (this.queue.closed || this.backend.isClosed) {
      stream.end();
      // A stream opened while the store closed reopened a connection: close it again, or it keeps the process alive.
      if (this.backend.isClosed) this.backend.client.close();
      return;
    }
    this.stream = stream;
    const lost = () => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.scheduleRetry();
    };
    stream.on('data', (res: IWatchResponse) => this.onResponse(res));
    stream.on('error', lost);
    stream.on('end', lost);
    stream.write({
      create_request: {
        key: this.key,
        range_end: this.rangeEnd,
        start_revision: this.cursor + 1,
        prev_kv: true,
        progress_notify: !!this.opts.progressNotify,
      },
    });
  }

  private scheduleRetry(): void {
    if (this.queue.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, watchRetryMs);
  }

  private onResponse(res: IWatchResponse): void {
    if (this.queue.closed) return;
    if (res.canceled) {
      const compactRev = num(res.compact_revision);
      this.end(
        compactRev > 0 || reCompacted.test(res.cancel_reason)
          ? new CompactedError(this.cursor, compactRev)
          : new Error(`etcd canceled the watch: ${res.cancel_reason}`),
      );
      return;
    }
    if (res.created) return;
    if (res.events.length === 0) {
      // A progress notification: etcd sends it only once this watcher has caught up to the revision.
      const rev = num(res.header.revision);
      if (rev > this.cursor) this.cursor = rev;
      this.queue.progress(rev);
      return;
    }
    // One batch per revision (per commit), in order. A response arriving at an empty queue is accepted
    // whole, however many revisions it spans (history replay); otherwise each batch counts towards slowness.
    const exempt = this.queue.pending === 0;
    let batch: WatchEvent[] = [];
    let batchRev = 0;
    for (const ev of res.events) {
      const e = this.event(ev.type, ev.kv, ev.prev_kv);
      const rev = e.kv.modRevision;
      if (rev <= this.cursor) continue;
      if (batch.length > 0 && rev !== batchRev) {
        this.queue.push(batch, exempt);
        batch = [];
      }
      batchRev = rev;
      batch.push(e);
    }
    if (batch.length > 0) {
      this.queue.push(batch, exempt);
      this.cursor = batchRev;
    }
  }

  private event(type: string, raw: IKeyValue, rawPrev: IKeyValue | undefined): WatchEvent {
    const conv = (kv: IKeyValue): KeyValue => ({
      key: kv.key.toString('utf8').slice(this.prefixLen),
      value: kv.value.toString('utf8'),
      createRevision: num(kv.create_revision),
      modRevision: num(kv.mod_revision),
    });
    const prevKv = rawPrev ? conv(rawPrev) : undefined;
    if (String(type).toLowerCase() === 'delete' || (type as unknown) === 1) {
      const kv = prevKv
        ? { ...prevKv, modRevision: num(raw.mod_revision) }
        : { ...conv(raw), createRevision: 0 };
      const e: WatchEvent = { type: 'delete', kv, isCreate: false };
      if (prevKv) e.prevKv = prevKv;
      return e;
    }
    const e: WatchEvent = { type: 'put', kv: conv(raw), isCreate: num(raw.version) === 1 };
    if (prevKv) e.prevKv = prevKv;
    return e;
  }

  /** @internal End the watch, telling the handler `err` (undefined: the store closed). */
  end(err: Error | undefined): void {
    this.queue.close(err);
  }

  cancel(): void {
    this.queue.cancel();
  }

  private release(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    const s = this.stream;
    this.stream = undefined;
    // Cancel the call: etcd (3.4) never ends a half-closed watch stream, so a stream only ended from
    // this side would live on the server, and keep the connection and this process alive.
    // Its 'error' (CANCELLED) goes to the listener that ignores streams no longer current.
    (s as unknown as { cancel?(): void } | undefined)?.cancel?.();
    s?.end();
    this.backend.unregister(this);
  }
}
