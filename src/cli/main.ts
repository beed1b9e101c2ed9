/**
 * `k8ts` command line: one binary, one subcommand per role.
 */
import { runServer, serverHelp } from './server.js';
import { agentHelp, runAgent } from './agent.js';
import { componentHelp, runComponent } from './components.js';

const help = `k8ts: Kubernetes in one small TypeScript program

Usage:
  k8ts <command> [flags]

Commands:
  server              Run the control plane (API server, controllers) and, unless --disable-agent, a node agent
  agent               Join a server as a node (or run hollow nodes for scale tests)
  scheduler           Run the scheduler against a server (leader-elected)
  controller-manager  Run the controller manager against a server (leader-elected)
  images              Import, list and build a node's container images (no registry needed)
  node                Add, remove and list extra nodes on this machine (one network namespace each)
  datastore           Export a cluster's store to a file or import one (move between SQLite and etcd)
  etcd-snapshot       Save an etcd snapshot, or restore one into a new etcd data dir
  version             Print the version
  help                Show help for a command

Run 'k8ts help <command>' for a command's flags.
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'server':
      return runServer(rest);
    case 'version':
    case '--version': {
      const { versionInfo } = await import('../apiserver/apiserver.js');
      process.stdout.write(`k8ts version ${versionInfo.gitVersion}\n`);
      return 0;
    }
    case 'agent':
      return runAgent(rest);
    case 'scheduler':
    case 'controller-manager':
      return runComponent(cmd, rest);
    case 'images':
      return (await import('./images.js')).runImages(rest);
    case 'node':
      return (await import('./node.js')).runNode(rest);
    case 'datastore':
      return (await import('./datastore.js')).runDatastore(rest);
    case 'etcd-snapshot':
      return (await import('./etcd-snapshot.js')).runEtcdSnapshot(rest);
    case 'help':
    case '--help':
    case '-h':
    case undefined:
      if (rest[0] === 'server') process.stdout.write(serverHelp);
      else if (rest[0] === 'agent') process.stdout.write(agentHelp);
      else if (rest[0] === 'scheduler' || rest[0] === 'controller-manager') process.stdout.write(componentHelp(rest[0]));
      else if (rest[0] === 'images') return (await import('./images.js')).runImages(['--help']);
      else if (rest[0] === 'node') return (await import('./node.js')).runNode(['--help']);
      else if (rest[0] === 'datastore') return (await import('./datastore.js')).runDatastore(['--help']);
      else if (rest[0] === 'etcd-snapshot') return (await import('./etcd-snapshot.js')).runEtcdSnapshot(['--help']);
      else process.stdout.write(help);
      return cmd === undefined ? 1 : 0;
    default:
      process.stderr.write(`k8ts: unknown command "${cmd}"\n\n${help}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`k8ts: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
