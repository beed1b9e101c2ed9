/**
 * Image archives on disk: OCI image layouts in a tar (what `ctr export`, skopeo `oci-archive:` and
 * `k8ts images build` write) and docker-save tars (manifest.json + repositories), plain or gzipped.
 * It reads only tar headers and the small metadata files, so big archives cost no memory, and it
 * feeds them to `ctr images import` with every image name normalised: for OCI archives by
 * rewriting index.json's `io.containerd.image.name` annotations on the fly (ctr takes those as
 * they are, while it normalises docker RepoTags itself).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { requireBinaries } from './containerd.js';
import { ctrImport, tarFileHeader } from './images.js';
import { normalizeImageName } from './image-names.js';

/** The containerd annotation `ctr import` names an image from. */
export const CONTAINERD_IMAGE_NAME = 'io.containerd.image.name';
/** The OCI annotation with a tag (or, from some tools, a whole reference). */
export const OCI_REF_NAME = 'org.opencontainers.image.ref.name';

/** A file that is not an image archive, or a broken one. */
export class ImageArchiveError extends Error {}

/** One entry of a tar, located in the file. */
export interface TarLocation {
  /** Path without a leading `./`. */
  name: string;
  /** Tar type flag ('0' file, '5' dir, ...). */
  type: string;
  /** Offset of the first header of this entry (a pax or GNU long-name header when there is one). */
  headerOffset: number;
  dataOffset: number;
  size: number;
}

function parseOctal(b: Buffer): number {
  // GNU base-256 for big sizes: high bit of the first byte set.
  if (b[0]! & 0x80) {
    let n = b[0]! & 0x7f;
    for (let i = 1; i < b.length; i++) n = n * 256 + b[i]!;
    return n;
  }
  const s = b.toString('latin1').replace(/\0.*$/s, '').trim();
  return s ? parseInt(s, 8) : 0;
}

function cstr(b: Buffer): string {
  const z = b.indexOf(0);
  return (z >= 0 ? b.subarray(0, z) : b).toString('utf8');
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.subarray(i, sp).toString('latin1'), 10);
    if (!len) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Lists the entries of an uncompressed tar file, reading headers only. */
