import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { setLogLevel } from '../../base/log.js';
import { SharedInformerFactory } from '../../client/informer.js';
import { EventRecorder } from '../../client/event-recorder.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { StatusError } from '../../api/errors.js';
import { componentClientProblem, CSRApprovingController } from './csr-approver.js';
import { CSRSigningController } from './csr-signer.js';
import { makeCSR, startCSRTestServer, type CSRTestServer } from './testdata/csr-server.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');
const csrs = resources.certificatesigningrequests;
const kubeletSigner = 'kubernetes.io/kube-apiserver-client-kubelet';

interface Running {
  server: CSRTestServer;
  bootstrap: RestClient;
  stop(): Promise<void>;
}

async function run(o: { sar?: (spec: any) => boolean } = {}): Promise<Running> {
  const server = await startCSRTestServer(o);
  const { RestClient } = await import('../../client/rest-client.js');
  const bootstrap = new RestClient({ server: server.url, ca: server.ca.cert, token: server.bootstrapToken, userAgent: 'bootstrap' });
  const informers = new SharedInformerFactory(server.admin);
  const ctx = { client: server.admin, informers, recorder: (c: string) => new EventRecorder(server.admin, { component: c }) };
  const approver = new CSRApprovingController();
  const signer = new CSRSigningController({ ca: server.ca });
  await approver.start(ctx);
  await signer.start(ctx);
  return {
    server,
    bootstrap,
    async stop() {
      await approver.stop();
      await signer.stop();
      await informers.shutdown();
      bootstrap.close();
      await server.stop();
    },
  };
}

