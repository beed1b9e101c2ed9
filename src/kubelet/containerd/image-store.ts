/**
 * A node's images on disk and in its containerd: archives waiting in ROOT/images/ (imported when
 * the agent starts, as k3s does with agent/images), the record of which were imported (by content
 * hash, so a restart does not import them again), and the images containerd holds.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { logger } from '../../base/log.js';
import { CriRuntime } from '../runtime/cri-runtime.js';
import type { Image } from '../runtime/runtime.js';
import { containerdPaths } from './containerd.js';
import { fileSha256, importArchive, inspectArchive, writeNormalizedArchive, type ArchiveInfo } from './image-archive.js';

/** File names taken as image archives in ROOT/images/. */
export const ARCHIVE_PATTERN = /\.(tar|tar\.gz|tgz|oci)$/;
const RECORD = '.imported.json';

/** ROOT/images: archives waiting for the node's containerd. */
export function pendingImagesDir(root: string): string {
  return join(root, 'images');
}

/**
 * The agent root for a `--data-dir`: DIR/agent when it exists or DIR is a server data dir (it has
 * kubeconfig.yaml), else DIR itself (an agent's data dir).
 */
export function agentRoot(dataDir: string): string {
  if (existsSync(join(dataDir, 'agent')) || existsSync(join(dataDir, 'kubeconfig.yaml'))) return join(dataDir, 'agent');
  return dataDir;
}

interface RecordEntry {
  file: string;
  size: number;
  mtimeMs: number;
  names: string[];
  importedAt: string;
}
/** sha256 of the archive → what was imported from it. */
type ImportRecord = Record<string, RecordEntry>;

function readRecord(dir: string): ImportRecord {
  try {
    return JSON.parse(readFileSync(join(dir, RECORD), 'utf8')) as ImportRecord;
  } catch {
    return {};
  }
}

function writeRecord(dir: string, r: ImportRecord): void {
  const tmp = join(dir, `${RECORD}.tmp-${process.pid}`);
  writeFileSync(tmp, JSON.stringify(r, null, 1) + '\n');
  renameSync(tmp, join(dir, RECORD));
}

/** The content hash of `file`, taken from the record when size and mtime match (hashing 200 MB costs about a second). */
async function contentHash(file: string, record: ImportRecord): Promise<string> {
  const st = statSync(file);
  for (const [hash, e] of Object.entries(record)) if (e.file === basename(file) && e.size === st.size && e.mtimeMs === st.mtimeMs) return hash;
  return fileSha256(file);
}

