/**
 * Offline images: a busybox image built from the host's static busybox (Debian busybox-static),
 * written as an OCI image layout in a tar and imported with `ctr images import` into containerd's
 * k8s.io namespace (the CRI's). The same layer with a different entrypoint serves as the pause image.
 * Output is deterministic (fixed mtimes and owners), so re-importing yields the same digests.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { requireBinaries } from './containerd.js';
import { staticPauseBytes } from './pause-image.js';

/** Options of {@link importBusyboxImage}. */
export interface ImportImageOptions {
  /** containerd's gRPC socket (`ctr --address`). */
  socket: string;
  /** Full image name, e.g. `docker.io/library/busybox:latest`. */
  name: string;
  /** OCI config Entrypoint. Default none (Cmd ["sh"] runs). */
  entrypoint?: string[];
  /** OCI config Cmd. Default ["sh"] without an entrypoint. */
  cmd?: string[];
  /** The static busybox binary. Default /bin/busybox. */
  busybox?: string;
  /** containerd namespace. Default k8s.io (the CRI's). */
  namespace?: string;
}

/** What was imported. */
export interface ImportedImage {
  name: string;
  /** Manifest digest (`sha256:...`). */
  digest: string;
  /** Config digest: the image id the CRI reports. */
  configDigest: string;
}

/**
 * A pause entrypoint from busybox: PID 1 as `sh` that exits 0 on SIGTERM (a PID 1 without a handler
 * would ignore it) and keeps waiting on a sleeping child otherwise, reaping orphans as shells do.
 */
export const PAUSE_ENTRYPOINT = ['/bin/sh', '-c', "trap 'exit 0' TERM INT; while :; do sleep 2147483647 & wait $!; done"];

// ---- a minimal, deterministic ustar writer ----

interface TarEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  data?: Buffer;
  /** File size when the data is streamed separately (see {@link tarFileHeader}). */
  size?: number;
  linkname?: string;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function tarHeader(e: TarEntry): Buffer {
  const h = Buffer.alloc(512);
  let name = e.path;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
    if (cut < 0 || Buffer.byteLength(name) > 100) throw new Error(`tar path too long: ${e.path}`);
  }
  h.write(name, 0, 100);
  h.write(octal(e.mode, 8), 100);
  h.write(octal(0, 8), 108); // uid
  h.write(octal(0, 8), 116); // gid
  h.write(octal(e.type === 'file' ? (e.size ?? e.data!.length) : 0, 12), 124);
  h.write(octal(0, 12), 136); // mtime: the epoch, for reproducible digests
  h.write('        ', 148); // checksum placeholder
  h.write(e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2', 156);
  if (e.linkname) h.write(e.linkname, 157, 100);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write('root', 265);
  h.write('root', 297);
  h.write(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148);
  return h;
}

/**
 * The 512-byte header of a regular file entry, for writers that stream the data themselves (the
 * data then follows, padded with zeros to a multiple of 512 bytes).
 */
export function tarFileHeader(path: string, size: number, mode = 0o644): Buffer {
  if (size >= 8 ** 11) throw new Error(`tar entry too big for ustar: ${path} (${size} bytes)`);
  return tarHeader({ path, type: 'file', mode, size });
}

