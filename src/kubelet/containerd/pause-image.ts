/**
 * A small static pause binary for the sandbox image, compiled once from the C source below with the
 * machine's C compiler and cached; the image holds only that file. One process per pod that does
 * nothing, instead of busybox `sh` plus a `sleep` child: less to exec and less memory per pod.
 * Without a compiler (or when the build fails) callers fall back to the busybox pause.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { which } from './containerd.js';

/**
 * PID 1 of a pod sandbox: waits for signals forever, exits 0 on SIGTERM or SIGINT (PID 1 ignores
 * them unless it has a handler), and reaps children so a shared PID namespace keeps no zombies.
 */
export const PAUSE_C_SOURCE = `#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, 0, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = quit;
  if (sigaction(SIGINT, &sa, 0) < 0 || sigaction(SIGTERM, &sa, 0) < 0) return 1;
  sa.sa_handler = reap;
  sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  if (sigaction(SIGCHLD, &sa, 0) < 0) return 2;
  for (;;) pause();
}
`;

/** Where built pause binaries are kept: K8TS_CACHE_DIR, else ~/.cache/k8ts. */
export function pauseCacheDir(): string {
  return process.env.K8TS_CACHE_DIR || join(homedir(), '.cache', 'k8ts');
}

/**
 * A static binary compiled from C `source` with the machine's compiler, kept in the cache under
 * `name-<hash of source and arch>` (built once, about 0.2 s); undefined when there is no C
 * compiler or static libc to build it with.
 */
export function staticCBinary(name: string, source: string, o: { cacheDir?: string; cc?: string } = {}): string | undefined {
  const key = createHash('sha256').update(source).update(process.arch).digest('hex').slice(0, 16);
  const dir = o.cacheDir ?? pauseCacheDir();
  const out = join(dir, `${name}-${key}`);
  if (existsSync(out)) return out;
  const cc = o.cc ?? ['cc', 'gcc', 'clang'].map((c) => which(c)).find(Boolean);
  if (!cc) return undefined;
  const work = join(dir, `${name}-build-${process.pid}`);
  try {
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, `${name}.c`), source);
    execFileSync(cc, ['-static', '-Os', '-s', '-o', join(work, name), join(work, `${name}.c`)], { stdio: 'pipe', timeout: 60_000 });
    // Same-dir rename: concurrent builders each land a whole file.
    renameSync(join(work, name), out);
    return out;
  } catch {
    return undefined;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The path of the static pause binary built from {@link PAUSE_C_SOURCE} (see {@link staticCBinary}). */
export function staticPauseBinary(o: { cacheDir?: string; cc?: string } = {}): string | undefined {
  return staticCBinary('pause', PAUSE_C_SOURCE, o);
}

/** The bytes of the static pause binary, or undefined (see {@link staticPauseBinary}). */
export function staticPauseBytes(o: { cacheDir?: string; cc?: string } = {}): Buffer | undefined {
  const p = staticPauseBinary(o);
  return p ? readFileSync(p) : undefined;
}
