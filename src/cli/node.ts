/**
 * `k8ts node`: extra real nodes on this machine, each a `k8ts agent` in its own network namespace
 * joined to the server through a shared host bridge (see src/app/netns-node.ts).
 */
import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const nodeHelp = `Run extra nodes on this machine, each in its own network namespace.

Usage:
  k8ts node add NAME [--count N] [flags]
  k8ts node rm NAME... [flags]
  k8ts node ls [flags]

add   Start node NAME (with --count N: NAME-1 ... NAME-N): a network namespace k8ts-NAME, a veth
      into the host bridge, and a 'k8ts agent' inside with its own containerd, pod bridge, kubelet,
      proxy and DNS. It runs in the background; its log is DIR/nodes/NAME/agent.log.
      The nodes reach the server at the host's node-network address (a server on 127.0.0.1 is
      forwarded there); \`k8ts server\` names that address in its certificate (its --node-network).
rm    Stop nodes by PID (their pods, network and state go with them) and delete their namespaces.
ls    List the nodes, their addresses, pod ranges and whether their agent runs.

Flags:
  --server-data-dir DIR   The server's data dir (default: /var/lib/k8ts as root, else ~/.k8ts)
  --count N               add: how many nodes
  --cluster-cidr CIDR     The server's pod range (default 10.42.0.0/16)
  --service-cidr CIDR     The server's Service range (default 10.43.0.0/16)
  --node-network CIDR     The network between the host (.1) and the nodes (default 10.41.0.0/24)
  --node-bridge NAME      The host bridge of that network (default k8ts-nodes)
  --log-level LEVEL       The agents' log level
  -h, --help              Show this help

Example:
  k8ts server &
  k8ts node add worker --count 2
  kubectl get nodes -o wide
  k8ts node rm worker-1 worker-2
`;

function defaultDataDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/k8ts' : join(homedir(), '.k8ts');
}

/** Runs `k8ts node ...`; `out` is where tables and messages go (tests pass their own). */
export async function runNode(args: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      'server-data-dir': { type: 'string' },
      count: { type: 'string' },
      'cluster-cidr': { type: 'string' },
      'service-cidr': { type: 'string' },
      'node-network': { type: 'string' },
      'node-bridge': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  const [sub, ...names] = positionals;
  if (values.help || !sub) {
    out(nodeHelp);
    return values.help ? 0 : 1;
  }
  const lib = await import('../app/netns-node.js');
  const serverDir = values['server-data-dir'] ?? defaultDataDir();
  const nodesDir = join(serverDir, 'nodes');
  switch (sub) {
    case 'add': {
      if (names.length !== 1) throw new Error('node add takes one NAME');
      if (process.getuid?.() !== 0) throw new Error('node add needs root (network namespaces, links, routes)');
      const count = values.count === undefined ? 0 : Number(values.count);
      if (!Number.isInteger(count) || count < 0) throw new Error(`--count: invalid number "${values.count}"`);
      const list = count ? Array.from({ length: count }, (_, i) => `${names[0]}-${i + 1}`) : [names[0]!];
      const conn = lib.serverConnection(serverDir);
      // The agent runs the same k8ts as this command (bin/k8ts, or the sources under tsx).
      const command = [process.execPath, ...process.execArgv, process.argv[1]!];
      for (const name of list) {
        const t0 = Date.now();
        const n = await lib.startNetnsNode({
          ...conn,
          name,
          dataDir: join(nodesDir, name),
          clusterCIDR: values['cluster-cidr'],
          serviceCIDR: values['service-cidr'],
          nodeNetwork: values['node-network'],
          bridge: values['node-bridge'],
          logLevel: values['log-level'],
          command,
          detached: true,
        });
        out(`node/${name} joined in ${Date.now() - t0} ms (namespace ${n.netns}, node IP ${n.nodeIP}, pod CIDR ${n.podCIDR}, PID ${n.pid})\n`);
      }
      return 0;
    }
    case 'rm':
    case 'remove':
    case 'delete': {
      if (!names.length) throw new Error('node rm takes one or more NAMEs');
      const all = lib.listNetnsNodes(nodesDir);
      let code = 0;
      for (const name of names) {
        const rec = all.find((r) => r.name === name);
        if (!rec) {
          process.stderr.write(`k8ts: node ${name} not found under ${nodesDir}\n`);
          code = 1;
          continue;
        }
        await lib.stopNetnsNode(rec);
        out(`node/${name} removed\n`);
      }
      return code;
    }
    case 'ls':
    case 'list': {
      const rows = [['NAME', 'STATUS', 'NODE-IP', 'POD-CIDR', 'NAMESPACE', 'PID']];
      for (const r of lib.listNetnsNodes(nodesDir)) {
        rows.push([r.name, lib.agentAlive(r) ? 'Running' : 'Stopped', r.nodeIP, r.podCIDR ?? '<none>', r.netns, String(r.pid ?? '')]);
      }
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
      for (const row of rows) out(row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]! + 3))).join('') + '\n');
      return 0;
    }
    default:
      throw new Error(`unknown node command "${sub}" (add, rm or ls)`);
  }
}
