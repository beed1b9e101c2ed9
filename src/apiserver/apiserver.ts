/**
 * The API server's HTTP front: authentication, routing to the generic registry, content
 * negotiation, watch streaming, discovery, OpenAPI, health and metrics. Errors become Status
 * responses in exactly one place (`fail`).
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errors, field, StatusError, successStatus, type Status } from '../api/errors.js';
import { logger } from '../base/log.js';
import { Counter, Gauge, Histogram, Registry } from '../base/metrics.js';
import type { Backend } from '../storage/interface.js';
import { anonymous, presentedCredentials, type Authenticator, type UserInfo } from './auth/authenticator.js';
import { alwaysAllow, forbiddenMessage, type AuthorizationAttributes, type Authorizer, type RuleResolver } from './auth/authorizer.js';
import { impersonatedUser } from './auth/impersonation.js';
import { Discovery, type ServedResource, type SubresourceInfo } from './discovery.js';
import {
  decodeBody,
  findDuplicateKeys,
  findDuplicateKeysOf,
  mediaType,
  parseAccept,
  readBody,
  wantsAggregatedDiscovery,
  wantsPartialMetadata,
  wantsTable,
} from './endpoints/negotiation.js';
import { parseRequestInfo, type RequestInfo } from './endpoints/request-info.js';
import { toPartialList, toTable, type IncludeObject } from './endpoints/table.js';
import { knownJSON, Store, type DeleteOptions, type ListPredicate, type SharedText, type StoreExtensions, type WriteOptions } from './registry/generic/store.js';
import type { KObject, ResourceInfo, Strategy } from './registry/generic/strategy.js';

const log = logger('apiserver');

/** Version info as /version reports it; the minor version picks the kubectl the dispatcher runs. */
export const versionInfo = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.4+k8ts1',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-11-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
};

/** The context a subresource or connect handler gets. */
export interface SubresourceContext {
  info: RequestInfo;
  store: Store;
  stores: StoreLookup;
  query: URLSearchParams;
  user: UserInfo;
  req: IncomingMessage;
  res: ServerResponse;
  /** Read and decode the request body. */
  body(): Promise<any>;
  /**
   * Set for an HTTP upgrade request (WebSocket, SPDY): the raw client socket and the bytes read
   * past the headers. A handler that takes it over writes the answer on it and returns undefined;
   * `res` still answers errors on the same socket.
   */
  upgrade?: { socket: Duplex; head: Buffer };
}

/** Finds the store of another resource (e.g. a namespace, from the namespace lifecycle check). */
export type StoreLookup = (group: string, resource: string) => Store | undefined;

/** Handles `<resource>/<subresource>` requests beyond status and scale (binding, eviction, log, exec...). */
export interface SubresourceHandler {
  resource: string;
  group: string;
  info: SubresourceInfo;
  /** Answer the request; return an object to send as JSON (with `code`), or undefined if the response was written. */
  handle(ctx: SubresourceContext): Promise<{ code: number; body: unknown } | undefined>;
}

/**
 * A create-only resource that is never stored (SubjectAccessReview, TokenReview...): the request
 * body goes in, the answer (with status) comes back with 201.
 */
export interface VirtualResource {
  info: ResourceInfo;
  create(ctx: VirtualResourceContext): Promise<KObject>;
}

export interface VirtualResourceContext {
  body: KObject;
  /** The requesting user (after impersonation). */
  user: UserInfo;
  /** The URL's namespace ('' for cluster-scoped). */
  namespace: string;
  stores: StoreLookup;
  authorizer: Authorizer & RuleResolver;
  dryRun: boolean;
}

/** Where the API server reports each request for the audit log (upstream's audit stages). */
export interface AuditSink {
  /** A request was authenticated (user known, object not yet read). Returns the per-request recorder, or undefined to record nothing. */
  begin(r: { req: IncomingMessage; info: RequestInfo; user: UserInfo; impersonatedUser?: UserInfo }): AuditRecorder | undefined;
}

export interface AuditRecorder {
  /** The request body as decoded (Request level and above). */
  requestObject?(obj: unknown): void;
  /** The response body (RequestResponse level). */
  responseObject?(obj: unknown): void;
  annotate(key: string, value: string): void;
  /** The response is complete (or the request failed): the final code and status. */
  end(code: number, status?: Status): void;
}

export interface HealthCheck {
  name: string;
  check(): boolean | Promise<boolean>;
}

export interface APIServerOptions {
  backend: Backend;
  strategies: Strategy[];
  authenticator: Authenticator;
  /**
   * Authorization (system:masters, node, RBAC). Absent: every authenticated request is allowed and
   * anonymous ones get 401, as before authorization existed.
   */
  authorizer?: Authorizer & RuleResolver;
  subresources?: SubresourceHandler[];
  /** Create-only, unstored resources (access reviews, token reviews). */
  virtualResources?: VirtualResource[];
  audit?: AuditSink;
  /** The address kubectl is told in legacy discovery. */
  externalAddress: string;
  extensions?: StoreExtensions;
  /** Lazy OpenAPI: only loaded when a client asks. */
  openapi?: () => Promise<OpenAPIProvider>;
  /** Lazy patch machinery. */
  patcher?: () => Promise<Patcher>;
  metrics?: Registry;
}

