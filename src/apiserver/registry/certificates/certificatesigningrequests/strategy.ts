/**
 * certificates.k8s.io/v1 CertificateSigningRequests (upstream's pkg/registry/certificates): the
 * request is immutable, approval conditions change only through `/approval`, the issued
 * certificate only through `/status`. The requestor fields are set by the csr-requestor
 * admission plugin, since a strategy does not see the user.
 */
import { errors, field, type FieldError } from '../../../../api/errors.js';
import { humanDuration } from '../../../../api/duration.js';
import type { SubresourceHandler } from '../../../apiserver.js';
import { nowRFC3339 } from '../../generic/store.js';
import type { KObject, StatusStrategy, Strategy } from '../../generic/strategy.js';
import { age, col, nameColumn, ageColumn } from '../../strategy-helpers.js';
import { parseCSR, pemBlock } from './pkcs10.js';

const gr = { group: 'certificates.k8s.io', resource: 'certificatesigningrequests' };

/** Key usages a CSR may ask for (certificates/v1 KeyUsage). */
export const keyUsages = [
  'signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment',
  'cert sign', 'crl sign', 'encipher only', 'decipher only', 'any', 'server auth', 'client auth', 'code signing',
  'email protection', 's/mime', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing',
  'microsoft sgc', 'netscape sgc',
];

const approvalTypes = ['Approved', 'Denied'];
const builtinTypes = ['Approved', 'Denied', 'Failed'];

/** `example.com/signer-name`: a DNS subdomain, a slash, and a path. */
function validateSignerName(p: string, v: unknown): FieldError[] {
  if (typeof v !== 'string' || v === '') return [field.required(p, '')];
  const i = v.indexOf('/');
  const domain = i < 0 ? v : v.slice(0, i);
  const path = i < 0 ? '' : v.slice(i + 1);
  if (i < 0 || !path) return [field.invalid(p, v, "must be a fully qualified domain and path of the form 'example.com/signer-name'")];
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/.test(domain) || domain.length > 253) {
    return [field.invalid(p, v, "the domain portion must be a fully qualified domain name, e.g. 'example.com'")];
  }
  if (v.length > 571) return [field.tooLong(p, v, 571)];
  return [];
}

function validateSpec(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = obj.spec ?? {};
  if (typeof spec.request !== 'string' || !spec.request) {
    errs.push(field.required('spec.request', ''));
  } else {
    let pem: string;
    try {
      // The API field is []byte: base64 on the wire.
      pem = Buffer.from(spec.request, 'base64').toString('utf8');
      parseCSR(pem);
    } catch (e) {
      errs.push(field.invalid('spec.request', '[omitted]', e instanceof Error ? e.message : String(e)));
    }
  }
  errs.push(...validateSignerName('spec.signerName', spec.signerName));
  if (!Array.isArray(spec.usages) || spec.usages.length === 0) errs.push(field.required('spec.usages', 'usages must be provided'));
  else {
    const seen = new Set<string>();
    spec.usages.forEach((u: unknown, i: number) => {
      if (typeof u !== 'string' || !keyUsages.includes(u)) errs.push(field.notSupported(`spec.usages[${i}]`, u, keyUsages));
      else if (seen.has(u)) errs.push(field.duplicate(`spec.usages[${i}]`, u));
      else seen.add(u);
    });
  }
  if (spec.expirationSeconds !== undefined && spec.expirationSeconds !== null) {
    if (!Number.isInteger(spec.expirationSeconds) || spec.expirationSeconds < 600) {
      errs.push(field.invalid('spec.expirationSeconds', spec.expirationSeconds, 'may not specify a duration less than 600 seconds (10 minutes)'));
    }
  }
  return errs;
}

function validateConditions(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const conds = obj.status?.conditions;
  if (conds === undefined || conds === null) return errs;
  if (!Array.isArray(conds)) return [field.invalid('status.conditions', conds, 'must be a list')];
  const seen = new Set<string>();
  conds.forEach((c: any, i: number) => {
    const p = `status.conditions[${i}]`;
    if (!c?.type) {
      errs.push(field.required(`${p}.type`, ''));
      return;
    }
    if (builtinTypes.includes(c.type)) {
      if (seen.has(c.type)) errs.push(field.duplicate(`${p}.type`, c.type));
      if (c.status !== 'True') errs.push(field.notSupported(`${p}.status`, c.status ?? '', ['True']));
    } else if (!['True', 'False', 'Unknown'].includes(c.status)) {
      errs.push(field.notSupported(`${p}.status`, c.status ?? '', ['False', 'True', 'Unknown']));
    }
    seen.add(c.type);
  });
  if (seen.has('Approved') && seen.has('Denied')) {
    errs.push(field.invalid('status.conditions', 'Denied', 'Approved and Denied conditions are mutually exclusive'));
  }
  return errs;
}

