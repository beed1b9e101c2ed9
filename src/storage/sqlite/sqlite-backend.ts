/**
 * The SQLite storage backend: etcd's data model (one global revision, CAS on mod revisions,
 * watch from a revision, compaction) on one SQLite file, kine-style.
 *
 * Tables:
 * - `log`: one row per revision (key, create_rev, prev_rev, deleted, value). Deletes are tombstone
 *   rows carrying the last value. Reads at older revisions and watch replay come from here.
 * - `current`: key → revision of its live row, so reads at the head are indexed lookups.
 * - `meta`: the compacted revision and the compaction cursor. The revision counter is the newest
 *   log row, or the compacted revision when compaction removed the newest rows (tombstones): rows
 *   above the compacted revision are never removed, so revisions are never reused. (Older files
 *   also hold a `revision` row, written with every commit; it is still read.)
 *
 * Writes are group-committed: all writes issued in one event-loop turn run in one transaction,
 * each with its own CAS check and revision, and their promises settle after the commit is on disk
 * (WAL; each group commit's WAL fsync runs in the thread pool before anything is acknowledged).
 * Writes issued while a WAL fsync is in flight wait for it and are committed together when it
 * ends: they could not be acknowledged sooner, and one transaction costs less than several.
 * Watches are fed from the commit path, never by polling.
 */
