import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  calculateUsage,
  checkQuotas,
  evaluatorFor,
  formatResourceList,
  podEvaluator,
  podMatchesScope,
  podUsage,
  recheckQuota,
  refundQuota,
  serviceEvaluator,
  serviceUsage,
  parseResourceList,
  type ScopeRequirement,
} from './index.js';

const container = (name: string, requests?: Record<string, string>, limits?: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  name,
  image: 'x',
  resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
  ...extra,
});
const pod = (spec: Record<string, unknown>, status: Record<string, unknown> = { phase: 'Pending' }, meta: Record<string, unknown> = {}) => ({
  metadata: { name: 'p', namespace: 'ns', resourceVersion: '1', ...meta },
  spec,
  status,
});
const fmt = (l: Record<string, any>) => formatResourceList(l);

describe('quota usage of one object', () => {
  const cases: { name: string; obj: any; usage: (o: any) => any; want: Record<string, string> }[] = [
    {
      name: 'a pod with requests and limits uses them under every compute name',
      obj: pod({ containers: [container('a', { cpu: '250m', memory: '64Mi' }, { cpu: '500m', memory: '128Mi' })] }),
      usage: podUsage,
      want: { 'count/pods': '1', pods: '1', cpu: '250m', 'requests.cpu': '250m', memory: '64Mi', 'requests.memory': '64Mi', 'limits.cpu': '500m', 'limits.memory': '128Mi' },
    },
    {
      name: 'containers add up and an init container only raises the maximum',
      obj: pod({
        containers: [container('a', { cpu: '100m' }), container('b', { cpu: '200m' })],
        initContainers: [container('i', { cpu: '1' })],
      }),
      usage: podUsage,
      want: { 'count/pods': '1', pods: '1', cpu: '1', 'requests.cpu': '1' },
    },
    {
      name: 'a sidecar init container adds to the regular containers',
      obj: pod({
        containers: [container('a', { cpu: '100m' })],
        initContainers: [container('s', { cpu: '50m' }, undefined, { restartPolicy: 'Always' })],
      }),
      usage: podUsage,
      want: { 'count/pods': '1', pods: '1', cpu: '150m', 'requests.cpu': '150m' },
    },
    {
      name: 'extended and hugepages requests are counted under requests.<name>',
      obj: pod({ containers: [container('a', { 'example.com/gpu': '2', 'hugepages-2Mi': '4Mi' })] }),
      usage: podUsage,
      want: { 'count/pods': '1', pods: '1', 'requests.example.com/gpu': '2', 'hugepages-2Mi': '4Mi', 'requests.hugepages-2Mi': '4Mi' },
    },
    {
      name: 'a succeeded pod uses only its object count',
      obj: pod({ containers: [container('a', { cpu: '1' })] }, { phase: 'Succeeded' }),
      usage: podUsage,
      want: { 'count/pods': '1' },
    },
    {
      name: 'a pod deleted past its grace period uses only its object count',
      obj: pod({ containers: [container('a', { cpu: '1' })] }, { phase: 'Running' }, { deletionTimestamp: '2020-01-01T00:00:00Z', deletionGracePeriodSeconds: 30 }),
      usage: podUsage,
      want: { 'count/pods': '1' },
    },
    {
      name: 'a ClusterIP service is one service and no node ports',
      obj: { spec: { type: 'ClusterIP', ports: [{ port: 80 }] } },
      usage: serviceUsage,
      want: { 'count/services': '1', services: '1', 'services.loadbalancers': '0', 'services.nodeports': '0' },
    },
    {
      name: 'a LoadBalancer service uses a load balancer and a node port per port',
      obj: { spec: { type: 'LoadBalancer', ports: [{ port: 80 }, { port: 443 }] } },
      usage: serviceUsage,
      want: { 'count/services': '1', services: '1', 'services.loadbalancers': '1', 'services.nodeports': '2' },
    },
    {
      name: 'a configmap counts under count/configmaps and the legacy configmaps name',
      obj: { metadata: { name: 'c' } },
      usage: (o) => evaluatorFor({ group: '', resource: 'configmaps' })!.usage(o),
      want: { 'count/configmaps': '1', configmaps: '1' },
    },
    {
      name: 'a deployment counts under count/deployments.apps',
      obj: { metadata: { name: 'd' } },
      usage: (o) => evaluatorFor({ group: 'apps', resource: 'deployments' })!.usage(o),
      want: { 'count/deployments.apps': '1' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(fmt(c.usage(c.obj)), Object.fromEntries(Object.entries(c.want).sort(([a], [b]) => (a < b ? -1 : 1))));
    });
  }

  it('events are never charged to quota', () => {
    assert.equal(evaluatorFor({ group: '', resource: 'events' }), undefined);
  });
});

