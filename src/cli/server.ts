/**
 * `k8ts server`: flags → options → the control plane, until SIGTERM or SIGINT.
 */
import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setLogLevel, type Level } from '../base/log.js';
import { parseDuration } from '../base/duration.js';

export const serverHelp = `Run the k8ts control plane.

Usage:
  k8ts server [flags]

Flags:
  --data-dir DIR          Certificates, database, kubeconfig and token (default: /var/lib/k8ts as root, else ~/.k8ts)
  --port PORT             HTTPS port of the API server (default 6443)
  --bind-address ADDR     Address to listen on (default 127.0.0.1)
  --tls-san NAME          Extra subject alternative name for the serving certificate (repeatable)
  --advertise-address ADDR  The address pods reach this server at (the kubernetes Service's endpoints;
                          default: the node's address, or the bind address unless loopback)
  --service-cidr CIDR     Service ClusterIP range (default 10.43.0.0/16)
  --cluster-cidr CIDR     Pod range; each node gets a /24 of it (default 10.42.0.0/16)
  --storage KIND          sqlite (default, embedded) or etcd
  --etcd-endpoints URLS   Comma-separated etcd client URLs (with --storage etcd)
  --etcd-prefix PREFIX    Key prefix in etcd (default none: keys are /registry/...)
  --token TOKEN           With etcd: join the cluster already in that store (its DATA_DIR/token);
                          the new server takes that cluster's CA and credentials
  --server URL            With etcd and --token: a server of the cluster to join; refuses to start unless
                          it is one (its certificate is signed by the store's cluster CA and takes the token)
  --etcd-cafile FILE, --etcd-certfile FILE, --etcd-keyfile FILE   TLS to etcd
  --disable-agent         Do not run a node agent (containerd, pod network, kubelet) in this process
  --node-name NAME        This server's node name (default: the host name)
  --node-ip ADDR          This node's address (default: its pod bridge gateway, e.g. 10.42.0.1)
  --kubelet-port PORT     The kubelet's HTTPS port for exec, logs and port-forward (default 10250)
  --private-registry FILE Registry mirrors, credentials and TLS for this node, as k3s's registries.yaml
  --container-runtime-endpoint SOCK  Use this CRI socket instead of starting containerd
  --pod-bridge NAME       The Linux bridge of this node's pods (default k8ts0)
  --node-network CIDR     Addresses of extra nodes on this machine (k8ts node add); pods may reach them (default 10.41.0.0/24)
  --lb-pool CIDR          Addresses LoadBalancer Services get from the built-in provider (default 127.0.100.0/24)
  --disable-cloud-controller  Run no cloud controller (LoadBalancer Services stay pending)
  --cleanup-on-exit       A throwaway cluster: on exit stop its pods, remove its network and its data dir
  --disable-scheduler     Do not run the scheduler in this process
  --disable-controller-manager  Do not run the controllers in this process
  --node-monitor-grace-period D  How long a silent node stays Ready before it turns Unknown (default 40s)
  --node-eviction-rate R  Nodes per second tainted for eviction after a node failure while their zone is healthy (default 0.1)
  --secondary-node-eviction-rate R  The same while the zone is unhealthy; 0 for zones of at most --large-cluster-size-threshold nodes (default 0.01)
  --unhealthy-zone-threshold F  Share of not-Ready nodes (at least 3) that makes a zone unhealthy (default 0.55)
  --large-cluster-size-threshold N  Zones larger than this keep the secondary eviction rate when unhealthy (default 50)
  --default-not-ready-toleration-seconds N    Pods' toleration of a not-ready node (default 300)
  --default-unreachable-toleration-seconds N  Pods' toleration of an unreachable node (default 300)
  --token-auth-file FILE  Static bearer tokens: CSV lines token,user,uid,"group1,group2"
  --service-account-issuer URL  Issuer of service account tokens (default https://kubernetes.default.svc.cluster.local)
  --api-audiences LIST    Comma-separated audiences of API tokens (default: the issuer)
  --admission-control-config-file FILE  AdmissionConfiguration (PodSecurity defaults and exemptions)
  --encryption-provider-config FILE  Encrypt resources at rest (an apiserver.config.k8s.io/v1 EncryptionConfiguration)
  --audit-policy-file FILE  Audit policy (audit.k8s.io/v1 Policy); needs --audit-log-path
  --audit-log-path PATH   Write audit events as JSON lines to PATH ("-" for stdout)
  --log-level LEVEL       debug, info, warn or error (default info)
  -h, --help              Show this help
`;

