/**
 * The audit sink the API server reports requests to: it evaluates the policy once per request and
 * writes upstream's `audit.k8s.io/v1` Event JSON lines for the RequestReceived and ResponseComplete
 * stages.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Status } from '../../api/errors.js';
import type { AuditRecorder, AuditSink } from '../apiserver.js';
import type { UserInfo } from '../auth/authenticator.js';
import type { RequestInfo } from '../endpoints/request-info.js';
import { evaluatePolicy, loadAuditPolicy, type AuditLevel, type AuditPolicy, type AuditStage } from './policy.js';
import { AuditWriter } from './writer.js';

/** authentication/v1 UserInfo as the event carries it. */
export interface AuditUserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface AuditObjectReference {
  resource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiGroup?: string;
  apiVersion?: string;
  resourceVersion?: string;
  subresource?: string;
}

/** One line of the audit log (upstream's audit.k8s.io/v1 Event). */
export interface AuditEvent {
  kind: 'Event';
  apiVersion: 'audit.k8s.io/v1';
  level: AuditLevel;
  auditID: string;
  stage: AuditStage;
  requestURI: string;
  verb: string;
  user: AuditUserInfo;
  impersonatedUser?: AuditUserInfo;
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: AuditObjectReference;
  responseStatus?: Partial<Omit<Status, 'kind' | 'apiVersion'>> & { metadata: Record<string, unknown>; code: number };
  requestObject?: unknown;
  responseObject?: unknown;
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  annotations?: Record<string, string>;
}

export interface AuditSinkOptions {
  /** Path of a Policy file; read once, here. */
  policyPath?: string;
  /** An already parsed policy (wins over policyPath). */
  policy?: AuditPolicy;
  /** Log file to append to, or `-` for stdout. */
  logPath: string;
  /** The event clock (tests). Default: the wall clock, in microseconds. */
  nowMicros?: () => number;
}

/** An {@link AuditSink} writing JSON lines; `close()` flushes and closes the log. */
export type ClosableAuditSink = AuditSink & { close(): Promise<void> };

/**
 * Build the audit sink of `--audit-policy-file` / `--audit-log-path`. Throws (at startup) when the
 * policy is missing or invalid or the log cannot be opened; never throws afterwards.
 */
export function createAuditSink(opts: AuditSinkOptions): ClosableAuditSink {
  const policy = opts.policy ?? (opts.policyPath ? loadAuditPolicy(opts.policyPath) : undefined);
  if (!policy) throw new Error('audit: a policy (--audit-policy-file) is required to write an audit log');
  const writer = new AuditWriter({ path: opts.logPath });
  const now = opts.nowMicros ?? wallClockMicros;
  return {
    begin({ req, info, user, impersonatedUser }) {
      try {
        const decision = evaluatePolicy(policy, {
          user,
          verb: info.verb,
          isResourceRequest: info.isResourceRequest,
          path: info.path,
          apiGroup: info.apiGroup,
          namespace: info.namespace,
          resource: info.resource,
          subresource: info.subresource,
          name: info.name,
        });
        if (decision.level === 'None') return undefined;
        return new Recorder(writer, now, decision.level, new Set(decision.omitStages), decision.omitManagedFields, req, info, user, impersonatedUser);
      } catch {
        // Auditing must never fail a request.
        return undefined;
      }
    },
    close: () => writer.close(),
  };
}

const levelRank: Record<AuditLevel, number> = { None: 0, Metadata: 1, Request: 2, RequestResponse: 3 };

class Recorder implements AuditRecorder {
  private readonly event: AuditEvent;
  private readonly receivedMicros: number;
  private annotations?: Record<string, string>;
  private ended = false;

