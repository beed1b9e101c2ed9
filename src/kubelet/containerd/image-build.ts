/**
 * Builds OCI image archives offline-friendly: a root filesystem from Debian packages (mmdebstrap,
 * `--variant=apt`) or from the host's static busybox, one layer, a config with the command and
 * options given, and the name in `io.containerd.image.name` so `ctr images import` names it.
 *
 * Everything is cached under `${K8TS_IMAGE_CACHE:-/var/cache/k8ts/images}`: the root filesystem
 * layer by (suite, mirror, arch, packages, run commands), the finished archive by (layer, name,
 * config), and downloaded .deb files, so a second build is a file copy. Builds of the same key in
 * several processes wait for each other through a lock file.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, copyFileSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { once } from 'node:events';
import { homedir } from 'node:os';
import { requireBinaries } from './containerd.js';
import { CONTAINERD_IMAGE_NAME, OCI_REF_NAME, fileSha256 } from './image-archive.js';
import { normalizeImageName } from './image-names.js';
import { busyboxLayer, tar, tarFileHeader } from './images.js';

/** Debian suite and mirror of Debian-based builds. */
export const DEBIAN_SUITE = 'bookworm';
export const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_PATH = `PATH=${SYSTEM_PATH}`;
// Bump when the build recipe changes, so old cache entries are not reused.
const RECIPE = 1;
/** The version of the image config an archive gets (a change rebuilds archives, not layers). */
const CONFIG_RECIPE = 2;

/** The image cache directory: $K8TS_IMAGE_CACHE, else /var/cache/k8ts/images (root) or ~/.cache/k8ts/images. */
export function imageCacheDir(): string {
  if (process.env.K8TS_IMAGE_CACHE) return process.env.K8TS_IMAGE_CACHE;
  if (process.getuid?.() === 0) return '/var/cache/k8ts/images';
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'k8ts', 'images');
}

/** Options of {@link buildImage}. */
export interface BuildImageOptions {
  /** Image name; stored normalised (`nginx` → `docker.io/library/nginx:latest`). */
  name: string;
  /** Debian packages to install (mmdebstrap --include). Without them (or with `busybox`), a busybox image. */
  debian?: string[];
  /** Build the busybox image from the host's busybox-static instead of Debian. */
  busybox?: boolean;
  /** Cmd: a string runs through `/bin/sh -c`; an array is taken as it is. */
  cmd?: string | string[];
  /** Entrypoint (array). */
  entrypoint?: string[];
  /** WorkingDir. Default `/`. */
  workdir?: string;
  /** User (name, uid or uid:gid). */
  user?: string;
  /** StopSignal, e.g. SIGQUIT (a bare QUIT is accepted). */
  stopSignal?: string;
  /** Extra environment, `KEY=VALUE` (PATH is always set). */
  env?: string[];
  /** Shell commands run inside the Debian root filesystem (chroot) after the packages are installed. */
  run?: string[];
  /** Copy the archive here. Without it, use the returned cache path. */
  output?: string;
  /** Cache dir. Default {@link imageCacheDir}. */
  cacheDir?: string;
  suite?: string;
  mirror?: string;
  /** Progress lines (mmdebstrap's too). */
  onProgress?: (line: string) => void;
}

/** A built image archive. */
export interface BuiltImage {
  /** Normalised name. */
  name: string;
  /** The archive in the cache. */
  archive: string;
  /** Where it was copied (`output`), if asked. */
  output?: string;
  /** Manifest digest. */
  digest: string;
  /** Config digest: the image ID the CRI reports. */
  configDigest: string;
  /** Archive size in bytes. */
  size: number;
  /** Whether the archive came from the cache. */
  cached: boolean;
  /** Build (or cache lookup) time, ms. */
  ms: number;
}

const sha256hex = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
}

