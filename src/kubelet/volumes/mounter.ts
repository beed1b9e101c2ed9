/**
 * Mounts and unmounts for the volume manager through one long-lived static helper ("k8ts-mounter")
 * instead of a util-linux `mount`/`umount` process per call: forking the large Node process blocks
 * the event loop for tens of milliseconds per spawn, and a node starting many pods pays that for
 * every tmpfs volume and subPath. The helper is compiled once with {@link staticCBinary}, started
 * on first use, restarted when it dies, and replaced by util-linux when it cannot be built or run.
 *
 * Protocol (stdin → stdout). A request is a verb and its arguments, each terminated by a NUL byte,
 * then a newline; paths cannot contain NUL, so any other byte (spaces, tabs, newlines) is safe:
 *
 *     tmpfs NUL <size in bytes, decimal; 0 = kernel default> NUL <dir> NUL \n
 *     bind  NUL <source> NUL <target> NUL \n
 *     umount NUL <target> NUL \n
 *
 * The helper answers every request, in order, with one line: `ok` or `err <errno> <strerror>`.
 * Requests are pipelined; a broken frame or unknown verb makes it exit (the client restarts it).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import { logger } from '../../base/log.js';
import { staticCBinary } from '../containerd/pause-image.js';

const run = promisify(execFile);

/**
 * The helper. tmpfs gets no mode option, as `mount -t tmpfs` (the kernel's default, 1777), and
 * flags 0; bind is MS_BIND (a /proc/<pid>/fd/<n> source is followed by the kernel); umount is a
 * plain umount2(target, 0), so a busy mount fails (EBUSY) and stays mounted instead of detaching.
 */
export const MOUNTER_C_SOURCE = String.raw`#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

static char *f[3];
static size_t cap[3];

/* Field i, NUL-terminated: 1 read, 0 end of input, -1 broken frame. */
static int field(int i) {
  ssize_t n = getdelim(&f[i], &cap[i], '\0', stdin);
  if (n <= 0) return 0;
  return f[i][n - 1] == '\0' ? 1 : -1;
}

static int tmpfs(const char *size, const char *dir) {
  char *end, data[32];
  unsigned long long n;
  if (size[0] < '0' || size[0] > '9') return EINVAL;
  errno = 0;
  n = strtoull(size, &end, 10);
  if (errno || *end) return EINVAL;
  if (n) snprintf(data, sizeof data, "size=%llu", n);
  return mount("tmpfs", dir, "tmpfs", 0, n ? data : 0) ? errno : 0;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  for (;;) {
    int r = field(0), argc, err, i;
    if (r == 0) return 0;
    if (r < 0) return 2;
    if (!strcmp(f[0], "umount")) argc = 1;
    else if (!strcmp(f[0], "tmpfs") || !strcmp(f[0], "bind")) argc = 2;
    else return 3;
    for (i = 1; i <= argc; i++)
      if (field(i) != 1) return 2;
    if (getchar() != '\n') return 2;
    if (f[0][0] == 'u') err = umount2(f[1], 0) ? errno : 0;
    else if (f[0][0] == 'b') err = mount(f[1], f[2], 0, MS_BIND, 0) ? errno : 0;
    else err = tmpfs(f[1], f[2]);
    if (err) printf("err %d %s\n", err, strerror(err));
    else fputs("ok\n", stdout);
    if (fflush(stdout)) return 1;
  }
}
`;