function csrObject(name: string, request: string, signerName: string, usages: string[], extra: KObject = {}): KObject {
  return { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', metadata: { name }, spec: { request, signerName, usages, ...extra } };
}

async function waitFor(c: RestClient, name: string, pred: (o: KObject) => boolean, timeoutMs = 10_000): Promise<KObject> {
  const t0 = Date.now();
  for (;;) {
    const o = await c.get(csrs, '', name);
    if (pred(o)) return o;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${name}: ${JSON.stringify(o.status)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const cond = (o: KObject, t: string) => (o.status?.conditions ?? []).find((c: any) => c.type === t);
const issued = (o: KObject) => !!o.status?.certificate || !!cond(o, 'Failed');
const certOf = (o: KObject) => new X509Certificate(Buffer.from(o.status.certificate, 'base64').toString());

describe('CSR approver and signer against a real API server', () => {
  let r: Running;
  before(async () => {
    r = await run();
  });
  after(async () => {
    await r?.stop();
  });

  test('a kubelet client request from a bootstrap token is approved, issued with its subject and the requested duration, and names its requestor', async () => {
    const req = await makeCSR({ cn: 'system:node:n1', o: ['system:nodes'] });
    await r.bootstrap.create(csrs, undefined, csrObject('boot-n1', req, kubeletSigner, ['digital signature', 'client auth'], { expirationSeconds: 3600, username: 'someone-else', groups: ['system:masters'] }));
    const o = await waitFor(r.server.admin, 'boot-n1', issued);
    assert.equal(o.spec.username, 'system:bootstrap:abcdef', 'the requestor comes from authentication, not the body');
    assert.ok(o.spec.groups.includes('system:bootstrappers'));
    assert.ok(!o.spec.groups.includes('system:masters'));
    assert.equal(cond(o, 'Approved')?.reason, 'AutoApproved');
    assert.match(cond(o, 'Approved')?.message, /^Auto approving kubelet client certificate/);
    const cert = certOf(o);
    assert.match(cert.subject, /CN=system:node:n1/);
    assert.match(cert.subject, /O=system:nodes/);
    assert.ok(cert.verify(new X509Certificate(r.server.ca.cert).publicKey), 'signed by the cluster CA');
    const lifetime = (new Date(cert.validTo).getTime() - Date.now()) / 1000;
    assert.ok(lifetime > 3500 && lifetime <= 3600, `expires in about an hour, got ${lifetime}s`);
  });

  test('a node renewing its own client certificate is approved as selfnodeclient', async () => {
    const node = await r.server.clientFor('system:node:n2', ['system:nodes']);
    await node.create(csrs, undefined, csrObject('renew-n2', await makeCSR({ cn: 'system:node:n2', o: ['system:nodes'] }), kubeletSigner, ['digital signature', 'key encipherment', 'client auth']));
    const o = await waitFor(r.server.admin, 'renew-n2', issued);
    assert.match(cond(o, 'Approved')?.message, /^Auto approving self kubelet client certificate/);
    assert.ok(o.status.certificate);
  });

  const refused: { name: string; who: 'bootstrap' | [string, string[]]; cn: string; o: string[]; usages: string[]; dnsNames?: string[] }[] = [
    { name: 'a node asking for another node\'s identity', who: ['system:node:n3', ['system:nodes']], cn: 'system:node:n4', o: ['system:nodes'], usages: ['digital signature', 'client auth'] },
    { name: 'a bootstrap request for a group other than system:nodes', who: 'bootstrap', cn: 'system:node:n5', o: ['system:masters'], usages: ['digital signature', 'client auth'] },
    { name: 'a bootstrap request with server auth usage', who: 'bootstrap', cn: 'system:node:n6', o: ['system:nodes'], usages: ['digital signature', 'server auth', 'client auth'] },
    { name: 'a bootstrap request whose common name is not a node', who: 'bootstrap', cn: 'alice', o: ['system:nodes'], usages: ['digital signature', 'client auth'] },
    { name: 'a bootstrap request with DNS names', who: 'bootstrap', cn: 'system:node:n7', o: ['system:nodes'], usages: ['digital signature', 'client auth'], dnsNames: ['n7'] },
    { name: 'a plain user asking for a node identity', who: ['alice', ['devs']], cn: 'system:node:n8', o: ['system:nodes'], usages: ['digital signature', 'client auth'] },
  ];
  for (const [i, c] of refused.entries()) {
    test(`the approver leaves pending ${c.name}`, async () => {
      const client = c.who === 'bootstrap' ? r.bootstrap : await r.server.clientFor(c.who[0], c.who[1]);
      await client.create(csrs, undefined, csrObject(`refused-${i}`, await makeCSR({ cn: c.cn, o: c.o, dnsNames: c.dnsNames }), kubeletSigner, c.usages));
      // A valid request made afterwards is handled after this one by the single worker.
      await r.bootstrap.create(csrs, undefined, csrObject(`marker-${i}`, await makeCSR({ cn: 'system:node:m', o: ['system:nodes'] }), kubeletSigner, ['digital signature', 'client auth']));
      await waitFor(r.server.admin, `marker-${i}`, issued);
      const o = await r.server.admin.get(csrs, '', `refused-${i}`);
      assert.equal(o.status?.conditions, undefined);
      assert.equal(o.status?.certificate, undefined);
    });
  }

  async function approve(name: string): Promise<void> {
    const o = await r.server.admin.get(csrs, '', name);
    o.status = { conditions: [{ type: 'Approved', status: 'True', reason: 'KubectlApprove', message: 'approved by test' }] };
    await r.server.admin.update(csrs, o, 'approval');
  }

  const signing: { name: string; signer: string; cn: string; o?: string[]; dnsNames?: string[]; ips?: string[]; usages: string[]; want: 'issued' | RegExp }[] = [
    { name: 'a kube-apiserver-client request approved by an admin is issued', signer: 'kubernetes.io/kube-apiserver-client', cn: 'bob', o: ['devs'], usages: ['digital signature', 'client auth'], want: 'issued' },
    { name: 'a kubelet-serving request with an IP address is issued', signer: 'kubernetes.io/kubelet-serving', cn: 'system:node:s1', o: ['system:nodes'], ips: ['10.0.0.5'], dnsNames: ['s1'], usages: ['digital signature', 'server auth'], want: 'issued' },
    { name: 'a kubelet-serving request without any address fails', signer: 'kubernetes.io/kubelet-serving', cn: 'system:node:s2', o: ['system:nodes'], usages: ['digital signature', 'server auth'], want: /DNS or IP subjectAltName is required/ },
    { name: 'a kube-apiserver-client request for server auth fails', signer: 'kubernetes.io/kube-apiserver-client', cn: 'carol', usages: ['digital signature', 'server auth'], want: /invalid usage for client certificate: server auth/ },
    { name: 'a kubelet client request for a non-node subject fails even when approved', signer: kubeletSigner, cn: 'mallory', o: ['system:nodes'], usages: ['digital signature', 'client auth'], want: /does not begin with system:node:/ },
  ];
  for (const [i, c] of signing.entries()) {
    test(`the signer: ${c.name}`, async () => {
      await r.server.admin.create(csrs, undefined, csrObject(`sign-${i}`, await makeCSR({ cn: c.cn, o: c.o, dnsNames: c.dnsNames, ips: c.ips }), c.signer, c.usages));
      await approve(`sign-${i}`);
      const o = await waitFor(r.server.admin, `sign-${i}`, issued);
      if (c.want === 'issued') {
        assert.ok(o.status.certificate, 'has a certificate');
        assert.equal(cond(o, 'Failed'), undefined);
        const cert = certOf(o);
        assert.match(cert.subject, new RegExp(`CN=${c.cn}`));
        if (c.ips) assert.match(cert.subjectAltName ?? '', new RegExp(`IP Address:${c.ips[0]}`));
      } else {
        assert.equal(o.status.certificate, undefined);
        assert.equal(cond(o, 'Failed')?.reason, 'SignerValidationFailure');
        assert.match(cond(o, 'Failed')?.message, c.want);
      }
    });
  }

  test('the signer leaves requests of other signers alone', async () => {
    await r.server.admin.create(csrs, undefined, csrObject('other-signer', await makeCSR({ cn: 'x' }), 'example.com/custom', ['digital signature', 'client auth']));
    await approve('other-signer');
    await r.bootstrap.create(csrs, undefined, csrObject('marker-other', await makeCSR({ cn: 'system:node:m2', o: ['system:nodes'] }), kubeletSigner, ['digital signature', 'client auth']));
    await waitFor(r.server.admin, 'marker-other', issued);
    const o = await r.server.admin.get(csrs, '', 'other-signer');
    assert.equal(o.status.certificate, undefined);
    assert.equal(cond(o, 'Failed'), undefined);
  });
});

describe('CSR approver with SubjectAccessReview', () => {
  test('a bootstrap request is approved only when the SubjectAccessReview for nodeclient allows it', async () => {
    let allow = false;
    const r = await run({ sar: (spec) => spec.user === 'system:bootstrap:abcdef' && spec.resourceAttributes?.subresource === 'nodeclient' && allow });
    try {
      await r.bootstrap.create(csrs, undefined, csrObject('denied', await makeCSR({ cn: 'system:node:d1', o: ['system:nodes'] }), kubeletSigner, ['digital signature', 'client auth']));
      const t0 = Date.now();
      while (!r.server.reviews.length && Date.now() - t0 < 10_000) await new Promise((res) => setTimeout(res, 20));
      assert.deepEqual(r.server.reviews[0].resourceAttributes, { group: 'certificates.k8s.io', version: '*', resource: 'certificatesigningrequests', verb: 'create', subresource: 'nodeclient' });
      assert.ok(r.server.reviews[0].groups.includes('system:bootstrappers'));
      await new Promise((res) => setTimeout(res, 100));
      assert.equal((await r.server.admin.get(csrs, '', 'denied')).status?.conditions, undefined, 'not approved while the review says no');
      allow = true;
      await r.bootstrap.create(csrs, undefined, csrObject('allowed', await makeCSR({ cn: 'system:node:d2', o: ['system:nodes'] }), kubeletSigner, ['digital signature', 'client auth']));
      const o = await waitFor(r.server.admin, 'allowed', issued);
      assert.ok(o.status.certificate);
    } finally {
      await r.stop();
    }
  });

  test('with SubjectAccessReview served, the review and not the requestor\'s groups decides', async () => {
    const r = await run({ sar: (spec) => spec.user === 'alice' && spec.resourceAttributes?.subresource === 'nodeclient' });
    try {
      const alice = await r.server.clientFor('alice', ['ops']);
      await alice.create(csrs, undefined, csrObject('by-alice', await makeCSR({ cn: 'system:node:a1', o: ['system:nodes'] }), kubeletSigner, ['digital signature', 'client auth']));
      const o = await waitFor(r.server.admin, 'by-alice', issued);
      assert.match(cond(o, 'Approved')?.message, /^Auto approving kubelet client certificate/);
      const node = await r.server.clientFor('system:node:a2', ['system:nodes']);
      await node.create(csrs, undefined, csrObject('self-a2', await makeCSR({ cn: 'system:node:a2', o: ['system:nodes'] }), kubeletSigner, ['digital signature', 'client auth']));
      await r.bootstrap.create(csrs, undefined, csrObject('marker-a', await makeCSR({ cn: 'system:node:a3', o: ['system:nodes'] }), kubeletSigner, ['digital signature', 'client auth']));
      const t0 = Date.now();
      while (r.server.reviews.filter((x) => x.user === 'system:bootstrap:abcdef').length === 0 && Date.now() - t0 < 10_000) await new Promise((res) => setTimeout(res, 20));
      assert.equal((await r.server.admin.get(csrs, '', 'self-a2')).status?.conditions, undefined, 'the review refused the node');
      assert.deepEqual(r.server.reviews.filter((x) => x.user === 'system:node:a2').map((x) => x.resourceAttributes.subresource), ['selfnodeclient', 'nodeclient']);
    } finally {
      await r.stop();
    }
  });
});

describe('CertificateSigningRequest API rules', () => {
  let server: CSRTestServer;
  before(async () => {
    server = await startCSRTestServer();
  });
  after(async () => {
    await server?.stop();
  });
  const validReq = () => makeCSR({ cn: 'system:node:v', o: ['system:nodes'] });

  const invalid: { name: string; mutate: (o: KObject) => void; want: RegExp }[] = [
    { name: 'an expirationSeconds below ten minutes', mutate: (o) => (o.spec.expirationSeconds = 599), want: /spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds/ },
    { name: 'a request that is not a PEM CSR', mutate: (o) => (o.spec.request = Buffer.from('hello').toString('base64')), want: /spec.request: Invalid value: "\[omitted\]": PEM block type must be CERTIFICATE REQUEST/ },
    { name: 'a missing signerName', mutate: (o) => delete o.spec.signerName, want: /spec.signerName: Required value/ },
    { name: 'no usages', mutate: (o) => (o.spec.usages = []), want: /spec.usages: Required value: usages must be provided/ },
    { name: 'an unknown usage', mutate: (o) => (o.spec.usages = ['flying']), want: /spec.usages\[0\]: Unsupported value: "flying"/ },
    { name: 'a request whose signature does not verify', mutate: (o) => {
      const pem = Buffer.from(o.spec.request, 'base64').toString();
      const body = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
      const der = Buffer.from(body, 'base64');
      der[der.length - 5] ^= 0xff;
      o.spec.request = Buffer.from(`-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`).toString('base64');
    }, want: /spec.request: Invalid value/ },
  ];
  for (const [i, c] of invalid.entries()) {
    test(`a create with ${c.name} is rejected as invalid`, async () => {
      const o = csrObject(`invalid-${i}`, await validReq(), kubeletSigner, ['digital signature', 'client auth']);
      c.mutate(o);
      await assert.rejects(server.admin.create(csrs, undefined, o), (e: unknown) => e instanceof StatusError && e.code === 422 && c.want.test(e.message));
    });
  }

  test('approval conditions change only through approval, and the certificate only through status', async () => {
    await server.admin.create(csrs, undefined, csrObject('rules', await validReq(), kubeletSigner, ['digital signature', 'client auth']));
    let o = await server.admin.get(csrs, '', 'rules');
    o.status = { conditions: [{ type: 'Approved', status: 'True', reason: 'x' }] };
    o = await server.admin.update(csrs, o);
    assert.equal(o.status?.conditions, undefined, 'a main-resource update keeps the stored status');
    o.status = { conditions: [{ type: 'Approved', status: 'True', reason: 'x' }], certificate: Buffer.from('junk').toString('base64') };
    await assert.rejects(server.admin.update(csrs, o, 'status'), /status.certificate: Invalid value.*must contain at least one CERTIFICATE PEM block/);
    delete o.status.certificate;
    o = await server.admin.update(csrs, o, 'status');
    assert.equal(o.status?.conditions, undefined, 'status cannot approve');
    o.status = { conditions: [{ type: 'Approved', status: 'True', reason: 'x' }, { type: 'Denied', status: 'True', reason: 'y' }] };
    await assert.rejects(server.admin.update(csrs, o, 'approval'), /Approved and Denied conditions are mutually exclusive/);
    o.status = { conditions: [{ type: 'Approved', status: 'True', reason: 'x' }], certificate: 'ignored' };
    o = await server.admin.update(csrs, o, 'approval');
    assert.equal(cond(o, 'Approved')?.status, 'True');
    assert.ok(cond(o, 'Approved')?.lastUpdateTime, 'timestamps are filled in');
    assert.equal(o.status.certificate, undefined, 'approval cannot set the certificate');
    o.status.conditions = [];
    await assert.rejects(server.admin.update(csrs, o, 'approval'), /updates may not remove a condition of type "Approved"/);
  });

  test('the table shows signer, requestor, requested duration and condition', async () => {
    await server.admin.create(csrs, undefined, csrObject('table', await validReq(), kubeletSigner, ['digital signature', 'client auth'], { expirationSeconds: 7200 }));
    const table = await new Promise<KObject>((resolve, reject) => {
      import('node:https').then(({ default: https }) => {
        const u = new URL(server.url + server.admin.path(csrs, undefined, 'table'));
        const req = https.request({ host: u.hostname, port: u.port, path: u.pathname, ca: server.ca.cert, cert: (server.admin.config.cert as string), key: (server.admin.config.key as string), headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } }, (res) => {
          let s = '';
          res.on('data', (c) => (s += c));
          res.on('end', () => resolve(JSON.parse(s)));
        });
        req.on('error', reject);
        req.end();
      }, reject);
    });
    assert.deepEqual(table.columnDefinitions.map((c: any) => c.name), ['Name', 'Age', 'SignerName', 'Requestor', 'RequestedDuration', 'Condition']);
    assert.deepEqual(table.rows[0].cells.slice(2), [kubeletSigner, 'admin', '120m', 'Pending']);
  });
});

describe('the node component policy of the approver', () => {
  const req = (commonName: string, organizations: string[] = [], dnsNames: string[] = []) => ({ commonName, organizations, dnsNames, ips: [], emails: [], uris: [] }) as any;
  const csr = (usages: string[]) => ({ spec: { usages } });
  const cases: [string, any, any, string | undefined][] = [
    ['approves kube-proxy with client usages', csr(['digital signature', 'client auth']), req('system:kube-proxy'), undefined],
    ['approves the cluster DNS with key encipherment too', csr(['digital signature', 'key encipherment', 'client auth']), req('system:k8ts-dns'), undefined],
    ['refuses another user', csr(['digital signature', 'client auth']), req('system:admin'), 'subject common name is not one of system:kube-proxy, system:k8ts-dns'],
    ['refuses groups (no system:masters by the back door)', csr(['digital signature', 'client auth']), req('system:kube-proxy', ['system:masters']), 'subject organizations are not allowed'],
    ['refuses subject alternative names', csr(['digital signature', 'client auth']), req('system:kube-proxy', [], ['x']), 'DNS, email, IP or URI subjectAltNames are not allowed'],
    ['refuses server usages', csr(['digital signature', 'server auth']), req('system:kube-proxy'), 'usages must be client auth'],
  ];
  for (const [name, c, r, want] of cases) {
    test(name, () => assert.equal(componentClientProblem(c, r), want));
  }
});
