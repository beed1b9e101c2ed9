import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { generateCA, issueCertificate } from '../../base/pki.js';
import type { KObject } from '../../client/rest-client.js';
import { decodeHealthCheckResponse, encodeHealthCheckRequest } from './grpc-probe.js';
import { canonicalHeaderKey } from './http-probe.js';
import { expandCommand, goDuration, resolveContainerPort, type ProbeOutcome } from './probe-util.js';
import { runProbe, runProbeWithRetries, type ProbeContext } from './run-probe.js';

const LOCAL = '127.0.0.1';

function port(s: { address(): AddressInfo | string | null }): number {
  return (s.address() as AddressInfo).port;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createTcpServer().listen(0, LOCAL);
  await once(s, 'listening');
  const p = port(s);
  await new Promise((r) => s.close(r));
  return p;
}

function ctx(over: Partial<ProbeContext> = {}): ProbeContext {
  return {
    execSync: async () => ({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 }),
    containerId: 'c1',
    container: { name: 'app', ports: [{ name: 'web', containerPort: 0 }] },
    podIP: LOCAL,
    podDescription: 'web-0_default(uid-1)',
    timeoutSeconds: 1,
    timeoutMs: 5000,
    execGraceMs: 100,
    ...over,
  };
}

function check(got: ProbeOutcome, want: { result: ProbeOutcome['result']; output?: string | RegExp; error?: string | RegExp }): void {
  assert.equal(got.result, want.result, `result (output ${JSON.stringify(got.output)}, error ${got.error})`);
  if (typeof want.output === 'string') assert.equal(got.output, want.output);
  else if (want.output) assert.match(got.output, want.output);
  if (typeof want.error === 'string') assert.equal(got.error, want.error);
  else if (want.error) assert.match(got.error ?? '', want.error);
  else assert.equal(got.error, undefined);
}

