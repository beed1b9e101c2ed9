import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../../api/errors.js';
import { builtinStrategies } from './index.js';
import { validateMetaFor } from './generic/store.js';
import type { HookContext, KObject } from './generic/strategy.js';

const all = builtinStrategies({ serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 32767] });
const claims = new Set<string>();
const ctx: HookContext = {
  dryRun: false,
  async claim(k) {
    if (claims.has(k)) return false;
    claims.add(k);
    return true;
  },
  async release(k) {
    claims.delete(k);
  },
};

const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx', resources: {} }] } };
const now = '2024-05-01T12:00:00Z';

/** What real clients send for each kind (kubectl, kubelet, controllers). */
const objects: Record<string, KObject> = {
  '/pods': { metadata: { name: 'nginx', labels: { run: 'nginx' } }, spec: { containers: [{ name: 'nginx', image: 'nginx', resources: {} }], restartPolicy: 'Always', dnsPolicy: 'ClusterFirst' }, status: {} },
  '/services': { metadata: { name: 'server', labels: { app: 'server' } }, spec: { ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }], selector: { app: 'server' } }, status: { loadBalancer: {} } },
  '/namespaces': { metadata: { name: 'dev' } },
  '/nodes': {
    metadata: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1' } },
    spec: { podCIDR: '10.42.0.0/24', podCIDRs: ['10.42.0.0/24'] },
    status: { capacity: { cpu: '4', memory: '8029560Ki', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '192.168.1.10' }] },
  },
  '/events': {
    metadata: { name: 'nginx.17c6', namespace: 'default' },
    involvedObject: { kind: 'Pod', namespace: 'default', name: 'nginx', uid: 'u1', apiVersion: 'v1' },
    reason: 'Scheduled',
    message: 'Successfully assigned default/nginx to node-1',
    source: { component: 'default-scheduler' },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    type: 'Normal',
  },
  '/configmaps': { metadata: { name: 'cfg' }, data: { 'app.properties': 'a=b' } },
  '/secrets': { metadata: { name: 'creds' }, stringData: { password: 'x' } },
  '/serviceaccounts': { metadata: { name: 'builder' } },
  '/endpoints': { metadata: { name: 'server' }, subsets: [{ addresses: [{ ip: '10.42.0.5', nodeName: 'node-1' }], ports: [{ port: 80 }] }] },
  '/limitranges': { metadata: { name: 'limits' }, spec: { limits: [{ type: 'Container', default: { cpu: '500m' } }] } },
  '/resourcequotas': { metadata: { name: 'quota' }, spec: { hard: { pods: '10', 'requests.cpu': '4', 'limits.memory': '8Gi' } } },
  '/persistentvolumes': { metadata: { name: 'pv-1' }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/data/pv-1' } } },
  '/persistentvolumeclaims': { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
  'storage.k8s.io/storageclasses': { metadata: { name: 'local', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'rancher.io/local-path', volumeBindingMode: 'WaitForFirstConsumer' },
  'apps/deployments': { metadata: { name: 'web', labels: { app: 'web' } }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template, strategy: {} }, status: {} },
  'apps/replicasets': { metadata: { name: 'web-5d9c' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template } },
  'apps/statefulsets': { metadata: { name: 'db' }, spec: { serviceName: 'db', selector: { matchLabels: { app: 'web' } }, template } },
  'apps/daemonsets': { metadata: { name: 'agent' }, spec: { selector: { matchLabels: { app: 'web' } }, template } },
  'apps/controllerrevisions': { metadata: { name: 'agent-1' }, data: { spec: {} }, revision: 1 },
  'batch/jobs': { metadata: { name: 'pi' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'pi', image: 'perl' }] } } } },
  'batch/cronjobs': { metadata: { name: 'tick' }, spec: { schedule: '*/1 * * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 't', image: 'busybox' }] } } } } } },
  'discovery.k8s.io/endpointslices': { metadata: { name: 'server-abc' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.42.0.5'], conditions: { ready: true } }], ports: [{ name: '', port: 80, protocol: 'TCP' }] },
  'coordination.k8s.io/leases': { metadata: { name: 'node-1' }, spec: { holderIdentity: 'node-1', leaseDurationSeconds: 40, renewTime: '2024-05-01T12:00:00.000000Z' } },
  'events.k8s.io/events': {
    metadata: { name: 'nginx.17c7' },
    eventTime: '2024-05-01T12:00:00.000000Z',
    reportingController: 'default-scheduler',
    reportingInstance: 'default-scheduler-node-1',
    action: 'Binding',
    reason: 'Scheduled',
    regarding: { kind: 'Pod', namespace: 'default', name: 'nginx' },
    note: 'Successfully assigned',
    type: 'Normal',
  },
  'scheduling.k8s.io/priorityclasses': { metadata: { name: 'high' }, value: 1000, description: 'important' },
  'policy/poddisruptionbudgets': { metadata: { name: 'web' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } } },
  // A PKCS#10 request for CN=alice, O=devs (EC P-256), base64 of its PEM as spec.request carries it.
  'certificates.k8s.io/certificatesigningrequests': {
    metadata: { name: 'alice' },
    spec: { request: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlIYU1JR0JBZ0VBTUI4eERqQU1CZ05WQkFNVEJXRnNhV05sTVEwd0N3WURWUVFLRXdSa1pYWnpNRmt3RXdZSApLb1pJemowQ0FRWUlLb1pJemowREFRY0RRZ0FFVElXZkxYcGhKdjJhdlB6dllSUUJRSzNTbDFIVWpaNXlMT2xOCmM3OUtzeHNSWCsrWkpBT2dUT2RmeGZtU08vbXFpQTdYMHBXRWlLNVh0MjBLd2RnQkZhQUFNQW9HQ0NxR1NNNDkKQkFNQ0EwZ0FNRVVDSVFEa1gzNmdVeEg5dDBocm84MDc2QlZFRlphTzZsSElBWXVuRDhwOFl6VkJld0lnS3VZdQp2L2RXalgvWEN2Tkl3Ym41dG1GaFVPU2QvYU1zQ3N1WWdKNDBDaTQ9Ci0tLS0tRU5EIENFUlRJRklDQVRFIFJFUVVFU1QtLS0tLQ==', signerName: 'kubernetes.io/kube-apiserver-client', usages: ['digital signature', 'client auth'], expirationSeconds: 86400 },
  },
  'rbac.authorization.k8s.io/roles': { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] }] },
  'rbac.authorization.k8s.io/clusterroles': { metadata: { name: 'metrics' }, rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }, { apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['web'], verbs: ['get'] }] },
  'rbac.authorization.k8s.io/rolebindings': { metadata: { name: 'read-pods' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'alice' }, { kind: 'ServiceAccount', name: 'robot' }] },
  'rbac.authorization.k8s.io/clusterrolebindings': { metadata: { name: 'metrics' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'metrics' }, subjects: [{ kind: 'Group', name: 'monitoring' }, { kind: 'ServiceAccount', name: 'prom', namespace: 'kube-system' }] },
};

