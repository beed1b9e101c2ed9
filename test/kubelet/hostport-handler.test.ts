import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, type RunningServer } from '../../src/app/server.js';
import { setLogLevel } from '../../src/base/log.js';
import { RestClient, type KObject } from '../../src/client/rest-client.js';
import { resources } from '../../src/client/resources.js';
import { Kubelet } from '../../src/kubelet/kubelet.js';
import { InformerPodSource } from '../../src/kubelet/pod-source.js';
import { FakeRuntime } from '../../src/kubelet/runtime/fake-runtime.js';
import { HOSTPORT_RUNTIME_HANDLER, type PodSandboxConfig } from '../../src/kubelet/runtime/runtime.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');

/** A fake runtime that records the handler of each RunPodSandbox and, like containerd, rejects unknown handlers. */
class HandlerRuntime extends FakeRuntime {
  readonly handlers: { pod: string; handler: string | undefined }[] = [];
  constructor(private readonly known: string[]) {
    super();
  }
  override async runPodSandbox(config: PodSandboxConfig, runtimeHandler?: string): Promise<string> {
    this.handlers.push({ pod: config.metadata.name, handler: runtimeHandler });
    if (runtimeHandler && !this.known.includes(runtimeHandler)) {
      throw Object.assign(new Error(`2 UNKNOWN: failed to get sandbox runtime: no runtime for "${runtimeHandler}" is configured`), { code: 2, details: `failed to get sandbox runtime: no runtime for "${runtimeHandler}" is configured` });
    }
    return super.runPodSandbox(config);
  }
}

async function until<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

let server: RunningServer;
let client: RestClient;
before(async () => {
  server = await startServer({ storagePath: ':memory:', controllers: false });
  client = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key, userAgent: 'kubelet-hostport-test' });
});
after(async () => {
  client.close();
  await server.stop();
});

const pod = (name: string, hostPort?: number): KObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { automountServiceAccountToken: false, containers: [{ name: 'c', image: 'nginx:1.27', ports: [{ containerPort: 80, ...(hostPort ? { hostPort } : {}) }] }] },
});

const cases = [
  {
    name: 'A pod with a hostPort asks for the hostPort handler and a pod without one for the default, when the runtime has the handler.',
    node: 'hp-has',
    known: [HOSTPORT_RUNTIME_HANDLER],
    want: [
      { pod: 'plain', handler: undefined },
      { pod: 'mapped', handler: HOSTPORT_RUNTIME_HANDLER },
    ],
  },
  {
    name: 'A runtime without the hostPort handler gets the default handler for hostPort pods, and is not asked again.',
    node: 'hp-lacks',
    known: [],
    want: [
      { pod: 'plain', handler: undefined },
      { pod: 'mapped', handler: HOSTPORT_RUNTIME_HANDLER },
      { pod: 'mapped', handler: undefined },
      { pod: 'mapped2', handler: undefined },
    ],
  },
];

describe('the hostPort runtime handler', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const ns = `ns-${c.node}`;
      await client.create(resources.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      await client.create(resources.serviceaccounts, ns, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
      const source = InformerPodSource.forNode(client, c.node);
      const runtime = new HandlerRuntime(c.known);
      const kl = new Kubelet({ client, nodeName: c.node, runtime, podSource: source, nodeIP: '192.0.2.20', podCIDR: '10.201.0.0/24', heartbeatMs: 500 });
      await kl.start();
      source.start();
      try {
        const names = c.want.map((w) => w.pod).filter((n, i, a) => a.indexOf(n) === i);
        for (const name of names) {
          await client.create(resources.pods, ns, pod(name, name.startsWith('mapped') ? 30000 + names.indexOf(name) : undefined));
          await client.request('POST', `/api/v1/namespaces/${ns}/pods/${name}/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { kind: 'Node', name: c.node } });
          // One at a time, so the order of RunPodSandbox calls is the order of `want`.
          await until(async () => (await client.get(resources.pods, ns, name)).status?.phase === 'Running', `${name} Running`);
        }
        assert.deepEqual(runtime.handlers, c.want);
      } finally {
        await kl.stop();
        await source.stop();
        runtime.close();
      }
    });
  }
});
