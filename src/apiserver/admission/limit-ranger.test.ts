import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteBackend } from '../../storage/sqlite/sqlite-backend.js';
import { StatusError } from '../../api/errors.js';
import { defaultLimitRange } from '../../api/defaulting/core.js';
import { Store } from '../registry/generic/store.js';
import { podStrategy } from '../registry/core/pods/strategy.js';
import { limitRangeStrategy } from '../registry/core/limitranges/strategy.js';
import { admissionChain } from './index.js';
import { defaultPodResources, limitRanger, limitRangerAnnotation, podLimitViolations, pvcLimitViolations } from './limit-ranger.js';

const lr = (...limits: Record<string, unknown>[]) => defaultLimitRange({ metadata: { name: 'limits' }, spec: { limits } });
const c = (name: string, requests?: Record<string, string>, limits?: Record<string, string>) => ({
  name,
  image: 'nginx',
  resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
});
const pod = (...containers: ReturnType<typeof c>[]) => ({ metadata: { name: 'x' }, spec: { containers } });

describe('LimitRanger defaults', () => {
  const cases: { name: string; lr: any; pod: any; requests: Record<string, string>[]; limits: Record<string, string>[]; note?: string }[] = [
    {
      name: 'a container without resources gets the default limits and default requests',
      lr: lr({ type: 'Container', default: { cpu: '500m', memory: '256Mi' }, defaultRequest: { cpu: '100m', memory: '128Mi' } }),
      pod: pod(c('c')),
      requests: [{ cpu: '100m', memory: '128Mi' }],
      limits: [{ cpu: '500m', memory: '256Mi' }],
      note: 'LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c',
    },
    {
      name: 'a default limit without a default request also becomes the request',
      lr: lr({ type: 'Container', default: { cpu: '1' } }),
      pod: pod(c('c')),
      requests: [{ cpu: '1' }],
      limits: [{ cpu: '1' }],
      note: 'LimitRanger plugin set: cpu request for container c; cpu limit for container c',
    },
    {
      name: 'what a container sets is kept and only the rest is defaulted',
      lr: lr({ type: 'Container', default: { cpu: '500m', memory: '256Mi' }, defaultRequest: { cpu: '100m', memory: '128Mi' } }),
      pod: pod(c('a', { cpu: '200m' }, { cpu: '300m', memory: '1Gi' })),
      requests: [{ cpu: '200m', memory: '128Mi' }],
      limits: [{ cpu: '300m', memory: '1Gi' }],
      note: 'LimitRanger plugin set: memory request for container a',
    },
    {
      name: 'a container that sets everything gets no annotation',
      lr: lr({ type: 'Container', default: { cpu: '1' } }),
      pod: pod(c('a', { cpu: '1' }, { cpu: '1' })),
      requests: [{ cpu: '1' }],
      limits: [{ cpu: '1' }],
    },
    {
      name: 'a Pod-type item sets no defaults',
      lr: lr({ type: 'Pod', max: { cpu: '2' } }),
      pod: pod(c('a')),
      requests: [{}],
      limits: [{}],
    },
  ];
  for (const t of cases) {
    it(t.name, () => {
      const p = structuredClone(t.pod);
      defaultPodResources(t.lr, p);
      assert.deepEqual(
        p.spec.containers.map((x: any) => x.resources.requests ?? {}),
        t.requests,
      );
      assert.deepEqual(
        p.spec.containers.map((x: any) => x.resources.limits ?? {}),
        t.limits,
      );
      assert.equal((p.metadata as any).annotations?.[limitRangerAnnotation], t.note);
    });
  }
});

