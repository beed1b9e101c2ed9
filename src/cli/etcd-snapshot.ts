/**
 * `k8ts etcd-snapshot save|restore|status`: snapshots of the etcd a k8ts cluster stores its data in,
 * through etcd's own tools (Debian's etcd-client: `etcdctl`, and `etcdutl` from etcd 3.5 on).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const etcdSnapshotHelp = `Save and restore snapshots of the etcd that k8ts stores its data in.

Usage:
  k8ts etcd-snapshot save --etcd-endpoints URL -o FILE [--etcd-cafile F --etcd-certfile F --etcd-keyfile F]
  k8ts etcd-snapshot restore -f FILE --data-dir NEWDIR [--name NAME] [--initial-advertise-peer-urls URL]
  k8ts etcd-snapshot status -f FILE

save     Stream a snapshot of one etcd member's whole keyspace (all prefixes, with history) to FILE,
         while it runs: the k8ts servers need not stop.
restore  Make a fresh etcd data dir NEWDIR (it must not exist or be empty) from a snapshot, then start
         one etcd on it, e.g.
           etcd --name NAME --data-dir NEWDIR --listen-client-urls URL --advertise-client-urls URL
         and point the k8ts servers at it (--storage etcd --etcd-endpoints URL, the same --etcd-prefix
         and data dirs). The restored member forms a new one-member cluster; add members to it as usual.
status   Print a snapshot's hash, revision, key count and size.

A snapshot is a copy of the etcd store: it holds the cluster's secrets (encrypted at rest only with
--encryption-provider-config, which the restored servers need too). Keep it private.

Flags:
  --etcd-endpoints URL    The etcd member to snapshot (one client URL)
  --etcd-cafile FILE, --etcd-certfile FILE, --etcd-keyfile FILE   TLS to etcd
  -o, --output FILE       save: where to write the snapshot
  -f, --file FILE         restore, status: the snapshot
  --data-dir DIR          restore: the new etcd data dir
  --name NAME             restore: the member name etcd will run with (default "default", as etcd's)
  --initial-advertise-peer-urls URL  restore: the member's peer URL (default http://localhost:2380)
  --skip-hash-check       restore: accept a db file copied from a data dir (it has no snapshot hash)
  -h, --help              Show this help

Tools: etcdctl (or $ETCDCTL_BIN) for save; etcdutl (or $ETCDUTL_BIN) for restore and status, or
etcdctl where etcdutl is missing (etcd 3.4, as in Debian 12's etcd-client).
`;

/** Where `k8ts etcd-snapshot` writes messages (tests pass their own). */
export interface EtcdSnapshotIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: EtcdSnapshotIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

function have(bin: string): boolean {
  return spawnSync(bin, ['version'], { stdio: 'ignore' }).status === 0;
}

/** The tool for offline snapshot work: etcdutl (3.5+), else etcdctl (3.4 does it itself). */
function offlineTool(): string | undefined {
  const etcdutl = process.env.ETCDUTL_BIN ?? 'etcdutl';
  if (have(etcdutl)) return etcdutl;
  const etcdctl = process.env.ETCDCTL_BIN ?? 'etcdctl';
  return have(etcdctl) ? etcdctl : undefined;
}

/** Run a tool; its output goes to `io` (etcd's tools log to stderr). Resolves to its exit code. */
function run(bin: string, args: string[], io: EtcdSnapshotIO): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, args, { env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => io.out(d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => io.err(d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise(code ?? (signal ? 128 : 1)));
  });
}

