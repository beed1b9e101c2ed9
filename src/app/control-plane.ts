/**
 * Runs control-plane components (scheduler, controller manager) against an API server, each group
 * behind its own leader-election Lease, as upstream's kube-scheduler and kube-controller-manager
 * do: every server runs them, only the lease holder acts, and a new leader takes over when the
 * holder's lease runs out.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { logger } from '../base/log.js';
import { EventRecorder, LeaderElector, SharedInformerFactory, type Component, type ComponentContext, type RestClient } from '../client/index.js';
import { SchedulerComponent } from '../scheduler/index.js';
import { ReplicaSetController } from '../controllers/replicaset/replicaset-controller.js';
import { DeploymentController } from '../controllers/deployment/deployment-controller.js';
import { GarbageCollector } from '../controllers/garbagecollector/garbage-collector.js';
import { JobController } from '../controllers/job/job-controller.js';
import { CronJobController } from '../controllers/cronjob/cronjob-controller.js';
import { NodeLifecycleController } from '../controllers/nodelifecycle/node-lifecycle-controller.js';
import type { ZoneEvictionConfig } from '../controllers/nodelifecycle/zones.js';
// The cli reaches the controllers through app only.
export { zoneEvictionFromFlags } from '../controllers/nodelifecycle/zones.js';
import { DaemonSetController } from '../controllers/daemonset/daemonset-controller.js';
import { EndpointsController } from '../controllers/endpoints/endpoints-controller.js';
import { EndpointSliceController } from '../controllers/endpointslice/endpointslice-controller.js';
import { ServiceAccountsController } from '../controllers/serviceaccount/serviceaccounts-controller.js';
import { RootCACertPublisher } from '../controllers/rootcacertpublisher/root-ca-cert-publisher.js';
import { ResourceQuotaController } from '../controllers/resourcequota/resourcequota-controller.js';
import { CSRApprovingController } from '../controllers/certificates/csr-approver.js';
import { ClusterRoleAggregationController } from '../controllers/clusterroleaggregation/clusterrole-aggregation-controller.js';
import { CSRSigningController } from '../controllers/certificates/csr-signer.js';
import { PodGCController } from '../controllers/podgc/podgc-controller.js';
import { StatefulSetController } from '../controllers/statefulset/statefulset-controller.js';
import { PersistentVolumeController } from '../controllers/volume/persistentvolume/pv-controller.js';
import { PVCProtectionController, PVProtectionController } from '../controllers/volume/persistentvolume/protection-controller.js';
import { EphemeralVolumeController } from '../controllers/volume/ephemeral/ephemeral-controller.js';
import { TTLAfterFinishedController } from '../controllers/ttlafterfinished/ttlafterfinished-controller.js';
import { DisruptionController } from '../controllers/disruption/disruption-controller.js';
import { NodeIPAMController } from '../controllers/nodeipam/node-ipam-controller.js';
import { DNSEndpointsController } from '../controllers/nodedns/dns-endpoints-controller.js';
import { ServiceLBController } from '../controllers/cloud/service-controller.js';
import { LocalCloudProvider } from '../controllers/cloud/local-provider.js';
import type { CloudProvider } from '../controllers/cloud/provider.js';

const log = logger('control-plane');

export interface LeaderGroupOptions {
  client: RestClient;
  /** The Lease in kube-system, e.g. kube-scheduler or kube-controller-manager. */
  leaseName: string;
  components: Component[];
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** Components started while this process holds the lease and stopped when it loses it. */
export class LeaderGroup {
  private stopped = false;
  private elector?: LeaderElector;
  private loop?: Promise<void>;
  private ctx?: ComponentContext;
  private readonly recorders: EventRecorder[] = [];
  readonly identity: string;

  constructor(private readonly opts: LeaderGroupOptions) {
    // The PID lets an operator (and the failover test) tell which process holds a lease.
    this.identity = opts.identity ?? `${hostname()}_${process.pid}_${randomUUID()}`;
  }

  /** Begin campaigning; components start once the lease is held. */
  start(): void {
    this.loop = this.campaign();
  }

  private context(): ComponentContext {
    if (this.ctx) return this.ctx;
    const client = this.opts.client;
    const informers = new SharedInformerFactory(client);
    this.ctx = {
      client,
      informers,
      recorder: (component) => {
        const r = new EventRecorder(client, { component, host: hostname() });
        this.recorders.push(r);
        return r;
      },
    };
    return this.ctx;
  }

