import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusError } from '../errors.js';
import { schemaFromOpenAPI } from '../patch/schema.js';
import { fixtureSchemas } from '../patch/testdata/openapi-fixture.js';
import { applyConflictError, lastAppliedAnnotation, serverSideApply, updateManagedFields, type ServerSideApplyOptions } from './server-side-apply.js';

const schema = schemaFromOpenAPI(fixtureSchemas);
const DEPLOYMENT = 'io.k8s.api.apps.v1.Deployment';
const T0 = '2025-01-01T00:00:00Z';
const T1 = '2025-01-01T00:01:00Z';
const T2 = '2025-01-01T00:02:00Z';

function opts(manager: string, more: Partial<ServerSideApplyOptions> = {}): ServerSideApplyOptions {
  return { manager, force: false, apiVersion: 'apps/v1', now: T0, schema, rootType: DEPLOYMENT, kind: 'Deployment', ...more };
}

/** A Deployment configuration as kubectl apply --server-side sends it. */
function config(mutate: (d: any) => void = () => {}): Record<string, any> {
  const d = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'nginx',
              image: 'nginx:1.27',
              ports: [{ containerPort: 80 }],
              env: [
                { name: 'A', value: '1' },
                { name: 'B', value: '2' },
              ],
            },
          ],
        },
      },
    },
  };
  mutate(d);
  return d;
}

function apply(live: object | undefined, applied: object, o: ServerSideApplyOptions): Record<string, any> {
  const r = serverSideApply(live, applied, o);
  assert.equal(r.conflicts, undefined, `unexpected conflicts: ${JSON.stringify(r.conflicts)}`);
  return r.object;
}

const entries = (obj: Record<string, any>) => obj.metadata.managedFields as Array<Record<string, any>>;
const entry = (obj: Record<string, any>, manager: string) => entries(obj).find((e) => e.manager === manager);

