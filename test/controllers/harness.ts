/**
 * A real in-process API server (controllers off) plus the context a controller component runs
 * with, for the controller tests. There is no scheduler or kubelet: tests play kubelet by writing
 * pod status through pods/status.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, type RunningServer } from '../../src/app/server.js';
import { ServiceAccountsController } from '../../src/controllers/serviceaccount/serviceaccounts-controller.js';
import { setLogLevel } from '../../src/base/log.js';
import type { Component, ComponentContext } from '../../src/client/component.js';
import { EventRecorder } from '../../src/client/event-recorder.js';
import { SharedInformerFactory } from '../../src/client/informer.js';
import { RestClient, type KObject } from '../../src/client/rest-client.js';
import { resources } from '../../src/client/resources.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');

export interface Harness {
  server: RunningServer;
  client: RestClient;
  ctx: ComponentContext;
  /** Start components in order; stop() stops them in reverse. */
  run(...components: Component[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const server = await startServer({ storagePath: ':memory:', controllers: false });
  const client = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key });
  const informers = new SharedInformerFactory(client);
  const recorders: EventRecorder[] = [];
  const ctx: ComponentContext = {
    client,
    informers,
    recorder: (c) => {
      const r = new EventRecorder(client, { component: c });
      recorders.push(r);
      return r;
    },
  };
  const running: Component[] = [];
  // Every namespace gets its default ServiceAccount, which ServiceAccount admission requires of pods.
  const serviceAccounts = new ServiceAccountsController();
  await serviceAccounts.start(ctx);
  running.push(serviceAccounts);
  return {
    server,
    client,
    ctx,
    async run(...cs) {
      for (const c of cs) {
        await c.start(ctx);
        running.push(c);
      }
    },
    async stop() {
      for (const c of running.reverse()) await c.stop();
      await informers.shutdown();
      for (const r of recorders) await r.stop();
      client.close();
      await server.stop();
    },
  };
}

/** Poll until `cond` holds; fails naming `what` after the timeout. */
export async function until(cond: () => boolean | Promise<boolean>, what: string | (() => string), timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(20);
  }
}

/** Items of a list call. */
export async function list(client: RestClient, ref: (typeof resources)[keyof typeof resources], ns: string, labelSelector?: string): Promise<KObject[]> {
  return (await client.list(ref, ns, { labelSelector })).items ?? [];
}

/** Play kubelet: mark the pod Running and Ready (or not ready) through pods/status. */
export async function setPodReady(client: RestClient, pod: KObject, ready = true): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await client.patch(
    resources.pods,
    pod.metadata.namespace,
    pod.metadata.name,
    { status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now }] } },
    'merge',
    { subresource: 'status' },
  );
}

/** A minimal pod template. */
export function template(labels: Record<string, string>, image = 'nginx:1.25', annotations?: Record<string, string>): KObject {
  return { metadata: { labels, ...(annotations ? { annotations } : {}) }, spec: { containers: [{ name: 'web', image }] } };
}

/** Events about the named object, oldest first. */
export async function eventsFor(client: RestClient, ns: string, name: string): Promise<KObject[]> {
  const items = await list(client, resources.events, ns);
  return items.filter((e) => e.involvedObject?.name === name);
}

/**
 * A stand-in kubelet for one namespace: every new pod is marked Running and Ready after
 * `delayMs`. It also tracks how many pods are ready and not being deleted, and the lowest that
 * count has been since {@link resetMin}.
 */
export function fakeKubelet(client: RestClient, ns: string, delayMs = 50) {
  const ready = new Map<string, boolean>();
  const timers = new Set<NodeJS.Timeout>();
  let min = Infinity;
  const count = () => [...ready.values()].filter(Boolean).length;
  const watch = client.watch(resources.pods, ns, {}, (ev) => {
    const p = ev.object;
    if (ev.type === 'DELETED' || (ev.type === 'MODIFIED' && p.metadata?.deletionTimestamp)) ready.delete(p.metadata.name);
    else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
      const isReady = !!p.status?.conditions?.some((c: KObject) => c.type === 'Ready' && c.status === 'True');
      ready.set(p.metadata.name, isReady);
      if (ev.type === 'ADDED' && !isReady) {
        const t = setTimeout(() => {
          timers.delete(t);
          setPodReady(client, p).catch(() => undefined);
        }, delayMs);
        timers.add(t);
      }
    } else return;
    min = Math.min(min, count());
  });
  return {
    readyCount: count,
    minReady: () => min,
    resetMin: () => {
      min = count();
    },
    stop() {
      for (const t of timers) clearTimeout(t);
      watch.abort();
    },
  };
}
