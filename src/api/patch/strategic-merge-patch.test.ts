import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusError } from '../errors.js';
import { emptyPatchSchema, schemaFromOpenAPI } from './schema.js';
import { strategicMergePatch } from './strategic-merge-patch.js';
import { fixtureSchemas } from './testdata/openapi-fixture.js';

const schema = schemaFromOpenAPI(fixtureSchemas);
const DEPLOYMENT = 'io.k8s.api.apps.v1.Deployment';
const POD = 'io.k8s.api.core.v1.Pod';
const NODE = 'io.k8s.api.core.v1.Node';
const SERVICE = 'io.k8s.api.core.v1.Service';

const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration';

function deployment(): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' }, annotations: { [lastApplied]: '{"old":true}\n' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'nginx',
              image: 'nginx:1.27',
              ports: [{ containerPort: 80, protocol: 'TCP' }],
              env: [
                { name: 'A', value: '0' },
                { name: 'Z', value: 'z' },
              ],
            },
          ],
          tolerations: [{ key: 'k', operator: 'Exists' }],
        },
      },
    },
  };
}

/** The deployment with `mutate` applied to a copy. */
function expected(mutate: (d: any) => void): Record<string, unknown> {
  const d = deployment();
  mutate(d);
  return d;
}

interface Case {
  name: string;
  type?: string;
  original?: () => Record<string, unknown>;
  patch: Record<string, unknown>;
  want: Record<string, unknown>;
}

