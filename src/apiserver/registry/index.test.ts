import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../../api/errors.js';
import { builtinStrategies } from './index.js';
import { validateMetaFor } from './generic/store.js';
import type { KObject, Strategy } from './generic/strategy.js';
import { namespacePendingFinalization } from './core/namespaces/strategy.js';
import { generateJobSelector, jobStatus } from './batch/jobs/strategy.js';
import { nodeRoles, nodeStatus } from './core/nodes/strategy.js';
import { formatEndpoints } from './core/endpoints/strategy.js';
import { controllerOf } from './apps/controllerrevisions/strategy.js';
import { quotaCells } from './core/resourcequotas/strategy.js';

const all = builtinStrategies({ serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 32767] });
const byResource = (group: string, resource: string): Strategy => {
  const s = all.find((x) => x.info.group === group && x.info.resource === resource);
  assert.ok(s, `${group}/${resource}`);
  return s;
};
const now = new Date('2024-05-01T12:00:00Z');

describe('builtinStrategies', () => {
  it('serves each group/resource once', () => {
    const keys = all.map((s) => `${s.info.group}/${s.info.resource}`);
    assert.equal(new Set(keys).size, keys.length);
    assert.equal(keys.length, 31);
  });
  it('gives the upstream short names', () => {
    const want: Record<string, string[]> = {
      '/pods': ['po'],
      '/services': ['svc'],
      '/namespaces': ['ns'],
      '/nodes': ['no'],
      '/configmaps': ['cm'],
      '/endpoints': ['ep'],
      '/events': ['ev'],
      '/serviceaccounts': ['sa'],
      '/limitranges': ['limits'],
      '/resourcequotas': ['quota'],
      '/persistentvolumes': ['pv'],
      '/persistentvolumeclaims': ['pvc'],
      'storage.k8s.io/storageclasses': ['sc'],
      'apps/deployments': ['deploy'],
      'apps/replicasets': ['rs'],
      'apps/statefulsets': ['sts'],
      'apps/daemonsets': ['ds'],
      'batch/cronjobs': ['cj'],
      'policy/poddisruptionbudgets': ['pdb'],
      'scheduling.k8s.io/priorityclasses': ['pc'],
    };
    for (const [k, v] of Object.entries(want)) {
      const [g, r] = k.split('/');
      assert.deepEqual(byResource(g, r).info.shortNames, v, k);
    }
  });
  it('puts exactly the upstream kinds in the all category', () => {
    const cat = all.filter((s) => s.info.categories?.includes('all')).map((s) => s.info.resource).sort();
    assert.deepEqual(cat, ['cronjobs', 'daemonsets', 'deployments', 'jobs', 'pods', 'replicasets', 'services', 'statefulsets']);
  });
  it('marks the cluster-scoped kinds', () => {
    const cluster = all.filter((s) => !s.info.namespaced).map((s) => s.info.resource).sort();
    assert.deepEqual(cluster, ['certificatesigningrequests', 'clusterrolebindings', 'clusterroles', 'namespaces', 'nodes', 'persistentvolumes', 'priorityclasses', 'storageclasses']);
  });
  it('bumps generation for kinds with a spec/status split', () => {
    const bumps = all.filter((s) => s.bumpsGeneration).map((s) => s.info.resource).sort();
    assert.deepEqual(bumps, ['cronjobs', 'daemonsets', 'deployments', 'jobs', 'poddisruptionbudgets', 'replicasets', 'statefulsets']);
  });
  it('offers /scale for deployments, replicasets and statefulsets', () => {
    assert.deepEqual(all.filter((s) => s.scale).map((s) => s.info.resource).sort(), ['deployments', 'replicasets', 'statefulsets']);
  });

  const samples: Record<string, KObject> = {
    pods: { metadata: { name: 'p', creationTimestamp: '2024-05-01T11:00:00Z' }, spec: { containers: [{ name: 'a' }] }, status: { phase: 'Running' } },
    services: { metadata: { name: 's' }, spec: { type: 'NodePort', clusterIPs: ['10.43.0.5'], ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }], selector: { app: 'web' } } },
    deployments: { metadata: { name: 'd' }, spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { spec: { containers: [{ name: 'a', image: 'nginx' }] } } }, status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 } },
  };
  for (const s of all) {
    if (!s.table) continue;
    it(`${s.info.resource} rows have one cell per column`, () => {
      const obj = samples[s.info.resource] ?? { metadata: { name: 'x', creationTimestamp: '2024-05-01T11:00:00Z' } };
      assert.equal(s.table!.cells(obj, now).length, s.table!.columns.length);
    });
  }
  it('the services row prints ports with node ports and the selector', () => {
    assert.deepEqual(byResource('', 'services').table!.cells(samples.services, now), ['s', 'NodePort', '10.43.0.5', '<none>', '80:30080/TCP', '<unknown>', 'app=web']);
  });
  it('a pending LoadBalancer shows <pending> as its external IP', () => {
    const cells = byResource('', 'services').table!.cells({ metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', clusterIPs: ['10.43.0.6'], ports: [{ port: 80, nodePort: 30081, protocol: 'TCP' }] } }, now);
    assert.equal(cells[3], '<pending>');
  });
  it('the deployments row shows ready/desired and the selector', () => {
    assert.deepEqual(byResource('apps', 'deployments').table!.cells(samples.deployments, now), ['d', '2/3', 3, 2, '<unknown>', 'a', 'nginx', 'app=web']);
  });
  it('the deployments scale reads and writes spec.replicas', () => {
    const sc = byResource('apps', 'deployments').scale!;
    const d = structuredClone(samples.deployments);
    sc.setSpecReplicas(d, 5);
    assert.equal(sc.specReplicas(d), 5);
    assert.equal(sc.selector(d), 'app=web');
  });
});

