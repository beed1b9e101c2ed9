/**
 * The CSR signing controller (upstream's pkg/controller/certificates/signer): issues approved
 * requests of the built-in signers with the cluster CA, writing status.certificate through
 * `/status`; a request the signer refuses gets a Failed condition instead.
 */
import { StatusError } from '../../api/errors.js';
import type { Component, ComponentContext } from '../../client/component.js';
import type { Lister } from '../../client/informer.js';
import type { KObject, RestClient } from '../../client/rest-client.js';
import { resources } from '../../client/resources.js';
import { WorkQueue } from '../../client/workqueue.js';
import { ControllerLoop } from '../common/controller-loop.js';
import { kubeletClientProblem, kubeletClientSigner } from './csr-approver.js';
import { parseRequest, signRequest, type RequestInfo, type SigningCA } from './x509.js';

/** The signers this controller issues for. */
export const builtinSigners = [kubeletClientSigner, 'kubernetes.io/kube-apiserver-client', 'kubernetes.io/kubelet-serving'];

/** Why the signer refuses the request, or undefined when it issues (upstream's per-signer validators). */
export function signerProblem(csr: KObject, req: RequestInfo): string | undefined {
  const usages: string[] = csr.spec?.usages ?? [];
  switch (csr.spec?.signerName) {
    case kubeletClientSigner:
      return kubeletClientProblem(csr, req);
    case 'kubernetes.io/kube-apiserver-client': {
      const bad = usages.filter((u) => !['digital signature', 'key encipherment', 'client auth'].includes(u));
      if (bad.length) return `invalid usage for client certificate: ${bad.join(', ')}`;
      if (!usages.includes('client auth')) return 'missing required usage for client certificate: client auth';
      return undefined;
    }
    case 'kubernetes.io/kubelet-serving': {
      if (req.organizations.length !== 1 || req.organizations[0] !== 'system:nodes') return 'subject organization is not system:nodes';
      if (!req.commonName.startsWith('system:node:') || req.commonName.length === 'system:node:'.length) return 'subject common name does not begin with system:node:';
      if (req.emails.length || req.uris.length) return 'email and URI subjectAltNames are not allowed';
      if (!req.dnsNames.length && !req.ips.length) return 'DNS or IP subjectAltName is required';
      const bad = usages.filter((u) => !['digital signature', 'key encipherment', 'server auth'].includes(u));
      if (bad.length) return `invalid usage for kubelet serving certificate: ${bad.join(', ')}`;
      if (!usages.includes('server auth')) return 'missing required usage for kubelet serving certificate: server auth';
      return undefined;
    }
    default:
      return `unknown signer ${csr.spec?.signerName}`;
  }
}

function condition(csr: KObject, type: string): boolean {
  return (csr.status?.conditions ?? []).some((c: any) => c?.type === type && c.status === 'True');
}

export interface CSRSignerOptions {
  /** The cluster CA, PEM. */
  ca: SigningCA;
  /** The longest certificate issued (upstream's --cluster-signing-duration); default one year. */
  maxDurationSeconds?: number;
  /** How far back notBefore is set, for clock skew; default 5 minutes as upstream. */
  backdateSeconds?: number;
  workers?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/** The CSR signer, as a {@link Component}. Queue items are CSR names. */
export class CSRSigningController implements Component {
  readonly name = 'csrsigning';
  readonly queue = new WorkQueue<string>({ name: 'csrsigning' });
  private client!: RestClient;
  private lister!: Lister;
  private readonly loop = new ControllerLoop(this.queue, 'csr');

  constructor(private readonly opts: CSRSignerOptions) {}

  async start(ctx: ComponentContext): Promise<void> {
    this.client = ctx.client;
    const inf = ctx.informers.forResource(resources.certificatesigningrequests);
    this.lister = inf.lister;
    const enqueue = (o: KObject) => {
      if (builtinSigners.includes(o.spec?.signerName) && condition(o, 'Approved') && !o.status?.certificate) this.queue.add(o.metadata.name);
    };
    this.loop.regs.push(inf.addEventHandler({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n) }));
    ctx.informers.start();
    this.loop.run(() => inf.waitForSync(), this.opts.workers ?? 1, (k) => this.sync(k));
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** The certificate lifetime: the requested duration (at least 10 minutes), capped by the signer's maximum. */
  duration(csr: KObject): number {
    const max = this.opts.maxDurationSeconds ?? 365 * 86400;
    const asked = csr.spec?.expirationSeconds;
    if (typeof asked !== 'number') return max;
    return Math.min(max, Math.max(600, asked));
  }

  /** Issue (or fail) one approved request. */
  async sync(name: string): Promise<void> {
    const csr = this.lister.get('', name);
    if (!csr || !builtinSigners.includes(csr.spec?.signerName)) return;
    if (!condition(csr, 'Approved') || condition(csr, 'Denied') || condition(csr, 'Failed') || csr.status?.certificate) return;
    let req: RequestInfo;
    let problem: string | undefined;
    try {
      req = await parseRequest(csr.spec.request);
      problem = signerProblem(csr, req);
    } catch (e) {
      return this.fail(csr, `unable to parse csr: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (problem) return this.fail(csr, problem);
    const now = (this.opts.now ?? Date.now)();
    const notBefore = new Date(now - (this.opts.backdateSeconds ?? 300) * 1000);
    let notAfter = new Date(now + this.duration(csr) * 1000);
    const caEnd = await caNotAfter(this.opts.ca.cert);
    if (caEnd && notAfter > caEnd) notAfter = caEnd;
    const pem = await signRequest(this.opts.ca, req, csr.spec.usages, notBefore, notAfter);
    const next = structuredClone(csr);
    (next.status ??= {}).certificate = Buffer.from(pem).toString('base64');
    await this.writeStatus(next);
  }

  private async fail(csr: KObject, message: string): Promise<void> {
    const next = structuredClone(csr);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    (next.status ??= {}).conditions = [
      ...(next.status.conditions ?? []),
      { type: 'Failed', status: 'True', reason: 'SignerValidationFailure', message, lastUpdateTime: now, lastTransitionTime: now },
    ];
    await this.writeStatus(next);
  }

  private async writeStatus(next: KObject): Promise<void> {
    try {
      await this.client.update(resources.certificatesigningrequests, next, 'status');
    } catch (e) {
      if (e instanceof StatusError && (e.code === 409 || e.code === 404)) return;
      throw e;
    }
  }
}

async function caNotAfter(pem: string): Promise<Date | undefined> {
  const { X509Certificate } = await import('node:crypto');
  try {
    return new Date(new X509Certificate(pem).validTo);
  } catch {
    return undefined;
  }
}
