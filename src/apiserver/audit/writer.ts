/**
 * The audit log backend: JSON lines appended to a file (or stdout for `-`), buffered and written
 * off the request path. It never throws to callers; when the disk cannot keep up it drops events
 * (and says so in the server log) rather than grow without bound.
 */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { logger } from '../../base/log.js';

const log = logger('audit');

export interface AuditWriterOptions {
  /** A file path to append to, or `-` for stdout. */
  path: string;
  /** Bytes queued but not yet written beyond which new events are dropped. Default 64 MiB. */
  maxPendingBytes?: number;
}

/** A buffered, non-blocking line writer. The constructor throws if the file cannot be opened. */
export class AuditWriter {
  private readonly out: NodeJS.WritableStream;
  private readonly file?: WriteStream;
  private readonly max: number;
  private batch: string[] = [];
  private scheduled = false;
  private broken = false;
  private closed = false;
  /** Events dropped because the writer was broken, closed or too far behind. */
  dropped = 0;

  constructor(opts: AuditWriterOptions) {
    this.max = opts.maxPendingBytes ?? 64 * 1024 * 1024;
    if (opts.path === '-') {
      this.out = process.stdout;
    } else {
      // Opened here so a bad path fails at startup, not on the first request.
      this.file = createWriteStream('', { fd: openSync(opts.path, 'a', 0o600) });
      this.out = this.file;
    }
    this.out.on('error', (err: Error) => {
      if (!this.broken) log.error('audit log write failed; dropping audit events from now on', { path: opts.path, err: String(err) });
      this.broken = true;
    });
  }

  /** Queue one line (without its newline). Never throws. */
  write(line: string): void {
    if (this.closed || this.broken) {
      this.dropped++;
      return;
    }
    const pending = (this.out as { writableLength?: number }).writableLength ?? 0;
    if (pending > this.max) {
      if (this.dropped++ === 0) log.warn('audit log cannot keep up; dropping events', { pendingBytes: pending });
      return;
    }
    this.batch.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Hand the queued lines to the stream as one write. */
  private flush(): void {
    this.scheduled = false;
    if (this.batch.length === 0 || this.broken) return;
    const chunk = `${this.batch.join('\n')}\n`;
    this.batch = [];
    try {
      this.out.write(chunk);
    } catch (err) {
      this.broken = true;
      log.error('audit log write failed', { err: String(err) });
    }
  }

  /** Write what is queued and close the file (stdout is only drained). Never rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    await new Promise<void>((resolve) => {
      if (this.file) {
        if (this.broken) {
          this.file.destroy();
          resolve();
          return;
        }
        this.file.end(() => resolve());
        this.file.once('error', () => resolve());
      } else if ((this.out as { writableNeedDrain?: boolean }).writableNeedDrain) {
        this.out.once('drain', () => resolve());
      } else {
        resolve();
      }
    });
  }
}
