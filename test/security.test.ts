/**
 * Issue 7 acceptance with the real kubectl: service account tokens, admission (quota, Pod
 * Security, LimitRange), secrets encrypted at rest, and the audit log.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTestCluster, eventually, writeEncryptionConfig, type TestCluster } from './helpers.js';

/** A kubeconfig that authenticates with a bearer token only. */
function tokenKubeconfig(c: TestCluster, name: string, token: string): string {
  const server = c.server.url;
  const ca = Buffer.from(c.server.ca).toString('base64');
  return c.writeFile(
    name,
    `apiVersion: v1
kind: Config
clusters: [{name: k8ts, cluster: {server: ${server}, certificate-authority-data: ${ca}}}]
users: [{name: u, user: {token: ${token}}}]
contexts: [{name: k8ts, context: {cluster: k8ts, user: u}}]
current-context: k8ts
`,
  );
}

describe('security: tokens and admission through kubectl', () => {
  let c: TestCluster;
  before(async () => {
    c = await startTestCluster();
  });
  after(() => c?.stop());

  it('create token yields a token that works, then stops working when the ServiceAccount is deleted', async () => {
    await c.ok(['create', 'serviceaccount', 'robot']);
    const token = (await c.ok(['create', 'token', 'robot', '--duration=15m'])).trim();
    const kc = tokenKubeconfig(c, 'robot.kubeconfig', token);
    const who = await c.ok(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { env: { KUBECONFIG: kc } });
    assert.equal(who, 'system:serviceaccount:default:robot');
    const review = JSON.parse(await c.ok(['create', '-o', 'json', '-f', '-'], { input: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }) }));
    assert.equal(review.status.authenticated, true);
    assert.equal(review.status.user.username, 'system:serviceaccount:default:robot');
    await c.ok(['delete', 'serviceaccount', 'robot']);
    await eventually(async () => {
      const r = await c.kubectl(['auth', 'whoami'], { env: { KUBECONFIG: kc } });
      return r.code !== 0 && /Unauthorized|must be logged in/.test(r.stderr);
    });
  });

  it('refuses a token shorter than ten minutes with upstream\'s message', async () => {
    await c.ok(['create', 'serviceaccount', 'short']);
    const r = await c.kubectl(['create', 'token', 'short', '--duration=5m']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /may not specify a duration less than 10 minutes/);
  });

  it('gives pods the default ServiceAccount and its projected API credentials', async () => {
    await c.ok(['run', 'sa-pod', '--image=busybox', '--restart=Never']);
    const pod = JSON.parse(await c.ok(['get', 'pod', 'sa-pod', '-o', 'json']));
    assert.equal(pod.spec.serviceAccountName, 'default');
    const vol = pod.spec.volumes.find((v: any) => v.name.startsWith('kube-api-access-'));
    assert.ok(vol, 'the kube-api-access volume is added');
    assert.deepEqual(pod.spec.containers[0].volumeMounts, [{ name: vol.name, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }]);
    const cm = JSON.parse(await c.ok(['get', 'configmap', 'kube-root-ca.crt', '-o', 'json']));
    assert.equal(cm.data['ca.crt'], c.server.ca);
  });

  it('a ResourceQuota of 3 pods blocks the 4th with upstream\'s message', async () => {
    await c.ok(['create', 'namespace', 'quota']);
    await c.ok(['create', 'quota', 'three', '-n', 'quota', '--hard=pods=3']);
    await eventually(async () => JSON.parse(await c.ok(['get', 'quota', 'three', '-n', 'quota', '-o', 'json'])).status?.hard?.pods === '3');
    for (const n of [1, 2, 3]) await c.ok(['run', `p${n}`, '-n', 'quota', '--image=busybox', '--restart=Never']);
    const r = await c.kubectl(['run', 'p4', '-n', 'quota', '--image=busybox', '--restart=Never']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /pods "p4" is forbidden: exceeded quota: three, requested: pods=1, used: pods=3, limited: pods=3/);
    await eventually(async () => JSON.parse(await c.ok(['get', 'quota', 'three', '-n', 'quota', '-o', 'json'])).status?.used?.pods === '3');
  });

  it('a baseline namespace refuses a privileged pod with upstream\'s message and warns for restricted', async () => {
    await c.ok(['create', 'namespace', 'pss']);
    await c.ok(['label', 'namespace', 'pss', 'pod-security.kubernetes.io/enforce=baseline', 'pod-security.kubernetes.io/warn=restricted']);
    const overrides = JSON.stringify({ spec: { containers: [{ name: 'priv', image: 'busybox', securityContext: { privileged: true } }] } });
    const r = await c.kubectl(['run', 'priv', '-n', 'pss', '--image=busybox', '--restart=Never', `--overrides=${overrides}`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged \(container "priv" must not set securityContext.privileged=true\)/);
    const ok = await c.kubectl(['run', 'plain', '-n', 'pss', '--image=busybox', '--restart=Never']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /Warning: would violate PodSecurity "restricted:latest"/);
  });

  it('a LimitRange fills in container defaults and refuses what exceeds its max', async () => {
    await c.ok(['create', 'namespace', 'limits']);
    await c.ok(['apply', '-n', 'limits', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'lr' }, spec: { limits: [{ type: 'Container', default: { cpu: '500m' }, defaultRequest: { cpu: '100m' }, max: { cpu: '1' } }] } }),
    });
    await c.ok(['run', 'd', '-n', 'limits', '--image=busybox', '--restart=Never']);
    const pod = JSON.parse(await c.ok(['get', 'pod', 'd', '-n', 'limits', '-o', 'json']));
    assert.deepEqual(pod.spec.containers[0].resources, { limits: { cpu: '500m' }, requests: { cpu: '100m' } });
    const big = JSON.stringify({ spec: { containers: [{ name: 'big', image: 'busybox', resources: { limits: { cpu: '2' } } }] } });
    const r = await c.kubectl(['run', 'big', '-n', 'limits', '--image=busybox', '--restart=Never', `--overrides=${big}`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2/);
  });
});

