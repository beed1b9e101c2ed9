import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../client/rest-client.js';
import { ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, claimBoundTo, findBestMatch, volumeBoundTo, volumeUnsuitableReason } from './binder.js';

const pv = (name: string, storage: string, extra: KObject = {}, labels?: Record<string, string>): KObject => ({
  metadata: { name, uid: `uid-${name}`, ...(labels ? { labels } : {}) },
  spec: { capacity: { storage }, accessModes: ['ReadWriteOnce'], volumeMode: 'Filesystem', hostPath: { path: `/data/${name}` }, ...extra },
  status: { phase: 'Available' },
});
const claim = (storage: string, extra: KObject = {}): KObject => ({
  metadata: { name: 'data', namespace: 'default', uid: 'uid-claim', resourceVersion: '7' },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage } }, volumeMode: 'Filesystem', ...extra },
});

describe('findBestMatch', () => {
  const cases: { name: string; claim: KObject; volumes: KObject[]; delay?: boolean; want: string | undefined }[] = [
    { name: 'the smallest volume that holds the request is chosen', claim: claim('1Gi'), volumes: [pv('big', '10Gi'), pv('small', '2Gi'), pv('tiny', '500Mi')], want: 'small' },
    { name: 'a volume smaller than the request is never chosen', claim: claim('5Gi'), volumes: [pv('a', '1Gi'), pv('b', '2Gi')], want: undefined },
    { name: 'the storage class must match, an unset class only matching volumes without one', claim: claim('1Gi'), volumes: [pv('fast', '1Gi', { storageClassName: 'fast' }), pv('plain', '5Gi')], want: 'plain' },
    { name: 'a claim of a class gets only a volume of that class', claim: claim('1Gi', { storageClassName: 'fast' }), volumes: [pv('plain', '1Gi'), pv('fast', '5Gi', { storageClassName: 'fast' })], want: 'fast' },
    { name: 'the volume must offer every access mode the claim asks for', claim: claim('1Gi', { accessModes: ['ReadWriteMany'] }), volumes: [pv('rwo', '1Gi'), pv('rwx', '9Gi', { accessModes: ['ReadWriteOnce', 'ReadWriteMany'] })], want: 'rwx' },
    { name: 'a volume with fewer extra access modes wins over a smaller one with more', claim: claim('1Gi'), volumes: [pv('many', '1Gi', { accessModes: ['ReadWriteOnce', 'ReadOnlyMany'] }), pv('exact', '5Gi')], want: 'exact' },
    { name: 'block and filesystem volumes do not mix', claim: claim('1Gi', { volumeMode: 'Block' }), volumes: [pv('fs', '1Gi'), pv('blk', '2Gi', { volumeMode: 'Block' })], want: 'blk' },
    { name: 'the claim selector filters volumes by label', claim: claim('1Gi', { selector: { matchLabels: { tier: 'gold' } } }), volumes: [pv('a', '1Gi', {}, { tier: 'silver' }), pv('b', '3Gi', {}, { tier: 'gold' })], want: 'b' },
    { name: 'a volume that is not Available is skipped', claim: claim('1Gi'), volumes: [{ ...pv('released', '1Gi'), status: { phase: 'Released' } }, pv('ok', '2Gi')], want: 'ok' },
    { name: 'a volume claimed by another claim is skipped', claim: claim('1Gi'), volumes: [pv('taken', '1Gi', { claimRef: { namespace: 'default', name: 'other', uid: 'x' } }), pv('ok', '2Gi')], want: 'ok' },
    { name: 'a volume pre-bound to the claim by name wins over a better fit', claim: claim('1Gi'), volumes: [pv('fit', '1Gi'), pv('mine', '8Gi', { claimRef: { namespace: 'default', name: 'data' } })], want: 'mine' },
    { name: 'a volume being deleted is skipped', claim: claim('1Gi'), volumes: [{ ...pv('going', '1Gi'), metadata: { name: 'going', deletionTimestamp: '2024-01-01T00:00:00Z' } }], want: undefined },
    { name: 'delayed binding only takes a pre-bound volume', claim: claim('1Gi'), volumes: [pv('free', '1Gi')], delay: true, want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(findBestMatch(c.claim, c.volumes, c.delay)?.metadata.name, c.want);
    });
  }
});

describe('binding', () => {
  it('marks a volume the controller bound with bound-by-controller and a full claim reference', () => {
    const bound = volumeBoundTo(pv('a', '1Gi'), claim('1Gi'))!;
    assert.equal(bound.metadata.annotations[ANN_BOUND_BY_CONTROLLER], 'yes');
    assert.deepEqual(bound.spec.claimRef, { kind: 'PersistentVolumeClaim', namespace: 'default', name: 'data', uid: 'uid-claim', apiVersion: 'v1', resourceVersion: '7' });
    assert.equal(volumeBoundTo(bound, claim('1Gi')), undefined, 'binding again changes nothing');
  });
  it('does not mark a volume the user pre-bound as bound by the controller', () => {
    const bound = volumeBoundTo(pv('a', '1Gi', { claimRef: { namespace: 'default', name: 'data' } }), claim('1Gi'))!;
    assert.equal(bound.metadata.annotations?.[ANN_BOUND_BY_CONTROLLER], undefined);
    assert.equal(bound.spec.claimRef.uid, 'uid-claim');
  });
  it('sets volumeName, bind-completed and bound-by-controller on a claim the controller bound, but no bound-by-controller on a pre-bound claim', () => {
    const c = claimBoundTo(claim('1Gi'), pv('a', '1Gi'))!;
    assert.equal(c.spec.volumeName, 'a');
    assert.deepEqual(c.metadata.annotations, { [ANN_BIND_COMPLETED]: 'yes', [ANN_BOUND_BY_CONTROLLER]: 'yes' });
    const pre = claimBoundTo(claim('1Gi', { volumeName: 'a' }), pv('a', '1Gi'))!;
    assert.deepEqual(pre.metadata.annotations, { [ANN_BIND_COMPLETED]: 'yes' });
  });
  it('explains why a requested volume cannot serve a claim', () => {
    assert.equal(volumeUnsuitableReason(pv('a', '1Gi'), claim('2Gi')), 'requested PV is too small');
    assert.equal(volumeUnsuitableReason(pv('a', '1Gi', { storageClassName: 'x' }), claim('1Gi')), 'storageClassName does not match');
    assert.equal(volumeUnsuitableReason(pv('a', '1Gi'), claim('1Gi')), undefined);
  });
});
