import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { atomicTypes, patchMeta } from './patch-meta.js';
import { findRootType, listTypeOf, schemaFromOpenAPI, splitPatchStrategy } from './schema.js';
import { fixtureSchemas } from './testdata/openapi-fixture.js';

const schema = schemaFromOpenAPI(fixtureSchemas);

describe('schemaFromOpenAPI', () => {
  const cases: Array<{ name: string; type: string; field: string; want: unknown }> = [
    {
      name: 'a struct field wrapped in allOf resolves to its definition',
      type: 'io.k8s.api.apps.v1.DeploymentSpec',
      field: 'template',
      want: { kind: 'map', elementType: 'io.k8s.api.core.v1.PodTemplateSpec' },
    },
    {
      name: 'a list of structs carries the merge key from the fact table',
      type: 'io.k8s.api.core.v1.PodSpec',
      field: 'containers',
      want: { kind: 'list', elementType: 'io.k8s.api.core.v1.Container', patchStrategy: 'merge', patchMergeKey: 'name' },
    },
    {
      name: 'container ports have two list-map keys and TCP as the protocol default',
      type: 'io.k8s.api.core.v1.Container',
      field: 'ports',
      want: {
        kind: 'list',
        elementType: 'io.k8s.api.core.v1.ContainerPort',
        patchStrategy: 'merge',
        patchMergeKey: 'containerPort',
        listMapKeys: ['containerPort', 'protocol'],
        keyDefaults: { protocol: 'TCP' },
      },
    },
    { name: 'labels are a map of values', type: 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', field: 'labels', want: { kind: 'map', mapOfValues: true } },
    { name: 'finalizers merge as a set', type: 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', field: 'finalizers', want: { kind: 'list', patchStrategy: 'merge' } },
    { name: 'IntOrString is a scalar', type: 'io.k8s.api.core.v1.ServicePort', field: 'targetPort', want: { kind: 'scalar' } },
    {
      name: 'the deployment strategy has the retainKeys strategy',
      type: 'io.k8s.api.apps.v1.DeploymentSpec',
      field: 'strategy',
      want: { kind: 'map', elementType: 'io.k8s.api.apps.v1.DeploymentStrategy', patchStrategy: 'retainKeys' },
    },
    { name: 'an unknown field is undefined', type: 'io.k8s.api.core.v1.PodSpec', field: 'nope', want: undefined },
    { name: 'an unknown type is undefined', type: 'example.com.v1.Nope', field: 'spec', want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(schema.field(c.type, c.field), c.want));
  }

  it('x-kubernetes extensions are read when the fact table is silent, and the table wins when it speaks', () => {
    const s = schemaFromOpenAPI(
      {
        'x.Item': { type: 'object', properties: { id: { type: 'string' }, zone: { type: 'string', default: 'a' } } },
        'x.Spec': {
          type: 'object',
          properties: {
            items: {
              type: 'array',
              items: { $ref: '#/components/schemas/x.Item' },
              'x-kubernetes-patch-strategy': 'merge',
              'x-kubernetes-patch-merge-key': 'id',
              'x-kubernetes-list-type': 'map',
              'x-kubernetes-list-map-keys': ['id', 'zone'],
            },
            inline: { type: 'object', properties: { a: { type: 'string' } }, 'x-kubernetes-map-type': 'atomic' },
            tags: { type: 'array', items: { type: 'string' }, 'x-kubernetes-patch-strategy': 'merge' },
          },
        },
      },
      { 'x.Spec': { tags: { strategy: 'replace' } } },
    );
    assert.deepEqual(s.field('x.Spec', 'items'), {
      kind: 'list',
      elementType: 'x.Item',
      patchStrategy: 'merge',
      patchMergeKey: 'id',
      listType: 'map',
      listMapKeys: ['id', 'zone'],
      keyDefaults: { zone: 'a' },
    });
    assert.deepEqual(s.field('x.Spec', 'inline'), { kind: 'map', elementType: 'x.Spec/inline', mapType: 'atomic' });
    assert.deepEqual(s.field('x.Spec/inline', 'a'), { kind: 'scalar' });
    assert.equal(s.field('x.Spec', 'tags')?.patchStrategy, 'replace');
  });

  it('atomic struct types are reported from the table and from x-kubernetes-map-type', () => {
    assert.deepEqual(schema.type?.('io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector'), { mapType: 'atomic' });
    assert.deepEqual(schema.type?.('io.k8s.api.core.v1.PodSpec'), {});
    assert.equal(schema.type?.('example.com.v1.Nope'), undefined);
  });

  it('the root type of a GVK comes from x-kubernetes-group-version-kind', () => {
    assert.equal(schema.rootType({ group: 'apps', version: 'v1', kind: 'Deployment' }), 'io.k8s.api.apps.v1.Deployment');
    assert.equal(findRootType(fixtureSchemas, { group: '', version: 'v1', kind: 'Pod' }), 'io.k8s.api.core.v1.Pod');
    assert.equal(schema.rootType({ group: 'apps', version: 'v1', kind: 'Nope' }), undefined);
  });
});

describe('patch helpers', () => {
  it('splitPatchStrategy separates retainKeys from the other strategy and rejects nonsense', () => {
    assert.deepEqual(splitPatchStrategy('merge,retainKeys'), { retainKeys: true, strategy: 'merge' });
    assert.deepEqual(splitPatchStrategy('retainKeys'), { retainKeys: true, strategy: '' });
    assert.deepEqual(splitPatchStrategy(undefined), { retainKeys: false, strategy: '' });
    assert.deepEqual(splitPatchStrategy('merge,replace'), { error: 'unexpected patch strategy: [merge replace]' });
  });

  it('listTypeOf derives server-side apply list types from patch strategies as upstream schemaconv does', () => {
    assert.deepEqual(listTypeOf({ kind: 'list', patchStrategy: 'merge', patchMergeKey: 'name' }), { listType: 'map', keys: ['name'] });
    assert.deepEqual(listTypeOf({ kind: 'list', patchStrategy: 'merge' }), { listType: 'set', keys: [] });
    assert.deepEqual(listTypeOf({ kind: 'list' }), { listType: 'atomic', keys: [] });
    assert.deepEqual(listTypeOf({ kind: 'list', patchStrategy: 'merge', patchMergeKey: 'type', listType: 'atomic' }), { listType: 'atomic', keys: [] });
  });
});

describe('patchMeta', () => {
  it('every merge key belongs to a merge strategy and names upstream definitions', () => {
    for (const [type, fields] of Object.entries(patchMeta)) {
      assert.match(type, /^io\.k8s\./);
      for (const [field, facts] of Object.entries(fields)) {
        if (facts.mergeKey) assert.ok(facts.strategy?.split(',').includes('merge'), `${type}.${field}`);
        if (facts.listMapKeys) assert.ok(facts.listMapKeys.length > 0, `${type}.${field}`);
      }
    }
    for (const t of atomicTypes) assert.match(t, /^io\.k8s\./);
  });
});
