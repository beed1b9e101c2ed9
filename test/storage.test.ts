// Persistent storage through the real kubectl on hollow nodes: PersistentVolumes, claims and
// StorageClasses are served with kubectl's columns, the binder binds claims to volumes, and a
// StatefulSet's volumeClaimTemplates become claims bound to pre-created volumes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startTestCluster, type TestCluster } from './helpers.js';
import type { RestClient } from '../src/client/rest-client.js';
import { startHollowNodes, type HollowNodes } from '../src/kubelet/hollow.js';

const pv = (name: string, cls: string, size = '1Gi') => `apiVersion: v1
kind: PersistentVolume
metadata:
  name: ${name}
spec:
  capacity:
    storage: ${size}
  accessModes: [ReadWriteOnce]
  storageClassName: ${cls}
  hostPath:
    path: /tmp/k8ts-${name}
`;

describe('persistent storage driven by kubectl', () => {
  let c: TestCluster;
  let client: RestClient;
  let nodes: HollowNodes;
  before(async () => {
    c = await startTestCluster();
    client = c.adminClient();
    nodes = await startHollowNodes({ client, count: 1, namePrefix: 'storage-', runDurationMs: 300 });
  });
  after(async () => {
    await nodes?.stop();
    client?.close();
    await c?.stop();
  });

  it('api-resources lists persistentvolumes, persistentvolumeclaims and storageclasses with their short names', async () => {
    const out = await c.ok(['api-resources']);
    assert.match(out, /^persistentvolumeclaims\s+pvc\s+v1\s+true\s+PersistentVolumeClaim$/m);
    assert.match(out, /^persistentvolumes\s+pv\s+v1\s+false\s+PersistentVolume$/m);
    assert.match(out, /^storageclasses\s+sc\s+storage\.k8s\.io\/v1\s+false\s+StorageClass$/m);
  });

  it('a PersistentVolume and a PersistentVolumeClaim become Bound to each other in kubectl get pv,pvc', async () => {
    await c.ok(['apply', '-f', '-'], { input: pv('pv-manual', 'manual', '2Gi') });
    await c.ok(['apply', '-f', '-'], {
      input: `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: claim1
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  resources:
    requests:
      storage: 1Gi
`,
    });
    const out = await eventually(async () => {
      const o = await c.ok(['get', 'pv,pvc']);
      return /persistentvolumeclaim\/claim1\s+Bound/.test(o) && /persistentvolume\/pv-manual\s+2Gi\s+RWO\s+Retain\s+Bound/.test(o) && o;
    }, 20_000, 200);
    assert.match(out, /^NAME\s+CAPACITY\s+ACCESS MODES\s+RECLAIM POLICY\s+STATUS\s+CLAIM\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+REASON\s+AGE$/m);
    assert.match(out, /^persistentvolume\/pv-manual\s+2Gi\s+RWO\s+Retain\s+Bound\s+default\/claim1\s+manual\s+<unset>\s+\S+$/m);
    assert.match(out, /^NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+AGE$/m);
    assert.match(out, /^persistentvolumeclaim\/claim1\s+Bound\s+pv-manual\s+2Gi\s+RWO\s+manual\s+<unset>\s+\S+$/m);
    const wide = await c.ok(['get', 'pvc', 'claim1', '-o', 'wide']);
    assert.match(wide, /\sVOLUMEMODE$/m);
    assert.match(wide, /\sFilesystem$/m);
    const claim = JSON.parse(await c.ok(['get', 'pvc', 'claim1', '-o', 'json']));
    assert.deepEqual(claim.metadata.finalizers, ['kubernetes.io/pvc-protection']);
    assert.equal(claim.metadata.annotations['pv.kubernetes.io/bind-completed'], 'yes');
  });

  it('describe pvc and pv show the binding', async () => {
    const pvc = await c.ok(['describe', 'pvc', 'claim1']);
    assert.match(pvc, /^Status:\s+Bound$/m);
    assert.match(pvc, /^Volume:\s+pv-manual$/m);
    assert.match(pvc, /^Finalizers:\s+\[kubernetes\.io\/pvc-protection\]$/m);
    const pv = await c.ok(['describe', 'pv', 'pv-manual']);
    assert.match(pv, /^Claim:\s+default\/claim1$/m);
    assert.match(pv, /^Reclaim Policy:\s+Retain$/m);
  });

  it('refuses to change a claim spec or grow it without an expandable class, with upstream messages', async () => {
    const r = await c.kubectl(['patch', 'pvc', 'claim1', '--type=merge', '-p', '{"spec":{"accessModes":["ReadWriteMany"]}}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /The PersistentVolumeClaim "claim1" is invalid: spec: Forbidden: spec is immutable after creation except resources\.requests and volumeAttributesClassName for bound claims/);
    const grow = await c.kubectl(['patch', 'pvc', 'claim1', '--type=merge', '-p', '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}']);
    assert.notEqual(grow.code, 0);
    assert.match(grow.stderr, /persistentvolumeclaims "claim1" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize/);
  });

  it('a deleted claim leaves its Retain volume Released', async () => {
    await c.ok(['delete', 'pvc', 'claim1', '--wait=true'], { timeoutMs: 30_000 });
    await eventually(async () => /^pv-manual\s+2Gi\s+RWO\s+Retain\s+Released\s+default\/claim1\s/m.test(await c.ok(['get', 'pv'])), 20_000, 200);
  });

  it('prints storage classes with (default) after the default one', async () => {
    await c.ok(['apply', '-f', '-'], {
      input: `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-path
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
`,
    });
    const out = await c.ok(['get', 'sc']);
    assert.match(out, /^NAME\s+PROVISIONER\s+RECLAIMPOLICY\s+VOLUMEBINDINGMODE\s+ALLOWVOLUMEEXPANSION\s+AGE$/m);
    assert.match(out, /^local-path \(default\)\s+rancher\.io\/local-path\s+Delete\s+WaitForFirstConsumer\s+false\s+\S+$/m);
  });

  it('a StatefulSet with a volumeClaimTemplate of 2 replicas creates data-web-0 and data-web-1 bound to pre-created volumes', async () => {
    await c.ok(['apply', '-f', '-'], { input: `${pv('web-pv-0', 'web-disk')}---\n${pv('web-pv-1', 'web-disk')}` });
    await c.ok(['apply', '-f', '-'], {
      input: `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  replicas: 2
  serviceName: web
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: nginx
        image: nginx:1.27
        volumeMounts:
        - {name: data, mountPath: /usr/share/nginx/html}
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: web-disk
      resources:
        requests:
          storage: 1Gi
`,
    });
    await c.ok(['rollout', 'status', 'statefulset/web', '--timeout=60s'], { timeoutMs: 70_000 });
    const out = await eventually(async () => {
      const o = await c.ok(['get', 'pvc', '-l', 'app=web']);
      return (o.match(/\sBound\s/g) ?? []).length === 2 && o;
    }, 20_000, 200);
    assert.match(out, /^data-web-0\s+Bound\s+web-pv-[01]\s+1Gi\s+RWO\s+web-disk\s/m);
    assert.match(out, /^data-web-1\s+Bound\s+web-pv-[01]\s+1Gi\s+RWO\s+web-disk\s/m);
    const volumes = (await c.ok(['get', 'pv', 'web-pv-0', 'web-pv-1', '-o', 'jsonpath={.items[*].spec.claimRef.name}'])).split(' ').sort();
    assert.deepEqual(volumes, ['data-web-0', 'data-web-1']);
    const claimName = await c.ok(['get', 'pod', 'web-1', '-o', 'jsonpath={.spec.volumes[?(@.name=="data")].persistentVolumeClaim.claimName}']);
    assert.equal(claimName, 'data-web-1');
  });

  it('the scheduler keeps a pod whose claim is missing or whose volume is on another node Pending, with upstream reasons', async () => {
    await c.ok(['run', 'needs-claim', '--image=nginx', '--overrides', JSON.stringify({ spec: { volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'missing' } }] } })]);
    await eventually(async () => /0\/1 nodes are available: persistentvolumeclaim "missing" not found\./.test(await c.ok(['get', 'events', '--field-selector', 'involvedObject.name=needs-claim'])), 20_000, 200);
    await c.ok(['apply', '-f', '-'], {
      input: `${pv('far-pv', 'far')}  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [elsewhere]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: far
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: far
  resources:
    requests:
      storage: 1Gi
`,
    });
    await eventually(async () => /\sBound\s/.test(await c.ok(['get', 'pvc', 'far'])), 20_000, 200);
    await c.ok(['run', 'far-pod', '--image=nginx', '--overrides', JSON.stringify({ spec: { volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'far' } }] } })]);
    await eventually(async () => /node\(s\) had volume node affinity conflict/.test(await c.ok(['get', 'events', '--field-selector', 'involvedObject.name=far-pod'])), 20_000, 200);
    assert.equal(await c.ok(['get', 'pod', 'far-pod', '-o', 'jsonpath={.spec.nodeName}']), '');
  });

  it('a WaitForFirstConsumer claim is bound to a local volume on the node its pod is scheduled to', async () => {
    const node = nodes.nodeNames[0]!;
    await c.ok(['apply', '-f', '-'], {
      input: `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-storage
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
${pv('local-pv', 'local-storage')}  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [${node}]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: local-claim
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local-storage
  resources:
    requests:
      storage: 1Gi
`,
    });
    await eventually(async () => /WaitForFirstConsumer/.test(await c.ok(['get', 'events', '--field-selector', 'involvedObject.name=local-claim'])), 20_000, 200);
    assert.match(await c.ok(['get', 'pvc', 'local-claim']), /^local-claim\s+Pending\s/m);
    await c.ok(['run', 'local-user', '--image=nginx', '--overrides', JSON.stringify({ spec: { volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'local-claim' } }] } })]);
    await eventually(async () => /^local-claim\s+Bound\s+local-pv\s/m.test(await c.ok(['get', 'pvc', 'local-claim'])), 20_000, 200);
    assert.equal(await c.ok(['get', 'pod', 'local-user', '-o', 'jsonpath={.spec.nodeName}']), node);
  });
});
