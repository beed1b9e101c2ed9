/**
 * The cloud provider interface (upstream's k8s.io/cloud-provider, reduced to what k8ts uses): a
 * provider makes load balancers for Services and may report node addresses. A real cloud's
 * provider implements this and nothing else changes.
 */
import type { KObject } from '../../client/rest-client.js';

/** v1.LoadBalancerIngress. */
export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
  ipMode?: 'VIP' | 'Proxy';
  ports?: { port: number; protocol: string; error?: string }[];
}

/** What `status.loadBalancer` becomes. */
export interface LoadBalancerStatus {
  ingress: LoadBalancerIngress[];
}

export interface LoadBalancer {
  /** Whether this provider serves the Service's spec.loadBalancerClass (undefined: the default class). */
  handlesClass(loadBalancerClass: string | undefined): boolean;
  /** Create or update the load balancer; returns the addresses to publish. */
  ensureLoadBalancer(clusterName: string, service: KObject, nodes: KObject[]): Promise<LoadBalancerStatus>;
  /** The node set changed. */
  updateLoadBalancer(clusterName: string, service: KObject, nodes: KObject[]): Promise<void>;
  /** Remove it (idempotent: a missing load balancer is not an error). */
  ensureLoadBalancerDeleted(clusterName: string, service: KObject): Promise<void>;
  /** Load balancers that exist already (from Services' status), seen once before any ensure. */
  observeExisting?(services: KObject[]): void;
}

export interface CloudProvider {
  readonly providerName: string;
  loadBalancer?(): LoadBalancer | undefined;
  /** Addresses of a node as the cloud knows them; undefined leaves the kubelet's. */
  nodeAddresses?(node: KObject): Promise<{ type: string; address: string }[] | undefined>;
}

/** A user-visible failure, recorded as the SyncLoadBalancerFailed event's message. */
export class LoadBalancerError extends Error {}