  private async campaign(): Promise<void> {
    while (!this.stopped) {
      const elector = new LeaderElector({
        client: this.opts.client,
        namespace: 'kube-system',
        name: this.opts.leaseName,
        identity: this.identity,
        leaseDurationMs: this.opts.leaseDurationMs,
        renewDeadlineMs: this.opts.renewDeadlineMs,
        retryPeriodMs: this.opts.retryPeriodMs,
        releaseOnCancel: true,
        callbacks: {
          onStartedLeading: async () => {
            log.info('leading; starting components', { lease: this.opts.leaseName, identity: this.identity });
            const ctx = this.context();
            for (const c of this.opts.components) {
              await c.start(ctx).catch((e) => log.error('component failed to start', { component: c.name, err: e as Error }));
            }
          },
          onStoppedLeading: () => {
            void this.stopComponents();
          },
        },
      });
      this.elector = elector;
      await elector.run().catch((e) => log.error('leader election failed', { lease: this.opts.leaseName, err: e as Error }));
      if (!this.stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private async stopComponents(): Promise<void> {
    for (const c of [...this.opts.components].reverse()) await c.stop().catch(() => undefined);
    const ctx = this.ctx;
    this.ctx = undefined;
    ctx?.informers.shutdown();
    for (const r of this.recorders.splice(0)) r.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.elector?.stop();
    await this.loop;
    await this.stopComponents();
  }
}

export interface ControlPlaneOptions {
  /** Run the scheduler (default true). */
  scheduler?: boolean;
  /** Run the controller manager (default true). */
  controllers?: boolean;
  /** The cluster CA certificate (PEM), published to every namespace as kube-root-ca.crt. */
  caPEM?: string;
  /** The cluster CA with its key: the CSR signer issues node and client certificates with it. */
  ca?: { cert: string; key: string };
  /** How long a node may stay silent before it is marked Unknown (upstream's --node-monitor-grace-period, 40 s). */
  nodeMonitorGracePeriodMs?: number;
  /** Zone-aware eviction rates (upstream's --node-eviction-rate, --secondary-node-eviction-rate, --unhealthy-zone-threshold, --large-cluster-size-threshold). */
  zoneEviction?: Partial<ZoneEvictionConfig>;
  /** The pod range the node IPAM controller hands out node ranges from (default 10.42.0.0/16). */
  clusterCIDR?: string;
  /**
   * The cloud controller's provider: false runs none; default the built-in local provider, whose
   * load balancer addresses come from `loadBalancerPool`.
   */
  cloudProvider?: CloudProvider | false;
  /** The local provider's address pool (default 127.0.100.0/24). */
  loadBalancerPool?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** The scheduler and the controller manager, each behind its lease. */
/** Each component's own identity (least privilege); one client serves all when they share one. */
export interface ControlPlaneClients {
  scheduler: RestClient;
  controllerManager: RestClient;
  cloudController: RestClient;
}

export function startControlPlane(clients: RestClient | ControlPlaneClients, opts: ControlPlaneOptions = {}): { stop(): Promise<void> } {
  const c: ControlPlaneClients = 'scheduler' in clients ? clients : { scheduler: clients, controllerManager: clients, cloudController: clients };
  const groups: LeaderGroup[] = [];
  const timing = { leaseDurationMs: opts.leaseDurationMs, renewDeadlineMs: opts.renewDeadlineMs, retryPeriodMs: opts.retryPeriodMs };
  if (opts.scheduler !== false) {
    groups.push(new LeaderGroup({ client: c.scheduler, leaseName: 'kube-scheduler', components: [new SchedulerComponent()], ...timing }));
  }
  if (opts.controllers !== false) {
    groups.push(
      new LeaderGroup({
        client: c.controllerManager,
        leaseName: 'kube-controller-manager',
        components: [
          new ReplicaSetController(),
          new DeploymentController(),
          new GarbageCollector(),
          new JobController(),
          new CronJobController(),
          new DaemonSetController(),
          new StatefulSetController(),
          new PersistentVolumeController(),
          new PVCProtectionController(),
          new PVProtectionController(),
          new EphemeralVolumeController(),
          new TTLAfterFinishedController(),
          new DisruptionController(),
          new NodeLifecycleController({ nodeMonitorGracePeriodMs: opts.nodeMonitorGracePeriodMs, zoneEviction: opts.zoneEviction }),
          new EndpointsController(),
          new EndpointSliceController(),
          new ServiceAccountsController(),
          new PodGCController(),
          new NodeIPAMController({ clusterCIDR: opts.clusterCIDR }),
          new DNSEndpointsController(),
          ...(opts.caPEM ? [new RootCACertPublisher(opts.caPEM)] : []),
          new ResourceQuotaController(),
          new CSRApprovingController(),
          new ClusterRoleAggregationController(),
          ...(opts.ca ? [new CSRSigningController({ ca: opts.ca })] : []),
        ],
        ...timing,
      }),
    );
  }
  if (opts.controllers !== false && opts.cloudProvider !== false) {
    const provider = opts.cloudProvider ?? new LocalCloudProvider({ pool: opts.loadBalancerPool });
    groups.push(new LeaderGroup({ client: c.cloudController, leaseName: 'cloud-controller-manager', components: [new ServiceLBController({ provider })], ...timing }));
  }
  for (const g of groups) g.start();
  return {
    async stop() {
      await Promise.all(groups.map((g) => g.stop()));
    },
  };
}