describe('creating a realistic object of every built-in kind', () => {
  for (const s of all) {
    const key = `${s.info.group}/${s.info.resource}`;
    it(`${key} goes through defaults, validation and hooks without errors`, async () => {
      const obj = structuredClone(objects[key]);
      assert.ok(obj, `no sample for ${key}`);
      obj.metadata.uid = `uid-${s.info.resource}`;
      obj.metadata.creationTimestamp = now;
      if (s.info.namespaced) obj.metadata.namespace = 'default';
      if (s.bumpsGeneration) obj.metadata.generation = 1;
      s.prepareForCreate?.(obj);
      s.defaults?.(obj);
      const errs = [...validateMetaFor(s, obj), ...(s.validate?.(obj) ?? [])].map(fieldErrorString);
      assert.deepEqual(errs, []);
      await s.hooks?.beforeCreate?.(obj, ctx);
      if (s.table) assert.equal(s.table.cells(obj, new Date(now)).length, s.table.columns.length);

      // An unchanged update of the stored object is valid too.
      const next = structuredClone(obj);
      next.metadata.resourceVersion = '2';
      s.prepareForUpdate?.(next, obj);
      s.defaults?.(next);
      const uerrs = [...validateMetaFor(s, next, obj), ...(s.validateUpdate?.(next, obj) ?? s.validate?.(next) ?? [])].map(fieldErrorString);
      assert.deepEqual(uerrs, []);
    });
  }
});