describe('serverSideApply', () => {
  it('creating by apply stores the configuration and records an Apply entry in FieldsV1', () => {
    const obj = apply(undefined, config(), opts('kubectl'));
    const { managedFields, ...meta } = obj.metadata;
    assert.deepEqual({ ...obj, metadata: meta }, config());
    assert.deepEqual(managedFields, [
      {
        manager: 'kubectl',
        operation: 'Apply',
        apiVersion: 'apps/v1',
        time: T0,
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { 'f:app': {} } },
          'f:spec': {
            'f:replicas': {},
            'f:selector': {},
            'f:template': {
              'f:metadata': { 'f:labels': { 'f:app': {} } },
              'f:spec': {
                'f:containers': {
                  'k:{"name":"nginx"}': {
                    '.': {},
                    'f:env': {
                      'k:{"name":"A"}': { '.': {}, 'f:name': {}, 'f:value': {} },
                      'k:{"name":"B"}': { '.': {}, 'f:name': {}, 'f:value': {} },
                    },
                    'f:image': {},
                    'f:name': {},
                    'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
                  },
                },
              },
            },
          },
        },
      },
    ]);
  });

  it('re-applying the same configuration changes nothing, not even the entry time', () => {
    const first = apply(undefined, config(), opts('kubectl'));
    const defaulted = { ...first, spec: { ...first.spec, revisionHistoryLimit: 10 } };
    const again = apply(defaulted, config(), opts('kubectl', { now: T1 }));
    assert.deepEqual(again, defaulted);
  });

  it('re-applying without a field removes it from the object and from the owned set', () => {
    const first = apply(undefined, config(), opts('kubectl'));
    const second = apply(
      first,
      config((d) => {
        delete d.spec.replicas;
        delete d.metadata.labels;
        d.spec.template.spec.containers[0].env = [{ name: 'A', value: '1' }];
      }),
      opts('kubectl', { now: T1 }),
    );
    assert.equal(second.spec.replicas, undefined);
    assert.equal(second.metadata.labels, undefined);
    assert.deepEqual(second.spec.template.spec.containers[0].env, [{ name: 'A', value: '1' }]);
    const v1 = entry(second, 'kubectl')!.fieldsV1;
    assert.equal(v1['f:spec']['f:replicas'], undefined);
    assert.equal(v1['f:metadata'], undefined);
    assert.equal(entry(second, 'kubectl')!.time, T1);
  });

  it('a container no longer applied is removed while one added by another manager keeps its place', () => {
    const two = config((d) => d.spec.template.spec.containers.push({ name: 'sidecar', image: 'busybox' }));
    const first = apply(undefined, two, opts('kubectl'));
    const withDebug = updateManagedFields(
      first,
      { ...first, spec: { ...first.spec, template: { ...first.spec.template, spec: { containers: [{ name: 'debug', image: 'x' }, ...first.spec.template.spec.containers] } } } },
      'debugger',
      'apps/v1',
      T1,
      schema,
      DEPLOYMENT,
    );
    const next = apply(withDebug, config(), opts('kubectl', { now: T2 }));
    assert.deepEqual(next.spec.template.spec.containers.map((c: { name: string }) => c.name), ['debug', 'nginx']);
  });

  it('finalizers are a set: each value is owned, and one no longer applied is removed', () => {
    const first = apply(undefined, config((d) => (d.metadata.finalizers = ['a.io/x', 'b.io/y'])), opts('kubectl'));
    assert.deepEqual(entry(first, 'kubectl')!.fieldsV1['f:metadata']['f:finalizers'], { 'v:"a.io/x"': {}, 'v:"b.io/y"': {} });
    const next = apply(first, config((d) => (d.metadata.finalizers = ['a.io/x'])), opts('kubectl', { now: T1 }));
    assert.deepEqual(next.metadata.finalizers, ['a.io/x']);
  });

  it('a removed field another manager also owns stays', () => {
    const first = apply(undefined, config(), opts('kubectl'));
    const labelled = updateManagedFields(first, config((d) => (d.metadata.labels.tier = 'front')), 'kubectl-label', 'apps/v1', T1, schema, DEPLOYMENT);
    // kubectl-label owns only tier; app is still kubectl's and goes when kubectl stops applying it.
    const second = apply(labelled, config((d) => delete d.metadata.labels), opts('kubectl', { now: T2 }));
    assert.deepEqual(second.metadata.labels, { tier: 'front' });
  });

  it('changing a field another applier owns is a conflict and leaves the object alone', () => {
    const first = apply(undefined, config(), opts('alice'));
    const r = serverSideApply(first, config((d) => (d.spec.replicas = 5)), opts('bob'));
    assert.deepEqual(r.conflicts, [{ manager: 'alice', operation: 'Apply', field: '.spec.replicas' }]);
    assert.deepEqual(r.object, first);
    const err = applyConflictError(r.conflicts!);
    assert.equal(err.code, 409);
    assert.equal(err.reason, 'Conflict');
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "alice": .spec.replicas');
    assert.deepEqual(err.status.details?.causes, [{ reason: 'FieldManagerConflict', message: 'conflict with "alice"', field: '.spec.replicas' }]);
  });

  it('applying the same value another manager applied shares ownership without conflict', () => {
    const first = apply(undefined, config(), opts('alice'));
    const second = apply(first, config((d) => delete d.spec.template), opts('bob', { now: T1 }));
    assert.deepEqual(entry(second, 'bob')!.fieldsV1['f:spec']['f:replicas'], {});
    assert.deepEqual(entry(second, 'alice')!.fieldsV1['f:spec']['f:replicas'], {});
  });

  it('force takes the conflicting field and alice no longer owns it', () => {
    const first = apply(undefined, config(), opts('alice'));
    const forced = apply(first, config((d) => (d.spec.replicas = 5)), opts('bob', { force: true, now: T1 }));
    assert.equal(forced.spec.replicas, 5);
    assert.equal(entry(forced, 'alice')!.fieldsV1['f:spec']['f:replicas'], undefined);
    assert.deepEqual(entry(forced, 'bob')!.fieldsV1['f:spec']['f:replicas'], {});
  });

  it('an update after an apply records an Update entry and later applies conflict with it', () => {
    const first = apply(undefined, config(), opts('kubectl'));
    const scaled = updateManagedFields(first, { ...first, spec: { ...first.spec, replicas: 7 } }, 'kubectl-scale', 'apps/v1', T1, schema, DEPLOYMENT, 'scale');
    assert.deepEqual(
      entries(scaled).map((e) => [e.manager, e.operation, e.subresource ?? '']),
      [
        ['kubectl', 'Apply', ''],
        ['kubectl-scale', 'Update', 'scale'],
      ],
    );
    assert.deepEqual(entry(scaled, 'kubectl-scale')!.fieldsV1, { 'f:spec': { 'f:replicas': {} } });
    assert.equal(entry(scaled, 'kubectl')!.fieldsV1['f:spec']['f:replicas'], undefined);
    const r = serverSideApply(scaled, config(), opts('kubectl', { now: T2 }));
    assert.deepEqual(r.conflicts, [{ manager: 'kubectl-scale', operation: 'Update', apiVersion: 'apps/v1', subresource: 'scale', field: '.spec.replicas' }]);
    assert.equal(
      applyConflictError(r.conflicts!).message,
      'Apply failed with 1 conflict: conflict with "kubectl-scale" with subresource "scale" using apps/v1: .spec.replicas',
    );
  });

  it('several conflicts are grouped by manager in the message', () => {
    const first = apply(undefined, config(), opts('alice'));
    const r = serverSideApply(
      first,
      config((d) => {
        d.spec.replicas = 9;
        d.spec.template.spec.containers[0].image = 'nginx:2';
      }),
      opts('bob'),
    );
    assert.equal(
      applyConflictError(r.conflicts!).message,
      'Apply failed with 2 conflicts: conflicts with "alice":\n- .spec.replicas\n- .spec.template.spec.containers[name="nginx"].image',
    );
  });

  it('fields that existed before any apply belong to before-first-apply and conflict', () => {
    const live = config();
    const r = serverSideApply(live, config((d) => (d.spec.replicas = 3)), opts('kubectl-2'));
    assert.deepEqual(r.conflicts, [{ manager: 'before-first-apply', operation: 'Update', apiVersion: 'apps/v1', field: '.spec.replicas' }]);
  });

  it('kubectl takes over fields client-side apply recorded in its annotation, and updates the annotation', () => {
    const annotated = config((d) => (d.metadata.annotations = { [lastAppliedAnnotation]: JSON.stringify(config()) }));
    const live = updateManagedFields(undefined, annotated, 'kubectl-client-side-apply', 'apps/v1', T0, schema, DEPLOYMENT);
    const next = apply(live, config((d) => (d.spec.replicas = 4)), opts('kubectl', { now: T1 }));
    assert.equal(next.spec.replicas, 4);
    assert.equal(entry(next, 'kubectl-client-side-apply')!.fieldsV1['f:spec']['f:replicas'], undefined);
    const recorded = next.metadata.annotations[lastAppliedAnnotation] as string;
    assert.ok(recorded.endsWith('\n'));
    assert.equal(JSON.parse(recorded).spec.replicas, 4);
  });

  it('a manager other than kubectl still conflicts with client-side apply', () => {
    const annotated = config((d) => (d.metadata.annotations = { [lastAppliedAnnotation]: JSON.stringify(config()) }));
    const live = updateManagedFields(undefined, annotated, 'kubectl-client-side-apply', 'apps/v1', T0, schema, DEPLOYMENT);
    const r = serverSideApply(live, config((d) => (d.spec.replicas = 4)), opts('helm'));
    assert.deepEqual(r.conflicts?.map((c) => c.field), ['.spec.replicas']);
  });

  it('ignored fields such as status on the main resource are never owned', () => {
    const obj = apply(undefined, config((d) => (d.status = { replicas: 1 })), opts('kubectl', { ignoredFields: [['status']] }));
    assert.equal(entry(obj, 'kubectl')!.fieldsV1['f:status'], undefined);
  });

  const rejects: Array<{ name: string; applied: object; code: number; message: string | RegExp }> = [
    {
      name: 'a configuration carrying managedFields is a 400',
      applied: config((d) => (d.metadata.managedFields = [])),
      code: 400,
      message: 'metadata.managedFields must be nil',
    },
    {
      name: 'a configuration of another version is a 400',
      applied: config((d) => (d.apiVersion = 'apps/v1beta1')),
      code: 400,
      message: 'invalid object type: apps/v1beta1, Kind=Deployment',
    },
    {
      name: 'two containers with one name cannot be typed',
      applied: config((d) => d.spec.template.spec.containers.push({ name: 'nginx', image: 'x' })),
      code: 400,
      message:
        'failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name="nginx"]',
    },
    {
      name: 'a container without a name cannot be typed',
      applied: config((d) => delete d.spec.template.spec.containers[0].name),
      code: 400,
      message: /element 0: associative list with keys has an element that omits key field "name" \(and doesn't have default value\)$/,
    },
  ];
  for (const c of rejects) {
    it(c.name, () => {
      assert.throws(
        () => serverSideApply(undefined, c.applied, opts('kubectl')),
        (e: unknown) => {
          assert.ok(e instanceof StatusError);
          assert.equal(e.code, c.code);
          if (typeof c.message === 'string') assert.equal(e.message, c.message);
          else assert.match(e.message, c.message);
          return true;
        },
      );
    });
  }
});

