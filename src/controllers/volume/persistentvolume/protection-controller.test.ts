import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../client/rest-client.js';
import { claimInUse } from './protection-controller.js';

const pvc: KObject = { metadata: { name: 'data', namespace: 'default' } };
const pod = (extra: { nodeName?: string; phase?: string; deleting?: number; claim?: string; ns?: string; ephemeral?: boolean } = {}): KObject => ({
  metadata: {
    name: 'web',
    namespace: extra.ns ?? 'default',
    ...(extra.deleting !== undefined ? { deletionTimestamp: '2024-01-01T00:00:00Z', deletionGracePeriodSeconds: extra.deleting } : {}),
  },
  spec: {
    ...(extra.nodeName !== undefined ? { nodeName: extra.nodeName } : { nodeName: 'n1' }),
    volumes: [extra.ephemeral ? { name: 'data', ephemeral: { volumeClaimTemplate: {} } } : { name: 'v', persistentVolumeClaim: { claimName: extra.claim ?? 'data' } }],
  },
  status: { phase: extra.phase ?? 'Running' },
});

describe('claimInUse', () => {
  const cases: [string, KObject[], boolean][] = [
    ['a running scheduled pod that mounts the claim holds it', [pod()], true],
    ['a pod being deleted gracefully still holds it', [pod({ deleting: 30 })], true],
    ['a pod deleted with no grace left does not', [pod({ deleting: 0 })], false],
    ['a succeeded pod does not', [pod({ phase: 'Succeeded' })], false],
    ['a failed pod does not', [pod({ phase: 'Failed' })], false],
    ['an unscheduled pod does not', [pod({ nodeName: '' })], false],
    ['a pod of another namespace does not', [pod({ ns: 'other' })], false],
    ['a pod using another claim does not', [pod({ claim: 'logs' })], false],
    ['an ephemeral volume whose <pod>-<volume> name differs does not hold the claim', [{ ...pod({ ephemeral: true }), metadata: { name: 'x', namespace: 'default' } }], false],
  ];
  for (const [name, pods, want] of cases) {
    it(name, () => assert.equal(claimInUse(pvc, pods), want));
  }
  it('a generic ephemeral volume holds the claim named after its pod and volume', () => {
    const p = pod({ ephemeral: true });
    assert.equal(claimInUse({ metadata: { name: 'web-data', namespace: 'default' } }, [p]), true);
  });
});
