/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside whichever commit
 * crosses the threshold, on the writer's thread: it copies the WAL into the database and, with
 * synchronous=NORMAL, fsyncs the database file there, a stall of the whole API server every few
 * megabytes written (and ~25 % of the CPU of small commits). Here a worker thread with its own
 * connection runs PASSIVE checkpoints, which never block the writer.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';

/** The worker: plain CommonJS, so it runs the same from dist/ and under tsx. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 0');
parentPort.on('message', (m) => {
  if (m === 'checkpoint') {
    let r;
    try {
      r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    } catch (e) {
      r = { error: String(e && e.message || e) };
    }
    parentPort.postMessage(r);
  } else if (m === 'close') {
    db.close();
    parentPort.close();
  }
});
`;

/** What one checkpoint did: WAL frames in all, and frames copied into the database. */
export interface CheckpointResult {
  busy?: number;
  log?: number;
  checkpointed?: number;
  error?: string;
}

export class Checkpointer {
  private readonly worker: Worker;
  private running = false;
  private again = false;
  private closed = false;
  private readonly exited: Promise<void>;

  constructor(
    path: string,
    private readonly onResult: (r: CheckpointResult) => void,
    onError: (err: Error) => void,
  ) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, module: createRequire(import.meta.url).resolve('better-sqlite3') } });
    // Never what keeps a process alive.
    this.worker.unref();
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('message', (r: CheckpointResult) => {
      this.running = false;
      if (!this.closed) this.onResult(r);
      if (this.again && !this.closed) {
        this.again = false;
        this.request();
      }
    });
    this.worker.on('error', (e) => {
      this.closed = true;
      onError(e);
    });
  }

  /** Checkpoint soon: now if none is running, else once more after the one running. */
  request(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.worker.postMessage('checkpoint');
  }

  /** Close the worker's connection and end the thread. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.worker.postMessage('close');
    }
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
