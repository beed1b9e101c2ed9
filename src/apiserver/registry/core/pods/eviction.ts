/**
 * pods/eviction: a pod delete that PodDisruptionBudgets may refuse, as upstream's EvictionREST
 * (pkg/registry/core/pod/storage/eviction.go) and `kubectl drain` rely on it.
 *
 * - Pods that are Pending, finished or already terminating are deleted without a budget check.
 * - A pod under exactly one budget needs that budget's controller to have seen its latest spec
 *   (observedGeneration) and to allow a disruption; the eviction then takes one allowed disruption
 *   and records the pod in `status.disruptedPods`, so the controller counts it as gone until it is.
 * - An unready pod does not take from the budget: it may go when the budget is currently met
 *   (IfHealthyBudget, the default) or always (AlwaysAllow).
 * - Refusals are 429 TooManyRequests with a DisruptionBudget cause, which clients retry.
 * - The pod gets the DisruptionTarget condition before it is deleted.
 */
import { errors, StatusError, type Status } from '../../../../api/errors.js';
import { labelSelectorObjectMatches } from '../../../../api/labels/index.js';
import { updateDisruptionAllowedCondition } from '../../../../api/policy/disruption.js';
import { rfc3339 } from '../../../../base/time.js';
import type { KObject } from '../../generic/strategy.js';
import type { SubresourceContext, SubresourceHandler } from '../../../apiserver.js';
import type { DeleteOptions, Store } from '../../generic/store.js';

/** Upstream's MaxDisruptedPodSize: more unconfirmed evictions than this means the controller is not keeping up. */
export const MAX_DISRUPTED_PODS = 2000;

const TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget.";
const pdbResource = { group: 'policy', resource: 'poddisruptionbudget' };
const now = () => rfc3339();

/** A 429 with the DisruptionBudget cause; retryAfterSeconds 0 is left out, as Go's omitempty does. */
function tooManyRequests(cause: string, retryAfterSeconds: number): StatusError {
  const st: Status = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: TOO_MANY,
    reason: 'TooManyRequests',
    details: { causes: [{ reason: 'DisruptionBudget', message: cause }], ...(retryAfterSeconds ? { retryAfterSeconds } : {}) },
    code: 429,
  };
  return new StatusError(st);
}

const stillProcessing = (pdb: string) => tooManyRequests(`The disruption budget ${pdb} is still being processed by the server.`, 10);

function isReady(pod: KObject): boolean {
  return (pod.status?.conditions ?? []).some((c: KObject) => c?.type === 'Ready' && c.status === 'True');
}

/** Upstream's canIgnorePDB: the pod cannot count as available any more, or never did. */
function canIgnoreBudget(pod: KObject): boolean {
  const phase = pod.status?.phase ?? 'Pending';
  return phase === 'Pending' || phase === 'Succeeded' || phase === 'Failed' || !!pod.metadata?.deletionTimestamp;
}

/** Whether a delete of this pod must be pinned to the version that was checked (not for finished or terminating pods). */
function pinVersion(pod: KObject): boolean {
  const phase = pod.status?.phase;
  return !(phase === 'Succeeded' || phase === 'Failed' || pod.metadata?.deletionTimestamp);
}

/** The request's dry-run choice merged with the one in the Eviction's deleteOptions (upstream's propagateDryRun). */
function mergedDryRun(query: URLSearchParams, opts: KObject): boolean {
  const fromQuery = query.getAll('dryRun');
  const fromBody: unknown = opts.dryRun;
  if (fromBody !== undefined && !Array.isArray(fromBody)) throw errors.badRequest('deleteOptions.dryRun must be a list');
  const body = (fromBody as unknown[] | undefined) ?? [];
  if (fromQuery.length && body.length && JSON.stringify(fromQuery) !== JSON.stringify(body)) {
    throw errors.badRequest(`Non-matching dry-run options in request and content: [${fromQuery.join(' ')}] and [${body.join(' ')}]`);
  }
  const all = body.length ? body : fromQuery;
  for (const v of all) if (v !== 'All') throw errors.badRequest(`Invalid dryRun value: "${v}"; only "All" is supported`);
  return all.length > 0;
}

/** Upstream's checkAndDecrement, on the budget as stored now: throws the refusal, or takes one disruption. */
function checkAndDecrement(pdb: KObject, podName: string, dryRun: boolean): void {
  const st = (pdb.status ??= {});
  const name = pdb.metadata.name;
  if ((st.observedGeneration ?? 0) < (pdb.metadata.generation ?? 0)) throw stillProcessing(name);
  const allowed = st.disruptionsAllowed ?? 0;
  if (allowed < 0) throw errors.forbidden(pdbResource, name, 'pdb disruptions allowed is negative');
  if (Object.keys(st.disruptedPods ?? {}).length > MAX_DISRUPTED_PODS) {
    throw errors.forbidden(pdbResource, name, 'DisruptedPods map too big - too many evictions not confirmed by PDB controller');
  }
  if (allowed === 0) throw tooManyRequests(`The disruption budget ${name} needs ${st.desiredHealthy ?? 0} healthy pods and has ${st.currentHealthy ?? 0} currently`, 0);
  st.disruptionsAllowed = allowed - 1;
  if (st.disruptionsAllowed === 0) updateDisruptionAllowedCondition(st, Date.now());
  if (dryRun) return;
  st.disruptedPods = { ...(st.disruptedPods ?? {}), [podName]: now() };
}

