/**
 * Issue 7 acceptance: RBAC as the real kubectl sees it. Users authenticate with client
 * certificates signed by the cluster CA (CN = user, O = groups) or with static tokens, and get
 * exactly what their bindings grant; `auth can-i` agrees with what the server enforces; the node
 * authorizer keeps a node to its own pods' secrets.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueCertificate, type KeyPairPEM } from '../src/base/pki.js';
import { startTestCluster, eventually, type TestCluster } from './helpers.js';

function certKubeconfig(c: TestCluster, name: string, kp: KeyPairPEM): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return c.writeFile(
    `${name}.kubeconfig`,
    `apiVersion: v1
kind: Config
clusters: [{name: k8ts, cluster: {server: ${c.server.url}, certificate-authority-data: ${b64(c.server.ca)}}}]
users: [{name: ${name}, user: {client-certificate-data: ${b64(kp.cert)}, client-key-data: ${b64(kp.key)}}}]
contexts: [{name: k8ts, context: {cluster: k8ts, user: ${name}}}]
current-context: k8ts
`,
  );
}

/** A raw request as `kp`, for status codes kubectl would hide. */
function request(c: TestCluster, kp: KeyPairPEM | undefined, method: string, path: string, body?: unknown): Promise<{ code: number; body: any }> {
  const url = new URL(path, c.server.url);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, ca: c.server.ca, cert: kp?.cert, key: kp?.key, headers: { 'Content-Type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json', Accept: 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let parsed: any = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ code: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('RBAC through kubectl', () => {
  let c: TestCluster;
  let ca: KeyPairPEM;
  const users: Record<string, { kp: KeyPairPEM; kc: string }> = {};
  const as = (name: string) => ({ env: { KUBECONFIG: users[name].kc } });

  before(async () => {
    c = await startTestCluster();
    const tls = join(c.server.dataDir, 'tls');
    ca = { cert: readFileSync(join(tls, 'ca.crt'), 'utf8'), key: readFileSync(join(tls, 'ca.key'), 'utf8') };
    for (const [name, groups] of [['alice', []], ['bob', ['devs']], ['carol', []], ['mallory', []]] as const) {
      const kp = await issueCertificate(ca, { commonName: name, organizations: [...groups], usage: 'client' });
      users[name] = { kp, kc: certKubeconfig(c, name, kp) };
    }
    await c.ok(['create', 'namespace', 'team']);
    await c.ok(['create', 'namespace', 'other']);
    await c.ok(['run', 'web', '-n', 'team', '--image=busybox', '--restart=Never']);
    await c.ok(['run', 'web', '-n', 'other', '--image=busybox', '--restart=Never']);
    await c.ok(['create', 'rolebinding', 'alice-view', '--clusterrole=view', '--user=alice', '-n', 'team']);
    await c.ok(['create', 'rolebinding', 'devs-edit', '--clusterrole=edit', '--group=devs', '-n', 'team']);
    await c.ok(['create', 'rolebinding', 'carol-admin', '--clusterrole=admin', '--user=carol', '-n', 'team']);
  });
  after(() => c?.stop());

  it('a view RoleBinding lets a user get pods in its namespace only, and neither delete nor exec', async () => {
    assert.match(await c.ok(['get', 'pods', '-n', 'team'], as('alice')), /web/);
    const elsewhere = await c.kubectl(['get', 'pods', '-n', 'other'], as('alice'));
    assert.notEqual(elsewhere.code, 0);
    assert.match(elsewhere.stderr, /pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "other"/);
    const del = await c.kubectl(['delete', 'pod', 'web', '-n', 'team'], as('alice'));
    assert.match(del.stderr, /pods "web" is forbidden: User "alice" cannot delete resource "pods" in API group "" in the namespace "team"/);
    const exec = await request(c, users.alice.kp, 'POST', '/api/v1/namespaces/team/pods/web/exec?command=true&stdout=true');
    assert.equal(exec.code, 403);
    assert.equal(exec.body.message, 'pods "web" is forbidden: User "alice" cannot create resource "pods/exec" in API group "" in the namespace "team"');
    const secrets = await c.kubectl(['get', 'secrets', '-n', 'team'], as('alice'));
    assert.match(secrets.stderr, /cannot list resource "secrets"/, 'view does not read secrets');
  });

  it('a group binding applies to members of the group (edit creates, cannot touch roles)', async () => {
    await c.ok(['create', 'configmap', 'from-bob', '-n', 'team', '--from-literal=a=b'], as('bob'));
    const role = await c.kubectl(['create', 'role', 'r', '-n', 'team', '--verb=get', '--resource=pods'], as('bob'));
    assert.match(role.stderr, /roles.rbac.authorization.k8s.io is forbidden: User "bob" cannot create resource "roles" in API group "rbac.authorization.k8s.io" in the namespace "team"/);
  });

  it('refuses privilege escalation through a RoleBinding to cluster-admin, and a Role granting more than the user holds', async () => {
    const bind = await c.kubectl(['create', 'rolebinding', 'grab', '--clusterrole=cluster-admin', '--user=carol', '-n', 'team'], as('carol'));
    assert.notEqual(bind.code, 0);
    assert.match(bind.stderr, /rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "carol" \(groups=\["system:authenticated"\]\) is attempting to grant RBAC permissions not currently held/);
    const role = await c.kubectl(['create', 'role', 'nodes', '-n', 'team', '--verb=get', '--resource=nodes'], as('carol'));
    assert.match(role.stderr, /is attempting to grant RBAC permissions not currently held/);
    // What the admin role holds, it may grant.
    await c.ok(['create', 'rolebinding', 'mallory-view', '--clusterrole=view', '--user=mallory', '-n', 'team'], as('carol'));
    assert.match(await c.ok(['get', 'pods', '-n', 'team'], as('mallory')), /web/);
    await c.ok(['delete', 'rolebinding', 'mallory-view', '-n', 'team']);
    await eventually(async () => (await c.kubectl(['get', 'pods', '-n', 'team'], as('mallory'))).code !== 0);
  });

  it('impersonation needs the impersonate verb', async () => {
    const r = await c.kubectl(['get', 'pods', '-n', 'team', '--as=alice'], as('bob'));
    assert.match(r.stderr, /users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope/);
    assert.match(await c.ok(['get', 'pods', '-n', 'team', '--as=alice']), /web/, 'the admin may impersonate');
    assert.equal(await c.ok(['auth', 'whoami', '--as=alice', '--as-group=devs', '-o', 'jsonpath={.status.userInfo.groups}']), '["devs","system:authenticated"]');
  });

  it('anonymous requests get 401, except the health endpoints', async () => {
    assert.equal((await request(c, undefined, 'GET', '/api/v1/namespaces/team/pods')).code, 401);
    assert.equal((await request(c, undefined, 'GET', '/apis')).code, 401);
    assert.equal((await request(c, undefined, 'GET', '/readyz')).code, 200);
    assert.equal((await request(c, undefined, 'GET', '/version')).code, 200);
  });

  it('auth can-i agrees with what the server enforces across 60 cases', async () => {
    const cases: [string, string, string, string, string?][] = [];
    const verbs = ['get', 'list', 'create', 'delete', 'update'];
    const resources: [string, string, string][] = [
      ['', 'pods', ''],
      ['', 'secrets', ''],
      ['', 'configmaps', ''],
      ['apps', 'deployments', ''],
      ['rbac.authorization.k8s.io', 'rolebindings', ''],
      ['', 'pods', 'exec'],
    ];
    for (const user of ['alice', 'bob', 'carol', 'mallory']) {
      for (const [g, r, sub] of resources) {
        for (const ns of ['team', 'other']) {
          const verb = verbs[(cases.length * 7) % verbs.length];
          cases.push([user, sub ? 'create' : verb, g ? `${r}.${g}` : r, ns, sub || undefined]);
        }
      }
    }
    cases.push(['alice', 'get', 'nodes', ''], ['carol', 'list', 'namespaces', ''], ['bob', 'get', 'pods/log', 'team'], ['mallory', 'list', 'pods', 'team']);
    assert.ok(cases.length >= 50);
    const mismatches: string[] = [];
    for (const [user, verb, resource, ns, sub] of cases) {
      const args = ['auth', 'can-i', verb, resource.includes('/') ? resource.split('/')[0] : resource];
      if (ns) args.push('-n', ns);
      if (sub) args.push(`--subresource=${sub}`);
      if (resource.includes('/')) args.push(`--subresource=${resource.split('/')[1]}`);
      const said = (await c.kubectl(args, as(user))).stdout.trim();
      // Enforcement: the same request for real (by name where the verb needs one).
      const [r, g = ''] = resource.split('/')[0].split(/\.(.*)/s);
      const subres = sub ?? resource.split('/')[1];
      const base = g ? `/apis/${g}/v1` : '/api/v1';
      const nsPath = ns ? `/namespaces/${ns}` : '';
      const named = verb !== 'list' && (verb !== 'create' || subres);
      const path = `${base}${nsPath}/${r}${named ? '/web' : ''}${subres ? `/${subres}` : ''}`;
      const method = { get: 'GET', list: 'GET', create: 'POST', delete: 'DELETE', update: 'PUT' }[verb]!;
      const body = method === 'POST' || method === 'PUT' ? { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web' } } : undefined;
      const got = await request(c, users[user].kp, method, path + (subres === 'exec' ? '?command=true&stdout=true' : ''), body);
      const enforcedAllowed = got.code !== 403;
      if ((said === 'yes') !== enforcedAllowed) mismatches.push(`${user} ${verb} ${resource}${sub ? '/' + sub : ''} in "${ns}": can-i said ${said}, server answered ${got.code}`);
    }
    assert.deepEqual(mismatches, []);
  });

  it('auth can-i --list shows what a binding grants', async () => {
    const out = await c.ok(['auth', 'can-i', '--list', '-n', 'team'], as('alice'));
    assert.match(out, /pods\s+\[\]\s+\[\]\s+\[get list watch\]/);
    assert.doesNotMatch(out, /^secrets /m);
  });

  it('a node may read only the secrets its own pods use', async () => {
    const node = await issueCertificate(ca, { commonName: 'system:node:n1', organizations: ['system:nodes'], usage: 'client' });
    await c.ok(['create', 'secret', 'generic', 'used', '-n', 'team', '--from-literal=a=b']);
    await c.ok(['create', 'secret', 'generic', 'unused', '-n', 'team', '--from-literal=a=b']);
    await c.ok(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'on-n1', namespace: 'team' },
        spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 's', secret: { secretName: 'used' } }] },
      }),
    });
    await eventually(async () => (await request(c, node, 'GET', '/api/v1/namespaces/team/secrets/used')).code === 200);
    const denied = await request(c, node, 'GET', '/api/v1/namespaces/team/secrets/unused');
    assert.equal(denied.code, 403);
    assert.match(denied.body.message, /secrets "unused" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "team": no relationship found between node 'n1' and this object/);
    assert.equal((await request(c, node, 'GET', '/api/v1/namespaces/team/secrets')).code, 403, 'a node cannot list secrets');
    await c.ok(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'someone-else' } }) });
    const other = await request(c, node, 'PATCH', '/api/v1/nodes/someone-else', { metadata: { labels: { x: 'y' } } });
    assert.equal(other.code, 403);
    assert.match(other.body.message, /node "n1" is not allowed to modify node "someone-else"/);
  });
});