  constructor(
    private readonly writer: AuditWriter,
    private readonly now: () => number,
    level: AuditLevel,
    private readonly omit: Set<AuditStage>,
    private readonly omitManagedFields: boolean,
    req: IncomingMessage,
    info: RequestInfo,
    user: UserInfo,
    impersonated: UserInfo | undefined,
  ) {
    this.receivedMicros = now();
    const received = formatMicroTime(this.receivedMicros);
    const header = req.headers['audit-id'];
    const auditID = (Array.isArray(header) ? header[0] : header)?.trim() || randomUUID();
    const ua = req.headers['user-agent'];
    this.event = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level,
      auditID,
      stage: 'RequestReceived',
      requestURI: req.url ?? '/',
      verb: info.verb,
      user: userInfo(user),
      ...(impersonated ? { impersonatedUser: userInfo(impersonated) } : {}),
      sourceIPs: sourceIPs(req),
      ...(ua ? { userAgent: ua } : {}),
      ...(info.isResourceRequest ? { objectRef: objectRef(info) } : {}),
      requestReceivedTimestamp: received,
      stageTimestamp: received,
    };
    if (!omit.has('RequestReceived')) this.emit('RequestReceived');
  }

  private get level(): AuditLevel {
    return this.event.level;
  }

  requestObject(obj: unknown): void {
    try {
      const ref = this.event.objectRef;
      const meta = (obj as { metadata?: Record<string, unknown> } | null)?.metadata;
      // As upstream: a create names its object only in the body.
      if (ref && meta && typeof meta === 'object') {
        if (!ref.namespace && typeof meta.namespace === 'string' && meta.namespace) ref.namespace = meta.namespace;
        if (!ref.name && typeof meta.name === 'string' && meta.name) ref.name = meta.name;
        if (!ref.uid && typeof meta.uid === 'string' && meta.uid) ref.uid = meta.uid;
        if (!ref.resourceVersion && typeof meta.resourceVersion === 'string' && meta.resourceVersion) ref.resourceVersion = meta.resourceVersion;
      }
      if (levelRank[this.level] >= levelRank.Request && ref) this.event.requestObject = this.snapshot(obj);
    } catch {
      // An object that cannot be serialized is left out of the event.
    }
  }

  responseObject(obj: unknown): void {
    try {
      if (levelRank[this.level] >= levelRank.RequestResponse && this.event.objectRef) this.event.responseObject = this.snapshot(obj);
    } catch {
      // As above.
    }
  }

  annotate(key: string, value: string): void {
    // First writer wins, as upstream.
    this.annotations ??= {};
    if (!(key in this.annotations)) this.annotations[key] = value;
  }

  end(code: number, status?: Status): void {
    if (this.ended) return;
    this.ended = true;
    try {
      const rs: NonNullable<AuditEvent['responseStatus']> = { metadata: {}, code };
      if (status && status.status === 'Failure') {
        rs.status = status.status;
        if (status.message) rs.message = status.message;
        if (status.reason) rs.reason = status.reason;
        if (status.details) rs.details = status.details;
      }
      rs.code = status?.code ?? code;
      this.event.responseStatus = rs;
      if (this.annotations) this.event.annotations = this.annotations;
      if (!this.omit.has('ResponseComplete')) this.emit('ResponseComplete');
    } catch {
      // Never into the request path.
    }
  }

  private emit(stage: AuditStage): void {
    this.event.stage = stage;
    this.event.stageTimestamp = formatMicroTime(stage === 'RequestReceived' ? this.receivedMicros : this.now());
    try {
      this.writer.write(JSON.stringify(this.event));
    } catch {
      // A body that cannot be serialized must not lose the event.
      const { requestObject: _q, responseObject: _r, ...rest } = this.event;
      this.writer.write(JSON.stringify(rest));
    }
  }

  /** A copy as of now (the server goes on to mutate the object), managedFields dropped if asked. */
  private snapshot(obj: unknown): unknown {
    const text = JSON.stringify(obj, this.omitManagedFields ? dropManagedFields : undefined);
    return text === undefined ? undefined : JSON.parse(text);
  }
}

function dropManagedFields(this: unknown, key: string, value: unknown): unknown {
  return key === 'managedFields' ? undefined : value;
}

function userInfo(u: UserInfo): AuditUserInfo {
  const out: AuditUserInfo = { username: u.username };
  if (u.uid) out.uid = u.uid;
  if (u.groups?.length) out.groups = [...u.groups];
  if (u.extra && Object.keys(u.extra).length) out.extra = u.extra;
  return out;
}

function objectRef(info: RequestInfo): AuditObjectReference {
  const ref: AuditObjectReference = { resource: info.resource };
  if (info.namespace) ref.namespace = info.namespace;
  if (info.name) ref.name = info.name;
  if (info.apiGroup) ref.apiGroup = info.apiGroup;
  if (info.apiVersion) ref.apiVersion = info.apiVersion;
  if (info.subresource) ref.subresource = info.subresource;
  return ref;
}

/** X-Forwarded-For IPs, then X-Real-Ip if not among them, then the peer unless it repeats the last one. */
export function sourceIPs(req: IncomingMessage): string[] {
  const ips: string[] = [];
  const header = (name: string) => {
    const h = req.headers[name];
    return Array.isArray(h) ? h.join(',') : h;
  };
  for (const part of (header('x-forwarded-for') ?? '').split(',')) {
    const ip = normalizeIP(part.trim());
    if (ip) ips.push(ip);
  }
  const real = normalizeIP((header('x-real-ip') ?? '').trim());
  if (real && !ips.includes(real)) ips.push(real);
  const peer = normalizeIP(req.socket?.remoteAddress ?? '');
  if (peer && ips[ips.length - 1] !== peer) ips.push(peer);
  return ips;
}

function normalizeIP(s: string): string | undefined {
  if (!s || !isIP(s)) return undefined;
  // IPv4 peers on a dual-stack socket show as ::ffff:a.b.c.d.
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  return m ? m[1] : s;
}

function wallClockMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

/** RFC 3339 in UTC with microseconds, as metav1.MicroTime: 2026-11-26T04:40:00.123456Z. */
export function formatMicroTime(micros: number): string {
  const secs = Math.floor(micros / 1_000_000);
  const frac = micros - secs * 1_000_000;
  return `${new Date(secs * 1000).toISOString().slice(0, 19)}.${String(frac).padStart(6, '0')}Z`;
}
