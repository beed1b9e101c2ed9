/**
 * pods/eviction against a real API server, with the budgets' status written by the test (no
 * disruption controller runs here), so each rule of upstream's eviction is checked on its own:
 * budget checks and 429s, the allowance taken and the pod recorded in disruptedPods, unready pods,
 * pods that skip the check, dry runs, and bad requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../src/client/rest-client.js';
import { startHarness, type Harness } from './controllers/harness.js';
import { refusedWith as refused } from './helpers.js';

let h: Harness;
let n = 0;

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

/** A fresh namespace per case, so budgets of one case never select pods of another. */
async function namespace(): Promise<string> {
  const ns = `evict-${++n}`;
  await h.client.send('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  for (let i = 0; i < 100; i++) {
    try {
      await h.client.send('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`);
      return ns;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error('no default service account');
}

/** A pod bound to a node (so deleting it is graceful), in the given phase, ready or not. */
async function pod(ns: string, name: string, o: { phase?: string; ready?: boolean; labels?: Record<string, string> } = {}): Promise<KObject> {
  await h.client.send('POST', `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: o.labels ?? { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
  await h.client.send('POST', `/api/v1/namespaces/${ns}/pods/${name}/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { kind: 'Node', name: 'node-a' } });
  const cur = await h.client.send('GET', `/api/v1/namespaces/${ns}/pods/${name}`);
  const phase = o.phase ?? 'Running';
  cur.status = { ...cur.status, phase, conditions: [...(cur.status?.conditions ?? []), { type: 'Ready', status: o.ready === false ? 'False' : 'True' }] };
  return h.client.send('PUT', `/api/v1/namespaces/${ns}/pods/${name}/status`, cur);
}

/** A budget with the status a disruption controller would have written. */
async function budget(ns: string, name: string, status: KObject, spec: KObject = {}): Promise<KObject> {
  const created = await h.client.send('POST', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name },
    spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } }, ...spec },
  });
  created.status = { observedGeneration: created.metadata.generation, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0, disruptionsAllowed: 0, ...status };
  return h.client.send('PUT', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/${name}/status`, created);
}

async function evict(ns: string, name: string, extra: KObject = {}, query = ''): Promise<KObject> {
  return h.client.send('POST', `/api/v1/namespaces/${ns}/pods/${name}/eviction${query}`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns }, ...extra });
}


const getPod = (ns: string, name: string) => h.client.send('GET', `/api/v1/namespaces/${ns}/pods/${name}`);
const getBudget = (ns: string, name: string) => h.client.send('GET', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/${name}`);
const condition = (obj: KObject, type: string) => (obj.status?.conditions ?? []).find((c: KObject) => c.type === type);

