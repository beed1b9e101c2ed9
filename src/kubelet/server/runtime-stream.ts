/**
 * The runtime side of streaming: SPDY/3.1 client connections to the container runtime's stream
 * server (the URL a CRI Exec/Attach/PortForward call returns). SPDY rather than WebSocket
 * because only SPDY can half-close stdin (`echo x | kubectl exec -i ... -- cat`).
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { SpdySession, type SpdyStream, type SpdyTransport } from './spdy.js';

/** A SPDY session over an upgraded HTTP connection. */
export interface DialedSession {
  session: SpdySession;
  /** The protocol the server chose (X-Stream-Protocol-Version). */
  protocol: string;
}

/** A session transport over a socket: ending it half-closes, and the socket goes soon after. */
export function socketTransport(socket: Duplex): SpdyTransport {
  return {
    write: (b) => socket.write(b),
    end: () => {
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  };
}

/** Runs a session over a socket: bytes in, 'drain' out, closed when the socket ends. */
export function attachSocket(session: SpdySession, socket: Duplex, head?: Buffer): void {
  socket.on('data', (d: Buffer) => session.feed(d));
  socket.on('drain', () => session.emit('drain'));
  socket.on('end', () => session.transportClosed());
  socket.on('close', () => session.transportClosed());
  socket.on('error', () => session.transportClosed());
  session.on('error', () => socket.destroy());
  if (head?.length) session.feed(head);
}

/** POSTs an upgrade to `url` offering `protocols`, and runs a client SPDY session on the 101. */
export function dialSpdy(url: string, protocols: string[], timeoutMs = 10_000): Promise<DialedSession> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols, 'Content-Length': '0' },
      timeout: timeoutMs,
    });
    req.on('timeout', () => req.destroy(new Error(`timed out connecting to the runtime stream server`)));
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => reject(new Error(`the runtime stream server answered ${res.statusCode}: ${body.trim()}`)));
    });
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      socket.setNoDelay(true);
      const session = new SpdySession({ role: 'client', transport: socketTransport(socket) });
      attachSocket(session, socket, head);
      const p = res.headers['x-stream-protocol-version'];
      resolve({ session, protocol: (Array.isArray(p) ? p[0] : p) ?? '' });
    });
    req.end();
  });
}

/** The options of one exec or attach, as the request carried them. */
export interface RemoteCommandOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** metav1.Status as the remotecommand protocols carry it. */
export interface StreamStatus {
  metadata?: object;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

export const successStatus = (): StreamStatus => ({ metadata: {}, status: 'Success' });

export function failureStatus(message: string): StreamStatus {
  return { metadata: {}, status: 'Failure', message };
}

/** The Status of a process that exited with `code` (0 = Success), as upstream writes it. */
export function exitStatus(code: number): StreamStatus {
  if (!code) return successStatus();
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [...], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/** The exit code a Status names (0 for Success, undefined for other failures). */
export function exitCodeOf(s: StreamStatus): number | undefined {
  if (s.status === 'Success') return 0;
  if (s.reason !== 'NonZeroExitCode') return undefined;
  const c = s.details?.causes?.find((x) => x.reason === 'ExitCode')?.message;
  return c !== undefined && /^\d+$/.test(c) ? Number(c) : undefined;
}

/** kubectl's side of a running command, whatever its transport (WebSocket v5/v4, SPDY v4..v1). */
export interface CommandClient {
  /** Output to the client; false when its connection is backed up (see {@link whenDrained}). */
  stdout(b: Buffer): boolean | void;
  stderr(b: Buffer): boolean | void;
  /** Calls `cb` once a backed-up connection can take more. */
  whenDrained?(cb: () => void): void;
  /** Sends the final status and closes the client's connection. */
  finish(s: StreamStatus): void;
  /** Called by the client transport. */
  onStdin?: (b: Buffer) => void;
  onStdinEnd?: () => void;
  onResize?: (b: Buffer) => void;
  /** The client went away: stop. */
  onGone?: () => void;
}

/**
 * Bridges a client to a runtime stream URL (SPDY v4 towards the runtime). `url` yields the URL
 * (the Exec/Attach RPC); `final` may replace the runtime's status (attach's exit code).
 */
export async function bridgeCommand(client: CommandClient, o: RemoteCommandOptions, url: () => Promise<string>, final?: (s: StreamStatus) => Promise<StreamStatus>): Promise<void> {
  let dialed: DialedSession;
  // Whatever the client sends before the runtime answers is kept, in order.
  const early: (() => void)[] = [];
  let gone = false;
  client.onStdin = (b) => early.push(() => client.onStdin?.(b));
  client.onStdinEnd = () => early.push(() => client.onStdinEnd?.());
  client.onResize = (b) => early.push(() => client.onResize?.(b));
  client.onGone = () => (gone = true);
  try {
    dialed = await dialSpdy(await url(), ['v4.channel.k8s.io']);
  } catch (e) {
    client.finish(failureStatus((e as Error).message));
    return;
  }
  const { session } = dialed;
  if (gone) return session.destroy();
  const open = (t: string): SpdyStream => session.open({ streamtype: [t] });
  const errStream = open('error');
  const stdin = o.stdin ? open('stdin') : undefined;
  const stdout = o.stdout ? open('stdout') : undefined;
  const stderr = o.stderr && !o.tty ? open('stderr') : undefined;
  const resize = o.tty ? open('resize') : undefined;
  client.onStdin = (b) => stdin?.write(b);
  client.onStdinEnd = () => stdin?.end();
  client.onResize = (b) => resize?.write(b);
  client.onGone = () => session.destroy();
  for (const f of early.splice(0)) f();
  // A slow client pauses reading from the runtime (whose stream server then blocks the process).
  let paused = false;
  const relay = (ok: boolean | void) => {
    if (ok !== false || paused || !client.whenDrained) return;
    paused = true;
    session.pause();
    client.whenDrained(() => {
      paused = false;
      session.resume();
    });
  };
  stdout?.on('data', (b: Buffer) => relay(client.stdout(b)));
  stderr?.on('data', (b: Buffer) => relay(client.stderr(b)));
  const errParts: Buffer[] = [];
  errStream.on('data', (b: Buffer) => errParts.push(b));
  await new Promise<void>((resolve) => session.once('close', resolve));
  const text = Buffer.concat(errParts).toString().trim();
  let status: StreamStatus;
  if (!text) status = successStatus();
  else {
    try {
      status = JSON.parse(text);
    } catch {
      status = failureStatus(text);
    }
  }
  if (final) status = await final(status).catch(() => status);
  client.finish(status);
}
