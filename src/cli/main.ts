/**
 * `k8ts` command line: one binary, one subcommand per role.
 */
import { runServer, serverHelp } from './server.js';

const help = `k8ts: Kubernetes in one small TypeScript program

Usage:
  k8ts <command> [flags]

Commands:
  server     Run the control plane (API server, controllers) and, unless --disable-agent, a node agent
  agent      Join a server as a node (not available yet)
  version    Print the version
  help       Show help for a command

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
      process.stderr.write('k8ts agent: the node agent is not available in this version; run `k8ts server --disable-agent`\n');
      return 1;
    case 'help':
    case '--help':
    case '-h':
    case undefined:
      if (rest[0] === 'server') process.stdout.write(serverHelp);
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
