/**
 * kubectl's side of exec/attach and port-forward, as the kubelet terminates it: WebSocket channel
 * protocols (v5, v4, v1 and base64 variants) and SPDY/3.1 (remotecommand v4..v1, portforward).
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { SpdySession, type SpdyStream } from './spdy.js';
import { dialSpdy, exitCodeOf, type CommandClient, type RemoteCommandOptions, type StreamStatus } from './runtime-stream.js';

/** WebSocket subprotocols for exec/attach, best first. */
export const WS_COMMAND_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'];
/** SPDY remotecommand protocols (X-Stream-Protocol-Version), best first. */
export const SPDY_COMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
/** The WebSocket subprotocol that tunnels SPDY for port-forward. */
export const WS_PORTFORWARD_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
export const SPDY_PORTFORWARD_PROTOCOL = 'portforward.k8s.io';

/** The first protocol the client offers that we support, in the client's order (upstream's rule). */
export function negotiate(offered: string[], supported: string[]): string | undefined {
  return offered.map((s) => s.trim()).find((p) => supported.includes(p));
}

/** Splits header values like "a, b" (possibly repeated headers) into a list. */
export function headerList(v: string | string[] | undefined): string[] {
  return (Array.isArray(v) ? v : v ? [v] : []).flatMap((x) => x.split(',')).map((s) => s.trim()).filter(Boolean);
}

function statusText(s: StreamStatus): string {
  if (s.status === 'Success') return '';
  const code = exitCodeOf(s);
  return code !== undefined ? `command terminated with non-zero exit code: exit status ${code}` : (s.message ?? 'unknown error');
}

/** Wraps an accepted exec/attach WebSocket. Server messages are binary (or base64 text). */
export function websocketCommandClient(ws: WebSocket, protocol: string, socket?: Duplex & { writableNeedDrain?: boolean }): CommandClient {
  const b64 = protocol.includes('base64');
  const structured = protocol.startsWith('v4.') || protocol.startsWith('v5.');
  let done = false;
  const send = (ch: number, data: Buffer): boolean => {
    if (done || ws.readyState !== ws.OPEN) return true;
    if (b64) ws.send(String.fromCharCode(48 + ch) + data.toString('base64'));
    else ws.send(Buffer.concat([Buffer.from([ch]), data]), { binary: true });
    return !socket?.writableNeedDrain;
  };
  const client: CommandClient = {
    stdout: (b) => send(1, b),
    stderr: (b) => send(2, b),
    whenDrained: (cb) => (socket && socket.writableNeedDrain ? void socket.once('drain', cb).once('close', cb) : cb()),
    finish(s) {
      if (done) return;
      if (structured) send(3, Buffer.from(JSON.stringify(s)));
      else if (s.status !== 'Success') send(3, Buffer.from(statusText(s)));
      done = true;
      // kubectl's v5 client ends stdout/stderr only on a normal close (code 1000).
      if (ws.readyState === ws.OPEN) ws.close(1000);
    },
  };
  ws.on('message', (raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    let m = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
    if (!m.length) return;
    let ch: number;
    if (b64 && !isBinary) {
      ch = m[0]! - 48;
      m = Buffer.from(m.subarray(1).toString(), 'base64');
    } else {
      ch = m[0]!;
      m = m.subarray(1);
    }
    if (ch === 0) {
      if (m.length) client.onStdin?.(m);
    } else if (ch === 4) client.onResize?.(m);
    else if (ch === 255 && m[0] === 0) client.onStdinEnd?.();
  });
  ws.on('close', () => {
    done = true;
    client.onGone?.();
  });
  ws.on('error', () => ws.terminate());
  return client;
}

/**
 * Serves remotecommand over a SPDY session: waits for the streams the options call for (the
 * client opens them), then returns the client. Rejects after `timeoutMs` without them.
 */