describe('strategicMergePatch', () => {
  const cases: Case[] = [
    {
      name: 'kubectl edit changes one container image using $setElementOrder/containers',
      patch: { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'nginx' }], containers: [{ image: 'nginx:1.29', name: 'nginx' }] } } } },
      want: expected((d) => (d.spec.template.spec.containers[0].image = 'nginx:1.29')),
    },
    {
      name: 'kubectl apply sends a three-way diff that sets replicas, merges env by name and updates the annotation',
      patch: {
        metadata: { annotations: { [lastApplied]: '{"new":true}\n' } },
        spec: {
          replicas: 3,
          template: {
            spec: {
              '$setElementOrder/containers': [{ name: 'nginx' }],
              containers: [{ env: [{ name: 'A', value: '1' }], image: 'nginx:1.28', name: 'nginx' }],
            },
          },
        },
      },
      want: expected((d) => {
        d.metadata.annotations[lastApplied] = '{"new":true}\n';
        d.spec.replicas = 3;
        d.spec.template.spec.containers[0].image = 'nginx:1.28';
        d.spec.template.spec.containers[0].env = [
          { name: 'A', value: '1' },
          { name: 'Z', value: 'z' },
        ];
      }),
    },
    {
      name: 'kubectl rollout restart adds the restartedAt annotation to the pod template',
      patch: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2025-01-01T00:00:00Z' } } } } },
      want: expected((d) => (d.spec.template.metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': '2025-01-01T00:00:00Z' })),
    },
    {
      name: 'a $patch delete element removes the container with that name',
      original: () =>
        expected((d) => d.spec.template.spec.containers.push({ name: 'sidecar', image: 'busybox' })),
      patch: { spec: { template: { spec: { containers: [{ name: 'sidecar', $patch: 'delete' }] } } } },
      want: deployment(),
    },
    {
      name: '$retainKeys switches the strategy from RollingUpdate to Recreate and drops rollingUpdate',
      patch: { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: null, type: 'Recreate' } } },
      want: expected((d) => (d.spec.strategy = { type: 'Recreate' })),
    },
    {
      name: 'env merges by name: an existing variable changes and a new one is added',
      patch: { spec: { template: { spec: { containers: [{ name: 'nginx', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }] } } } },
      want: expected((d) => {
        d.spec.template.spec.containers[0].env = [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
          { name: 'Z', value: 'z' },
        ];
      }),
    },
    {
      name: 'container ports merge by containerPort',
      patch: { spec: { template: { spec: { containers: [{ name: 'nginx', ports: [{ containerPort: 80, name: 'http' }, { containerPort: 443 }] }] } } } },
      want: expected((d) => {
        d.spec.template.spec.containers[0].ports = [{ containerPort: 80, protocol: 'TCP', name: 'http' }, { containerPort: 443 }];
      }),
    },
    {
      name: 'a list without a patch strategy is replaced',
      patch: { spec: { template: { spec: { tolerations: [{ key: 'other', operator: 'Exists' }] } } } },
      want: expected((d) => (d.spec.template.spec.tolerations = [{ key: 'other', operator: 'Exists' }])),
    },
    {
      name: 'a $patch replace element replaces the whole merging list',
      patch: { spec: { template: { spec: { containers: [{ name: 'only', image: 'x' }, { $patch: 'replace' }] } } } },
      want: expected((d) => (d.spec.template.spec.containers = [{ name: 'only', image: 'x' }])),
    },
    {
      name: '$patch replace in a map replaces the map instead of merging it',
      patch: { metadata: { labels: { $patch: 'replace', tier: 'front' } } },
      want: expected((d) => (d.metadata.labels = { tier: 'front' })),
    },
    {
      name: '$patch delete in a map empties it',
      patch: { spec: { selector: { $patch: 'delete' } } },
      want: expected((d) => (d.spec.selector = {})),
    },
    {
      name: 'directives inside a subtree the original lacks are resolved, not stored',
      patch: {
        spec: {
          template: {
            spec: { initContainers: [{ name: 'init', image: 'busybox', resources: null }, { name: 'gone', $patch: 'delete' }], '$setElementOrder/initContainers': [{ name: 'init' }] },
          },
        },
      },
      want: expected((d) => (d.spec.template.spec.initContainers = [{ name: 'init', image: 'busybox' }])),
    },
    {
      name: 'kubectl cordon sets unschedulable and uncordon deletes it with null',
      type: NODE,
      original: () => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, spec: { unschedulable: true, podCIDR: '10.0.0.0/24' } }),
      patch: { spec: { unschedulable: null } },
      want: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, spec: { podCIDR: '10.0.0.0/24' } },
    },
    {
      name: 'finalizers merge as a set of strings, new ones ordered by upstream rules',
      type: NODE,
      original: () => ({ metadata: { name: 'n', finalizers: ['a', 'b'] } }),
      patch: { metadata: { finalizers: ['b', 'c'] } },
      want: { metadata: { name: 'n', finalizers: ['a', 'b', 'c'] } },
    },
    {
      name: 'a new finalizer with no order directive is placed before the live ones',
      type: NODE,
      original: () => ({ metadata: { name: 'n', finalizers: ['a', 'b'] } }),
      patch: { metadata: { finalizers: ['c'] } },
      want: { metadata: { name: 'n', finalizers: ['c', 'a', 'b'] } },
    },
    {
      name: 'a new element named first in $setElementOrder goes first and a server-only element keeps its live neighbour',
      type: NODE,
      original: () => ({ metadata: { finalizers: ['1', '4', '2'] } }),
      patch: { metadata: { '$setElementOrder/finalizers': ['3', '1', '2'], finalizers: ['3'] } },
      want: { metadata: { finalizers: ['3', '1', '4', '2'] } },
    },
    {
      name: '$deleteFromPrimitiveList removes finalizers',
      type: NODE,
      original: () => ({ metadata: { name: 'n', finalizers: ['a', 'b', 'c'] } }),
      patch: { metadata: { '$deleteFromPrimitiveList/finalizers': ['b', 'x'] } },
      want: { metadata: { name: 'n', finalizers: ['a', 'c'] } },
    },
    {
      name: 'ordering with $setElementOrder and a deletion follows the live order for server-only finalizers',
      type: NODE,
      original: () => ({ metadata: { finalizers: ['b', 'e', 'a', 'c', 'd'] } }),
      patch: { metadata: { '$setElementOrder/finalizers': ['a', 'b', 'f'], '$deleteFromPrimitiveList/finalizers': ['c'], finalizers: ['f'] } },
      want: { metadata: { finalizers: ['e', 'a', 'b', 'f', 'd'] } },
    },
    {
      name: 'env ordering interleaves server-only variables by their live position around the $setElementOrder ones',
      type: POD,
      original: () => ({
        spec: {
          containers: [
            {
              name: 'c',
              env: [
                { name: 'ENV2', value: 'bar' },
                { name: 'ENV5', value: 'server-added-2' },
                { name: 'ENV1', value: 'foo' },
                { name: 'ENV3', value: 'baz' },
                { name: 'ENV4', value: 'server-added-1' },
              ],
            },
          ],
        },
      }),
      patch: {
        spec: {
          containers: [
            {
              name: 'c',
              '$setElementOrder/env': [{ name: 'ENV1' }, { name: 'ENV2' }, { name: 'ENV6' }],
              env: [
                { name: 'ENV3', $patch: 'delete' },
                { name: 'ENV6', value: 'new-env' },
              ],
            },
          ],
        },
      },
      want: {
        spec: {
          containers: [
            {
              name: 'c',
              env: [
                { name: 'ENV5', value: 'server-added-2' },
                { name: 'ENV1', value: 'foo' },
                { name: 'ENV2', value: 'bar' },
                { name: 'ENV6', value: 'new-env' },
                { name: 'ENV4', value: 'server-added-1' },
              ],
            },
          ],
        },
      },
    },
    {
      name: 'without an order directive the patch order wins and server-only items keep their live place',
      type: POD,
      original: () => ({ spec: { containers: [{ name: 'B' }, { name: 'C' }, { name: 'A' }] } }),
      patch: { spec: { containers: [{ name: 'A', image: "a'" }, { name: 'B', image: "b'" }, { name: 'D' }] } },
      want: { spec: { containers: [{ name: 'C' }, { name: 'A', image: "a'" }, { name: 'B', image: "b'" }, { name: 'D' }] } },
    },
    {
      name: 'volumes merge by name and $retainKeys in an element switches the volume source',
      type: POD,
      original: () => ({ spec: { volumes: [{ name: 'data', emptyDir: {} }, { name: 'keep', secret: { secretName: 's' } }] } }),
      patch: { spec: { volumes: [{ $retainKeys: ['configMap', 'name'], configMap: { name: 'cm' }, name: 'data' }] } },
      want: { spec: { volumes: [{ name: 'data', configMap: { name: 'cm' } }, { name: 'keep', secret: { secretName: 's' } }] } },
    },
    {
      name: 'owner references merge by uid',
      type: POD,
      original: () => ({ metadata: { ownerReferences: [{ uid: '1', name: 'a', kind: 'ReplicaSet' }] } }),
      patch: { metadata: { ownerReferences: [{ uid: '1', controller: true }, { uid: '2', name: 'b', kind: 'Job' }] } },
      want: { metadata: { ownerReferences: [{ uid: '1', name: 'a', kind: 'ReplicaSet', controller: true }, { uid: '2', name: 'b', kind: 'Job' }] } },
    },
    {
      name: 'service ports merge by port',
      type: SERVICE,
      original: () => ({ spec: { ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] } }),
      patch: { spec: { ports: [{ port: 80, targetPort: 9090 }, { port: 443, targetPort: 8443 }] } },
      want: { spec: { ports: [{ port: 80, targetPort: 9090, protocol: 'TCP' }, { port: 443, targetPort: 8443 }] } },
    },
    {
      name: 'a field the schema does not know gets merge-patch semantics: maps merge and lists replace',
      type: POD,
      original: () => ({ spec: { extra: { a: [1, 2], b: 1 } } }),
      patch: { spec: { extra: { a: [3], c: 2 } } },
      want: { spec: { extra: { a: [3], b: 1, c: 2 } } },
    },
    {
      name: 'an unknown root type gets merge-patch semantics throughout',
      type: 'example.com.v1.Widget',
      original: () => ({ spec: { items: [{ name: 'a' }], m: { x: 1 } } }),
      patch: { spec: { items: [{ name: 'b' }], m: { y: 2, x: null } } },
      want: { spec: { items: [{ name: 'b' }], m: { y: 2 } } },
    },
    {
      name: 'a value of a different type replaces the original',
      patch: { spec: { replicas: { not: 'a number' } } },
      want: expected((d) => (d.spec.replicas = { not: 'a number' })),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const original = (c.original ?? deployment)();
      const before = structuredClone(original);
      const patchBefore = structuredClone(c.patch);
      assert.deepEqual(strategicMergePatch(original, c.patch, schema, c.type ?? DEPLOYMENT), c.want);
      assert.deepEqual(original, before, 'the original must not be modified');
      assert.deepEqual(c.patch, patchBefore, 'the patch must not be modified');
    });
  }

  it('works with a schema that knows nothing', () => {
    assert.deepEqual(strategicMergePatch({ a: [1], b: { c: 1 } }, { a: [2], b: { d: 2 } }, emptyPatchSchema, 'x'), { a: [2], b: { c: 1, d: 2 } });
  });

  const failures: Array<{ name: string; patch: Record<string, unknown>; code: number; message: RegExp }> = [
    {
      name: 'an unknown $patch directive in a map is a 400',
      patch: { spec: { selector: { $patch: 'frobnicate' } } },
      code: 400,
      message: /^unknown patch type: frobnicate in map: map\[\$patch:frobnicate\]$/,
    },
    {
      name: '$patch merge in a map is refused as upstream refuses it',
      patch: { metadata: { labels: { $patch: 'merge' } } },
      code: 400,
      message: /^unknown patch type: merge in map/,
    },
    {
      name: '$patch merge in a list element is refused',
      patch: { spec: { template: { spec: { containers: [{ name: 'nginx', $patch: 'merge' }] } } } },
      code: 400,
      message: /^merging lists cannot yet be specified in the patch$/,
    },
    {
      name: 'a merging list element without its merge key is a 400',
      patch: { spec: { template: { spec: { containers: [{ image: 'x' }] } } } },
      code: 400,
      message: /^map: map\[image:x\] does not contain declared merge key: name$/,
    },
    {
      name: 'a $retainKeys that is not a list is a 400',
      patch: { spec: { strategy: { $retainKeys: 'type' } } },
      code: 400,
      message: /^invalid patch format of retainKeys$/,
    },
    {
      name: 'a patched key missing from $retainKeys is a 400',
      patch: { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: { maxSurge: 1 } } } },
      code: 400,
      message: /^invalid patch format of retainKeys$/,
    },
    {
      name: 'a $setElementOrder that contradicts the patch list is a 400',
      patch: { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'a' }], containers: [{ name: 'b' }] } } } },
      code: 400,
      message: /doesn't match \$setElementOrder list/,
    },
    {
      name: 'a $deleteFromPrimitiveList without a list name is a 400',
      patch: { metadata: { $deleteFromPrimitiveList: ['a'] } },
      code: 400,
      message: /^invalid patch format of primitive list$/,
    },
    {
      name: 'lists of lists in a merging list are a 422',
      patch: { metadata: { finalizers: [['a']] } },
      code: 422,
      message: /rejected our request/,
    },
  ];
  for (const c of failures) {
    it(c.name, () => {
      assert.throws(
        () => strategicMergePatch(expected((d) => (d.metadata.finalizers = ['x'])), c.patch, schema, DEPLOYMENT),
        (e: unknown) => {
          assert.ok(e instanceof StatusError, String(e));
          assert.equal(e.code, c.code);
          assert.match(e.message, c.message);
          return true;
        },
      );
    });
  }
});
