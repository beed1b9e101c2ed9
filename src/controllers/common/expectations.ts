/**
 * Controller expectations (upstream's controller_utils.go): a controller that has just issued
 * creates or deletes records how many it expects to see, and does not act on its key again until
 * its informers have observed them all, so it never double-creates from a stale cache. An
 * expectation that is not met within the TTL (5 minutes) is treated as satisfied, so lost watch
 * events cannot wedge a controller.
 */

/** Upstream's ExpectationsTimeout. */
export const EXPECTATIONS_TTL_MS = 5 * 60_000;

/** What one controller key is waiting for. */
export interface ControlleeExpectations {
  key: string;
  /** Creations still to observe (may go negative when more are observed than expected). */
  add: number;
  /** Deletions still to observe. */
  del: number;
  /** When the expectations were set (clock ms). */
  timestamp: number;
}

export interface ExpectationsOptions {
  ttlMs?: number;
  /** Milliseconds clock, for tests. Default Date.now. */
  now?: () => number;
}

/** Tracks expected creations and deletions per controller key (e.g. `namespace/name` of a ReplicaSet). */
export class ControllerExpectations {
  private readonly store = new Map<string, ControlleeExpectations>();
  protected readonly ttlMs: number;
  protected readonly now: () => number;

  constructor(opts: ExpectationsOptions = {}) {
    this.ttlMs = opts.ttlMs ?? EXPECTATIONS_TTL_MS;
    this.now = opts.now ?? Date.now;
  }

  /** A copy of the key's expectations, if any are recorded. */
  getExpectations(key: string): ControlleeExpectations | undefined {
    const e = this.store.get(key);
    return e ? { ...e } : undefined;
  }

  /** Forget the key (its controller object was deleted). */
  deleteExpectations(key: string): void {
    this.store.delete(key);
  }

  /**
   * True when the controller may sync the key: no expectations recorded, all observed, or the
   * recorded ones are older than the TTL.
   */
  satisfied(key: string): boolean {
    const e = this.store.get(key);
    if (!e) return true;
    if (e.add <= 0 && e.del <= 0) return true;
    return this.now() - e.timestamp > this.ttlMs;
  }

  /** Upstream's name for {@link satisfied}. */
  satisfiedExpectations(key: string): boolean {
    return this.satisfied(key);
  }

  /** Replace the key's expectations, stamping them now. */
  setExpectations(key: string, add: number, del: number): void {
    this.store.set(key, { key, add, del, timestamp: this.now() });
  }

  /** Expect `adds` creations (and no deletions). */
  expectCreations(key: string, adds: number): void {
    this.setExpectations(key, adds, 0);
  }

  /** Expect `dels` deletions (and no creations). */
  expectDeletions(key: string, dels: number): void {
    this.setExpectations(key, 0, dels);
  }

  /** Add to existing expectations (no-op when none are recorded); the timestamp is kept. */
  raiseExpectations(key: string, add: number, del: number): void {
    const e = this.store.get(key);
    if (!e) return;
    e.add += add;
    e.del += del;
  }

  /** Subtract from existing expectations (no-op when none are recorded). */
  lowerExpectations(key: string, add: number, del: number): void {
    const e = this.store.get(key);
    if (!e) return;
    e.add -= add;
    e.del -= del;
  }

  /** An informer saw one of the expected creations (or a create failed and will not be seen). */
  creationObserved(key: string): void {
    this.lowerExpectations(key, 1, 0);
  }

  /** An informer saw one of the expected deletions (or a delete failed and will not be seen). */
  deletionObserved(key: string): void {
    this.lowerExpectations(key, 0, 1);
  }
}

/**
 * Expectations that also remember which objects are expected to go away, so a deletion observed
 * twice (a graceful delete, then the final one) lowers the count only once (upstream's
 * UIDTrackingControllerExpectations; it tracks object keys despite the name).
 */
export class UIDTrackingControllerExpectations extends ControllerExpectations {
  private readonly uids = new Map<string, Set<string>>();

  /** The object keys still expected to be deleted for the controller key. */
  getUIDs(key: string): Set<string> | undefined {
    const s = this.uids.get(key);
    return s ? new Set(s) : undefined;
  }

  /** Expect these objects (by key) to be deleted; replaces earlier tracked deletions. */
  expectDeletionsOf(key: string, deletedKeys: string[]): void {
    this.uids.set(key, new Set(deletedKeys));
    this.expectDeletions(key, deletedKeys.length);
  }

  /** Lower the deletion count if `deleteKey` was expected, at most once per object. */
  deletionObservedOf(key: string, deleteKey: string): void {
    const s = this.uids.get(key);
    if (s?.has(deleteKey)) {
      this.lowerExpectations(key, 0, 1);
      s.delete(deleteKey);
    }
  }

  override deleteExpectations(key: string): void {
    super.deleteExpectations(key);
    this.uids.delete(key);
  }
}
