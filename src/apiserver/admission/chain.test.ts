import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { errors } from '../../api/errors.js';
import type { Store, StoreAdmission } from '../registry/generic/store.js';
import { admissionChain, type AdmissionPlugin } from './index.js';

const store = { gr: { group: '', resource: 'pods' } } as unknown as Store;
const attrs = (phase: 'mutate' | 'validate'): StoreAdmission => ({ operation: 'CREATE', object: { metadata: {} }, store, subresource: '', dryRun: false, phase });

test('the admission chain runs every plugin of the phase in order, awaiting only the plugins that return a promise', async () => {
  const order: string[] = [];
  const sync = (name: string): AdmissionPlugin => ({ name, mutate: () => void order.push(name), validate: () => void order.push(`${name}:validate`) });
  const slow = (name: string): AdmissionPlugin => ({
    name,
    mutate: async () => {
      await new Promise((r) => setTimeout(r, 5));
      order.push(name);
    },
  });
  const cases: { name: string; plugins: AdmissionPlugin[]; phase: 'mutate' | 'validate'; want: string[]; returnsPromise: boolean }[] = [
    { name: 'all synchronous', plugins: [sync('a'), sync('b')], phase: 'mutate', want: ['a', 'b'], returnsPromise: false },
    { name: 'an asynchronous plugin in the middle', plugins: [sync('a'), slow('b'), sync('c')], phase: 'mutate', want: ['a', 'b', 'c'], returnsPromise: true },
    { name: 'two asynchronous plugins', plugins: [slow('a'), slow('b'), sync('c')], phase: 'mutate', want: ['a', 'b', 'c'], returnsPromise: true },
    { name: 'the validating phase skips plugins without validate', plugins: [sync('a'), slow('b'), sync('c')], phase: 'validate', want: ['a:validate', 'c:validate'], returnsPromise: false },
  ];
  for (const c of cases) {
    order.length = 0;
    const r = admissionChain(() => undefined, c.plugins)(attrs(c.phase));
    assert.equal(r instanceof Promise, c.returnsPromise, c.name);
    await r;
    assert.deepEqual(order, c.want, c.name);
  }
});

test('a refusal stops the chain, whether the refusing plugin is synchronous or not', async () => {
  const ran: string[] = [];
  const after: AdmissionPlugin = { name: 'after', mutate: () => void ran.push('after') };
  const refuse = errors.forbidden({ group: '', resource: 'pods' }, 'p', 'no');
  const syncRefusal: AdmissionPlugin = { name: 'sync', mutate: () => { throw refuse; } };
  const asyncRefusal: AdmissionPlugin = { name: 'async', mutate: async () => { throw refuse; } };
  assert.throws(() => admissionChain(() => undefined, [syncRefusal, after])(attrs('mutate')), (e) => e === refuse);
  await assert.rejects(async () => admissionChain(() => undefined, [asyncRefusal, after])(attrs('mutate')), (e) => e === refuse);
  assert.deepEqual(ran, []);
});