/** Marks the pod as a disruption target, then deletes it; a pinned version follows the condition's own write. */
async function addConditionAndDelete(pods: Store, ctx: SubresourceContext, opts: DeleteOptions): Promise<void> {
  const ref = { namespace: ctx.info.namespace, name: ctx.info.name };
  if (!opts.dryRun) {
    const pre = opts.preconditions;
    const updated = await pods.guaranteedUpdate(
      ref,
      (pod) => {
        if (pre?.uid && pre.uid !== pod.metadata.uid) {
          throw errors.conflict({ group: '', resource: 'Pod' }, ctx.info.name, `the UID in the precondition (${pre.uid}) does not match the UID in record (${pod.metadata.uid}). The object might have been deleted and then recreated`);
        }
        if (pre?.resourceVersion && pre.resourceVersion !== pod.metadata.resourceVersion) {
          throw errors.conflict({ group: '', resource: 'Pod' }, ctx.info.name, `the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${pod.metadata.resourceVersion}). The object might have been modified`);
        }
        const conds: KObject[] = ((pod.status ??= {}).conditions ??= []);
        const cond = { type: 'DisruptionTarget', status: 'True', lastProbeTime: null, lastTransitionTime: now(), reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' };
        const i = conds.findIndex((c) => c?.type === 'DisruptionTarget');
        if (i < 0) conds.push(cond);
        else conds[i] = { ...cond, lastTransitionTime: conds[i]!.status === 'True' ? conds[i]!.lastTransitionTime : cond.lastTransitionTime };
        return pod;
      },
      { subresource: 'status', user: ctx.user },
    );
    if (pre?.resourceVersion) opts = { ...opts, preconditions: { ...pre, resourceVersion: updated.metadata.resourceVersion } };
  }
  await pods.delete(ref, opts);
}

const isConflict = (e: unknown) => e instanceof StatusError && e.code === 409;

/** The pods/eviction subresource. */
export const podEviction: SubresourceHandler = {
  group: '',
  resource: 'pods',
  info: { name: 'eviction', kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] },
  async handle(ctx) {
    if (ctx.info.verb !== 'create') throw errors.methodNotSupported({ group: '', resource: 'pods/eviction' }, ctx.info.verb);
    const ev = await ctx.body();
    if (ev?.metadata?.name && ev.metadata.name !== ctx.info.name) throw errors.badRequest('name in URL does not match name in Eviction object');
    const o: KObject = ev?.deleteOptions ?? {};
    const dryRun = mergedDryRun(ctx.query, o);
    const original: DeleteOptions = {
      gracePeriodSeconds: typeof o.gracePeriodSeconds === 'number' ? o.gracePeriodSeconds : undefined,
      preconditions: o.preconditions ? { uid: o.preconditions.uid ?? undefined, resourceVersion: o.preconditions.resourceVersion ?? undefined } : undefined,
      propagationPolicy: o.propagationPolicy ?? undefined,
      dryRun,
      user: ctx.user,
    };
    const pods = ctx.store;
    const ref = { namespace: ctx.info.namespace, name: ctx.info.name };
    const pinnedByCaller = !!original.preconditions?.resourceVersion;
    const done = { code: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } };

    // Pods that need no budget check go at once; a conflict (the pod changed under us) is retried
    // unless the caller pinned a version.
    let pod: KObject;
    for (let attempt = 0; ; attempt++) {
      pod = await pods.get(ref);
      if (!canIgnoreBudget(pod)) break;
      const opts = pinVersion(pod) && !pinnedByCaller ? { ...original, preconditions: { ...original.preconditions, resourceVersion: pod.metadata.resourceVersion } } : original;
      try {
        await addConditionAndDelete(pods, ctx, opts);
        return done;
      } catch (e) {
        if (!isConflict(e) || pinnedByCaller || attempt >= 20) throw e;
      }
    }

    const budgets = ctx.stores('policy', 'poddisruptionbudgets');
    const matching = budgets ? (await budgets.list(ctx.info.namespace)).items.filter((b) => labelSelectorObjectMatches(b.spec?.selector, pod.metadata?.labels)) : [];
    if (matching.length > 1) {
      return { code: 500, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.', code: 500 } };
    }
    let pinToChecked = false;
    const pdb = matching[0];
    if (pdb && budgets) {
      const st = pdb.status ?? {};
      const unhealthyGoes = !isReady(pod) && (pdb.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow' || ((st.currentHealthy ?? 0) >= (st.desiredHealthy ?? 0) && (st.desiredHealthy ?? 0) > 0));
      if (unhealthyGoes) {
        // An unready pod takes nothing from the budget, as long as it does not turn ready meanwhile.
        pinToChecked = true;
      } else if (dryRun) {
        checkAndDecrement(await budgets.get({ namespace: ctx.info.namespace, name: pdb.metadata.name }), ctx.info.name, true);
      } else {
        await budgets.guaranteedUpdate(
          { namespace: ctx.info.namespace, name: pdb.metadata.name },
          (current) => {
            checkAndDecrement(current, ctx.info.name, false);
            return current;
          },
          { subresource: 'status', user: ctx.user },
        );
      }
    }

    const opts = pinToChecked ? { ...original, preconditions: { ...original.preconditions, resourceVersion: pod.metadata.resourceVersion } } : original;
    try {
      await addConditionAndDelete(pods, ctx, opts);
    } catch (e) {
      // The pod changed since it was found unready: the client should ask again.
      if (isConflict(e) && pinToChecked && !pinnedByCaller) throw stillProcessing(pdb!.metadata.name);
      throw e;
    }
    return done;
  },
};
