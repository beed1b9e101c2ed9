import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../../../../api/errors.js';
import type { KObject } from '../../generic/strategy.js';
import { persistentVolumeStrategy } from './strategy.js';

const clock = () => new Date('2024-05-01T12:00:00.123Z');
const s = persistentVolumeStrategy(clock);
const pv = (spec: KObject, extra: KObject = {}): KObject => ({ metadata: { name: 'pv-1', creationTimestamp: '2024-05-01T11:00:00Z' }, spec, ...extra });
const base = { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/data' } };

function errorsOf(obj: KObject): string[] {
  s.prepareForCreate!(obj);
  s.defaults!(obj);
  return s.validate!(obj).map(fieldErrorString);
}

describe('PersistentVolume strategy', () => {
  it('defaults the reclaim policy to Retain, the volume mode to Filesystem and starts the volume Pending with a transition time', () => {
    const obj = pv(structuredClone(base), { status: { phase: 'Bound' } });
    assert.deepEqual(errorsOf(obj), []);
    assert.equal(obj.spec.persistentVolumeReclaimPolicy, 'Retain');
    assert.equal(obj.spec.volumeMode, 'Filesystem');
    assert.deepEqual(obj.status, { phase: 'Pending', lastPhaseTransitionTime: '2024-05-01T12:00:00Z' });
  });

  const cases: [string, KObject, string[]][] = [
    ['a volume without access modes is refused', { capacity: { storage: '1Gi' }, hostPath: { path: '/d' } }, ['spec.accessModes: Required value']],
    [
      'an unknown access mode is refused with the supported list',
      { ...base, accessModes: ['ReadWriteSometimes'] },
      ['spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'],
    ],
    ['ReadWriteOncePod may not be mixed with other modes', { ...base, accessModes: ['ReadWriteOncePod', 'ReadWriteOnce'] }, ['spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes']],
    ['a volume without capacity is refused', { accessModes: ['ReadWriteOnce'], hostPath: { path: '/d' } }, ['spec.capacity: Required value', 'spec.capacity: Unsupported value: {}: supported values: "storage"']],
    ['a zero capacity is refused', { ...base, capacity: { storage: '0' } }, ['spec.capacity[storage]: Invalid value: "0": must be greater than zero']],
    ['a volume without any source is refused', { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] }, ['spec: Required value: must specify a volume type']],
    ['a second volume source is forbidden at its own path', { ...base, nfs: { server: 'nfs', path: '/x' } }, ['spec.nfs: Forbidden: may not specify more than 1 volume type']],
    ['a local volume needs node affinity', { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], local: { path: '/mnt/disk' } }, ['spec.nodeAffinity: Required value: Local volume requires node affinity']],
    ['an unknown reclaim policy is refused', { ...base, persistentVolumeReclaimPolicy: 'Keep' }, ['spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"']],
    ['an unknown volume mode is refused', { ...base, volumeMode: 'Tape' }, ['spec.volumeMode: Unsupported value: "Tape": supported values: "Block", "Filesystem"']],
    ['a storage class name must be a DNS subdomain', { ...base, storageClassName: 'Fast_SSD' }, ['spec.storageClassName: Invalid value: "Fast_SSD": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\', and must start and end with an alphanumeric character (e.g. \'example.com\', regex used for validation is \'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\')']],
  ];
  for (const [name, spec, want] of cases) {
    it(name, () => {
      assert.deepEqual(errorsOf(pv(structuredClone(spec))), want);
    });
  }

  it('keeps the volume source immutable but lets the binder set a claim reference', () => {
    const old = pv(structuredClone(base));
    errorsOf(old);
    const bind = structuredClone(old);
    bind.spec.claimRef = { kind: 'PersistentVolumeClaim', namespace: 'default', name: 'data', uid: 'u1' };
    s.prepareForUpdate!(bind, old);
    assert.deepEqual(s.validateUpdate!(bind, old).map(fieldErrorString), []);
    const moved = structuredClone(old);
    moved.spec.hostPath.path = '/elsewhere';
    assert.deepEqual(s.validateUpdate!(moved, old).map(fieldErrorString), ['spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation']);
  });

  it('stamps a new lastPhaseTransitionTime on a status update that changes the phase and keeps it otherwise', () => {
    const old = pv(structuredClone(base), { status: { phase: 'Pending', lastPhaseTransitionTime: '2024-01-01T00:00:00Z' } });
    const same = structuredClone(old);
    delete same.status.lastPhaseTransitionTime;
    s.status!.prepareForUpdate(same, old);
    assert.equal(same.status.lastPhaseTransitionTime, '2024-01-01T00:00:00Z');
    const moved = structuredClone(old);
    moved.status.phase = 'Available';
    moved.spec.capacity.storage = '5Gi';
    s.status!.prepareForUpdate(moved, old);
    assert.equal(moved.status.lastPhaseTransitionTime, '2024-05-01T12:00:00Z');
    assert.equal(moved.spec.capacity.storage, '1Gi', 'a status update cannot change the spec');
  });

  it('prints the columns kubectl 1.32 shows, Terminating while deleting and VOLUMEMODE in the wide view', () => {
    assert.deepEqual(
      s.table!.columns.map((c) => `${c.name}${c.priority ? '*' : ''}`),
      ['Name', 'Capacity', 'Access Modes', 'Reclaim Policy', 'Status', 'Claim', 'StorageClass', 'VolumeAttributesClass', 'Reason', 'Age', 'VolumeMode*'],
    );
    const bound = pv(
      { ...base, capacity: { storage: '1024Mi' }, accessModes: ['ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', claimRef: { namespace: 'default', name: 'data' }, storageClassName: 'manual', volumeMode: 'Filesystem' },
      { status: { phase: 'Bound' } },
    );
    assert.deepEqual(s.table!.cells(bound, clock()), ['pv-1', '1Gi', 'RWO,RWX', 'Retain', 'Bound', 'default/data', 'manual', '<unset>', '', '60m', 'Filesystem']);
    bound.metadata.deletionTimestamp = '2024-05-01T11:59:00Z';
    assert.equal(s.table!.cells(bound, clock())[4], 'Terminating');
  });
});
