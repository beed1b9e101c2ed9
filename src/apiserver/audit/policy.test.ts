import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { evaluatePolicy, loadAuditPolicy, parseAuditPolicy, type AuditAttributes } from './policy.js';

/** A request's attributes; resource requests unless `path` is given alone. */
function req(p: Partial<Omit<AuditAttributes, 'user'>> & { user?: string; groups?: string[] }): AuditAttributes {
  return {
    user: { username: p.user ?? 'alice', groups: p.groups ?? ['system:authenticated'] },
    verb: p.verb ?? 'get',
    isResourceRequest: p.isResourceRequest ?? !p.path,
    path: p.path ?? '/api/v1/namespaces/default/pods/web',
    apiGroup: p.apiGroup ?? '',
    namespace: p.namespace ?? 'default',
    resource: p.resource ?? (p.path ? '' : 'pods'),
    subresource: p.subresource ?? '',
    name: p.name ?? '',
  };
}

describe('audit policy matching', () => {
  // Modeled on the upstream documentation's example policy.
  const policy = parseAuditPolicy(`
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["pods"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["pods/log", "pods/status"]
  - level: None
    resources:
      - group: ""
        resources: ["configmaps"]
        resourceNames: ["controller-leader"]
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
    resources:
      - group: ""
        resources: ["endpoints", "services"]
  - level: None
    userGroups: ["system:authenticated"]
    nonResourceURLs: ["/api*", "/version"]
  - level: Request
    resources:
      - group: ""
        resources: ["configmaps"]
    namespaces: ["kube-system"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps"]
  - level: Request
    resources:
      - group: "apps"
        resources: ["*/scale"]
      - group: "apps"
        resources: ["statefulsets/*"]
  - level: RequestResponse
    verbs: ["delete"]
    resources:
      - group: "batch"
  - level: Metadata
    namespaces: [""]
  - level: Request
    users: ["bob"]
    omitStages: ["ResponseComplete"]
  - level: Metadata
    userGroups: ["admins"]
    nonResourceURLs: ["/metrics", "/logs/*"]
  - level: Metadata
    userGroups: ["system:authenticated"]
`);

  const table: { name: string; attrs: AuditAttributes; level: string }[] = [
    { name: 'a pod get matches the pods rule', attrs: req({}), level: 'RequestResponse' },
    { name: 'a pods rule does not match a pod subresource', attrs: req({ subresource: 'log' }), level: 'Metadata' },
    { name: 'pods/status is matched as resource/subresource', attrs: req({ subresource: 'status', verb: 'update' }), level: 'Metadata' },
    { name: 'a configmap named in resourceNames is not audited', attrs: req({ resource: 'configmaps', name: 'controller-leader' }), level: 'None' },
    { name: 'another configmap in kube-system is audited at Request', attrs: req({ resource: 'configmaps', name: 'other', namespace: 'kube-system' }), level: 'Request' },
    { name: 'a configmap elsewhere falls to the secrets/configmaps rule', attrs: req({ resource: 'configmaps', name: 'other' }), level: 'Metadata' },
    { name: 'kube-proxy watching endpoints is not audited', attrs: req({ user: 'system:kube-proxy', verb: 'watch', resource: 'endpoints' }), level: 'None' },
    { name: 'kube-proxy listing endpoints is not matched by the watch-only rule', attrs: req({ user: 'system:kube-proxy', verb: 'list', resource: 'endpoints' }), level: 'Metadata' },
    { name: 'another user watching services is not matched by the kube-proxy rule', attrs: req({ user: 'carol', verb: 'watch', resource: 'services' }), level: 'Metadata' },
    { name: 'an authenticated GET of /apis matches the /api* prefix', attrs: req({ path: '/apis/apps/v1' }), level: 'None' },
    { name: 'a non-resource rule never matches a resource request', attrs: req({ resource: 'nodes', namespace: '', groups: ['system:authenticated'] }), level: 'Metadata' },
    { name: 'a deployment scale request matches "*/scale"', attrs: req({ apiGroup: 'apps', resource: 'deployments', subresource: 'scale' }), level: 'Request' },
    { name: 'a statefulset without subresource matches "statefulsets/*"', attrs: req({ apiGroup: 'apps', resource: 'statefulsets' }), level: 'Request' },
    { name: 'a deployment without subresource matches no apps rule', attrs: req({ apiGroup: 'apps', resource: 'deployments', groups: [] }), level: 'None' },
    { name: 'a group rule without resources matches every resource of the group', attrs: req({ apiGroup: 'batch', resource: 'cronjobs', verb: 'delete' }), level: 'RequestResponse' },
    { name: 'the batch rule does not match other verbs', attrs: req({ apiGroup: 'batch', resource: 'jobs', verb: 'create', groups: [] }), level: 'None' },
    { name: 'namespaces [""] selects cluster-scoped resources', attrs: req({ resource: 'nodes', namespace: '', groups: [] }), level: 'Metadata' },
    { name: 'a user rule matches any request of that user', attrs: req({ user: 'bob', groups: [], apiGroup: 'apps', resource: 'deployments' }), level: 'Request' },
    { name: 'a group rule with nonResourceURLs matches an exact path', attrs: req({ path: '/metrics', groups: ['admins'] }), level: 'Metadata' },
    { name: 'a trailing * matches paths under the prefix', attrs: req({ path: '/logs/kubelet.log', groups: ['admins'] }), level: 'Metadata' },
    { name: 'a user outside the group is not matched', attrs: req({ path: '/metrics', groups: ['others'] }), level: 'None' },
    { name: 'an authenticated request matching no earlier rule falls to the catch-all', attrs: req({ path: '/healthz' }), level: 'Metadata' },
    { name: 'no matching rule means None', attrs: req({ user: 'dave', groups: [], apiGroup: 'example.com', resource: 'widgets' }), level: 'None' },
  ];
  for (const c of table) {
    it(`Under the example policy, ${c.name} (${c.level}).`, () => {
      assert.equal(evaluatePolicy(policy, c.attrs).level, c.level);
    });
  }

  it('Omitted stages join the policy-wide ones with the matching rule’s own.', () => {
    assert.deepEqual(evaluatePolicy(policy, req({})).omitStages, ['RequestReceived']);
    assert.deepEqual(evaluatePolicy(policy, req({ user: 'bob', groups: [], apiGroup: 'apps', resource: 'deployments' })).omitStages.sort(), ['RequestReceived', 'ResponseComplete']);
  });

  it('A wildcard resource matches subresources too, and resourceNames narrow it.', () => {
    const p = parseAuditPolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Request\n    resources: [{group: "", resources: ["*"], resourceNames: ["a"]}]\n');
    assert.equal(evaluatePolicy(p, req({ name: 'a', subresource: 'exec' })).level, 'Request');
    assert.equal(evaluatePolicy(p, req({ name: 'b' })).level, 'None');
    assert.equal(evaluatePolicy(p, req({ name: 'a', apiGroup: 'apps' })).level, 'None');
  });

  it('omitManagedFields set on a rule wins over the policy-wide setting.', () => {
    const p = parseAuditPolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nomitManagedFields: true\nrules:\n  - level: Request\n    users: [a]\n    omitManagedFields: false\n  - level: Request\n');
    assert.equal(evaluatePolicy(p, req({ user: 'a' })).omitManagedFields, false);
    assert.equal(evaluatePolicy(p, req({ user: 'b' })).omitManagedFields, true);
  });
});