describe('httpGet probes', () => {
  let server: Server;
  let tlsServer: Server;
  let httpPort = 0;
  let httpsPort = 0;
  let refused = 0;
  const hangs: ServerResponse[] = [];

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '';
    const echo = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url, headers: req.headers, raw: req.rawHeaders }));
    if (path === '/ok' || path === '/') return res.writeHead(200).end('ok');
    if (path === '/echo' || path.startsWith('/echo?')) return echo();
    if (path === '/fail') return res.writeHead(500).end('boom');
    if (path === '/created') return res.writeHead(201).end();
    if (path === '/notfound') return res.writeHead(404).end();
    if (path === '/redirect-same') return res.writeHead(302, { location: '/ok' }).end();
    if (path === '/redirect-fail') return res.writeHead(301, { location: `http://${LOCAL}:${httpPort}/fail` }).end();
    if (path === '/redirect-echo') return res.writeHead(307, { location: '/echo' }).end();
    if (path === '/redirect-other') return res.writeHead(302, { location: `http://localhost:${httpPort}/ok` }).end('moved away');
    if (path === '/redirect-other-big') return res.writeHead(302, { location: `http://localhost:${httpPort}/ok` }).end('x'.repeat(20_000));
    if (path === '/no-location') return res.writeHead(302).end('where');
    if (path === '/loop') return res.writeHead(302, { location: '/loop' }).end();
    if (path === '/hang') return void hangs.push(res);
    if (path === '/slow-body') {
      res.writeHead(200);
      res.write('partial');
      return void hangs.push(res);
    }
    if (path === '/hangup') return req.socket.destroy();
    res.writeHead(418).end();
  };

  before(async () => {
    server = createHttpServer(handler).listen(0, LOCAL);
    await once(server, 'listening');
    httpPort = port(server);
    const ca = await generateCA('probe-test-ca');
    const leaf = await issueCertificate(ca, { commonName: 'probe-test', ips: ['10.9.9.9'], usage: 'server' });
    tlsServer = createHttpsServer({ cert: leaf.cert, key: leaf.key }, handler).listen(0, LOCAL);
    await once(tlsServer, 'listening');
    httpsPort = port(tlsServer);
    refused = await closedPort();
  });
  after(async () => {
    for (const r of hangs) r.destroy();
    server.closeAllConnections();
    tlsServer.closeAllConnections();
    await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => tlsServer.close(r))]);
  });

  const cases: { name: string; get: () => KObject; container?: () => KObject; timeoutMs?: number; want: () => Parameters<typeof check>[1]; body?: (o: ProbeOutcome) => void }[] = [
    { name: 'A 200 response is a success whose output is the body.', get: () => ({ path: '/ok', port: httpPort }), want: () => ({ result: 'success', output: 'ok' }) },
    { name: 'A 201 response is a success.', get: () => ({ path: '/created', port: httpPort }), want: () => ({ result: 'success' }) },
    { name: 'A 500 response is a failure worded like upstream.', get: () => ({ path: '/fail', port: httpPort }), want: () => ({ result: 'failure', output: 'HTTP probe failed with statuscode: 500' }) },
    { name: 'A 404 response is a failure.', get: () => ({ path: '/notfound', port: httpPort }), want: () => ({ result: 'failure', output: 'HTTP probe failed with statuscode: 404' }) },
    { name: 'A redirect to the same host is followed to its 200.', get: () => ({ path: '/redirect-same', port: httpPort }), want: () => ({ result: 'success', output: 'ok' }) },
    { name: 'A redirect to the same host that ends in a 500 fails.', get: () => ({ path: '/redirect-fail', port: httpPort }), want: () => ({ result: 'failure', output: 'HTTP probe failed with statuscode: 500' }) },
    {
      name: 'A redirect to another hostname is not followed and ends in a warning carrying the body.',
      get: () => ({ path: '/redirect-other', port: httpPort }),
      want: () => ({ result: 'warning', output: 'Probe terminated redirects, Response body: moved away' }),
    },
    {
      name: 'A redirect without a Location header is a warning.',
      get: () => ({ path: '/no-location', port: httpPort }),
      want: () => ({ result: 'warning', output: 'Probe terminated redirects, Response body: where' }),
    },
    {
      name: 'At most 10 KiB of a response body is read.',
      get: () => ({ path: '/redirect-other-big', port: httpPort }),
      want: () => ({ result: 'warning' }),
      body: (o) => assert.equal(o.output, `Probe terminated redirects, Response body: ${'x'.repeat(10 * 1024)}`),
    },
    { name: 'A redirect loop stops after 10 redirects and fails.', get: () => ({ path: '/loop', port: httpPort }), want: () => ({ result: 'failure', output: 'Get "/loop": stopped after 10 redirects' }) },
    {
      name: 'The probe sends kube-probe as User-Agent, accepts everything, and sends httpHeaders with canonical names.',
      get: () => ({ path: '/echo?x=1', port: httpPort, httpHeaders: [{ name: 'x-custom-header', value: 'a' }, { name: 'X-Custom-Header', value: 'b' }] }),
      want: () => ({ result: 'success' }),
      body: (o) => {
        const got = JSON.parse(o.output);
        assert.equal(got.url, '/echo?x=1');
        assert.equal(got.headers['user-agent'], 'kube-probe/1.32');
        assert.equal(got.headers.accept, '*/*');
        assert.equal(got.headers['x-custom-header'], 'a, b');
        assert.ok(got.raw.includes('X-Custom-Header'));
        assert.equal(got.headers['accept-encoding'], undefined);
      },
    },
    {
      name: 'httpHeaders override User-Agent and Host, and an empty Accept removes it.',
      get: () => ({ path: '/echo', port: httpPort, httpHeaders: [{ name: 'User-Agent', value: 'mine' }, { name: 'host', value: 'example.test' }, { name: 'Accept', value: '' }] }),
      want: () => ({ result: 'success' }),
      body: (o) => {
        const got = JSON.parse(o.output);
        assert.equal(got.headers['user-agent'], 'mine');
        assert.equal(got.headers.host, 'example.test');
        assert.equal(got.headers.accept, undefined);
      },
    },
    {
      name: 'A relative redirect keeps the custom Host header and the other headers.',
      get: () => ({ path: '/redirect-echo', port: httpPort, httpHeaders: [{ name: 'Host', value: 'example.test' }, { name: 'X-A', value: '1' }] }),
      want: () => ({ result: 'success' }),
      body: (o) => {
        const got = JSON.parse(o.output);
        assert.equal(got.headers.host, 'example.test');
        assert.equal(got.headers['x-a'], '1');
      },
    },
    {
      name: 'A named port resolves from the container ports.',
      get: () => ({ path: '/ok', port: 'web' }),
      container: () => ({ name: 'app', ports: [{ name: 'web', containerPort: httpPort }] }),
      want: () => ({ result: 'success', output: 'ok' }),
    },
    {
      name: 'An unknown named port is a probe error, not a failure.',
      get: () => ({ path: '/ok', port: 'nope' }),
      want: () => ({ result: 'unknown', output: '', error: 'port "nope" not found' }),
    },
    {
      name: 'The host field replaces the pod IP.',
      get: () => ({ path: '/ok', port: httpPort, host: LOCAL }),
      want: () => ({ result: 'success' }),
    },
    {
      name: 'A refused connection is a failure worded like Go.',
      get: () => ({ path: '/healthz', port: refused }),
      want: () => ({ result: 'failure', output: `Get "http://${LOCAL}:${refused}/healthz": dial tcp ${LOCAL}:${refused}: connect: connection refused` }),
    },
    {
      name: 'An empty path prints without a slash, as Go prints the URL.',
      get: () => ({ port: refused }),
      want: () => ({ result: 'failure', output: `Get "http://${LOCAL}:${refused}": dial tcp ${LOCAL}:${refused}: connect: connection refused` }),
    },
    {
      name: 'No response within the timeout is a failure.',
      get: () => ({ path: '/hang', port: httpPort }),
      timeoutMs: 150,
      want: () => ({ result: 'failure', output: `Get "http://${LOCAL}:${httpPort}/hang": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` }),
    },
    {
      name: 'A body that does not finish within the timeout is a probe error.',
      get: () => ({ path: '/slow-body', port: httpPort }),
      timeoutMs: 600,
      want: () => ({ result: 'failure', error: /while reading body/ }),
    },
    {
      name: 'A server that closes the connection without answering gives EOF.',
      get: () => ({ path: '/hangup', port: httpPort }),
      want: () => ({ result: 'failure', output: `Get "http://${LOCAL}:${httpPort}/hangup": EOF` }),
    },
    {
      name: 'HTTPS does not verify the certificate.',
      get: () => ({ path: '/ok', port: httpsPort, scheme: 'HTTPS' }),
      want: () => ({ result: 'success', output: 'ok' }),
    },
    {
      name: 'HTTPS to a plain HTTP server fails.',
      get: () => ({ path: '/ok', port: httpPort, scheme: 'HTTPS' }),
      want: () => ({ result: 'failure', output: `Get "https://${LOCAL}:${httpPort}/ok": http: server gave HTTP response to HTTPS client` }),
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const container = c.container?.() ?? ctx().container;
      const got = await runProbe({ httpGet: c.get() }, ctx({ container, timeoutMs: c.timeoutMs ?? 5000 }));
      check(got, c.want());
      c.body?.(got);
    });
  }
});

