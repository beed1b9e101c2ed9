/** tcpSocket probes: success when a TCP connection opens within the timeout (upstream pkg/probe/tcp). */
import { connect } from 'node:net';
import { goNetError, joinHostPort, type ProbeOutcome } from './probe-util.js';

/** Opens and at once closes a TCP connection to host:port. */
export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (o: ProbeOutcome) => {
      clearTimeout(timer);
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done({ result: 'failure', output: `dial tcp ${joinHostPort(host, port)}: i/o timeout` }), timeoutMs);
    sock.once('connect', () => done({ result: 'success', output: '' }));
    sock.once('error', (err: NodeJS.ErrnoException) => done({ result: 'failure', output: goNetError(err, host, port) }));
  });
}
