import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errors } from '../../api/errors.js';
import { SqliteBackend } from '../../storage/sqlite/sqlite-backend.js';
import { APIServer } from '../apiserver.js';
import type { UserInfo } from '../auth/authenticator.js';
import { parseRequestInfo } from '../endpoints/request-info.js';
import { builtinStrategies } from '../registry/index.js';
import { createAuditSink, formatMicroTime, parseAuditPolicy, sourceIPs, type AuditEvent } from './index.js';

function fakeRequest(method: string, url: string, headers: Record<string, string> = {}, remoteAddress = '::ffff:10.0.0.7'): IncomingMessage {
  return { method, url, headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}
const alice: UserInfo = { username: 'alice', uid: 'u-1', groups: ['dev', 'system:authenticated'], extra: { scopes: ['a'] } };

async function readEvents(path: string): Promise<AuditEvent[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as AuditEvent);
}

describe('audit events', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'k8ts-audit-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const policy = parseAuditPolicy(`apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    users: [nobody]
  - level: RequestResponse
    resources: [{group: "", resources: [configmaps]}]
    omitManagedFields: true
  - level: Metadata
    resources: [{group: "", resources: [secrets]}]
  - level: Request
    omitStages: [RequestReceived]
`);

  it('A create at RequestResponse level writes RequestReceived and ResponseComplete lines with upstream’s fields.', async () => {
    const logPath = join(dir, 'create.log');
    let t = Date.UTC(2026, 10, 26, 4, 40, 0) * 1000 + 123456;
    const sink = createAuditSink({ policy, logPath, nowMicros: () => (t += 1000) });
    const url = '/api/v1/namespaces/default/configmaps?fieldManager=kubectl';
    const req = fakeRequest('POST', url, { 'user-agent': 'kubectl/v1.32.0', 'audit-id': 'f1d2a3b4-0000-4000-8000-000000000001', 'x-forwarded-for': '192.0.2.1, 198.51.100.2' });
    const info = parseRequestInfo('POST', '/api/v1/namespaces/default/configmaps', new URLSearchParams('fieldManager=kubectl'));
    const rec = sink.begin({ req, info, user: alice, impersonatedUser: { username: 'bob', groups: ['system:authenticated'] } })!;
    assert.ok(rec);
    const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', managedFields: [{ manager: 'kubectl' }] }, data: { a: 'b' } };
    rec.requestObject?.(body);
    body.data.a = 'mutated later by the server';
    rec.annotate('authorization.k8s.io/decision', 'allow');
    rec.annotate('authorization.k8s.io/decision', 'second writer loses');
    rec.responseObject?.({ kind: 'ConfigMap', metadata: { name: 'cfg', uid: 'x' } });
    rec.end(201);
    rec.end(201); // a second end (finish after close) writes nothing
    await sink.close();

    const events = await readEvents(logPath);
    assert.deepEqual(
      events.map((e) => e.stage),
      ['RequestReceived', 'ResponseComplete'],
    );
    const [received, complete] = events as [AuditEvent, AuditEvent];
    const common = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'RequestResponse',
      auditID: 'f1d2a3b4-0000-4000-8000-000000000001',
      requestURI: url,
      verb: 'create',
      user: { username: 'alice', uid: 'u-1', groups: ['dev', 'system:authenticated'], extra: { scopes: ['a'] } },
      impersonatedUser: { username: 'bob', groups: ['system:authenticated'] },
      sourceIPs: ['192.0.2.1', '198.51.100.2', '10.0.0.7'],
      userAgent: 'kubectl/v1.32.0',
      requestReceivedTimestamp: '2026-11-26T04:40:00.124456Z',
    };
    assert.deepEqual(received, { ...common, stage: 'RequestReceived', objectRef: { resource: 'configmaps', namespace: 'default', apiVersion: 'v1' }, stageTimestamp: '2026-11-26T04:40:00.124456Z' });
    assert.deepEqual(complete, {
      ...common,
      stage: 'ResponseComplete',
      objectRef: { resource: 'configmaps', namespace: 'default', name: 'cfg', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 201 },
      requestObject: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: 'b' } },
      responseObject: { kind: 'ConfigMap', metadata: { name: 'cfg', uid: 'x' } },
      stageTimestamp: '2026-11-26T04:40:00.125456Z',
      annotations: { 'authorization.k8s.io/decision': 'allow' },
    });
  });

  it('A failure at Metadata level carries the Status but no request object, and a fresh audit ID.', async () => {
    const logPath = join(dir, 'fail.log');
    const sink = createAuditSink({ policy, logPath });
    const info = parseRequestInfo('PUT', '/api/v1/namespaces/prod/secrets/db', new URLSearchParams());
    const rec = sink.begin({ req: fakeRequest('PUT', '/api/v1/namespaces/prod/secrets/db'), info, user: alice })!;
    rec.requestObject?.({ metadata: { name: 'db' }, data: { password: 'c2VjcmV0' } });
    const st = errors.notFound({ group: '', resource: 'secrets' }, 'db').status;
    rec.end(404, st);
    await sink.close();
    const [a, b] = await readEvents(logPath);
    assert.equal(a!.stage, 'RequestReceived');
    assert.match(a!.auditID, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(b!.auditID, a!.auditID);
    assert.equal(b!.level, 'Metadata');
    assert.equal(b!.requestObject, undefined);
    assert.equal(JSON.stringify(b).includes('c2VjcmV0'), false);
    assert.deepEqual(b!.responseStatus, { metadata: {}, status: 'Failure', message: st.message, reason: 'NotFound', details: st.details, code: 404 });
    assert.equal(b!.impersonatedUser, undefined);
    assert.deepEqual(b!.sourceIPs, ['10.0.0.7']);
    assert.match(b!.stageTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('Omitted stages are not written, non-resource requests carry no objectRef, and level None records nothing.', async () => {
    const logPath = join(dir, 'omit.log');
    const sink = createAuditSink({ policy, logPath });
    const info = parseRequestInfo('GET', '/version', new URLSearchParams());
    const rec = sink.begin({ req: fakeRequest('GET', '/version'), info, user: alice })!;
    rec.end(200);
    assert.equal(sink.begin({ req: fakeRequest('GET', '/version'), info, user: { username: 'nobody', groups: [] } }), undefined);
    await sink.close();
    const events = await readEvents(logPath);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.stage, 'ResponseComplete');
    assert.equal(events[0]!.level, 'Request');
    assert.equal(events[0]!.verb, 'get');
    assert.equal(events[0]!.objectRef, undefined);
    assert.deepEqual(events[0]!.responseStatus, { metadata: {}, code: 200 });
  });

  it('Source IPs follow X-Forwarded-For, then X-Real-Ip, then the peer unless it repeats.', () => {
    const cases: [Record<string, string>, string, string[]][] = [
      [{}, '127.0.0.1', ['127.0.0.1']],
      [{ 'x-forwarded-for': '1.1.1.1,2.2.2.2' }, '2.2.2.2', ['1.1.1.1', '2.2.2.2']],
      [{ 'x-real-ip': '3.3.3.3' }, '::1', ['3.3.3.3', '::1']],
      [{ 'x-forwarded-for': '3.3.3.3', 'x-real-ip': '3.3.3.3' }, '4.4.4.4', ['3.3.3.3', '4.4.4.4']],
      [{ 'x-forwarded-for': 'not-an-ip, 5.5.5.5' }, '::ffff:6.6.6.6', ['5.5.5.5', '6.6.6.6']],
    ];
    for (const [headers, peer, want] of cases) assert.deepEqual(sourceIPs(fakeRequest('GET', '/', headers, peer)), want);
  });

  it('MicroTime is RFC 3339 in UTC with six fractional digits.', () => {
    assert.equal(formatMicroTime(Date.UTC(2026, 10, 26, 4, 40, 0) * 1000 + 123456), '2026-11-26T04:40:00.123456Z');
    assert.equal(formatMicroTime(Date.UTC(2026, 0, 1) * 1000 + 7), '2026-01-01T00:00:00.000007Z');
  });

  it('A sink without a policy, or with a log it cannot open, is refused at startup.', () => {
    assert.throws(() => createAuditSink({ logPath: join(dir, 'x.log') }), /policy .*is required/);
    assert.throws(() => createAuditSink({ policy, logPath: join(dir, 'no-such-dir', 'audit.log') }), /ENOENT/);
  });

  it('Objects that cannot be serialized are left out instead of failing the request.', async () => {
    const logPath = join(dir, 'cyclic.log');
    const sink = createAuditSink({ policy, logPath });
    const info = parseRequestInfo('POST', '/api/v1/namespaces/a/configmaps', new URLSearchParams());
    const rec = sink.begin({ req: fakeRequest('POST', '/'), info, user: alice })!;
    const cyclic: Record<string, unknown> = { metadata: { name: 'loop' } };
    cyclic.self = cyclic;
    rec.requestObject?.(cyclic);
    rec.end(201);
    await sink.close();
    const events = await readEvents(logPath);
    assert.equal(events.length, 2);
    assert.equal(events[1]!.objectRef?.name, 'loop');
    assert.equal(events[1]!.requestObject, undefined);
  });
});

describe('audit log from a running API server', () => {
  let dir: string;
  let server: Server;
  let base: string;
  let sink: ReturnType<typeof createAuditSink>;
  let backend: SqliteBackend;
  const admin: UserInfo = { username: 'admin', groups: ['system:masters', 'system:authenticated'] };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'k8ts-audit-srv-'));
    sink = createAuditSink({
      logPath: join(dir, 'audit.log'),
      policy: parseAuditPolicy(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    nonResourceURLs: ["/api", "/apis*"]
  - level: RequestResponse
    resources: [{group: "", resources: [configmaps]}]
  - level: Metadata
`),
    });
    backend = SqliteBackend.open({ path: ':memory:' });
    const apiserver = new APIServer({
      backend,
      strategies: builtinStrategies({ serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 32767] }),
      authenticator: { authenticate: (req) => (req.headers.authorization === 'Bearer admin' ? admin : undefined) },
      externalAddress: '127.0.0.1:0',
      audit: sink,
    });
    server = createServer(apiserver.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await sink.close();
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('Requests served over HTTP produce one ResponseComplete event each, with objects, codes and the client’s audit ID.', async () => {
    const headers = { authorization: 'Bearer admin', 'content-type': 'application/json', 'user-agent': 'audit-test/1.0' };
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { mode: 'fast' } };
    const created = await fetch(`${base}/api/v1/namespaces/default/configmaps`, { method: 'POST', headers: { ...headers, 'audit-id': 'client-chosen-id' }, body: JSON.stringify(cm) });
    assert.equal(created.status, 201);
    const missing = await fetch(`${base}/api/v1/namespaces/default/secrets/nope`, { headers });
    assert.equal(missing.status, 404);
    assert.equal((await fetch(`${base}/api`, { headers })).status, 200);
    assert.equal((await fetch(`${base}/api/v1/namespaces/default/configmaps/settings`)).status, 401, 'unauthenticated: not audited here');
    await sink.close();

    const events = await readEvents(join(dir, 'audit.log'));
    assert.deepEqual(
      events.map((e) => [e.stage, e.verb, e.objectRef?.resource, e.objectRef?.name, e.responseStatus?.code, e.level]),
      [
        ['ResponseComplete', 'create', 'configmaps', 'settings', 201, 'RequestResponse'],
        ['ResponseComplete', 'get', 'secrets', 'nope', 404, 'Metadata'],
      ],
    );
    const [create, get] = events as [AuditEvent, AuditEvent];
    assert.equal(create.auditID, 'client-chosen-id');
    assert.deepEqual(create.requestObject, cm);
    assert.deepEqual(create.user, { username: 'admin', groups: ['system:masters', 'system:authenticated'] });
    assert.deepEqual(create.sourceIPs, ['127.0.0.1']);
    assert.equal(create.userAgent, 'audit-test/1.0');
    assert.equal(get.responseStatus?.reason, 'NotFound');
    assert.ok(Date.parse(create.requestReceivedTimestamp) <= Date.parse(create.stageTimestamp));
  });
});