export interface OpenAPIProvider {
  /** Answer an `/openapi/v2` or `/openapi/v3...` request (ETags, 304, hashes, protobuf v2). */
  handle(req: { path: string; query: URLSearchParams; accept?: string; ifNoneMatch?: string }): { status: number; headers: Record<string, string>; body: Buffer } | undefined;
  /** Decode against the kind's schema: type errors, unknown fields (removed when `prune`), nulls to zero values. */
  decodeTyped?(obj: KObject, group: string, version: string, kind: string, prune: boolean): { unknown: string[]; typeErrors: string[] };
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export interface Patcher {
  /** Apply a patch of the given type; returns the patched object. */
  patch(type: PatchType, current: KObject, patch: any, ctx: { group: string; version: string; kind: string }): KObject;
  /** Server-side apply into `live` (undefined: create). */
  apply(
    live: KObject | undefined,
    applied: KObject,
    ctx: { group: string; version: string; kind: string; manager: string; force: boolean; subresource?: string },
  ): KObject;
  /** Record an Update operation in managedFields. */
  trackUpdate?(obj: KObject, old: KObject | undefined, manager: string, apiVersion: string, subresource?: string): void;
}

const patchTypes: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
  'application/apply-patch+cbor': 'apply',
};

export class APIServer {
  readonly stores = new Map<string, Store>();
  readonly discovery: Discovery;
  readonly metrics: Registry;
  private readonly subresources = new Map<string, SubresourceHandler>();
  private readonly virtual = new Map<string, VirtualResource>();
  /** Each audited request's recorder, and the Status each failed response carried. */
  private readonly audits = new WeakMap<IncomingMessage, AuditRecorder>();
  private readonly lastStatus = new WeakMap<ServerResponse, Status>();
  private readonly healthChecks: HealthCheck[] = [];
  private readonly readyChecks: HealthCheck[] = [];
  private readonly openWatches = new Set<() => void>();
  /** Upgraded (streaming) connections, cut on shutdown: the HTTP server no longer tracks them. */
  private readonly upgraded = new Set<Duplex>();
  private shuttingDown = false;
  private readonly requests: Counter;
  private readonly latency: Histogram;
  private readonly watchers: Gauge;
  private openapi?: Promise<OpenAPIProvider>;
  private patcher?: Promise<Patcher>;

  constructor(private readonly opts: APIServerOptions) {
    this.metrics = opts.metrics ?? new Registry();
    this.requests = this.metrics.register(
      new Counter('apiserver_request_total', 'Counter of apiserver requests broken out for each verb, group, version, resource, subresource and HTTP response code.', [
        'verb',
        'group',
        'version',
        'resource',
        'subresource',
        'code',
      ]),
    );
    this.latency = this.metrics.register(
      new Histogram('apiserver_request_duration_seconds', 'Response latency distribution in seconds for each verb, group, version, resource and subresource.', [
        'verb',
        'group',
        'version',
        'resource',
        'subresource',
      ]),
    );
    this.watchers = this.metrics.register(new Gauge('apiserver_registered_watchers', 'Number of currently registered watchers for a given resource', ['group', 'version', 'kind']));
    const ext: StoreExtensions = { ...opts.extensions };
    if (opts.patcher && !ext.trackManagedFields) {
      // managedFields for non-apply writes, once the patch machinery is loaded.
      ext.trackManagedFields = (obj, old, manager, apiVersion, sub) => {
        if (!manager || !this.loadedPatcher?.trackUpdate) return;
        this.loadedPatcher.trackUpdate(obj, old, manager, apiVersion, sub);
      };
    }
    const served: ServedResource[] = [];
    for (const s of opts.strategies) {
      const st = new Store(s, opts.backend, ext);
      this.stores.set(this.storeKey(s.info.group, s.info.version, s.info.resource), st);
      const subs: SubresourceInfo[] = [];
      if (s.status) subs.push({ name: 'status', kind: s.info.kind, verbs: ['get', 'patch', 'update'] });
      if (s.scale) subs.push({ name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: ['get', 'patch', 'update'] });
      for (const name of Object.keys(s.updateSubresources ?? {})) subs.push({ name, kind: s.info.kind, verbs: ['get', 'patch', 'update'] });
      served.push({ info: s.info, subresources: subs });
    }
    for (const h of opts.subresources ?? []) {
      this.subresources.set(`${h.group}/${h.resource}/${h.info.name}`, h);
      served.find((r) => r.info.group === h.group && r.info.resource === h.resource)?.subresources.push(h.info);
    }
    for (const v of opts.virtualResources ?? []) {
      this.virtual.set(this.storeKey(v.info.group, v.info.version, v.info.resource), v);
      served.push({ info: v.info, subresources: [] });
    }
    for (const r of served) r.subresources.sort((a, b) => a.name.localeCompare(b.name));
    this.discovery = new Discovery(served);
  }

  private loadedPatcher?: Patcher;

  /** Request metric labels by verb, group, version, resource and subresource, built once rather than per request. */
  private readonly labelCache = new Map<string, RequestLabels>();
  private requestLabels(info: RequestInfo): RequestLabels {
    const k = `${info.verb}\u0001${info.apiGroup}\u0001${info.apiVersion}\u0001${info.resource}\u0001${info.subresource}`;
    let l = this.labelCache.get(k);
    if (!l) {
      // Bounded: the names come from request paths, unknown resources included.
      if (this.labelCache.size >= 4096) this.labelCache.clear();
      this.labelCache.set(k, (l = new RequestLabels({ verb: info.verb.toUpperCase(), group: info.apiGroup, version: info.apiVersion, resource: info.resource, subresource: info.subresource })));
    }
    return l;
  }

  private storeKey(group: string, version: string, resource: string): string {
    return `${group}/${version}/${resource}`;
  }

  /** The store of a resource, in its preferred (only) version. */
  store(group: string, resource: string): Store | undefined {
    for (const st of this.stores.values()) if (st.gr.group === group && st.gr.resource === resource) return st;
    return undefined;
  }

  addHealthCheck(c: HealthCheck): void {
    this.healthChecks.push(c);
  }
  addReadyCheck(c: HealthCheck): void {
    this.readyChecks.push(c);
  }

