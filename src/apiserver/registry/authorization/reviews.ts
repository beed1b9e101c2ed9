/**
 * authorization.k8s.io/v1 access reviews: create-only, unstored questions to the authorizer
 * (`kubectl auth can-i`, webhooks). SubjectAccessReview asks for any user, LocalSubjectAccessReview
 * for any user within the URL's namespace, SelfSubjectAccessReview for the caller, and
 * SelfSubjectRulesReview lists the caller's rules in a namespace (`kubectl auth can-i --list`).
 */
import { errors, field, type FieldError } from '../../../api/errors.js';
import { semanticEqual } from '../../../api/validation/helpers.js';
import type { VirtualResource, VirtualResourceContext } from '../../apiserver.js';
import type { UserInfo } from '../../auth/authenticator.js';
import type { AuthorizationAttributes, Authorizer } from '../../auth/authorizer.js';
import type { KObject, ResourceInfo } from '../generic/strategy.js';

const group = 'authorization.k8s.io';

function info(resource: string, kind: string, namespaced: boolean): ResourceInfo {
  return { group, version: 'v1', resource, singular: resource.replace(/s$/, ''), kind, namespaced, verbs: ['create'] };
}

const isSet = (v: unknown): v is KObject => v !== undefined && v !== null && typeof v === 'object';

/** Upstream's ValidateSelfSubjectAccessReviewSpec: exactly one of resourceAttributes and nonResourceAttributes. */
function validateAttributesUnion(spec: KObject): FieldError[] {
  const errs: FieldError[] = [];
  if (isSet(spec.resourceAttributes) && isSet(spec.nonResourceAttributes)) {
    errs.push(field.invalid('spec.nonResourceAttributes', spec.nonResourceAttributes, 'cannot be specified in combination with resourceAttributes'));
  }
  if (!isSet(spec.resourceAttributes) && !isSet(spec.nonResourceAttributes)) {
    errs.push(field.invalid('spec.resourceAttributes', null, 'exactly one of nonResourceAttributes or resourceAttributes must be specified'));
  }
  return errs;
}

/** Upstream's ValidateSubjectAccessReviewSpec: the union, and a user or a group. */
function validateSubjectSpec(spec: KObject): FieldError[] {
  const errs = validateAttributesUnion(spec);
  const groups = Array.isArray(spec.groups) ? spec.groups : [];
  if (!spec.user && groups.length === 0) errs.push(field.invalid('spec.user', spec.user ?? '', 'at least one of user or group must be specified'));
  return errs;
}

/** Metadata other than managedFields (and, for local reviews, namespace) must be empty. */
function metadataEmpty(meta: KObject | undefined, except: string[] = []): boolean {
  const m: KObject = { ...(meta ?? {}) };
  for (const k of ['managedFields', ...except]) delete m[k];
  return semanticEqual(m, {});
}

/** Upstream's AuthorizationAttributesFrom. */
function attributesFrom(user: UserInfo, spec: KObject): AuthorizationAttributes {
  const ra = spec.resourceAttributes;
  if (isSet(ra)) {
    return {
      user,
      verb: ra.verb ?? '',
      isResourceRequest: true,
      path: '',
      namespace: ra.namespace ?? '',
      apiGroup: ra.group ?? '',
      apiVersion: ra.version ?? '',
      resource: ra.resource ?? '',
      subresource: ra.subresource ?? '',
      name: ra.name ?? '',
    };
  }
  const nra = spec.nonResourceAttributes ?? {};
  return { user, verb: nra.verb ?? '', isResourceRequest: false, path: nra.path ?? '', namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '' };
}

/** The review's status as upstream fills it (allowed always; denied, reason and evaluationError when set). */
async function decide(z: Authorizer, a: AuthorizationAttributes): Promise<KObject> {
  const status: KObject = { allowed: false };
  try {
    const r = await z.authorize(a);
    status.allowed = r.decision === 'allow';
    if (r.decision === 'deny') status.denied = true;
    if (r.reason) status.reason = r.reason;
  } catch (e) {
    status.evaluationError = e instanceof Error ? e.message : String(e);
  }
  return status;
}

function subjectFromSpec(spec: KObject): UserInfo {
  const u: UserInfo = { username: spec.user ?? '', groups: Array.isArray(spec.groups) ? [...spec.groups] : [] };
  if (spec.uid) u.uid = spec.uid;
  if (isSet(spec.extra)) u.extra = spec.extra as Record<string, string[]>;
  return u;
}

function body(ctx: VirtualResourceContext): KObject {
  const b = ctx.body;
  if (!isSet(b)) throw errors.badRequest('the request body must be an object');
  return b;
}

