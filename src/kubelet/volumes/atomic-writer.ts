/**
 * Upstream's atomic writer layout for ConfigMap, Secret, downward API and projected volumes
 * (pkg/volume/util/atomic_writer.go): the files of one version live in a timestamped directory
 * `..<time>.<random>`, the symlink `..data` points at the current one, and every top-level name
 * the user sees is a symlink `name -> ..data/name`. An update writes a new directory and renames a
 * fresh `..data_tmp` symlink over `..data`, so a running container sees either the old or the new
 * set of files, never a mix.
 */
import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/** One file of a volume payload. */
export interface FileProjection {
  data: Buffer;
  /** Permission bits, e.g. 0o644. */
  mode: number;
}

/** Payload: relative path → file. */
export type Payload = Map<string, FileProjection>;

const DATA_DIR = '..data';
const DATA_TMP = '..data_tmp';

/** Throws unless `p` is a relative path with no `..` element and does not start with `..`. */
export function validatePayloadPath(p: string): void {
  if (p === '') throw new Error('invalid path: must not be empty');
  if (path.isAbsolute(p)) throw new Error(`invalid path: must be relative path: ${p}`);
  if (p.startsWith('..')) throw new Error(`invalid path: must not start with '..': ${p}`);
  if (p.split('/').includes('..')) throw new Error(`invalid path: must not contain '..': ${p}`);
}

function tsDirPrefix(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.`;
}

async function lstatOrUndefined(p: string) {
  try {
    return await fs.lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Files under `dir` (relative paths), not following symlinks. */
async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const ent of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isDirectory()) out.push(...(await listFiles(dir, r)));
    else out.push(r);
  }
  return out;
}

/** True when the directory `dir` holds exactly `payload`, contents and modes. */
async function sameContent(dir: string, payload: Payload): Promise<boolean> {
  const files = await listFiles(dir);
  if (files.length !== payload.size) return false;
  for (const f of files) {
    const want = payload.get(f);
    if (!want) return false;
    const st = await fs.lstat(path.join(dir, f));
    if (!st.isFile() || (st.mode & 0o7777) !== want.mode) return false;
    if (!want.data.equals(await fs.readFile(path.join(dir, f)))) return false;
  }
  return true;
}

/** Options of {@link writeAtomic}. */
export interface WriteOptions {
  /** chgrp every file to this group and add group read (upstream SetVolumeOwnership, read-only volume). */
  fsGroup?: number;
}

/**
 * Makes `targetDir` show exactly `payload`. Returns false when it already did (nothing written).
 * Safe against concurrent readers; not against concurrent writers of the same directory.
 */
export async function writeAtomic(targetDir: string, payload: Payload, o: WriteOptions = {}): Promise<boolean> {
  for (const p of payload.keys()) validatePayloadPath(p);
  const files: Payload = new Map();
  for (const [p, f] of payload) files.set(path.posix.normalize(p), { data: f.data, mode: o.fsGroup === undefined ? f.mode & 0o7777 : (f.mode & 0o7777) | 0o440 });
  await fs.mkdir(targetDir, { recursive: true });

  const oldTs = await fs.readlink(path.join(targetDir, DATA_DIR)).catch(() => undefined);
  const oldTsDir = oldTs ? path.join(targetDir, oldTs) : undefined;
  const topLevel = new Set([...files.keys()].map((p) => p.split('/')[0]));

  let changed = true;
  if (oldTsDir && (await lstatOrUndefined(oldTsDir))?.isDirectory() && (await sameContent(oldTsDir, files))) {
    changed = false;
  } else {
    const tsDir = await fs.mkdtemp(path.join(targetDir, tsDirPrefix()));
    await fs.chmod(tsDir, 0o755);
    for (const [p, f] of files) {
      const full = path.join(tsDir, p);
      await fs.mkdir(path.dirname(full), { recursive: true, mode: 0o755 });
      await fs.writeFile(full, f.data, { mode: f.mode, flag: fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW });
      await fs.chmod(full, f.mode);
      if (o.fsGroup !== undefined) await fs.lchown(full, -1, o.fsGroup);
    }
    if (o.fsGroup !== undefined) {
      for (const d of new Set([...files.keys()].flatMap((p) => ancestors(p)))) {
        await fs.lchown(path.join(tsDir, d), -1, o.fsGroup);
        await fs.chmod(path.join(tsDir, d), 0o2755);
      }
      await fs.lchown(tsDir, -1, o.fsGroup);
    }
    const tmp = path.join(targetDir, DATA_TMP);
    await fs.rm(tmp, { force: true });
    await fs.symlink(path.basename(tsDir), tmp);
    await fs.rename(tmp, path.join(targetDir, DATA_DIR));
  }

  // User-visible symlinks for new names.
  for (const name of topLevel) {
    const link = path.join(targetDir, name);
    const st = await lstatOrUndefined(link);
    if (!st) await fs.symlink(path.join(DATA_DIR, name), link);
  }
  // The old version goes only after `..data` moved on; never follow a link out of the volume.
  if (changed && oldTs && oldTs.startsWith('..') && !oldTs.includes('/')) await fs.rm(path.join(targetDir, oldTs), { recursive: true, force: true });
  // Drop user-visible symlinks of names the payload no longer has.
  for (const ent of await fs.readdir(targetDir, { withFileTypes: true })) {
    if (ent.name.startsWith('..') || topLevel.has(ent.name) || !ent.isSymbolicLink()) continue;
    const to = await fs.readlink(path.join(targetDir, ent.name));
    if (to.startsWith(`${DATA_DIR}/`)) await fs.unlink(path.join(targetDir, ent.name));
  }
  return changed;
}

/** `a/b/c` → `a`, `a/b`. */
function ancestors(p: string): string[] {
  const parts = p.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}
