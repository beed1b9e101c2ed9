/**
 * Running the kernel tools (nft, iptables-restore, ip, conntrack), optionally inside another
 * network namespace through `nsenter --net=PATH`.
 */
import { spawn } from 'node:child_process';

/** A failed command, with what it wrote to stderr. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
    readonly notFound = false,
  ) {
    super(`${command}: ${notFound ? 'not found' : `exit ${code}`}${stderr ? `: ${stderr.trim().split('\n').slice(0, 6).join(' | ')}` : ''}`);
    this.name = 'CommandError';
  }
}

/** A namespace name (as `ip netns add` makes) or a path; '' or undefined is the current one. */
export function netnsPath(netns?: string): string | undefined {
  if (!netns) return undefined;
  return netns.includes('/') ? netns : `/var/run/netns/${netns}`;
}

/** Run `cmd args` (in `netns` when given), feeding `input` to stdin; resolves with stdout. */
export function run(cmd: string, args: string[], opts: { netns?: string; input?: string; timeoutMs?: number } = {}): Promise<string> {
  const ns = netnsPath(opts.netns);
  const [file, argv] = ns ? ['nsenter', [`--net=${ns}`, cmd, ...args]] : [cmd, args];
  const label = [cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 60_000 });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => reject(new CommandError(label, null, e.message, e.code === 'ENOENT')));
    child.on('close', (code) => {
      const stderr = Buffer.concat(err).toString();
      // nsenter reports a missing program as exit 127 with "No such file or directory".
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new CommandError(label, code, stderr, code === 127 && ns !== undefined));
    });
    child.stdin.on('error', () => {}); // the process may exit before reading everything
    child.stdin.end(opts.input ?? '');
  });
}

/** True when `cmd` can be started (in `netns`). */
export async function haveCommand(cmd: string, versionArgs: string[], netns?: string): Promise<boolean> {
  try {
    await run(cmd, versionArgs, { netns, timeoutMs: 10_000 });
    return true;
  } catch (e) {
    return !(e instanceof CommandError && e.notFound);
  }
}