import { closeSync, fdatasync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
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

/** Options of {@link SqliteBackend.open}. */
export interface SqliteBackendOptions {
  /** Database file path, or `:memory:`. */
  path: string;
  /** Run auto-compaction this often; 0 or undefined disables it. */
  compactIntervalMs?: number;
  /** Auto-compaction keeps this many most recent revisions of history. Default 1000. */
  compactKeepRevisions?: number;
  /** A watcher with more undelivered events than this is closed with SlowWatcherError. Default 10,000. */
  watchBufferLimit?: number;
  /** Recent events kept in memory so watches starting near the head need no SQLite reads. Default 4096. */
  watchRingSize?: number;
  /** Period of progress notifications to idle watchers that asked for them. Default 1000 ms. */
  progressNotifyIntervalMs?: number;
  /** Log rows examined per compaction transaction. Default 500. */
  compactBatchSize?: number;
}

interface CurrentRow {
  rev: number;
  create_rev: number;
  value: string;
}

interface LogRow {
  rev: number;
  key: string;
  create_rev: number;
  prev_rev: number;
  deleted: number;
  value: string;
}

type WriteOp =
  | { kind: 'create'; key: string; value: string; resolve: (kv: KeyValue) => void; reject: (e: unknown) => void }
  | {
      kind: 'update';
      key: string;
      value: string;
      expected: number;
      resolve: (kv: KeyValue) => void;
      reject: (e: unknown) => void;
    }
  | { kind: 'delete'; key: string; expected?: number; resolve: (kv: KeyValue) => void; reject: (e: unknown) => void };

/** The outcome of one op inside a group transaction: its value, or the CAS error to reject with. */
type OpOutcome = { ok: KeyValue } | { err: Error };

/** The events of one commit, with its revision span. */
interface CommitBatch {
  firstRev: number;
  lastRev: number;
  events: WatchEvent[];
}

interface SqliteWatcher {
  prefix: string;
  end: string | undefined;
  /** Events at or below this revision have been delivered or skipped. */
  cursor: number;
  /** Live watchers receive commits as they happen; before that they replay history. */
  live: boolean;
  progress: boolean;
  queue: WatchQueue;
}

/**
 * Live rows of recently written or read keys kept in memory (at most this many, this many
 * characters of values in all, none larger than the last bound), so that the read-modify-write
 * of a key just written (a pod bound right after its creation, a status update) needs no SQLite
 * lookup, neither for the read nor for the CAS check of the write.
 */
const HEADS_MAX = 4096;
const HEADS_MAX_CHARS = 16 * 1024 * 1024;
const HEAD_MAX_CHARS = 256 * 1024;

/** Most write ops per transaction; more wait for the next turn so one commit stays short. */
const MAX_GROUP = 2000;
/** Rows per watch-replay read, and the widest revision span one replay read scans. */
const REPLAY_CHUNK = 500;
const REPLAY_WINDOW = 20_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
  rev INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  create_rev INTEGER NOT NULL,
  prev_rev INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_rev ON log (key, rev, deleted);
CREATE TABLE IF NOT EXISTS current (
  key TEXT PRIMARY KEY,
  rev INTEGER NOT NULL,
  create_rev INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** What one group commit produced. */
type GroupResult = { rev: number; outcomes: OpOutcome[]; events: WatchEvent[] };

/** Statement pair: one for a bounded key range, one for a prefix with no upper bound. */
interface RangeStmt<R> {
  bounded: Database.Statement<[Record<string, unknown>], R>;
  open: Database.Statement<[Record<string, unknown>], R>;
}

/** SQLite implementation of {@link Backend}. Create with {@link SqliteBackend.open}. */
export class SqliteBackend implements Backend {
  private readonly db: Database.Database;
  private rev: number;
  private compacted: number;
  /** Log rows at or below this revision have been compacted already. */
  private compactDone: number;
  private closed = false;
  private closing: Promise<void> | undefined;

  private pending: WriteOp[] = [];
  private flushScheduled = false;
  /** The last revision handed to watchers; commits above it await their WAL fsync. */
  private publishedRev: number;
  /** Descriptor of the WAL file, fdatasync'ed off the event loop after each group commit (file databases). */
  private readonly walFd: number | undefined;
  /** Committed groups whose fsync has not completed, in commit order. */
  private unsynced: { firstRev: number; result: GroupResult; ops: WriteOp[] }[] = [];
  private syncing = false;
  private readonly syncWaiters: (() => void)[] = [];

  /** key → its live row, for keys written or read recently; exactly the `current` table's view (see HEADS_MAX). */
  private readonly heads = new Map<string, CurrentRow>();
  private headsChars = 0;

  private readonly watchers = new Set<SqliteWatcher>();
  /** Live watchers grouped by prefix, so each commit is filtered once per distinct prefix. */
  private readonly liveByPrefix = new Map<string, Set<SqliteWatcher>>();
  private ring: CommitBatch[] = [];
  private ringEvents = 0;
  /** The ring holds every event with revision > ringStart. */
  private ringStart: number;

  private compactChain: Promise<void> = Promise.resolve();
  private compactTimer: NodeJS.Timeout | undefined;
  private progressTimer: NodeJS.Timeout | undefined;
  private progressWatchers = 0;

  private readonly watchBufferLimit: number;
  private readonly ringSize: number;
  private readonly progressIntervalMs: number;
  private readonly compactBatch: number;

  private readonly s: ReturnType<typeof prepare>;
  private readonly compactTxn: Database.Transaction<(from: number, to: number, target: number) => void>;
  private readonly groupTxn: Database.Transaction<
    (ops: WriteOp[], base: number) => GroupResult
  >;

  private constructor(db: Database.Database, opts: SqliteBackendOptions, walFd?: number) {
    this.db = db;
    this.walFd = walFd;
    this.watchBufferLimit = opts.watchBufferLimit ?? 10_000;
    this.ringSize = opts.watchRingSize ?? 4096;
    this.progressIntervalMs = opts.progressNotifyIntervalMs ?? 1000;
    this.compactBatch = opts.compactBatchSize ?? 500;
    this.s = prepare(db);

    const meta = (name: string): number => (this.s.getMeta.get(name) as number | undefined) ?? 0;
    const maxLogRev = (db.prepare('SELECT max(rev) FROM log').pluck().get() as number | null) ?? 0;
    this.compacted = meta('compacted');
    this.rev = Math.max(meta('revision'), maxLogRev, this.compacted);
    this.compactDone = meta('compact_done');
    this.ringStart = this.rev;
    this.publishedRev = this.rev;

    this.groupTxn = db.transaction((ops: WriteOp[], base: number) => this.applyOps(ops, base));
    this.compactTxn = db.transaction((from: number, to: number, target: number) => {
      this.s.compactRange.run(from, to, target);
      this.s.setMeta.run('compact_done', to);
    });

    if (this.compactDone < this.compacted) {
      // A compaction was interrupted (crash or close): finish it in the background.
      this.compactChain = new Promise((r) => setImmediate(r)).then(() => this.runCompaction());
    }
    const interval = opts.compactIntervalMs ?? 0;
    if (interval > 0) {
      const keep = opts.compactKeepRevisions ?? 1000;
      this.compactTimer = setInterval(() => {
        const target = this.rev - keep;
        if (target > this.compacted) this.compact(target).catch(() => {});
      }, interval);
      this.compactTimer.unref();
    }
  }

  /** Open (creating if needed) a database. Synchronous. */
  static open(opts: SqliteBackendOptions): SqliteBackend {
    const db = new Database(opts.path);
    try {
      const file = opts.path !== ':memory:' && opts.path !== '';
      if (file) db.pragma('journal_mode = WAL');
      // NORMAL: SQLite syncs the WAL at checkpoints, and the database after them; each commit's own
      // fsync is done by this class on the WAL file in the thread pool, so the event loop never
      // blocks on the disk, and nothing is acknowledged (or shown to watchers) before it is durable.
      db.pragma(file ? 'synchronous = NORMAL' : 'synchronous = OFF');
      db.pragma('cache_size = -65536');
      db.pragma('temp_store = MEMORY');
      db.pragma('journal_size_limit = 67108864');
      db.exec(SCHEMA);
      const walFd = file ? openSync(`${opts.path}-wal`, 'r') : undefined;
      return new SqliteBackend(db, opts, walFd);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  // ---- reads ----

  async currentRevision(): Promise<number> {
    this.checkOpen();
    return this.rev;
  }

  async get(key: string, opts?: { revision?: number }): Promise<GetResult> {
    this.checkOpen();
    const rev = this.readRevision(opts?.revision);
    if (rev === this.rev) {
      let row = this.heads.get(key);
      if (row === undefined) {
        row = this.s.getCurrent.get(key);
        if (row) this.setHead(key, row);
      }
      return { revision: rev, kv: row ? { key, value: row.value, createRevision: row.create_rev, modRevision: row.rev } : undefined };
    }
    const row = this.s.getAt.get(key, rev);
    if (!row || row.deleted) return { revision: rev };
    return { revision: rev, kv: { key, value: row.value, createRevision: row.create_rev, modRevision: row.rev } };
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.checkOpen();
    const rev = this.readRevision(opts.revision);
    const end = prefixEnd(prefix);
    const start = opts.startKey !== undefined && opts.startKey > prefix ? opts.startKey : prefix;
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    if (end !== undefined && start >= end) return { kvs: [], revision: rev, more: false };

    if (rev === this.rev) {
      const rows = range(this.s.listCurrent, end, { start, limit: limit > 0 ? limit + 1 : -1 });
      const kvs = rows.map((r) => ({ key: r.key, value: r.value, createRevision: r.create_rev, modRevision: r.rev }));
      if (limit > 0 && kvs.length > limit) {
        kvs.length = limit;
        const remaining = range(this.s.countCurrentAfter, end, { after: kvs[limit - 1]!.key })[0]!;
        return { kvs, revision: rev, more: true, remaining };
      }
      return { kvs, revision: rev, more: false };
    }

    // Older revision: the newest row at or below `rev` of each key, from the covering index, then values by rowid.
    const heads = range(this.s.headsAt, end, { start, rev });
    const kvs: KeyValue[] = [];
    let live = 0;
    for (const [key, r, deleted] of heads) {
      if (deleted) continue;
      live++;
      if (limit > 0 && kvs.length >= limit) continue;
      const row = this.s.valueAt.get(r)!;
      kvs.push({ key, value: row.value, createRevision: row.create_rev, modRevision: r });
    }
    if (live > kvs.length) return { kvs, revision: rev, more: true, remaining: live - kvs.length };
    return { kvs, revision: rev, more: false };
  }

  async count(prefix: string): Promise<number> {
    this.checkOpen();
    const end = prefixEnd(prefix);
    return range(this.s.countCurrentFrom, end, { start: prefix })[0]!;
  }

  // ---- writes ----

  create(key: string, value: string): Promise<KeyValue> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'create', key, value, resolve, reject }));
  }

  update(key: string, value: string, expectedModRevision: number): Promise<KeyValue> {
    return new Promise((resolve, reject) =>
      this.enqueue({ kind: 'update', key, value, expected: expectedModRevision, resolve, reject }),
    );
  }

  delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    return new Promise((resolve, reject) =>
      this.enqueue({ kind: 'delete', key, expected: expectedModRevision, resolve, reject }),
    );
  }

  private enqueue(op: WriteOp): void {
    if (this.closed || this.closing) {
      op.reject(new ClosedError());
      return;
    }
    this.pending.push(op);
    // While a WAL fsync runs, its completion commits what has queued up (see syncWal).
    if (!this.flushScheduled && !this.syncing) {
      this.flushScheduled = true;
      // setImmediate, not a microtask: writes arriving from every I/O callback of this loop turn join the group.
      setImmediate(() => this.flush());
    }
  }

  /** Commit the pending ops as one transaction, then settle their promises and feed watchers. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.closed) return;
    const ops = this.pending.length > MAX_GROUP ? this.pending.splice(0, MAX_GROUP) : this.pending.splice(0);
    if (this.pending.length > 0) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    let result: GroupResult;
    try {
      result = this.groupTxn.immediate(ops, this.rev);
    } catch (err) {
      // The rows applyOps cached may have been rolled back with it.
      this.clearHeads();
      // The transaction rolled back: nothing of it is durable, so every op fails.
      for (const op of ops) op.reject(err);
      return;
    }
    const firstRev = this.rev + 1;
    this.rev = result.rev;
    if (this.walFd === undefined) {
      this.settle({ firstRev, result, ops });
      return;
    }
    this.unsynced.push({ firstRev, result, ops });
    this.syncWal();
  }

  /**
   * Group fsync: one fdatasync of the WAL covers every group committed before it started; groups
   * committed meanwhile wait for the next one. Settles groups in commit order.
   */
  private syncWal(): void {
    if (this.syncing || this.unsynced.length === 0) {
      if (!this.syncing) for (const w of this.syncWaiters.splice(0)) w();
      return;
    }
    const groups = this.unsynced.splice(0);
    this.syncing = true;
    fdatasync(this.walFd!, (err) => {
      this.syncing = false;
      for (const g of groups) {
        if (err) for (const op of g.ops) op.reject(err);
        else this.settle(g);
      }
      // Writes that arrived during the fsync, in one transaction, synced next.
      if (this.pending.length > 0 && !this.flushScheduled) this.flush();
      this.syncWal();
    });
  }

  /** A durable group: feed watchers, then answer the callers. */
  private settle(g: { firstRev: number; result: GroupResult; ops: WriteOp[] }): void {
    const { result, ops } = g;
    if (result.events.length > 0) this.publish({ firstRev: g.firstRev, lastRev: result.rev, events: result.events });
    for (let i = 0; i < ops.length; i++) {
      const outcome = result.outcomes[i]!;
      if ('ok' in outcome) ops[i]!.resolve(outcome.ok);
      else ops[i]!.reject(outcome.err);
    }
  }

  /** Remember a key's live row (most recent last; the oldest go beyond the bounds). */
  private setHead(key: string, row: CurrentRow): void {
    this.dropHead(key);
    if (row.value.length > HEAD_MAX_CHARS) return;
    this.heads.set(key, row);
    this.headsChars += row.value.length;
    if (this.heads.size <= HEADS_MAX && this.headsChars <= HEADS_MAX_CHARS) return;
    // The oldest quarter goes at once: a Map keeps deleted entries as holes until it rehashes, so
    // looking for the first live entry on every insert would walk ever more of them.
    let drop = HEADS_MAX >> 2;
    for (const [k, r] of this.heads) {
      this.heads.delete(k);
      this.headsChars -= r.value.length;
      if (--drop <= 0 && this.headsChars <= HEADS_MAX_CHARS) break;
    }
  }

  private dropHead(key: string): void {
    const old = this.heads.get(key);
    if (old === undefined) return;
    this.heads.delete(key);
    this.headsChars -= old.value.length;
  }

  private clearHeads(): void {
    this.heads.clear();
    this.headsChars = 0;
  }

  /** Runs inside the group transaction. Each op gets its own CAS check against the state left by the ops before it. */
  private applyOps(ops: WriteOp[], base: number): GroupResult {
    const s = this.s;
    let rev = base;
    const outcomes: OpOutcome[] = [];
    const events: WatchEvent[] = [];
    for (const op of ops) {
      if (op.kind === 'create') {
        // The insert is the existence check: no row is written when the key is live.
        if (s.insCurrent.run(op.key, rev + 1, rev + 1).changes === 0) {
          outcomes.push({ err: new KeyExistsError(op.key) });
          continue;
        }
        rev++;
        s.insLog.run(rev, op.key, rev, 0, 0, op.value);
        this.setHead(op.key, { rev, create_rev: rev, value: op.value });
        const kv: KeyValue = { key: op.key, value: op.value, createRevision: rev, modRevision: rev };
        events.push({ type: 'put', kv, isCreate: true });
        outcomes.push({ ok: { ...kv } });
        continue;
      }
      const cur = this.heads.get(op.key) ?? s.getCurrent.get(op.key);
      if (!cur) {
        outcomes.push({ err: new NotFoundError(op.key) });
        continue;
      }
      const prevKv: KeyValue = { key: op.key, value: cur.value, createRevision: cur.create_rev, modRevision: cur.rev };
      if (op.expected !== undefined && op.expected !== cur.rev) {
        outcomes.push({ err: new ConflictError(op.key, { ...prevKv }) });
        continue;
      }
      rev++;
      if (op.kind === 'update') {
        s.insLog.run(rev, op.key, cur.create_rev, cur.rev, 0, op.value);
        s.updCurrent.run(rev, op.key);
        this.setHead(op.key, { rev, create_rev: cur.create_rev, value: op.value });
        const kv: KeyValue = { key: op.key, value: op.value, createRevision: cur.create_rev, modRevision: rev };
        events.push({ type: 'put', kv, prevKv, isCreate: false });
        outcomes.push({ ok: { ...kv } });
      } else {
        s.insLog.run(rev, op.key, cur.create_rev, cur.rev, 1, cur.value);
        s.delCurrent.run(op.key);
        this.dropHead(op.key);
        const kv: KeyValue = { key: op.key, value: cur.value, createRevision: cur.create_rev, modRevision: rev };
        events.push({ type: 'delete', kv, prevKv, isCreate: false });
        outcomes.push({ ok: { ...kv } });
      }
    }
    return { rev, outcomes, events };
  }

  // ---- watch ----

  watch(prefix: string, opts: WatchOptions, handler: WatchHandler): Watch {
    const w: SqliteWatcher = {
      prefix,
      end: prefixEnd(prefix),
      cursor: opts.afterRevision,
      live: false,
      progress: !!opts.progressNotify,
      queue: new WatchQueue(handler, this.watchBufferLimit, () => this.unregister(w)),
    };
    if (this.closed || this.closing) {
      w.queue.close(new ClosedError());
      return { cancel: () => {} };
    }
    this.watchers.add(w);
    if (w.progress) {
      this.progressWatchers++;
      this.ensureProgressTimer();
    }
    this.replayStep(w);
    return { cancel: () => w.queue.cancel() };
  }

  private unregister(w: SqliteWatcher): void {
    this.watchers.delete(w);
    if (w.live) {
      const set = this.liveByPrefix.get(w.prefix);
      set?.delete(w);
      if (set?.size === 0) this.liveByPrefix.delete(w.prefix);
    }
    if (w.progress) this.progressWatchers--;
    if (this.progressTimer && this.progressWatchers === 0) {
      clearInterval(this.progressTimer);
      this.progressTimer = undefined;
    }
  }

  /**
   * Advance a replaying watcher by one step. Synchronous, so no commit can slip between reading
   * history and going live: once the cursor is inside the ring, the rest comes from the ring and
   * the watcher joins the live set in the same turn.
   */
  private replayStep(w: SqliteWatcher): void {
    if (w.queue.closed || this.closed) return;
    if (w.cursor < this.compacted) {
      w.queue.close(new CompactedError(w.cursor, this.compacted));
      return;
    }
    if (w.cursor >= this.ringStart) {
      for (const batch of this.ring) {
        if (batch.lastRev <= w.cursor) continue;
        const events = batch.events.filter((e) => e.kv.modRevision > w.cursor && e.kv.key.startsWith(w.prefix));
        w.queue.push(events, true);
      }
      w.cursor = Math.max(w.cursor, this.publishedRev);
      w.live = true;
      let set = this.liveByPrefix.get(w.prefix);
      if (!set) this.liveByPrefix.set(w.prefix, (set = new Set()));
      set.add(w);
      return;
    }
    // Rows above the cursor are never compacted away (cursor >= compacted), so reading in steps is gap-free.
    const upper = Math.min(w.cursor + REPLAY_WINDOW, this.publishedRev);
    const rows = range(this.s.replay, w.end, { from: w.cursor, to: upper, start: w.prefix, limit: REPLAY_CHUNK });
    const events = rows.map((r) => this.rowToEvent(r));
    w.cursor = rows.length === REPLAY_CHUNK ? rows[rows.length - 1]!.rev : upper;
    w.queue.push(events, true);
    // Pace replay by the consumer: read more only once it has taken what it has.
    w.queue.whenDrained(() => setImmediate(() => this.replayStep(w)));
  }

  private rowToEvent(r: LogRow): WatchEvent {
    const kv: KeyValue = { key: r.key, value: r.value, createRevision: r.create_rev, modRevision: r.rev };
    if (r.deleted) {
      // A tombstone carries the deleted value, so the previous row need not be read.
      const prevKv: KeyValue = { key: r.key, value: r.value, createRevision: r.create_rev, modRevision: r.prev_rev };
      return { type: 'delete', kv, prevKv, isCreate: false };
    }
    if (r.prev_rev === 0) return { type: 'put', kv, isCreate: true };
    const prev = this.s.valueAt.get(r.prev_rev);
    const prevKv = prev
      ? { key: r.key, value: prev.value, createRevision: prev.create_rev, modRevision: r.prev_rev }
      : undefined;
    return { type: 'put', kv, prevKv, isCreate: false };
  }

  /** Append a commit to the ring and hand it to live watchers. */
  private publish(batch: CommitBatch): void {
    this.publishedRev = batch.lastRev;
    this.ring.push(batch);
    this.ringEvents += batch.events.length;
    while (this.ring.length > 1 && this.ringEvents > this.ringSize) {
      const old = this.ring.shift()!;
      this.ringEvents -= old.events.length;
      this.ringStart = old.lastRev;
    }
    for (const [prefix, set] of this.liveByPrefix) {
      const events = prefix === '' ? batch.events : batch.events.filter((e) => e.kv.key.startsWith(prefix));
      if (events.length === 0) continue;
      for (const w of set) {
        // A watch may start after a future revision; skip what it did not ask for.
        const mine = w.cursor >= batch.firstRev ? events.filter((e) => e.kv.modRevision > w.cursor) : events;
        w.queue.push(mine);
      }
    }
    for (const set of this.liveByPrefix.values()) for (const w of set) if (w.cursor < batch.lastRev) w.cursor = batch.lastRev;
  }

  private ensureProgressTimer(): void {
    if (this.progressTimer) return;
    this.progressTimer = setInterval(() => {
      for (const w of this.watchers) if (w.progress && w.live) w.queue.progress(this.publishedRev);
    }, this.progressIntervalMs);
    this.progressTimer.unref();
  }

  // ---- compaction ----

  async compact(revision: number): Promise<void> {
    this.checkOpen();
    if (revision > this.rev) throw new FutureRevisionError(revision, this.rev);
    if (revision > this.compacted) {
      // Raise the compacted revision first: from now on no reader or watcher can ask for rows being deleted.
      this.compacted = revision;
      this.s.setMeta.run('compacted', revision);
      // For builds that still take the revision from this row rather than from the compacted one.
      this.s.setMeta.run('revision', this.rev);
      for (const w of this.watchers) {
        if (!w.live && w.cursor < revision) w.queue.close(new CompactedError(w.cursor, revision));
      }
      this.compactChain = this.compactChain.then(() => this.runCompaction());
    }
    await this.compactChain;
  }

  async compactedRevision(): Promise<number> {
    this.checkOpen();
    return this.compacted;
  }

  /**
   * Delete superseded history up to the compacted revision in small transactions, yielding to
   * the event loop between them so writers wait for at most one small batch.
   */
  private async runCompaction(): Promise<void> {
    while (!this.closed && !this.closing && this.compactDone < this.compacted) {
      const target = this.compacted;
      const from = this.compactDone;
      const nth = this.s.nthRevAfter.get(from, target, this.compactBatch - 1);
      const to = nth ?? target;
      this.compactTxn.immediate(from, to, target);
      this.compactDone = to;
      await new Promise((r) => setImmediate(r));
    }
  }

  // ---- lifecycle ----

  async close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      // Commit what callers already handed us; new writes are refused from here on.
      while (this.pending.length > 0) this.flush();
      await new Promise<void>((r) => {
        this.syncWaiters.push(r);
        this.syncWal();
      });
      if (this.compactTimer) clearInterval(this.compactTimer);
      if (this.progressTimer) clearInterval(this.progressTimer);
      await this.compactChain.catch(() => {});
      this.closed = true;
      for (const w of [...this.watchers]) w.queue.close(undefined);
      this.db.close();
      if (this.walFd !== undefined) closeSync(this.walFd);
    })();
    return this.closing;
  }

  private checkOpen(): void {
    if (this.closed || this.closing) throw new ClosedError();
  }

  private readRevision(requested: number | undefined): number {
    if (!requested) return this.rev;
    if (requested < this.compacted) throw new CompactedError(requested, this.compacted);
    if (requested > this.rev) throw new FutureRevisionError(requested, this.rev);
    return requested;
  }
}

