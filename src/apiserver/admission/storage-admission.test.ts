import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../registry/generic/strategy.js';
import type { AdmissionAttributes } from './index.js';
import { defaultClassOf, defaultStorageClass } from './default-storage-class.js';
import { storageObjectInUseProtection } from './storage-object-in-use-protection.js';
import { persistentVolumeClaimResize } from './persistent-volume-claim-resize.js';

/** Just what the storage plugins read of a request. */
function attrs(resource: string, object: KObject, opts: { operation?: 'CREATE' | 'UPDATE'; subresource?: string; classes?: KObject[]; oldObject?: KObject } = {}): AdmissionAttributes {
  return {
    operation: opts.operation ?? 'CREATE',
    object,
    oldObject: opts.oldObject,
    store: { gr: { group: '', resource } } as any,
    lookup: () => undefined,
    cached: { list: async () => opts.classes ?? [], get: async (_g, _r, _ns, name) => (opts.classes ?? []).find((c) => c.metadata.name === name) },
    subresource: opts.subresource ?? '',
    dryRun: false,
    warn: () => undefined,
    annotate: () => undefined,
  };
}

const sc = (name: string, created: string, isDefault = true): KObject => ({
  metadata: { name, creationTimestamp: created, annotations: isDefault ? { 'storageclass.kubernetes.io/is-default-class': 'true' } : {} },
});

describe('StorageObjectInUseProtection admission', () => {
  const cases: { name: string; resource: string; obj: KObject; operation?: 'CREATE' | 'UPDATE'; subresource?: string; want: string[] | undefined }[] = [
    { name: 'a new claim gets the pvc-protection finalizer', resource: 'persistentvolumeclaims', obj: { metadata: { name: 'c' } }, want: ['kubernetes.io/pvc-protection'] },
    { name: 'a new volume gets the pv-protection finalizer after its own', resource: 'persistentvolumes', obj: { metadata: { name: 'v', finalizers: ['example.com/x'] } }, want: ['example.com/x', 'kubernetes.io/pv-protection'] },
    { name: 'a claim that already has the finalizer keeps one copy', resource: 'persistentvolumeclaims', obj: { metadata: { name: 'c', finalizers: ['kubernetes.io/pvc-protection'] } }, want: ['kubernetes.io/pvc-protection'] },
    { name: 'an update is left alone', resource: 'persistentvolumeclaims', obj: { metadata: { name: 'c' } }, operation: 'UPDATE', want: undefined },
    { name: 'a status write is left alone', resource: 'persistentvolumeclaims', obj: { metadata: { name: 'c' } }, subresource: 'status', want: undefined },
    { name: 'other kinds are left alone', resource: 'configmaps', obj: { metadata: { name: 'c' } }, want: undefined },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await storageObjectInUseProtection.mutate!(attrs(c.resource, c.obj, c));
      assert.deepEqual(c.obj.metadata.finalizers, c.want);
    });
  }
});

describe('DefaultStorageClass admission', () => {
  const classes = [sc('old', '2024-01-01T00:00:00Z'), sc('new', '2024-02-01T00:00:00Z'), sc('plain', '2024-03-01T00:00:00Z', false)];
  const cases: { name: string; spec: KObject; annotations?: Record<string, string>; classes: KObject[]; want: unknown }[] = [
    { name: 'a claim without a class gets the newest default class', spec: {}, classes, want: 'new' },
    { name: 'an explicit empty class means no class and is kept', spec: { storageClassName: '' }, classes, want: '' },
    { name: 'a named class is kept', spec: { storageClassName: 'plain' }, classes, want: 'plain' },
    { name: 'a claim with the beta class annotation is left alone', spec: {}, annotations: { 'volume.beta.kubernetes.io/storage-class': 'x' }, classes, want: undefined },
    { name: 'without a default class nothing is set', spec: {}, classes: [sc('plain', '2024-03-01T00:00:00Z', false)], want: undefined },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const obj: KObject = { metadata: { name: 'c', ...(c.annotations ? { annotations: c.annotations } : {}) }, spec: { ...c.spec } };
      await defaultStorageClass.mutate!(attrs('persistentvolumeclaims', obj, { classes: c.classes }));
      assert.equal(obj.spec.storageClassName, c.want);
    });
  }
  it('breaks a tie between defaults created at the same time by name', () => {
    assert.equal(defaultClassOf([sc('b', '2024-01-01T00:00:00Z'), sc('a', '2024-01-01T00:00:00Z')])?.metadata.name, 'a');
  });
});

describe('PersistentVolumeClaimResize admission', () => {
  const classes = [{ metadata: { name: 'grow' }, allowVolumeExpansion: true }, { metadata: { name: 'fixed' } }];
  const pvc = (size: string, cls: string, phase = 'Bound'): KObject => ({ metadata: { name: 'data' }, spec: { storageClassName: cls, resources: { requests: { storage: size } } }, status: { phase } });
  const cases: { name: string; old: KObject; next: KObject; want?: RegExp }[] = [
    { name: 'a bound claim of an expandable class may grow', old: pvc('1Gi', 'grow'), next: pvc('2Gi', 'grow') },
    { name: 'a claim whose class does not allow expansion may not grow', old: pvc('1Gi', 'fixed'), next: pvc('2Gi', 'fixed'), want: /persistentvolumeclaims "data" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize/ },
    { name: 'a claim without a class may not grow', old: pvc('1Gi', ''), next: pvc('2Gi', ''), want: /must support resize/ },
    { name: 'a pending claim may not grow', old: pvc('1Gi', 'grow', 'Pending'), next: pvc('2Gi', 'grow', 'Pending'), want: /Only bound persistent volume claims can be expanded/ },
    { name: 'an update that does not grow the request is not checked', old: pvc('1Gi', 'fixed'), next: { ...pvc('1Gi', 'fixed'), metadata: { name: 'data', labels: { a: 'b' } } } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const p = persistentVolumeClaimResize.validate!(attrs('persistentvolumeclaims', c.next, { operation: 'UPDATE', oldObject: c.old, classes }));
      if (c.want) await assert.rejects(Promise.resolve(p), c.want);
      else await p;
    });
  }
});
