/**
 * A watcher process for bench/api/run.ts: opens N watches on a namespace's pods and reports, for
 * each event of a pod named w-<i>, the wall-clock time it arrived (epoch ms, sub-ms precision).
 * Several of these spread the client-side cost of 500 TLS streams as 500 real clients would.
 * Protocol: argv = port ns rv n ca cert key (files) [mode]; prints "ready" then lines "name epochMs".
 * Mode `https` (default) reads each watch through node:https, as a Node client would; mode `raw`
 * writes the request on a plain TLS socket and scans the received bytes for the pod name, which
 * costs the client far less CPU, so the clients sharing this machine slow the server less.
 */
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

const [port, ns, rv, n, caF, certF, keyF, mode = 'https'] = process.argv.slice(2);
const ca = readFileSync(caF, 'utf8');
const cert = readFileSync(certF, 'utf8');
const key = readFileSync(keyF, 'utf8');
const now = () => performance.timeOrigin + performance.now();
const path = `/api/v1/namespaces/${ns}/pods?watch=true&resourceVersion=${rv}`;
let ready = 0;
const out: string[] = [];
const opened = () => {
  if (++ready === Number(n)) process.stdout.write('ready\n');
};

function httpsWatch(): void {
  const agent = new https.Agent({ keepAlive: true, ca, cert, key });
  https.get({ host: '127.0.0.1', port: Number(port), path, agent }, (m) => {
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
    opened();
  });
}

const marker = Buffer.from('"name":"w-');
function rawWatch(): void {
  const sock = tls.connect({ host: '127.0.0.1', port: Number(port), ca, cert, key, servername: 'localhost' }, () => {
    sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: application/json\r\n\r\n`);
  });
  let headers = false;
  // Bytes kept from the previous read, in case the name straddles two reads.
  let carry: Buffer | undefined;
  sock.on('data', (d: Buffer) => {
    const t = now();
    if (!headers) {
      headers = true;
      opened();
    }
    const b = carry ? Buffer.concat([carry, d]) : d;
    let from = 0;
    let at: number;
    let end = b.length;
    while ((at = b.indexOf(marker, from)) >= 0) {
      const close = b.indexOf(0x22, at + 8);
      if (close < 0) {
        end = at;
        break;
      }
      out.push(`${b.toString('latin1', at + 8, close)} ${t}`);
      from = close;
    }
    const keepFrom = Math.max(end === b.length ? b.length - marker.length : end, from);
    carry = keepFrom < b.length ? b.subarray(keepFrom) : undefined;
  });
  sock.on('error', (e) => process.stderr.write(`watch: ${e.message}\n`));
}

for (let i = 0; i < Number(n); i++) (mode === 'raw' ? rawWatch : httpsWatch)();
// The parent asks for the results by closing stdin.
process.stdin.resume();
process.stdin.on('end', () => {
  process.stdout.write(out.join('\n') + '\nend\n', () => process.exit(0));
});