/** A shell single-quoted word. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `QUIT`, `sigquit`, `SIGQUIT`, `3` → the StopSignal as stored (SIGQUIT or the number). */
export function normalizeSignal(sig: string): string {
  if (/^\d+$/.test(sig)) return sig;
  const up = sig.toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  if (!/^SIG[A-Z0-9+-]+$/.test(name)) throw new Error(`invalid stop signal "${sig}"`);
  return name;
}

/** Whether the Debian mirror answers (a HEAD of the suite's Release file), within `timeoutMs`. */
export async function debianMirrorReachable(mirror = DEBIAN_MIRROR, suite = DEBIAN_SUITE, timeoutMs = 5000): Promise<boolean> {
  try {
    const res = await fetch(`${mirror}/dists/${suite}/Release`, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
    return res.ok;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` holding `lock` (a file with the holder's PID); a dead holder's lock is taken over. */
async function withLock<T>(lock: string, fn: () => Promise<T>, waitMs = 30 * 60_000, onWait?: () => void): Promise<T> {
  const end = Date.now() + waitMs;
  let told = false;
  for (;;) {
    try {
      const fd = openSync(lock, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSafe(lock));
      if (pid && !alive(pid)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${lock} (held by PID ${pid})`);
      if (!told) onWait?.();
      told = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Removes `${path}.tmp-*` left by a build that was killed (call holding the lock of `path`). */
function removeStale(path: string): void {
  const dir = dirname(path);
  const prefix = `${basename(path)}.tmp-`;
  for (const f of readdirSync(dir)) if (f.startsWith(prefix)) rmSync(join(dir, f), { force: true });
}

function readFileSafe(p: string): string {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return '';
  }
}

interface LayerMeta {
  digest: string;
  size: number;
  created: string;
  createdBy: string;
}

function run(cmd: string, args: string[], onLine?: (l: string) => void, env?: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let tail: string[] = [];
    const onData = (d: Buffer) => {
      for (const l of d.toString().split('\n')) {
        if (!l.trim()) continue;
        tail = [...tail.slice(-30), l];
        onLine?.(l);
      }
    };
    c.stdout.on('data', onData);
    c.stderr.on('data', onData);
    c.once('error', reject);
    c.once('exit', (code, signal) => (code === 0 ? resolvePromise() : reject(new Error(`${cmd} failed (${signal ?? `exit ${code}`}):\n${tail.join('\n')}`))));
  });
}