describe('pod quota scopes', () => {
  const bestEffort = pod({ containers: [container('a')] });
  const burstable = pod({ containers: [container('a', { cpu: '100m' })] });
  const terminating = pod({ containers: [container('a')], activeDeadlineSeconds: 30 });
  const high = pod({ containers: [container('a')], priorityClassName: 'high' });
  const cases: [string, ScopeRequirement, any, boolean][] = [
    ['a pod without resources is BestEffort', { scopeName: 'BestEffort', operator: 'Exists' }, bestEffort, true],
    ['a pod with a request is NotBestEffort', { scopeName: 'NotBestEffort', operator: 'Exists' }, burstable, true],
    ['a pod with a request is not BestEffort', { scopeName: 'BestEffort', operator: 'Exists' }, burstable, false],
    ['a pod with an active deadline is Terminating', { scopeName: 'Terminating', operator: 'Exists' }, terminating, true],
    ['a pod without an active deadline is NotTerminating', { scopeName: 'NotTerminating', operator: 'Exists' }, bestEffort, true],
    ['PriorityClass In matches the named class', { scopeName: 'PriorityClass', operator: 'In', values: ['high', 'mid'] }, high, true],
    ['PriorityClass In does not match a pod without a class', { scopeName: 'PriorityClass', operator: 'In', values: ['high'] }, bestEffort, false],
    ['PriorityClass NotIn matches a pod without a class', { scopeName: 'PriorityClass', operator: 'NotIn', values: ['high'] }, bestEffort, true],
    ['PriorityClass NotIn does not match the named class', { scopeName: 'PriorityClass', operator: 'NotIn', values: ['high'] }, high, false],
    ['PriorityClass Exists matches any class', { scopeName: 'PriorityClass', operator: 'Exists' }, high, true],
    ['PriorityClass DoesNotExist matches a pod without a class', { scopeName: 'PriorityClass', operator: 'DoesNotExist' }, bestEffort, true],
  ];
  for (const [name, req, p, want] of cases) {
    it(name, () => assert.equal(podMatchesScope(req, p), want));
  }
});