describe('the pods/eviction subresource honours PodDisruptionBudgets as upstream', () => {
  it('evicts a pod no budget covers: the pod gets the DisruptionTarget condition and starts terminating', async () => {
    const ns = await namespace();
    await pod(ns, 'a');
    const st = await evict(ns, 'a');
    assert.equal(st.kind, 'Status');
    assert.equal(st.status, 'Success');
    const p = await getPod(ns, 'a');
    assert.ok(p.metadata.deletionTimestamp, 'the pod is being deleted');
    const c = condition(p, 'DisruptionTarget');
    assert.deepEqual([c?.status, c?.reason, c?.message], ['True', 'EvictionByEvictionAPI', 'Eviction API: evicting']);
  });

  it('takes one allowed disruption, records the pod in disruptedPods, and refuses the next eviction with 429', async () => {
    const ns = await namespace();
    await pod(ns, 'a');
    await pod(ns, 'b');
    await pod(ns, 'c');
    await budget(ns, 'web', { currentHealthy: 3, desiredHealthy: 2, expectedPods: 3, disruptionsAllowed: 1 }, { minAvailable: 2 });
    await evict(ns, 'a');
    const b = await getBudget(ns, 'web');
    assert.equal(b.status.disruptionsAllowed, 0);
    assert.deepEqual(Object.keys(b.status.disruptedPods), ['a']);
    assert.ok(!Number.isNaN(Date.parse(b.status.disruptedPods.a)), 'the eviction time is recorded');
    const cond = condition(b, 'DisruptionAllowed');
    assert.deepEqual([cond?.status, cond?.reason], ['False', 'InsufficientPods']);
    assert.ok((await getPod(ns, 'a')).metadata.deletionTimestamp);

    const e = await refused(evict(ns, 'b'));
    assert.equal(e.code, 429);
    assert.equal(e.status.reason, 'TooManyRequests');
    assert.equal(e.message, "Cannot evict pod as it would violate the pod's disruption budget.");
    assert.deepEqual(e.status.details?.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget web needs 2 healthy pods and has 3 currently' }]);
    assert.equal(e.status.details?.retryAfterSeconds, undefined, 'no retry hint when the budget is simply exhausted');
    assert.equal((await getPod(ns, 'b')).metadata.deletionTimestamp, undefined, 'the refused pod is untouched');
  });

  it('refuses with a retry hint while the budget controller has not seen the latest spec', async () => {
    const ns = await namespace();
    await pod(ns, 'a');
    const b = await budget(ns, 'web', { disruptionsAllowed: 5, currentHealthy: 1 });
    b.spec.minAvailable = 0;
    await h.client.send('PUT', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/web`, b);
    const e = await refused(evict(ns, 'a'));
    assert.equal(e.code, 429);
    assert.equal(e.status.details?.retryAfterSeconds, 10);
    assert.deepEqual(e.status.details?.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget web is still being processed by the server.' }]);
  });

  it('lets pods that cannot count as available go without a budget check', async () => {
    for (const phase of ['Pending', 'Succeeded', 'Failed']) {
      const ns = await namespace();
      await pod(ns, 'a', { phase });
      await budget(ns, 'web', { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 1 });
      await evict(ns, 'a');
      assert.ok((await getPod(ns, 'a').catch(() => ({ metadata: { deletionTimestamp: 'gone' } }))).metadata.deletionTimestamp, `a ${phase} pod is evicted`);
      assert.equal((await getBudget(ns, 'web')).status.disruptedPods, undefined, `a ${phase} pod takes nothing from the budget`);
    }
  });

  it('lets an unready pod go while the budget is met (IfHealthyBudget), and not when it is short', async () => {
    const ns = await namespace();
    await pod(ns, 'sick', { ready: false });
    await budget(ns, 'web', { disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2, expectedPods: 3 }, { minAvailable: 2 });
    await evict(ns, 'sick');
    assert.ok((await getPod(ns, 'sick')).metadata.deletionTimestamp);
    assert.equal((await getBudget(ns, 'web')).status.disruptedPods, undefined, 'an unready pod takes nothing from the budget');

    const short = await namespace();
    await pod(short, 'sick', { ready: false });
    await budget(short, 'web', { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 2, expectedPods: 3 }, { minAvailable: 2 });
    assert.equal((await refused(evict(short, 'sick'))).code, 429);
  });

  it('lets an unready pod go even when the budget is short, with unhealthyPodEvictionPolicy AlwaysAllow', async () => {
    const ns = await namespace();
    await pod(ns, 'sick', { ready: false });
    await budget(ns, 'web', { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 2, expectedPods: 3 }, { minAvailable: 2, unhealthyPodEvictionPolicy: 'AlwaysAllow' });
    await evict(ns, 'sick');
    assert.ok((await getPod(ns, 'sick')).metadata.deletionTimestamp);
  });

  it('answers 500 when two budgets select the pod, as upstream does not support that', async () => {
    const ns = await namespace();
    await pod(ns, 'a');
    await budget(ns, 'one', { disruptionsAllowed: 1 });
    await budget(ns, 'two', { disruptionsAllowed: 1 });
    const e = await refused(evict(ns, 'a'));
    assert.equal(e.code, 500);
    assert.equal(e.message, 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
  });

  it('changes nothing on a dry run, from the query or from deleteOptions, and refuses a dry run the budget does not allow', async () => {
    const ns = await namespace();
    await pod(ns, 'a');
    await budget(ns, 'web', { disruptionsAllowed: 1, currentHealthy: 1 }, { minAvailable: 0 });
    await evict(ns, 'a', {}, '?dryRun=All');
    await evict(ns, 'a', { deleteOptions: { dryRun: ['All'] } });
    const p = await getPod(ns, 'a');
    assert.equal(p.metadata.deletionTimestamp, undefined);
    assert.equal(condition(p, 'DisruptionTarget'), undefined);
    const b = await getBudget(ns, 'web');
    assert.equal(b.status.disruptionsAllowed, 1);
    assert.equal(b.status.disruptedPods, undefined);

    const none = await namespace();
    await pod(none, 'a');
    await budget(none, 'web', { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1 });
    assert.equal((await refused(evict(none, 'a', {}, '?dryRun=All'))).code, 429);
  });

  it('refuses malformed evictions with 400 and a missing pod with 404', async () => {
    const ns = await namespace();
    await pod(ns, 'a');
    const cases: [string, Promise<unknown>, number, RegExp][] = [
      ['a name that is not the URL name', h.client.send('POST', `/api/v1/namespaces/${ns}/pods/a/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'b' } }), 400, /name in URL does not match name in Eviction object/],
      ['dry-run options that disagree', evict(ns, 'a', { deleteOptions: { dryRun: ['All'] } }, '?dryRun=All&dryRun=All'), 400, /Non-matching dry-run options/],
      ['an unknown dry-run value', evict(ns, 'a', { deleteOptions: { dryRun: ['Some'] } }), 400, /Invalid dryRun value: "Some"/],
      ['a pod that does not exist', evict(ns, 'nope'), 404, /pods "nope" not found/],
    ];
    for (const [what, p, code, msg] of cases) {
      const e = await refused(p);
      assert.equal(e.code, code, what);
      assert.match(e.message, msg, what);
    }
    assert.equal((await getPod(ns, 'a')).metadata.deletionTimestamp, undefined);
  });

  it('honours a resourceVersion precondition in deleteOptions', async () => {
    const ns = await namespace();
    const p = await pod(ns, 'a');
    const stale = String(Number(p.metadata.resourceVersion) - 1);
    assert.equal((await refused(evict(ns, 'a', { deleteOptions: { preconditions: { resourceVersion: stale } } }))).code, 409);
    await evict(ns, 'a', { deleteOptions: { preconditions: { resourceVersion: p.metadata.resourceVersion } } });
    assert.ok((await getPod(ns, 'a')).metadata.deletionTimestamp);
  });
});
