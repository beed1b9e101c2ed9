/** kubectl against the RBAC test server: what `kubectl auth can-i` and `kubectl get` show. Skipped without kubectl. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setLogLevel } from '../../base/log.js';
import type { RestClient } from '../../client/rest-client.js';
import { startRBACTestServer, type RBACTestServer } from './testdata/rbac-server.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');
const ex = promisify(execFile);
const noKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).error ? 'kubectl is missing' : undefined;

describe('kubectl with RBAC', { skip: noKubectl }, () => {
  let srv: RBACTestServer;
  let dir: string;
  const kubeconfig = (name: string, c: RestClient) => {
    const cfg = (c as any).config;
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const path = join(dir, name);
    writeFileSync(
      path,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: srv.url, 'certificate-authority-data': b64(cfg.ca) } }],
        users: [{ name: 'u', user: { 'client-certificate-data': b64(cfg.cert), 'client-key-data': b64(cfg.key) } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'team' } }],
        'current-context': 'x',
      }),
    );
    return path;
  };
  const cfgs: Record<string, string> = {};
  async function kubectl(who: string, ...args: string[]): Promise<{ code: number; out: string }> {
    try {
      const r = await ex('kubectl', ['--kubeconfig', cfgs[who], ...args], { encoding: 'utf8' });
      return { code: 0, out: r.stdout };
    } catch (e: any) {
      return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'k8ts-rbac-'));
    srv = await startRBACTestServer();
    cfgs.admin = kubeconfig('admin', srv.admin);
    cfgs.alice = kubeconfig('alice', await srv.clientFor('alice'));
    assert.equal((await kubectl('admin', 'create', 'namespace', 'team')).code, 0);
    const rb = await kubectl('admin', 'create', 'rolebinding', 'alice-view', '--clusterrole=view', '--user=alice', '--group=devs', '--serviceaccount=team:builder');
    assert.equal(rb.code, 0, rb.out);
  });
  after(async () => {
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const canI: { name: string; who: string; args: string[]; yes: boolean }[] = [
    { name: 'a viewer can get pods', who: 'alice', args: ['get', 'pods'], yes: true },
    { name: 'a viewer cannot get secrets', who: 'alice', args: ['get', 'secrets'], yes: false },
    { name: 'a viewer can read pod logs through the subresource', who: 'alice', args: ['get', 'pods', '--subresource=log'], yes: true },
    { name: 'a viewer cannot exec', who: 'alice', args: ['create', 'pods', '--subresource=exec'], yes: false },
    { name: 'a viewer cannot get pods in another namespace', who: 'alice', args: ['get', 'pods', '-n', 'other'], yes: false },
    { name: 'nobody but cluster-admin may get /logs', who: 'alice', args: ['get', '/logs'], yes: false },
    { name: 'every authenticated user may get /version', who: 'alice', args: ['get', '/version'], yes: true },
    { name: 'an admin may ask on behalf of a service account', who: 'admin', args: ['list', 'deployments.apps', '--as=system:serviceaccount:team:builder'], yes: true },
  ];
  for (const c of canI) {
    it(`kubectl auth can-i: ${c.name}`, async () => {
      const r = await kubectl(c.who, 'auth', 'can-i', ...c.args);
      assert.equal(r.out.trim(), c.yes ? 'yes' : 'no');
      assert.equal(r.code, c.yes ? 0 : 1);
    });
  }

  it('kubectl auth can-i --list shows the viewer\'s rules and discovery URLs', async () => {
    const r = await kubectl('alice', 'auth', 'can-i', '--list');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^Resources\s+Non-Resource URLs\s+Resource Names\s+Verbs/);
    assert.match(r.out, /\npods\s+\[\]\s+\[\]\s+\[get list watch\]/);
    assert.match(r.out, /\[\/apis\/\*\]\s+\[\]\s+\[get\]/);
    assert.doesNotMatch(r.out, /\nsecrets\s/);
  });

  it('kubectl get rolebinding -o wide shows the role and each kind of subject', async () => {
    const r = await kubectl('admin', 'get', 'rolebinding', '-o', 'wide');
    assert.match(r.out, /^NAME\s+ROLE\s+AGE\s+USERS\s+GROUPS\s+SERVICEACCOUNTS\n/);
    assert.match(r.out, /\nalice-view\s+ClusterRole\/view\s+\S+\s+alice\s+devs\s+team\/builder\n/);
  });

  it('kubectl get clusterrole shows NAME and CREATED AT', async () => {
    const r = await kubectl('admin', 'get', 'clusterrole', 'view');
    assert.match(r.out, /^NAME\s+CREATED AT\nview\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
  });

  it('a forbidden kubectl get prints upstream\'s message', async () => {
    const r = await kubectl('alice', 'get', 'secrets');
    assert.equal(r.code, 1);
    assert.match(r.out, /Error from server \(Forbidden\): secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "team"/);
  });
});