describe('checking a write against quotas', () => {
  const quota = (name: string, hard: Record<string, string>, used?: Record<string, string>, spec: Record<string, unknown> = {}) => ({
    metadata: { name, namespace: 'ns' },
    spec: { hard, ...spec },
    status: used ? { hard, used } : {},
  });
  const p = pod({ containers: [container('web', { cpu: '500m' }, { cpu: '1' })] });
  const cases: { name: string; quotas: any[]; obj?: any; want: string | Record<string, Record<string, string>> }[] = [
    { name: 'a pod within every quota is charged to each', quotas: [quota('q', { pods: '3', 'requests.cpu': '2' }, { pods: '1', 'requests.cpu': '1' })], want: { q: { pods: '2', 'requests.cpu': '1500m' } } },
    { name: 'the pod past the pod count is refused with upstream words', quotas: [quota('q', { pods: '3' }, { pods: '3' })], want: 'exceeded quota: q, requested: pods=1, used: pods=3, limited: pods=3' },
    {
      name: 'only the exceeded resources are named',
      quotas: [quota('compute', { pods: '10', 'limits.cpu': '1500m' }, { pods: '1', 'limits.cpu': '1' })],
      want: 'exceeded quota: compute, requested: limits.cpu=1, used: limits.cpu=1, limited: limits.cpu=1500m',
    },
    {
      name: 'a quota on limits.cpu refuses a container without a cpu limit',
      quotas: [quota('q', { 'limits.cpu': '4' }, { 'limits.cpu': '0' })],
      obj: pod({ containers: [container('a', { cpu: '1' }), container('b', { cpu: '1' }, { cpu: '1' })] }),
      want: 'failed quota: q: must specify limits.cpu for: a',
    },
    {
      name: 'several missing resources are listed by resource',
      quotas: [quota('q', { 'limits.cpu': '4', 'requests.memory': '1Gi' }, { 'limits.cpu': '0', 'requests.memory': '0' })],
      obj: pod({ containers: [container('b'), container('a')] }),
      want: 'failed quota: q: must specify limits.cpu for: a,b; requests.memory for: a,b',
    },
    { name: 'a quota whose usage is not yet known refuses', quotas: [{ metadata: { name: 'q' }, spec: { hard: { pods: '3' } }, status: { hard: { pods: '3' } } }], want: 'status unknown for quota: q, resources: pods' },
    { name: 'a quota the controller has not seen yet does not apply', quotas: [quota('q', { pods: '3' })], want: {} },
    { name: 'a BestEffort-scoped quota ignores a pod with requests', quotas: [quota('q', { pods: '0' }, { pods: '0' }, { scopes: ['BestEffort'] })], want: {} },
    { name: 'a quota on other kinds does not apply to pods', quotas: [quota('q', { services: '0' }, { services: '0' })], want: {} },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = checkQuotas(c.quotas, { operation: 'CREATE', object: c.obj ?? p }, podEvaluator);
      if (typeof c.want === 'string') {
        assert.ok('refuse' in r, 'expected a refusal');
        assert.equal(r.refuse, c.want);
      } else {
        assert.ok('charges' in r, 'expected charges');
        assert.deepEqual(Object.fromEntries(r.charges.map((ch) => [ch.quota.metadata.name, ch.used])), c.want);
      }
    });
  }

  it('a service update is charged only for the node ports it adds', () => {
    const q = quota('q', { 'services.nodeports': '3', services: '5' }, { 'services.nodeports': '1', services: '2' });
    const old = { metadata: { name: 's', resourceVersion: '5' }, spec: { type: 'ClusterIP', ports: [{ port: 80 }, { port: 81 }] } };
    const cur = { ...old, spec: { ...old.spec, type: 'NodePort' } };
    const r = checkQuotas([q], { operation: 'UPDATE', object: cur, oldObject: old }, serviceEvaluator);
    assert.ok('charges' in r);
    assert.deepEqual(r.charges[0].used, { 'services.nodeports': '3', services: '2' });
    const over = checkQuotas([quota('q', { 'services.nodeports': '2' }, { 'services.nodeports': '1' })], { operation: 'UPDATE', object: cur, oldObject: old }, serviceEvaluator);
    assert.deepEqual(over, { refuse: 'exceeded quota: q, requested: services.nodeports=2, used: services.nodeports=1, limited: services.nodeports=2' });
  });

  it('a recheck sees usage charged since the quota was listed', () => {
    const listed = quota('q', { pods: '3' }, { pods: '2' });
    assert.equal(recheckQuota(listed, { operation: 'CREATE', object: p }, podEvaluator).kind, 'charge');
    const stored = quota('q', { pods: '3' }, { pods: '3' });
    assert.deepEqual(recheckQuota(stored, { operation: 'CREATE', object: p }, podEvaluator), {
      kind: 'refuse',
      message: 'exceeded quota: q, requested: pods=1, used: pods=3, limited: pods=3',
    });
  });

  it('a refund gives the charge back without going below zero', () => {
    const q = quota('q', { pods: '3', 'requests.cpu': '2' }, { pods: '1', 'requests.cpu': '250m' });
    assert.deepEqual(refundQuota(q, parseResourceList({ pods: '1', 'requests.cpu': '500m' })), { pods: '0', 'requests.cpu': '0' });
  });
});

describe('recomputing a quota from the objects', () => {
  const pods = [
    pod({ containers: [container('a', { cpu: '1' })] }),
    pod({ containers: [container('a')] }),
    pod({ containers: [container('a', { cpu: '2' })] }, { phase: 'Failed' }),
  ];
  const evs = [podEvaluator, serviceEvaluator, evaluatorFor({ group: '', resource: 'configmaps' })!];
  const list = (gr: { resource: string }) => (gr.resource === 'pods' ? pods : gr.resource === 'configmaps' ? [{}, {}] : undefined);
  const cases: { name: string; spec: Record<string, unknown>; want: Record<string, string> }[] = [
    { name: 'terminal pods use no compute but keep their object count', spec: { hard: { pods: '10', 'requests.cpu': '4', 'count/pods': '10' } }, want: { pods: '2', 'requests.cpu': '1', 'count/pods': '3' } },
    { name: 'a BestEffort quota counts only BestEffort pods', spec: { hard: { pods: '10' }, scopes: ['BestEffort'] }, want: { pods: '1' } },
    { name: 'object counts of other kinds are counted too', spec: { hard: { configmaps: '5', 'count/configmaps': '5' } }, want: { configmaps: '2', 'count/configmaps': '2' } },
    { name: 'a resource whose objects are unknown is left out', spec: { hard: { services: '5', pods: '5' } }, want: { pods: '2' } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = formatResourceList(calculateUsage({ spec: c.spec }, evs, list));
      assert.deepEqual(got, formatResourceList(parseResourceList(c.want)));
    });
  }
});