export function spdyCommandClient(session: SpdySession, protocol: string, o: RemoteCommandOptions, timeoutMs = 30_000): Promise<CommandClient> {
  const want = new Set(['error']);
  if (o.stdin) want.add('stdin');
  if (o.stdout) want.add('stdout');
  if (o.stderr && !o.tty) want.add('stderr');
  if (o.tty && protocol !== 'channel.k8s.io' && protocol !== 'v2.channel.k8s.io') want.add('resize');
  const streams = new Map<string, SpdyStream>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error('timed out waiting for client to create streams'));
    }, timeoutMs);
    let done = false;
    const client: CommandClient = {
      stdout: (b) => streams.get('stdout')?.write(b),
      stderr: (b) => streams.get('stderr')?.write(b),
      whenDrained: (cb) => void session.once('drain', cb).once('close', cb),
      finish(s) {
        if (done) return;
        done = true;
        const err = streams.get('error');
        if (protocol === 'v4.channel.k8s.io') err?.end(Buffer.from(JSON.stringify(s)));
        else err?.end(s.status === 'Success' ? undefined : Buffer.from(statusText(s)));
        streams.get('stdout')?.end();
        streams.get('stderr')?.end();
        // The client answers with RST/GOAWAY and closes; don't cut it off before it read everything.
        const t = setTimeout(() => session.destroy(), 2000);
        session.once('close', () => clearTimeout(t));
        session.once('goaway', () => session.destroy());
      },
    };
    session.on('stream', (s: SpdyStream) => {
      s.reply();
      const type = s.header('streamtype') ?? '';
      streams.set(type, s);
      if (type === 'stdin') {
        s.on('data', (b: Buffer) => client.onStdin?.(b));
        s.on('end', () => client.onStdinEnd?.());
      } else if (type === 'resize') s.on('data', (b: Buffer) => client.onResize?.(b));
      if ([...want].every((t) => streams.has(t)) && !done) {
        clearTimeout(timer);
        resolve(client);
      }
    });
    session.on('close', () => {
      clearTimeout(timer);
      done = true;
      client.onGone?.();
      reject(new Error('connection closed before the streams were created'));
    });
  });
}

/**
 * Relays a port-forward SPDY session from kubectl to the runtime's port-forward server: every
 * stream kubectl opens (error/data pairs per requestid) is opened the same way on the runtime
 * session, and data, FIN and resets flow both ways.
 */
export function relayPortForward(client: SpdySession, runtimeUrl: () => Promise<string>): void {
  let runtime: Promise<SpdySession> | undefined;
  const connect = () =>
    (runtime ??= runtimeUrl()
      .then((u) => dialSpdy(u, [SPDY_PORTFORWARD_PROTOCOL]))
      .then(({ session }) => {
        session.on('close', () => client.destroy());
        if (client.destroyed) session.destroy();
        return session;
      }));
  client.on('close', () => void runtime?.then((s) => s.destroy(), () => undefined));
  // Coarse backpressure: a backed-up side pauses reading from the other connection as a whole.
  const paused = new Set<SpdySession>();
  const pauseUntilDrain = (full: SpdySession, source: SpdySession) => {
    if (paused.has(source)) return;
    paused.add(source);
    source.pause();
    full.once('drain', () => {
      paused.delete(source);
      source.resume();
    });
  };
  client.on('stream', (cs: SpdyStream) => {
    cs.reply();
    const queue: ((rs: SpdyStream) => void)[] = [];
    let rs: SpdyStream | undefined;
    const act = (f: (r: SpdyStream) => void) => (rs ? f(rs) : queue.push(f));
    cs.on('data', (b: Buffer) =>
      act((r) => {
        if (!r.write(b)) void runtime?.then((rt) => pauseUntilDrain(rt, client));
      }),
    );
    cs.on('end', () => act((r) => r.end()));
    cs.on('reset', () => act((r) => r.reset()));
    connect().then(
      (session) => {
        const headers = { ...cs.headers };
        rs = session.open(headers);
        rs.on('data', (b: Buffer) => {
          if (!cs.write(b)) pauseUntilDrain(client, session);
        });
        rs.on('end', () => cs.end());
        rs.on('reset', () => cs.reset());
        for (const f of queue.splice(0)) f(rs);
      },
      (e: Error) => {
        // Report on the error stream, as upstream does when the runtime fails.
        if (cs.header('streamtype') === 'error') cs.end(Buffer.from(`error forwarding port ${cs.header('port') ?? ''}: ${e.message}`));
        else cs.reset();
      },
    );
  });
}
