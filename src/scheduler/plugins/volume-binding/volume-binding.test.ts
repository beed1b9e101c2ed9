import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod } from '../../framework/types.js';
import { makeNode, makePod } from '../../testing/builders.js';
import { filterAll } from '../../testing/harness.js';
import { bindingPlan, New, type VolumeListers } from './volume-binding.js';

type Obj = Record<string, any>;

const zoneA = makeNode('a', { labels: { zone: 'a' } });
const zoneB = makeNode('b', { labels: { zone: 'b' } });

const claim = (name: string, extra: Obj = {}, status: Obj = {}): Obj => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}` },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...extra },
  status,
});
const volume = (name: string, extra: Obj = {}, phase = 'Available'): Obj => ({
  metadata: { name },
  spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/x' }, ...extra },
  status: { phase },
});
const inZone = (zone: string) => ({ required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: [zone] }] }] } });

function listers(claims: Obj[], volumes: Obj[] = [], classes: Obj[] = []): VolumeListers {
  return {
    claim: (ns, n) => claims.find((c) => c.metadata.namespace === ns && c.metadata.name === n),
    volume: (n) => volumes.find((v) => v.metadata.name === n),
    volumes: () => volumes,
    storageClass: (n) => classes.find((c) => c.metadata.name === n),
  };
}

const usingClaims = (...names: string[]): Pod => {
  const p = makePod('p');
  (p.spec as Obj).volumes = names.map((n, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: n } }));
  return p;
};

const wffc = { metadata: { name: 'local' }, provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'WaitForFirstConsumer' };
const dynamic = { metadata: { name: 'dyn' }, provisioner: 'rancher.io/local-path', volumeBindingMode: 'WaitForFirstConsumer' };
const immediate = { metadata: { name: 'fast' }, provisioner: 'example.com/x', volumeBindingMode: 'Immediate' };

const cases: { name: string; pod: Pod; l: VolumeListers; want: Obj }[] = [
  { name: 'A pod without claims is not affected.', pod: makePod('p'), l: listers([]), want: { nodes: { a: 'Success', b: 'Success' } } },
  {
    name: 'A pod whose claim does not exist fits nowhere.',
    pod: usingClaims('data'),
    l: listers([]),
    want: { preFilter: 'UnschedulableAndUnresolvable: persistentvolumeclaim "data" not found', nodes: {} },
  },
  {
    name: 'A pod whose claim is being deleted fits nowhere.',
    pod: usingClaims('data'),
    l: listers([{ ...claim('data'), metadata: { ...claim('data').metadata, deletionTimestamp: '2024-01-01T00:00:00Z' } }]),
    want: { preFilter: 'UnschedulableAndUnresolvable: persistentvolumeclaim "data" is being deleted', nodes: {} },
  },
  {
    name: 'A pod with an unbound claim of an Immediate class waits for the binder.',
    pod: usingClaims('data'),
    l: listers([claim('data', { storageClassName: 'fast' })], [], [immediate]),
    want: { preFilter: 'UnschedulableAndUnresolvable: pod has unbound immediate PersistentVolumeClaims', nodes: {} },
  },
  {
    name: 'A pod with an unbound claim without a class waits for the binder too.',
    pod: usingClaims('data'),
    l: listers([claim('data')]),
    want: { preFilter: 'UnschedulableAndUnresolvable: pod has unbound immediate PersistentVolumeClaims', nodes: {} },
  },
  {
    name: 'A bound volume without node affinity fits every node.',
    pod: usingClaims('data'),
    l: listers([claim('data', { volumeName: 'pv' }, { phase: 'Bound' })], [volume('pv', {}, 'Bound')]),
    want: { nodes: { a: 'Success', b: 'Success' } },
  },
  {
    name: 'A bound volume with node affinity excludes the other nodes.',
    pod: usingClaims('data'),
    l: listers([claim('data', { volumeName: 'pv' }, { phase: 'Bound' })], [volume('pv', { nodeAffinity: inZone('a') }, 'Bound')]),
    want: { nodes: { a: 'Success', b: 'UnschedulableAndUnresolvable: node(s) had volume node affinity conflict' } },
  },
  {
    name: 'A claim bound to a volume that does not exist fits nowhere.',
    pod: usingClaims('data'),
    l: listers([claim('data', { volumeName: 'gone' }, { phase: 'Bound' })]),
    want: {
      nodes: {
        a: 'UnschedulableAndUnresolvable: node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)',
        b: 'UnschedulableAndUnresolvable: node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)',
      },
    },
  },
  {
    name: 'A WaitForFirstConsumer claim with no provisioner fits only where a matching Available volume is reachable.',
    pod: usingClaims('data'),
    l: listers([claim('data', { storageClassName: 'local' })], [volume('local-a', { storageClassName: 'local', nodeAffinity: inZone('a') })], [wffc]),
    want: { nodes: { a: 'Success', b: "UnschedulableAndUnresolvable: node(s) didn't find available persistent volumes to bind" } },
  },
  {
    name: 'A WaitForFirstConsumer claim of a class with a provisioner fits every node.',
    pod: usingClaims('data'),
    l: listers([claim('data', { storageClassName: 'dyn' })], [], [dynamic]),
    want: { nodes: { a: 'Success', b: 'Success' } },
  },
];

for (const tc of cases) {
  test(tc.name, () => {
    assert.deepEqual(filterAll([{ name: 'VolumeBinding', args: { listers: tc.l } }], tc.pod, [zoneA, zoneB]), tc.want);
  });
}

test('Without listers the plugin lets every pod through.', () => {
  assert.deepEqual(filterAll(['VolumeBinding'], usingClaims('data'), [zoneA]).nodes, { a: 'Success' });
});

test('Claim, volume and class changes requeue pods the plugin rejected.', () => {
  const regs = New().eventsToRegister();
  assert.ok(regs.some((r) => r.event.resource === 'Other'));
});

test('Binding to a node points the smallest reachable Available volume at a static WaitForFirstConsumer claim.', () => {
  const l = listers(
    [claim('data', { storageClassName: 'local' })],
    [volume('big-a', { storageClassName: 'local', capacity: { storage: '5Gi' }, nodeAffinity: inZone('a') }), volume('small-a', { storageClassName: 'local', nodeAffinity: inZone('a') }), volume('small-b', { storageClassName: 'local', nodeAffinity: inZone('b') })],
    [wffc],
  );
  const plan = bindingPlan(usingClaims('data'), zoneA, l);
  assert.deepEqual(plan.volumes.map((x) => `${x.pv.metadata.name}<-${x.pvc.metadata.name}`), ['small-a<-data']);
  assert.deepEqual(plan.selectNode, []);
});

test('Binding to a node selects the node on a WaitForFirstConsumer claim of a provisioning class, and leaves Immediate and bound claims alone.', () => {
  const l = listers([claim('dyn', { storageClassName: 'dyn' }), claim('imm', { storageClassName: 'fast' }), claim('done', { storageClassName: 'dyn', volumeName: 'pv' })], [], [dynamic, immediate]);
  const plan = bindingPlan(usingClaims('dyn', 'imm', 'done'), zoneB, l);
  assert.deepEqual(plan.volumes, []);
  assert.deepEqual(plan.selectNode.map((c) => c.metadata.name), ['dyn']);
});
