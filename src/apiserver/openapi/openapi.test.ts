import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import {
  generateSchemas, loadPatchMeta, parseDeclarations, type PatchMeta, type Schema,
} from '../../../scripts/gen-openapi.js';
import { decodeSwaggerV2, encodeSwaggerV2 } from './openapi-v2-proto.js';
import { OpenAPIService, contentHash, type JsonObject, type OpenAPIResource } from './openapi.js';

const ALL = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const REF = '#/components/schemas/';

/** Patch facts for the tests, so they do not depend on src/api/patch/patch-meta.ts being present. */
const PATCH_META: PatchMeta = {
  'io.k8s.api.core.v1.PodSpec': { containers: { strategy: 'merge', mergeKey: 'name' } },
  'io.k8s.api.core.v1.Container': {
    ports: { strategy: 'merge', mergeKey: 'containerPort' },
    env: { strategy: 'merge', mergeKey: 'name' },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': { finalizers: { strategy: 'merge' } },
};

const RESOURCES: OpenAPIResource[] = [
  { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true,
    subresources: ['binding', 'eviction', 'exec', 'log', 'status'], verbs: ALL },
  { group: '', version: 'v1', resource: 'nodes', kind: 'Node', namespaced: false, subresources: ['status'], verbs: ALL },
  { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', namespaced: true,
    subresources: ['scale', 'status'], verbs: ALL },
  { group: 'metrics.k8s.io', version: 'v1beta1', resource: 'pods', kind: 'PodMetrics', namespaced: true,
    subresources: [], verbs: ['get', 'list'] },
];

let schemas: Record<string, Schema>;

before(async () => {
  ({ schemas } = await generateSchemas({ patchMeta: PATCH_META }));
});

function refsIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refsIn(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

function prop(def: string, field: string): JsonObject {
  const s = schemas[def];
  assert.ok(s, `schema ${def} exists`);
  const p = (s.properties as Record<string, JsonObject>)[field];
  assert.ok(p, `${def} has property ${field}`);
  return p;
}

describe('the declaration parser', () => {
  test('it reads interfaces, docs, optional and readonly members, imports, arrays, maps and unions', () => {
    const mod = parseDeclarations(`import { ObjectMeta as Meta } from "../meta/v1";
/**
 * Thing is a test kind.
 *
 * Second paragraph.
 */
export interface Thing {
    /** APIVersion doc */
    apiVersion?: "example.io/v1";
    kind?: "Thing";
    readonly metadata?: Meta;
    names: string[];
    ports?: Array<number>;
    labels?: {
        [name: string]: string;
    };
    port?: number | string;
}
/** Alias doc */
export type When = string;
`, 'example/v1');
    assert.deepEqual(mod.imports.get('Meta'), { module: 'meta/v1', name: 'ObjectMeta' });
    assert.equal(mod.decls.length, 2);
    const thing = mod.decls[0]!;
    assert.equal(thing.kind, 'interface');
    assert.equal(thing.doc, 'Thing is a test kind.\n\nSecond paragraph.');
    if (thing.kind !== 'interface') return;
    const byName = Object.fromEntries(thing.members.map((m) => [m.name, m]));
    assert.deepEqual(byName.apiVersion!.type, { k: 'lit', value: 'example.io/v1' });
    assert.equal(byName.apiVersion!.doc, 'APIVersion doc');
    assert.deepEqual(byName.metadata!.type, { k: 'ref', name: 'Meta' });
    assert.equal(byName.metadata!.optional, true);
    assert.equal(byName.names!.optional, false);
    assert.deepEqual(byName.names!.type, { k: 'array', elem: { k: 'prim', name: 'string' } });
    assert.deepEqual(byName.ports!.type, { k: 'array', elem: { k: 'prim', name: 'number' } });
    assert.deepEqual(byName.labels!.type, { k: 'map', value: { k: 'prim', name: 'string' } });
    assert.deepEqual(byName.port!.type, { k: 'union', types: [{ k: 'prim', name: 'number' }, { k: 'prim', name: 'string' }] });
    assert.deepEqual(mod.decls[1], { kind: 'alias', name: 'When', doc: 'Alias doc', type: { k: 'prim', name: 'string' } });
  });
});

describe('the generated schemas', () => {
  test('the Pod schema carries its group-version-kind and a description', () => {
    const pod = schemas['io.k8s.api.core.v1.Pod']!;
    assert.deepEqual(pod['x-kubernetes-group-version-kind'], [{ group: '', kind: 'Pod', version: 'v1' }]);
    assert.match(pod.description as string, /collection of containers/);
    assert.deepEqual(prop('io.k8s.api.core.v1.Pod', 'spec').allOf, [{ $ref: REF + 'io.k8s.api.core.v1.PodSpec' }]);
  });

  test('Container requires only name and its ports merge on containerPort', () => {
    assert.deepEqual(schemas['io.k8s.api.core.v1.Container']!.required, ['name']);
    const ports = prop('io.k8s.api.core.v1.Container', 'ports');
    assert.equal(ports['x-kubernetes-patch-merge-key'], 'containerPort');
    assert.equal(ports['x-kubernetes-patch-strategy'], 'merge');
    assert.equal(ports['x-kubernetes-list-type'], 'map');
    assert.deepEqual(ports['x-kubernetes-list-map-keys'], ['containerPort']);
  });

  test('a merged list of primitives is a set, and an unannotated list has no list type', () => {
    assert.equal(prop('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'finalizers')['x-kubernetes-list-type'], 'set');
    assert.equal(prop('io.k8s.api.core.v1.Container', 'args')['x-kubernetes-list-type'], undefined);
  });

  const formatCases: Array<{ name: string; def: string; field: string; want: JsonObject }> = [
    { name: 'a container port is an int32', def: 'io.k8s.api.core.v1.ContainerPort', field: 'containerPort',
      want: { type: 'integer', format: 'int32' } },
    { name: 'activeDeadlineSeconds is an int64', def: 'io.k8s.api.core.v1.PodSpec', field: 'activeDeadlineSeconds',
      want: { type: 'integer', format: 'int64' } },
    { name: 'observedGeneration is an int64', def: 'io.k8s.api.apps.v1.DeploymentStatus', field: 'observedGeneration',
      want: { type: 'integer', format: 'int64' } },
    { name: 'a JSON schema maximum is a double', def: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps',
      field: 'maximum', want: { type: 'number', format: 'double' } },
    { name: 'secret data values are bytes', def: 'io.k8s.api.core.v1.Secret', field: 'data',
      want: { type: 'object', additionalProperties: { type: 'string', format: 'byte' } } },
    { name: 'a target port refers to IntOrString', def: 'io.k8s.api.core.v1.ServicePort', field: 'targetPort',
      want: { allOf: [{ $ref: REF + 'io.k8s.apimachinery.pkg.util.intstr.IntOrString' }] } },
    { name: 'a timestamp refers to Time', def: 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', field: 'creationTimestamp',
      want: { allOf: [{ $ref: REF + 'io.k8s.apimachinery.pkg.apis.meta.v1.Time' }] } },
    { name: 'resource limits are a map of Quantity', def: 'io.k8s.api.core.v1.ResourceRequirements', field: 'limits',
      want: { type: 'object', additionalProperties: { allOf: [{ $ref: REF + 'io.k8s.apimachinery.pkg.api.resource.Quantity' }] } } },
  ];
  for (const c of formatCases) {
    test(`${c.name}`, () => {
      const { description: _d, ...got } = prop(c.def, c.field);
      assert.deepEqual(got, c.want);
    });
  }

  test('the scalar helper types are int-or-string and date-time', () => {
    const ios = schemas['io.k8s.apimachinery.pkg.util.intstr.IntOrString']!;
    assert.equal(ios.format, 'int-or-string');
    assert.equal(ios['x-kubernetes-int-or-string'], true);
    assert.equal(schemas['io.k8s.apimachinery.pkg.api.resource.Quantity']!['x-kubernetes-int-or-string'], true);
    assert.equal(schemas['io.k8s.apimachinery.pkg.apis.meta.v1.Time']!.format, 'date-time');
  });

  test('patch metadata is loaded from a module exporting patchMeta, and its absence is a warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-patch-meta-'));
    try {
      const file = join(dir, 'patch-meta.ts');
      writeFileSync(file, 'export const patchMeta = ' + JSON.stringify(PATCH_META) + ';\n');
      const warnings: string[] = [];
      assert.deepEqual(await loadPatchMeta(warnings, file), PATCH_META);
      assert.deepEqual(warnings, []);
      assert.equal(await loadPatchMeta(warnings, join(dir, 'missing.ts')), null);
      assert.equal(warnings.length, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('generation is deterministic', async () => {
    const again = await generateSchemas({ patchMeta: PATCH_META });
    assert.equal(JSON.stringify(again.schemas), JSON.stringify(schemas));
  });

  test('every reference in the schema set resolves', () => {
    for (const r of refsIn(schemas)) assert.ok(schemas[r.slice(REF.length)], `dangling ${r}`);
  });
});

describe('OpenAPIService', () => {
  const service = (resources = RESOURCES, s: Record<string, JsonObject> = schemas) => new OpenAPIService(resources, s);

  test('the apps/v1 document offers PATCH on deployments with the parameters kubectl checks', () => {
    const doc = service().v3Json('apis/apps/v1')!;
    const item = (doc.paths as Record<string, JsonObject>)['/apis/apps/v1/namespaces/{namespace}/deployments/{name}']!;
    const patch = item.patch as JsonObject;
    assert.deepEqual(patch['x-kubernetes-group-version-kind'], { group: 'apps', version: 'v1', kind: 'Deployment' });
    assert.equal(patch['x-kubernetes-action'], 'patch');
    const names = (patch.parameters as JsonObject[]).map((p) => p.name);
    for (const n of ['fieldValidation', 'fieldManager', 'dryRun', 'force']) assert.ok(names.includes(n), `missing ${n}`);
    const types = Object.keys(((patch.requestBody as JsonObject).content as JsonObject));
    assert.deepEqual(types, ['application/json-patch+json', 'application/merge-patch+json',
      'application/strategic-merge-patch+json', 'application/apply-patch+yaml']);
    assert.equal(doc.openapi, '3.0.0');
    assert.deepEqual(doc.info, { title: 'Kubernetes', version: 'v1.32.4+k8ts' });
  });

  const actionCases: Array<{ path: string; method: string; action: string }> = [
    { path: '/api/v1/namespaces/{namespace}/pods', method: 'get', action: 'list' },
    { path: '/api/v1/namespaces/{namespace}/pods', method: 'post', action: 'post' },
    { path: '/api/v1/namespaces/{namespace}/pods', method: 'delete', action: 'deletecollection' },
    { path: '/api/v1/namespaces/{namespace}/pods/{name}', method: 'put', action: 'put' },
    { path: '/api/v1/namespaces/{namespace}/pods/{name}', method: 'delete', action: 'delete' },
    { path: '/api/v1/watch/namespaces/{namespace}/pods/{name}', method: 'get', action: 'watch' },
    { path: '/api/v1/watch/pods', method: 'get', action: 'watchlist' },
    { path: '/api/v1/pods', method: 'get', action: 'list' },
    { path: '/api/v1/nodes/{name}', method: 'patch', action: 'patch' },
    { path: '/api/v1/namespaces/{namespace}/pods/{name}/exec', method: 'post', action: 'connect' },
    { path: '/api/v1/namespaces/{namespace}/pods/{name}/eviction', method: 'post', action: 'post' },
  ];
  for (const c of actionCases) {
    test(`${c.method.toUpperCase()} ${c.path} is a ${c.action} operation`, () => {
      const paths = service().v3Json('api/v1')!.paths as Record<string, JsonObject>;
      assert.ok(paths[c.path], `path ${c.path} exists`);
      assert.equal((paths[c.path]![c.method] as JsonObject)['x-kubernetes-action'], c.action);
    });
  }

  test('the scale subresource serves autoscaling/v1 Scale', () => {
    const paths = service().v3Json('apis/apps/v1')!.paths as Record<string, JsonObject>;
    const patch = paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale']!.patch as JsonObject;
    assert.deepEqual(patch['x-kubernetes-group-version-kind'], { group: 'autoscaling', version: 'v1', kind: 'Scale' });
  });

  test('every reference in every document points at a schema in that document', () => {
    const s = service();
    for (const gv of s.groupVersions()) {
      const doc = s.v3Json(gv)!;
      const defs = (doc.components as JsonObject).schemas as Record<string, unknown>;
      const refs = refsIn(doc);
      assert.ok(refs.length > 0, `${gv} has references`);
      for (const r of refs) assert.ok(defs[r.slice(REF.length)], `${gv}: dangling ${r}`);
    }
  });

  test('a document holds only the schemas its operations reach', () => {
    const defs = (service().v3Json('apis/apps/v1')!.components as JsonObject).schemas as Record<string, unknown>;
    assert.ok(defs['io.k8s.api.apps.v1.Deployment']);
    assert.ok(defs['io.k8s.api.apps.v1.DeploymentList']);
    assert.ok(defs['io.k8s.api.core.v1.PodSpec']);
    assert.ok(defs['io.k8s.api.autoscaling.v1.Scale']);
    assert.equal(defs['io.k8s.api.batch.v1.Job'], undefined);
    assert.equal(defs['io.k8s.api.apps.v1.StatefulSet'], undefined);
  });

  test('a kind without a built-in schema gets a permissive one with its group-version-kind', () => {
    const doc = service().v3Json('apis/metrics.k8s.io/v1beta1')!;
    const defs = (doc.components as JsonObject).schemas as Record<string, JsonObject>;
    const own = Object.values(defs).find((d) =>
      JSON.stringify(d['x-kubernetes-group-version-kind']) ===
      JSON.stringify([{ group: 'metrics.k8s.io', kind: 'PodMetrics', version: 'v1beta1' }]));
    assert.ok(own);
    assert.equal(own['x-kubernetes-preserve-unknown-fields'], true);
  });

  test('v3Root lists every group-version with the hash of its document', () => {
    const s = service();
    const root = s.v3Root();
    assert.deepEqual(Object.keys(root.paths).sort(), ['api/v1', 'apis/apps/v1', 'apis/metrics.k8s.io/v1beta1']);
    for (const [gv, entry] of Object.entries(root.paths)) {
      const doc = s.v3Document(gv)!;
      assert.equal(entry.serverRelativeURL, `/openapi/v3/${gv}?hash=${doc.hash}`);
      assert.equal(doc.hash, contentHash(doc.body));
      assert.match(doc.hash, /^[0-9A-F]{128}$/);
      assert.equal(doc.etag, `"${doc.hash}"`);
    }
  });

  test('a hash changes exactly when its document changes', () => {
    const s = service();
    const before = { core: s.v3Document('api/v1')!.hash, apps: s.v3Document('apis/apps/v1')!.hash };
    s.setResources([...RESOURCES, { group: '', version: 'v1', resource: 'services', kind: 'Service', namespaced: true,
      subresources: ['status'], verbs: ALL }]);
    assert.notEqual(s.v3Document('api/v1')!.hash, before.core);
    assert.equal(s.v3Document('apis/apps/v1')!.hash, before.apps);

    const edited = structuredClone(schemas) as Record<string, JsonObject>;
    edited['io.k8s.api.apps.v1.DeploymentSpec']!.description = 'changed';
    assert.notEqual(service(RESOURCES, edited).v3Document('apis/apps/v1')!.hash, before.apps);
  });

  test('an unserved group-version has no document', () => {
    assert.equal(service().v3Document('apis/batch/v1'), undefined);
  });

  describe('HTTP handling', () => {
    type Case = {
      name: string;
      req: (hash: string) => Parameters<OpenAPIService['handle']>[0];
      status: number;
      headers?: (hash: string) => Record<string, string | undefined>;
    };
    const cases: Case[] = [
      { name: 'a matching hash is served as immutable', status: 200,
        req: (h) => ({ path: '/openapi/v3/apis/apps/v1', query: `?hash=${h}&timeout=32s`, accept: 'application/json' }),
        headers: (h) => ({ 'Cache-Control': 'public, immutable', ETag: `"${h}"`, 'Content-Type': 'application/json' }) },
      { name: 'a stale hash redirects to the current URL', status: 301,
        req: () => ({ path: '/openapi/v3/apis/apps/v1', query: 'hash=ABC' }),
        headers: (h) => ({ Location: `/openapi/v3/apis/apps/v1?hash=${h}` }) },
      { name: 'a request without hash is not marked immutable', status: 200,
        req: () => ({ path: '/openapi/v3/apis/apps/v1' }),
        headers: (h) => ({ ETag: `"${h}"`, 'Cache-Control': undefined }) },
      { name: 'a matching If-None-Match yields 304', status: 304,
        req: (h) => ({ path: '/openapi/v3/apis/apps/v1', ifNoneMatch: `"${h}"` }) },
      { name: 'an unserved group-version is 404', status: 404, req: () => ({ path: '/openapi/v3/apis/batch/v1' }) },
      { name: 'v3 protobuf only is not acceptable', status: 406,
        req: () => ({ path: '/openapi/v3/apis/apps/v1', accept: 'application/com.github.proto-openapi.spec.v3@v1.0+protobuf' }) },
      { name: 'v2 as protobuf gets the gnostic media type', status: 200,
        req: () => ({ path: '/openapi/v2', accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' }),
        headers: () => ({ 'Content-Type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf' }) },
      { name: 'v2 as JSON is served too', status: 200,
        req: () => ({ path: '/openapi/v2', accept: 'application/json' }),
        headers: () => ({ 'Content-Type': 'application/json' }) },
      { name: 'the root is JSON', status: 200, req: () => ({ path: '/openapi/v3' }),
        headers: () => ({ 'Content-Type': 'application/json' }) },
      { name: 'other paths are not handled', status: 0, req: () => ({ path: '/api/v1' }) },
    ];
    for (const c of cases) {
      test(c.name, () => {
        const s = service();
        const hash = s.v3Document('apis/apps/v1')!.hash;
        const res = s.handle(c.req(hash));
        if (c.status === 0) { assert.equal(res, undefined); return; }
        assert.ok(res);
        assert.equal(res.status, c.status);
        for (const [k, v] of Object.entries(c.headers?.(hash) ?? {})) assert.equal(res.headers[k], v, k);
      });
    }
  });

  describe('OpenAPI v2', () => {
    test('the Swagger document uses definitions refs and no allOf wrappers', () => {
      const v2 = service().v2Json();
      assert.equal(v2.swagger, '2.0');
      const defs = v2.definitions as Record<string, JsonObject>;
      const meta = (defs['io.k8s.api.core.v1.Pod']!.properties as Record<string, JsonObject>).metadata!;
      assert.equal(meta.$ref, '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta');
      assert.equal(meta.allOf, undefined);
      for (const r of refsIn(v2)) {
        assert.ok(r.startsWith('#/definitions/'), r);
        assert.ok(defs[r.slice('#/definitions/'.length)], `dangling ${r}`);
      }
      assert.equal(defs['io.k8s.apimachinery.pkg.util.intstr.IntOrString']!.type, 'string');
    });

    test('the protobuf encoding decodes back to the same definitions and extensions', () => {
      const s = service();
      const v2 = s.v2Json();
      const decoded = decodeSwaggerV2(s.v2Protobuf().body) as {
        swagger: string; definitions: { additional_properties: Array<{ name: string; value: any }> };
      };
      assert.equal(decoded.swagger, '2.0');
      const names = decoded.definitions.additional_properties.map((d) => d.name);
      assert.deepEqual(names, Object.keys(v2.definitions as JsonObject));
      const pod = decoded.definitions.additional_properties.find((d) => d.name === 'io.k8s.api.core.v1.Pod')!.value;
      assert.deepEqual(pod.vendor_extension, [{ name: 'x-kubernetes-group-version-kind',
        value: { yaml: '- group: ""\n  kind: Pod\n  version: v1\n' } }]);
      assert.deepEqual(pod.type, { value: ['object'] });
    });

    test('the encoding puts fields on gnostic wire numbers', () => {
      // Document.swagger = 1 (tag 0x0a), Info = 2 (0x12) with title = 1 (0x0a).
      const bytes = encodeSwaggerV2({ swagger: '2.0', info: { title: 'K', version: 'v' } });
      assert.deepEqual([...bytes], [0x0a, 3, 0x32, 0x2e, 0x30, 0x12, 6, 0x0a, 1, 0x4b, 0x12, 1, 0x76]);
      // Document.definitions = 9 → Definitions.additional_properties = 1 → NamedSchema {name = 1, value = 2}
      // → Schema.description = 4, Schema.type = 22 holding TypeItem.value = 1.
      const withDef = Buffer.from(encodeSwaggerV2({ info: { title: 'K' }, definitions: { A: { description: 'd', type: 'x' } } }));
      const schema = '220164' + 'b201030a0178';
      const named = '0a0141' + '12' + '09' + schema;
      assert.ok(withDef.toString('hex').endsWith('4a' + '10' + '0a' + '0e' + named), withDef.toString('hex'));
    });
  });

  describe('unknown fields', () => {
    const cases: Array<{ name: string; kind: string; group: string; obj: JsonObject; want: string[] }> = [
      { name: 'a valid deployment has none', group: 'apps', kind: 'Deployment', want: [],
        obj: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'w', labels: { a: 'b' } },
          spec: { selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [{ name: 'c', image: 'i',
            resources: { limits: { cpu: '1' } }, ports: [{ containerPort: 80 }] }] } } } } },
      { name: 'unknown fields are reported with their paths', group: 'apps', kind: 'Deployment',
        want: ['metadata.foo', 'spec.bar', 'spec.template.spec.containers[0].baz'],
        obj: { metadata: { name: 'w', foo: 1 }, spec: { bar: 2, template: { spec: { containers: [{ name: 'c', baz: 3 }] } } } } },
      { name: 'free-form fields are not checked', group: '', kind: 'Pod', want: [],
        obj: { metadata: { managedFields: [{ fieldsV1: { 'f:spec': {} } }] } } },
      { name: 'a kind without a schema reports nothing', group: 'metrics.k8s.io', kind: 'PodMetrics', want: [],
        obj: { anything: true } },
    ];
    for (const c of cases) {
      test(c.name, () => {
        const version = c.group === 'metrics.k8s.io' ? 'v1beta1' : 'v1';
        assert.deepEqual(service().unknownFields(c.obj, { group: c.group, version, kind: c.kind }), c.want);
      });
    }
  });
});
