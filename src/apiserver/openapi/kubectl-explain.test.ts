/**
 * Runs the real kubectl 1.32 against a loopback HTTP server that serves /version, legacy discovery and
 * the OpenAPI documents of {@link OpenAPIService}. Skipped when no kubectl 1.32 binary is found
 * (set K8TS_KUBECTL to point at one).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { generateSchemas } from '../../../scripts/gen-openapi.js';
import { OpenAPIService, type OpenAPIResource } from './openapi.js';

const run = promisify(execFile);

function findKubectl(): string | undefined {
  if (process.env.K8TS_KUBECTL) return process.env.K8TS_KUBECTL;
  const dirs = (process.env.PATH ?? '').split(delimiter).concat('/usr/lib/google-cloud-sdk/bin');
  for (const d of dirs) if (d && existsSync(join(d, 'kubectl.1.32'))) return join(d, 'kubectl.1.32');
  return undefined;
}

const kubectl = findKubectl();
const ALL = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const RESOURCES: OpenAPIResource[] = [
  { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true, subresources: ['status'], verbs: ALL },
  { group: '', version: 'v1', resource: 'services', kind: 'Service', namespaced: true, subresources: ['status'], verbs: ALL },
  { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', namespaced: true,
    subresources: ['scale', 'status'], verbs: ALL },
];

describe('kubectl 1.32 explain against the served OpenAPI', { skip: kubectl ? false : 'no kubectl.1.32 found (set K8TS_KUBECTL)' }, () => {
  let server: Server;
  let home: string;
  const requests: string[] = [];

  before(async () => {
    const { schemas } = await generateSchemas({ patchMeta: null });
    const openapi = new OpenAPIService(RESOURCES, schemas);
    const send = (res: import('node:http').ServerResponse, body: unknown): void => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const resourceList = (gv: string, group: string) => ({
      kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv,
      resources: RESOURCES.filter((r) => r.group === group).map((r) => ({
        name: r.resource, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs: r.verbs,
      })),
    });
    server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://127.0.0.1');
      requests.push(`${req.method} ${url.pathname} ${req.headers.accept ?? ''}`);
      switch (url.pathname) {
        case '/version':
          return send(res, { major: '1', minor: '32', gitVersion: 'v1.32.4+k8ts', gitCommit: '0'.repeat(40),
            gitTreeState: 'clean', buildDate: '2025-01-01T00:00:00Z', goVersion: 'go1.23.0', compiler: 'gc',
            platform: 'linux/amd64' });
        case '/api':
          return send(res, { kind: 'APIVersions', versions: ['v1'],
            serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] });
        case '/apis':
          return send(res, { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: 'apps',
            versions: [{ groupVersion: 'apps/v1', version: 'v1' }], preferredVersion: { groupVersion: 'apps/v1', version: 'v1' } }] });
        case '/api/v1': return send(res, resourceList('v1', ''));
        case '/apis/apps/v1': return send(res, resourceList('apps/v1', 'apps'));
      }
      const r = openapi.handle({ path: url.pathname, query: url.search, accept: req.headers.accept,
        ifNoneMatch: req.headers['if-none-match'] });
      if (r) { res.writeHead(r.status, r.headers); res.end(r.body); return; }
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    home = mkdtempSync(join(tmpdir(), 'k8ts-explain-'));
    mkdirSync(join(home, '.kube'));
    writeFileSync(join(home, '.kube', 'config'), [
      'apiVersion: v1', 'kind: Config', 'current-context: t',
      'clusters: [{name: t, cluster: {server: "http://127.0.0.1:' + port + '"}}]',
      'contexts: [{name: t, context: {cluster: t, user: t}}]', 'users: [{name: t, user: {}}]', '',
    ].join('\n'));
  });

  after(() => {
    server?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const explain = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(kubectl!, ['explain', ...args], { env: { ...process.env, HOME: home }, timeout: 30_000 });
    return stdout;
  };

  test('explain pod.spec.containers prints upstream descriptions and types', async () => {
    const out = await explain('pod.spec.containers');
    assert.match(out, /KIND:\s+Pod/);
    assert.match(out, /FIELD: containers <\[\]Container>/);
    assert.match(out, /name\t<string> -required-/);
    assert.match(out, /ports\t<\[\]ContainerPort>/);
    assert.match(out, /Entrypoint array\. Not executed within a shell\./);
  });

  test('explain deployment.spec.strategy --recursive shows IntOrString fields', async () => {
    const out = await explain('deployment.spec.strategy', '--recursive');
    assert.match(out, /GROUP:\s+apps/);
    assert.match(out, /DeploymentStrategy describes how to replace existing pods with new ones\./);
    assert.match(out, /rollingUpdate\t<RollingUpdateDeployment>/);
    assert.match(out, /maxSurge\t<IntOrString>/);
  });

  test('explain shows quantities and ports by their type names', async () => {
    assert.match(await explain('pod.spec.containers.resources'), /limits\t<map\[string\]Quantity>/);
    assert.match(await explain('service.spec.ports'), /targetPort\t<IntOrString>/);
  });

  test('explain --output=plaintext-openapiv2 reads the protobuf v2 document', async () => {
    const before = requests.length;
    const out = await explain('pod.spec.containers.ports', '--output=plaintext-openapiv2');
    assert.match(out, /containerPort\t<integer> -required-/);
    assert.match(out, /ContainerPort represents a network port in a single container\./);
    assert.ok(requests.slice(before).some((r) => r.startsWith('GET /openapi/v2 application/com.github.proto-openapi')));
  });
});