  /** Stop accepting work: readiness fails and open watches end cleanly. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const close of [...this.openWatches]) close();
    for (const s of [...this.upgraded]) s.destroy();
  }

  /** The node:http request listener. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    let info: RequestInfo | undefined;
    const finish = () => {
      if (!info?.isResourceRequest) return;
      const l = this.requestLabels(info);
      this.requests.inc(l.withCode(res.statusCode));
      if (info.verb !== 'watch') this.latency.observe(l.labels, Number(process.hrtime.bigint() - started) / 1e9);
    };
    res.on('finish', finish);
    this.serve(req, res, (i) => (info = i)).catch((e) => this.fail(res, e));
  };

  /**
   * The node:http 'upgrade' listener. Routing and authentication are those of ordinary requests;
   * a subresource handler (exec, attach, portforward) takes the socket over, anything else is
   * answered on it as a normal response and the connection closed.
   */
  handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    socket.on('error', () => socket.destroy());
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.on('finish', () => {
      res.detachSocket(socket as Socket);
      socket.end();
    });
    let info: RequestInfo | undefined;
    res.on('finish', () => {
      if (info?.isResourceRequest) this.requests.inc(this.requestLabels(info).withCode(res.statusCode));
    });
    this.serve(req, res, (i) => (info = i), { socket, head }).catch((e) => this.fail(res, e));
  };

  private async serve(req: IncomingMessage, res: ServerResponse, setInfo: (i: RequestInfo) => void, upgrade?: { socket: Duplex; head: Buffer }): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://x');
    const path = url.pathname;
    const query = url.searchParams;
    const method = req.method ?? 'GET';
    // Public, unauthenticated endpoints (upstream's system:public-info-viewer).
    if (path === '/healthz' || path === '/livez' || path === '/readyz' || /^\/(healthz|livez|readyz)\//.test(path)) {
      return this.health(path, query, res);
    }
    if (path === '/version' || path === '/version/') return this.json(res, 200, versionInfo);

    let user = await this.opts.authenticator.authenticate(req);
    if (!user) {
      if (presentedCredentials(req)) throw errors.unauthorized();
      user = anonymous;
    }
    const authorizer = this.opts.authorizer;
    if (user === anonymous && !authorizer) throw errors.unauthorized();
    const info = parseRequestInfo(method, path, query);
    setInfo(info);
    let impersonator: UserInfo | undefined;
    if (authorizer && user !== anonymous) {
      const imp = await impersonatedUser(req, user, authorizer);
      if (imp.impersonated) {
        impersonator = user;
        user = imp.user;
      }
    }
    if (this.opts.audit) {
      const rec = this.opts.audit.begin({ req, info, user: impersonator ?? user, impersonatedUser: impersonator ? user : undefined });
      if (rec) {
        this.audits.set(req, rec);
        res.on('finish', () => rec.end(res.statusCode, this.lastStatus.get(res)));
        res.on('close', () => {
          if (!res.writableFinished) rec.end(res.statusCode, this.lastStatus.get(res));
        });
      }
    }
    if (authorizer) await this.authorize(authorizer, user, info, path, this.audits.get(req));

    if (path === '/metrics') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(this.metrics.render());
      return;
    }
    if (path === '/openapi/v3' || path.startsWith('/openapi/v3/') || path === '/openapi/v2') return this.serveOpenAPI(req, res, path, query);

    const accept = parseAccept(req.headers.accept);
    if (!info.isResourceRequest) {
      if (path === '/api' || path === '/api/') {
        const agg = wantsAggregatedDiscovery(accept);
        if (agg) return this.raw(res, 200, `application/json;g=apidiscovery.k8s.io;v=${agg};as=APIGroupDiscoveryList`, this.discovery.aggregated('api', agg));
        return this.raw(res, 200, 'application/json', this.discovery.apiVersions(this.opts.externalAddress));
      }
      if (path === '/apis' || path === '/apis/') {
        const agg = wantsAggregatedDiscovery(accept);
        if (agg) return this.raw(res, 200, `application/json;g=apidiscovery.k8s.io;v=${agg};as=APIGroupDiscoveryList`, this.discovery.aggregated('apis', agg));
        return this.raw(res, 200, 'application/json', this.discovery.apiGroupList());
      }
      if (info.apiPrefix === 'apis' && info.apiGroup && !info.apiVersion) {
        const doc = this.discovery.apiGroupDoc(info.apiGroup);
        if (doc) return this.raw(res, 200, 'application/json', doc);
      }
      if (info.apiVersion) {
        const gv = info.apiPrefix === 'api' ? info.apiVersion : `${info.apiGroup}/${info.apiVersion}`;
        const doc = info.apiPrefix === 'api' && info.apiVersion !== 'v1' ? undefined : this.discovery.apiResourceList(gv);
        if (doc) return this.raw(res, 200, 'application/json', doc);
      }
      throw errors.notFoundPath();
    }
    if (info.apiPrefix === 'api' && info.apiGroup) throw errors.notFoundPath();
    const store = this.stores.get(this.storeKey(info.apiGroup, info.apiVersion, info.resource));
    if (!store) {
      const v = this.virtual.get(this.storeKey(info.apiGroup, info.apiVersion, info.resource));
      if (v) return this.createVirtual(req, res, info, v, query, user);
      throw errors.notFoundPath();
    }
    if (store.strategy.info.namespaced === false && info.namespace) throw errors.notFoundPath();
    return this.resource(req, res, info, store, query, accept, user, upgrade);
  }

  /** 403 (401 for the anonymous user) unless the authorizer allows the request. */
  private async authorize(authorizer: Authorizer, user: UserInfo, info: RequestInfo, path: string, audit?: AuditRecorder): Promise<void> {
    const a: AuthorizationAttributes = {
      user,
      verb: info.verb,
      isResourceRequest: info.isResourceRequest,
      path,
      namespace: info.namespace,
      apiGroup: info.apiGroup,
      apiVersion: info.apiVersion,
      resource: info.resource,
      subresource: info.subresource,
      name: info.name,
    };
    const r = await authorizer.authorize(a);
    audit?.annotate('authorization.k8s.io/decision', r.decision === 'allow' ? 'allow' : 'forbid');
    if (r.reason) audit?.annotate('authorization.k8s.io/reason', r.reason);
    if (r.decision === 'allow') return;
    if (user === anonymous) throw errors.unauthorized();
    const message = forbiddenMessage(a) + (r.reason ? `: ${r.reason}` : '');
    if (!info.isResourceRequest) {
      throw new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `forbidden: ${message}`, reason: 'Forbidden', details: {}, code: 403 });
    }
    throw errors.forbidden({ group: info.apiGroup, resource: info.resource }, info.name, message);
  }

  private async createVirtual(req: IncomingMessage, res: ServerResponse, info: RequestInfo, v: VirtualResource, query: URLSearchParams, user: UserInfo): Promise<void> {
    if (info.verb !== 'create' || info.name || info.subresource) throw errors.methodNotSupported({ group: info.apiGroup, resource: info.resource }, info.verb);
    if (v.info.namespaced === false && info.namespace) throw errors.notFoundPath();
    const dryRun = this.dryRun(query);
    const { object } = await decodeBody(await readBody(req), req.headers['content-type']);
    if (!object || typeof object !== 'object' || Array.isArray(object)) throw errors.badRequest(`${v.info.kind} in version "${v.info.version}" cannot be handled as a ${v.info.kind}: the body must be an object`);
    this.audits.get(req)?.requestObject?.(object);
    const out = await v.create({ body: object as KObject, user, namespace: info.namespace, stores: (g, r) => this.store(g, r), authorizer: this.opts.authorizer ?? alwaysAllow, dryRun });
    out.apiVersion = v.info.group ? `${v.info.group}/${v.info.version}` : v.info.version;
    out.kind = v.info.kind;
    this.json(res, 201, out);
  }

  private async health(path: string, query: URLSearchParams, res: ServerResponse): Promise<void> {
    const base = path.split('/')[1];
    const checks = [{ name: 'ping', check: () => true }, ...this.healthChecks, ...(base === 'readyz' ? this.readyChecks : [])];
    if (base === 'readyz') checks.push({ name: 'shutdown', check: () => !this.shuttingDown });
    const only = path.split('/')[2];
    const results: [string, boolean][] = [];
    for (const c of checks) {
      if (only && c.name !== only) continue;
      let ok = false;
      try {
        ok = await c.check();
      } catch {
        ok = false;
      }
      results.push([c.name, ok]);
    }
    if (only && results.length === 0) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('404 page not found\n');
      return;
    }
    const healthy = results.every(([, ok]) => ok);
    let body: string;
    if (query.has('verbose') || !healthy) {
      body = results.map(([n, ok]) => (ok ? `[+]${n} ok` : `[-]${n} failed: reason withheld`)).join('\n') + '\n';
      body += healthy ? `${base} check passed\n` : `${base} check failed\n`;
    } else body = 'ok';
    res.writeHead(healthy ? 200 : 500, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
    res.end(body);
  }

  private async serveOpenAPI(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    if (!this.opts.openapi) throw errors.notFoundPath();
    const oa = await (this.openapi ??= this.opts.openapi());
    const ifNoneMatch = req.headers['if-none-match'];
    const r = oa.handle({ path, query, accept: req.headers.accept, ifNoneMatch: Array.isArray(ifNoneMatch) ? ifNoneMatch[0] : ifNoneMatch });
    if (!r) throw errors.notFoundPath();
    res.writeHead(r.status, r.headers);
    res.end(r.body);
  }

  private async getPatcher(): Promise<Patcher> {
    if (!this.opts.patcher) throw errors.unsupportedMediaType('patch');
    const p = await (this.patcher ??= this.opts.patcher());
    this.loadedPatcher = p;
    return p;
  }

  private predicate(store: Store, query: URLSearchParams): ListPredicate | undefined {
    const ls = query.get('labelSelector');
    const fs = query.get('fieldSelector');
    if (!ls && !fs) return undefined;
    const p: ListPredicate = {};
    if (ls) p.label = this.selectors.parseLabelSelector(ls);
    if (fs) {
      const { match, requirements } = this.selectors.parseFieldSelector(fs);
      const known = new Set(Object.keys(store.fieldsOf({ metadata: {} })));
      for (const r of requirements) {
        if (!known.has(r.field)) {
          throw errors.badRequest(`field label not supported: ${r.field}`);
        }
      }
      p.field = match;
      const byName = requirements.find((r) => r.field === 'metadata.name' && r.op === '=');
      if (byName && requirements.length === 1) p.name = byName.value;
    }
    return p;
  }

  /** Selector parsing; installed by the composition root (api/labels). */
  selectors!: {
    parseLabelSelector(s: string): (labels: Record<string, string>) => boolean;
    parseFieldSelector(s: string): { match: (f: Record<string, string>) => boolean; requirements: { field: string; op: string; value: string }[] };
  };

  private dryRun(query: URLSearchParams): boolean {
    const d = query.getAll('dryRun');
    if (d.length === 0) return false;
    for (const v of d) if (v !== 'All') throw errors.badRequest(`Invalid dryRun value: "${v}"; only "All" is supported`);
    return true;
  }

  private fieldValidation(query: URLSearchParams): 'Strict' | 'Warn' | 'Ignore' {
    const v = query.get('fieldValidation');
    if (v === null || v === '') return 'Warn';
    if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
    throw errors.badRequest(`fieldValidation parameter unsupported: ${v}`);
  }

  /**
   * The typed decode of a written object: wrong JSON types are a 400 whatever the mode (as decoding
   * into upstream's Go types is); unknown and duplicate fields follow fieldValidation: Strict → 400,
   * Warn → Warning headers. Unknown fields are dropped from `obj` unless Strict.
   */
  private async checkFields(res: ServerResponse, store: Store, obj: unknown, text: string | undefined, mode: 'Strict' | 'Warn' | 'Ignore'): Promise<void> {
    const problems: string[] = [];
    if (mode !== 'Ignore' && text && text.length < 1_000_000) for (const d of findDuplicateKeysOf(text, obj)) problems.push(`duplicate field "${d}"`);
    const i = store.strategy.info;
    if (this.opts.openapi && obj && typeof obj === 'object' && !Array.isArray(obj)) {
      const oa = await (this.openapi ??= this.opts.openapi());
      const r = oa.decodeTyped?.(obj as KObject, i.group, i.version, i.kind, mode !== 'Strict');
      if (r?.typeErrors.length) {
        throw errors.badRequest(`${i.kind} in version "${i.version}" cannot be handled as a ${i.kind}: ${r.typeErrors[0]}`);
      }
      for (const f of r?.unknown ?? []) problems.push(`unknown field "${f}"`);
    }
    if (!problems.length || mode === 'Ignore') return;
    if (mode === 'Strict') throw errors.badRequest(`strict decoding error: ${problems.join(', ')}`);
    for (const p of problems) this.warn(res, p);
  }

  private warn(res: ServerResponse, text: string): void {
    const prev = res.getHeader('Warning');
    // Header values must be printable ASCII; long texts are cut as upstream's warning limits do.
    const safe = JSON.stringify(text.length > 256 ? `${text.slice(0, 253)}...` : text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const v = `299 - ${safe}`;
    res.setHeader('Warning', prev ? ([] as string[]).concat(prev as string[] | string, v) : v);
  }

  private async resource(
    req: IncomingMessage,
    res: ServerResponse,
    info: RequestInfo,
    store: Store,
    query: URLSearchParams,
    accept: ReturnType<typeof parseAccept>,
    user: UserInfo,
    upgrade?: { socket: Duplex; head: Buffer },
  ): Promise<void> {
    const ns = info.namespace;
    const namespaced = store.strategy.info.namespaced;
    const ref = { namespace: ns, name: info.name };
    const fieldManager = query.get('fieldManager') ?? defaultManager(req.headers['user-agent']);
    if (fieldManager.length > 128) throw errors.badRequest('fieldManager must be at most 128 characters');
    const audit = this.audits.get(req);
    const who = { user, hooks: { warn: (t: string) => this.warn(res, t), annotate: (k: string, v: string) => audit?.annotate(k, v) } };
    const sendObject = (code: number, obj: KObject) => {
      const tv = wantsTable(accept);
      if (tv && req.method === 'GET') {
        return this.json(res, code, toTable(store.strategy, [obj], { include: includeObject(query), version: tv, listMeta: { resourceVersion: obj.metadata?.resourceVersion } }));
      }
      return this.json(res, code, obj);
    };
    const body = async () => {
      const buf = await readBody(req);
      const decoded = await decodeBody(buf, req.headers['content-type'], info.verb === 'patch');
      audit?.requestObject?.(decoded.object);
      return decoded;
    };

    const updateSubresource = info.subresource ? store.strategy.updateSubresources?.[info.subresource] : undefined;
    if (updateSubresource && !['get', 'update', 'patch'].includes(info.verb)) throw errors.methodNotSupported({ group: info.apiGroup, resource: `${info.resource}/${info.subresource}` }, info.verb);
    if (info.subresource && info.subresource !== 'status' && info.subresource !== 'scale' && !updateSubresource) {
      const h = this.subresources.get(`${info.apiGroup}/${info.resource}/${info.subresource}`);
      if (!h) throw errors.notFoundPath();
      const r = await h.handle({
        info,
        store,
        stores: (g, r2) => this.store(g, r2),
        query,
        user,
        req,
        res,
        body: async () => (await body()).object,
        upgrade,
      });
      if (r) this.json(res, r.code, r.body);
      return;
    }
    if (info.subresource === 'status' && !store.strategy.status) throw errors.notFoundPath();
    if (info.subresource === 'scale' && !store.strategy.scale) throw errors.notFoundPath();
    if (namespaced && !ns && info.verb !== 'list' && info.verb !== 'watch') {
      if (info.verb !== 'deletecollection') throw errors.notFoundPath();
    }
    const dryRun = ['create', 'update', 'patch', 'delete', 'deletecollection'].includes(info.verb) ? this.dryRun(query) : false;

    switch (info.verb) {
      case 'get': {
        const obj = await store.get(ref, query.get('resourceVersion') ?? undefined);
        if (info.subresource === 'scale') return this.json(res, 200, toScale(store, obj));
        return sendObject(200, obj);
      }
      case 'list': {
        const limit = query.get('limit');
        const r = await store.list(ns, {
          predicate: this.predicate(store, query),
          limit: limit ? parseInt(limit, 10) || 0 : 0,
          continue: query.get('continue') ?? undefined,
          resourceVersion: query.get('resourceVersion') ?? undefined,
          resourceVersionMatch: query.get('resourceVersionMatch') ?? undefined,
        });
        const listMeta: Record<string, unknown> = { resourceVersion: r.resourceVersion };
        if (r.continue) listMeta.continue = r.continue;
        if (r.remainingItemCount !== undefined) listMeta.remainingItemCount = r.remainingItemCount;
        const tv = wantsTable(accept);
        if (tv) return this.json(res, 200, toTable(store.strategy, r.items, { include: includeObject(query), version: tv, listMeta }));
        if (wantsPartialMetadata(accept)) return this.json(res, 200, toPartialList(r.items, listMeta));
        return this.json(res, 200, { kind: store.listKind, apiVersion: store.apiVersion, metadata: listMeta, items: r.items });
      }
      case 'watch':
        return this.watch(req, res, info, store, query, accept);
      case 'create': {
        if (info.name) throw errors.methodNotSupported(store.gr, 'create');
        const b = await body();
        await this.checkFields(res, store, b.object, b.text, this.fieldValidation(query));
        const obj = await store.create(ns, b.object, { dryRun, fieldManager, ...who, owned: true });
        return this.written(res, 201, obj);
      }
      case 'update': {
        const b = await body();
        if (info.subresource !== 'scale') await this.checkFields(res, store, b.object, b.text, this.fieldValidation(query));
        if (info.subresource === 'scale') {
          const scale = b.object as KObject;
          const obj = await store.guaranteedUpdate(
            ref,
            (cur) => {
              if (scale?.metadata?.resourceVersion && scale.metadata.resourceVersion !== cur.metadata.resourceVersion) throw errors.modified(store.gr, info.name);
              store.strategy.scale!.setSpecReplicas(cur, scaleReplicas(info.name, scale));
              return cur;
            },
            { dryRun, fieldManager, subresource: 'scale', ...who },
          );
          return this.json(res, 200, toScale(store, obj));
        }
        const obj = await store.update(ref, b.object, { dryRun, fieldManager, subresource: info.subresource || undefined, ...who });
        return this.written(res, 200, obj);
      }
      case 'patch':
        return this.patch(req, res, info, store, query, dryRun, fieldManager, who);
      case 'delete': {
        const opts = await this.deleteOptions(req, query);
        const r = await store.delete(ref, { ...opts, dryRun: dryRun || opts.dryRun, ...who });
        if (!r.deleted) return this.json(res, 202, r.object);
        if (store.strategy.returnDeletedObject) return this.json(res, 200, r.object);
        return this.json(res, 200, successStatus({ name: info.name, group: info.apiGroup || undefined, kind: info.resource, uid: r.object.metadata?.uid }));
      }
      case 'deletecollection': {
        const opts = await this.deleteOptions(req, query);
        const items = await store.deleteCollection(ns, { predicate: this.predicate(store, query) }, { ...opts, dryRun: dryRun || opts.dryRun, ...who });
        return this.json(res, 200, { kind: store.listKind, apiVersion: store.apiVersion, metadata: {}, items });
      }
      default:
        throw errors.methodNotSupported(store.gr, info.verb);
    }
  }

  private async deleteOptions(req: IncomingMessage, query: URLSearchParams): Promise<DeleteOptions> {
    const opts: DeleteOptions = {};
    const buf = await readBody(req);
    if (buf.length) {
      const { object } = await decodeBody(buf, req.headers['content-type']);
      if (object && typeof object === 'object') {
        if (object.gracePeriodSeconds !== undefined && object.gracePeriodSeconds !== null) opts.gracePeriodSeconds = Number(object.gracePeriodSeconds);
        if (object.propagationPolicy) opts.propagationPolicy = String(object.propagationPolicy);
        if (object.orphanDependents === true) opts.propagationPolicy = 'Orphan';
        if (object.preconditions) opts.preconditions = object.preconditions;
        if (Array.isArray(object.dryRun) && object.dryRun.includes('All')) opts.dryRun = true;
      }
    }
    const g = query.get('gracePeriodSeconds');
    if (g !== null) {
      if (!/^-?\d+$/.test(g)) throw errors.badRequest(`invalid gracePeriodSeconds: "${g}"`);
      opts.gracePeriodSeconds = Number(g);
    }
    const pp = query.get('propagationPolicy');
    if (pp) opts.propagationPolicy = pp;
    if (opts.propagationPolicy && !['Orphan', 'Background', 'Foreground'].includes(opts.propagationPolicy)) {
      throw errors.badRequest(`propagationPolicy: Unsupported value: "${opts.propagationPolicy}": supported values: "Foreground", "Background", "Orphan"`);
    }
    if (opts.gracePeriodSeconds !== undefined && opts.gracePeriodSeconds < 0) opts.gracePeriodSeconds = 0;
    return opts;
  }

  private async patch(
    req: IncomingMessage,
    res: ServerResponse,
    info: RequestInfo,
    store: Store,
    query: URLSearchParams,
    dryRun: boolean,
    fieldManager: string,
    who: Pick<WriteOptions, 'user' | 'hooks'>,
  ): Promise<void> {
    const mt = mediaType(req.headers['content-type']);
    const type = patchTypes[mt];
    if (!type) {
      throw new StatusError({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
        reason: 'UnsupportedMediaType',
        code: 415,
      });
    }
    const patcher = await this.getPatcher();
    const buf = await readBody(req);
    const decoded = await decodeBody(buf, type === 'apply' ? 'application/apply-patch+yaml' : 'application/json', true);
    const patchObj = decoded.object;
    const i = store.strategy.info;
    const ref = { namespace: info.namespace, name: info.name };
    const validation = this.fieldValidation(query);
    if (type === 'apply') {
      const manager = query.get('fieldManager');
      if (!manager) throw errors.invalid(i.group, i.kind, info.name, [{ type: 'FieldValueRequired', field: 'fieldManager', detail: 'is required for apply patch' }]);
      if (!patchObj || typeof patchObj !== 'object' || Array.isArray(patchObj)) throw errors.badRequest('apply patch must be an object');
      await this.checkFields(res, store, patchObj, decoded.text, validation);
      const force = query.get('force') === 'true';
      const ctx = { group: i.group, version: i.version, kind: i.kind, manager, force, subresource: info.subresource || undefined };
      try {
        const obj = await store.guaranteedUpdate(ref, (cur) => patcher.apply(cur, patchObj, ctx), { dryRun, fieldManager: manager, applied: true, subresource: info.subresource || undefined, ...who });
        return info.subresource === 'scale' ? this.json(res, 200, toScale(store, obj)) : this.written(res, 200, obj);
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 404) || info.subresource) throw e;
        // An apply that creates needs the create verb too (upstream's withAuthorization on patch).
        if (this.opts.authorizer && who.user) await this.authorize(this.opts.authorizer, who.user, { ...info, verb: 'create' }, req.url ?? '');
        const created = patcher.apply(undefined, patchObj, ctx);
        const obj = await store.create(info.namespace, created, { dryRun, fieldManager: manager, applied: true, ...who });
        return this.written(res, 201, obj);
      }
    }
    if (type !== 'json' && (patchObj === null || typeof patchObj !== 'object' || Array.isArray(patchObj))) {
      throw errors.badRequest(`error decoding patch: the patch must be a JSON object`);
    }
    if (type === 'json' && !Array.isArray(patchObj)) throw errors.badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
    // Duplicates are judged on the patch text; unknown fields on the patched object (the patch holds directives).
    if (validation !== 'Ignore' && decoded.text) {
      const dups = findDuplicateKeys(decoded.text);
      if (dups.length && validation === 'Strict') throw errors.badRequest(`strict decoding error: ${dups.map((d) => `duplicate field "${d}"`).join(', ')}`);
      for (const d of dups) this.warn(res, `duplicate field "${d}"`);
    }
    const pinnedRV = type !== 'json' ? patchObj?.metadata?.resourceVersion : undefined;
    const obj = await store.guaranteedUpdate(
      ref,
      async (cur) => {
        if (pinnedRV && pinnedRV !== cur.metadata.resourceVersion) throw errors.modified(store.gr, info.name);
        const ctx = { group: i.group, version: i.version, kind: i.kind };
        if (info.subresource === 'scale') {
          const scale = patcher.patch(type, toScale(store, cur), patchObj, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
          store.strategy.scale!.setSpecReplicas(cur, scaleReplicas(info.name, scale));
          return cur;
        }
        const out = patcher.patch(type, cur, patchObj, ctx);
        if (!out || typeof out !== 'object' || Array.isArray(out)) throw errors.badRequest('the patch produced a non-object');
        await this.checkFields(res, store, out, undefined, validation);
        return out;
      },
      { dryRun, fieldManager, subresource: info.subresource || undefined, ...who },
    );
    return info.subresource === 'scale' ? this.json(res, 200, toScale(store, obj)) : this.written(res, 200, obj);
  }

  private async watch(
    req: IncomingMessage,
    res: ServerResponse,
    info: RequestInfo,
    store: Store,
    query: URLSearchParams,
    accept: ReturnType<typeof parseAccept>,
  ): Promise<void> {
    // As upstream's shutdown filter: a new watch is told to retry, so clients resume it (from
    // their resourceVersion) on the next server rather than relisting.
    if (this.shuttingDown) throw errors.tooManyRequests('The apiserver is shutting down, please try again later.', 1);
    const predicate = this.predicate(store, query) ?? {};
    if (info.name) predicate.name = info.name;
    const tv = wantsTable(accept);
    const include = includeObject(query);
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    let first = true;
    let headerSent = false;
    const sendHeader = () => {
      if (headerSent) return;
      headerSent = true;
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
      res.flushHeaders();
    };
    const send = (ev: WatchOut) => {
      sendHeader();
      if (tv && ev.type !== 'BOOKMARK' && ev.type !== 'ERROR') {
        writeChunk(res, JSON.stringify({ type: ev.type, object: toTable(store.strategy, [ev.object], { include, version: tv, withColumns: first }) }) + '\n');
        first = false;
      } else {
        writeEvent(res, ev);
      }
    };
    const gvk = { group: store.gr.group, version: store.strategy.info.version, kind: store.strategy.info.kind };
    let closed = false;
    let w: { cancel(): void } | undefined;
    let timer: NodeJS.Timeout | undefined;
    const close = (err?: StatusError) => {
      if (closed) return;
      closed = true;
      this.openWatches.delete(close);
      this.watchers.dec(gvk);
      if (timer) clearTimeout(timer);
      w?.cancel();
      if (err) send({ type: 'ERROR', object: err.status as unknown as KObject });
      sendHeader();
      res.end();
    };
    this.openWatches.add(close);
    this.watchers.inc(gvk);
    req.on('close', () => close());
    res.on('error', () => close());
    try {
      w = await store.watch(
        info.namespace,
        {
          predicate,
          resourceVersion: query.get('resourceVersion') ?? undefined,
          resourceVersionMatch: query.get('resourceVersionMatch') ?? undefined,
          sendInitialEvents: query.has('sendInitialEvents') ? query.get('sendInitialEvents') === 'true' : undefined,
          allowWatchBookmarks: query.get('allowWatchBookmarks') === 'true',
        },
        send,
        (err) => close(err),
      );
    } catch (e) {
      if (e instanceof StatusError && e.code === 410) {
        close(e);
        return;
      }
      this.openWatches.delete(close);
      this.watchers.dec(gvk);
      closed = true;
      throw e;
    }
    if (closed) w.cancel();
    sendHeader();
    if (timeout > 0) timer = setTimeout(() => close(), timeout * 1000);
  }

  private json(res: ServerResponse, code: number, body: unknown): void {
    this.raw(res, code, 'application/json', JSON.stringify(body));
  }

  /** An object the store just wrote and returned, with the text the store made of it when it has one. */
  private written(res: ServerResponse, code: number, obj: KObject): void {
    this.raw(res, code, 'application/json', knownJSON(obj) ?? JSON.stringify(obj));
  }

  private raw(res: ServerResponse, code: number, contentType: string, body: string): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache, private' });
    res.end(body);
  }

  private fail(res: ServerResponse, e: unknown): void {
    let st: Status;
    if (e instanceof StatusError) st = e.status;
    else {
      log.error('internal error', { err: e instanceof Error ? e.stack : String(e) });
      st = errors.internal(e instanceof Error ? e.message : String(e)).status;
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    this.lastStatus.set(res, st);
    if (st.details?.retryAfterSeconds) res.setHeader('Retry-After', String(st.details.retryAfterSeconds));
    this.json(res, st.code, st);
  }
}

