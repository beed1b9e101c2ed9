import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../errors.js';
import { validateObjectMeta, validateObjectMetaUpdate } from './object-meta.js';

const render = (errs: ReturnType<typeof validateObjectMeta>) => errs.map(fieldErrorString);

describe('validateObjectMeta', () => {
  const ns = { namespaced: true, nameValidation: 'dns-subdomain' as const };
  const cases: Array<{ name: string; meta: any; opts?: any; want: string[] }> = [
    { name: 'a valid namespaced object passes', meta: { name: 'web', namespace: 'default', labels: { app: 'web' } }, want: [] },
    {
      name: 'an invalid name quotes the value and the subdomain rule',
      meta: { name: 'Foo_1', namespace: 'default' },
      want: [
        `metadata.name: Invalid value: "Foo_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      ],
    },
    { name: 'a missing name asks for name or generateName', meta: { namespace: 'default' }, want: ['metadata.name: Required value: name or generateName is required'] },
    { name: 'a namespaced kind needs a namespace', meta: { name: 'a' }, want: ['metadata.namespace: Required value'] },
    { name: 'a cluster-scoped kind refuses a namespace', meta: { name: 'a', namespace: 'x' }, opts: { namespaced: false, nameValidation: 'dns-subdomain' }, want: ['metadata.namespace: Forbidden: not allowed on this type'] },
    {
      name: 'a namespace name must be an RFC 1123 label',
      meta: { name: 'a', namespace: 'a.b' },
      want: ['metadata.namespace: Invalid value: "a.b": must not contain dots'],
    },
    {
      name: 'a bad label value is reported against metadata.labels',
      meta: { name: 'a', namespace: 'd', labels: { app: 'a b' } },
      want: [
        `metadata.labels: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
      ],
    },
    { name: 'annotations over 256 KiB are too long', meta: { name: 'a', namespace: 'd', annotations: { big: 'x'.repeat(262144) } }, want: ['metadata.annotations: Too long: must have at most 262144 bytes'] },
    { name: 'an unqualified finalizer must be a standard one', meta: { name: 'a', namespace: 'd', finalizers: ['mine'] }, want: ['metadata.finalizers[0]: Invalid value: "mine": name is neither a standard finalizer name nor is it fully qualified'] },
    {
      name: 'owner references need apiVersion, kind, name and uid',
      meta: { name: 'a', namespace: 'd', ownerReferences: [{}] },
      want: [
        'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
        'metadata.ownerReferences.kind: Invalid value: "": must not be empty',
        'metadata.ownerReferences.name: Invalid value: "": must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": must not be empty',
      ],
    },
    {
      name: 'two controller owner references are refused',
      meta: {
        name: 'a',
        namespace: 'd',
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'a', uid: '1', controller: true },
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'b', uid: '2', controller: true },
        ],
      },
      want: [
        'metadata.ownerReferences: Invalid value: [{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"a","uid":"1","controller":true},{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"b","uid":"2","controller":true}]: Only one reference can have Controller set to true. Found "true" in references for ReplicaSet/a and ReplicaSet/b',
      ],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(render(validateObjectMeta(c.meta, c.opts ?? ns)), c.want));
});

describe('validateObjectMetaUpdate', () => {
  const old = { name: 'x', namespace: 'd', uid: 'u1', creationTimestamp: '2024-01-01T00:00:00Z', resourceVersion: '5', generation: 3 };
  it('a rename is refused as an immutable field', () => {
    assert.deepEqual(render(validateObjectMetaUpdate({ ...old, name: 'y' }, old)), ['metadata.name: Invalid value: "y": field is immutable']);
  });
  it('changing the uid is refused', () => {
    assert.deepEqual(render(validateObjectMetaUpdate({ ...old, uid: 'u2' }, old)), ['metadata.uid: Invalid value: "u2": field is immutable']);
  });
  it('the generation may not go down', () => {
    assert.deepEqual(render(validateObjectMetaUpdate({ ...old, generation: 2 }, old)), ['metadata.generation: Invalid value: 2: must not be decremented']);
  });
  it('no finalizer may be added while deleting', () => {
    const deleting = { ...old, deletionTimestamp: '2024-01-02T00:00:00Z', finalizers: ['a.io/x'] };
    assert.deepEqual(render(validateObjectMetaUpdate({ ...deleting, finalizers: ['a.io/x', 'b.io/y'] }, deleting)), [
      'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"b.io/y"}',
    ]);
  });
  it('label changes are allowed', () => {
    assert.deepEqual(render(validateObjectMetaUpdate({ ...old, labels: { a: 'b' } }, old)), []);
  });
});