/** A tar archive of `entries`, in order. */
export function tar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(tarHeader(e));
    if (e.type === 'file') {
      parts.push(e.data!);
      const pad = (512 - (e.data!.length % 512)) % 512;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** The applets the busybox binary provides (`busybox --list`), or a basic set when it cannot say. */
function applets(busybox: string): string[] {
  try {
    const list = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => /^[\w.[-]+$/.test(a));
    if (list.length) return list;
  } catch {
    // fall through
  }
  return ['sh', 'sleep', 'echo', 'cat', 'ls', 'wget', 'env', 'true', 'false', 'test', 'ps', 'kill', 'hostname', 'nc', 'timeout', 'id'];
}

/** The busybox root filesystem as one layer tar. */
export function busyboxLayer(busybox = '/bin/busybox'): Buffer {
  const bin = readFileSync(busybox);
  const entries: TarEntry[] = [
    { path: 'bin/', type: 'dir', mode: 0o755 },
    { path: 'bin/busybox', type: 'file', mode: 0o755, data: bin },
  ];
  for (const a of applets(busybox)) if (a !== 'busybox') entries.push({ path: `bin/${a}`, type: 'symlink', mode: 0o777, linkname: 'busybox' });
  for (const d of ['dev', 'etc', 'proc', 'root', 'sys', 'usr', 'var', 'var/log']) entries.push({ path: `${d}/`, type: 'dir', mode: 0o755 });
  entries.push({ path: 'tmp/', type: 'dir', mode: 0o1777 });
  entries.push({ path: 'usr/bin', type: 'symlink', mode: 0o777, linkname: '../bin' });
  entries.push({ path: 'etc/passwd', type: 'file', mode: 0o644, data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n') });
  entries.push({ path: 'etc/group', type: 'file', mode: 0o644, data: Buffer.from('root:x:0:\nnogroup:x:65534:\n') });
  return tar(entries);
}

function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
}

/** An OCI image layout (as a tar, the input of `ctr images import`) with one image of one layer. */
export function ociLayoutTar(o: { name: string; layer: Buffer; entrypoint?: string[]; cmd?: string[]; createdBy?: string }): { archive: Buffer; digest: string; configDigest: string } {
  const layerDigest = sha256(o.layer);
  const cmd = o.cmd ?? (o.entrypoint ? undefined : ['sh']);
  const config = Buffer.from(
    JSON.stringify({
      architecture: goArch(),
      os: 'linux',
      config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        ...(o.entrypoint ? { Entrypoint: o.entrypoint } : {}),
        ...(cmd?.length ? { Cmd: cmd } : {}),
        WorkingDir: '/',
      },
      rootfs: { type: 'layers', diff_ids: [layerDigest] },
      history: [{ created_by: o.createdBy ?? 'k8ts: busybox-static' }],
    }),
  );
  const configDigest = sha256(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: o.layer.length }],
    }),
  );
  const digest = sha256(manifest);
  const tag = o.name.includes('@') ? '' : (o.name.match(/:([\w][\w.-]*)$/)?.[1] ?? 'latest');
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest,
          size: manifest.length,
          platform: { architecture: goArch(), os: 'linux' },
          // ctr import names the image from io.containerd.image.name; other tools read ref.name.
          annotations: { 'io.containerd.image.name': o.name, ...(tag ? { 'org.opencontainers.image.ref.name': tag } : {}) },
        },
      ],
    }),
  );
  const blob = (d: string, data: Buffer): TarEntry => ({ path: `blobs/sha256/${d.slice('sha256:'.length)}`, type: 'file', mode: 0o644, data });
  const archive = tar([
    { path: 'oci-layout', type: 'file', mode: 0o644, data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { path: 'index.json', type: 'file', mode: 0o644, data: index },
    { path: 'blobs/', type: 'dir', mode: 0o755 },
    { path: 'blobs/sha256/', type: 'dir', mode: 0o755 },
    blob(layerDigest, o.layer),
    blob(configDigest, config),
    blob(digest, manifest),
  ]);
  return { archive, digest, configDigest };
}

/** Feeds `archive` (bytes, or a stream of them) to `ctr images import -` against the given containerd. */
export function ctrImport(socket: string, archive: Buffer | Readable, namespace = 'k8s.io'): Promise<void> {
  requireBinaries([{ name: 'ctr', pkg: 'containerd' }]);
  return new Promise((resolve, reject) => {
    const c = spawn('ctr', ['--address', socket, '-n', namespace, 'images', 'import', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.once('error', reject);
    let streamErr: Error | undefined;
    c.once('exit', (code) => {
      if (streamErr) reject(streamErr);
      else if (code === 0) resolve();
      else reject(new Error(`ctr images import failed (exit ${code}): ${out.trim()}`));
    });
    c.stdin.on('error', () => {}); // an early exit reports through 'exit'
    if (Buffer.isBuffer(archive)) {
      c.stdin.end(archive);
      return;
    }
    archive.once('error', (err) => {
      streamErr = err;
      c.stdin.destroy();
    });
    archive.pipe(c.stdin);
  });
}

/** Builds a busybox image from the host's static busybox and imports it into containerd. */
export async function importBusyboxImage(o: ImportImageOptions): Promise<ImportedImage> {
  const busybox = o.busybox ?? '/bin/busybox';
  requireBinaries([{ name: busybox, pkg: 'busybox-static' }]);
  const { archive, digest, configDigest } = ociLayoutTar({ name: o.name, layer: busyboxLayer(busybox), entrypoint: o.entrypoint, cmd: o.cmd });
  await ctrImport(o.socket, archive, o.namespace);
  return { name: o.name, digest, configDigest };
}

/** A pause image layer holding only a static `/pause` binary (as upstream's pause image). */
export function staticPauseLayer(binary: Buffer): Buffer {
  return tar([{ path: 'pause', type: 'file', mode: 0o755, data: binary }]);
}

/**
 * Imports the pause image under `name` (use containerd's sandbox_image): a static pause binary
 * compiled on this machine (see pause-image.ts) when it can be, else busybox `sh` as pause.
 * `kind` forces one of the two.
 */
export async function importPauseImage(o: { socket: string; name: string; busybox?: string; kind?: 'static' | 'busybox' }): Promise<ImportedImage & { kind: 'static' | 'busybox' }> {
  const bin = o.kind === 'busybox' ? undefined : staticPauseBytes();
  if (!bin) {
    if (o.kind === 'static') throw new Error('cannot build the static pause binary: no C compiler with a static libc (Debian: apt-get install gcc libc6-dev)');
    return { ...(await importBusyboxImage({ ...o, entrypoint: PAUSE_ENTRYPOINT, cmd: [] })), kind: 'busybox' };
  }
  const { archive, digest, configDigest } = ociLayoutTar({ name: o.name, layer: staticPauseLayer(bin), entrypoint: ['/pause'], cmd: [], createdBy: 'k8ts: static pause' });
  await ctrImport(o.socket, archive);
  return { name: o.name, digest, configDigest, kind: 'static' };
}
