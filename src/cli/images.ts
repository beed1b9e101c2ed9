/**
 * `k8ts images`: put images on a node without a registry. `import` loads OCI or docker-save
 * archives into the node's containerd (or queues them in ROOT/images/ until the node starts),
 * `ls` lists what the node has, and `build` makes an OCI archive from Debian packages or busybox.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildImage, imageCacheDir } from '../kubelet/containerd/image-build.js';
import { ImageArchiveError, importArchive, inspectArchive } from '../kubelet/containerd/image-archive.js';
import { agentRoot, containerdAnswers, listNodeImages, nodeSocket, pendingArchives, pendingImagesDir, queueArchive } from '../kubelet/containerd/image-store.js';

export const imagesHelp = `Manage a node's container images without a registry.

Usage:
  k8ts images import FILE... [--data-dir DIR] [--name NAME]
  k8ts images ls [--data-dir DIR]
  k8ts images build NAME[:TAG] (--debian PKG,PKG,... | --busybox) [flags] -o FILE

import   Load OCI image archives or 'docker save' archives (plain or gzipped) into the node's
         containerd now if it runs, else place them in DIR/images/ to be imported when the node starts.
         Names are normalised as docker does: an archive tagged nginx:latest answers to image "nginx".
ls       List the node's images (REF, DIGEST = image ID, SIZE) and archives waiting in DIR/images/.
build    Build an OCI image archive from Debian bookworm packages (mmdebstrap, root needed) or from
         busybox-static, cached under \$K8TS_IMAGE_CACHE (default /var/cache/k8ts/images as root).

Flags:
  --data-dir DIR        A server's data dir (its node lives in DIR/agent) or an agent's data dir
                        (default: /var/lib/k8ts as root, else ~/.k8ts)
  --name NAME           import: the name for OCI images that carry only a tag or no name
  --debian PKGS         build: comma-separated Debian packages to install
  --busybox             build: the small busybox image (also when NAME is busybox and no --debian)
  --cmd CMD             build: the command; run through /bin/sh -c, a single simple command exec'ed
                        so it is PID 1 and gets the stop signal (a JSON array is taken as is)
  --entrypoint CMD      build: the entrypoint, a JSON array or one word
  --workdir DIR         build: the working directory (default /)
  --user USER           build: the user (name, uid or uid:gid)
  --stop-signal SIG     build: the stop signal, e.g. SIGQUIT
  --env KEY=VALUE       build: an environment variable (repeatable)
  --run CMD             build: a shell command to run in the root filesystem after installing (repeatable)
  -o, --output FILE     build: where to write the archive (required)
  -q, --quiet           build: no progress lines
  -h, --help            Show this help
`;

/** Where `k8ts images` writes (tests pass their own). */
export interface ImagesIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: ImagesIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** Human size as crictl prints it: 188MB, 4.2kB. */
export function formatSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 || v >= 100 ? Math.round(v) : v.toFixed(1).replace(/\.0$/, '')}${units[i]}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]! + 3))).join('').trimEnd() + '\n').join('');
}

function defaultDataDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/k8ts' : join(homedir(), '.k8ts');
}

/** The agent root `--data-dir` stands for (the server default's node lives in DIR/agent). */
export function resolveAgentRoot(dataDir: string | undefined): string {
  if (dataDir) return agentRoot(dataDir);
  const d = defaultDataDir();
  return join(d, 'agent');
}

const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

/** Runs `k8ts images ARGS`; resolves the exit code. */
export async function runImages(args: string[], io: ImagesIO = stdio): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'import':
        return await importCmd(rest, io);
      case 'ls':
      case 'list':
        return await lsCmd(rest, io);
      case 'build':
        return await buildCmd(rest, io);
      case 'help':
      case '-h':
      case '--help':
        io.out(imagesHelp);
        return 0;
      case undefined:
        io.err(imagesHelp);
        return 1;
      default:
        io.err(`k8ts images: unknown command "${sub}"\n\n${imagesHelp}`);
        return 1;
    }
  } catch (err) {
    io.err(`k8ts images ${sub}: ${(err as Error).message}\n`);
    return 1;
  }
}