/** The Debian root filesystem layer (a tar), built with mmdebstrap or taken from the cache. */
async function debianLayer(o: { cache: string; packages: string[]; run: string[]; suite: string; mirror: string; onProgress?: (l: string) => void }): Promise<{ path: string; meta: LayerMeta; cached: boolean }> {
  const key = sha256hex(JSON.stringify({ recipe: RECIPE, suite: o.suite, mirror: o.mirror, arch: goArch(), packages: o.packages, run: o.run })).slice(0, 32);
  const dir = join(o.cache, 'layers');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${key}.tar`);
  const metaPath = join(dir, `${key}.json`);
  const load = () => (existsSync(path) && existsSync(metaPath) ? (JSON.parse(readFileSync(metaPath, 'utf8')) as LayerMeta) : undefined);
  const hit = load();
  if (hit) return { path, meta: hit, cached: true };
  return withLock(
    join(dir, `${key}.lock`),
    async () => {
      const again = load();
      if (again) return { path, meta: again, cached: true };
      requireBinaries([{ name: 'mmdebstrap', pkg: 'mmdebstrap' }], SYSTEM_PATH);
      removeStale(path);
      if (process.getuid?.() !== 0) throw new Error('building Debian images needs root (mmdebstrap runs in root mode here)');
      const debs = join(o.cache, 'debs');
      mkdirSync(debs, { recursive: true });
      const tmp = `${path}.tmp-${process.pid}`;
      const args = [
        '--variant=apt',
        '--format=tar',
        `--include=${o.packages.join(',')}`,
        '--skip=output/dev',
        // No fsync per file: the tar is written after dpkg is done, and the fsyncs cost minutes.
        '--dpkgopt=force-unsafe-io',
        // Slim like the official images: no manuals or docs (copyright files stay).
        '--dpkgopt=path-exclude=/usr/share/man/*',
        '--dpkgopt=path-exclude=/usr/share/info/*',
        '--dpkgopt=path-exclude=/usr/share/doc/*',
        '--dpkgopt=path-include=/usr/share/doc/*/copyright',
        // Reuse downloaded .debs across builds.
        '--skip=download/empty',
        '--skip=essential/unlink',
        '--setup-hook=mkdir -p "$1"/var/cache/apt/archives/',
        `--setup-hook=sync-in ${shellQuote(debs)} /var/cache/apt/archives/`,
        ...o.run.map((c) => `--customize-hook=chroot "$1" /bin/sh -ec ${shellQuote(c)}`),
        `--customize-hook=sync-out /var/cache/apt/archives ${shellQuote(debs)}`,
        // The container runtime provides these; the build host's must not leak into the image.
        '--customize-hook=rm -f "$1"/etc/resolv.conf "$1"/etc/hostname',
        o.suite,
        tmp,
        o.mirror,
      ];
      o.onProgress?.(`mmdebstrap: ${o.suite} with ${o.packages.join(', ')}`);
      try {
        // The system PATH: mmdebstrap's helpers (mmtarfilter, once per package) run `env python3`,
        // and a user-level python shim (pyenv) in front makes a build minutes slower.
        await run('mmdebstrap', args, o.onProgress && ((l) => o.onProgress!(`  ${l}`)), { ...process.env, PATH: SYSTEM_PATH });
        const meta: LayerMeta = {
          digest: `sha256:${await fileSha256(tmp)}`,
          size: statSync(tmp).size,
          created: new Date().toISOString(),
          createdBy: `mmdebstrap --variant=apt --include=${o.packages.join(',')} ${o.suite}${o.run.map((c) => ` && ${c}`).join('')}`,
        };
        renameSync(tmp, path);
        writeFileSync(metaPath, JSON.stringify(meta) + '\n');
        return { path, meta, cached: false };
      } finally {
        rmSync(tmp, { force: true });
      }
    },
    undefined,
    () => o.onProgress?.(`waiting for another build of the same packages (${key})`),
  );
}

/** The busybox layer written to the cache (cheap; keyed by the busybox binary's bytes). */
function busyboxLayerFile(cache: string): { path: string; meta: LayerMeta } {
  const bin = '/bin/busybox';
  requireBinaries([{ name: bin, pkg: 'busybox-static' }]);
  const layer = busyboxLayer(bin);
  const digest = `sha256:${sha256hex(layer)}`;
  const dir = join(cache, 'layers');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `busybox-${digest.slice(7, 39)}.tar`);
  if (!existsSync(path)) {
    writeFileSync(`${path}.tmp-${process.pid}`, layer);
    renameSync(`${path}.tmp-${process.pid}`, path);
  }
  return { path, meta: { digest, size: layer.length, created: '1970-01-01T00:00:00Z', createdBy: 'k8ts: busybox-static' } };
}

interface ArchiveMeta {
  name: string;
  digest: string;
  configDigest: string;
  size: number;
}

/**
 * A shell-form command as the shell should run it: a single simple command is exec'ed, as bash
 * does by itself, so that it is PID 1 and receives the stop signal (dash, Debian's /bin/sh, would
 * stay PID 1 and ignore SIGTERM, so every stop would wait out the grace period). Anything with
 * shell operators outside quotes is left as written.
 */
export function execSimpleCommand(cmd: string): string {
  const t = cmd.trim();
  if (!t || /^exec(\s|$)/.test(t)) return cmd;
  let quote: string | undefined;
  for (let i = 0; i < t.length; i++) {
    const ch = t[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"') i++;
      continue;
    }
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if (';&|<>()`$\n#'.includes(ch)) return cmd;
  }
  // A leading VAR=value assignment is not a command exec can take either.
  if (quote || /^[A-Za-z_][A-Za-z0-9_]*=/.test(t)) return cmd;
  return `exec ${t}`;
}

