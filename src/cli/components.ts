/**
 * `k8ts scheduler` and `k8ts controller-manager`: the control-plane loops as processes of their
 * own against a server, as upstream's binaries run; several of each elect one leader.
 */
import { parseArgs } from 'node:util';
import { setLogLevel, type Level } from '../base/log.js';

const nodeEvictionHelp = `  --node-eviction-rate R  Nodes per second tainted for eviction after a node failure while their zone is healthy (default 0.1)
  --secondary-node-eviction-rate R  The same while the zone is unhealthy; 0 for zones of at most --large-cluster-size-threshold nodes (default 0.01)
  --unhealthy-zone-threshold F  Share of not-Ready nodes (at least 3) that makes a zone unhealthy (default 0.55)
  --large-cluster-size-threshold N  Zones larger than this keep the secondary eviction rate when unhealthy (default 50)
`;

export const componentHelp = (name: string) => `Run the ${name} against a k8ts (or Kubernetes) API server.

Usage:
  k8ts ${name} --kubeconfig FILE [flags]

Flags:
  --kubeconfig FILE            Credentials and server (required)
  --leader-elect-lease-duration D   Lease duration (default 15s)
  --leader-elect-renew-deadline D   Renew deadline (default 10s)
  --leader-elect-retry-period D     Retry period (default 2s)
${name === 'controller-manager' ? nodeEvictionHelp : ''}  --log-level LEVEL            debug, info, warn or error (default info)
  -h, --help                   Show this help
`;

export async function runComponent(name: 'scheduler' | 'controller-manager', args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      kubeconfig: { type: 'string' },
      'leader-elect-lease-duration': { type: 'string' },
      'leader-elect-renew-deadline': { type: 'string' },
      'leader-elect-retry-period': { type: 'string' },
      'log-level': { type: 'string' },
      'node-eviction-rate': { type: 'string' },
      'secondary-node-eviction-rate': { type: 'string' },
      'unhealthy-zone-threshold': { type: 'string' },
      'large-cluster-size-threshold': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(componentHelp(name));
    return 0;
  }
  if (values['log-level']) setLogLevel(values['log-level'] as Level);
  if (!values.kubeconfig) throw new Error('--kubeconfig is required');
  const { parseDuration } = await import('../base/duration.js');
  const { loadKubeconfig, RestClient } = await import('../client/index.js');
  const { startControlPlane, zoneEvictionFromFlags } = await import('../app/control-plane.js');
  const zoneEviction = zoneEvictionFromFlags(values);
  if (name === 'scheduler' && Object.keys(zoneEviction).length) throw new Error('the node eviction flags are flags of the controller-manager');
  const dur = (v: string | undefined) => (v ? parseDuration(v) : undefined);
  const client = new RestClient({ ...(await loadKubeconfig(values.kubeconfig)), userAgent: `k8ts-${name}` });
  const cp = startControlPlane(client, {
    scheduler: name === 'scheduler',
    controllers: name === 'controller-manager',
    leaseDurationMs: dur(values['leader-elect-lease-duration']),
    renewDeadlineMs: dur(values['leader-elect-renew-deadline']),
    retryPeriodMs: dur(values['leader-elect-retry-period']),
    zoneEviction,
  });
  process.stdout.write(`k8ts ${name} running against ${client.config.server}\n`);
  await new Promise<void>((resolve) => {
    const onSignal = () => cp.stop().then(resolve, resolve);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  client.close();
  return 0;
}
