import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admitNewPod, computePodQOS, defaultImagePullPolicy, defaultPod, defaultPodSpec } from './pod.js';
import { defaultService, defaultServiceIPFamilies } from './service.js';
import { defaultDaemonSet, defaultDeployment, defaultReplicaSet, defaultStatefulSet } from './apps.js';
import { defaultCronJob, defaultJob } from './batch.js';
import { defaultLimitRange, defaultNamespace, defaultNode, defaultPriorityClass, defaultSecret } from './core.js';

describe('pod defaults', () => {
  const pullCases: Array<[string, string]> = [
    ['nginx', 'Always'],
    ['nginx:latest', 'Always'],
    ['nginx:1.25', 'IfNotPresent'],
    ['localhost:5000/nginx', 'Always'],
    ['localhost:5000/nginx:v1', 'IfNotPresent'],
    ['nginx@sha256:abcd', 'IfNotPresent'],
    ['', 'IfNotPresent'],
  ];
  for (const [image, want] of pullCases) it(`image "${image}" pulls ${want}`, () => assert.equal(defaultImagePullPolicy(image), want));

  it('a kubectl run pod gets upstream pod defaults', () => {
    const pod = defaultPod({ spec: { containers: [{ name: 'nginx', image: 'nginx', resources: {}, ports: [{ containerPort: 80 }] }] } });
    assert.deepEqual(pod.spec, {
      containers: [
        {
          name: 'nginx',
          image: 'nginx',
          resources: {},
          ports: [{ containerPort: 80, protocol: 'TCP' }],
          imagePullPolicy: 'Always',
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
        },
      ],
      dnsPolicy: 'ClusterFirst',
      restartPolicy: 'Always',
      securityContext: {},
      terminationGracePeriodSeconds: 30,
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
    });
  });
  it('limits without requests become requests on a pod', () => {
    const pod = defaultPod({ spec: { containers: [{ name: 'a', image: 'x', resources: { limits: { cpu: '1', memory: '1Gi' } } }] } });
    assert.deepEqual(pod.spec.containers[0].resources.requests, { cpu: '1', memory: '1Gi' });
  });
  it('templates do not get enableServiceLinks or requests from limits', () => {
    const spec = defaultPodSpec({ containers: [{ name: 'a', image: 'x', resources: { limits: { cpu: '1' } } }] });
    assert.equal(spec.enableServiceLinks, undefined);
    assert.equal(spec.containers[0].resources.requests, undefined);
  });
  it('probes get their timing defaults and http probes a path and scheme', () => {
    const spec = defaultPodSpec({ containers: [{ name: 'a', image: 'x', readinessProbe: { httpGet: { port: 80 } } }] });
    assert.deepEqual(spec.containers[0].readinessProbe, { httpGet: { port: 80, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
  });
  it('a volume without a source becomes an emptyDir and secret volumes get mode 0644', () => {
    const spec = defaultPodSpec({ containers: [], volumes: [{ name: 'a' }, { name: 'b', secret: { secretName: 's' } }] });
    assert.deepEqual(spec.volumes, [
      { name: 'a', emptyDir: {} },
      { name: 'b', secret: { secretName: 's', defaultMode: 420 } },
    ]);
  });
  it('admission sets the service account, priority and the not-ready/unreachable tolerations', () => {
    const pod = admitNewPod(defaultPod({ spec: { containers: [{ name: 'a', image: 'x' }] } }));
    assert.equal(pod.spec.serviceAccountName, 'default');
    assert.equal(pod.spec.serviceAccount, 'default');
    assert.equal(pod.spec.priority, 0);
    assert.equal(pod.spec.preemptionPolicy, 'PreemptLowerPriority');
    assert.deepEqual(pod.spec.tolerations, [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ]);
  });
  it('admission keeps an existing not-ready toleration and uses system priorities', () => {
    const pod = admitNewPod({
      spec: { priorityClassName: 'system-node-critical', tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 }] },
    });
    assert.equal(pod.spec.priority, 2000001000);
    assert.equal(pod.spec.tolerations.length, 2);
    assert.equal(pod.spec.tolerations[0].tolerationSeconds, 10);
  });
  const qos: Array<[string, any[], string]> = [
    ['no resources is BestEffort', [{}], 'BestEffort'],
    ['equal cpu and memory requests and limits is Guaranteed', [{ resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1000m', memory: '1Gi' } } }], 'Guaranteed'],
    ['requests only is Burstable', [{ resources: { requests: { cpu: '100m' } } }], 'Burstable'],
  ];
  for (const [name, cs, want] of qos) it(name, () => assert.equal(computePodQOS({ spec: { containers: cs } }), want));
});

describe('service defaults', () => {
  it('a kubectl expose service gets upstream defaults', () => {
    const svc = defaultServiceIPFamilies(defaultService({ spec: { ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }], selector: { app: 'server' } } }), 'IPv4');
    assert.deepEqual(svc.spec, {
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      selector: { app: 'server' },
      sessionAffinity: 'None',
      type: 'ClusterIP',
      internalTrafficPolicy: 'Cluster',
      ipFamilyPolicy: 'SingleStack',
      ipFamilies: ['IPv4'],
    });
  });
  it('targetPort defaults to port and a NodePort gets externalTrafficPolicy Cluster', () => {
    const svc = defaultService({ spec: { type: 'NodePort', ports: [{ port: 8080 }] } });
    assert.equal(svc.spec.ports[0].targetPort, 8080);
    assert.equal(svc.spec.externalTrafficPolicy, 'Cluster');
  });
  it('a LoadBalancer allocates node ports by default', () => {
    assert.equal(defaultService({ spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } }).spec.allocateLoadBalancerNodePorts, true);
  });
  it('ClientIP affinity gets a three-hour timeout', () => {
    assert.deepEqual(defaultService({ spec: { sessionAffinity: 'ClientIP' } }).spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10800 } });
  });
  it('an ExternalName service gets no IP family fields', () => {
    const svc = defaultServiceIPFamilies(defaultService({ spec: { type: 'ExternalName', externalName: 'x.io' } }), 'IPv4');
    assert.equal(svc.spec.ipFamilies, undefined);
    assert.equal(svc.spec.internalTrafficPolicy, undefined);
  });
  it('a selectorless headless service requires dual stack like upstream', () => {
    const svc = defaultServiceIPFamilies(defaultService({ spec: { clusterIP: 'None' } }), 'IPv4');
    assert.equal(svc.spec.ipFamilyPolicy, 'RequireDualStack');
    assert.deepEqual(svc.spec.ipFamilies, ['IPv4', 'IPv6']);
  });
});