/** A mount or umount the helper refused, with the errno it got. */
export class MountCommandError extends Error {
  override readonly name = 'MountCommandError';
  constructor(
    /** The equivalent util-linux command line, for the message. */
    readonly command: string,
    /** The errno number (22 for EINVAL). */
    readonly errno: number,
    /** The errno name ('EINVAL'), when Node knows it. */
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Options of {@link Mounter}. */
export interface MounterOptions {
  /** Always use util-linux mount/umount (no helper). Default false. */
  useUtilLinux?: boolean;
  /** A helper binary to run instead of building {@link MOUNTER_C_SOURCE} (tests). */
  binary?: string;
  /** Where the built helper is cached (see {@link staticCBinary}). */
  cacheDir?: string;
  /** The C compiler (see {@link staticCBinary}). */
  cc?: string;
  /** Warning sink for the one "falling back to util-linux" line. Default: the `mounter` logger. */
  warn?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** One mount operation: the helper's fields and the util-linux command doing the same. */
interface Op {
  fields: string[];
  cmd: 'mount' | 'umount';
  args: string[];
  /** The path util-linux names in its messages. */
  target: string;
}

interface Pending {
  op: Op;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Helper {
  proc: ChildProcess;
  pending: Pending[];
  out: string;
  spawned: boolean;
  answered: number;
  dead: boolean;
  /** Being closed: stays referenced until it has exited. */
  closing: boolean;
  exited: Promise<void>;
}

/** Consecutive helper deaths without a single answer after which util-linux takes over. */
const MAX_SILENT_DEATHS = 3;

const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));

/**
 * mount(2)/umount2(2) for the kubelet through the k8ts-mounter helper (see the file comment), one
 * request at a time in the order they are made. Failures reject with a {@link MountCommandError}
 * whose message reads like util-linux's (`Command failed: mount ...`), or, in fallback mode, with
 * util-linux's own error. The idle helper does not keep the process alive; {@link close} ends it.
 */
export class Mounter {
  private helper?: Helper;
  private binary?: string | null;
  private fallbackReason?: string;
  private silentDeaths = 0;
  private readonly warn: (msg: string, fields?: Record<string, unknown>) => void;

  constructor(private readonly o: MounterOptions = {}) {
    this.warn = o.warn ?? ((msg, fields) => logger('mounter').warn(msg, fields));
    if (o.useUtilLinux) this.fallbackReason = 'asked to';
  }

  /** Whether calls go to util-linux mount/umount instead of the helper (known only after first use). */
  get usingUtilLinux(): boolean {
    return this.fallbackReason !== undefined;
  }

  /** The helper's process id while it runs (tests). */
  get helperPid(): number | undefined {
    return this.helper && !this.helper.dead ? this.helper.proc.pid : undefined;
  }

  /** Mounts a new tmpfs on `dir`, `size=<sizeBytes>` when sizeBytes > 0 (`mount -t tmpfs -o size=N tmpfs dir`). */
  tmpfs(dir: string, sizeBytes: number): Promise<void> {
    const size = sizeBytes > 0 ? Math.floor(sizeBytes) : 0;
    const opts = size > 0 ? ['-o', `size=${size}`] : [];
    return this.call({ fields: ['tmpfs', String(size), dir], cmd: 'mount', args: ['-t', 'tmpfs', ...opts, 'tmpfs', dir], target: dir });
  }

  /** Bind-mounts `src` (which may be a /proc/<pid>/fd/<n> link) onto `target` (`mount --no-canonicalize --bind src target`). */
  bind(src: string, target: string): Promise<void> {
    return this.call({ fields: ['bind', src, target], cmd: 'mount', args: ['--no-canonicalize', '--bind', src, target], target });
  }

  /** Unmounts `target`, never lazily: a busy mount fails and stays (`umount target`). */
  umount(target: string): Promise<void> {
    return this.call({ fields: ['umount', target], cmd: 'umount', args: [target], target });
  }

  /**
   * Builds (or finds cached) the helper binary now, so that the one-time compile does not fall
   * on the first pod's mount. Synchronous: call it at start-up.
   */
  prepare(): void {
    if (this.fallbackReason === undefined && this.binary === undefined) this.binary = this.o.binary ?? staticCBinary('k8ts-mounter', MOUNTER_C_SOURCE, { cacheDir: this.o.cacheDir, cc: this.o.cc }) ?? null;
  }

  /** Ends the helper once its queued requests are answered. A later call starts a new one. */
  async close(): Promise<void> {
    const h = this.helper;
    if (!h) return;
    this.helper = undefined;
    if (!h.dead) {
      // Answers still owed, and the exit, keep the process alive until they arrive.
      h.closing = true;
      this.setRef(h, true);
      h.proc.stdin?.end();
    }
    await h.exited;
  }

  private call(op: Op): Promise<void> {
    for (const f of op.fields) if (f.includes('\0')) return Promise.reject(new Error(`${op.cmd}: ${JSON.stringify(op.target)}: path contains a NUL byte`));
    const h = this.fallbackReason === undefined ? this.start() : undefined;
    if (!h) return this.utilLinux(op);
    return new Promise((resolve, reject) => {
      h.pending.push({ op, resolve, reject });
      this.setRef(h, true);
      h.proc.stdin!.write(Buffer.from(op.fields.map((f) => f + '\0').join('') + '\n'));
    });
  }

  private async utilLinux(op: Op): Promise<void> {
    await run(op.cmd, op.args);
  }

  private fallBack(reason: string): void {
    if (this.fallbackReason !== undefined) return;
    this.fallbackReason = reason;
    this.warn('k8ts-mounter is unavailable; using util-linux mount/umount (one process per call)', { reason });
  }

  /** The running helper, started if need be; undefined when util-linux must be used. */
  private start(): Helper | undefined {
    if (this.helper && !this.helper.dead) return this.helper;
    this.prepare();
    if (this.binary === null) {
      this.fallBack('no C compiler or static libc to build it');
      return undefined;
    }
    const proc = spawn(this.binary!, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    let exited!: () => void;
    const h: Helper = { proc, pending: [], out: '', spawned: false, answered: 0, dead: false, closing: false, exited: new Promise((r) => (exited = r)) };
    this.helper = h;
    proc.once('spawn', () => (h.spawned = true));
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => this.onData(h, chunk));
    // EPIPE after the helper died; the exit handler reports it.
    proc.stdin!.on('error', () => undefined);
    proc.on('error', (e) => {
      this.onDeath(h, e.message);
      exited();
    });
    proc.on('close', (code, signal) => {
      this.onDeath(h, `exited with ${signal ?? `code ${code}`}`);
      exited();
    });
    return h;
  }

  private onData(h: Helper, chunk: string): void {
    h.out += chunk;
    let nl: number;
    while ((nl = h.out.indexOf('\n')) >= 0) {
      const line = h.out.slice(0, nl);
      h.out = h.out.slice(nl + 1);
      const p = h.pending.shift();
      if (!p) {
        h.proc.kill('SIGKILL');
        return;
      }
      h.answered++;
      this.silentDeaths = 0;
      const m = /^err (\d+) (.*)$/.exec(line);
      if (line === 'ok') p.resolve();
      else if (m) p.reject(helperError(p.op, Number(m[1]), m[2]));
      else {
        p.reject(new Error(`${p.op.cmd}: ${p.op.target}: k8ts-mounter answered ${JSON.stringify(line)}`));
        h.proc.kill('SIGKILL');
      }
    }
    if (!h.pending.length && !h.closing) this.setRef(h, false);
  }

  private onDeath(h: Helper, why: string): void {
    if (h.dead) return;
    h.dead = true;
    if (this.helper === h) this.helper = undefined;
    const pending = h.pending.splice(0);
    if (!h.spawned) {
      // It never ran, so nothing it was asked was done: util-linux does it.
      this.fallBack(`cannot start ${this.binary}: ${why}`);
      for (const p of pending) this.utilLinux(p.op).then(p.resolve, p.reject);
      return;
    }
    if (h.answered === 0 && ++this.silentDeaths >= MAX_SILENT_DEATHS) this.fallBack(`k8ts-mounter keeps dying: ${why}`);
    // A request in flight may or may not have been done; the caller retries (the kubelet resyncs).
    for (const p of pending) p.reject(new Error(`${p.op.cmd}: ${p.op.target}: k8ts-mounter ${why}`));
  }

  /** An idle helper must not keep the process alive; one owing answers must. */
  private setRef(h: Helper, on: boolean): void {
    for (const x of [h.proc, h.proc.stdin as Socket | null, h.proc.stdout as Socket | null]) {
      if (!x) continue;
      if (on) x.ref();
      else x.unref();
    }
  }
}

function helperError(op: Op, errno: number, strerror: string): MountCommandError {
  const command = [op.cmd, ...op.args].join(' ');
  return new MountCommandError(command, errno, errnoNames.get(errno), `Command failed: ${command}\n${op.cmd}: ${op.target}: ${strerror}`);
}
