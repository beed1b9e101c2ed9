/**
 * Shared timers and request limits, so thousands of hollow nodes in one process cost one interval
 * timer and a bounded number of requests in flight, instead of thousands of each.
 */

interface Entry {
  due: number;
  period: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A hashed timer wheel: callbacks due in the same `resolutionMs` slot run together from one
 * interval timer. Periodic callbacks keep their phase, so staggered offsets stay staggered.
 */
export class Ticker {
  private readonly slots = new Map<number, Entry[]>();
  private timer?: NodeJS.Timeout;
  private lastSlot: number;
  private size = 0;

  constructor(private readonly resolutionMs = 100) {
    this.lastSlot = Math.floor(Date.now() / resolutionMs);
  }

  /** Run `fn` every `periodMs`, first after `offsetMs` (default one period). Returns a cancel function. */
  every(periodMs: number, fn: () => void, offsetMs = periodMs): () => void {
    return this.add({ due: Date.now() + offsetMs, period: Math.max(periodMs, this.resolutionMs), fn, cancelled: false });
  }

  /** Run `fn` once after `ms`. Returns a cancel function. */
  after(ms: number, fn: () => void): () => void {
    return this.add({ due: Date.now() + ms, period: 0, fn, cancelled: false });
  }

  /** Cancel everything. */
  stop(): void {
    for (const list of this.slots.values()) for (const e of list) e.cancelled = true;
    this.slots.clear();
    this.size = 0;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private add(e: Entry): () => void {
    this.place(e);
    if (!this.timer) {
      this.lastSlot = Math.floor(Date.now() / this.resolutionMs);
      this.timer = setInterval(() => this.tick(), this.resolutionMs);
    }
    return () => {
      e.cancelled = true;
    };
  }

  private place(e: Entry): void {
    // Never into a slot already processed.
    const slot = Math.max(Math.ceil(e.due / this.resolutionMs), this.lastSlot + 1);
    let list = this.slots.get(slot);
    if (!list) this.slots.set(slot, (list = []));
    list.push(e);
    this.size++;
  }

  private tick(): void {
    const now = Date.now();
    const nowSlot = Math.floor(now / this.resolutionMs);
    const due: number[] = [];
    if (nowSlot - this.lastSlot > this.slots.size) {
      for (const s of this.slots.keys()) if (s <= nowSlot) due.push(s);
      due.sort((a, b) => a - b);
    } else for (let s = this.lastSlot + 1; s <= nowSlot; s++) if (this.slots.has(s)) due.push(s);
    this.lastSlot = nowSlot;
    for (const s of due) {
      const list = this.slots.get(s)!;
      this.slots.delete(s);
      this.size -= list.length;
      for (const e of list) {
        if (e.cancelled) continue;
        if (e.period > 0) {
          e.due += e.period;
          if (e.due <= now) e.due = now + e.period; // fell behind: skip, keep going
          this.place(e);
        }
        try {
          e.fn();
        } catch {
          // a callback's failure is its own business
        }
      }
    }
    if (this.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/** At most `max` promises at once; the rest wait in order. */
export class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(readonly max: number) {}

  /** Run `fn` when a slot is free. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }

  /** Requests running and waiting, for metrics. */
  get pending(): number {
    return this.active + this.queue.length;
  }
}

/** A 53-bit string hash (cyrb53): status fingerprints without keeping the text. */
export function hash53(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