/** Run `k8ts etcd-snapshot ARGS`; resolves to the exit code. */
export async function runEtcdSnapshot(args: string[], io: EtcdSnapshotIO = stdio): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
    (sub === undefined ? io.err : io.out)(etcdSnapshotHelp);
    return sub === undefined ? 1 : 0;
  }
  if (sub !== 'save' && sub !== 'restore' && sub !== 'status') {
    io.err(`k8ts etcd-snapshot: unknown subcommand "${sub}" (save, restore or status)\n`);
    return 1;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        'etcd-endpoints': { type: 'string' },
        'etcd-cafile': { type: 'string' },
        'etcd-certfile': { type: 'string' },
        'etcd-keyfile': { type: 'string' },
        output: { type: 'string', short: 'o' },
        file: { type: 'string', short: 'f' },
        'data-dir': { type: 'string' },
        name: { type: 'string', default: 'default' },
        'initial-advertise-peer-urls': { type: 'string', default: 'http://localhost:2380' },
        'skip-hash-check': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    io.err(`k8ts etcd-snapshot ${sub}: ${(e as Error).message}\n`);
    return 1;
  }
  if (values.help) {
    io.out(etcdSnapshotHelp);
    return 0;
  }
  // The end of a tool's log, for an error message.
  let log = '';
  const keep = (s: string) => {
    log = (log + s).slice(-2000);
  };
  const fail = (msg: string) => {
    io.err(`k8ts etcd-snapshot ${sub}: ${msg}\n`);
    return 1;
  };

  if (sub === 'save') {
    const endpoints = (values['etcd-endpoints'] ?? '').split(',').map((e) => e.trim()).filter(Boolean);
    if (endpoints.length !== 1) return fail('--etcd-endpoints: give the one etcd member (client URL) to snapshot');
    if (!values.output) return fail('-o FILE is required (where to write the snapshot)');
    const etcdctl = process.env.ETCDCTL_BIN ?? 'etcdctl';
    if (!have(etcdctl)) return fail(`no '${etcdctl}' binary (install etcd-client, or set ETCDCTL_BIN)`);
    if (!!values['etcd-certfile'] !== !!values['etcd-keyfile']) return fail('--etcd-certfile and --etcd-keyfile go together (the client certificate and its key)');
    for (const f of ['etcd-cafile', 'etcd-certfile', 'etcd-keyfile'] as const) {
      if (values[f] && !existsSync(values[f]!)) return fail(`--${f} ${values[f]}: no such file`);
    }
    const tls: string[] = [];
    if (values['etcd-cafile']) tls.push(`--cacert=${values['etcd-cafile']}`);
    if (values['etcd-certfile']) tls.push(`--cert=${values['etcd-certfile']}`);
    if (values['etcd-keyfile']) tls.push(`--key=${values['etcd-keyfile']}`);
    const out = resolve(values.output);
    // etcdctl 3.4's snapshot save has no deadline: with a TLS mismatch (no or a wrong client
    // certificate) it retries the handshake for ever. A bounded health check first fails fast.
    const probe = await run(etcdctl, [`--endpoints=${endpoints[0]}`, ...tls, '--dial-timeout=5s', '--command-timeout=5s', 'endpoint', 'health'], { out: keep, err: keep });
    if (probe !== 0) return fail(`cannot reach etcd at ${endpoints[0]} (check the URL and the --etcd-cafile, --etcd-certfile and --etcd-keyfile TLS flags): ${log.trim().split('\n').slice(-3).join('\n')}`);
    log = '';
    // etcdctl writes FILE.part and renames it; a failed save leaves no FILE (and no FILE.part).
    const code = await run(etcdctl, [`--endpoints=${endpoints[0]}`, ...tls, 'snapshot', 'save', out], { out: () => {}, err: keep });
    if (code !== 0) {
      rmSync(`${out}.part`, { force: true });
      return fail(`etcdctl snapshot save failed (exit ${code}): ${log.trim()}`);
    }
    io.err(`Snapshot of ${endpoints[0]} saved to ${out}\n`);
    return 0;
  }

  if (!values.file) return fail('-f FILE is required (the snapshot)');
  if (!existsSync(values.file)) return fail(`no snapshot file ${values.file}`);
  const tool = offlineTool();
  if (!tool) return fail('neither etcdutl nor etcdctl is installed (install etcd-client, or set ETCDUTL_BIN or ETCDCTL_BIN)');

  if (sub === 'status') {
    const code = await run(tool, ['snapshot', 'status', values.file, '--write-out=table'], { out: io.out, err: () => {} });
    return code === 0 ? 0 : fail(`${tool} snapshot status failed (exit ${code})`);
  }

  // restore
  const dataDir = values['data-dir'];
  if (!dataDir) return fail('--data-dir NEWDIR is required (the new etcd data dir)');
  const target = resolve(dataDir);
  if (existsSync(target) && readdirSync(target).length > 0) return fail(`${target} is not empty: restore into a new directory`);
  if (!existsSync(dirname(target))) return fail(`the parent directory of ${target} does not exist`);
  if (existsSync(target)) rmSync(target, { recursive: true });
  // Restore beside the target, then rename: a failed restore leaves no half-made data dir.
  const staging = `${target}.restoring-${process.pid}`;
  const name = values.name!;
  const peer = values['initial-advertise-peer-urls']!;
  const restoreArgs = [
    'snapshot', 'restore', resolve(values.file),
    `--data-dir=${staging}`,
    `--name=${name}`,
    `--initial-cluster=${name}=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    ...(values['skip-hash-check'] ? ['--skip-hash-check'] : []),
  ];
  const code = await run(tool, restoreArgs, { out: () => {}, err: keep });
  if (code !== 0) {
    rmSync(staging, { recursive: true, force: true });
    return fail(`${tool} snapshot restore failed (exit ${code}): ${log.trim()}`);
  }
  renameSync(staging, target);
  io.err(
    `Restored ${values.file} into ${target}. Start etcd on it with:\n` +
      `  etcd --name ${name} --data-dir ${target} --initial-advertise-peer-urls ${peer} --listen-peer-urls ${peer} --listen-client-urls URL --advertise-client-urls URL\n`,
  );
  return 0;
}
