import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteBackend } from '../../../storage/sqlite/sqlite-backend.js';
import { StatusError, field } from '../../../api/errors.js';
import { knownJSON, Store, type ApiWatchEvent } from './store.js';
import type { Strategy } from './strategy.js';

const widgets: Strategy = {
  info: { group: 'example.com', version: 'v1', resource: 'widgets', singular: 'widget', kind: 'Widget', namespaced: true },
  bumpsGeneration: true,
  defaults(o) {
    o.spec ??= {};
    o.spec.size ??= 1;
  },
  prepareForCreate(o) {
    delete o.status;
  },
  prepareForUpdate(o, old) {
    o.status = old.status;
  },
  validate(o) {
    return o.spec.size < 0 ? [field.invalid('spec.size', o.spec.size, 'must be greater than or equal to 0')] : [];
  },
  status: {
    prepareForUpdate(o, old) {
      o.spec = old.spec;
    },
  },
  selectableFields: (o) => ({ 'spec.color': o.spec?.color ?? '' }),
  deleteGracePeriod: (o, requested) => requested ?? o.spec?.grace ?? 0,
};

async function expectStatus(p: Promise<unknown>, code: number, reason?: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof StatusError, `expected a StatusError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (reason) assert.equal(e.reason, reason);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('generic Store', () => {
  let backend: SqliteBackend;
  let store: Store;
  beforeEach(() => {
    backend = SqliteBackend.open({ path: ':memory:' });
    store = new Store(widgets, backend);
  });
  afterEach(async () => {
    await backend.close();
  });

  it('create fills system metadata, defaults, and resets status', async () => {
    const o = await store.create('ns', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'a' }, spec: {}, status: { x: 1 } });
    assert.equal(o.metadata.namespace, 'ns');
    assert.match(o.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(o.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(o.metadata.generation, 1);
    assert.equal(o.spec.size, 1);
    assert.equal(o.status, undefined);
    assert.ok(Number(o.metadata.resourceVersion) > 0);
  });

  it('an update carrying the uid of an earlier object of the same name is a Conflict, not Invalid', async () => {
    const first = await store.create('default', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'again' }, spec: {} });
    await store.delete({ namespace: 'default', name: 'again' });
    const second = await store.create('default', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'again' }, spec: {} });
    await expectStatus(
      store.update({ namespace: 'default', name: 'again' }, { ...first, spec: { size: 3 } }),
      409,
      'Conflict',
      new RegExp(`Precondition failed: UID in precondition: ${first.metadata.uid}, UID in object meta: ${second.metadata.uid}`),
    );
  });

  it('generateName produces a 5-character suffix', async () => {
    const o = await store.create('ns', { metadata: { generateName: 'web-' }, spec: {} });
    assert.match(o.metadata.name, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it('a duplicate create is AlreadyExists with the upstream message', async () => {
    await store.create('ns', { metadata: { name: 'a' } });
    await expectStatus(store.create('ns', { metadata: { name: 'a' } }), 409, 'AlreadyExists', /^widgets\.example\.com "a" already exists$/);
  });

  it('a namespace mismatch between body and URL is a BadRequest', async () => {
    await expectStatus(store.create('ns', { metadata: { name: 'a', namespace: 'other' } }), 400, 'BadRequest', /does not match the namespace/);
  });

  it('a wrong apiVersion is a BadRequest', async () => {
    await expectStatus(store.create('ns', { apiVersion: 'example.com/v2', metadata: { name: 'a' } }), 400, 'BadRequest', /does not match the expected API version/);
  });

  it('validation failures are Invalid with field causes', async () => {
    await expectStatus(store.create('ns', { metadata: { name: 'a' }, spec: { size: -1 } }), 422, 'Invalid', /^Widget\.example\.com "a" is invalid: spec\.size: Invalid value: -1: must be greater than or equal to 0$/);
  });

  it('update with a stale resourceVersion is a Conflict; spec changes bump generation, status changes do not', async () => {
    const a = await store.create('ns', { metadata: { name: 'a' }, spec: { size: 1 } });
    const b = await store.update({ namespace: 'ns', name: 'a' }, { ...a, spec: { size: 2 } });
    assert.equal(b.metadata.generation, 2);
    assert.ok(Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion));
    await expectStatus(store.update({ namespace: 'ns', name: 'a' }, { ...a, spec: { size: 3 } }), 409, 'Conflict', /the object has been modified; please apply your changes to the latest version and try again/);
    const c = await store.update({ namespace: 'ns', name: 'a' }, { ...b, status: { ready: true } }, { subresource: 'status' });
    assert.deepEqual(c.status, { ready: true });
    assert.equal(c.metadata.generation, 2);
    const d = await store.update({ namespace: 'ns', name: 'a' }, { ...c, status: { ready: false } });
    assert.deepEqual(d.status, { ready: true }, 'the main resource cannot change status');
  });

  it('a no-op update does not write', async () => {
    const a = await store.create('ns', { metadata: { name: 'a' }, spec: { size: 1 } });
    const b = await store.update({ namespace: 'ns', name: 'a' }, a);
    assert.equal(b.metadata.resourceVersion, a.metadata.resourceVersion);
  });

  it('finalizers hold deletion until removed; then the object goes', async () => {
    await store.create('ns', { metadata: { name: 'a', finalizers: ['example.com/x'] } });
    const r = await store.delete({ namespace: 'ns', name: 'a' });
    assert.equal(r.deleted, false);
    assert.ok(r.object.metadata.deletionTimestamp);
    const cur = await store.get({ namespace: 'ns', name: 'a' });
    await store.update({ namespace: 'ns', name: 'a' }, { ...cur, metadata: { ...cur.metadata, finalizers: [] } });
    await expectStatus(store.get({ namespace: 'ns', name: 'a' }), 404, 'NotFound', /^widgets\.example\.com "a" not found$/);
  });

  it('graceful deletion sets deletionTimestamp and grace; a zero grace period deletes at once', async () => {
    await store.create('ns', { metadata: { name: 'a' }, spec: { grace: 30 } });
    const r = await store.delete({ namespace: 'ns', name: 'a' });
    assert.equal(r.deleted, false);
    assert.equal(r.object.metadata.deletionGracePeriodSeconds, 30);
    const r2 = await store.delete({ namespace: 'ns', name: 'a' }, { gracePeriodSeconds: 0 });
    assert.equal(r2.deleted, true);
  });

  it('delete preconditions on uid are enforced', async () => {
    await store.create('ns', { metadata: { name: 'a' } });
    await expectStatus(store.delete({ namespace: 'ns', name: 'a' }, { preconditions: { uid: 'nope' } }), 409, 'Conflict', /Precondition failed: UID in precondition: nope/);
  });

  it('list paginates with continue tokens at a consistent revision', async () => {
    for (let i = 0; i < 7; i++) await store.create('ns', { metadata: { name: `w${i}` } });
    const p1 = await store.list('ns', { limit: 3 });
    assert.deepEqual(p1.items.map((o) => o.metadata.name), ['w0', 'w1', 'w2']);
    assert.ok(p1.continue);
    assert.equal(p1.remainingItemCount, 4);
    await store.create('ns', { metadata: { name: 'w3a' } });
    const p2 = await store.list('ns', { limit: 3, continue: p1.continue });
    assert.deepEqual(p2.items.map((o) => o.metadata.name), ['w3', 'w4', 'w5'], 'objects created after the first page are not seen');
    assert.equal(p2.resourceVersion, p1.resourceVersion);
    const p3 = await store.list('ns', { limit: 3, continue: p2.continue });
    assert.deepEqual(p3.items.map((o) => o.metadata.name), ['w6']);
    assert.equal(p3.continue, undefined);
    await expectStatus(store.list('ns', { continue: 'garbage' }), 400, 'BadRequest');
  });

  it('list filters by field and label predicates, across namespaces', async () => {
    await store.create('a', { metadata: { name: 'x', labels: { tier: 'web' } }, spec: { color: 'red' } });
    await store.create('b', { metadata: { name: 'y', labels: { tier: 'db' } }, spec: { color: 'blue' } });
    const red = await store.list('', { predicate: { field: (f) => f['spec.color'] === 'red' } });
    assert.deepEqual(red.items.map((o) => o.metadata.name), ['x']);
    const db = await store.list('', { predicate: { label: (l) => l.tier === 'db' } });
    assert.deepEqual(db.items.map((o) => o.metadata.name), ['y']);
  });

  it('watch sends initial state, then changes, and turns predicate transitions into ADDED and DELETED', async () => {
    await store.create('ns', { metadata: { name: 'a', labels: { on: 'yes' } } });
    const evs: ApiWatchEvent[] = [];
    const w = await store.watch('ns', { predicate: { label: (l) => l.on === 'yes' } }, (e) => evs.push(e), () => undefined);
    const a = await store.get({ namespace: 'ns', name: 'a' });
    await store.update({ namespace: 'ns', name: 'a' }, { ...a, metadata: { ...a.metadata, labels: { on: 'no' } } });
    const b = await store.create('ns', { metadata: { name: 'b', labels: { on: 'no' } } });
    await store.update({ namespace: 'ns', name: 'b' }, { ...b, metadata: { ...b.metadata, labels: { on: 'yes' } } });
    await store.delete({ namespace: 'ns', name: 'b' });
    await new Promise((r) => setTimeout(r, 50));
    w.cancel();
    assert.deepEqual(
      evs.map((e) => `${e.type}:${e.object.metadata.name}`),
      ['ADDED:a', 'DELETED:a', 'ADDED:b', 'DELETED:b'],
    );
  });

  it('watch without selectors sends ADDED, MODIFIED and DELETED, for all objects or one name', async () => {
    const all: ApiWatchEvent[] = [];
    const one: ApiWatchEvent[] = [];
    const wa = await store.watch('sel', {}, (e) => all.push(e), () => undefined);
    const wo = await store.watch('sel', { predicate: { name: 'p' } }, (e) => one.push(e), () => undefined);
    const p = await store.create('sel', { metadata: { name: 'p' } });
    await store.create('sel', { metadata: { name: 'q' } });
    await store.update({ namespace: 'sel', name: 'p' }, { ...p, metadata: { ...p.metadata, labels: { x: '1' } } });
    await store.delete({ namespace: 'sel', name: 'p' });
    await new Promise((r) => setTimeout(r, 50));
    wa.cancel();
    wo.cancel();
    assert.deepEqual(all.map((e) => `${e.type}:${e.object.metadata.name}`), ['ADDED:p', 'ADDED:q', 'MODIFIED:p', 'DELETED:p']);
    assert.deepEqual(one.map((e) => `${e.type}:${e.object.metadata.name}`), ['ADDED:p', 'MODIFIED:p', 'DELETED:p']);
    assert.deepEqual(all[2]!.object.metadata.labels, { x: '1' });
  });

  it('watch from a compacted revision is Expired (410)', async () => {
    const a = await store.create('ns', { metadata: { name: 'a' } });
    for (let i = 0; i < 5; i++) await store.create('ns', { metadata: { name: `n${i}` } });
    await backend.compact(Number(a.metadata.resourceVersion) + 3);
    await expectStatus(store.watch('ns', { resourceVersion: a.metadata.resourceVersion }, () => undefined, () => undefined), 410, 'Expired', /too old resource version/);
  });

  it('dry run validates and returns the object without persisting', async () => {
    const o = await store.create('ns', { metadata: { name: 'dry' } }, { dryRun: true });
    assert.equal(o.metadata.name, 'dry');
    await expectStatus(store.get({ namespace: 'ns', name: 'dry' }), 404);
  });

  // The store serialises a written object once: the stored value, the response text and the
  // watch event's text must be what separate serialisations would have given.
  // Each case writes its own name: watch events come from a process-wide decode cache keyed by revision.
  const writes: { name: string; known: boolean; write: (s: Store, n: string) => Promise<unknown> }[] = [
    { name: 'a create', known: true, write: (s, n) => s.create('ns', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: n, labels: { x: 'y' } }, spec: { color: 'red' } }) },
    {
      name: 'an update whose body carries resourceVersion first and a selfLink',
      known: false,
      write: async (s, n) => {
        const o = await s.create('ns', { metadata: { name: n }, spec: { color: 'red' } });
        return s.update({ namespace: 'ns', name: n }, { metadata: { resourceVersion: o.metadata.resourceVersion, name: n, selfLink: '/x' }, spec: { color: 'blue' } });
      },
    },
    {
      name: 'an update whose body carries resourceVersion as the first metadata field',
      known: true,
      write: async (s, n) => {
        const o = await s.create('ns', { metadata: { name: n }, spec: { color: 'red' } });
        return s.update({ namespace: 'ns', name: n }, { metadata: { resourceVersion: o.metadata.resourceVersion, name: n }, spec: { color: 'blue' } });
      },
    },
    {
      name: 'an update through guaranteedUpdate',
      known: true,
      write: async (s, n) => {
        await s.create('ns', { metadata: { name: n }, spec: { color: 'red' } });
        return s.guaranteedUpdate({ namespace: 'ns', name: n }, (cur) => ((cur.spec.color = 'green'), cur));
      },
    },
    {
      name: 'a write whose annotations hold the text of a resourceVersion member',
      known: true,
      write: (s, n) => s.create('ns', { metadata: { name: n, annotations: { a: '"resourceVersion":"1"', resourceVersion: '2' } }, spec: { note: ',"resourceVersion":"2",' } }),
    },
  ];
  for (const [i, t] of writes.entries()) {
    it(`${t.name}: the response text, the stored value and the watch event text agree with serialising the objects`, async () => {
      const events: ApiWatchEvent[] = [];
      const w = await store.watch('ns', { resourceVersion: String(await backend.currentRevision()) }, (e) => events.push(e), () => undefined);
      const name = `text-${i}`;
      const obj = (await t.write(store, name)) as any;
      const text = knownJSON(obj);
      assert.equal(text, t.known ? JSON.stringify(obj) : undefined);
      const stored = (await backend.get(store.key({ namespace: 'ns', name }))).kv!.value;
      const { resourceVersion: _rv, selfLink: _sl, ...meta } = obj.metadata;
      const plain = (x: unknown) => JSON.parse(JSON.stringify(x));
      assert.deepEqual(JSON.parse(stored), plain({ ...obj, metadata: meta }));
      assert.ok(!stored.includes('k8ts-rv-'), stored);
      await new Promise((r) => setTimeout(r, 20));
      assert.ok(events.length > 0);
      // A written value reaches watchers without selectors as its text, decoded only when read.
      assert.equal(events.at(-1)!.shared !== undefined, t.known);
      for (const e of events) {
        if (e.shared) assert.deepEqual(JSON.parse(e.shared.json), plain(e.object));
        const known = knownJSON(e.object);
        if (known !== undefined) assert.deepEqual(JSON.parse(known), JSON.parse(JSON.stringify(e.object)));
      }
      // A watcher sees what was stored (no selfLink), at the written revision.
      assert.deepEqual(plain(events.at(-1)!.object), plain({ ...obj, metadata: { ...meta, resourceVersion: obj.metadata.resourceVersion } }));
      w.cancel();
    });
  }

  it('the known text of a written object is dropped once its resourceVersion changes', async () => {
    const o = await store.create('ns', { metadata: { name: 'text-rv' }, spec: {} });
    assert.equal(knownJSON(o), JSON.stringify(o));
    o.metadata.resourceVersion = '999999';
    assert.equal(knownJSON(o), undefined);
  });
});
