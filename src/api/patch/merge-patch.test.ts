import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusError } from '../errors.js';
import { applyMergePatch, mergePatchValue } from './merge-patch.js';

describe('applyMergePatch', () => {
  const original = () => ({
    metadata: { name: 'web', labels: { app: 'web', tier: 'front' } },
    spec: { replicas: 1, list: [1, 2], nested: { a: 1, b: 2 } },
  });
  const cases: Array<{ name: string; patch: Record<string, unknown>; want: unknown }> = [
    {
      name: 'kubectl label adds a label and keeps the others',
      patch: { metadata: { labels: { env: 'prod' } } },
      want: { ...original(), metadata: { name: 'web', labels: { app: 'web', tier: 'front', env: 'prod' } } },
    },
    {
      name: 'a null value removes the label',
      patch: { metadata: { labels: { tier: null } } },
      want: { ...original(), metadata: { name: 'web', labels: { app: 'web' } } },
    },
    {
      name: 'kubectl scale replaces a scalar',
      patch: { spec: { replicas: 4 } },
      want: { ...original(), spec: { ...original().spec, replicas: 4 } },
    },
    {
      name: 'lists are replaced wholesale',
      patch: { spec: { list: [3] } },
      want: { ...original(), spec: { ...original().spec, list: [3] } },
    },
    {
      name: 'nulls inside a newly added object are dropped',
      patch: { status: { phase: 'Running', reason: null } },
      want: { ...original(), status: { phase: 'Running' } },
    },
    {
      name: 'an object replaces a scalar and a scalar replaces an object',
      patch: { spec: { replicas: { x: 1 }, nested: 'flat' } },
      want: { ...original(), spec: { replicas: { x: 1 }, list: [1, 2], nested: 'flat' } },
    },
    { name: 'an empty patch changes nothing', patch: {}, want: original() },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const input = original();
      assert.deepEqual(applyMergePatch(input, c.patch), c.want);
      assert.deepEqual(input, original(), 'the input must not be modified');
    });
  }

  for (const patch of [null, [1], 'x', 3]) {
    it(`a patch that is ${JSON.stringify(patch)} is rejected with 400 Invalid JSON Patch`, () => {
      assert.throws(
        () => applyMergePatch(original(), patch),
        (e: unknown) => e instanceof StatusError && e.code === 400 && e.message === 'Invalid JSON Patch',
      );
    });
  }

  it('mergePatchValue returns a non-object patch as the new value', () => {
    assert.deepEqual(mergePatchValue({ a: 1 }, [{ b: null, c: 1 }]), [{ c: 1 }]);
  });
});
