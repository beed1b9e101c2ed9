/**
 * Runs a private containerd for one node: its own config, root, state and sockets under a state
 * directory, supervised as a child (restarted on crash, stopped by PID). The settings follow the
 * measured facts in shared/RUNTIME-NOTES.md (e.g. restrict_oom_score_adj, which this kernel needs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, openSync, closeSync, readFileSync, realpathSync, writeFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CriRuntime } from '../runtime/cri-runtime.js';
import { HOSTPORT_RUNTIME_HANDLER } from '../runtime/runtime.js';
import { loadRegistries, registryAuthToml, writeRegistryHosts } from './registries.js';
import { mountUnifiedControllersAsV1 } from './cgroup-layout.js';
import { logger } from '../../base/log.js';

/** The sandbox (pause) image k8ts imports offline; see images.ts. */
export const DEFAULT_PAUSE_IMAGE = 'k8ts.local/pause:1';

/** Options of {@link startContainerd}. */
export interface ContainerdOptions {
  /** Everything of this containerd lives here (made if missing). Keep the path short: unix socket paths max out at 107 bytes. */
  stateDir: string;
  /** CRI sandbox_image; it must be available offline (import it before the first pod). */
  pauseImage?: string;
  /** CNI config dir. Default STATE/cni/net.d (empty until the network plugin writes a conflist). */
  cniConfDir?: string;
  /**
   * CNI plugin binaries. Default: STATE/containerd/cni-bin, links to /usr/lib/cni (Debian
   * containernetworking-plugins) with loopback swapped for a small C build when a compiler is
   * there (see cni-loopback.ts); else /usr/lib/cni itself.
   */
  cniBinDir?: string;
  /** The containerd binary. Default `containerd` from PATH. */
  binary?: string;
  /** Extra environment (e.g. PATH for runc). */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the CRI to answer, ms. Default 15000. */
  readyTimeoutMs?: number;
  /** Restart containerd when it dies unexpectedly. Default true. */
  restart?: boolean;
  /** containerd log level. Default "info". */
  logLevel?: string;
  /**
   * Run containerd (and so its CRI stream server and pod networks) in this network namespace,
   * e.g. /var/run/netns/NODE, via `nsenter --net` (which keeps the host's mount namespace).
   */
  netns?: string;
  /**
   * Private registry configuration (k3s registries.yaml: mirrors and configs). Default
   * STATE/registries.yaml when that file exists.
   */
  privateRegistry?: string;
  /**
   * The OCI runtime binary the runc shim drives: `auto` (crun when installed, since it starts
   * containers for a fraction of runc's CPU; else runc), `runc`, `crun`, or a path. Default `auto`;
   * the K8TS_OCI_RUNTIME environment variable overrides the default. For crun in a hybrid cgroup
   * layout whose cgroup2 hierarchy holds unused controllers, those are first mounted as cgroup v1
   * hierarchies, as systemd does (see cgroup-layout.ts).
   */
  ociRuntime?: string;
}