function validateCertificate(obj: KObject): FieldError[] {
  const cert = obj.status?.certificate;
  if (cert === undefined || cert === null || cert === '') return [];
  let text: string;
  try {
    text = Buffer.from(cert, 'base64').toString('utf8');
  } catch {
    return [field.invalid('status.certificate', '<certificate data>', 'must be base64 encoded PEM')];
  }
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]);
  if (!blocks.length || !pemBlock(text)) return [field.invalid('status.certificate', '<certificate data>', 'must contain at least one CERTIFICATE PEM block')];
  const other = blocks.find((b) => b !== 'CERTIFICATE');
  if (other) return [field.invalid('status.certificate', '<certificate data>', `only CERTIFICATE PEM blocks are allowed, found "${other}"`)];
  return [];
}

function hasCondition(obj: KObject, type: string): boolean {
  return (obj.status?.conditions ?? []).some((c: any) => c?.type === type && c.status === 'True');
}

/** Conditions and certificate rules every status or approval update shares. */
function validateStatusUpdate(obj: KObject, old: KObject): FieldError[] {
  const errs = [...validateConditions(obj), ...validateCertificate(obj)];
  for (const t of approvalTypes) {
    if (hasCondition(old, t) && !hasCondition(obj, t)) errs.push(field.forbidden('status.conditions', `updates may not remove a condition of type "${t}"`));
  }
  const oldCert = old.status?.certificate;
  if (oldCert && obj.status?.certificate !== oldCert) errs.push(field.invalid('status.certificate', '[omitted]', 'updates may not modify existing certificate content'));
  if (obj.status?.certificate && !oldCert && hasCondition(obj, 'Denied')) errs.push(field.invalid('status.certificate', '[omitted]', 'certificate cannot be set on a denied request'));
  return errs;
}

/** Fill missing lastUpdateTime/lastTransitionTime; keep lastTransitionTime when the status did not change. */
function populateConditionTimestamps(obj: KObject, old: KObject): void {
  const now = nowRFC3339();
  for (const c of obj.status?.conditions ?? []) {
    if (!c || typeof c !== 'object') continue;
    c.lastUpdateTime ??= now;
    if (!c.lastTransitionTime) {
      const prev = (old.status?.conditions ?? []).find((o: any) => o?.type === c.type);
      c.lastTransitionTime = prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
    }
  }
}

/** Everything but status comes from the stored object (spec is immutable). */
function keepAllButStatus(obj: KObject, old: KObject): void {
  for (const k of Object.keys(obj)) if (!['status', 'metadata', 'apiVersion', 'kind'].includes(k)) delete obj[k];
  for (const k of Object.keys(old)) if (!['status', 'metadata', 'apiVersion', 'kind'].includes(k)) obj[k] = structuredClone(old[k]);
}

/** `/status`: the signer writes the certificate and non-approval conditions (Failed). */
const csrStatusStrategy: StatusStrategy = {
  prepareForUpdate(obj, old) {
    keepAllButStatus(obj, old);
    const st = (obj.status ??= {});
    const fresh = (Array.isArray(st.conditions) ? st.conditions : []).filter((c: any) => !approvalTypes.includes(c?.type));
    const kept = (old.status?.conditions ?? []).filter((c: any) => approvalTypes.includes(c?.type));
    st.conditions = [...fresh, ...structuredClone(kept)];
    if (!st.conditions.length) delete st.conditions;
    populateConditionTimestamps(obj, old);
  },
  validateUpdate: validateStatusUpdate,
};

