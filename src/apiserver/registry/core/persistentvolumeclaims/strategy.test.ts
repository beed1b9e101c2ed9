import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../../../../api/errors.js';
import type { KObject } from '../../generic/strategy.js';
import { persistentVolumeClaimStrategy } from './strategy.js';

const s = persistentVolumeClaimStrategy();
const now = new Date('2024-05-01T12:00:00Z');
const spec = () => ({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } });
const pvc = (sp: KObject, extra: KObject = {}): KObject => ({ metadata: { name: 'data', namespace: 'default', creationTimestamp: '2024-05-01T11:58:00Z' }, spec: sp, ...extra });

function created(sp: KObject): { obj: KObject; errs: string[] } {
  const obj = pvc(sp, { status: { phase: 'Bound' } });
  s.prepareForCreate!(obj);
  s.defaults!(obj);
  return { obj, errs: s.validate!(obj).map(fieldErrorString) };
}

/** The errors of an update from a stored claim (in `phase`) to one changed by `edit`. */
function updateErrors(phase: string, edit: (o: KObject) => void): string[] {
  const old = created(spec()).obj;
  old.status = { phase, capacity: { storage: '1Gi' } };
  if (phase === 'Bound') old.spec.volumeName = 'pv-1';
  const next = structuredClone(old);
  edit(next);
  s.prepareForUpdate!(next, old);
  s.defaults!(next);
  return s.validateUpdate!(next, old).map(fieldErrorString);
}

describe('PersistentVolumeClaim strategy', () => {
  it('starts every claim Pending with volume mode Filesystem whatever status the client sent', () => {
    const { obj, errs } = created(spec());
    assert.deepEqual(errs, []);
    assert.deepEqual(obj.status, { phase: 'Pending' });
    assert.equal(obj.spec.volumeMode, 'Filesystem');
  });

  const createCases: [string, KObject, string[]][] = [
    ['a claim without access modes is refused', { resources: { requests: { storage: '1Gi' } } }, ['spec.accessModes: Required value: at least 1 access mode is required']],
    ['a claim without a storage request is refused', { accessModes: ['ReadWriteOnce'] }, ['spec.resources[storage]: Required value']],
    ['a zero storage request is refused', { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '0' } } }, ['spec.resources[storage]: Invalid value: "0": must be greater than zero']],
    ['an invalid selector operator is refused', { ...spec(), selector: { matchExpressions: [{ key: 'a', operator: 'Near' }] } }, ['spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator']],
    ['an unknown volume mode is refused', { ...spec(), volumeMode: 'Tape' }, ['spec.volumeMode: Unsupported value: "Tape": supported values: "Block", "Filesystem"']],
  ];
  for (const [name, sp, want] of createCases) {
    it(name, () => {
      assert.deepEqual(created(structuredClone(sp)).errs, want);
    });
  }

  const immutable = 'spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims';
  const updateCases: [string, string, (o: KObject) => void, string[]][] = [
    ['the binder may set volumeName once on a pending claim', 'Pending', (o) => (o.spec.volumeName = 'pv-1'), []],
    ['a bound claim may not move to another volume', 'Bound', (o) => (o.spec.volumeName = 'pv-2'), [immutable]],
    ['a bound claim may grow its storage request', 'Bound', (o) => (o.spec.resources.requests.storage = '2Gi'), []],
    ['a pending claim may not change its storage request', 'Pending', (o) => (o.spec.resources.requests.storage = '2Gi'), [immutable]],
    ['a bound claim may not shrink below its capacity', 'Bound', (o) => (o.spec.resources.requests.storage = '512Mi'), ['spec.resources.requests.storage: Forbidden: field can not be less than status.capacity']],
    ['the access modes are immutable', 'Bound', (o) => (o.spec.accessModes = ['ReadWriteMany']), [immutable]],
    ['a storage class may be set on a claim that had none', 'Pending', (o) => (o.spec.storageClassName = 'fast'), []],
    ['a volumeAttributesClassName may be set on a bound claim', 'Bound', (o) => (o.spec.volumeAttributesClassName = 'gold'), []],
  ];
  for (const [name, phase, edit, want] of updateCases) {
    it(name, () => {
      assert.deepEqual(updateErrors(phase, edit), want);
    });
  }

  it('keeps the stored status on a main-resource update and the stored spec on a status update', () => {
    const old = created(spec()).obj;
    const next = structuredClone(old);
    next.status.phase = 'Lost';
    s.prepareForUpdate!(next, old);
    assert.equal(next.status.phase, 'Pending');
    const st = structuredClone(old);
    st.status.phase = 'Bound';
    st.spec.accessModes = ['ReadWriteMany'];
    s.status!.prepareForUpdate(st, old);
    assert.equal(st.status.phase, 'Bound');
    assert.deepEqual(st.spec.accessModes, ['ReadWriteOnce']);
  });

  it('prints capacity and access modes only once bound to a volume, as kubectl 1.32 does', () => {
    assert.deepEqual(
      s.table!.columns.map((c) => `${c.name}${c.priority ? '*' : ''}`),
      ['Name', 'Status', 'Volume', 'Capacity', 'Access Modes', 'StorageClass', 'VolumeAttributesClass', 'Age', 'VolumeMode*'],
    );
    const pending = created(spec()).obj;
    pending.metadata.creationTimestamp = '2024-05-01T11:58:00Z';
    assert.deepEqual(s.table!.cells(pending, now), ['data', 'Pending', '', '', '', '', '<unset>', '2m', 'Filesystem']);
    const bound = structuredClone(pending);
    bound.spec.volumeName = 'pv-1';
    bound.spec.storageClassName = 'manual';
    bound.status = { phase: 'Bound', capacity: { storage: '2048Mi' }, accessModes: ['ReadWriteOnce'] };
    assert.deepEqual(s.table!.cells(bound, now), ['data', 'Bound', 'pv-1', '2Gi', 'RWO', 'manual', '<unset>', '2m', 'Filesystem']);
  });
});