describe('generic metadata validation', () => {
  it('Service names are RFC 1035 labels', () => {
    const svc = byResource('', 'services');
    assert.deepEqual(validateMetaFor(svc, { metadata: { name: '1web', namespace: 'default' } }).map(fieldErrorString), [
      `metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
    ]);
  });
  it('Pod names are subdomains', () => {
    assert.deepEqual(validateMetaFor(byResource('', 'pods'), { metadata: { name: 'web.v1', namespace: 'default' } }), []);
  });
  it('Namespaces are cluster-scoped RFC 1123 labels', () => {
    assert.deepEqual(validateMetaFor(byResource('', 'namespaces'), { metadata: { name: 'a.b' } }).map(fieldErrorString), ['metadata.name: Invalid value: "a.b": must not contain dots']);
  });
  it('core/v1 Events skip metadata validation as upstream does', () => {
    assert.deepEqual(validateMetaFor(byResource('', 'events'), { metadata: { name: 'Pod.Name_x', namespace: 'default' } }), []);
  });
  it('an update may not rename the object', () => {
    const old = { metadata: { name: 'a', namespace: 'default', uid: '1' } };
    assert.deepEqual(validateMetaFor(byResource('', 'pods'), { metadata: { name: 'b', namespace: 'default', uid: '1' } }, old).map(fieldErrorString), [
      'metadata.name: Invalid value: "b": field is immutable',
    ]);
  });
});

describe('per-kind behaviour', () => {
  it('a new pod gets status Pending with its QoS class (its service account is admission\'s)', () => {
    const pods = byResource('', 'pods');
    const p: KObject = { metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'a', image: 'x' }] }, status: { phase: 'Running' } };
    pods.prepareForCreate!(p);
    assert.deepEqual(p.status, { phase: 'Pending', qosClass: 'BestEffort' });
    assert.equal(p.spec.serviceAccountName, undefined);
    assert.deepEqual(pods.validate!(p), []);
  });
  it('a pod update keeps the stored status', () => {
    const pods = byResource('', 'pods');
    const old: KObject = { spec: {}, status: { phase: 'Running' } };
    const next: KObject = { spec: {}, status: { phase: 'Failed' } };
    pods.prepareForUpdate!(next, old);
    assert.deepEqual(next.status, { phase: 'Running' });
  });
  it('a pod status update keeps the stored spec', () => {
    const pods = byResource('', 'pods');
    const old: KObject = { metadata: { ownerReferences: [{ uid: '1' }] }, spec: { nodeName: 'a' }, status: {} };
    const next: KObject = { metadata: { ownerReferences: [] }, spec: { nodeName: 'b' }, status: { phase: 'Running' } };
    pods.status!.prepareForUpdate(next, old);
    assert.deepEqual(next.spec, { nodeName: 'a' });
    assert.deepEqual(next.metadata.ownerReferences, [{ uid: '1' }]);
    assert.deepEqual(next.status, { phase: 'Running' });
  });
  it('a new namespace is Active with the kubernetes finalizer', () => {
    const ns = byResource('', 'namespaces');
    const obj: KObject = { metadata: { name: 'dev' } };
    ns.prepareForCreate!(obj);
    ns.defaults!(obj);
    assert.deepEqual(obj.spec, { finalizers: ['kubernetes'] });
    assert.deepEqual(obj.status, { phase: 'Active' });
  });
  it('a namespace with spec finalizers waits and turns Terminating', () => {
    const obj: KObject = { spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
    assert.equal(namespacePendingFinalization(obj), true);
    assert.equal(obj.status.phase, 'Terminating');
    assert.equal(namespacePendingFinalization({ spec: { finalizers: [] } }), false);
  });
  it('a namespace update may not change spec.finalizers', () => {
    const ns = byResource('', 'namespaces');
    const next: KObject = { spec: { finalizers: [] } };
    ns.prepareForUpdate!(next, { spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    assert.deepEqual(next.spec.finalizers, ['kubernetes']);
  });
  it('a new job selects on its uid and labels its template', () => {
    const job: KObject = { metadata: { name: 'pi', uid: 'u-1' }, spec: { template: { metadata: { labels: { app: 'pi' } }, spec: {} } } };
    generateJobSelector(job);
    assert.deepEqual(job.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u-1' } });
    assert.deepEqual(job.spec.template.metadata.labels, {
      app: 'pi',
      'job-name': 'pi',
      'batch.kubernetes.io/job-name': 'pi',
      'controller-uid': 'u-1',
      'batch.kubernetes.io/controller-uid': 'u-1',
    });
  });
  it('a job created through the strategy validates', () => {
    const jobs = byResource('batch', 'jobs');
    const job: KObject = {
      metadata: { name: 'pi', namespace: 'default', uid: 'u-1' },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'pi', image: 'perl' }] } } },
    };
    jobs.prepareForCreate!(job);
    jobs.defaults!(job);
    assert.deepEqual(jobs.validate!(job).map(fieldErrorString), []);
  });
  it('a job status follows its conditions', () => {
    assert.equal(jobStatus({ status: { conditions: [{ type: 'Complete', status: 'True' }] } }), 'Complete');
    assert.equal(jobStatus({ metadata: { deletionTimestamp: 'x' }, status: {} }), 'Terminating');
    assert.equal(jobStatus({ status: {} }), 'Running');
  });
  it('a deployment annotation change bumps the generation', () => {
    const d = byResource('apps', 'deployments');
    const next: KObject = { metadata: { generation: 4, annotations: { a: '2' } }, spec: {} };
    d.prepareForUpdate!(next, { metadata: { generation: 4, annotations: { a: '1' } }, spec: {}, status: { replicas: 1 } });
    assert.equal(next.metadata.generation, 5);
    assert.deepEqual(next.status, { replicas: 1 });
  });
  it('node status and roles read the Ready condition and role labels', () => {
    const node = { metadata: { labels: { 'node-role.kubernetes.io/control-plane': '', 'kubernetes.io/role': 'master' } }, spec: { unschedulable: true }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
    assert.equal(nodeStatus(node), 'Ready,SchedulingDisabled');
    assert.deepEqual(nodeRoles(node), ['control-plane', 'master']);
    assert.equal(nodeStatus({}), 'Unknown');
  });
  it('endpoints print at most three addresses', () => {
    const ep = { subsets: [{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }, { ip: '10.0.0.4' }], ports: [{ port: 80 }] }] };
    assert.equal(formatEndpoints(ep), '10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...');
    assert.equal(formatEndpoints({}), '<none>');
  });
  it('a controller revision names its controller with kind and group', () => {
    assert.equal(controllerOf({ metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'fluentd', controller: true }] } }), 'daemonset.apps/fluentd');
  });
  it('quota cells split requests and limits', () => {
    assert.deepEqual(quotaCells({ status: { hard: { 'limits.cpu': '2', pods: '10', 'requests.cpu': '1' }, used: { pods: '3', 'requests.cpu': '500m' } } }), [
      'pods: 3/10, requests.cpu: 500m/1',
      'limits.cpu: 0/2',
    ]);
  });
  it('events rows name the object and count singleton events once', () => {
    const ev = byResource('', 'events');
    const cells = ev.table!.cells(
      { metadata: { name: 'web.1' }, involvedObject: { kind: 'Pod', name: 'web' }, type: 'Normal', reason: 'Scheduled', message: ' Assigned ', source: { component: 'default-scheduler' }, firstTimestamp: '2024-05-01T11:59:00Z', lastTimestamp: '2024-05-01T11:59:30Z' },
      now,
    );
    assert.deepEqual(cells, ['30s', 'Normal', 'Scheduled', 'pod/web', '', 'default-scheduler', 'Assigned', '60s', 1, 'web.1']);
  });
  it('events select on their involved object', () => {
    const ev = byResource('', 'events');
    const f = ev.selectableFields!({ involvedObject: { uid: 'u', name: 'web', namespace: 'default' }, reportingComponent: 'kubelet' });
    assert.equal(f['involvedObject.uid'], 'u');
    assert.equal(f.source, 'kubelet');
  });
});
