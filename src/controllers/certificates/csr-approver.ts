/**
 * The CSR approving controller (upstream's pkg/controller/certificates/approver, csrapproving):
 * auto-approves kubelet client certificates, for a bootstrapping node (nodeclient) and for a node
 * renewing its own certificate (selfnodeclient), after a SubjectAccessReview for the matching
 * `certificatesigningrequests/<kind>` subresource says the requestor may.
 */
import { StatusError } from '../../api/errors.js';
import { logger } from '../../base/log.js';
import type { Component, ComponentContext } from '../../client/component.js';
import type { Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { ControllerLoop } from '../common/controller-loop.js';
import { parseRequest, type RequestInfo } from './x509.js';

const log = logger('csr-approver');

/** The signer of kubelet client certificates. */
export const kubeletClientSigner = 'kubernetes.io/kube-apiserver-client-kubelet';

const subjectAccessReviews = { group: 'authorization.k8s.io', version: 'v1', resource: 'subjectaccessreviews', namespaced: false };

/** True when the CSR is approved or denied already. */
export function isDecided(csr: KObject): boolean {
  return (csr.status?.conditions ?? []).some((c: any) => (c?.type === 'Approved' || c?.type === 'Denied') && c.status === 'True');
}

function sameSet(a: string[], b: string[]): boolean {
  const s = new Set(a);
  return s.size === a.length && a.length === b.length && b.every((x) => s.has(x));
}

/**
 * Why a request is not a valid kubelet client certificate request, or undefined when it is:
 * CN system:node:<name>, O exactly system:nodes, no SANs, usages digital signature and client
 * auth (key encipherment optional).
 */
export function kubeletClientProblem(csr: KObject, req: RequestInfo): string | undefined {
  if (!sameSet(req.organizations, ['system:nodes'])) return 'subject organization is not system:nodes';
  if (req.dnsNames.length || req.ips.length || req.emails.length || req.uris.length) return 'DNS, email, IP or URI subjectAltNames are not allowed';
  if (!req.commonName.startsWith('system:node:') || req.commonName.length === 'system:node:'.length) return 'subject common name does not begin with system:node:';
  const usages: string[] = csr.spec?.usages ?? [];
  if (!sameSet(usages, ['digital signature', 'client auth']) && !sameSet(usages, ['digital signature', 'key encipherment', 'client auth'])) {
    return `usages did not match [digital signature client auth] or [digital signature key encipherment client auth]`;
  }
  return undefined;
}

/** The signer of general client certificates, used for node components. */
export const componentClientSigner = 'kubernetes.io/kube-apiserver-client';
/** The identities a node may get for its components. */
export const nodeComponentUsers = ['system:kube-proxy', 'system:k8ts-dns'];

/** Why a component request is not one k8ts approves (undefined: it is). */
export function componentClientProblem(csr: KObject, req: RequestInfo): string | undefined {
  if (!nodeComponentUsers.includes(req.commonName)) return `subject common name is not one of ${nodeComponentUsers.join(', ')}`;
  if (req.organizations.length) return 'subject organizations are not allowed';
  if (req.dnsNames.length || req.ips.length || req.emails.length || req.uris.length) return 'DNS, email, IP or URI subjectAltNames are not allowed';
  const usages: string[] = csr.spec?.usages ?? [];
  if (!sameSet(usages, ['digital signature', 'client auth']) && !sameSet(usages, ['digital signature', 'key encipherment', 'client auth'])) return 'usages must be client auth';
  return undefined;
}

export interface CSRApproverOptions {
  /**
   * Check each recognized request with a SubjectAccessReview (default true). When off, or when
   * the server does not serve SubjectAccessReviews (404), the requestor's groups decide instead:
   * system:bootstrappers for nodeclient, system:nodes (and the CSR's own name) for selfnodeclient.
   */
  subjectAccessReview?: boolean;
  workers?: number;
}

/** The CSR approver, as a {@link Component}. Queue items are CSR names. */
export class CSRApprovingController implements Component {
  readonly name = 'csrapproving';
  readonly queue = new WorkQueue<string>({ name: 'certificate' });
  private client!: RestClient;
  private lister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'csr');
  private warnedNoSAR = false;

  constructor(private readonly opts: CSRApproverOptions = {}) {}

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const inf = ctx.informers.forResource(resources.certificatesigningrequests);
    this.lister = inf.lister;
    const enqueue = (o: KObject) => {
      if (!isDecided(o)) this.queue.add(o.metadata.name);
    };
    this.loop.regs.push(inf.addEventHandler({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n) }));
    ctx.informers.start();
    this.loop.run(() => inf.waitForSync(), this.opts.workers ?? 1, (k) => this.sync(k));
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Approve the CSR when it is a kubelet client request its requestor may make. */
  async sync(name: string): Promise<void> {
    const csr = this.lister.get('', name);
    if (!csr || isDecided(csr) || csr.status?.certificate) return;
    if (csr.spec?.signerName === componentClientSigner) return this.syncComponent(csr);
    if (csr.spec?.signerName !== kubeletClientSigner) return;
    let req: RequestInfo;
    try {
      req = await parseRequest(csr.spec.request);
    } catch (e) {
      log.info('ignoring unparsable request', { csr: name, err: String(e) });
      return;
    }
    if (kubeletClientProblem(csr, req)) return;
    const groups: string[] = csr.spec.groups ?? [];
    // Upstream's recognizers, self first. `fallback` decides when SubjectAccessReview is not served.
    const recognizers = [
      {
        sub: 'selfnodeclient',
        applies: csr.spec.username === req.commonName,
        fallback: groups.includes('system:nodes'),
        message: 'Auto approving self kubelet client certificate after SubjectAccessReview.',
      },
      {
        sub: 'nodeclient',
        applies: true,
        fallback: groups.includes('system:bootstrappers'),
        message: 'Auto approving kubelet client certificate after SubjectAccessReview.',
      },
    ];
    for (const r of recognizers) {
      if (!r.applies) continue;
      if (!(await this.authorized(csr, r.sub, r.fallback))) continue;
      await this.approve(csr, r.message);
      return;
    }
  }

  /**
   * k8ts's policy for node components (as k3s hands its agents a kube-proxy certificate): whoever
   * may join a node (create certificatesigningrequests/nodeclient) or is a node may get a client
   * certificate for kube-proxy or the cluster DNS, and nothing else, through this signer.
   */
  private async syncComponent(csr: KObject): Promise<void> {
    let req: RequestInfo;
    try {
      req = await parseRequest(csr.spec.request);
    } catch {
      return;
    }
    if (componentClientProblem(csr, req)) return;
    const groups: string[] = csr.spec.groups ?? [];
    if (!groups.includes('system:nodes') && !(await this.authorized(csr, 'nodeclient', groups.includes('system:bootstrappers')))) return;
    await this.approve(csr, `Auto approving ${req.commonName} client certificate for a node.`);
  }

  /** Whether the requestor may `create certificatesigningrequests/<sub>`; `fallback` when the check is off or not served. */
  private async authorized(csr: KObject, sub: string, fallback: boolean): Promise<boolean> {
    if (this.opts.subjectAccessReview === false) return fallback;
    const sar = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: csr.spec.username,
        uid: csr.spec.uid,
        groups: csr.spec.groups,
        extra: csr.spec.extra,
        resourceAttributes: { group: 'certificates.k8s.io', version: '*', resource: 'certificatesigningrequests', verb: 'create', subresource: sub },
      },
    };
    try {
      const out = await this.client.create(subjectAccessReviews, undefined, sar);
      return out.status?.allowed === true;
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) {
        if (!this.warnedNoSAR) log.warn('SubjectAccessReview is not served; deciding on the requestor\'s groups alone');
        this.warnedNoSAR = true;
        return fallback;
      }
      throw e;
    }
  }

  private async approve(csr: KObject, message: string): Promise<void> {
    const next = structuredClone(csr);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    (next.status ??= {}).conditions = [
      ...(next.status.conditions ?? []),
      { type: 'Approved', status: 'True', reason: 'AutoApproved', message, lastUpdateTime: now, lastTransitionTime: now },
    ];
    try {
      await this.client.update(resources.certificatesigningrequests, next, 'approval');
    } catch (e) {
      // A stale cache: the next event brings the current object.
      if (e instanceof StatusError && (e.code === 409 || e.code === 404)) return;
      throw e;
    }
  }
}
