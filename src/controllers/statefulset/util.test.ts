import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../client/rest-client.js';
import { claimOwnerRefs, claimsForOrdinal, newStatefulSetPod, podVolumesWithClaims } from './util.js';

const sts = (policy?: KObject): KObject => ({
  metadata: { name: 'web', namespace: 'default', uid: 'sts-uid' },
  spec: {
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }], volumes: [{ name: 'data', emptyDir: {} }, { name: 'cfg', configMap: { name: 'web' } }] } },
    volumeClaimTemplates: [
      { metadata: { name: 'data', labels: { tier: 'db' }, annotations: { note: 'x' } }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
      { metadata: { name: 'logs' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
    ],
    ...(policy ? { persistentVolumeClaimRetentionPolicy: policy } : {}),
  },
});
const pod: KObject = { metadata: { name: 'web-1', uid: 'pod-uid' } };
const setRef = { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'sts-uid' };
const podRef = { apiVersion: 'v1', kind: 'Pod', name: 'web-1', uid: 'pod-uid' };
const other = { apiVersion: 'example.com/v1', kind: 'Backup', name: 'b', uid: 'other' };

describe('StatefulSet claims', () => {
  it('names each claim <template>-<set>-<ordinal> with the template labels plus the selector labels', () => {
    const claims = claimsForOrdinal(sts(), 1);
    assert.deepEqual(
      claims.map((c) => [c.metadata.name, c.metadata.labels, c.metadata.annotations]),
      [
        ['data-web-1', { tier: 'db', app: 'web' }, { note: 'x' }],
        ['logs-web-1', { app: 'web' }, undefined],
      ],
    );
    assert.equal(claims[0]!.metadata.namespace, 'default');
    assert.deepEqual(claims[0]!.spec.resources, { requests: { storage: '1Gi' } });
  });

  it('gives the pod one volume per claim template, replacing a template volume of the same name', () => {
    assert.deepEqual(podVolumesWithClaims(sts(), 2, sts().spec.template.spec.volumes), [
      { name: 'data', persistentVolumeClaim: { claimName: 'data-web-2' } },
      { name: 'logs', persistentVolumeClaim: { claimName: 'logs-web-2' } },
      { name: 'cfg', configMap: { name: 'web' } },
    ]);
    const p = newStatefulSetPod(sts(), sts().spec.template, 'web-abc', 0, { ...setRef, controller: true });
    assert.equal(p.spec.volumes[0].persistentVolumeClaim.claimName, 'data-web-0');
  });

  const cases: { name: string; policy?: KObject; refs: KObject[]; scaledDown: boolean; want: KObject[] | undefined }[] = [
    { name: 'Retain/Retain leaves a claim without owners alone', refs: [], scaledDown: false, want: undefined },
    { name: 'Retain/Retain drops a set reference left from an earlier policy but keeps others', refs: [setRef, other], scaledDown: false, want: [other] },
    { name: 'whenDeleted Delete makes the set an owner', policy: { whenDeleted: 'Delete', whenScaled: 'Retain' }, refs: [], scaledDown: false, want: [setRef] },
    { name: 'whenDeleted Delete keeps the set owner of a scaled-away claim under whenScaled Retain', policy: { whenDeleted: 'Delete', whenScaled: 'Retain' }, refs: [setRef], scaledDown: true, want: undefined },
    { name: 'whenScaled Delete hands a scaled-away claim to its pod', policy: { whenDeleted: 'Retain', whenScaled: 'Delete' }, refs: [], scaledDown: true, want: [podRef] },
    { name: 'whenScaled Delete leaves a claim in range without the pod', policy: { whenDeleted: 'Retain', whenScaled: 'Delete' }, refs: [podRef], scaledDown: false, want: [] },
    { name: 'Delete/Delete moves a scaled-away claim from the set to its pod', policy: { whenDeleted: 'Delete', whenScaled: 'Delete' }, refs: [setRef], scaledDown: true, want: [podRef] },
    { name: 'Delete/Delete gives a claim back to the set when its ordinal returns', policy: { whenDeleted: 'Delete', whenScaled: 'Delete' }, refs: [podRef], scaledDown: false, want: [setRef] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const claim = { metadata: { name: 'data-web-1', ownerReferences: c.refs } };
      assert.deepEqual(claimOwnerRefs(claim, sts(c.policy), pod, c.scaledDown), c.want);
    });
  }
});