export function scanTar(file: string): TarLocation[] {
  const fd = openSync(file, 'r');
  try {
    const total = statSync(file).size;
    const out: TarLocation[] = [];
    const h = Buffer.alloc(512);
    let off = 0;
    let pending: { name?: string; size?: number; start: number } | undefined;
    const readAt = (len: number, pos: number) => {
      const b = Buffer.alloc(len);
      if (readSync(fd, b, 0, len, pos) !== len) throw new ImageArchiveError('truncated tar');
      return b;
    };
    while (off + 512 <= total) {
      if (readSync(fd, h, 0, 512, off) !== 512) break;
      if (h.every((x) => x === 0)) break;
      const stored = parseOctal(h.subarray(148, 156));
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
      if (stored !== sum) throw new ImageArchiveError(`not a tar file (bad header checksum at byte ${off})`);
      const type = String.fromCharCode(h[156] || 0x30);
      let size = parseOctal(h.subarray(124, 136));
      const dataOffset = off + 512;
      const next = dataOffset + Math.ceil(size / 512) * 512;
      if (type === 'x' || type === 'L') {
        const data = readAt(size, dataOffset);
        pending ??= { start: off };
        if (type === 'L') pending.name = cstr(data);
        else {
          const pax = parsePax(data);
          if (pax.path) pending.name = pax.path;
          if (pax.size) pending.size = Number(pax.size);
        }
        off = next;
        continue;
      }
      if (type === 'g' || type === 'K') {
        off = next;
        continue;
      }
      let name = cstr(h.subarray(0, 100));
      if (h.subarray(257, 262).toString('latin1') === 'ustar') {
        const prefix = cstr(h.subarray(345, 500));
        if (prefix) name = `${prefix}/${name}`;
      }
      if (pending?.name) name = pending.name;
      if (pending?.size !== undefined) size = pending.size;
      out.push({ name: name.replace(/^(\.\/)+/, '').replace(/^\/+/, ''), type, headerOffset: pending?.start ?? off, dataOffset, size });
      pending = undefined;
      off = dataOffset + Math.ceil(size / 512) * 512;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

function readEntry(file: string, e: TarLocation): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(e.size);
    if (readSync(fd, b, 0, e.size, e.dataOffset) !== e.size) throw new ImageArchiveError(`truncated tar entry ${e.name}`);
    return b;
  } finally {
    closeSync(fd);
  }
}

/** Whether the file starts with the gzip magic. */
export function isGzip(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** What an archive holds. */
export interface ArchiveInfo {
  /** `oci` (index.json + oci-layout) or `docker` (docker save). Docker 25+ writes both; that counts as oci. */
  format: 'oci' | 'docker';
  compressed: boolean;
  /** Normalised names of the images in it (those that have one). */
  names: string[];
  /** Manifests in index.json without any usable name (OCI only). */
  unnamed: number;
}

interface IndexJson {
  manifests?: { digest?: string; annotations?: Record<string, string> }[];
  [k: string]: unknown;
}

/** The name an index.json manifest entry stands for, normalised, or undefined (a tag-only ref.name needs `baseName`). */
function manifestName(annotations: Record<string, string> | undefined, baseName?: string): string | undefined {
  const a = annotations ?? {};
  if (a[CONTAINERD_IMAGE_NAME]) return normalizeImageName(a[CONTAINERD_IMAGE_NAME]);
  const ref = a[OCI_REF_NAME];
  // A ref.name is a tag by the spec, but some tools put a whole reference there.
  if (ref && /[/:@]/.test(ref)) return normalizeImageName(ref);
  if (baseName) {
    const base = normalizeImageName(baseName);
    if (ref) return normalizeImageName(base.replace(/[:@][^/]*$/, '') + ':' + ref);
    return base;
  }
  return undefined;
}

/** An uncompressed view of an archive: the file itself or a temporary gunzipped copy. */
export async function openArchive(file: string): Promise<{ path: string; compressed: boolean; close(): void }> {
  try {
    if (!statSync(file).isFile()) throw new ImageArchiveError(`${file}: not a regular file`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ImageArchiveError(`${file}: no such file`);
    throw err;
  }
  if (!isGzip(file)) return { path: file, compressed: false, close() {} };
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-image-'));
  const path = join(dir, 'archive.tar');
  try {
    await pipeline(createReadStream(file), createGunzip(), createWriteStream(path));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new ImageArchiveError(`${file}: broken gzip data: ${(err as Error).message}`);
  }
  return { path, compressed: true, close: () => rmSync(dir, { recursive: true, force: true }) };
}

interface Scanned {
  format: 'oci' | 'docker';
  entries: TarLocation[];
  index?: { entry: TarLocation; json: IndexJson };
  dockerNames: string[];
}

function scan(file: string, shown: string): Scanned {
  let entries: TarLocation[];
  try {
    entries = scanTar(file);
  } catch (err) {
    if (err instanceof ImageArchiveError) throw new ImageArchiveError(`${shown}: not an image archive (${err.message})`);
    throw err;
  }
  const byName = new Map(entries.map((e) => [e.name, e]));
  const json = <T>(e: TarLocation): T => {
    try {
      return JSON.parse(readEntry(file, e).toString('utf8')) as T;
    } catch {
      throw new ImageArchiveError(`${shown}: ${e.name} is not valid JSON`);
    }
  };
  const dockerNames: string[] = [];
  const manifest = byName.get('manifest.json');
  if (manifest) {
    const m = json<{ RepoTags?: string[] | null }[]>(manifest);
    if (!Array.isArray(m)) throw new ImageArchiveError(`${shown}: manifest.json is not a docker image manifest list`);
    for (const img of m) for (const t of img.RepoTags ?? []) dockerNames.push(normalizeImageName(t));
  }
  const idx = byName.get('index.json');
  if (idx && byName.has('oci-layout')) {
    const j = json<IndexJson>(idx);
    if (!Array.isArray(j.manifests)) throw new ImageArchiveError(`${shown}: index.json has no manifests`);
    return { format: 'oci', entries, index: { entry: idx, json: j }, dockerNames };
  }
  if (manifest) return { format: 'docker', entries, dockerNames };
  throw new ImageArchiveError(`${shown}: not an image archive (neither an OCI layout with index.json and oci-layout, nor a docker save with manifest.json)`);
}

/**
 * Says what an archive is and which (normalised) images it holds; throws {@link ImageArchiveError}
 * for a missing file or anything that is not an image archive. `baseName` names the images of an
 * OCI archive that carry only a tag or nothing.
 */
export async function inspectArchive(file: string, baseName?: string): Promise<ArchiveInfo> {
  const a = await openArchive(file);
  try {
    const s = scan(a.path, file);
    return { format: s.format, compressed: a.compressed, ...namesOf(s, baseName) };
  } finally {
    a.close();
  }
}

function namesOf(s: Scanned, baseName?: string): { names: string[]; unnamed: number } {
  if (s.format === 'docker') return { names: [...new Set(s.dockerNames)], unnamed: 0 };
  const names: string[] = [];
  let unnamed = 0;
  for (const m of s.index!.json.manifests!) {
    const n = manifestName(m.annotations, baseName);
    if (n) names.push(n);
    else unnamed++;
  }
  // Docker 25+ archives: index.json may lack names that manifest.json has.
  if (!names.length && s.dockerNames.length) return { names: [...new Set(s.dockerNames)], unnamed: 0 };
  return { names: [...new Set(names)], unnamed };
}

/**
 * The archive as a stream for `ctr images import -`, with index.json's name annotations set to
 * the normalised names (other bytes are copied as they are). Resolves the names too.
 */
function importStream(path: string, s: Scanned, baseName?: string): { stream: Readable; names: string[] } {
  const { names } = namesOf(s, baseName);
  const idx = s.index;
  let newIndex: Buffer | undefined;
  if (idx) {
    let changed = false;
    const manifests = idx.json.manifests!.map((m) => {
      const n = manifestName(m.annotations, baseName);
      if (!n || m.annotations?.[CONTAINERD_IMAGE_NAME] === n) return m;
      changed = true;
      return { ...m, annotations: { ...m.annotations, [CONTAINERD_IMAGE_NAME]: n } };
    });
    if (changed) newIndex = Buffer.from(JSON.stringify({ ...idx.json, manifests }));
  }
  if (!idx || !newIndex) return { stream: createReadStream(path), names };
  const out = new PassThrough();
  const e = idx.entry;
  const after = e.dataOffset + Math.ceil(e.size / 512) * 512;
  const pad = (512 - (newIndex.length % 512)) % 512;
  const index = newIndex;
  (async () => {
    const copy = async (start: number, end: number) => {
      if (end > start) await pipeline(createReadStream(path, { start, end: end - 1 }), out, { end: false });
    };
    await copy(0, e.headerOffset);
    out.write(tarFileHeader('index.json', index.length, 0o644));
    out.write(index);
    if (pad) out.write(Buffer.alloc(pad));
    await copy(after, statSync(path).size);
    out.end();
  })().catch((err) => out.destroy(err));
  return { stream: out, names };
}

/** Writes the archive, names normalised as for import, to `dest` (used for archives waiting in ROOT/images). */
export async function writeNormalizedArchive(file: string, dest: string, baseName?: string): Promise<string[]> {
  const a = await openArchive(file);
  try {
    const s = scan(a.path, file);
    const { stream, names } = importStream(a.path, s, baseName);
    await pipeline(stream, createWriteStream(dest));
    return names;
  } finally {
    a.close();
  }
}

/** Options of {@link importArchive}. */
export interface ImportArchiveOptions {
  /** containerd's socket. */
  socket: string;
  /** containerd namespace. Default k8s.io (the CRI's). */
  namespace?: string;
  /** Name for OCI images that carry only a tag or no name. */
  baseName?: string;
}

/** Imports one archive with `ctr images import`; resolves the normalised names imported. */
export async function importArchive(file: string, o: ImportArchiveOptions): Promise<string[]> {
  requireBinaries([{ name: 'ctr', pkg: 'containerd' }]);
  const a = await openArchive(file);
  try {
    const s = scan(a.path, file);
    const { stream, names } = importStream(a.path, s, o.baseName);
    const { unnamed } = namesOf(s, o.baseName);
    if (!names.length) {
      stream.destroy();
      throw new ImageArchiveError(`${file}: the archive names no image${unnamed ? ` (${unnamed} unnamed manifest${unnamed > 1 ? 's' : ''})` : ''}; ${s.format === 'docker' ? 'save it by name (docker save NAME:TAG)' : 'give one with --name'}`);
    }
    await ctrImport(o.socket, stream, o.namespace ?? 'k8s.io');
    return names;
  } finally {
    a.close();
  }
}


/** sha256 (hex) of a file's bytes, streamed. */
export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}