/** The kubectl CONDITION cell: Pending, or the true conditions joined, plus Issued. */
export function csrConditionText(obj: KObject): string {
  const conds: string[] = [];
  for (const c of obj.status?.conditions ?? []) {
    if (c?.type && c.status === 'True') conds.push(c.type);
  }
  if (!conds.length) conds.push('Pending');
  if (obj.status?.certificate) conds.push('Issued');
  return conds.join(',');
}

/** The certificatesigningrequests strategy. */
export function csrStrategy(): Strategy {
  return {
    info: {
      group: 'certificates.k8s.io',
      version: 'v1',
      resource: 'certificatesigningrequests',
      singular: 'certificatesigningrequest',
      kind: 'CertificateSigningRequest',
      namespaced: false,
      shortNames: ['csr'],
    },
    // Upstream does not care what a CSR is called beyond being usable in a path.
    nameValidation: 'path-segment',
    prepareForCreate(obj) {
      // No pre-approved or pre-issued requests.
      obj.status = {};
    },
    prepareForUpdate(obj, old) {
      keepAllButStatus(obj, old);
      if (old.status === undefined) delete obj.status;
      else obj.status = structuredClone(old.status);
    },
    validate: (obj) => [...validateSpec(obj), ...validateConditions(obj)],
    validateUpdate: (obj) => [...validateSpec(obj), ...validateConditions(obj)],
    status: csrStatusStrategy,
    table: {
      columns: [
        nameColumn(),
        ageColumn(),
        col('SignerName', 'string', 'Name of the signer the request is for.'),
        col('Requestor', 'string', 'Name of the user that created the request.'),
        col('RequestedDuration', 'string', 'Requested lifetime of the issued certificate.'),
        col('Condition', 'string', 'Approval and issuance state of the request.'),
      ],
      cells: (o, now) => [
        o.metadata?.name ?? '',
        age(o, now),
        o.spec?.signerName ?? '',
        o.spec?.username ?? '',
        typeof o.spec?.expirationSeconds === 'number' ? humanDuration(o.spec.expirationSeconds * 1000) : '<none>',
        csrConditionText(o),
      ],
    },
  };
}

/**
 * `certificatesigningrequests/approval`: the only way to add Approved or Denied (what
 * `kubectl certificate approve|deny` PUTs). Spec and certificate stay as stored.
 */
export const csrApprovalSubresource: SubresourceHandler = {
  group: 'certificates.k8s.io',
  resource: 'certificatesigningrequests',
  info: { name: 'approval', kind: 'CertificateSigningRequest', verbs: ['get', 'update'] },
  async handle(ctx) {
    if (ctx.info.verb === 'get') return { code: 200, body: await ctx.store.get({ namespace: '', name: ctx.info.name }) };
    if (ctx.info.verb !== 'update') throw errors.methodNotSupported({ ...gr, resource: `${gr.resource}/approval` }, ctx.info.verb);
    const body = await ctx.body();
    if (!body || typeof body !== 'object') throw errors.badRequest('the request body must be a CertificateSigningRequest');
    if (body.metadata?.name !== undefined && body.metadata.name !== ctx.info.name) {
      throw errors.badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${ctx.info.name})`);
    }
    const dryRun = (ctx.query.getAll('dryRun') ?? []).includes('All');
    const out = await ctx.store.guaranteedUpdate({ namespace: '', name: ctx.info.name }, (current) => {
      const rv = body.metadata?.resourceVersion;
      if (rv && rv !== current.metadata.resourceVersion) throw errors.modified(ctx.store.gr, ctx.info.name);
      if (body.metadata?.uid && body.metadata.uid !== current.metadata.uid) {
        throw errors.conflict(ctx.store.gr, ctx.info.name, `Precondition failed: UID in precondition: ${body.metadata.uid}, UID in object meta: ${current.metadata.uid}`);
      }
      const next = structuredClone(current);
      const conds = body.status?.conditions;
      next.status ??= {};
      if (Array.isArray(conds) && conds.length) next.status.conditions = structuredClone(conds);
      else delete next.status.conditions;
      populateConditionTimestamps(next, current);
      const errs = validateStatusUpdate(next, current);
      if (errs.length) throw errors.invalid(gr.group, 'CertificateSigningRequest', ctx.info.name, errs);
      return next;
    }, { subresource: 'approval', user: ctx.user, dryRun, fieldManager: ctx.query.get('fieldManager') ?? undefined });
    return { code: 200, body: out };
  },
};