describe('LimitRanger constraints', () => {
  const cases: { name: string; lr: any; obj: any; pvc?: boolean; want: string[] }[] = [
    { name: 'a limit above the container max is refused', lr: lr({ type: 'Container', max: { cpu: '1' } }), obj: pod(c('a', { cpu: '1' }, { cpu: '2' })), want: ['maximum cpu usage per Container is 1, but limit is 2'] },
    { name: 'a container without a limit under a max is refused', lr: lr({ type: 'Container', max: { cpu: '1' } }), obj: { spec: { containers: [c('a', { cpu: '1' })] } }, want: ['maximum cpu usage per Container is 1.  No limit is specified'] },
    { name: 'a request below the container min is refused', lr: lr({ type: 'Container', min: { memory: '100Mi' } }), obj: pod(c('a', { memory: '50Mi' }, { memory: '200Mi' })), want: ['minimum memory usage per Container is 100Mi, but request is 50Mi'] },
    { name: 'a container without a request under a min is refused', lr: { spec: { limits: [{ type: 'Container', min: { memory: '100Mi' } }] } }, obj: pod(c('a')), want: ['minimum memory usage per Container is 100Mi.  No request is specified'] },
    {
      name: 'a limit far above the request breaks the ratio',
      lr: lr({ type: 'Container', maxLimitRequestRatio: { cpu: '2' } }),
      obj: pod(c('a', { cpu: '250m' }, { cpu: '1' })),
      want: ['cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000'],
    },
    { name: 'a ratio within bounds is allowed', lr: lr({ type: 'Container', maxLimitRequestRatio: { cpu: '2' } }), obj: pod(c('a', { cpu: '500m' }, { cpu: '1' })), want: [] },
    {
      name: 'the Pod type sums the containers',
      lr: lr({ type: 'Pod', max: { cpu: '1' } }),
      obj: pod(c('a', { cpu: '600m' }, { cpu: '600m' }), c('b', { cpu: '600m' }, { cpu: '600m' })),
      want: ['maximum cpu usage per Pod is 1, but limit is 1200m'],
    },
    {
      name: 'every broken constraint is reported',
      lr: lr({ type: 'Container', max: { cpu: '1', memory: '1Gi' } }),
      obj: pod(c('a', { cpu: '2', memory: '2Gi' }, { cpu: '2', memory: '2Gi' })),
      want: ['maximum cpu usage per Container is 1, but limit is 2', 'maximum memory usage per Container is 1Gi, but limit is 2Gi'],
    },
    {
      name: 'a claim above the storage max is refused',
      lr: lr({ type: 'PersistentVolumeClaim', max: { storage: '2Gi' }, min: { storage: '1Gi' } }),
      obj: { spec: { resources: { requests: { storage: '5Gi' } } } },
      pvc: true,
      want: ['maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi'],
    },
    {
      name: 'a claim below the storage min is refused',
      lr: lr({ type: 'PersistentVolumeClaim', min: { storage: '1Gi' } }),
      obj: { spec: { resources: { requests: { storage: '500Mi' } } } },
      pvc: true,
      want: ['minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi'],
    },
  ];
  for (const t of cases) {
    it(t.name, () => {
      assert.deepEqual(t.pvc ? pvcLimitViolations(t.lr, t.obj) : podLimitViolations(t.lr, t.obj), t.want);
    });
  }
});

describe('LimitRanger in the pods store', () => {
  let backend: SqliteBackend;
  let pods: Store;
  before(async () => {
    backend = SqliteBackend.open({ path: ':memory:' });
    const limitranges = new Store(limitRangeStrategy(), backend);
    const lookup = (g: string, r: string) => (g === '' && r === 'limitranges' ? limitranges : undefined);
    pods = new Store(podStrategy(), backend, { admit: admissionChain(lookup, [limitRanger]) });
    await limitranges.create('limited', {
      metadata: { name: 'cpu' },
      spec: { limits: [{ type: 'Container', max: { cpu: '1' }, default: { cpu: '500m', memory: '256Mi' }, defaultRequest: { cpu: '100m', memory: '128Mi' } }] },
    });
  });
  after(async () => {
    await backend.close();
  });

  it('a new pod gets the defaults, the annotation and the matching QoS class', async () => {
    const p = await pods.create('limited', pod(c('c')));
    assert.deepEqual(p.spec.containers[0].resources, { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } });
    assert.equal(p.metadata.annotations[limitRangerAnnotation], 'LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c');
    assert.equal(p.status.qosClass, 'Burstable');
  });

  it('a pod over the max is refused with 403 Forbidden and upstream words', async () => {
    await assert.rejects(pods.create('limited', { ...pod(c('c', { cpu: '1' }, { cpu: '2' })), metadata: { name: 'big' } }), (e: unknown) => {
      assert.ok(e instanceof StatusError);
      assert.equal(e.code, 403);
      assert.equal(e.reason, 'Forbidden');
      assert.equal(e.message, 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2');
      return true;
    });
  });

  it('a pod in a namespace without limit ranges is left as it is', async () => {
    const p = await pods.create('free', { ...pod(c('c')), metadata: { name: 'free' } });
    assert.deepEqual(p.spec.containers[0].resources, {});
    assert.equal(p.metadata.annotations?.[limitRangerAnnotation], undefined);
  });
});
