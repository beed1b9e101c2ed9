import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ephemeralClaims } from './ephemeral-controller.js';

describe('ephemeralClaims', () => {
  it('makes one claim per generic ephemeral volume, named <pod>-<volume>, owned by the pod, with the template labels, annotations and spec', () => {
    const pod = {
      metadata: { name: 'web', namespace: 'ns', uid: 'u1' },
      spec: {
        volumes: [
          { name: 'cache', emptyDir: {} },
          { name: 'scratch', ephemeral: { volumeClaimTemplate: { metadata: { labels: { a: 'b' }, annotations: { n: 'x' } }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } } },
        ],
      },
    };
    assert.deepEqual(ephemeralClaims(pod), [
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name: 'web-scratch',
          namespace: 'ns',
          ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'web', uid: 'u1', controller: true, blockOwnerDeletion: true }],
          labels: { a: 'b' },
          annotations: { n: 'x' },
        },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
    ]);
  });
  it('makes no claim for a pod without ephemeral volumes', () => {
    assert.deepEqual(ephemeralClaims({ metadata: { name: 'p', namespace: 'ns', uid: 'u' }, spec: { volumes: [{ name: 'x', persistentVolumeClaim: { claimName: 'c' } }] } }), []);
  });
});