async function importCmd(args: string[], io: ImagesIO): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { 'data-dir': { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return io.out(imagesHelp), 0;
  if (!positionals.length) throw new Error('give at least one archive file (k8ts images import FILE...)');
  const root = resolveAgentRoot(values['data-dir']);
  // Check every file first, so a typo does not leave half the list imported.
  const infos = [];
  for (const f of positionals) {
    try {
      infos.push({ file: f, info: await inspectArchive(f, values.name) });
    } catch (err) {
      if (err instanceof ImageArchiveError) {
        io.err(`k8ts images import: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  }
  for (const { file, info } of infos) {
    if (!info.names.length) {
      const hint = info.format === 'docker' ? 'it was saved by image ID; save it by name (docker save NAME:TAG)' : 'give one with --name';
      io.err(`k8ts images import: ${file}: the archive names no image; ${hint}\n`);
      return 1;
    }
  }
  const socket = nodeSocket(root);
  if (await containerdAnswers(socket)) {
    for (const { file, info } of infos) {
      const t0 = Date.now();
      io.out(`importing ${file} (${info.format}${info.compressed ? ', gzip' : ''})...\n`);
      const names = await importArchive(file, { socket, baseName: values.name });
      io.out(`imported ${names.join(', ')} in ${secs(Date.now() - t0)}\n`);
    }
    return 0;
  }
  for (const { file } of infos) {
    const { dest, names } = await queueArchive(root, file, values.name);
    io.out(`copied ${file} to ${dest} (${names.join(', ')}): the node's containerd is not running, so it will be imported when the node starts\n`);
  }
  return 0;
}

async function lsCmd(args: string[], io: ImagesIO): Promise<number> {
  const { values } = parseArgs({ args, strict: true, options: { 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return io.out(imagesHelp), 0;
  const root = resolveAgentRoot(values['data-dir']);
  const socket = nodeSocket(root);
  if (await containerdAnswers(socket)) {
    const rows = [['REF', 'DIGEST', 'SIZE']];
    for (const img of await listNodeImages(socket)) {
      const refs = img.repoTags.length ? img.repoTags : img.repoDigests.length ? img.repoDigests : ['<none>'];
      for (const ref of refs) rows.push([ref, img.id.replace(/^sha256:/, '').slice(0, 12), formatSize(img.size)]);
    }
    io.out(table(rows));
  } else {
    io.err(`the node's containerd (${socket}) is not running; showing archives waiting in ${pendingImagesDir(root)}\n`);
  }
  const pending = (await pendingArchives(root)).filter((p) => !p.imported);
  if (pending.length) {
    io.out(`\nWaiting in ${pendingImagesDir(root)} (imported when the node starts):\n`);
    const rows = [['FILE', 'SIZE', 'IMAGES']];
    for (const p of pending) rows.push([p.file.slice(pendingImagesDir(root).length + 1), formatSize(p.size), p.error ? `error: ${p.error}` : (p.info?.names.join(', ') ?? '')]);
    io.out(table(rows));
  }
  return 0;
}

function parseCmd(s: string | undefined): string | string[] | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (t.startsWith('[')) {
    const a = JSON.parse(t) as unknown;
    if (!Array.isArray(a) || !a.every((x) => typeof x === 'string')) throw new Error(`not a JSON array of strings: ${s}`);
    return a;
  }
  return s;
}

async function buildCmd(args: string[], io: ImagesIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      debian: { type: 'string', multiple: true },
      busybox: { type: 'boolean' },
      cmd: { type: 'string' },
      entrypoint: { type: 'string' },
      workdir: { type: 'string' },
      user: { type: 'string' },
      'stop-signal': { type: 'string' },
      env: { type: 'string', multiple: true },
      run: { type: 'string', multiple: true },
      output: { type: 'string', short: 'o' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return io.out(imagesHelp), 0;
  if (positionals.length !== 1) throw new Error('give exactly one image name (k8ts images build NAME[:TAG] --debian PKGS -o FILE)');
  if (!values.output) throw new Error('-o FILE is required');
  const name = positionals[0]!;
  const debian = (values.debian ?? []).flatMap((d) => d.split(',')).map((p) => p.trim()).filter(Boolean);
  const busybox = values.busybox || (!debian.length && /^(?:[^/]+\/)*busybox(?::[^/]*)?$/.test(name));
  if (!debian.length && !busybox) throw new Error('give --debian PKG,PKG,... (or --busybox)');
  if (debian.length && values.busybox) throw new Error('--debian and --busybox exclude each other');
  const cmd = parseCmd(values.cmd);
  const ep = parseCmd(values.entrypoint);
  const entrypoint = ep === undefined ? undefined : typeof ep === 'string' ? [ep] : ep;
  for (const e of values.env ?? []) if (!/^[^=]+=/.test(e)) throw new Error(`--env wants KEY=VALUE, got "${e}"`);
  io.out(`building ${name} (${busybox ? 'busybox' : `Debian: ${debian.join(', ')}`}), cache ${imageCacheDir()}\n`);
  const b = await buildImage({
    name,
    debian: busybox ? undefined : debian,
    busybox,
    cmd,
    entrypoint,
    workdir: values.workdir,
    user: values.user,
    stopSignal: values['stop-signal'],
    env: values.env,
    run: values.run,
    output: values.output,
    onProgress: values.quiet ? undefined : (l) => io.out(`${l}\n`),
  });
  io.out(`built ${b.name} ${b.digest.slice(0, 19)} (${formatSize(b.size)})${b.cached ? ' from the cache' : ''} in ${secs(b.ms)}: ${b.output}\n`);
  return 0;
}