/** The image config (OCI image config JSON). */
export function imageConfig(o: { layer: LayerMeta; cmd?: string | string[]; entrypoint?: string[]; workdir?: string; user?: string; stopSignal?: string; env?: string[]; defaultCmd?: string[] }): Buffer {
  const cmd = typeof o.cmd === 'string' ? ['/bin/sh', '-c', execSimpleCommand(o.cmd)] : (o.cmd ?? (o.entrypoint ? undefined : o.defaultCmd));
  const env = [DEFAULT_PATH, ...(o.env ?? []).filter((e) => !e.startsWith('PATH='))];
  const pathOverride = (o.env ?? []).find((e) => e.startsWith('PATH='));
  if (pathOverride) env[0] = pathOverride;
  return Buffer.from(
    JSON.stringify({
      created: o.layer.created,
      architecture: goArch(),
      os: 'linux',
      config: {
        ...(o.user ? { User: o.user } : {}),
        Env: env,
        ...(o.entrypoint ? { Entrypoint: o.entrypoint } : {}),
        ...(cmd?.length ? { Cmd: cmd } : {}),
        WorkingDir: o.workdir ?? '/',
        ...(o.stopSignal ? { StopSignal: normalizeSignal(o.stopSignal) } : {}),
      },
      rootfs: { type: 'layers', diff_ids: [o.layer.digest] },
      history: [{ created: o.layer.created, created_by: o.layer.createdBy }],
    }),
  );
}

/** Writes an OCI layout tar with one image whose single layer is the file `layerPath`, streaming it. */
async function writeOciArchive(dest: string, name: string, layerPath: string, layer: LayerMeta, config: Buffer): Promise<ArchiveMeta> {
  const configDigest = `sha256:${sha256hex(config)}`;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }],
    }),
  );
  const digest = `sha256:${sha256hex(manifest)}`;
  const tag = name.includes('@') ? undefined : name.slice(name.lastIndexOf(':') + 1);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest,
          size: manifest.length,
          platform: { architecture: goArch(), os: 'linux' },
          annotations: { [CONTAINERD_IMAGE_NAME]: name, ...(tag ? { [OCI_REF_NAME]: tag } : {}) },
        },
      ],
    }),
  );
  const out = createWriteStream(dest);
  const write = async (b: Buffer) => {
    if (!out.write(b)) await once(out, 'drain');
  };
  const pad = (n: number) => ((512 - (n % 512)) % 512 ? write(Buffer.alloc((512 - (n % 512)) % 512)) : Promise.resolve());
  const file = async (path: string, data: Buffer) => {
    await write(tarFileHeader(path, data.length));
    await write(data);
    await pad(data.length);
  };
  // tar() of directories alone: their headers, then the two end blocks to drop.
  const dirHeader = (p: string) => tar([{ path: p, type: 'dir', mode: 0o755 }]).subarray(0, 512);
  const blob = (d: string) => `blobs/sha256/${d.slice('sha256:'.length)}`;
  try {
    await file('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
    await file('index.json', index);
    await write(dirHeader('blobs/'));
    await write(dirHeader('blobs/sha256/'));
    await write(tarFileHeader(blob(layer.digest), layer.size));
    for await (const chunk of createReadStream(layerPath)) await write(chunk as Buffer);
    await pad(layer.size);
    await file(blob(configDigest), config);
    await file(blob(digest), manifest);
    await write(Buffer.alloc(1024));
    out.end();
    await once(out, 'close');
  } catch (err) {
    out.destroy();
    throw err;
  }
  return { name, digest, configDigest, size: statSync(dest).size };
}

