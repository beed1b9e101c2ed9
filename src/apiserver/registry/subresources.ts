/**
 * Subresources beyond status and scale: pods/binding, pods/eviction, namespaces/finalize, and the
 * streaming pod subresources (log, exec, attach, portforward), which answer with a clear error
 * until a node agent serves them.
 */
import { errors, successStatus } from '../../api/errors.js';
import type { SubresourceContext, SubresourceHandler } from '../apiserver.js';

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
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const scheduled = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now };
      const i = conds.findIndex((c) => c.type === 'PodScheduled');
      if (i >= 0) conds[i] = scheduled;
      else conds.push(scheduled);
      pod.status.conditions = conds;
      if (b?.metadata?.annotations) pod.metadata.annotations = { ...pod.metadata.annotations, ...b.metadata.annotations };
      return pod;
    }, { subresource: 'binding' });
    return { code: 201, body: successStatus() };
  },
};

/** pods/eviction: a delete that disruption budgets may refuse (429), as `kubectl drain` uses it. */
const podEviction: SubresourceHandler = {
  group: '',
  resource: 'pods',
  info: { name: 'eviction', kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] },
  async handle(ctx) {
    if (ctx.info.verb !== 'create') throw errors.methodNotSupported({ group: '', resource: 'pods/eviction' }, ctx.info.verb);
    const ev = await ctx.body();
    if (ev?.metadata?.name && ev.metadata.name !== ctx.info.name) {
      throw errors.badRequest(`name in URL does not match name in Eviction object`);
    }
    const opts = ev?.deleteOptions ?? {};
    await ctx.store.delete(
      { namespace: ctx.info.namespace, name: ctx.info.name },
      { gracePeriodSeconds: opts.gracePeriodSeconds ?? undefined, preconditions: opts.preconditions, dryRun: Array.isArray(opts.dryRun) && opts.dryRun.includes('All') },
    );
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
    }, { subresource: 'finalize' });
    return { code: 200, body: out };
  },
};

function noAgent(name: string, kind: string, verbs: string[]): SubresourceHandler {
  return {
    group: '',
    resource: 'pods',
    info: { name, kind, verbs },
    async handle(ctx) {
      const pod = await ctx.store.get({ namespace: ctx.info.namespace, name: ctx.info.name });
      const node = pod.spec?.nodeName;
      if (!node) throw errors.badRequest(`pod ${ctx.info.name} does not have a host assigned`);
      throw errors.serviceUnavailable(`no node agent serves ${name} for node "${node}" yet`);
    },
  };
}

export function builtinSubresources(): SubresourceHandler[] {
  return [
    podBinding,
    podEviction,
    namespaceFinalize,
    noAgent('log', 'Pod', ['get']),
    noAgent('exec', 'PodExecOptions', ['create', 'get']),
    noAgent('attach', 'PodAttachOptions', ['create', 'get']),
    noAgent('portforward', 'PodPortForwardOptions', ['create', 'get']),
  ];
}