/** Archives in ROOT/images/, sorted by name. */
export function listArchives(root: string): string[] {
  const dir = pendingImagesDir(root);
  try {
    return readdirSync(dir)
      .filter((f) => ARCHIVE_PATTERN.test(f) && !f.startsWith('.') && statSync(join(dir, f)).isFile())
      .sort()
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** An archive in ROOT/images/ and whether it was imported already (by content). */
export interface PendingArchive {
  file: string;
  size: number;
  imported: boolean;
  info?: ArchiveInfo;
  error?: string;
}

/** The archives in ROOT/images/ with what they hold and whether they were imported. */
export async function pendingArchives(root: string): Promise<PendingArchive[]> {
  const dir = pendingImagesDir(root);
  const record = readRecord(dir);
  const out: PendingArchive[] = [];
  for (const file of listArchives(root)) {
    const size = statSync(file).size;
    const hash = await contentHash(file, record);
    let info: ArchiveInfo | undefined;
    let error: string | undefined;
    try {
      info = await inspectArchive(file);
    } catch (err) {
      error = (err as Error).message;
    }
    out.push({ file, size, imported: !!record[hash], ...(info ? { info } : {}), ...(error ? { error } : {}) });
  }
  return out;
}

/**
 * Places an archive in ROOT/images/ for import at the next node start, with its image names
 * normalised as an import would; resolves the destination and the names.
 */
export async function queueArchive(root: string, file: string, baseName?: string): Promise<{ dest: string; names: string[] }> {
  const dir = pendingImagesDir(root);
  mkdirSync(dir, { recursive: true });
  const base = basename(file).replace(/\.(tgz|tar\.gz)$/, '.tar');
  let dest = join(dir, ARCHIVE_PATTERN.test(base) ? base : `${base}.tar`);
  const tmp = join(dir, `.incoming-${process.pid}-${basename(dest)}`);
  try {
    let names: string[];
    const info = await inspectArchive(file, baseName);
    if (info.format === 'oci' || info.compressed) names = await writeNormalizedArchive(file, tmp, baseName);
    else {
      copyFileSync(file, tmp);
      names = info.names;
    }
    // Another archive of the same file name but other content keeps its place.
    if (existsSync(dest)) {
      const [a, b] = await Promise.all([fileSha256(dest), fileSha256(tmp)]);
      if (a !== b) {
        let i = 1;
        while (existsSync(dest.replace(/\.(tar|oci)$/, `-${i}.$1`))) i++;
        dest = dest.replace(/\.(tar|oci)$/, `-${i}.$1`);
      }
    }
    renameSync(tmp, dest);
    return { dest, names };
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Whether containerd at `socket` answers (CRI Version) within `timeoutMs`. */
export async function containerdAnswers(socket: string, timeoutMs = 2000): Promise<boolean> {
  if (!existsSync(socket)) return false;
  const rt = new CriRuntime({ socket, timeoutMs });
  try {
    await rt.version();
    return true;
  } catch {
    return false;
  } finally {
    rt.close();
  }
}

/**
 * Imports every archive in ROOT/images/ into the containerd at `socket` (namespace k8s.io), skipping
 * those the record says were imported, unless containerd lost their images. Broken archives are
 * logged and skipped (tried again next start). Resolves the image names imported now.
 */
export async function importPendingImages(root: string, socket: string): Promise<string[]> {
  const log = logger('images');
  const dir = pendingImagesDir(root);
  const files = listArchives(root);
  if (!files.length) return [];
  const record = readRecord(dir);
  const rt = new CriRuntime({ socket, timeoutMs: 10_000 });
  const imported: string[] = [];
  try {
    for (const file of files) {
      const t0 = Date.now();
      try {
        const hash = await contentHash(file, record);
        const done = record[hash];
        if (done) {
          const present = await Promise.all(done.names.map((n) => rt.imageStatus({ image: n }).then((i) => !!i)));
          if (present.every(Boolean)) continue;
        }
        const names = await importArchive(file, { socket });
        const st = statSync(file);
        record[hash] = { file: basename(file), size: st.size, mtimeMs: st.mtimeMs, names, importedAt: new Date().toISOString() };
        writeRecord(dir, record);
        imported.push(...names);
        log.info('imported image archive', { file, images: names.join(','), ms: Date.now() - t0 });
      } catch (err) {
        log.warn('cannot import image archive', { file, error: (err as Error).message });
      }
    }
  } finally {
    rt.close();
  }
  return imported;
}

/** Marks an archive imported (used by `k8ts images import` when it imports into a running node). */
export async function recordImported(root: string, file: string, names: string[]): Promise<void> {
  const dir = pendingImagesDir(root);
  if (!existsSync(file) || !file.startsWith(dir + '/')) return;
  const record = readRecord(dir);
  const st = statSync(file);
  record[await fileSha256(file)] = { file: basename(file), size: st.size, mtimeMs: st.mtimeMs, names, importedAt: new Date().toISOString() };
  writeRecord(dir, record);
}

/** The images a node's containerd holds (CRI ListImages), sorted by first name. */
export async function listNodeImages(socket: string): Promise<Image[]> {
  const rt = new CriRuntime({ socket, timeoutMs: 10_000 });
  try {
    const imgs = await rt.listImages();
    return imgs.sort((a, b) => (a.repoTags[0] ?? a.id).localeCompare(b.repoTags[0] ?? b.id));
  } finally {
    rt.close();
  }
}

/** The containerd socket of an agent root. */
export function nodeSocket(root: string): string {
  return containerdPaths(root).socket;
}