describe('tcpSocket probes', () => {
  let server: ReturnType<typeof createTcpServer>;
  let open = 0;
  let refused = 0;
  before(async () => {
    server = createTcpServer((s) => s.end()).listen(0, LOCAL);
    await once(server, 'listening');
    open = port(server);
    refused = await closedPort();
  });
  after(() => new Promise((r) => server.close(r)));

  const cases: { name: string; tcp: () => KObject; container?: () => KObject; podIP?: string; want: () => Parameters<typeof check>[1] }[] = [
    { name: 'A listening port is a success.', tcp: () => ({ port: open }), want: () => ({ result: 'success', output: '' }) },
    {
      name: 'A refused connection is a failure worded like Go.',
      tcp: () => ({ port: refused }),
      want: () => ({ result: 'failure', output: `dial tcp ${LOCAL}:${refused}: connect: connection refused` }),
    },
    {
      name: 'The host field replaces the pod IP.',
      tcp: () => ({ port: open, host: LOCAL }),
      podIP: '127.0.0.2',
      want: () => ({ result: 'success' }),
    },
    {
      name: 'A named port resolves from the container ports.',
      tcp: () => ({ port: 'svc' }),
      container: () => ({ name: 'app', ports: [{ name: 'svc', containerPort: open }] }),
      want: () => ({ result: 'success' }),
    },
    { name: 'Port 0 is a probe error.', tcp: () => ({ port: 0 }), want: () => ({ result: 'unknown', error: 'invalid port number: 0' }) },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const got = await runProbe({ tcpSocket: c.tcp() }, ctx({ container: c.container?.() ?? ctx().container, podIP: c.podIP ?? LOCAL }));
      check(got, c.want());
    });
  }
});