/** Where the build of `o` lands in the cache, and its inputs, normalised. */
function plan(o: BuildImageOptions) {
  const name = normalizeImageName(o.name);
  const cache = resolve(o.cacheDir ?? imageCacheDir());
  const packages = [...new Set((o.debian ?? []).map((p) => p.trim()).filter(Boolean))].sort();
  const busybox = !!o.busybox || packages.length === 0;
  if (busybox && o.run?.length) throw new Error('run commands need a Debian image (--debian)');
  const suite = o.suite ?? DEBIAN_SUITE;
  const mirror = o.mirror ?? DEBIAN_MIRROR;
  const configOpts = { cmd: o.cmd, entrypoint: o.entrypoint, workdir: o.workdir, user: o.user, stopSignal: o.stopSignal ? normalizeSignal(o.stopSignal) : undefined, env: o.env };
  // The archive's key names the layer by its recipe, so a cache hit needs no layer work at all.
  const layerRecipe = busybox ? { busybox: busyboxStamp() } : { suite, mirror, arch: goArch(), packages, run: o.run ?? [] };
  const key = sha256hex(JSON.stringify({ recipe: RECIPE, config: CONFIG_RECIPE, layerRecipe, name, configOpts })).slice(0, 32);
  const dir = join(cache, 'archives');
  return { name, cache, packages, busybox, suite, mirror, configOpts, key, dir, archive: join(dir, `${key}.tar`), metaPath: join(dir, `${key}.json`) };
}

/** The cached archive of the build `o` describes, if it was built before (no building, no network). */
export function cachedImageArchive(o: BuildImageOptions): string | undefined {
  const p = plan(o);
  return existsSync(p.archive) && existsSync(p.metaPath) ? p.archive : undefined;
}

/**
 * Builds (or takes from the cache) an OCI image archive: Debian packages via mmdebstrap, or
 * busybox. The archive imports with `ctr images import` under its normalised name.
 */
export async function buildImage(o: BuildImageOptions): Promise<BuiltImage> {
  const t0 = Date.now();
  const { name, cache, packages, busybox, suite, mirror, configOpts, archive, metaPath, dir, key } = plan(o);
  const load = () => (existsSync(archive) && existsSync(metaPath) ? (JSON.parse(readFileSync(metaPath, 'utf8')) as ArchiveMeta) : undefined);
  mkdirSync(dir, { recursive: true });

  let meta = load();
  const cached = !!meta;
  if (!meta) {
    meta = await withLock(join(dir, `${key}.lock`), async () => {
      const again = load();
      if (again) return again;
      const layer = busybox ? busyboxLayerFile(cache) : await debianLayer({ cache, packages, run: o.run ?? [], suite, mirror, onProgress: o.onProgress });
      const config = imageConfig({ layer: layer.meta, ...configOpts, defaultCmd: busybox ? ['sh'] : ['bash'] });
      removeStale(archive);
      const tmp = `${archive}.tmp-${process.pid}`;
      try {
        const m = await writeOciArchive(tmp, name, layer.path, layer.meta, config);
        renameSync(tmp, archive);
        writeFileSync(metaPath, JSON.stringify(m) + '\n');
        return m;
      } finally {
        rmSync(tmp, { force: true });
      }
    });
  }
  let output: string | undefined;
  if (o.output) {
    output = resolve(o.output);
    mkdirSync(dirname(output), { recursive: true });
    // A reflink where the filesystem can, a copy otherwise; never a link the user could edit the cache through.
    copyFileSync(archive, output, constants.COPYFILE_FICLONE);
  }
  return { name, archive, ...(output ? { output } : {}), digest: meta.digest, configDigest: meta.configDigest, size: meta.size, cached, ms: Date.now() - t0 };
}

function busyboxStamp(): string {
  try {
    const s = statSync('/bin/busybox');
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}
