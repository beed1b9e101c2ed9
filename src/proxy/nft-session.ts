/**
 * A long-lived `nft -i` process fed over stdin, so a small transaction costs one cache fetch and
 * one netlink batch instead of starting nsenter and nft (about 10 ms of CPU each time, far more
 * when the machine is busy).
 *
 * Atomicity: interactive nft parses each input line as one buffer and commits it as one netlink
 * batch, so a transaction is sent as a single line with its commands joined by `; `. Checked with
 * nftables 1.0.6: when any command of a line fails, none of the line is applied.
 *
 * Completion: nft prints nothing on success, so each transaction is followed by a `describe`
 * command, which needs neither the kernel nor the cache and prints one known line. Whatever nft
 * wrote before that line (stdout and stderr share one pipe, in order) is the transaction's
 * error output.
 *
 * Interactive nft keeps every line in its history, so the process is replaced after a budget of
 * input, and large scripts (full syncs) should go through a one-shot `nft -f -` instead.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { CommandError, netnsPath } from './exec.js';

const SENTINEL_CMD = 'describe ip saddr';
/** What nft prints for {@link SENTINEL_CMD} starts so; checked when the session starts. */
const SENTINEL_PREFIX = 'payload expression, datatype ipv4_addr';

/** Options of {@link NftSession}. */
export interface NftSessionOptions {
  /** Network namespace (name or path) to run nft in. */
  netns?: string;
  /** Give up on one transaction after this long; the process is then killed (default 30 s). */
  timeoutMs?: number;
  /** Replace the process after this much input, bounding nft's history (default 16 MiB). */
  maxInputBytes?: number;
}

/** The session's process failed (could not start, died, or stopped answering); not nft refusing a transaction. */
export class NftSessionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NftSessionError';
  }
}

/** One pending transaction. */
interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  label: string;
}

/** A persistent `nft -i`; {@link apply} runs one atomic transaction at a time (calls queue). */
export class NftSession {
  private child: ChildProcessWithoutNullStreams | undefined;
  private buf = '';
  private pending: Pending | undefined;
  private queue: Promise<void> = Promise.resolve();
  private written = 0;
  private closed = false;
  /** Processes started so far (for tests and logs). */
  starts = 0;

  constructor(private readonly o: NftSessionOptions = {}) {}

  /** The PID of the current process (nsenter and sh exec into nft), if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Apply `script` (nft commands, one a line, as for `nft -f`) as one transaction. Rejects with a
   * {@link CommandError} carrying nft's messages when the kernel or nft refused it (nothing
   * applied), or with an {@link NftSessionError} when the process failed (then the outcome is unknown).
   */
  apply(script: string): Promise<void> {
    const line = script
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .join('; ');
    const p = this.queue.then(() => (line ? this.send(line) : undefined));
    this.queue = p.catch(() => {});
    return p;
  }

  /** End the process (nft exits at end of input); later {@link apply} calls fail. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    this.stopChild();
  }

  private stopChild(kill = false): void {
    const c = this.child;
    this.child = undefined;
    this.buf = '';
    if (!c) return;
    if (kill && c.pid && c.exitCode === null) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {}
    } else c.stdin.end();
  }

  private start(): ChildProcessWithoutNullStreams {
    const ns = netnsPath(this.o.netns);
    // One pipe for both streams keeps errors ahead of the sentinel's line. HOME elsewhere: nft
    // reads and writes its history file there.
    const cmd = ['sh', '-c', 'exec nft -i 2>&1'];
    const [file, argv] = ns ? ['nsenter', [`--net=${ns}`, ...cmd]] : [cmd[0], cmd.slice(1)];
    const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HOME: '/nonexistent-k8ts-nft' } });
    this.starts++;
    this.written = 0;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (this.child !== child) return;
      this.buf += d;
      this.check();
    });
    child.stderr.on('data', (d: Buffer) => {
      if (this.child === child) this.buf += d.toString();
    });
    child.stdin.on('error', () => {});
    const gone = (why: string) => {
      if (this.child !== child) return;
      const out = this.buf;
      this.child = undefined;
      this.buf = '';
      this.fail(new NftSessionError(`nft -i ${why}${out ? ': ' + out.trim().slice(0, 500) : ''}`));
    };
    child.on('error', (e) => gone(e.message));
    child.on('close', (code) => gone(`exited (${code})`));
    return child;
  }

  private send(line: string): Promise<void> {
    if (this.closed) return Promise.reject(new NftSessionError('nft session closed'));
    if (this.child && this.written > (this.o.maxInputBytes ?? 16 << 20)) this.stopChild();
    if (!this.child) this.child = this.start();
    const child = this.child;
    const input = `${line}\n${SENTINEL_CMD}\n`;
    this.written += input.length;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stopChild(true);
        this.fail(new NftSessionError(`nft -i: no answer in ${this.o.timeoutMs ?? 30_000} ms`));
      }, this.o.timeoutMs ?? 30_000);
      this.pending = { resolve, reject, timer, label: line.slice(0, 200) };
      child.stdin.write(input);
    });
  }

  private check(): void {
    const at = this.buf.indexOf(SENTINEL_PREFIX);
    if (at < 0) return;
    const end = this.buf.indexOf('\n', at);
    if (end < 0) return;
    const out = this.buf.slice(0, at).trim();
    this.buf = this.buf.slice(end + 1);
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    clearTimeout(p.timer);
    // nft prints nothing when a transaction applies; anything else is its error report.
    if (/Error:/.test(out)) p.reject(new CommandError('nft -i', 1, out));
    else p.resolve();
  }

  private fail(e: Error): void {
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    clearTimeout(p.timer);
    p.reject(e);
  }
}
