/**
 * `k8ts datastore export|import`: dump a cluster's store (SQLite data dir or etcd) to a portable
 * JSON-lines file and load it into another store, to move between SQLite and etcd.
 */
import { createReadStream, createWriteStream, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Readable } from 'node:stream';

export const datastoreHelp = `Export a k8ts cluster's store to a file, or import one, to move between SQLite and etcd.

Usage:
  k8ts datastore export [--data-dir DIR | --storage etcd --etcd-endpoints URLS] [-o FILE]
  k8ts datastore import [--data-dir DIR | --storage etcd --etcd-endpoints URLS] -f FILE [--overwrite] [--force]

export   Write every key and value of the store as JSON lines (a header line, then one line per key),
         read at one revision. Default output: standard output. The file holds the cluster's secrets:
         keep it private (it is written with mode 0600).
import   Load a dump into a store. The store must be empty unless --overwrite, which replaces its
         contents with the dump (keys not in the dump are deleted). A dump file is checked whole
         before anything is written.

A SQLite data dir must not be in use: stop its server first (a running one is detected and refused).
Import also refuses a store that a k8ts server is using: every running server keeps an API server
lease there (kube-system/apiserver-..., renewed every 5 s, expiring 15 s later, deleted when it stops).
After a server died without stopping, wait for its lease to expire, or pass --force.

Values are copied as stored: secrets encrypted at rest stay encrypted, so the server on the target
must run with the same --encryption-provider-config. Revisions are not copied (they belong to one
store): every object's resourceVersion changes, so clients must relist (restart agents and tools).

Move a cluster from SQLite to etcd (the reverse works the same way):
  1. stop the server
  2. k8ts datastore export --data-dir DIR -o dump.jsonl
  3. k8ts datastore import --storage etcd --etcd-endpoints URLS -f dump.jsonl
  4. k8ts server --data-dir DIR --storage etcd --etcd-endpoints URLS
     (the same data dir keeps the certificates, kubeconfig and join token)

Flags:
  --data-dir DIR          A server's data dir; its store is DIR/db/state.db
                          (default: /var/lib/k8ts as root, else ~/.k8ts)
  --storage KIND          sqlite (default) or etcd
  --etcd-endpoints URLS   Comma-separated etcd client URLs (with --storage etcd)
  --etcd-prefix PREFIX    Key prefix in etcd, as given to the server (default none)
  --etcd-cafile FILE, --etcd-certfile FILE, --etcd-keyfile FILE   TLS to etcd
  -o, --output FILE       export: where to write (default -, standard output)
  -f, --file FILE         import: the dump to read (- for standard input, then not checked first)
  --overwrite             import: replace the contents of a store that is not empty
  --force                 import: even though a k8ts server seems to use the store (a live API server lease)
  -q, --quiet             No progress lines
  -h, --help              Show this help
`;

/** Where `k8ts datastore` writes messages (tests pass their own). */
export interface DatastoreIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: DatastoreIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** Progress on stderr, at most about once a second, and the last one always. */
function progress(io: DatastoreIO, verb: string, quiet: boolean): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    if (quiet || (done === 0 && total > 0)) return;
    const now = Date.now();
    if (done < total && now - last < 1000) return;
    last = now;
    io.err(`${verb} ${done}/${total} keys\n`);
  };
}