/** The labels of one kind of request, and with each response code. */
class RequestLabels {
  private readonly byCode = new Map<number, Record<string, string>>();
  constructor(readonly labels: Record<string, string>) {}
  withCode(code: number): Record<string, string> {
    let l = this.byCode.get(code);
    if (!l) this.byCode.set(code, (l = { ...this.labels, code: String(code) }));
    return l;
  }
}

/** Read once: the environment is a slow lookup, and watch chunks are written per watcher per event. */
const watchViaHTTP = !!process.env.K8TS_WATCH_VIA_HTTP;

/**
 * The socket a chunked watch response can be written to directly, or undefined to go through the
 * http layer: its own path costs three buffers and several checks per write, which adds up when
 * an event fans out to hundreds of watchers. res.end() still writes the terminating chunk.
 */
function directSocket(res: ServerResponse): Socket | undefined {
  const sock = res.socket;
  return !sock || sock.destroyed || watchViaHTTP ? undefined : sock;
}

/**
 * Write to a watch socket, corked until the end of this tick: the events of one storage commit
 * (and of commits settled together) go to a watcher as one write through the stream and TLS
 * layers (one record) rather than one per event. Writes keep their order; the http layer's own
 * cork/uncork nests with this one.
 */
function corkedWrite(sock: Socket, data: Buffer | string): void {
  if (!sock.writableCorked) {
    sock.cork();
    process.nextTick(uncork, sock);
  }
  sock.write(data);
}
function uncork(sock: Socket): void {
  sock.uncork();
}

