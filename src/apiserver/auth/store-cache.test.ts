import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteBackend } from '../../storage/sqlite/sqlite-backend.js';
import { Store } from '../registry/generic/store.js';
import type { Strategy } from '../registry/generic/strategy.js';
import { StoreCache, type CacheEvent } from './store-cache.js';
import { pollUntil } from '../../base/sleep.js';

const things: Strategy = { info: { group: 'example.com', version: 'v1', resource: 'things', singular: 'thing', kind: 'Thing', namespaced: true } };

describe('StoreCache', () => {
  it('holds the initial objects once synced, then follows creates, updates and deletes', async () => {
    const backend = SqliteBackend.open({ path: ':memory:' });
    const store = new Store(things, backend);
    await store.create('a', { apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 'one' } });
    const cache = new StoreCache(store);
    const events: CacheEvent[] = [];
    cache.onEvent((e) => events.push(e));
    cache.start();
    await cache.synced;
    assert.equal(cache.get('a', 'one')?.metadata.name, 'one');
    assert.deepEqual(events.map((e) => e.type), ['ADDED']);
    await store.create('b', { apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 'two', labels: { x: '1' } } });
    await store.guaranteedUpdate({ namespace: 'b', name: 'two' }, (o) => ({ ...o, metadata: { ...o.metadata, labels: { x: '2' } } }));
    await store.delete({ namespace: 'a', name: 'one' });
    await pollUntil(() => events.length === 4, { timeoutMs: 5000 });
    assert.deepEqual(events.map((e) => e.type), ['ADDED', 'ADDED', 'MODIFIED', 'DELETED']);
    assert.equal(events[2].old?.metadata.labels.x, '1');
    assert.equal(cache.get('b', 'two')?.metadata.labels.x, '2');
    assert.equal(cache.get('a', 'one'), undefined);
    assert.equal(cache.size, 1);
    cache.stop();
    await backend.close();
  });
});