function seconds(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${flag}: invalid number of seconds "${v}"`);
  return n;
}

export async function runServer(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'data-dir': { type: 'string' },
      port: { type: 'string', default: '6443' },
      'bind-address': { type: 'string', default: '127.0.0.1' },
      'tls-san': { type: 'string', multiple: true },
      'advertise-address': { type: 'string' },
      'service-cidr': { type: 'string' },
      'cluster-cidr': { type: 'string' },
      'node-name': { type: 'string' },
      'node-ip': { type: 'string' },
      'kubelet-port': { type: 'string' },
      'private-registry': { type: 'string' },
      'container-runtime-endpoint': { type: 'string' },
      'pod-bridge': { type: 'string' },
      'lb-pool': { type: 'string' },
      'node-network': { type: 'string', default: '10.41.0.0/24' },
      'disable-cloud-controller': { type: 'boolean', default: false },
      'cleanup-on-exit': { type: 'boolean', default: false },
      storage: { type: 'string', default: 'sqlite' },
      'etcd-endpoints': { type: 'string' },
      'etcd-prefix': { type: 'string' },
      token: { type: 'string' },
      server: { type: 'string' },
      'etcd-cafile': { type: 'string' },
      'etcd-certfile': { type: 'string' },
      'etcd-keyfile': { type: 'string' },
      'disable-agent': { type: 'boolean', default: false },
      'disable-scheduler': { type: 'boolean', default: false },
      'disable-controller-manager': { type: 'boolean', default: false },
      'node-monitor-grace-period': { type: 'string' },
      'node-eviction-rate': { type: 'string' },
      'secondary-node-eviction-rate': { type: 'string' },
      'unhealthy-zone-threshold': { type: 'string' },
      'large-cluster-size-threshold': { type: 'string' },
      'default-not-ready-toleration-seconds': { type: 'string' },
      'default-unreachable-toleration-seconds': { type: 'string' },
      'token-auth-file': { type: 'string' },
      'service-account-issuer': { type: 'string' },
      'api-audiences': { type: 'string' },
      'encryption-provider-config': { type: 'string' },
      'admission-control-config-file': { type: 'string' },
      'audit-policy-file': { type: 'string' },
      'audit-log-path': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(serverHelp);
    return 0;
  }
  if (values['log-level']) setLogLevel(values['log-level'] as Level);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: invalid port "${values.port}"`);
  const dataDir = values['data-dir'] ?? (process.getuid?.() === 0 ? '/var/lib/k8ts' : join(homedir(), '.k8ts'));
  let etcd;
  if (values.storage === 'etcd') {
    if (!values['etcd-endpoints']) throw new Error('--storage etcd needs --etcd-endpoints URL[,URL...]');
    const { etcdTLSFromFiles } = await import('../app/datastore.js');
    etcd = {
      endpoints: values['etcd-endpoints'].split(',').map((e) => e.trim()).filter(Boolean),
      prefix: values['etcd-prefix'],
      tls: etcdTLSFromFiles({ cafile: values['etcd-cafile'], certfile: values['etcd-certfile'], keyfile: values['etcd-keyfile'] }),
    };
  } else if (values.storage !== 'sqlite') {
    throw new Error(`--storage: unknown store "${values.storage}" (sqlite or etcd)`);
  }
  if (values.server && (values.storage !== 'etcd' || !values.token)) throw new Error('--server (joining a cluster) needs --storage etcd and --token');
  if (values['audit-log-path'] && !values['audit-policy-file']) throw new Error('--audit-log-path needs --audit-policy-file (which requests to record, and how much)');
  if (values['advertise-address']) {
    const why = (await import('../app/kubernetes-endpoints.js')).unadvertisableReason(values['advertise-address']);
    if (why) throw new Error(`--advertise-address ${values['advertise-address']}: ${why} (pods could not reach it)`);
  }
  const { startServer, nthAddress, zoneEvictionFromFlags } = await import('../app/server.js');
  const zoneEviction = zoneEvictionFromFlags(values);
  const server = await startServer({
    dataDir,
    port,
    bindAddress: values['bind-address'],
    advertiseAddress: values['advertise-address'],
    // Nodes added with `k8ts node add` reach the server at the node network's host address.
    tlsSANs: [...(values['tls-san'] ?? []), nthAddress(values['node-network']!, 1)],
    serviceCIDR: values['service-cidr'],
    tokenAuthFile: values['token-auth-file'],
    serviceAccountIssuer: values['service-account-issuer'],
    apiAudiences: values['api-audiences']?.split(',').map((a) => a.trim()).filter(Boolean),
    encryptionProviderConfig: values['encryption-provider-config'],
    admissionControlConfigFile: values['admission-control-config-file'],
    auditPolicyFile: values['audit-policy-file'],
    auditLogPath: values['audit-log-path'],
    etcd,
    token: values.token,
    joinServer: values.server,
    scheduler: !values['disable-scheduler'],
    controllers: !values['disable-controller-manager'],
    nodeMonitorGracePeriodMs: values['node-monitor-grace-period'] ? parseDuration(values['node-monitor-grace-period']) : undefined,
    zoneEviction,
    defaultNotReadyTolerationSeconds: seconds('default-not-ready-toleration-seconds', values['default-not-ready-toleration-seconds']),
    defaultUnreachableTolerationSeconds: seconds('default-unreachable-toleration-seconds', values['default-unreachable-toleration-seconds']),
    clusterCIDR: values['cluster-cidr'],
    loadBalancerPool: values['disable-cloud-controller'] ? false : values['lb-pool'],
    agent: values['disable-agent']
      ? false
      : {
          nodeName: values['node-name'],
          nodeIP: values['node-ip'],
          kubeletPort: values['kubelet-port'] !== undefined ? Number(values['kubelet-port']) : undefined,
          containerRuntimeEndpoint: values['container-runtime-endpoint'],
          bridge: values['pod-bridge'],
          privateRegistry: values['private-registry'],
          // Pods may reach the addresses of nodes added with `k8ts node add` (their DNS, kubelets).
          allowDestinations: [values['node-network']!],
        },
    removeDataDirOnStop: values['cleanup-on-exit'],
  });
  if (server.agent) process.stdout.write(`Node ${server.agent.nodeName} is running pods (node IP ${server.agent.nodeIP})\n`);
  process.stdout.write(`k8ts server is running at ${server.url}\nKubeconfig: ${server.kubeconfigPath}\n  export KUBECONFIG=${server.kubeconfigPath}\nAgents join with: k8ts agent --server ${server.url} --token-file ${join(dataDir, 'token')}\n`);
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string) => {
      process.stderr.write(`k8ts: ${sig} received, shutting down\n`);
      server.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
  return 0;
}