describe('updateManagedFields', () => {
  const CONFIGMAP = 'io.k8s.api.core.v1.ConfigMap';
  const cm = (data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' }, data });

  it('a create gives its manager every field, marking new maps with "."', () => {
    const obj = updateManagedFields(undefined, cm({ a: '1' }), 'kubectl-create', 'v1', T0, schema, CONFIGMAP);
    assert.deepEqual(obj.metadata, {
      name: 'c',
      namespace: 'default',
      managedFields: [
        { manager: 'kubectl-create', operation: 'Update', apiVersion: 'v1', time: T0, fieldsType: 'FieldsV1', fieldsV1: { 'f:data': { '.': {}, 'f:a': {} } } },
      ],
    });
  });

  it('an update moves a changed field to its manager and keeps the old entry time', () => {
    const created = updateManagedFields(undefined, cm({ a: '1', b: '2' }), 'creator', 'v1', T0, schema, CONFIGMAP);
    const edited = updateManagedFields(created, { ...created, data: { a: 'x', b: '2' } }, 'editor', 'v1', T1, schema, CONFIGMAP);
    assert.deepEqual(
      entries(edited).map((e) => [e.manager, e.time, e.fieldsV1]),
      [
        ['creator', T0, { 'f:data': { '.': {}, 'f:b': {} } }],
        ['editor', T1, { 'f:data': { 'f:a': {} } }],
      ],
    );
  });

  it('a write that changes nothing leaves managedFields as they were', () => {
    const created = updateManagedFields(undefined, cm({ a: '1' }), 'creator', 'v1', T0, schema, CONFIGMAP);
    const same = updateManagedFields(created, created, 'other', 'v1', T1, schema, CONFIGMAP);
    assert.deepEqual(same.metadata, created.metadata);
  });

  it('removing a field takes it from its owner', () => {
    const created = updateManagedFields(undefined, cm({ a: '1', b: '2' }), 'creator', 'v1', T0, schema, CONFIGMAP);
    const removed = updateManagedFields(created, { ...created, data: { a: '1' } }, 'editor', 'v1', T1, schema, CONFIGMAP);
    assert.deepEqual(entries(removed).map((e) => e.manager), ['creator']);
    assert.deepEqual(entry(removed, 'creator')!.fieldsV1, { 'f:data': { '.': {}, 'f:a': {} } });
  });

  it('an empty managedFields list in the written object clears the history', () => {
    const created: Record<string, any> = updateManagedFields(undefined, cm({ a: '1' }), 'creator', 'v1', T0, schema, CONFIGMAP);
    const reset: Record<string, any> = updateManagedFields(created, { ...created, metadata: { ...created.metadata, managedFields: [] } }, 'editor', 'v1', T1, schema, CONFIGMAP);
    assert.equal(reset.metadata.managedFields, undefined);
  });

  it('more than ten update managers fold the oldest into ancient-changes', () => {
    let obj: Record<string, any> = updateManagedFields(undefined, cm({ k0: '0' }), 'm0', 'v1', '2025-01-01T00:00:00Z', schema, CONFIGMAP);
    for (let i = 1; i <= 10; i++) {
      const data = { ...obj.data, [`k${i}`]: String(i) };
      obj = updateManagedFields(obj, { ...obj, data }, `m${i}`, 'v1', `2025-01-01T00:00:${String(i).padStart(2, '0')}Z`, schema, CONFIGMAP);
    }
    const names = entries(obj).map((e) => e.manager);
    assert.equal(names.length, 10);
    assert.deepEqual(names, ['ancient-changes', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10']);
    assert.deepEqual(Object.keys(entry(obj, 'ancient-changes')!.fieldsV1['f:data']).sort(), ['.', 'f:k0', 'f:k1']);
  });
});

describe('serverSideApply with imperfect live lists', () => {
  it('live list items with a repeated key are kept, not dropped', () => {
    const live = config((d) => d.spec.template.spec.containers[0].env.push({ name: 'A', value: 'dup' }));
    const out = apply(updateManagedFields(undefined, live, 'creator', 'apps/v1', T0, schema, DEPLOYMENT), config((d) => (d.spec.replicas = 2)), opts('creator-2', { force: true }));
    assert.deepEqual(out.spec.template.spec.containers[0].env, [
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
      { name: 'A', value: 'dup' },
    ]);
  });
});
