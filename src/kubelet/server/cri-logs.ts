/**
 * Container logs as the CRI writes them (`<RFC3339Nano> stdout|stderr F|P <text>` per line, P
 * meaning a partial line continued by the next), read back the way `kubectl logs` asks:
 * tailLines, sinceSeconds/sinceTime, timestamps, limitBytes, and follow.
 */
import { open, stat } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';

/** One whole log line (partials joined), with the time and stream of its first part. */
export interface LogEntry {
  time: string;
  stream: 'stdout' | 'stderr';
  /** The text, ending in "\n". */
  text: string;
}

/** The query parameters of /containerLogs that shape the output. */
export interface LogOptions {
  follow?: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  /** RFC 3339 */
  sinceTime?: string;
  timestamps?: boolean;
  limitBytes?: number;
}

/** Turns CRI log lines into entries, joining partial lines; feed it text in any pieces. */
export class CriLogParser {
  private rest = '';
  private pending: LogEntry | undefined;

  /** Feeds raw file text; returns the entries completed by it. */
  push(text: string): LogEntry[] {
    const out: LogEntry[] = [];
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) {
      const e = this.line(line);
      if (e) out.push(e);
    }
    return out;
  }

  private line(line: string): LogEntry | undefined {
    const a = line.indexOf(' ');
    const b = a < 0 ? -1 : line.indexOf(' ', a + 1);
    if (a < 0 || b < 0) return undefined;
    const time = line.slice(0, a);
    const stream = line.slice(a + 1, b);
    if (stream !== 'stdout' && stream !== 'stderr') return undefined;
    // The tag may be a list ("P" or "F", maybe more fields after ':'); the text follows one space.
    const c = line.indexOf(' ', b + 1);
    const tag = c < 0 ? line.slice(b + 1) : line.slice(b + 1, c);
    const body = c < 0 ? '' : line.slice(c + 1);
    const partial = tag.split(':')[0] === 'P';
    if (this.pending && this.pending.stream === stream) {
      this.pending.text += body;
    } else {
      this.pending = { time, stream, text: body };
    }
    if (partial) return undefined;
    const done = this.pending;
    this.pending = undefined;
    done.text += '\n';
    return done;
  }
}

/** Nanosecond-precision comparison key of an RFC 3339 time (fraction optional, Z or offset). */
export function timeKey(t: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return 0n;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  return BigInt(ms) * 1_000_000n + BigInt(frac);
}

/** The earliest time an entry may have, from sinceTime or sinceSeconds (relative to `now`). */
export function sinceKey(o: LogOptions, now = Date.now()): bigint | undefined {
  if (o.sinceTime) return timeKey(o.sinceTime);
  if (o.sinceSeconds !== undefined) return BigInt(now - o.sinceSeconds * 1000) * 1_000_000n;
  return undefined;
}

/** Formats an entry as kubectl shows it. */
export function formatEntry(e: LogEntry, o: LogOptions): string {
  return o.timestamps ? `${e.time} ${e.text}` : e.text;
}

/** Selects and formats entries of a finished log (no follow): since, then tail, then limitBytes. */
export function renderLog(text: string, o: LogOptions, now = Date.now()): string {
  const p = new CriLogParser();
  let entries = p.push(text.endsWith('\n') || !text ? text : text + '\n');
  const since = sinceKey(o, now);
  if (since !== undefined) entries = entries.filter((e) => timeKey(e.time) >= since);
  if (o.tailLines !== undefined && o.tailLines >= 0) entries = o.tailLines === 0 ? [] : entries.slice(-o.tailLines);
  const out = entries.map((e) => formatEntry(e, o)).join('');
  return o.limitBytes !== undefined && o.limitBytes >= 0 ? Buffer.from(out).subarray(0, o.limitBytes).toString() : out;
}

/** Where {@link streamLog} writes; `write` returns false when the reader is behind. */
export interface LogSink {
  write(s: string): boolean;
  /** Resolves when the sink can take more. */
  drained(): Promise<void>;
}

/**
 * Writes a log file's entries to `sink` per the options. With follow, keeps reading what the
 * runtime appends (fs.watch plus polling) until `signal` aborts, or until the file stops
 * growing while `running()` says the container has exited.
 */
export async function streamLog(path: string, o: LogOptions, sink: LogSink, signal: AbortSignal, running: () => Promise<boolean> = async () => false): Promise<void> {
  const fh = await open(path, 'r');
  let watcher: FSWatcher | undefined;
  try {
    const size = (await fh.stat()).size;
    const initial = size ? (await fh.read(Buffer.alloc(size), 0, size, 0)).buffer.subarray(0, size) : Buffer.alloc(0);
    // Only whole lines now; a trailing partial line is read again with what follows it.
    const cut = initial.lastIndexOf(0x0a) + 1;
    let offset = cut;
    let budget = o.limitBytes !== undefined && o.limitBytes >= 0 ? o.limitBytes : Infinity;
    const emit = async (s: string): Promise<boolean> => {
      if (!s) return budget > 0;
      const b = Buffer.from(s);
      const part = b.length > budget ? b.subarray(0, budget).toString() : s;
      budget -= Math.min(b.length, budget);
      if (!sink.write(part)) await sink.drained();
      return budget > 0;
    };
    const first = renderLog(initial.subarray(0, cut).toString(), { ...o, limitBytes: undefined });
    if (!(await emit(first)) || !o.follow) return;

    const parser = new CriLogParser();
    const since = sinceKey(o);
    let wake: (() => void) | undefined;
    const poke = () => wake?.();
    try {
      watcher = watch(path, poke);
      watcher.on('error', () => undefined);
    } catch {
      // polling alone
    }
    signal.addEventListener('abort', poke, { once: true });
    let idleChecks = 0;
    while (!signal.aborted) {
      const now = (await stat(path).catch(() => undefined))?.size ?? 0;
      if (now < offset) offset = 0; // truncated or replaced
      if (now > offset) {
        const len = now - offset;
        const { buffer } = await fh.read(Buffer.alloc(len), 0, len, offset);
        offset = now;
        idleChecks = 0;
        for (const e of parser.push(buffer.toString())) {
          if (since !== undefined && timeKey(e.time) < since) continue;
          if (!(await emit(formatEntry(e, o)))) return;
        }
        continue;
      }
      // At the end: stop once the container is gone and nothing more arrives.
      if (++idleChecks % 4 === 0 && !(await running())) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 250);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
    await fh.close();
  }
}
