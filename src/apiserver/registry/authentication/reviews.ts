/**
 * authentication.k8s.io/v1 reviews: TokenReview (is this bearer token valid, and whose is it) and
 * SelfSubjectReview (`kubectl auth whoami`). Neither is stored.
 */
import { errors, field } from '../../../api/errors.js';
import type { VirtualResource } from '../../apiserver.js';
import type { TokenSource, UserInfo } from '../../auth/authenticator.js';

function userInfo(u: UserInfo): Record<string, unknown> {
  const out: Record<string, unknown> = { username: u.username };
  if (u.uid) out.uid = u.uid;
  out.groups = u.groups;
  if (u.extra && Object.keys(u.extra).length) out.extra = u.extra;
  return out;
}

/** TokenReview, answered by the server's bearer token sources. */
export function tokenReviewResource(tokens: TokenSource): VirtualResource {
  return {
    info: { group: 'authentication.k8s.io', version: 'v1', resource: 'tokenreviews', singular: 'tokenreview', kind: 'TokenReview', namespaced: false, verbs: ['create'] },
    async create({ body }) {
      const spec = body.spec ?? {};
      if (typeof spec.token !== 'string' || spec.token === '') {
        throw errors.invalid('authentication.k8s.io', 'TokenReview', body.metadata?.name ?? '', [field.required('spec.token')]);
      }
      const audiences: string[] | undefined = Array.isArray(spec.audiences) && spec.audiences.length ? spec.audiences : undefined;
      const r = await Promise.resolve(tokens.authenticateToken(spec.token, audiences)).catch(() => undefined);
      const status: Record<string, unknown> = r
        ? { authenticated: true, user: userInfo(r.user), audiences: r.audiences ?? audiences ?? [] }
        : { authenticated: false, user: {}, error: '[invalid bearer token, token lookup failed]' };
      return { metadata: { creationTimestamp: null }, spec, status };
    },
  };
}

/** SelfSubjectReview: who the server thinks the caller is. */
export function selfSubjectReviewResource(): VirtualResource {
  return {
    info: { group: 'authentication.k8s.io', version: 'v1', resource: 'selfsubjectreviews', singular: 'selfsubjectreview', kind: 'SelfSubjectReview', namespaced: false, verbs: ['create'] },
    async create({ user }) {
      return { metadata: { creationTimestamp: null }, status: { userInfo: userInfo(user) } };
    },
  };
}
