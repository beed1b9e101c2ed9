import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { setLogLevel } from '../../base/log.js';
import { issueCertificate } from '../../base/pki.js';
import { SharedInformerFactory } from '../../client/informer.js';
import { EventRecorder } from '../../client/event-recorder.js';
import { RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { CSRApprovingController } from '../../controllers/certificates/csr-approver.js';
import { CSRSigningController } from '../../controllers/certificates/csr-signer.js';
import { startCSRTestServer, type CSRTestServer } from '../../controllers/certificates/testdata/csr-server.js';
import { bootstrapComponentCredentials, bootstrapNodeCredentials, usableCredentials } from './bootstrap.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');

describe('kubelet TLS bootstrap against a real API server with the approver and signer', () => {
  let server: CSRTestServer;
  let token: RestClient;
  let informers: SharedInformerFactory;
  let approver: CSRApprovingController;
  let signer: CSRSigningController;
  const dirs: string[] = [];
  const newDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'k8ts-bootstrap-'));
    dirs.push(d);
    return join(d, 'pki');
  };
  const csrCount = async () => (await server.admin.list(resources.certificatesigningrequests, undefined)).items.length;

  before(async () => {
    server = await startCSRTestServer();
    token = new RestClient({ server: server.url, ca: server.ca.cert, token: server.bootstrapToken, userAgent: 'kubelet-bootstrap' });
    informers = new SharedInformerFactory(server.admin);
    const ctx = { client: server.admin, informers, recorder: (c: string) => new EventRecorder(server.admin, { component: c }) };
    approver = new CSRApprovingController();
    signer = new CSRSigningController({ ca: server.ca });
    await approver.start(ctx);
    await signer.start(ctx);
  });
  after(async () => {
    await approver?.stop();
    await signer?.stop();
    await informers?.shutdown();
    token?.close();
    await server?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('a node without credentials gets a client certificate for system:node:<name>, saved with a private key file of mode 0600', async () => {
    const dir = newDir();
    const got = await bootstrapNodeCredentials({ client: token, nodeName: 'worker-1', dir, timeoutMs: 20_000 });
    const cert = new X509Certificate(got.cert);
    assert.deepEqual(cert.subject.split('\n').sort(), ['CN=system:node:worker-1', 'O=system:nodes']);
    assert.ok(cert.verify(new X509Certificate(server.ca.cert).publicKey));
    assert.equal(statSync(join(dir, 'kubelet-client.key')).mode & 0o777, 0o600);
    assert.ok(existsSync(join(dir, 'kubelet-client.crt')));
    assert.ok(!existsSync(join(dir, 'kubelet-client.key.pending')), 'the pending key is gone once saved');
    // The new identity works against the API server.
    const node = new RestClient({ server: server.url, ca: server.ca.cert, cert: got.cert, key: got.key });
    try {
      const csrs = await node.list(resources.certificatesigningrequests, undefined);
      assert.ok(csrs.items.some((c: any) => c.spec.username === 'system:bootstrap:abcdef'));
    } finally {
      node.close();
    }
  });

  test('a joining node gets kube-proxy and cluster DNS client certificates of their own', async () => {
    const dir = newDir();
    for (const cn of ['system:kube-proxy', 'system:k8ts-dns'] as const) {
      const got = await bootstrapComponentCredentials({ client: token, commonName: cn, dir, timeoutMs: 20_000 });
      const cert = new X509Certificate(got.cert);
      assert.deepEqual(cert.subject.split('\n'), [`CN=${cn}`]);
      assert.ok(cert.verify(new X509Certificate(server.ca.cert).publicKey));
    }
    assert.ok(existsSync(join(dir, 'kube-proxy.crt')) && existsSync(join(dir, 'k8ts-dns.key')));
  });

  test('credentials still valid are reused without a new request', async () => {
    const dir = newDir();
    const first = await bootstrapNodeCredentials({ client: token, nodeName: 'worker-2', dir, timeoutMs: 20_000 });
    const before = await csrCount();
    const second = await bootstrapNodeCredentials({ client: token, nodeName: 'worker-2', dir, timeoutMs: 20_000 });
    assert.equal(second.cert, first.cert);
    assert.equal(second.key, first.key);
    assert.equal(await csrCount(), before);
  });

  const replaced: { name: string; write: (dir: string) => Promise<void> }[] = [
    {
      name: 'a certificate with less than a fifth of its lifetime left',
      write: async (dir) => {
        // About 70 s of life, issued a minute ago: under a fifth remains.
        const kp = await issueCertificate(server.ca, { commonName: 'system:node:worker-3', organizations: ['system:nodes'], usage: 'client', validDays: 0.0008 });
        writeFileSync(join(dir, 'kubelet-client.crt'), kp.cert);
        writeFileSync(join(dir, 'kubelet-client.key'), kp.key);
      },
    },
    {
      name: 'a certificate for another node',
      write: async (dir) => {
        const kp = await issueCertificate(server.ca, { commonName: 'system:node:other', organizations: ['system:nodes'], usage: 'client' });
        writeFileSync(join(dir, 'kubelet-client.crt'), kp.cert);
        writeFileSync(join(dir, 'kubelet-client.key'), kp.key);
      },
    },
    {
      name: 'a certificate whose key file holds another key',
      write: async (dir) => {
        const a = await issueCertificate(server.ca, { commonName: 'system:node:worker-3', organizations: ['system:nodes'], usage: 'client' });
        const b = await issueCertificate(server.ca, { commonName: 'system:node:worker-3', organizations: ['system:nodes'], usage: 'client' });
        writeFileSync(join(dir, 'kubelet-client.crt'), a.cert);
        writeFileSync(join(dir, 'kubelet-client.key'), b.key);
      },
    },
  ];
  for (const c of replaced) {
    test(`${c.name} is replaced through a new request`, async () => {
      const dir = newDir();
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dir, { recursive: true });
      await c.write(dir);
      const before = await csrCount();
      const got = await bootstrapNodeCredentials({ client: token, nodeName: 'worker-3', dir, timeoutMs: 20_000 });
      assert.equal(await csrCount(), before + 1);
      assert.ok(usableCredentials(got.cert, got.key, 'worker-3'));
    });
  }

  test('a denied request is reported as an error', async () => {
    const dir = newDir();
    await approver.stop();
    try {
      const p = bootstrapNodeCredentials({ client: token, nodeName: 'worker-4', dir, timeoutMs: 20_000, pollMs: 20 });
      let csr: any;
      for (let i = 0; i < 500 && !csr; i++) {
        const items = (await server.admin.list(resources.certificatesigningrequests, undefined)).items;
        csr = items.find((x: any) => Buffer.from(x.spec.request, 'base64').length && !x.status?.conditions && x.metadata.name.startsWith('node-csr-') && !x.status?.certificate);
        if (!csr) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(csr, 'the request was created');
      csr.status = { conditions: [{ type: 'Denied', status: 'True', reason: 'NotToday', message: 'no' }] };
      await server.admin.update(resources.certificatesigningrequests, csr, 'approval');
      await assert.rejects(p, /was denied: NotToday no/);
    } finally {
      approver = new CSRApprovingController();
      await approver.start({ client: server.admin, informers, recorder: (c: string) => new EventRecorder(server.admin, { component: c }) });
    }
  });

  test('no answer within the timeout is reported as an error, and a retry reuses the pending request', async () => {
    const dir = newDir();
    await approver.stop();
    try {
      const before = await csrCount();
      await assert.rejects(bootstrapNodeCredentials({ client: token, nodeName: 'worker-5', dir, timeoutMs: 200, pollMs: 20 }), /timed out waiting/);
      assert.equal(await csrCount(), before + 1);
      await assert.rejects(bootstrapNodeCredentials({ client: token, nodeName: 'worker-5', dir, timeoutMs: 200, pollMs: 20 }), /timed out waiting/);
      assert.equal(await csrCount(), before + 1, 'the same key names the same request');
    } finally {
      approver = new CSRApprovingController();
      await approver.start({ client: server.admin, informers, recorder: (c: string) => new EventRecorder(server.admin, { component: c }) });
    }
    const got = await bootstrapNodeCredentials({ client: token, nodeName: 'worker-5', dir, timeoutMs: 20_000 });
    assert.ok(usableCredentials(got.cert, got.key, 'worker-5'));
  });
});

describe('usableCredentials', () => {
  test('a pair is usable until four fifths of its lifetime have passed', async () => {
    const { generateCA } = await import('../../base/pki.js');
    const ca = await generateCA('t');
    const kp = await issueCertificate(ca, { commonName: 'system:node:a', organizations: ['system:nodes'], usage: 'client', validDays: 10 });
    const c = new X509Certificate(kp.cert);
    const from = new Date(c.validFrom).getTime();
    const to = new Date(c.validTo).getTime();
    const cases: [string, number, boolean][] = [
      ['just issued', from + 1000, true],
      ['at three quarters of its life', from + 0.75 * (to - from), true],
      ['at nine tenths of its life', from + 0.9 * (to - from), false],
      ['after expiry', to + 1000, false],
      ['before it is valid', from - 1000, false],
    ];
    for (const [name, now, want] of cases) assert.equal(usableCredentials(kp.cert, kp.key, 'a', now), want, name);
    assert.equal(usableCredentials(kp.cert, kp.key, 'b'), false, 'another node name');
  });
});
