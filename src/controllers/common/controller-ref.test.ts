import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getControllerOf, isControlledBy, newControllerRef, resolveControllerRef } from './controller-ref.js';

const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { namespace: 'ns', name: 'web', uid: 'rs-uid' } };
const ref = (uid: string, controller?: boolean) => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid, controller });

test('getControllerOf finds the owner reference marked controller, and isControlledBy matches by uid.', () => {
  const table: { name: string; refs: unknown; want: string | undefined; controlled: boolean }[] = [
    { name: 'no owner references', refs: undefined, want: undefined, controlled: false },
    { name: 'an owner that is not the controller', refs: [ref('rs-uid', false)], want: undefined, controlled: false },
    { name: 'an owner without the flag', refs: [ref('rs-uid')], want: undefined, controlled: false },
    { name: 'the controller', refs: [ref('other', false), ref('rs-uid', true)], want: 'rs-uid', controlled: true },
    { name: 'a controller with another uid (a namesake)', refs: [ref('old-uid', true)], want: 'old-uid', controlled: false },
  ];
  for (const c of table) {
    const pod = { metadata: { name: 'p', ownerReferences: c.refs } };
    assert.equal(getControllerOf(pod)?.uid, c.want, c.name);
    assert.equal(isControlledBy(pod, rs), c.controlled, c.name);
  }
  assert.equal(getControllerOf(undefined), undefined);
  assert.equal(isControlledBy({ metadata: { ownerReferences: [ref('x', true)] } }, { metadata: {} }), false);
});

test('newControllerRef points at the owner with controller and blockOwnerDeletion set.', () => {
  assert.deepEqual(newControllerRef(rs), { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-uid', controller: true, blockOwnerDeletion: true });
  const noKind = { metadata: { name: 'd', uid: 'd-uid' } };
  assert.equal(newControllerRef(noKind, { apiVersion: 'apps/v1', kind: 'Deployment' }).kind, 'Deployment');
  assert.throws(() => newControllerRef(noKind), /no apiVersion\/kind/);
});

test('resolveControllerRef returns the owner only when kind and uid still match.', () => {
  const get = (ns: string, name: string) => (ns === 'ns' && name === 'web' ? rs : undefined);
  const table: { name: string; r: ReturnType<typeof ref> | undefined; kind: string; found: boolean }[] = [
    { name: 'matching', r: ref('rs-uid', true), kind: 'ReplicaSet', found: true },
    { name: 'recreated owner (uid differs)', r: ref('old', true), kind: 'ReplicaSet', found: false },
    { name: 'other kind', r: ref('rs-uid', true), kind: 'StatefulSet', found: false },
    { name: 'no ref', r: undefined, kind: 'ReplicaSet', found: false },
  ];
  for (const c of table) assert.equal(resolveControllerRef('ns', c.r, c.kind, get) !== undefined, c.found, c.name);
  assert.equal(resolveControllerRef('other-ns', ref('rs-uid', true), 'ReplicaSet', get), undefined);
});
