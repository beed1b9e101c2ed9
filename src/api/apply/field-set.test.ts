import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compareKeys,
  difference,
  emptySet,
  formatPath,
  fromFieldsV1,
  insert,
  intersection,
  paths,
  recursiveDifference,
  toFieldsV1,
  union,
} from './field-set.js';

const set = (...ps: string[][]) => {
  const s = emptySet();
  for (const p of ps) insert(s, p);
  return s;
};

describe('field sets', () => {
  it('FieldsV1 round-trips with "." marking a member that also has children', () => {
    const v1 = {
      'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
      'f:spec': {
        'f:containers': { 'k:{"name":"nginx"}': { '.': {}, 'f:image': {}, 'f:name': {} } },
        'f:replicas': {},
      },
    };
    assert.deepEqual(toFieldsV1(fromFieldsV1(v1)), v1);
  });

  it('encoding sorts fields before keys before values, each in upstream order', () => {
    const s = set(['f:b'], ['f:a'], ['k:{"port":443}'], ['k:{"port":80}'], ['v:"z"'], ['v:"a"'], ['v:2']);
    assert.deepEqual(Object.keys(toFieldsV1(s)), ['f:a', 'f:b', 'k:{"port":80}', 'k:{"port":443}', 'v:2', 'v:"a"', 'v:"z"']);
  });

  it('paths lists members first at each level, then subtrees', () => {
    const s = set(['f:spec', 'f:template', 'f:x'], ['f:metadata', 'f:labels', 'f:a'], ['f:spec', 'f:replicas']);
    assert.deepEqual(paths(s), [
      ['f:metadata', 'f:labels', 'f:a'],
      ['f:spec', 'f:replicas'],
      ['f:spec', 'f:template', 'f:x'],
    ]);
  });

  it('formatPath prints field paths as upstream conflict messages do', () => {
    assert.equal(
      formatPath(['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"nginx"}', 'f:ports', 'k:{"containerPort":80,"protocol":"TCP"}', 'f:containerPort']),
      '.spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"].containerPort',
    );
    assert.equal(formatPath(['f:metadata', 'f:finalizers', 'v:"example.com/x"']), '.metadata.finalizers[="example.com/x"]');
    assert.equal(formatPath(['f:data', 'f:.dockerconfigjson']), '.data..dockerconfigjson');
  });

  it('difference removes members only, keeping paths below a member of the other set', () => {
    const a = set(['f:spec'], ['f:spec', 'f:replicas'], ['f:metadata', 'f:name']);
    const b = set(['f:spec'], ['f:metadata', 'f:name']);
    assert.deepEqual(paths(difference(a, b)), [['f:spec', 'f:replicas']]);
    assert.deepEqual(paths(recursiveDifference(a, b)), []);
  });

  it('union and intersection combine members', () => {
    const a = set(['f:a'], ['f:b', 'f:c']);
    const b = set(['f:b', 'f:c'], ['f:d']);
    assert.deepEqual(paths(union(a, b)), [['f:a'], ['f:d'], ['f:b', 'f:c']]);
    assert.deepEqual(paths(intersection(a, b)), [['f:b', 'f:c']]);
  });

  it('numbers order numerically inside keys', () => {
    assert.ok(compareKeys('k:{"port":80}', 'k:{"port":443}') < 0);
    assert.ok(compareKeys('v:10', 'v:9') > 0);
  });

  it('a malformed FieldsV1 is rejected', () => {
    assert.throws(() => fromFieldsV1({ 'x:y': {} }), /unknown path element type/);
    assert.throws(() => fromFieldsV1({ 'f:a': 1 }), /must be an object/);
  });
});
