/**
 * pods/ephemeralcontainers against a real API server: kubectl debug's strategic merge patch adds
 * a debug container; only spec.ephemeralContainers changes through it; existing ones stay as they
 * are; what a debug container may not have is refused with upstream's messages.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../src/client/rest-client.js';
import { startHarness, type Harness } from './controllers/harness.js';
import { refusedWith as refused } from './helpers.js';

let h: Harness;
const ns = 'default';

before(async () => {
  h = await startHarness();
  for (let i = 0; i < 100; i++) {
    try {
      await h.client.send('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
});
after(async () => {
  await h?.stop();
});

let n = 0;
async function pod(): Promise<KObject> {
  const name = `p${++n}`;
  return h.client.send('POST', `/api/v1/namespaces/${ns}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'x' } },
    spec: { containers: [{ name: 'main', image: 'busybox' }], initContainers: [{ name: 'setup', image: 'busybox' }] },
  });
}

const path = (name: string) => `/api/v1/namespaces/${ns}/pods/${name}/ephemeralcontainers`;
const smp = (name: string, patch: unknown) => h.client.send('PATCH', path(name), patch, { contentType: 'application/strategic-merge-patch+json' });
const debug = (extra: KObject = {}) => ({ name: 'debugger', image: 'busybox', stdin: true, tty: true, targetContainerName: 'main', ...extra });


describe('the pods/ephemeralcontainers subresource', () => {
  it('adds a debug container with kubectl debug\'s strategic merge patch, defaulted, and changes nothing else', async () => {
    const p = await pod();
    const out = await smp(p.metadata.name, { spec: { ephemeralContainers: [debug()] }, metadata: { labels: { sneaky: 'yes' } } });
    assert.equal(out.spec.ephemeralContainers.length, 1);
    const ec = out.spec.ephemeralContainers[0];
    assert.deepEqual([ec.name, ec.targetContainerName, ec.terminationMessagePolicy, ec.terminationMessagePath, ec.imagePullPolicy], ['debugger', 'main', 'File', '/dev/termination-log', 'Always']);
    assert.equal(out.metadata.labels.sneaky, undefined, 'only spec.ephemeralContainers may change here');
    assert.deepEqual(out.spec.containers.map((c: KObject) => c.name), ['main']);
    const got = await h.client.send('GET', path(p.metadata.name));
    assert.equal(got.kind, 'Pod');
    assert.equal(got.spec.ephemeralContainers[0].name, 'debugger');
    // A second one may be added beside it (PUT of the whole pod, as upstream's UpdateEphemeralContainers).
    got.spec.ephemeralContainers.push(debug({ name: 'second', targetContainerName: undefined }));
    const put = await h.client.send('PUT', path(p.metadata.name), got);
    assert.deepEqual(put.spec.ephemeralContainers.map((c: KObject) => c.name), ['debugger', 'second']);
  });

  it('refuses to change or remove an existing ephemeral container', async () => {
    const p = await pod();
    const cur = await smp(p.metadata.name, { spec: { ephemeralContainers: [debug()] } });
    cur.spec.ephemeralContainers[0].image = 'alpine';
    const changed = await refused(h.client.send('PUT', path(p.metadata.name), cur));
    assert.equal(changed.code, 422);
    assert.match(changed.message, /spec\.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" may not be changed/);
    cur.spec.ephemeralContainers = [];
    const removed = await refused(h.client.send('PUT', path(p.metadata.name), cur));
    assert.match(removed.message, /existing ephemeral containers "debugger" may not be removed/);
  });

  it('refuses what a debug container may not have, with upstream\'s messages', async () => {
    const cases: [string, KObject, RegExp][] = [
      ['ports', debug({ ports: [{ containerPort: 80 }] }), /spec\.ephemeralContainers\[0\]\.ports: Forbidden: cannot be set for an Ephemeral Container/],
      ['a readiness probe', debug({ readinessProbe: { exec: { command: ['true'] } } }), /spec\.ephemeralContainers\[0\]\.readinessProbe: Forbidden: cannot be set for an Ephemeral Container/],
      ['resources', debug({ resources: { limits: { cpu: '1' } } }), /spec\.ephemeralContainers\[0\]\.resources: Forbidden: cannot be set for an Ephemeral Container/],
      ['a lifecycle hook', debug({ lifecycle: { preStop: { exec: { command: ['true'] } } } }), /spec\.ephemeralContainers\[0\]\.lifecycle: Forbidden/],
      ['a subPath mount', debug({ volumeMounts: [{ name: 'v', mountPath: '/v', subPath: 'x' }] }), /spec\.ephemeralContainers\[0\]\.volumeMounts\[0\]\.subPath: Forbidden: cannot be set for an Ephemeral Container/],
      ['a target that is not a container of the pod', debug({ targetContainerName: 'nope' }), /spec\.ephemeralContainers\[0\]\.targetContainerName: Not found: "nope"/],
      ['the name of a regular container', debug({ name: 'main' }), /spec\.ephemeralContainers\[0\]\.name: Duplicate value: "main"/],
      ['the name of an init container', debug({ name: 'setup' }), /spec\.ephemeralContainers\[0\]\.name: Duplicate value: "setup"/],
      ['no image', debug({ image: undefined }), /spec\.ephemeralContainers\[0\]\.image: Required value/],
    ];
    for (const [what, ec, msg] of cases) {
      const p = await pod();
      const e = await refused(smp(p.metadata.name, { spec: { ephemeralContainers: [ec] } }));
      assert.equal(e.code, 422, what);
      assert.match(e.message, msg, what);
      assert.equal((await h.client.send('GET', `/api/v1/namespaces/${ns}/pods/${p.metadata.name}`)).spec.ephemeralContainers, undefined, `${what}: nothing stored`);
    }
  });

  it('keeps ephemeral containers out of pod creation and the main resource\'s updates', async () => {
    const create = await refused(h.client.send('POST', `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'eph-on-create' }, spec: { containers: [{ name: 'main', image: 'busybox' }], ephemeralContainers: [debug()] } }));
    assert.match(create.message, /spec\.ephemeralContainers: Forbidden: cannot be set on create/);
    const p = await pod();
    const viaMain = await refused(h.client.send('PATCH', `/api/v1/namespaces/${ns}/pods/${p.metadata.name}`, { spec: { ephemeralContainers: [debug()] } }, { contentType: 'application/strategic-merge-patch+json' }));
    assert.equal(viaMain.code, 422);
    assert.match(viaMain.message, /Forbidden: pod updates may not change fields other than/);
  });

  it('is listed in discovery with get, patch and update, and refuses other verbs', async () => {
    const api = await h.client.send('GET', '/api/v1');
    const sub = api.resources.find((r: KObject) => r.name === 'pods/ephemeralcontainers');
    assert.ok(sub, 'pods/ephemeralcontainers is discoverable');
    assert.deepEqual([...sub.verbs].sort(), ['get', 'patch', 'update']);
    assert.equal(sub.kind, 'Pod');
    const p = await pod();
    const del = await refused(h.client.send('DELETE', path(p.metadata.name)));
    assert.equal(del.code, 405);
    assert.ok(await h.client.send('GET', `/api/v1/namespaces/${ns}/pods/${p.metadata.name}`), 'the pod is still there');
  });
});
