/**
 * serviceaccounts/token: the TokenRequest API (`kubectl create token`, and kubelets for projected
 * tokens). Issues a signed token for the ServiceAccount, optionally bound to a pod, secret or node
 * that must exist with the given uid.
 */
import { errors, field, type FieldError } from '../../../../api/errors.js';
import type { SubresourceHandler } from '../../../apiserver.js';
import type { BoundObject, ServiceAccountTokens } from '../../../auth/serviceaccount/tokens.js';
import type { KObject } from '../../generic/strategy.js';

const minExpirationSeconds = 600;
const maxExpirationSeconds = 2 ** 32;

const boundKinds: Record<string, { resource: string; namespaced: boolean }> = {
  Pod: { resource: 'pods', namespaced: true },
  Secret: { resource: 'secrets', namespaced: true },
  Node: { resource: 'nodes', namespaced: false },
};

/** The TokenRequest subresource, signing with `tokens`. */
export function serviceAccountTokenSubresource(tokens: ServiceAccountTokens): SubresourceHandler {
  return {
    group: '',
    resource: 'serviceaccounts',
    info: { name: 'token', kind: 'TokenRequest', group: 'authentication.k8s.io', version: 'v1', verbs: ['create'] },
    async handle(ctx) {
      if (ctx.info.verb !== 'create') throw errors.methodNotSupported({ group: '', resource: 'serviceaccounts/token' }, ctx.info.verb);
      const body: KObject = (await ctx.body()) ?? {};
      if (typeof body !== 'object' || Array.isArray(body)) throw errors.badRequest('TokenRequest in version "v1" cannot be handled as a TokenRequest: the body must be an object');
      const spec: KObject = { ...(body.spec ?? {}) };
      spec.expirationSeconds ??= 3600;
      if (!Array.isArray(spec.audiences) || spec.audiences.length === 0) spec.audiences = [...tokens.apiAudiences];
      const errs: FieldError[] = [];
      if (!Number.isInteger(spec.expirationSeconds)) errs.push(field.invalid('spec.expirationSeconds', spec.expirationSeconds, 'must be an integer'));
      else if (spec.expirationSeconds < minExpirationSeconds) errs.push(field.invalid('spec.expirationSeconds', spec.expirationSeconds, 'may not specify a duration less than 10 minutes'));
      else if (spec.expirationSeconds > maxExpirationSeconds) errs.push(field.invalid('spec.expirationSeconds', spec.expirationSeconds, 'may not specify a duration larger than 2^32 seconds'));
      if (spec.audiences.some((a: unknown) => typeof a !== 'string')) errs.push(field.invalid('spec.audiences', spec.audiences, 'must be a list of strings'));
      if (errs.length) throw errors.invalid('authentication.k8s.io', 'TokenRequest', ctx.info.name, errs);

      const ns = ctx.info.namespace;
      const sa = await ctx.store.get({ namespace: ns, name: ctx.info.name });
      let bound: BoundObject | undefined;
      let node: { name: string; uid?: string } | undefined;
      const ref = spec.boundObjectRef;
      if (ref) {
        const k = boundKinds[ref.kind];
        const group = typeof ref.apiVersion === 'string' && ref.apiVersion.includes('/') ? ref.apiVersion.split('/')[0] : '';
        if (!k || group !== '') throw errors.badRequest(`cannot bind token to object of type ${ref.apiVersion ?? ''}, Kind=${ref.kind ?? ''}`);
        if (!ref.name) throw errors.invalid('authentication.k8s.io', 'TokenRequest', ctx.info.name, [field.required('spec.boundObjectRef.name')]);
        const store = ctx.stores('', k.resource);
        if (!store) throw errors.badRequest(`cannot bind token to object of type ${ref.kind}`);
        const obj = await store.get({ namespace: k.namespaced ? ns : '', name: ref.name });
        if (ref.uid && ref.uid !== obj.metadata.uid) {
          throw errors.conflict(
            { group: '', resource: ref.kind },
            ref.name,
            `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
          );
        }
        if (ref.kind === 'Pod') {
          const podSA = obj.spec?.serviceAccountName || 'default';
          if (podSA !== ctx.info.name) throw errors.badRequest(`cannot bind token for serviceaccount "${ctx.info.name}" to pod running with different serviceaccount name.`);
          if (obj.spec?.nodeName) {
            const n = await ctx.stores('', 'nodes')?.get({ namespace: '', name: obj.spec.nodeName }).catch(() => undefined);
            node = { name: obj.spec.nodeName, uid: n?.metadata?.uid };
          }
        }
        bound = { kind: ref.kind, name: ref.name, uid: obj.metadata.uid };
        spec.boundObjectRef = { ...ref, uid: obj.metadata.uid };
      }
      const issued = tokens.issue({
        namespace: ns,
        serviceAccount: { name: sa.metadata.name, uid: sa.metadata.uid },
        audiences: spec.audiences,
        expirationSeconds: spec.expirationSeconds,
        bound,
        node,
      });
      return {
        code: 201,
        body: {
          kind: 'TokenRequest',
          apiVersion: 'authentication.k8s.io/v1',
          metadata: { name: ctx.info.name, namespace: ns, creationTimestamp: null },
          spec,
          status: issued,
        },
      };
    },
  };
}
