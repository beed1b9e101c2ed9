/**
 * Shared pieces of the probe handlers: the outcome shape, port resolution, command expansion and
 * Go-style formatting, so Unhealthy events read like upstream's.
 */
import { isIP } from 'node:net';
import type { KObject } from '../../client/rest-client.js';

/** What one probe run found (upstream probe.Result plus its output). */
export interface ProbeOutcome {
  /** `warning` counts as success but is reported (e.g. a redirect to another host not followed). */
  result: 'success' | 'warning' | 'failure' | 'unknown';
  /** Handler output: the failure reason, exec output, or response body. */
  output: string;
  /** Set when the probe could not be run at all; the kubelet retries and then discards the result. */
  error?: string;
}

/** The User-Agent of every HTTP and gRPC probe. */
export const PROBE_USER_AGENT = 'kube-probe/1.32';
/** Upstream reads at most 10 KiB of a response body or exec output. */
export const MAX_PROBE_OUTPUT = 10 * 1024;

/** `host:port`, bracketing IPv6 literals like Go's net.JoinHostPort. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A duration as Go prints it: 1s, 500ms, 1m30s, 1.5s. */
export function goDuration(ms: number): string {
  ms = Math.round(ms);
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  let rest = ms;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = (rest / 1000).toFixed(3).replace(/\.?0+$/, '');
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}

/** Go's %q for plain strings (close enough: JSON quoting). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** A Node socket error as Go's net package words it (`dial tcp 10.0.0.5:80: connect: connection refused`). */
export function goNetError(err: NodeJS.ErrnoException, host: string, port: number): string {
  const addr = joinHostPort(host, port);
  switch (err.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${addr}: connect: connection refused`;
    case 'EHOSTUNREACH':
      return `dial tcp ${addr}: connect: no route to host`;
    case 'ENETUNREACH':
      return `dial tcp ${addr}: connect: network is unreachable`;
    case 'ETIMEDOUT':
      return `dial tcp ${addr}: i/o timeout`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `dial tcp: lookup ${host}: no such host`;
    case 'ECONNRESET':
      // Node's "socket hang up" is the peer closing before any response: Go reports EOF.
      return err.message === 'socket hang up' ? 'EOF' : `read tcp ->${addr}: read: connection reset by peer`;
    case 'EPIPE':
      return `write tcp ->${addr}: write: broken pipe`;
    default:
      if (/wrong version number|packet length too long|http request/i.test(err.message)) return 'http: server gave HTTP response to HTTPS client';
      return err.message;
  }
}

/**
 * The port a probe names: a number, or the name of one of the container's ports (upstream
 * probe.ResolveContainerPort; a numeric string is a name, and fails unless a port is named so).
 */
export function resolveContainerPort(port: unknown, container: KObject): number {
  let n: number;
  if (typeof port === 'number') n = port;
  else if (typeof port === 'string') {
    const found = ((container.ports ?? []) as KObject[]).find((p) => p.name === port);
    if (!found) throw new Error(`port ${goQuote(port)} not found`);
    n = Number(found.containerPort);
  } else throw new Error(`intOrString had no kind: ${JSON.stringify(port ?? null)}`);
  if (Number.isInteger(n) && n > 0 && n < 65536) return n;
  throw new Error(`invalid port number: ${n}`);
}

/**
 * Expands `$(VAR)` in an exec probe's command from the container's literal env values
 * (upstream ExpandContainerCommandOnlyStatic): `$$` escapes, unknown names stay as written,
 * variables set from `valueFrom` expand to the empty string.
 */
export function expandCommand(cmd: string[], env: KObject[] | undefined): string[] {
  const vars = new Map<string, string>();
  for (const e of env ?? []) if (e?.name) vars.set(e.name, typeof e.value === 'string' ? e.value : '');
  return cmd.map((s) => expandOne(s, vars));
}

function expandOne(input: string, vars: Map<string, string>): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += '$(';
        i += 2;
      } else {
        const name = input.slice(i + 2, close);
        out += vars.has(name) ? vars.get(name)! : `$(${name})`;
        i = close + 1;
      }
    } else {
      out += '$' + next;
      i += 2;
    }
  }
  return out;
}

/** Hostname of a URL without IPv6 brackets, for Node's socket APIs. */
export function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** TLS server name for a host: none for IP literals (Go sends no SNI for them either). */
export function serverName(host: string): string {
  return isIP(host) ? '' : host;
}
