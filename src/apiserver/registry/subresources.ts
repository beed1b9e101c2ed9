/**
 * Subresources beyond status and scale: pods/binding, pods/eviction, namespaces/finalize, and the
 * streaming pod subresources (log, exec, attach, portforward), proxied to the pod's kubelet
 * (core/pods/kubelet-proxy.ts).
 */
import { errors, successStatus } from '../../api/errors.js';
import type { SubresourceContext, SubresourceHandler } from '../apiserver.js';
import { podEviction } from './core/pods/eviction.js';
import { kubeletProxy, type KubeletClientConfig } from './core/pods/kubelet-proxy.js';
import { csrApprovalSubresource } from './certificates/certificatesigningrequests/strategy.js';
import { rfc3339 } from '../../base/time.js';

/** pods/binding: the scheduler's only way to set spec.nodeName. */
const podBinding: SubresourceHandler = {
  group: '',
  resource: 'pods',
  info: { name: 'binding', kind: 'Binding', verbs: ['create'] },
  async handle(ctx: SubresourceContext) {
    if (ctx.info.verb !== 'create') throw errors.methodNotSupported({ group: '', resource: 'pods/binding' }, ctx.info.verb);
    const b = await ctx.body();
    const target = b?.target;
    if (!target?.name) {
      throw errors.invalid('', 'Binding', ctx.info.name, [{ type: 'FieldValueRequired', field: 'target.name' }]);
    }
    if (target.kind && target.kind !== 'Node') {
      throw errors.invalid('', 'Binding', ctx.info.name, [{ type: 'FieldValueNotSupported', field: 'target.kind', value: target.kind, detail: 'supported values: "Node"' }]);
    }
    await ctx.store.guaranteedUpdate({ namespace: ctx.info.namespace, name: ctx.info.name }, (pod) => {
      if (b?.metadata?.uid && b.metadata.uid !== pod.metadata.uid) {
        throw errors.conflict(ctx.store.gr, ctx.info.name, `Precondition failed: UID in precondition: ${b.metadata.uid}, UID in object meta: ${pod.metadata.uid}`);
      }
      if (pod.metadata.deletionTimestamp) throw errors.conflict(ctx.store.gr, ctx.info.name, 'pod is being deleted, cannot be assigned to a host');
      if (pod.spec?.nodeName) throw errors.conflict(ctx.store.gr, ctx.info.name, `pod ${ctx.info.name} is already assigned to node "${pod.spec.nodeName}"`);
      pod.spec.nodeName = target.name;
      const conds: any[] = (pod.status ??= {}).conditions ?? [];
      const now = rfc3339();
      const scheduled = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now };
      const i = conds.findIndex((c) => c.type === 'PodScheduled');
      if (i >= 0) conds[i] = scheduled;
      else conds.push(scheduled);
      pod.status.conditions = conds;
      if (b?.metadata?.annotations) pod.metadata.annotations = { ...pod.metadata.annotations, ...b.metadata.annotations };
      return pod;
    }, { subresource: 'binding', user: ctx.user, direct: true });
    return { code: 201, body: successStatus() };
  },
};

/** namespaces/finalize: the namespace controller's way to clear spec.finalizers. */
const namespaceFinalize: SubresourceHandler = {
  group: '',
  resource: 'namespaces',
  info: { name: 'finalize', kind: 'Namespace', verbs: ['update'] },
  async handle(ctx) {
    if (ctx.info.verb !== 'update') throw errors.methodNotSupported({ group: '', resource: 'namespaces/finalize' }, ctx.info.verb);
    const body = await ctx.body();
    const finalizers: unknown = body?.spec?.finalizers ?? [];
    if (!Array.isArray(finalizers)) throw errors.badRequest('spec.finalizers must be a list');
    const out = await ctx.store.guaranteedUpdate({ namespace: '', name: ctx.info.name }, (ns) => {
      if (body?.metadata?.resourceVersion && body.metadata.resourceVersion !== ns.metadata.resourceVersion) throw errors.modified(ctx.store.gr, ctx.info.name);
      (ns.spec ??= {}).finalizers = finalizers;
      if (!finalizers.length) delete ns.spec.finalizers;
      return ns;
    }, { subresource: 'finalize', user: ctx.user });
    return { code: 200, body: out };
  },
};

/** Options of {@link builtinSubresources}. */
export interface SubresourceOptions {
  /** The client certificate for kubelets; without it the streaming subresources answer 503. */
  kubeletClient?: KubeletClientConfig;
}

export function builtinSubresources(o: SubresourceOptions = {}): SubresourceHandler[] {
  return [
    podBinding,
    podEviction,
    namespaceFinalize,
    csrApprovalSubresource,
    kubeletProxy('log', 'Pod', ['get'], o.kubeletClient),
    kubeletProxy('exec', 'PodExecOptions', ['create', 'get'], o.kubeletClient),
    kubeletProxy('attach', 'PodAttachOptions', ['create', 'get'], o.kubeletClient),
    kubeletProxy('portforward', 'PodPortForwardOptions', ['create', 'get'], o.kubeletClient),
  ];
}