describe('workload defaults', () => {
  it('a kubectl create deployment gets replicas, strategy, limits and pod defaults', () => {
    const d = defaultDeployment({ spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx', resources: {} }] } }, strategy: {} } });
    assert.deepEqual(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
    assert.equal(d.spec.replicas, 2);
    assert.equal(d.spec.revisionHistoryLimit, 10);
    assert.equal(d.spec.progressDeadlineSeconds, 600);
    assert.equal(d.spec.template.spec.restartPolicy, 'Always');
    assert.equal(d.spec.template.spec.containers[0].imagePullPolicy, 'Always');
  });
  it('a deployment without replicas gets one', () => assert.equal(defaultDeployment({ spec: {} }).spec.replicas, 1));
  it('a ReplicaSet without replicas gets one', () => assert.equal(defaultReplicaSet({ spec: {} }).spec.replicas, 1));
  it('a StatefulSet gets OrderedReady, partition 0 and Retain', () => {
    const s = defaultStatefulSet({ spec: { volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: {} }] } });
    assert.equal(s.spec.podManagementPolicy, 'OrderedReady');
    assert.deepEqual(s.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
    assert.deepEqual(s.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
    assert.equal(s.spec.revisionHistoryLimit, 10);
    assert.deepEqual(s.spec.volumeClaimTemplates[0], { metadata: { name: 'data' }, spec: { volumeMode: 'Filesystem' }, status: { phase: 'Pending' } });
  });
  it('a DaemonSet rolls one node at a time without surge', () => {
    assert.deepEqual(defaultDaemonSet({ spec: {} }).spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
  });
  it('a Job gets completions, parallelism, backoffLimit and labels from its template', () => {
    const j = defaultJob({ metadata: { name: 'pi' }, spec: { template: { metadata: { labels: { app: 'pi' } }, spec: { containers: [] } } } });
    assert.equal(j.spec.completions, 1);
    assert.equal(j.spec.parallelism, 1);
    assert.equal(j.spec.backoffLimit, 6);
    assert.equal(j.spec.completionMode, 'NonIndexed');
    assert.equal(j.spec.suspend, false);
    assert.equal(j.spec.podReplacementPolicy, 'TerminatingOrFailed');
    assert.deepEqual(j.metadata.labels, { app: 'pi' });
  });
  it('a work-queue Job with parallelism keeps completions unset', () => {
    const j = defaultJob({ spec: { parallelism: 3 } });
    assert.equal(j.spec.completions, undefined);
  });
  it('a CronJob gets Allow and history limits 3 and 1', () => {
    const c = defaultCronJob({ spec: {} });
    assert.equal(c.spec.concurrencyPolicy, 'Allow');
    assert.equal(c.spec.suspend, false);
    assert.equal(c.spec.successfulJobsHistoryLimit, 3);
    assert.equal(c.spec.failedJobsHistoryLimit, 1);
  });
});

describe('other defaults', () => {
  it('a namespace gets its name label and phase Active', () => {
    assert.deepEqual(defaultNamespace({ metadata: { name: 'dev' } }), { metadata: { name: 'dev', labels: { 'kubernetes.io/metadata.name': 'dev' } }, status: { phase: 'Active' } });
  });
  it('a node without allocatable reports its capacity', () => assert.deepEqual(defaultNode({ status: { capacity: { cpu: '4' } } }).status.allocatable, { cpu: '4' }));
  it('a secret is Opaque and stringData becomes base64 data', () => {
    assert.deepEqual(defaultSecret({ stringData: { password: 'hunter2' } }), { type: 'Opaque', data: { password: 'aHVudGVyMg==' } });
  });
  it('a container limit range defaults limits from max and requests from limits', () => {
    const lr = defaultLimitRange({ spec: { limits: [{ type: 'Container', max: { cpu: '2' }, min: { memory: '64Mi' } }] } });
    assert.deepEqual(lr.spec.limits[0].default, { cpu: '2' });
    assert.deepEqual(lr.spec.limits[0].defaultRequest, { cpu: '2', memory: '64Mi' });
  });
  it('a priority class preempts lower priorities by default', () => assert.equal(defaultPriorityClass({}).preemptionPolicy, 'PreemptLowerPriority'));
});