/** A running containerd. */
export interface ContainerdHandle {
  /** CRI / containerd gRPC socket. */
  socket: string;
  /** Paths, for tools (`ctr --address`) and for tests. */
  stateDir: string;
  configPath: string;
  logPath: string;
  /** The current containerd PID (changes after a restart). */
  pid(): number | undefined;
  /** How many times the supervisor restarted containerd. */
  restarts(): number;
  /** SIGTERM, then SIGKILL after `graceMs` (default 10000); resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Paths under a containerd state dir. */
export function containerdPaths(stateDir: string) {
  const base = join(stateDir, 'containerd');
  return {
    base,
    root: join(base, 'root'),
    state: join(base, 'state'),
    socket: join(base, 'containerd.sock'),
    config: join(base, 'config.toml'),
    log: join(base, 'containerd.log'),
    registryConfig: join(base, 'certs.d'),
    runcRoot: join(base, 'runc'),
    opt: join(base, 'opt'),
    cniBin: join(base, 'cni-bin'),
    cniConfDir: join(stateDir, 'cni', 'net.d'),
    /** The conflist with portmap, used only by sandboxes with hostPorts (runtime handler {@link HOSTPORT_RUNTIME_HANDLER}). */
    cniHostPortConfDir: hostPortCniConfDir(join(stateDir, 'cni', 'net.d')),
  };
}

export { HOSTPORT_RUNTIME_HANDLER };

/** The CNI config dir of the {@link HOSTPORT_RUNTIME_HANDLER} handler, beside the default one. */
export function hostPortCniConfDir(cniConfDir: string): string {
  return `${cniConfDir}-hostport`;
}

/**
 * Why crun cannot run containers with this cgroup layout, or undefined when it can. crun (1.8)
 * refuses a hybrid layout whose cgroup2 hierarchy (/sys/fs/cgroup/unified) holds controllers,
 * e.g. hugetlb when no v1 hierarchy has it; runc copes. `root` is for tests.
 */
export function crunCgroupProblem(root = '/sys/fs/cgroup'): string | undefined {
  const read = (p: string) => {
    try {
      return readFileSync(p, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  if (read(join(root, 'cgroup.controllers')) !== undefined) return undefined; // pure cgroup v2
  const unified = read(join(root, 'unified', 'cgroup.controllers'));
  if (!unified) return undefined; // legacy, or hybrid with an empty cgroup2 hierarchy
  const first = unified.split(/\s+/)[0];
  return `cgroup hybrid mode with controllers in ${join(root, 'unified')} (${unified}), which crun does not support; mount them as cgroup v1 (as systemd does), e.g. mkdir ${join(root, first)} && mount -t cgroup -o ${first} cgroup ${join(root, first)}`;
}

/**
 * The OCI runtime binary for `choice` (see {@link ContainerdOptions.ociRuntime}), or undefined for
 * containerd's default (runc). `auto` takes crun when it is installed and the cgroup layout suits it.
 */
export function pickOciRuntime(choice = process.env.K8TS_OCI_RUNTIME || 'auto', path = process.env.PATH ?? '', cgroupProblem: () => string | undefined = crunCgroupProblem): string | undefined {
  if (choice === 'runc') return undefined;
  if (choice === 'auto') {
    const crun = which('crun', path);
    return crun && !cgroupProblem() ? crun : undefined;
  }
  const found = which(choice, path);
  if (!found) throw new Error(`OCI runtime ${choice} not found on PATH${choice === 'crun' ? ': install the Debian package crun (apt-get install crun)' : ''}`);
  const problem = /(^|\/)crun$/.test(found) ? cgroupProblem() : undefined;
  if (problem) throw new Error(`OCI runtime crun cannot run here: ${problem}`);
  return found;
}

const q = (s: string) => JSON.stringify(s); // TOML basic strings accept JSON string escapes

/** The containerd config (version 2) for a node under `stateDir`. */
export function containerdConfig(o: { stateDir: string; pauseImage: string; cniConfDir: string; cniBinDir: string; logLevel: string; registryAuth?: string; runtimeBinary?: string; cniHostPortConfDir?: string }): string {
  const p = containerdPaths(o.stateDir);
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  const runtime = (name: string, cniConfDir?: string) => `[${cri}.containerd.runtimes.${q(name)}]
  runtime_type = "io.containerd.runc.v2"
${cniConfDir ? `  cni_conf_dir = ${q(cniConfDir)}\n  cni_max_conf_num = 1\n` : ''}
[${cri}.containerd.runtimes.${q(name)}.options]
  SystemdCgroup = false
  Root = ${q(p.runcRoot)}
${o.runtimeBinary ? `  BinaryName = ${q(o.runtimeBinary)}\n` : ''}`;
  return `version = 2
root = ${q(p.root)}
state = ${q(p.state)}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = ${q(p.socket)}

[ttrpc]
  address = ${q(p.socket + '.ttrpc')}

[debug]
  level = ${q(o.logLevel)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(p.opt)}

[${cri}]
  sandbox_image = ${q(o.pauseImage)}
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # Required here: the kernel denies lowering oom_score_adj (no CAP_SYS_RESOURCE).
  restrict_oom_score_adj = true

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

${runtime('runc')}
${runtime(HOSTPORT_RUNTIME_HANDLER, o.cniHostPortConfDir ?? p.cniHostPortConfDir)}
[${cri}.cni]
  bin_dir = ${q(o.cniBinDir)}
  conf_dir = ${q(o.cniConfDir)}

[${cri}.registry]
  config_path = ${q(p.registryConfig)}
${o.registryAuth ?? ''}`;
}

/**
 * The default CNI bin dir (see {@link ContainerdOptions.cniBinDir}): `from`'s plugins, with loopback
 * and bridge replaced by the C builds when a compiler is there (bridge stays Go with K8TS_CNI_BRIDGE=go).
 */
async function defaultCniBinDir(dir: string, from = '/usr/lib/cni'): Promise<string> {
  const { cLoopbackPlugin, cniBinDirWith } = await import('./cni-loopback.js');
  const { cBridgePlugin, cBridgeWanted } = await import('./cni-bridge.js');
  const replace: Record<string, string | undefined> = { loopback: cLoopbackPlugin() };
  // The C bridge hands what it does not support to the Go plugin it replaces.
  if (cBridgeWanted() && existsSync(join(from, 'bridge'))) replace.bridge = cBridgePlugin({ goPlugin: join(from, 'bridge') });
  if (!Object.values(replace).some(Boolean)) return from;
  try {
    cniBinDirWith(dir, from, replace);
    return dir;
  } catch {
    return from;
  }
}

/** The full path of `name` on PATH, or undefined. */
export function which(name: string, path = process.env.PATH ?? ''): string | undefined {
  if (name.includes('/')) return canExec(name) ? name : undefined;
  for (const dir of path.split(delimiter)) {
    if (dir && canExec(join(dir, name))) return join(dir, name);
  }
  return undefined;
}
function canExec(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Throws a clear error when a binary a node needs is missing. */
export function requireBinaries(bins: { name: string; pkg: string }[], path?: string): void {
  const missing = bins.filter((b) => !which(b.name, path));
  if (missing.length) {
    const pkgs = [...new Set(missing.map((b) => b.pkg))];
    throw new Error(`${missing.map((b) => b.name).join(', ')} not found on PATH: install the Debian package${pkgs.length > 1 ? 's' : ''} ${pkgs.join(' ')} (apt-get install ${pkgs.join(' ')})`);
  }
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Resolves when `socket` answers CRI Version, rejects after `timeoutMs` or when `alive()` turns false. */
export async function waitForCri(socket: string, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  const rt = new CriRuntime({ socket, timeoutMs: 1000 });
  try {
    while (Date.now() < end) {
      if (!alive()) throw new Error('containerd exited before its CRI answered');
      try {
        await rt.version();
        return;
      } catch (err) {
        last = err;
      }
      await sleep(50);
    }
    throw new Error(`CRI at ${socket} did not answer within ${timeoutMs} ms: ${(last as Error)?.message ?? last}`);
  } finally {
    rt.close();
  }
}

/**
 * Starts containerd for a node and waits until its CRI answers Version. The returned handle stops
 * it by PID. Containers and their shims outlive containerd (as with a system containerd), so remove
 * pods through the CRI before stopping when they should go too.
 */
export async function startContainerd(opts: ContainerdOptions): Promise<ContainerdHandle> {
  const env = { ...process.env, ...opts.env };
  const binary = opts.binary ?? 'containerd';
  requireBinaries(
    [
      { name: binary, pkg: 'containerd' },
      { name: 'containerd-shim-runc-v2', pkg: 'containerd' },
      { name: 'runc', pkg: 'runc' },
    ],
    env.PATH,
  );
  if (opts.netns) requireBinaries([{ name: 'nsenter', pkg: 'util-linux' }], env.PATH);
  mkdirSync(opts.stateDir, { recursive: true });
  // runc wants its root absolute and free of symlinks.
  const stateDir = realpathSync(opts.stateDir);
  const p = containerdPaths(stateDir);
  const cniConfDir = opts.cniConfDir ?? p.cniConfDir;
  const cniHostPortConfDir = hostPortCniConfDir(cniConfDir);
  for (const d of [p.base, p.root, p.state, p.registryConfig, p.runcRoot, p.opt, cniConfDir, cniHostPortConfDir]) mkdirSync(d, { recursive: true });
  const choice = opts.ociRuntime ?? (process.env.K8TS_OCI_RUNTIME || 'auto');
  if ((choice === 'auto' || /(^|\/)crun$/.test(choice)) && which('crun', env.PATH) && crunCgroupProblem()) {
    const change = mountUnifiedControllersAsV1();
    const log = logger('containerd');
    if (change.mounted.length) log.info('mounted cgroup controllers as v1 hierarchies so that crun can run containers (as systemd\'s hybrid layout does)', { controllers: change.mounted.join(',') });
    if (change.skipped) log.info('cgroup layout left as it is; containers run with runc', { reason: change.skipped });
  }
  const runtimeBinary = pickOciRuntime(choice, env.PATH);
  if (Buffer.byteLength(p.socket) > 100) throw new Error(`containerd socket path too long for a unix socket: ${p.socket}`);
  const registriesFile = opts.privateRegistry ?? (existsSync(join(stateDir, 'registries.yaml')) ? join(stateDir, 'registries.yaml') : undefined);
  const registries = registriesFile ? loadRegistries(registriesFile) : undefined;
  if (registries) writeRegistryHosts(p.registryConfig, registries);
  writeFileSync(
    p.config,
    containerdConfig({
      stateDir,
      pauseImage: opts.pauseImage ?? DEFAULT_PAUSE_IMAGE,
      cniConfDir,
      cniBinDir: opts.cniBinDir ?? (await defaultCniBinDir(p.cniBin)),
      logLevel: opts.logLevel ?? 'info',
      registryAuth: registries ? registryAuthToml(registries) : undefined,
      runtimeBinary,
      cniHostPortConfDir,
    }),
  );

  let child: ChildProcess | undefined;
  let stopping = false;
  let restarts = 0;
  let exited: Promise<void> = Promise.resolve();
  const restart = opts.restart ?? true;

  const launch = () => {
    const fd = openSync(p.log, 'a');
    // nsenter execs containerd in place, so the child's PID stays containerd's.
    const [cmd, args] = opts.netns ? ['nsenter', [`--net=${opts.netns}`, '--', binary, '--config', p.config]] : [binary, ['--config', p.config]];
    const c = spawn(cmd, args as string[], { env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child = c;
    exited = new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.once('error', () => resolve());
    });
    c.once('exit', (code, signal) => {
      if (child !== c || stopping || !restart) return;
      child = undefined;
      restarts++;
      // Back off a little so a crash loop does not spin.
      const delay = Math.min(10_000, 250 * 2 ** Math.min(restarts, 6));
      writeFileSync(p.log, `k8ts: containerd exited (code ${code}, signal ${signal}); restarting in ${delay} ms\n`, { flag: 'a' });
      setTimeout(() => {
        if (!stopping) launch();
      }, delay).unref();
    });
  };

  launch();
  const first = child!;
  let firstAlive = true;
  first.once('exit', () => (firstAlive = false));
  try {
    await waitForCri(p.socket, opts.readyTimeoutMs ?? 15_000, () => firstAlive);
  } catch (err) {
    stopping = true;
    if (firstAlive && first.pid) first.kill('SIGKILL');
    await exited;
    throw new Error(`${(err as Error).message}\n--- ${p.log} (tail) ---\n${tail(p.log)}`);
  }

  return {
    socket: p.socket,
    stateDir,
    configPath: p.config,
    logPath: p.log,
    pid: () => child?.pid,
    restarts: () => restarts,
    async stop(graceMs = 10_000) {
      stopping = true;
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const done = exited;
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(timer);
    },
  };
}

/** Options of {@link bridgeConflist}. */
export interface BridgeNetworkOptions {
  /** Linux bridge name (at most 15 bytes); unique per node on a shared namespace. */
  bridge: string;
  /** The node's pod subnet, e.g. 10.244.1.0/24. */
  subnet: string;
  /** host-local IPAM state dir (keep it under the node's state dir). */
  dataDir: string;
  /** Network name. Default "k8ts". */
  name?: string;
  /** Chain the portmap plugin for hostPort. Default true (the hostPort handler's conflist); the default conflist passes false. */
  portmap?: boolean;
}

/** A CNI conflist: bridge (gateway, hairpin) + host-local IPAM, + portmap; containerd adds loopback itself. */
export function bridgeConflist(o: BridgeNetworkOptions): string {
  if (Buffer.byteLength(o.bridge) > 15) throw new Error(`bridge name too long (max 15 bytes): ${o.bridge}`);
  const plugins: object[] = [
    {
      type: 'bridge',
      bridge: o.bridge,
      isGateway: true,
      ipMasq: false,
      hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: o.subnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: o.dataDir },
    },
  ];
  if (o.portmap ?? true) plugins.push({ type: 'portmap', capabilities: { portMappings: true } });
  return JSON.stringify({ cniVersion: '1.0.0', name: o.name ?? 'k8ts', plugins }, null, 2) + '\n';
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  const root = realpathSync(dir);
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    // mountinfo escapes space, tab, newline and backslash as octal.
    const path = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (path === root || path.startsWith(root + '/')) out.push(path);
  }
  return out.sort((a, b) => b.length - a.length);
}

/**
 * Unmounts whatever is left mounted under a stopped node's state dir, then removes the dir. It
 * refuses to delete while anything is still mounted there, so a bind mount can never take host
 * files with it.
 */
export async function removeStateDir(stateDir: string): Promise<void> {
  let dir: string;
  try {
    dir = realpathSync(stateDir);
  } catch {
    return;
  }
  for (const m of mountsUnder(dir)) {
    await new Promise<void>((resolve) => {
      const c = spawn('umount', ['-l', m], { stdio: 'ignore' });
      c.once('exit', () => resolve());
      c.once('error', () => resolve());
    });
  }
  const left = mountsUnder(dir);
  if (left.length) throw new Error(`still mounted under ${dir}, not removing it: ${left.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
}
