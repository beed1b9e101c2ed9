/**
 * A watcher process for bench/api/run.ts: opens N watches on a namespace's pods and reports, for
 * each event of a pod named w-<i>, the wall-clock time it arrived (epoch ms, sub-ms precision).
 * Several of these spread the client-side cost of 500 TLS streams as 500 real clients would.
 * Protocol: argv = port ns rv n ca cert key (files); prints "ready" then lines "name epochMs".
 */
import https from 'node:https';
import { readFileSync } from 'node:fs';

const [port, ns, rv, n, caF, certF, keyF] = process.argv.slice(2);
const ca = readFileSync(caF, 'utf8');
const cert = readFileSync(certF, 'utf8');
const key = readFileSync(keyF, 'utf8');
const now = () => performance.timeOrigin + performance.now();
let ready = 0;
const out: string[] = [];
for (let i = 0; i < Number(n); i++) {
  const agent = new https.Agent({ keepAlive: true, ca, cert, key });
  https.get({ host: '127.0.0.1', port: Number(port), path: `/api/v1/namespaces/${ns}/pods?watch=true&resourceVersion=${rv}`, agent }, (m) => {
    let buf = '';
    m.setEncoding('utf8');
    m.on('data', (d: string) => {
      const t = now();
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const at = line.indexOf('"name":"w-');
        if (at >= 0) out.push(`${line.slice(at + 8, line.indexOf('"', at + 8))} ${t}`);
      }
    });
    if (++ready === Number(n)) process.stdout.write('ready\n');
  });
}
// The parent asks for the results by closing stdin.
process.stdin.resume();
process.stdin.on('end', () => {
  process.stdout.write(out.join('\n') + '\nend\n', () => process.exit(0));
});