describe('security: secrets at rest and the audit log', () => {
  let c: TestCluster;
  let dir: string;
  const plaintext = `s3cret-${randomBytes(8).toString('hex')}`;
  const staticToken = randomBytes(16).toString('hex');
  before(async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    dir = mkdtempSync(join(tmpdir(), 'k8ts-sec-'));
    const enc = writeEncryptionConfig(join(dir, 'encryption.yaml'));
    const policy = join(dir, 'audit-policy.yaml');
    writeFileSync(policy, `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    nonResourceURLs: ['/api*', '/version', '/openapi*']
  - level: Metadata
    resources: [{group: '', resources: [secrets]}]
  - level: Request
    resources: [{group: '', resources: [configmaps]}]
`);
    const tokens = join(dir, 'tokens.csv');
    writeFileSync(tokens, `# token,user,uid,groups\n${staticToken},dana,1001,"ops,oncall"\n`);
    c = await startTestCluster({
      server: { dataDir: join(dir, 'data'), removeDataDirOnStop: true, encryptionProviderConfig: enc, auditPolicyFile: policy, auditLogPath: join(dir, 'audit.log'), tokenAuthFile: tokens },
    });
  });
  after(async () => {
    await c?.stop();
    const { rmSync } = await import('node:fs');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a Secret is unreadable in the raw store and readable through the API', async () => {
    await c.ok(['create', 'secret', 'generic', 'db', `--from-literal=password=${plaintext}`]);
    const got = JSON.parse(await c.ok(['get', 'secret', 'db', '-o', 'json']));
    assert.equal(Buffer.from(got.data.password, 'base64').toString(), plaintext);
    const b64 = Buffer.from(plaintext).toString('base64');
    let raw = Buffer.alloc(0);
    for (const f of ['state.db', 'state.db-wal']) {
      const p = join(dir, 'data', 'db', f);
      if (existsSync(p)) raw = Buffer.concat([raw, readFileSync(p)]);
    }
    assert.ok(raw.length > 0, 'the database files exist');
    assert.ok(raw.includes('k8s:enc:aescbc:v1:key1:'), 'the stored value carries the aescbc prefix');
    assert.ok(!raw.includes(plaintext) && !raw.includes(b64), 'neither the plaintext nor its base64 is in the raw store');
  });

  it('records who did what in the audit log, at the policy\'s level', async () => {
    await c.ok(['create', 'configmap', 'audited', '--from-literal=k=v']);
    await c.ok(['get', 'secret', 'db']);
    const events = await eventually(async () => {
      const lines = existsSync(join(dir, 'audit.log')) ? readFileSync(join(dir, 'audit.log'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
      const cm = lines.find((e) => e.objectRef?.resource === 'configmaps' && e.verb === 'create');
      const sec = lines.find((e) => e.objectRef?.resource === 'secrets' && e.verb === 'get');
      return cm && sec ? { cm, sec, lines } : undefined;
    });
    assert.equal(events.cm.kind, 'Event');
    assert.equal(events.cm.apiVersion, 'audit.k8s.io/v1');
    assert.equal(events.cm.level, 'Request');
    assert.equal(events.cm.stage, 'ResponseComplete');
    assert.equal(events.cm.user.username, 'system:admin');
    assert.equal(events.cm.responseStatus.code, 201);
    assert.equal(events.cm.requestObject.data.k, 'v');
    assert.equal(events.sec.level, 'Metadata');
    assert.equal(events.sec.requestObject, undefined);
    assert.ok(!events.lines.some((e: any) => e.stage === 'RequestReceived'), 'omitted stages are not written');
  });

  it('authenticates users from the static token file, with their groups', async () => {
    const kc = tokenKubeconfig(c, 'dana.kubeconfig', staticToken);
    const who = JSON.parse(await c.ok(['auth', 'whoami', '-o', 'json'], { env: { KUBECONFIG: kc } }));
    assert.equal(who.status.userInfo.username, 'dana');
    assert.equal(who.status.userInfo.uid, '1001');
    assert.deepEqual(who.status.userInfo.groups, ['ops', 'oncall', 'system:authenticated']);
    const r = await c.kubectl(['get', 'pods'], { env: { KUBECONFIG: kc } });
    assert.match(r.stderr, /User "dana" cannot list resource "pods"/);
    await c.ok(['create', 'clusterrolebinding', 'ops-view', '--clusterrole=view', '--group=ops']);
    await eventually(async () => (await c.kubectl(['get', 'pods'], { env: { KUBECONFIG: kc } })).code === 0);
  });
});
