/**
 * Cluster DNS runs in every node agent rather than in pods, so the selector-less kube-dns Service
 * gets its endpoints here: one per node that announces a DNS server (the node annotation
 * k8ts.io/cluster-dns = "IP:PORT"), ready only while the node is Ready, so that a lost node stops
 * receiving queries as soon as the node lifecycle controller marks it.
 */
import { StatusError } from '../../api/errors.js';
import type { Component, ComponentContext } from '../../client/component.js';
import type { Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { ControllerLoop } from '../common/controller-loop.js';

/** The node annotation a node agent sets to offer its DNS server. */
export const CLUSTER_DNS_ANNOTATION = 'k8ts.io/cluster-dns';
const NAMESPACE = 'kube-system';
const SERVICE = 'kube-dns';
const SLICE = 'kube-dns-nodes';
const KEY = 'kube-dns';

/** The endpoints the slice should hold, from the nodes. Pure. */
export function desiredDNSEndpoints(nodes: KObject[]): { endpoints: KObject[]; port: number } {
  let port = 53;
  const endpoints = nodes
    .filter((n) => n.metadata?.annotations?.[CLUSTER_DNS_ANNOTATION])
    .map((n) => {
      const v: string = n.metadata.annotations[CLUSTER_DNS_ANNOTATION];
      const i = v.lastIndexOf(':');
      const ip = i > 0 ? v.slice(0, i) : v;
      if (i > 0) port = Number(v.slice(i + 1)) || 53;
      const ready = !n.metadata.deletionTimestamp && n.status?.conditions?.some((c: KObject) => c.type === 'Ready' && c.status === 'True') === true;
      return { addresses: [ip], conditions: { ready, serving: ready, terminating: false }, nodeName: n.metadata.name };
    })
    .sort((a, b) => a.nodeName.localeCompare(b.nodeName));
  return { endpoints, port };
}

export class DNSEndpointsController implements Component {
  readonly name = 'dns-endpoints-controller';
  readonly queue = new WorkQueue<string>({ name: 'dns-endpoints' });
  private readonly loop = new ControllerLoop(this.queue, 'service');
  private client!: RestClient;
  private nodes!: Lister;
  private slices!: Lister;

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const nodeInf = ctx.informers.forResource(resources.nodes);
    const sliceInf = ctx.informers.forResource(resources.endpointslices);
    this.nodes = nodeInf.lister;
    this.slices = sliceInf.lister;
    const poke = () => this.queue.add(KEY);
    this.loop.regs.push(
      nodeInf.addEventHandler({ onAdd: poke, onUpdate: (o, n) => (dnsView(o) !== dnsView(n) ? poke() : undefined), onDelete: poke }),
      sliceInf.addEventHandler({ onDelete: (s) => ((s as KObject).metadata?.name === SLICE ? poke() : undefined) }),
    );
    ctx.informers.start();
    this.loop.run(() => Promise.all([nodeInf.waitForSync(), sliceInf.waitForSync()]), 1, () => this.sync());
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  async sync(): Promise<void> {
    const { endpoints, port } = desiredDNSEndpoints(this.nodes.list());
    const want = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: SLICE,
        namespace: NAMESPACE,
        labels: { 'kubernetes.io/service-name': SERVICE, 'endpointslice.kubernetes.io/managed-by': 'dns-endpoints-controller.k8ts.io' },
      },
      addressType: 'IPv4',
      endpoints,
      ports: [
        { name: 'dns', port, protocol: 'UDP' },
        { name: 'dns-tcp', port, protocol: 'TCP' },
      ],
    };
    const cur: KObject | undefined = this.slices.get(NAMESPACE, SLICE);
    try {
      if (!cur) await this.client.create(resources.endpointslices, NAMESPACE, want);
      else if (JSON.stringify(cur.endpoints ?? []) !== JSON.stringify(endpoints) || cur.ports?.[0]?.port !== port) {
        await this.client.update(resources.endpointslices, { ...want, metadata: { ...want.metadata, resourceVersion: cur.metadata.resourceVersion } });
      }
    } catch (e) {
      if (e instanceof StatusError && e.code === 409) {
        this.queue.addAfter(KEY, 200);
        return;
      }
      throw e;
    }
  }
}

/** What of a node matters here: its DNS annotation and readiness. */
function dnsView(n: KObject): string {
  const ready = n?.status?.conditions?.find((c: KObject) => c.type === 'Ready')?.status;
  return `${n?.metadata?.annotations?.[CLUSTER_DNS_ANNOTATION] ?? ''}|${ready}|${!!n?.metadata?.deletionTimestamp}`;
}
