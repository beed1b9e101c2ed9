/** Free loopback ports, for tests and benchmarks that start servers on their own ports. */
import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now (closed again before the caller binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
