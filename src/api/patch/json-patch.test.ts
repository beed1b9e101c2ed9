import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusError } from '../errors.js';
import { applyJsonPatch } from './json-patch.js';

const deployment = () => ({
  metadata: { name: 'web', annotations: { a: '1' }, labels: { app: 'web' } },
  spec: { replicas: 1, template: { spec: { containers: [{ name: 'c', image: 'nginx:1' }] } } },
  list: ['a', 'b', 'c'],
});

describe('applyJsonPatch', () => {
  const cases: Array<{ name: string; patch: unknown; want: unknown }> = [
    {
      name: 'add sets a new map key',
      patch: [{ op: 'add', path: '/metadata/labels/tier', value: 'front' }],
      want: { ...deployment(), metadata: { ...deployment().metadata, labels: { app: 'web', tier: 'front' } } },
    },
    {
      name: 'add overwrites an existing map key',
      patch: [{ op: 'add', path: '/spec/replicas', value: 3 }],
      want: { ...deployment(), spec: { ...deployment().spec, replicas: 3 } },
    },
    {
      name: 'add inserts into an array at an index and appends with a dash',
      patch: [
        { op: 'add', path: '/list/1', value: 'x' },
        { op: 'add', path: '/list/-', value: 'z' },
      ],
      want: { ...deployment(), list: ['a', 'x', 'b', 'c', 'z'] },
    },
    {
      name: 'a negative add index counts from the end, as upstream allows',
      patch: [{ op: 'add', path: '/list/-1', value: 'end' }],
      want: { ...deployment(), list: ['a', 'b', 'c', 'end'] },
    },
    {
      name: 'remove deletes a key and an array element',
      patch: [
        { op: 'remove', path: '/metadata/annotations/a' },
        { op: 'remove', path: '/list/0' },
      ],
      want: { ...deployment(), metadata: { ...deployment().metadata, annotations: {} }, list: ['b', 'c'] },
    },
    {
      name: 'replace swaps the pod template the way rollout undo sends it',
      patch: [
        { op: 'replace', path: '/spec/template', value: { spec: { containers: [{ name: 'c', image: 'nginx:0' }] } } },
        { op: 'replace', path: '/metadata/annotations', value: { b: '2' } },
      ],
      want: {
        ...deployment(),
        metadata: { ...deployment().metadata, annotations: { b: '2' } },
        spec: { replicas: 1, template: { spec: { containers: [{ name: 'c', image: 'nginx:0' }] } } },
      },
    },
    {
      name: 'move relocates a value',
      patch: [{ op: 'move', from: '/metadata/annotations/a', path: '/metadata/labels/a' }],
      want: { ...deployment(), metadata: { name: 'web', annotations: {}, labels: { app: 'web', a: '1' } } },
    },
    {
      name: 'copy duplicates a value without sharing it',
      patch: [
        { op: 'copy', from: '/metadata/labels', path: '/metadata/copied' },
        { op: 'add', path: '/metadata/copied/extra', value: 'x' },
      ],
      want: { ...deployment(), metadata: { ...deployment().metadata, copied: { app: 'web', extra: 'x' } } },
    },
    {
      name: 'a passing test changes nothing',
      patch: [{ op: 'test', path: '/spec/template/spec/containers/0', value: { image: 'nginx:1', name: 'c' } }],
      want: deployment(),
    },
    {
      name: 'pointer escapes ~1 and ~0 address keys with slashes and tildes',
      patch: [{ op: 'add', path: '/metadata/annotations/example.com~1a~0b', value: 'v' }],
      want: { ...deployment(), metadata: { ...deployment().metadata, annotations: { a: '1', 'example.com/a~b': 'v' } } },
    },
    { name: 'a null body is an empty patch', patch: null, want: deployment() },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const input = deployment();
      assert.deepEqual(applyJsonPatch(input, c.patch), c.want);
      assert.deepEqual(input, deployment(), 'the input must not be modified');
    });
  }

  const failures: Array<{ name: string; patch: unknown; code: number; detail: RegExp }> = [
    {
      name: 'a failed test operation is rejected with 422 and nothing is applied',
      patch: [
        { op: 'replace', path: '/spec/replicas', value: 5 },
        { op: 'test', path: '/spec/replicas', value: 1 },
      ],
      code: 422,
      detail: /^testing value \/spec\/replicas failed: test failed$/,
    },
    {
      name: 'removing a key that does not exist is rejected with 422',
      patch: [{ op: 'remove', path: '/metadata/labels/nope' }],
      code: 422,
      detail: /Unable to remove nonexistent key: nope/,
    },
    {
      name: 'replacing a key that does not exist is rejected with 422',
      patch: [{ op: 'replace', path: '/spec/paused', value: true }],
      code: 422,
      detail: /replace operation does not apply: doc is missing key: \/spec\/paused/,
    },
    {
      name: 'adding under a missing parent is rejected with 422',
      patch: [{ op: 'add', path: '/status/phase', value: 'x' }],
      code: 422,
      detail: /add operation does not apply: doc is missing path: "\/status\/phase"/,
    },
    {
      name: 'an array index past the end is rejected with 422',
      patch: [{ op: 'remove', path: '/list/7' }],
      code: 422,
      detail: /Unable to access invalid index: 7/,
    },
    { name: 'an unknown operation is rejected with 422', patch: [{ op: 'frobnicate', path: '/a' }], code: 422, detail: /Unexpected kind: frobnicate/ },
    { name: 'a body that is an object is a 400', patch: { op: 'add' }, code: 400, detail: /./ },
    { name: 'an operation that is a string is a 400', patch: ['add'], code: 400, detail: /./ },
  ];
  for (const c of failures) {
    it(c.name, () => {
      const input = deployment();
      assert.throws(
        () => applyJsonPatch(input, c.patch),
        (e: unknown) => {
          assert.ok(e instanceof StatusError);
          assert.equal(e.code, c.code);
          const detail = c.code === 422 ? String(((e as Error).cause as Error).message) : e.message;
          assert.match(detail, c.detail);
          if (c.code === 422) {
            assert.equal(e.message, 'the server rejected our request due to an error in our request');
            assert.equal(e.reason, 'Invalid');
          }
          return true;
        },
      );
      assert.deepEqual(input, deployment());
    });
  }

  it('more than 10000 operations are refused with 413', () => {
    const ops = Array.from({ length: 10001 }, () => ({ op: 'test', path: '/spec/replicas', value: 1 }));
    assert.throws(
      () => applyJsonPatch(deployment(), ops),
      (e: unknown) => e instanceof StatusError && e.code === 413 && /got 10001/.test(e.message),
    );
  });
});