/** One chunk of a chunked watch response, framed here and written to the socket in one call. */
function writeChunk(res: ServerResponse, text: string): void {
  const sock = directSocket(res);
  if (!sock) {
    res.write(text);
    return;
  }
  corkedWrite(sock, `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);
}

/** A watch event on its way out: with `shared`, its object's JSON is known and `object` is decoded only if read. */
type WatchOut = { type: string; object: KObject; shared?: SharedText };

/** One watch event as JSON (with its newline), and once needed its framed chunk, shared by every watcher. */
interface EventText {
  line: string;
  chunk?: Buffer;
}

/**
 * Watch events carry objects shared by every watcher of a change (the store decodes each revision
 * once), so each event line is serialised, and framed as a chunk, once for all of them.
 */
const eventTexts = new WeakMap<object, Map<string, EventText>>();
function serializedEvent(ev: WatchOut): EventText {
  // Keyed by the revision's shared text when the store gave one: the object need not be decoded.
  const key = ev.shared ?? ev.object;
  let byType = eventTexts.get(key);
  if (!byType) eventTexts.set(key, (byType = new Map()));
  let t = byType.get(ev.type);
  if (t === undefined) {
    // The store's own text of the object, when it has one (an object it wrote): not serialised again.
    const json = ev.shared?.json ?? knownJSON(ev.object);
    const line = json === undefined ? JSON.stringify(ev) : `{"type":${JSON.stringify(ev.type)},"object":${json}}`;
    byType.set(ev.type, (t = { line: line + '\n' }));
  }
  return t;
}

/** Write one watch event (JSON form) to a watcher. */
function writeEvent(res: ServerResponse, ev: WatchOut): void {
  const t = serializedEvent(ev);
  const sock = directSocket(res);
  if (!sock) {
    res.write(t.line);
    return;
  }
  if (!t.chunk) {
    // One buffer for the whole frame: size line, the event, CRLF.
    const n = Buffer.byteLength(t.line);
    const head = `${n.toString(16)}\r\n`;
    const chunk = Buffer.allocUnsafe(head.length + n + 2);
    chunk.write(head, 0, 'latin1');
    chunk.write(t.line, head.length, 'utf8');
    chunk[chunk.length - 2] = 13;
    chunk[chunk.length - 1] = 10;
    t.chunk = chunk;
  }
  corkedWrite(sock, t.chunk);
}

function includeObject(query: URLSearchParams): IncludeObject {
  const v = query.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

/** The default field manager, derived from the User-Agent as upstream does ("kubectl" from "kubectl/v1.32.4 (...)"). */
function defaultManager(ua: string | undefined): string {
  if (!ua) return 'unknown';
  const first = ua.split('/')[0].trim();
  return first.length > 128 ? first.slice(0, 128) : first || 'unknown';
}

/** spec.replicas of a Scale written by a client, validated as upstream's Scale validation does. */
function scaleReplicas(name: string, scale: KObject | undefined): number {
  const n = scale?.spec?.replicas ?? 0;
  if (typeof n !== 'number' || !Number.isInteger(n) || n > 2147483647) {
    throw errors.badRequest(`Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal ${typeof n} into Go struct field ScaleSpec.spec.replicas of type int32`);
  }
  if (n < 0) throw errors.invalid('autoscaling', 'Scale', name, [field.invalid('spec.replicas', n, 'must be greater than or equal to 0')]);
  return n;
}

/** The autoscaling/v1 Scale view of an object with a scale subresource. */
function toScale(store: Store, obj: KObject): KObject {
  const sc = store.strategy.scale!;
  const m = obj.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: sc.specReplicas(obj) },
    status: { replicas: sc.statusReplicas(obj), selector: sc.selector(obj) },
  };
}
