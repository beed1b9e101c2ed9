/**
 * A minimal OCI distribution registry for tests: serves the images of an OCI layout archive (as
 * `k8ts images build` writes) read-only on 127.0.0.1, behind HTTP Basic auth: `/v2/`, manifests by
 * tag or digest, blobs by digest, with HEAD and GET. Enough for containerd's CRI to pull.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { scanTar } from '../../src/kubelet/containerd/image-archive.js';

export interface TestRegistry {
  /** `127.0.0.1:PORT`. */
  host: string;
  /** Every request as `METHOD path status`, for assertions. */
  requests: string[];
  close(): Promise<void>;
}

interface Blob {
  offset: number;
  size: number;
}

function readRange(file: string, b: Blob): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(b.size);
    let done = 0;
    while (done < b.size) done += readSync(fd, buf, done, b.size - done, b.offset + done);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/**
 * Serves the images of `archive` (an uncompressed OCI layout tar) as `repository:tag`, with every
 * manifest of its index.json under each tag given (the archive's single image, usually).
 */
export async function startTestRegistry(o: { archive: string; repository: string; tags: string[]; username: string; password: string }): Promise<TestRegistry> {
  const blobs = new Map<string, Blob>();
  let index: Blob | undefined;
  for (const e of scanTar(o.archive)) {
    const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(e.name);
    if (m) blobs.set(`sha256:${m[1]}`, { offset: e.dataOffset, size: e.size });
    if (e.name === 'index.json') index = { offset: e.dataOffset, size: e.size };
  }
  if (!index) throw new Error(`${o.archive} is not an OCI layout (no index.json)`);
  const manifests: { digest: string; mediaType: string }[] = JSON.parse(readRange(o.archive, index).toString('utf8')).manifests;
  if (manifests.length !== 1) throw new Error(`${o.archive}: expected one image, found ${manifests.length}`);
  const manifest = manifests[0];
  const expected = 'Basic ' + Buffer.from(`${o.username}:${o.password}`).toString('base64');
  const requests: string[] = [];

  const fail = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) => {
    const body = JSON.stringify({ errors: [{ code, message }] });
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers }).end(body);
  };
  const handle = (req: IncomingMessage, res: ServerResponse): number => {
    const url = new URL(req.url ?? '/', 'http://registry');
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) return fail(res, 405, 'UNSUPPORTED', 'read-only registry'), 405;
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (req.headers.authorization !== expected) {
      fail(res, 401, 'UNAUTHORIZED', 'authentication required', { 'WWW-Authenticate': 'Basic realm="k8ts-test-registry"' });
      return 401;
    }
    if (url.pathname === '/v2/' || url.pathname === '/v2') return res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 2 }).end(head ? undefined : '{}'), 200;
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m || m[1] !== o.repository) return fail(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry'), 404;
    const [, , kind, ref] = m;
    let digest = ref;
    if (kind === 'manifests' && !ref.startsWith('sha256:')) {
      if (!o.tags.includes(ref)) return fail(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown'), 404;
      digest = manifest.digest;
    }
    const b = blobs.get(digest);
    if (!b) return fail(res, 404, kind === 'manifests' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', `${kind === 'manifests' ? 'manifest' : 'blob'} unknown`), 404;
    const type = kind === 'manifests' ? (digest === manifest.digest ? manifest.mediaType : JSON.parse(readRange(o.archive, b).toString('utf8')).mediaType) : 'application/octet-stream';
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': b.size, 'Docker-Content-Digest': digest });
    res.end(head ? undefined : readRange(o.archive, b));
    return 200;
  };

  const server: Server = createServer((req, res) => {
    try {
      const status = handle(req, res);
      requests.push(`${req.method} ${req.url} ${status}`);
    } catch (e) {
      requests.push(`${req.method} ${req.url} 500`);
      if (!res.headersSent) res.writeHead(500).end(String(e));
    }
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
