/**
 * The acceptance suite: the real kubectl against a freshly started k8ts server, one command family
 * per test. Run for several kubectl versions by the *.test.ts files beside it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { eventually, startTestCluster, type TestCluster } from './helpers.js';

export function kubectlSuite(label: string, kubectlPath?: string): void {
  describe(`kubectl ${label} against k8ts`, () => {
    let c: TestCluster;
    before(async () => {
      c = await startTestCluster({ kubectl: kubectlPath });
    });
    after(async () => {
      await c?.stop();
    });

    it('version reports the server version', async () => {
      const r = await c.kubectl(['version', '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      // kubectl itself warns when it is more than one minor version away from the server (1.27 vs 1.32).
      assert.equal(r.stderr.replace(/WARNING: version difference between client \(1\.\d+\) and server \(1\.32\) exceeds the supported minor version skew of \+\/-1\n?/, ''), '');
      assert.match(JSON.parse(r.stdout).serverVersion.gitVersion, /^v1\.32\.\d+\+k8ts/);
    });

    it('api-resources lists core and apps resources with short names', async () => {
      const out = await c.ok(['api-resources']);
      assert.match(out, /^pods\s+po\s+v1\s+true\s+Pod$/m);
      assert.match(out, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
      assert.match(out, /^namespaces\s+ns\s+v1\s+false\s+Namespace$/m);
    });

    it('explain pod.spec.containers prints the real schema', async () => {
      const out = await c.ok(['explain', 'pod.spec.containers']);
      assert.match(out, /KIND:\s+Pod/);
      assert.match(out, /DESCRIPTION:/);
      assert.match(out, /image\s+<string>/);
    });

    it('run creates a pod labelled run=NAME', async () => {
      assert.equal((await c.ok(['run', 'nginx', '--image=nginx'])).trim(), 'pod/nginx created');
      assert.equal(await c.ok(['get', 'pod', 'nginx', '-o', 'jsonpath={.metadata.labels.run}']), 'nginx');
    });

    it('get prints server-side tables, wide columns and every output format', async () => {
      const table = await c.ok(['get', 'pods']);
      assert.match(table, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/m);
      assert.match(table, /^nginx\s+0\/1\s+Pending\s+0\s+\S+$/m);
      const wide = await c.ok(['get', 'pods', '-o', 'wide']);
      assert.match(wide, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/m);
      const yaml = await c.ok(['get', 'pod', 'nginx', '-o', 'yaml']);
      assert.match(yaml, /^kind: Pod$/m);
      assert.match(yaml, /restartPolicy: Always/);
      const json = JSON.parse(await c.ok(['get', 'pod', 'nginx', '-o', 'json']));
      assert.equal(json.spec.containers[0].image, 'nginx');
      assert.equal(json.spec.dnsPolicy, 'ClusterFirst');
      assert.equal((await c.ok(['get', 'pods', '-o', 'name'])).trim(), 'pod/nginx');
      assert.match(await c.ok(['get', 'pods', '-l', 'run=nginx']), /^nginx\s/m);
      assert.equal((await c.kubectl(['get', 'pods', '-l', 'run=other'])).stderr.trim(), 'No resources found in default namespace.');
      assert.match(await c.ok(['get', 'pods', '--field-selector', 'metadata.name=nginx']), /^nginx\s/m);
      assert.match(await c.ok(['get', 'pods', '--field-selector', 'status.phase=Pending']), /^nginx\s/m);
      const all = await c.ok(['get', 'pods', '-A']);
      assert.match(all, /^NAMESPACE\s+NAME\s+READY/m);
      assert.match(all, /^default\s+nginx\s/m);
      const ns = await c.ok(['get', 'namespaces']);
      for (const n of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) assert.match(ns, new RegExp(`^${n}\\s+Active\\s`, 'm'));
      const svc = await c.ok(['get', 'svc', 'kubernetes']);
      assert.match(svc, /^kubernetes\s+ClusterIP\s+10\.43\.0\.1\s+<none>\s+443\/TCP\s/m);
    });

    it('get -w streams changes until stopped', async () => {
      const child = spawn(c.kubectlPath, ['get', 'pods', '-w'], { env: c.env });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      try {
        await eventually(async () => out.includes('nginx'), 10_000);
        await c.ok(['run', 'watched', '--image=busybox']);
        await eventually(async () => /^watched\s+0\/1\s+Pending/m.test(out), 10_000);
      } finally {
        child.kill('SIGKILL');
      }
      await c.ok(['delete', 'pod', 'watched']);
    });

    it('describe shows the pod', async () => {
      const out = await c.ok(['describe', 'pod', 'nginx']);
      assert.match(out, /^Name:\s+nginx$/m);
      assert.match(out, /^Namespace:\s+default$/m);
      assert.match(out, /^Labels:\s+run=nginx$/m);
      assert.match(out, /Image:\s+nginx/);
    });

    it('create deployment defaults strategy and history', async () => {
      assert.equal((await c.ok(['create', 'deployment', 'web', '--image=nginx', '--replicas=2'])).trim(), 'deployment.apps/web created');
      const d = JSON.parse(await c.ok(['get', 'deploy', 'web', '-o', 'json']));
      assert.equal(d.spec.replicas, 2);
      assert.equal(d.spec.strategy.type, 'RollingUpdate');
      assert.equal(d.spec.strategy.rollingUpdate.maxSurge, '25%');
      assert.equal(d.spec.revisionHistoryLimit, 10);
      assert.equal(d.spec.progressDeadlineSeconds, 600);
      assert.equal(d.metadata.generation, 1);
      assert.match(await c.ok(['get', 'deployments']), /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/m);
    });

    it('create -f and apply -f create, change and prune fields', async () => {
      const v1 = c.writeFile(
        'cm.yaml',
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  labels:\n    tier: web\ndata:\n  a: "1"\n  b: "2"\n',
      );
      assert.equal((await c.ok(['apply', '-f', v1])).trim(), 'configmap/applied created');
      c.writeFile('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  labels:\n    tier: web\ndata:\n  a: "10"\n  b: "2"\n');
      assert.equal((await c.ok(['apply', '-f', v1])).trim(), 'configmap/applied configured');
      assert.equal(await c.ok(['get', 'cm', 'applied', '-o', 'jsonpath={.data.a}']), '10');
      c.writeFile('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: "10"\n');
      assert.equal((await c.ok(['apply', '-f', v1])).trim(), 'configmap/applied configured');
      const cm = JSON.parse(await c.ok(['get', 'cm', 'applied', '-o', 'json']));
      assert.deepEqual(cm.data, { a: '10' });
      assert.equal(cm.metadata.labels, undefined);
      assert.equal((await c.ok(['apply', '-f', v1])).trim(), 'configmap/applied unchanged');
      const dep = c.writeFile(
        'dep.yaml',
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: fromfile\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: fromfile}\n  template:\n    metadata:\n      labels: {app: fromfile}\n    spec:\n      containers:\n      - name: main\n        image: nginx:1.27\n        env:\n        - {name: A, value: "1"}\n',
      );
      assert.equal((await c.ok(['create', '-f', dep, '--save-config'])).trim(), 'deployment.apps/fromfile created');
      const again = await c.kubectl(['create', '-f', dep]);
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /AlreadyExists.*"fromfile" already exists/);
      c.writeFile(
        'dep.yaml',
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: fromfile\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: fromfile}\n  template:\n    metadata:\n      labels: {app: fromfile}\n    spec:\n      containers:\n      - name: main\n        image: nginx:1.28\n        env:\n        - {name: A, value: "1"}\n        - {name: B, value: "2"}\n',
      );
      assert.equal((await c.ok(['apply', '-f', dep])).trim(), 'deployment.apps/fromfile configured');
      const d = JSON.parse(await c.ok(['get', 'deploy', 'fromfile', '-o', 'json']));
      assert.equal(d.spec.replicas, 3);
      assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.28');
      assert.deepEqual(d.spec.template.spec.containers[0].env, [{ name: 'A', value: '1' }, { name: 'B', value: '2' }]);
      assert.equal(d.metadata.generation, 2);
    });

    it('apply --server-side creates and updates with managed fields', async () => {
      const f = c.writeFile('ssa.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  x: "1"\n');
      assert.equal((await c.ok(['apply', '--server-side', '-f', f])).trim(), 'configmap/ssa serverside-applied');
      c.writeFile('ssa.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  z: "2"\n');
      assert.equal((await c.ok(['apply', '--server-side', '-f', f])).trim(), 'configmap/ssa serverside-applied');
      const cm = JSON.parse(await c.ok(['get', 'cm', 'ssa', '-o', 'json', '--show-managed-fields']));
      assert.deepEqual(cm.data, { z: '2' }, 'the field no longer applied is removed');
      assert.ok(cm.metadata.managedFields.some((m: any) => m.manager === 'kubectl' && m.operation === 'Apply'));
    });

    it('edit applies the editor change', async () => {
      const editor = c.writeFile('editor.sh', '#!/bin/sh\nsed -i "s/image: nginx$/image: nginx:1.29/" "$1"\n');
      chmodSync(editor, 0o755);
      assert.equal((await c.ok(['edit', 'pod', 'nginx'], { env: { KUBE_EDITOR: editor } })).trim(), 'pod/nginx edited');
      assert.equal(await c.ok(['get', 'pod', 'nginx', '-o', 'jsonpath={.spec.containers[0].image}']), 'nginx:1.29');
    });

    it('label and annotate add, overwrite and remove', async () => {
      assert.equal((await c.ok(['label', 'pod', 'nginx', 'tier=web'])).trim(), 'pod/nginx labeled');
      const clash = await c.kubectl(['label', 'pod', 'nginx', 'tier=db']);
      assert.notEqual(clash.code, 0);
      assert.match(clash.stderr, /already has a value \(web\), and --overwrite is false/);
      await c.ok(['label', 'pod', 'nginx', 'tier=db', '--overwrite']);
      assert.equal(await c.ok(['get', 'pod', 'nginx', '-o', 'jsonpath={.metadata.labels.tier}']), 'db');
      await c.ok(['label', 'pod', 'nginx', 'tier-']);
      assert.equal(await c.ok(['get', 'pod', 'nginx', '-o', 'jsonpath={.metadata.labels.tier}']), '');
      // kubectl 1.27 prints "annotate" here, later versions "annotated".
      assert.match((await c.ok(['annotate', 'pod', 'nginx', 'note=hello'])).trim(), /^pod\/nginx annotated?$/);
      await c.ok(['annotate', 'pod', 'nginx', 'note=bye', '--overwrite']);
      assert.equal(await c.ok(['get', 'pod', 'nginx', '-o', 'jsonpath={.metadata.annotations.note}']), 'bye');
      await c.ok(['annotate', 'pod', 'nginx', 'note-']);
      assert.equal(await c.ok(['get', 'pod', 'nginx', '-o', 'jsonpath={.metadata.annotations.note}']), '');
    });

    it('patch with strategic, merge and json patches', async () => {
      assert.equal((await c.ok(['patch', 'deploy', 'web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}'])).trim(), 'deployment.apps/web patched');
      const d = JSON.parse(await c.ok(['get', 'deploy', 'web', '-o', 'json']));
      assert.equal(d.spec.template.spec.containers.length, 1);
      assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.26');
      await c.ok(['patch', 'deploy', 'web', '--type=merge', '-p', '{"metadata":{"labels":{"patched":"merge"}}}']);
      await c.ok(['patch', 'deploy', 'web', '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":4}]']);
      const d2 = JSON.parse(await c.ok(['get', 'deploy', 'web', '-o', 'json']));
      assert.equal(d2.metadata.labels.patched, 'merge');
      assert.equal(d2.spec.replicas, 4);
      const bad = await c.kubectl(['patch', 'deploy', 'web', '--type=json', '-p', '[{"op":"test","path":"/spec/replicas","value":9}]']);
      assert.notEqual(bad.code, 0);
    });

    it('scale changes replicas through the scale subresource', async () => {
      assert.equal((await c.ok(['scale', 'deployment', 'web', '--replicas=3'])).trim(), 'deployment.apps/web scaled');
      assert.equal(await c.ok(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}']), '3');
    });

    it('expose pod and deployment allocate cluster IPs', async () => {
      assert.equal((await c.ok(['expose', 'pod', 'nginx', '--port=80', '--target-port=80'])).trim(), 'service/nginx exposed');
      const s = JSON.parse(await c.ok(['get', 'svc', 'nginx', '-o', 'json']));
      assert.match(s.spec.clusterIP, /^10\.43\.\d+\.\d+$/);
      assert.deepEqual(s.spec.selector, { run: 'nginx' });
      assert.equal((await c.ok(['expose', 'deployment', 'web', '--port=80', '--type=NodePort'])).trim(), 'service/web exposed');
      const w = JSON.parse(await c.ok(['get', 'svc', 'web', '-o', 'json']));
      assert.ok(w.spec.ports[0].nodePort >= 30000 && w.spec.ports[0].nodePort <= 32767);
      assert.notEqual(w.spec.clusterIP, s.spec.clusterIP);
      assert.match(await c.ok(['get', 'svc', 'web']), new RegExp(`^web\\s+NodePort\\s+${w.spec.clusterIP.replace(/\./g, '\\.')}\\s+<none>\\s+80:${w.spec.ports[0].nodePort}/TCP\\s`, 'm'));
    });

    it('create configmap and secret from literals', async () => {
      assert.equal((await c.ok(['create', 'configmap', 'lit', '--from-literal=a=1', '--from-literal=b=two'])).trim(), 'configmap/lit created');
      assert.deepEqual(JSON.parse(await c.ok(['get', 'cm', 'lit', '-o', 'json'])).data, { a: '1', b: 'two' });
      assert.equal((await c.ok(['create', 'secret', 'generic', 'sec', '--from-literal=k=v'])).trim(), 'secret/sec created');
      const s = JSON.parse(await c.ok(['get', 'secret', 'sec', '-o', 'json']));
      assert.equal(Buffer.from(s.data.k, 'base64').toString(), 'v');
      assert.equal(s.type, 'Opaque');
    });

    it('delete waits, honours grace periods, finalizers and cascade', async () => {
      assert.equal((await c.ok(['delete', 'pod', 'nginx', '--wait'])).trim(), 'pod "nginx" deleted');
      assert.match((await c.kubectl(['get', 'pod', 'nginx'])).stderr, /NotFound.*pods "nginx" not found/);
      await c.ok(['run', 'forced', '--image=nginx']);
      await c.ok(['delete', 'pod', 'forced', '--grace-period=0', '--force'], { env: {} }).catch(async () => undefined);
      assert.notEqual((await c.kubectl(['get', 'pod', 'forced'])).code, 0);
      await c.ok(['create', 'configmap', 'held', '--from-literal=a=1']);
      await c.ok(['patch', 'cm', 'held', '--type=merge', '-p', '{"metadata":{"finalizers":["example.com/hold"]}}']);
      const del = await c.kubectl(['delete', 'cm', 'held', '--wait=false']);
      assert.equal(del.code, 0);
      const held = JSON.parse(await c.ok(['get', 'cm', 'held', '-o', 'json']));
      assert.ok(held.metadata.deletionTimestamp, 'a finalizer holds the object with a deletionTimestamp');
      await c.ok(['patch', 'cm', 'held', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
      await eventually(async () => (await c.kubectl(['get', 'cm', 'held'])).code !== 0);
      assert.equal((await c.ok(['delete', 'deployment', 'fromfile', '--cascade=orphan'])).trim(), 'deployment.apps "fromfile" deleted');
      assert.equal((await c.ok(['delete', 'deployment', 'web', '--cascade=background'])).trim(), 'deployment.apps "web" deleted');
    });

    it('create namespace then delete namespace removes its contents', async () => {
      assert.equal((await c.ok(['create', 'namespace', 'scratch'])).trim(), 'namespace/scratch created');
      await c.ok(['-n', 'scratch', 'create', 'configmap', 'inside', '--from-literal=a=1']);
      const bad = await c.kubectl(['-n', 'nosuch', 'create', 'configmap', 'x', '--from-literal=a=1']);
      assert.match(bad.stderr, /namespaces "nosuch" not found/);
      assert.equal((await c.ok(['delete', 'namespace', 'scratch'], { timeoutMs: 30_000 })).trim(), 'namespace "scratch" deleted');
      assert.match((await c.kubectl(['get', 'namespace', 'scratch'])).stderr, /not found/);
      const ks = await c.kubectl(['delete', 'namespace', 'kube-system']);
      assert.match(ks.stderr, /Forbidden.*may not be deleted/);
    });

    it('get events lists events', async () => {
      const ev = c.writeFile(
        'ev.yaml',
        'apiVersion: v1\nkind: Event\nmetadata:\n  name: demo.1\ninvolvedObject:\n  kind: Pod\n  name: demo\n  namespace: default\nreason: Testing\nmessage: hello from the test\ntype: Normal\nsource:\n  component: acceptance\nfirstTimestamp: "2026-01-01T00:00:00Z"\nlastTimestamp: "2026-01-01T00:00:00Z"\ncount: 1\n',
      );
      await c.ok(['create', '-f', ev]);
      const out = await c.ok(['get', 'events']);
      assert.match(out, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/m);
      assert.match(out, /Normal\s+Testing\s+pod\/demo\s+hello from the test/);
      // One store serves both event APIs: `kubectl events` reads events.k8s.io/v1.
      const v1 = JSON.parse(await c.ok(['get', 'events.v1.events.k8s.io', 'demo.1', '-o', 'json']));
      assert.equal(v1.note, 'hello from the test');
      assert.equal(v1.regarding.name, 'demo');
      assert.match(await c.ok(['events']), /Testing\s+Pod\/demo\s+hello from the test/);
    });

    it('bad input gets upstream-style errors', async () => {
      const badPod = c.writeFile('badname.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: Foo_1\nspec:\n  containers:\n  - name: c\n    image: nginx\n');
      const badName = await c.kubectl(['create', '-f', badPod]);
      assert.match(badName.stderr, /The Pod "Foo_1" is invalid: metadata.name: Invalid value: "Foo_1": a lowercase RFC 1123 subdomain must consist of/);
      const noImage = c.writeFile('noimage.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: noimage\nspec:\n  containers:\n  - name: c\n');
      const r = await c.kubectl(['create', '-f', noImage]);
      assert.match(r.stderr, /spec.containers\[0\].image: Required value/);
      const port = c.writeFile('port.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: badport\nspec:\n  ports:\n  - port: 70000\n');
      assert.match((await c.kubectl(['create', '-f', port])).stderr, /spec.ports\[0\].port: Invalid value: 70000: must be between 1 and 65535, inclusive/);
      const unknown = c.writeFile('unknown.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unk\nbogus: 1\n');
      assert.match((await c.kubectl(['create', '-f', unknown])).stderr, /unknown field "bogus"/);
    });
  });
}
