import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../../../../api/errors.js';
import type { KObject } from '../../generic/strategy.js';
import { storageClassStrategy } from './strategy.js';

const s = storageClassStrategy();
const sc = (extra: KObject = {}): KObject => ({ metadata: { name: 'local', creationTimestamp: '2024-05-01T11:00:00Z' }, provisioner: 'rancher.io/local-path', ...extra });
const defaulted = (o: KObject) => {
  s.defaults!(o);
  return o;
};

describe('StorageClass strategy', () => {
  it('defaults reclaimPolicy to Delete and volumeBindingMode to Immediate', () => {
    const o = defaulted(sc());
    assert.equal(o.reclaimPolicy, 'Delete');
    assert.equal(o.volumeBindingMode, 'Immediate');
    assert.deepEqual(s.validate!(o), []);
  });

  const cases: [string, KObject, string[]][] = [
    ['a class without a provisioner is refused', { provisioner: '' }, ['provisioner: Required value']],
    ['an unknown reclaim policy is refused', { reclaimPolicy: 'Recycle' }, ['reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"']],
    ['an unknown binding mode is refused', { volumeBindingMode: 'Later' }, ['volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"']],
  ];
  for (const [name, extra, want] of cases) {
    it(name, () => {
      assert.deepEqual(s.validate!(defaulted(sc(extra))).map(fieldErrorString), want);
    });
  }

  const updates: [string, (o: KObject) => void, string[]][] = [
    ['the provisioner is fixed after creation', (o) => (o.provisioner = 'other.io/x'), ['provisioner: Forbidden: updates to provisioner are forbidden.']],
    ['the parameters are fixed after creation', (o) => (o.parameters = { type: 'ssd' }), ['parameters: Forbidden: updates to parameters are forbidden.']],
    ['the reclaim policy is fixed after creation', (o) => (o.reclaimPolicy = 'Retain'), ['reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.']],
    ['the binding mode is fixed after creation', (o) => (o.volumeBindingMode = 'WaitForFirstConsumer'), ['volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable']],
    ['volume expansion may be switched on later', (o) => (o.allowVolumeExpansion = true), []],
  ];
  for (const [name, edit, want] of updates) {
    it(name, () => {
      const old = defaulted(sc());
      const next = structuredClone(old);
      edit(next);
      assert.deepEqual(s.validateUpdate!(defaulted(next), old).map(fieldErrorString), want);
    });
  }

  it('prints "(default)" after the default class name and the defaults for unset fields', () => {
    const now = new Date('2024-05-01T12:00:00Z');
    assert.deepEqual(s.table!.columns.map((c) => c.name), ['Name', 'Provisioner', 'ReclaimPolicy', 'VolumeBindingMode', 'AllowVolumeExpansion', 'Age']);
    const def = sc({ metadata: { name: 'local-path', creationTimestamp: '2024-05-01T11:00:00Z', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } });
    assert.deepEqual(s.table!.cells(def, now), ['local-path (default)', 'rancher.io/local-path', 'Delete', 'Immediate', false, '60m']);
    assert.equal(s.table!.cells(sc(), now)[0], 'local');
  });
});