/** Run a range statement with named parameters, adding the upper key bound when there is one. */
function range<R>(stmt: RangeStmt<R>, end: string | undefined, params: Record<string, unknown>): R[] {
  if (end === undefined) return stmt.open.all(params);
  return stmt.bounded.all({ ...params, end });
}

function prepare(db: Database.Database) {
  /** Prepare a statement twice: with `{END}` replaced by `<col> < @end`, and with it dropped (no upper bound). */
  const ranged = <R>(sql: string, col = 'key', mode: 'rows' | 'raw' | 'pluck' = 'rows'): RangeStmt<R> => {
    const mk = (text: string) => {
      const st = db.prepare<[Record<string, unknown>], R>(text);
      if (mode === 'raw') st.raw(true);
      if (mode === 'pluck') st.pluck(true);
      return st;
    };
    return { bounded: mk(sql.replace('{END}', `AND ${col} < @end`)), open: mk(sql.replace('{END}', '')) };
  };
  return {
    getMeta: db.prepare<[string], number>('SELECT value FROM meta WHERE name = ?').pluck(),
    setMeta: db.prepare<[string, number]>(
      'INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    ),
    getCurrent: db.prepare<[string], CurrentRow>(
      'SELECT c.rev AS rev, c.create_rev AS create_rev, l.value AS value FROM current c JOIN log l ON l.rev = c.rev WHERE c.key = ?',
    ),
    getAt: db.prepare<[string, number], { rev: number; create_rev: number; deleted: number; value: string }>(
      'SELECT rev, create_rev, deleted, value FROM log WHERE key = ? AND rev <= ? ORDER BY rev DESC LIMIT 1',
    ),
    valueAt: db.prepare<[number], { create_rev: number; value: string }>('SELECT create_rev, value FROM log WHERE rev = ?'),
    insLog: db.prepare<[number, string, number, number, number, string]>(
      'INSERT INTO log (rev, key, create_rev, prev_rev, deleted, value) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    insCurrent: db.prepare<[string, number, number]>('INSERT INTO current (key, rev, create_rev) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING'),
    updCurrent: db.prepare<[number, string]>('UPDATE current SET rev = ? WHERE key = ?'),
    delCurrent: db.prepare<[string]>('DELETE FROM current WHERE key = ?'),
    listCurrent: ranged<{ key: string; rev: number; create_rev: number; value: string }>(
      `SELECT c.key AS key, c.rev AS rev, c.create_rev AS create_rev, l.value AS value
       FROM current c JOIN log l ON l.rev = c.rev WHERE c.key >= @start {END} ORDER BY c.key LIMIT @limit`,
      'c.key',
    ),
    countCurrentFrom: ranged<number>('SELECT count(*) FROM current WHERE key >= @start {END}', 'key', 'pluck'),
    countCurrentAfter: ranged<number>('SELECT count(*) FROM current WHERE key > @after {END}', 'key', 'pluck'),
    // Per key, the newest row at or below @rev (SQLite takes the bare column `deleted` from the max(rev) row).
    headsAt: ranged<[string, number, number]>(
      'SELECT key, max(rev) AS rev, deleted FROM log WHERE key >= @start AND rev <= @rev {END} GROUP BY key ORDER BY key',
      'key',
      'raw',
    ),
    // NOT INDEXED: walk the log by rowid (revision order) rather than by key.
    replay: ranged<LogRow>(
      `SELECT rev, key, create_rev, prev_rev, deleted, value FROM log NOT INDEXED
       WHERE rev > @from AND rev <= @to AND key >= @start {END} ORDER BY rev LIMIT @limit`,
    ),
    nthRevAfter: db
      .prepare<[number, number, number], number>('SELECT rev FROM log WHERE rev > ? AND rev <= ? ORDER BY rev LIMIT 1 OFFSET ?')
      .pluck(),
    // A row at or below the compacted revision goes when a newer row of its key also is at or below it, or when it is a tombstone.
    compactRange: db.prepare<[number, number, number]>(
      `DELETE FROM log WHERE rev > ? AND rev <= ? AND (deleted = 1 OR EXISTS (
         SELECT 1 FROM log l2 WHERE l2.key = log.key AND l2.rev > log.rev AND l2.rev <= ?))`,
    ),
  };
}
