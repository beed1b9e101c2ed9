/**
 * The storage seam, on etcd's model: one global strictly increasing revision, compare-and-swap
 * on mod revisions, watch from a revision, and compaction. Every backend (SQLite, etcd) implements
 * {@link Backend} and passes the one conformance suite in `storage/testing/`.
 *
 * Keys are plain strings such as `/registry/pods/default/web-1`; values are opaque strings (JSON).
 */

/** One stored key at one revision. */
export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the write that created this key (since its last deletion). */
  createRevision: number;
  /** Revision of the last write to this key. This is what becomes `metadata.resourceVersion`. */
  modRevision: number;
}

export interface GetResult {
  /** The key as of the read revision, or undefined when absent. */
  kv?: KeyValue;
  /** The store revision the read was served at. */
  revision: number;
}

export interface ListOptions {
  /** Read as of this revision; 0 or undefined means the current revision. Older than the compacted revision: {@link CompactedError}. Newer than current: {@link FutureRevisionError}. */
  revision?: number;
  /** Return at most this many keys; 0 or undefined means no limit. */
  limit?: number;
  /** Start at this key (inclusive), which must be within the prefix. Used for `continue`. */
  startKey?: string;
}

export interface ListResult {
  /** Keys in ascending byte order. */
  kvs: KeyValue[];
  /** The revision the list was served at. */
  revision: number;
  /** True when keys remain after the last one returned. */
  more: boolean;
  /** When `more`, how many keys remain after the returned ones (etcd's remainingItemCount). */
  remaining?: number;
}

export type WatchEventType = 'put' | 'delete';

export interface WatchEvent {
  type: WatchEventType;
  /** For a put, the new value; for a delete, the last value before deletion with modRevision = the delete's revision. */
  kv: KeyValue;
  /** The value before this event, if any. */
  prevKv?: KeyValue;
  /** True for a put that created the key. */
  isCreate: boolean;
}

export interface WatchOptions {
  /** Deliver events with revision > afterRevision. Older than the compacted revision: the watch fails with {@link CompactedError}. */
  afterRevision: number;
  /** Ask for progress notifications (bookmarks): the handler's onProgress receives the current revision periodically when idle. */
  progressNotify?: boolean;
}

export interface WatchHandler {
  /**
   * Events arrive in revision order, batched by commit. If this returns a promise, the next batch waits
   * until it settles; events queue meanwhile, and a watcher that lets too many queue up (the backend's
   * buffer limit) is closed with {@link SlowWatcherError}. Treat the array and its events as read-only.
   */
  onEvents(events: WatchEvent[]): void;
  /** Periodic: the store has no events for this watch up to `revision`. */
  onProgress?(revision: number): void;
  /** The watch ended: compacted (CompactedError), too slow (SlowWatcherError), or store closed (undefined). */
  onClose(err?: Error): void;
}

export interface Watch {
  /** Stop delivery and release resources. Idempotent. */
  cancel(): void;
}

/** The backend interface. All writes are durable before their promise resolves. */
export interface Backend {
  /** The current store revision. */
  currentRevision(): Promise<number>;
  get(key: string, opts?: { revision?: number }): Promise<GetResult>;
  /** List the keys that start with `prefix`. */
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  /** Count the keys that start with `prefix` at the current revision. */
  count(prefix: string): Promise<number>;
  /** Create a key. Throws {@link KeyExistsError} if it exists. Resolves to the new KeyValue. */
  create(key: string, value: string): Promise<KeyValue>;
  /**
   * Replace a key's value if its modRevision is `expectedModRevision`.
   * Throws {@link NotFoundError} if absent, {@link ConflictError} (with the current value) if the revision differs.
   */
  update(key: string, value: string, expectedModRevision: number): Promise<KeyValue>;
  /**
   * Delete a key, if `expectedModRevision` is given only when it matches.
   * Resolves to the deleted value, with modRevision = the deletion's revision.
   */
  delete(key: string, expectedModRevision?: number): Promise<KeyValue>;
  /** Watch a key prefix (a whole key is also a prefix; filter exact keys yourself). */
  watch(prefix: string, opts: WatchOptions, handler: WatchHandler): Watch;
  /** Drop history at or below `revision` (the latest value of each key is kept). */
  compact(revision: number): Promise<void>;
  /** The highest compacted revision (0 if none). */
  compactedRevision(): Promise<number>;
  /** Close the store; open watches get onClose(undefined). */
  close(): Promise<void>;
}

/** Base class of storage errors; the registry translates them to API Status errors. */
export class StorageError extends Error {
  constructor(
    readonly code: 'KeyExists' | 'NotFound' | 'Conflict' | 'Compacted' | 'FutureRevision' | 'SlowWatcher' | 'Closed',
    message: string,
  ) {
    super(message);
    this.name = `StorageError(${code})`;
  }
}
export class KeyExistsError extends StorageError {
  constructor(readonly key: string) {
    super('KeyExists', `key exists: ${key}`);
  }
}
export class NotFoundError extends StorageError {
  constructor(readonly key: string) {
    super('NotFound', `key not found: ${key}`);
  }
}
export class ConflictError extends StorageError {
  constructor(
    readonly key: string,
    readonly current: KeyValue,
  ) {
    super('Conflict', `revision mismatch on ${key}: current ${current.modRevision}`);
  }
}
export class CompactedError extends StorageError {
  constructor(
    readonly requested: number,
    readonly compacted: number,
  ) {
    super('Compacted', `required revision ${requested} has been compacted (compacted revision ${compacted})`);
  }
}
export class FutureRevisionError extends StorageError {
  constructor(
    readonly requested: number,
    readonly current: number,
  ) {
    super('FutureRevision', `required revision ${requested} is a future revision (current ${current})`);
  }
}
export class SlowWatcherError extends StorageError {
  constructor() {
    super('SlowWatcher', 'watcher fell too far behind and was closed');
  }
}
export class ClosedError extends StorageError {
  constructor() {
    super('Closed', 'storage is closed');
  }
}