describe('grpc probes', () => {
  const statuses = new Map<string, string>([
    ['', 'SERVING'],
    ['db', 'NOT_SERVING'],
    ['ok', 'SERVING'],
  ]);
  let server: grpc.Server;
  let bare: grpc.Server;
  let grpcPort = 0;
  let barePort = 0;
  let refused = 0;
  let lastUserAgent = '';

  before(async () => {
    const def = protoLoader.loadSync(fileURLToPath(new URL('./testdata/health.proto', import.meta.url)), { keepCase: true, enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as any;
    server = new grpc.Server();
    server.addService(pkg.grpc.health.v1.Health.service, {
      Check(call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) {
        lastUserAgent = String(call.metadata.get('user-agent')[0] ?? '');
        const s = statuses.get(call.request.service);
        if (call.request.service === 'slow') return void setTimeout(() => cb(null, { status: 'SERVING' }), 3000);
        if (!s) return cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        cb(null, { status: s });
      },
    });
    bare = new grpc.Server();
    const bind = (s: grpc.Server) =>
      new Promise<number>((resolve, reject) => s.bindAsync(`${LOCAL}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    grpcPort = await bind(server);
    barePort = await bind(bare);
    refused = await closedPort();
  });
  after(() => {
    server.forceShutdown();
    bare.forceShutdown();
  });

  const cases: { name: string; grpc: () => KObject; timeoutMs?: number; want: () => Parameters<typeof check>[1] }[] = [
    { name: 'A SERVING server is a success.', grpc: () => ({ port: grpcPort }), want: () => ({ result: 'success', output: 'service healthy' }) },
    { name: 'A SERVING named service is a success.', grpc: () => ({ port: grpcPort, service: 'ok' }), want: () => ({ result: 'success' }) },
    {
      name: 'A NOT_SERVING service is a failure naming the status.',
      grpc: () => ({ port: grpcPort, service: 'db' }),
      want: () => ({ result: 'failure', output: 'service unhealthy (responded with "NOT_SERVING")' }),
    },
    {
      name: 'An unknown service is a failure carrying the rpc error as Go prints it.',
      grpc: () => ({ port: grpcPort, service: 'nope' }),
      want: () => ({ result: 'failure', output: 'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service' }),
    },
    {
      name: 'A server without the health service is a failure saying so.',
      grpc: () => ({ port: barePort }),
      want: () => ({ result: 'failure', output: /^error: this server does not implement the grpc health protocol \(grpc\.health\.v1\.Health\): / }),
    },
    {
      name: 'A health check slower than the timeout is a timeout failure.',
      grpc: () => ({ port: grpcPort, service: 'slow' }),
      timeoutMs: 1000,
      want: () => ({ result: 'failure', output: 'timeout: health rpc did not complete within 1s' }),
    },
    {
      name: 'Nothing listening is a failure to connect within the timeout.',
      grpc: () => ({ port: refused }),
      timeoutMs: 200,
      want: () => ({ result: 'failure', output: `timeout: failed to connect service "${LOCAL}:${refused}" within 200ms: context deadline exceeded` }),
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const got = await runProbe({ grpc: c.grpc() }, ctx({ timeoutMs: c.timeoutMs ?? 5000 }));
      check(got, c.want());
    });
  }

  it('The health check is sent with the kube-probe user agent.', async () => {
    await runProbe({ grpc: { port: grpcPort } }, ctx());
    assert.match(lastUserAgent, /^kube-probe\/1\.32/);
  });
});

describe('exec probes', () => {
  const out = (s: string) => Buffer.from(s);
  const cases: {
    name: string;
    exec: (id: string, cmd: string[], t: number) => Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }>;
    command?: string[];
    env?: KObject[];
    want: Parameters<typeof check>[1];
    calls?: number;
  }[] = [
    { name: 'Exit code 0 is a success with the output.', exec: async () => ({ stdout: out('fine'), stderr: out(''), exitCode: 0 }), want: { result: 'success', output: 'fine' } },
    {
      name: 'A non-zero exit code is a failure whose output is stdout then stderr.',
      exec: async () => ({ stdout: out('out;'), stderr: out('err'), exitCode: 1 }),
      want: { result: 'failure', output: 'out;err' },
    },
    {
      name: 'At most 10 KiB of output is kept.',
      exec: async () => ({ stdout: out('y'.repeat(20_000)), stderr: out(''), exitCode: 2 }),
      want: { result: 'failure', output: 'y'.repeat(10 * 1024) },
    },
    {
      name: 'A runtime DEADLINE_EXCEEDED is a timeout failure.',
      exec: async () => {
        throw Object.assign(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'), { code: 4 });
      },
      command: ['sh', '-c', 'sleep 5'],
      want: { result: 'failure', output: 'command "sh -c sleep 5" timed out' },
    },
    {
      name: 'A runtime that never answers is a timeout failure after the timeout and grace.',
      exec: () => new Promise(() => {}),
      command: ['true'],
      want: { result: 'failure', output: 'command "true" timed out' },
    },
    {
      name: 'Any other runtime error is a probe error, retried three times.',
      exec: async () => {
        throw new Error('rpc error: container not found');
      },
      want: { result: 'unknown', output: '', error: 'rpc error: container not found' },
      calls: 3,
    },
    {
      name: 'The command expands $(VAR) from literal env values, keeps unknown names and honours $$.',
      exec: async (_id, cmd) => ({ stdout: out(JSON.stringify(cmd)), stderr: out(''), exitCode: 0 }),
      command: ['echo', '$(GREETING) $(MISSING) $$(GREETING) $(FROM)', '$('],
      env: [{ name: 'GREETING', value: 'hi' }, { name: 'FROM', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
      want: { result: 'success', output: JSON.stringify(['echo', 'hi $(MISSING) $(GREETING) ', '$(']) },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      let calls = 0;
      const seen: unknown[] = [];
      const execSync = (id: string, cmd: string[], t: number) => {
        calls++;
        seen.push([id, t]);
        return c.exec(id, cmd, t);
      };
      const got = await runProbeWithRetries(
        { exec: { command: c.command ?? ['check'] } },
        ctx({ execSync, container: { name: 'app', env: c.env }, timeoutSeconds: 7, timeoutMs: 50, execGraceMs: 20 }),
      );
      check(got, c.want);
      assert.equal(calls, c.calls ?? 1);
      assert.deepEqual(seen[0], ['c1', 7]);
    });
  }
});

describe('probe plumbing', () => {
  it('A probe without a handler is a probe error naming the pod and container.', async () => {
    check(await runProbe({ periodSeconds: 1 }, ctx()), { result: 'unknown', error: 'missing probe handler for web-0_default(uid-1):app' });
  });

  const ports: { name: string; port: unknown; want: number | string }[] = [
    { name: 'A number is the port.', port: 8080, want: 8080 },
    { name: 'A name resolves to the containerPort.', port: 'web', want: 9090 },
    { name: 'A numeric string is a name, as upstream.', port: '9090', want: 'port "9090" not found' },
    { name: 'Port 65536 is invalid.', port: 65536, want: 'invalid port number: 65536' },
  ];
  for (const c of ports) {
    it(c.name, () => {
      const container = { name: 'app', ports: [{ name: 'web', containerPort: 9090 }] };
      if (typeof c.want === 'number') assert.equal(resolveContainerPort(c.port, container), c.want);
      else assert.throws(() => resolveContainerPort(c.port, container), { message: c.want });
    });
  }

  const durations: [number, string][] = [
    [1000, '1s'],
    [200, '200ms'],
    [1500, '1.5s'],
    [90_000, '1m30s'],
    [3_600_000, '1h0m0s'],
  ];
  for (const [ms, want] of durations) it(`${ms} ms prints as ${want}, as Go prints durations.`, () => assert.equal(goDuration(ms), want));

  it('Header names are canonicalised as Go does.', () => {
    assert.equal(canonicalHeaderKey('x-custom-HEADER'), 'X-Custom-Header');
    assert.equal(canonicalHeaderKey('bad header'), 'bad header');
  });

  it('Health messages encode and decode as protobuf.', () => {
    assert.deepEqual([...encodeHealthCheckRequest('db')], [0x0a, 2, 0x64, 0x62]);
    assert.equal(encodeHealthCheckRequest('').length, 0);
    // An unknown length-delimited field 2 is skipped.
    assert.deepEqual(decodeHealthCheckResponse(Buffer.from([0x12, 1, 0x41, 0x08, 2])), { status: 2 });
  });

  it('Command expansion leaves a lone trailing $ alone.', () => {
    assert.deepEqual(expandCommand(['a$', '$x'], []), ['a$', '$x']);
  });
});
