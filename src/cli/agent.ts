/**
 * `k8ts agent`: join a server as a node: a real one (containerd, CNI, kubelet), or hollow nodes (a
 * fake runtime behind the same kubelet logic) for scale tests.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../base/duration.js';
import { logger, setLogLevel, type Level } from '../base/log.js';

export const agentHelp = `Join a k8ts server as a node.

Usage:
  k8ts agent --server URL --token TOKEN [flags]

Flags:
  --server URL[,URL...]     The API server to join (required); with several, the agent fails over
                            to the next when its server dies
  --token TOKEN             The join token (the server writes it to DATA_DIR/token)
  --token-file FILE         Read the join token from FILE
  --server-ca FILE          The cluster CA to verify the server with (DATA_DIR/tls/ca.crt on the server)
  --node-name NAME          The node's name (default: the host name); with --hollow-nodes, a prefix
  --data-dir DIR            The node's state: containerd, CNI, logs, images to import (default /var/lib/k8ts/agent)
  --node-ip ADDR            The node's address (default: the gateway of the pod range the server assigns)
  --cluster-cidr CIDR       The cluster's pod range, as the server's (default 10.42.0.0/16)
  --service-cidr CIDR       The cluster's Service range, as the server's (default 10.43.0.0/16)
  --cluster-dns ADDR        The DNS server pods use (default: the 10th address of the Service range)
  --container-runtime-endpoint SOCK  Use this CRI socket instead of starting containerd
  --kubelet-port PORT       The kubelet's HTTPS port for exec, logs and port-forward (default 10250)
  --private-registry FILE   Registry mirrors, credentials and TLS, as k3s's registries.yaml
                            (default DATA_DIR/registries.yaml when it exists)
  --allow-destination CIDR  A non-cluster range pods may still be forwarded to, e.g. the node network (repeatable)
  --node-status-update-frequency D  How often the kubelet posts node status (default 10s)
  --cleanup-on-exit         On SIGTERM/SIGINT also remove the node's pods, network and data dir
  --hollow-nodes N          Run N hollow nodes (fake runtime, real kubelet logic) for scale tests
  --hollow-run-duration D   How long hollow batch pods run before they succeed (default 1s)
  --kubeconfig FILE         With --hollow-nodes: credentials that may act for every hollow node
                            (e.g. the server's DATA_DIR/kubeconfig.yaml); real nodes use the token
  --log-level LEVEL         debug, info, warn or error (default info)
  -h, --help                Show this help
`;

export async function runAgent(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      server: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      'server-ca': { type: 'string' },
      'node-name': { type: 'string' },
      'hollow-nodes': { type: 'string' },
      kubeconfig: { type: 'string' },
      'hollow-run-duration': { type: 'string', default: '1s' },
      'data-dir': { type: 'string' },
      'node-ip': { type: 'string' },
      'cluster-cidr': { type: 'string' },
      'service-cidr': { type: 'string' },
      'cluster-dns': { type: 'string' },
      'container-runtime-endpoint': { type: 'string' },
      'kubelet-port': { type: 'string' },
      'private-registry': { type: 'string' },
      'allow-destination': { type: 'string', multiple: true },
      'node-status-update-frequency': { type: 'string' },
      'cleanup-on-exit': { type: 'boolean', default: false },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(agentHelp);
    return 0;
  }
  if (values['log-level']) setLogLevel(values['log-level'] as Level);
  const log = logger('agent');
  const hollow = values['hollow-nodes'] === undefined ? 0 : Number(values['hollow-nodes']);
  if (!Number.isInteger(hollow) || hollow < 0) throw new Error(`--hollow-nodes: invalid count "${values['hollow-nodes']}"`);
  if (hollow > 0) {
    // Hollow nodes share one client for all their nodes, which no node identity may do (the node
    // authorizer keeps each node to itself): they need credentials that can act for many nodes.
    if (!values.kubeconfig) throw new Error('--hollow-nodes needs --kubeconfig with credentials that may act for every hollow node (e.g. the server\'s DATA_DIR/kubeconfig.yaml)');
    const { loadKubeconfig, RestClient } = await import('../client/index.js');
    const client = new RestClient({ ...(await loadKubeconfig(values.kubeconfig)), userAgent: 'k8ts-hollow-agent' });
    const { startHollowNodes } = await import('../kubelet/hollow.js');
    const prefix = values['node-name'] ? `${values['node-name']}-` : `${hostname()}-hollow-`;
    const t0 = Date.now();
    const nodes = await startHollowNodes({ client, count: hollow, namePrefix: prefix, runDurationMs: parseDuration(values['hollow-run-duration']!) });
    process.stdout.write(`k8ts agent: ${hollow} hollow node(s) registered in ${Date.now() - t0} ms (${nodes.nodeNames[0]} ... ${nodes.nodeNames[nodes.nodeNames.length - 1]})\n`);
    await new Promise<void>((resolve) => {
      const onSignal = () => {
        nodes.stop().then(resolve, resolve);
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    });
    client.close();
    return 0;
  }
  if (!values.server) throw new Error('--server is required (the URL the server printed)');
  // Several servers (comma-separated): the agent's clients move to the next when theirs dies.
  const [server, ...otherServers] = values.server.split(',').map((u) => u.trim()).filter(Boolean);
  const token = values.token ?? (values['token-file'] ? readFileSync(values['token-file'], 'utf8').trim() : undefined);
  if (!token) throw new Error('--token or --token-file is required (the server writes it to DATA_DIR/token)');
  const ca = values['server-ca'] ? readFileSync(values['server-ca'], 'utf8') : undefined;
  if (!ca) log.warn('no --server-ca given: the server certificate is not verified');
  const { RestClient } = await import('../client/rest-client.js');
  {
    const rootDir = values['data-dir'] ?? '/var/lib/k8ts/agent';
    const nodeName = (values['node-name'] ?? hostname()).toLowerCase();
    // TLS bootstrap, as upstream kubelets do: the join token only asks for the node's own client
    // certificate (a CSR the control plane approves and signs); everything after runs as
    // system:node:<name>, which the node authorizer limits to this node's pods and objects.
    const bootstrapClient = new RestClient({ server, servers: otherServers, token, ca, insecureSkipTLSVerify: !ca, userAgent: 'k8ts-agent-bootstrap' });
    const { bootstrapNodeCredentials, bootstrapComponentCredentials } = await import('../kubelet/certificate/bootstrap.js');
    const pkiDir = join(rootDir, 'pki');
    const [creds, proxyCreds, dnsCreds] = await Promise.all([
      bootstrapNodeCredentials({ client: bootstrapClient, nodeName, dir: pkiDir }),
      // kube-proxy and the cluster DNS run as their own users, as upstream's do.
      bootstrapComponentCredentials({ client: bootstrapClient, commonName: 'system:kube-proxy', dir: pkiDir }),
      bootstrapComponentCredentials({ client: bootstrapClient, commonName: 'system:k8ts-dns', dir: pkiDir }),
    ]).finally(() => bootstrapClient.close());
    log.info('node credentials ready', { user: `system:node:${nodeName}` });
    const clientWith = (kp: { cert: string; key: string }, userAgent: string) => new RestClient({ server, servers: otherServers, ca, insecureSkipTLSVerify: !ca, cert: kp.cert, key: kp.key, userAgent });
    const client = clientWith(creds, 'k8ts-agent');
    const proxyClient = clientWith(proxyCreds, 'k8ts-proxy');
    const dnsClient = clientWith(dnsCreds, 'k8ts-dns');
    const { startAgent } = await import('../app/agent.js');
    const { nthAddress } = await import('../kubelet/network/host-network.js');
    const serviceCIDR = values['service-cidr'] ?? '10.43.0.0/16';
    // The 10th Service address (10.43.0.10), as kube-dns's ClusterIP.
    const clusterDNS = values['cluster-dns'] ?? nthAddress(serviceCIDR, 10);
    const agent = await startAgent({
      client,
      proxyClient,
      dnsClient,
      ca: ca ?? '',
      nodeName,
      rootDir,
      nodeIP: values['node-ip'],
      clusterCIDR: values['cluster-cidr'],
      serviceCIDR,
      clusterDNS,
      containerRuntimeEndpoint: values['container-runtime-endpoint'],
      kubeletPort: values['kubelet-port'] !== undefined ? Number(values['kubelet-port']) : undefined,
      allowDestinations: values['allow-destination'],
      privateRegistry: values['private-registry'],
      heartbeatMs: values['node-status-update-frequency'] ? parseDuration(values['node-status-update-frequency']) : undefined,
    });
    process.stdout.write(`k8ts agent: node ${agent.nodeName} joined ${values.server} (node IP ${agent.nodeIP}, pod CIDR ${agent.kubelet.nodePodCIDR})\n`);
    await new Promise<void>((resolve) => {
      // A throwaway node (e.g. `k8ts node rm`) takes its pods, network and state with it.
      const gone = values['cleanup-on-exit'];
      const onSignal = () => void agent.stop({ removePods: gone, removeState: gone }).then(resolve, resolve);
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    });
    for (const c of [client, proxyClient, dnsClient]) c.close();
    return 0;
  }
}