describe('audit policy validation', () => {
  const head = 'apiVersion: audit.k8s.io/v1\nkind: Policy\n';
  const table: { name: string; text: string; error: RegExp }[] = [
    { name: 'a wrong kind', text: 'apiVersion: audit.k8s.io/v1\nkind: Policies\nrules: []\n', error: /kind: must be "Policy"/ },
    { name: 'a wrong apiVersion', text: 'apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: []\n', error: /apiVersion: must be "audit.k8s.io\/v1"/ },
    { name: 'a rule without level', text: `${head}rules:\n  - users: [a]\n`, error: /rules\[0\]\.level: Required value/ },
    { name: 'an unknown level', text: `${head}rules:\n  - level: Everything\n`, error: /rules\[0\]\.level: Unsupported value: "Everything"/ },
    { name: 'an unknown stage', text: `${head}omitStages: [Started]\nrules: []\n`, error: /omitStages: Unsupported value: "Started"/ },
    { name: 'resources and nonResourceURLs together', text: `${head}rules:\n  - level: Metadata\n    resources: [{group: ""}]\n    nonResourceURLs: ["/x"]\n`, error: /cannot apply to both regular resources and non-resource URLs/ },
    { name: 'a non-resource URL without a leading slash', text: `${head}rules:\n  - level: Metadata\n    nonResourceURLs: ["healthz"]\n`, error: /must begin with a '\/'/ },
    { name: 'a wildcard in the middle of a URL', text: `${head}rules:\n  - level: Metadata\n    nonResourceURLs: ["/a*/b"]\n`, error: /must be the final character/ },
    { name: 'a malformed resource', text: `${head}rules:\n  - level: Metadata\n    resources: [{resources: ["pods/log/x"]}]\n`, error: /resources\[0\]\.resources\[0\]: Invalid value/ },
    { name: 'users that are not a list of strings', text: `${head}rules:\n  - level: Metadata\n    users: alice\n`, error: /users: must be a list of strings/ },
    { name: 'text that is not YAML', text: 'rules: [', error: /not valid YAML/ },
  ];
  for (const c of table) {
    it(`A policy with ${c.name} is rejected with a clear message.`, () => {
      assert.throws(() => parseAuditPolicy(c.text), c.error);
    });
  }

  it('loadAuditPolicy reads a file and names it in errors.', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'k8ts-audit-policy-'));
    try {
      await writeFile(join(dir, 'p.yaml'), `${head}rules:\n  - level: Metadata\n`);
      assert.deepEqual(loadAuditPolicy(join(dir, 'p.yaml')).rules, [{ level: 'Metadata' }]);
      await writeFile(join(dir, 'bad.yaml'), `${head}rules:\n  - level: Loud\n`);
      assert.throws(() => loadAuditPolicy(join(dir, 'bad.yaml')), (e: Error) => e.message.startsWith(`audit policy ${join(dir, 'bad.yaml')}:`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