/** Run `k8ts datastore ARGS`; resolves to the exit code. */
export async function runDatastore(args: string[], io: DatastoreIO = stdio): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
    (sub === undefined ? io.err : io.out)(datastoreHelp);
    return sub === undefined ? 1 : 0;
  }
  if (sub !== 'export' && sub !== 'import') {
    io.err(`k8ts datastore: unknown subcommand "${sub}" (export or import)\n`);
    return 1;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        'data-dir': { type: 'string' },
        storage: { type: 'string', default: 'sqlite' },
        'etcd-endpoints': { type: 'string' },
        'etcd-prefix': { type: 'string' },
        'etcd-cafile': { type: 'string' },
        'etcd-certfile': { type: 'string' },
        'etcd-keyfile': { type: 'string' },
        output: { type: 'string', short: 'o', default: '-' },
        file: { type: 'string', short: 'f' },
        overwrite: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    io.err(`k8ts datastore ${sub}: ${(e as Error).message}\n`);
    return 1;
  }
  if (values.help) {
    io.out(datastoreHelp);
    return 0;
  }
  const { exportDatastore, importDatastore, checkDump, openDatastore, etcdTLSFromFiles } = await import('../app/datastore.js');
  let target: import('../app/datastore.js').DatastoreTarget;
  let where: string;
  if (values.storage === 'etcd') {
    if (!values['etcd-endpoints']) {
      io.err('k8ts datastore: --storage etcd needs --etcd-endpoints URL[,URL...]\n');
      return 1;
    }
    if (values['data-dir']) {
      io.err('k8ts datastore: give either --data-dir (SQLite) or --storage etcd, not both\n');
      return 1;
    }
    let tls;
    try {
      tls = etcdTLSFromFiles({ cafile: values['etcd-cafile'], certfile: values['etcd-certfile'], keyfile: values['etcd-keyfile'] });
    } catch (e) {
      io.err(`k8ts datastore ${sub}: ${(e as Error).message}\n`);
      return 1;
    }
    const endpoints = values['etcd-endpoints'].split(',').map((e) => e.trim()).filter(Boolean);
    target = { kind: 'etcd', endpoints, prefix: values['etcd-prefix'], tls };
    where = `etcd ${endpoints.join(',')}${values['etcd-prefix'] ? ` (prefix ${values['etcd-prefix']})` : ''}`;
  } else if (values.storage === 'sqlite') {
    const dataDir = values['data-dir'] ?? (process.getuid?.() === 0 ? '/var/lib/k8ts' : join(homedir(), '.k8ts'));
    const path = join(dataDir, 'db', 'state.db');
    target = { kind: 'sqlite', path, create: sub === 'import' };
    where = path;
  } else {
    io.err(`k8ts datastore: --storage: unknown store "${values.storage}" (sqlite or etcd)\n`);
    return 1;
  }

  if (sub === 'import') {
    const file = values.file;
    if (!file) {
      io.err('k8ts datastore import: -f FILE is required (the dump to load; - for standard input)\n');
      return 1;
    }
    try {
      // A file is read twice: checked whole first, so a bad dump writes nothing.
      if (file !== '-') await checkDump(createReadStream(file));
      const backend = await openDatastore(target);
      try {
        const input: Readable = file === '-' ? process.stdin : createReadStream(file);
        const r = await importDatastore(backend, input, { overwrite: values.overwrite, force: values.force, onProgress: progress(io, 'imported', values.quiet) });
        const extra = values.overwrite ? ` (${r.replaced} replaced, ${r.deleted} deleted)` : '';
        io.err(`Imported ${r.keys} keys into ${where}${extra}\n`);
      } finally {
        await backend.close();
      }
      return 0;
    } catch (e) {
      io.err(`k8ts datastore import: ${(e as Error).message}\n`);
      return 1;
    }
  }

  // export
  const outFile = values.output;
  const tmp = outFile === '-' ? undefined : `${outFile}.tmp-${process.pid}`;
  try {
    const backend = await openDatastore(target);
    try {
      const out = tmp ? createWriteStream(tmp, { mode: 0o600 }) : process.stdout;
      const r = await exportDatastore(backend, out, { source: target.kind, onProgress: progress(io, 'exported', values.quiet) });
      if (tmp) {
        await new Promise<void>((resolve, reject) => {
          out.once('error', reject);
          out.end(() => resolve());
        });
        // Only a complete dump takes the file's name.
        renameSync(tmp, outFile);
      }
      io.err(`Exported ${r.keys} keys (revision ${r.revision}) from ${where}${tmp ? ` to ${outFile}` : ''}\n`);
    } finally {
      await backend.close();
    }
    return 0;
  } catch (e) {
    if (tmp) rmSync(tmp, { force: true });
    io.err(`k8ts datastore export: ${(e as Error).message}\n`);
    return 1;
  }
}
