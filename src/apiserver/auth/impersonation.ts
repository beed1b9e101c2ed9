/**
 * Impersonation (`kubectl --as`, `--as-group`, `--as-uid`): the Impersonate-* headers replace the
 * requesting user, when the requester may `impersonate` each part (upstream's
 * apiserver/pkg/endpoints/filters/impersonation.go).
 */
import type { IncomingMessage } from 'node:http';
import { errors } from '../../api/errors.js';
import type { UserInfo } from './authenticator.js';
import { forbiddenMessage, type AuthorizationAttributes, type Authorizer } from './authorizer.js';

const extraPrefix = 'impersonate-extra-';
const serviceAccountPrefix = 'system:serviceaccount:';

function headerValues(req: IncomingMessage, name: string): string[] {
  const raw = req.headersDistinct?.[name] ?? [];
  return raw.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/** The user a request acts as: `user` itself, or whom its Impersonate-* headers name. */
export async function impersonatedUser(req: IncomingMessage, user: UserInfo, authorizer: Authorizer): Promise<{ user: UserInfo; impersonated: boolean }> {
  // Most requests impersonate no one: look no further (headersDistinct builds an object per call).
  let any = false;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const h = req.rawHeaders[i];
    // First letter before lowercasing: a request's other headers then cost no string each.
    if (h.length > 11 && (h.charCodeAt(0) | 0x20) === 0x69 && h.toLowerCase().startsWith('impersonate-')) {
      any = true;
      break;
    }
  }
  if (!any) return { user, impersonated: false };
  const names = headerValues(req, 'impersonate-user');
  const groups = headerValues(req, 'impersonate-group');
  const uids = headerValues(req, 'impersonate-uid');
  const extra: Record<string, string[]> = {};
  for (const h of Object.keys(req.headers)) {
    if (!h.startsWith(extraPrefix)) continue;
    // Keys are percent-encoded in the header name (upstream decodes them).
    const key = decodeURIComponent(h.slice(extraPrefix.length)).toLowerCase();
    extra[key] = headerValues(req, h);
  }
  if (!names.length && !groups.length && !uids.length && !Object.keys(extra).length) return { user, impersonated: false };
  if (names.length !== 1) throw errors.badRequest('requested impersonation of groups, uid or extra without impersonating a user');
  if (uids.length > 1) throw errors.badRequest('only one Impersonate-Uid header may be given');

  const check = async (a: Omit<AuthorizationAttributes, 'user' | 'verb' | 'isResourceRequest' | 'path' | 'apiVersion' | 'subresource'> & { subresource?: string }) => {
    const attrs: AuthorizationAttributes = { user, verb: 'impersonate', isResourceRequest: true, path: '', apiVersion: '', subresource: '', ...a };
    const r = await authorizer.authorize(attrs);
    if (r.decision !== 'allow') throw errors.forbidden({ group: a.apiGroup, resource: a.resource }, a.name, forbiddenMessage(attrs) + (r.reason ? `: ${r.reason}` : ''));
  };

  const username = names[0];
  const out: UserInfo = { username, groups: [], extra: Object.keys(extra).length ? extra : undefined };
  if (username.startsWith(serviceAccountPrefix)) {
    const [ns, name] = username.slice(serviceAccountPrefix.length).split(':');
    if (!ns || !name) throw errors.badRequest(`invalid service account username "${username}"`);
    await check({ namespace: ns, apiGroup: '', resource: 'serviceaccounts', name });
    out.groups.push('system:serviceaccounts', `system:serviceaccounts:${ns}`);
  } else {
    await check({ namespace: '', apiGroup: '', resource: 'users', name: username });
  }
  for (const g of groups) {
    await check({ namespace: '', apiGroup: '', resource: 'groups', name: g });
    if (!out.groups.includes(g)) out.groups.push(g);
  }
  if (uids.length) {
    await check({ namespace: '', apiGroup: 'authentication.k8s.io', resource: 'uids', name: uids[0] });
    out.uid = uids[0];
  }
  for (const [k, vs] of Object.entries(extra)) {
    for (const v of vs) await check({ namespace: '', apiGroup: 'authentication.k8s.io', resource: 'userextras', subresource: k, name: v });
  }
  // Everyone impersonated is authenticated, except the anonymous user and the unauthenticated group.
  if (username !== 'system:anonymous' && !out.groups.includes('system:unauthenticated') && !out.groups.includes('system:authenticated')) {
    out.groups.push('system:authenticated');
  }
  return { user: out, impersonated: true };
}