function selfSubjectAccessReviews(): VirtualResource {
  return {
    info: info('selfsubjectaccessreviews', 'SelfSubjectAccessReview', false),
    async create(ctx) {
      const b = body(ctx);
      const spec: KObject = isSet(b.spec) ? b.spec : {};
      const errs = validateAttributesUnion(spec);
      if (!metadataEmpty(b.metadata)) errs.push(field.invalid('metadata', b.metadata, 'must be empty'));
      if (errs.length) throw errors.invalid(group, 'SelfSubjectAccessReview', '', errs);
      const status = await decide(ctx.authorizer, attributesFrom(ctx.user, spec));
      return { metadata: b.metadata ?? {}, spec, status };
    },
  };
}

function subjectAccessReviews(): VirtualResource {
  return {
    info: info('subjectaccessreviews', 'SubjectAccessReview', false),
    async create(ctx) {
      const b = body(ctx);
      const spec: KObject = isSet(b.spec) ? b.spec : {};
      const errs = validateSubjectSpec(spec);
      if (!metadataEmpty(b.metadata)) errs.push(field.invalid('metadata', b.metadata, 'must be empty'));
      if (errs.length) throw errors.invalid(group, 'SubjectAccessReview', '', errs);
      const status = await decide(ctx.authorizer, attributesFrom(subjectFromSpec(spec), spec));
      return { metadata: b.metadata ?? {}, spec, status };
    },
  };
}

function localSubjectAccessReviews(): VirtualResource {
  return {
    info: info('localsubjectaccessreviews', 'LocalSubjectAccessReview', true),
    async create(ctx) {
      const b = body(ctx);
      const metadata: KObject = { ...(isSet(b.metadata) ? b.metadata : {}) };
      // As the generic create handler does: the object takes the URL's namespace.
      if (!metadata.namespace) metadata.namespace = ctx.namespace;
      const spec: KObject = isSet(b.spec) ? structuredClone(b.spec) : {};
      if (isSet(spec.resourceAttributes) && !spec.resourceAttributes.namespace) spec.resourceAttributes.namespace = metadata.namespace;
      const errs = validateSubjectSpec(spec);
      if (!metadataEmpty(metadata, ['namespace'])) errs.push(field.invalid('metadata', metadata, 'must be empty except for namespace'));
      if (isSet(spec.resourceAttributes) && spec.resourceAttributes.namespace !== metadata.namespace) {
        errs.push(field.invalid('spec.resourceAttributes.namespace', spec.resourceAttributes.namespace, 'must match metadata.namespace'));
      }
      if (isSet(spec.nonResourceAttributes)) errs.push(field.invalid('spec.nonResourceAttributes', spec.nonResourceAttributes, 'disallowed on this kind of request'));
      if (errs.length) throw errors.invalid(group, 'LocalSubjectAccessReview', '', errs);
      if (!ctx.namespace) throw errors.badRequest(`namespace is required on this type: ${ctx.namespace}`);
      if (ctx.namespace !== metadata.namespace) throw errors.badRequest(`spec.resourceAttributes.namespace must match namespace: ${ctx.namespace}`);
      const status = await decide(ctx.authorizer, attributesFrom(subjectFromSpec(spec), spec));
      return { metadata, spec, status };
    },
  };
}

function selfSubjectRulesReviews(): VirtualResource {
  return {
    info: info('selfsubjectrulesreviews', 'SelfSubjectRulesReview', false),
    async create(ctx) {
      const b = body(ctx);
      const namespace: string = b.spec?.namespace ?? '';
      if (!namespace) throw errors.badRequest('no namespace on request');
      const status: KObject = { resourceRules: [], nonResourceRules: [], incomplete: false };
      try {
        const r = await ctx.authorizer.rulesFor(ctx.user, namespace);
        status.resourceRules = r.resourceRules;
        status.nonResourceRules = r.nonResourceRules;
        status.incomplete = r.incomplete;
        if (r.evaluationError) status.evaluationError = r.evaluationError;
      } catch (e) {
        status.incomplete = true;
        status.evaluationError = e instanceof Error ? e.message : String(e);
      }
      // As upstream, the answer carries only the status.
      return { metadata: {}, spec: {}, status };
    },
  };
}

/** The four authorization.k8s.io/v1 review resources. */
export function accessReviewResources(): VirtualResource[] {
  return [localSubjectAccessReviews(), selfSubjectAccessReviews(), selfSubjectRulesReviews(), subjectAccessReviews()];
}
