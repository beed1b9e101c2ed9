/**
 * A real k8ts API server in-process with the scheduler component running against it, plus the
 * few object builders and waits the scheduler's end-to-end tests share.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, type RunningServer } from '../../src/app/server.js';
import { setLogLevel } from '../../src/base/log.js';
import { EventRecorder, RestClient, SharedInformerFactory, resources, type ComponentContext, type KObject } from '../../src/client/index.js';
import { SchedulerComponent, type SchedulerComponentOptions } from '../../src/scheduler/app.js';

setLogLevel((process.env.K8TS_LOG_LEVEL as any) || 'error');

export interface SchedulerCluster {
  server: RunningServer;
  client: RestClient;
  ctx: ComponentContext;
  scheduler: SchedulerComponent;
  createNode(name: string, o?: NodeOpts): Promise<KObject>;
  createPod(name: string, o?: PodOpts): Promise<KObject>;
  getPod(name: string, namespace?: string): Promise<KObject>;
  /** Events about the named object, oldest first. */
  eventsFor(name: string, namespace?: string): Promise<KObject[]>;
  stop(): Promise<void>;
}

export interface NodeOpts {
  cpu?: string;
  memory?: string;
  pods?: number;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
}

export interface PodOpts {
  namespace?: string;
  cpu?: string;
  memory?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: KObject[];
  priorityClassName?: string;
  schedulerName?: string;
}

/** A Node as a kubelet registers it: capacity, allocatable and Ready=True. */
export function nodeObject(name: string, o: NodeOpts = {}): KObject {
  const res = { cpu: o.cpu ?? '4', memory: o.memory ?? '16Gi', pods: String(o.pods ?? 110) };
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) } },
    spec: o.taints ? { taints: o.taints } : {},
    status: {
      capacity: res,
      allocatable: res,
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }],
    },
  };
}

/** A one-container Pod with cpu/memory requests. */
export function podObject(name: string, o: PodOpts = {}): KObject {
  const requests: Record<string, string> = {};
  if (o.cpu) requests.cpu = o.cpu;
  if (o.memory) requests.memory = o.memory;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: o.namespace ?? 'default' },
    spec: {
      containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9', resources: { requests } }],
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
      ...(o.tolerations ? { tolerations: o.tolerations } : {}),
      ...(o.priorityClassName ? { priorityClassName: o.priorityClassName } : {}),
      ...(o.schedulerName ? { schedulerName: o.schedulerName } : {}),
    },
  };
}

/** Start a server (no controllers) and a started scheduler component against it. */
export async function startSchedulerCluster(opts: SchedulerComponentOptions & { startScheduler?: boolean } = {}): Promise<SchedulerCluster> {
  const server = await startServer({ storagePath: ':memory:', controllers: false });
  const client = new RestClient({ server: server.url, ca: server.ca, cert: server.adminCert.cert, key: server.adminCert.key, userAgent: 'scheduler-test' });
  const informers = new SharedInformerFactory(client);
  const recorders: EventRecorder[] = [];
  const ctx: ComponentContext = {
    client,
    informers,
    recorder(component) {
      const r = new EventRecorder(client, { component });
      recorders.push(r);
      return r;
    },
  };
  const scheduler = new SchedulerComponent(opts);
  if (opts.startScheduler !== false) await scheduler.start(ctx);
  return {
    server,
    client,
    ctx,
    scheduler,
    createNode: (name, o) => client.create(resources.nodes, undefined, nodeObject(name, o)),
    createPod: (name, o) => client.create(resources.pods, o?.namespace ?? 'default', podObject(name, o)),
    getPod: (name, ns = 'default') => client.get(resources.pods, ns, name),
    async eventsFor(name, ns = 'default') {
      for (const r of recorders) await r.flush();
      const list = await client.list(resources.events, ns);
      return (list.items as KObject[]).filter((e) => e.involvedObject?.name === name);
    },
    async stop() {
      await scheduler.stop();
      for (const r of recorders) await r.stop();
      await informers.shutdown();
      client.close();
      await server.stop();
    },
  };
}

/** Poll until `cond` holds; fails naming `what` after the timeout. */
export async function until<T>(cond: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The pod's condition of this type. */
export function condition(pod: KObject, type: string): KObject | undefined {
  return (pod.status?.conditions ?? []).find((c: KObject) => c.type === type);
}
