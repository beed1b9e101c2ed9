import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../errors.js';
import { defaultDaemonSet, defaultDeployment, defaultReplicaSet, defaultStatefulSet } from '../defaulting/apps.js';
import {
  validateControllerRevision,
  validateDaemonSet,
  validateDeployment,
  validateDeploymentUpdate,
  validateReplicaSet,
  validateStatefulSet,
  validateStatefulSetUpdate,
} from './apps.js';

const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } };
function deploy(spec: Record<string, any>): Record<string, any> {
  return defaultDeployment({ metadata: { name: 'web', namespace: 'default' }, spec: structuredClone({ selector: { matchLabels: { app: 'web' } }, template, ...spec }) });
}
const errs = (errors: ReturnType<typeof validateDeployment>) => errors.map(fieldErrorString);

describe('validateDeployment', () => {
  const cases: Array<{ name: string; spec: Record<string, any>; want: string[] }> = [
    { name: 'a kubectl-created deployment is valid', spec: {}, want: [] },
    { name: 'a selector is required', spec: { selector: undefined }, want: ['spec.selector: Required value'] },
    {
      name: 'the selector must match the template labels',
      spec: { selector: { matchLabels: { app: 'db' } } },
      want: ['spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`'],
    },
    { name: 'replicas may not be negative', spec: { replicas: -1 }, want: ['spec.replicas: Invalid value: -1: must be greater than or equal to 0'] },
    {
      name: 'the pod template is validated under spec.template.spec',
      spec: { template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web' }] } } },
      want: ['spec.template.spec.containers[0].image: Required value'],
    },
    {
      name: 'the template restartPolicy must be Always',
      spec: { template: { metadata: { labels: { app: 'web' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'web', image: 'nginx' }] } } },
      want: ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'],
    },
    {
      name: 'the strategy type must be Recreate or RollingUpdate',
      spec: { strategy: { type: 'BlueGreen' } },
      want: ['spec.strategy: Unsupported value: {"type":"BlueGreen"}: supported values: "Recreate", "RollingUpdate"'],
    },
    {
      name: 'maxSurge and maxUnavailable may not both be 0',
      spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } } },
      want: ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0'],
    },
    {
      name: 'maxUnavailable may not exceed 100%',
      spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: '150%' } } },
      want: ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%'],
    },
    {
      name: 'Recreate takes no rollingUpdate',
      spec: { strategy: { type: 'Recreate', rollingUpdate: {} } },
      want: ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"],
    },
    {
      name: 'progressDeadlineSeconds must exceed minReadySeconds',
      spec: { minReadySeconds: 10, progressDeadlineSeconds: 10 },
      want: ['spec.progressDeadlineSeconds: Invalid value: 10: must be greater than minReadySeconds'],
    },
    {
      name: 'an empty selector is invalid',
      spec: { selector: {} },
      want: ['spec.selector: Invalid value: {}: empty selector is invalid for deployment'],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(errs(validateDeployment(deploy(c.spec))), c.want));

  it('the selector is immutable in apps/v1', () => {
    const old = deploy({});
    const next = deploy({ selector: { matchLabels: { app: 'web', tier: 'x' } }, template: { ...template, metadata: { labels: { app: 'web', tier: 'x' } } } });
    assert.deepEqual(errs(validateDeploymentUpdate(next, old)), ['spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"x"}}: field is immutable']);
  });
});

describe('other apps/v1 kinds', () => {
  it('a ReplicaSet with a mismatched selector is refused', () => {
    const rs = defaultReplicaSet({ metadata: { name: 'r' }, spec: { selector: { matchLabels: { app: 'x' } }, template: structuredClone(template) } });
    assert.deepEqual(errs(validateReplicaSet(rs)), ['spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`']);
  });
  it('a StatefulSet may mount its volume claim templates', () => {
    const t = structuredClone(template) as any;
    t.spec.containers[0].volumeMounts = [{ name: 'data', mountPath: '/data' }];
    const sts = defaultStatefulSet({ metadata: { name: 's' }, spec: { selector: { matchLabels: { app: 'web' } }, template: t, volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: {} }] } });
    assert.deepEqual(errs(validateStatefulSet(sts)), []);
  });
  it('a StatefulSet may not change its selector or service name', () => {
    const old = defaultStatefulSet({ metadata: { name: 's' }, spec: { serviceName: 'a', selector: { matchLabels: { app: 'web' } }, template: structuredClone(template) } });
    const next = structuredClone(old);
    next.spec.serviceName = 'b';
    assert.deepEqual(errs(validateStatefulSetUpdate(next, old)), [
      "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    ]);
  });
  it('a DaemonSet may not use both maxSurge and maxUnavailable', () => {
    const ds = defaultDaemonSet({ metadata: { name: 'd' }, spec: { selector: { matchLabels: { app: 'web' } }, template: structuredClone(template), updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } } } });
    assert.deepEqual(errs(validateDaemonSet(ds)), ['spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero']);
  });
  it('a ControllerRevision needs data', () => {
    assert.deepEqual(errs(validateControllerRevision({ revision: 1 })), ['data: Required value: data is mandatory']);
  });
});
