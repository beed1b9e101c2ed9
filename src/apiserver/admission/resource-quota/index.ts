/**
 * ResourceQuota admission (upstream's apiserver admission/plugin/resourcequota): a namespaced
 * write that would take any quota of its namespace past status.hard is refused, and an admitted
 * one is charged to the quotas' status.used before it is stored. The charge is an optimistic
 * read-modify-write of each quota, re-checked against the stored figures on every attempt, so
 * concurrent writes (on this or another server) can never overshoot a quota together. The quota
 * controller later recomputes status.used from the objects themselves.
 *
 * Usage rules live in src/api/quota, shared with the controller. Put this plugin last among the
 * validating plugins: a refusal after it leaves a charge the controller only corrects later.
 */
import { errors, StatusError } from '../../../api/errors.js';
import { checkQuotas, evaluatorFor, recheckQuota, refundQuota, type QuotaEvaluator, type QuotaRequest, type ResourceList } from '../../../api/quota/index.js';
import { validateMetaFor, type Store } from '../../registry/generic/store.js';
import type { KObject } from '../../registry/generic/strategy.js';
import type { AdmissionAttributes, AdmissionPlugin } from '../index.js';

function nameOf(obj: KObject): string {
  return obj?.metadata?.name || obj?.metadata?.generateName || '';
}

function isNotFound(e: unknown): boolean {
  return e instanceof StatusError && e.code === 404;
}

/**
 * Whether the store is about to refuse the write anyway: invalid (validation runs after admission
 * here, before it upstream) or, for a create, a name already taken. Such writes are not charged.
 */
async function doomed(a: AdmissionAttributes): Promise<boolean> {
  const st = a.store.strategy;
  const obj = a.object;
  const errs =
    a.operation === 'CREATE'
      ? [...validateMetaFor(st, obj), ...(st.validate?.(obj) ?? [])]
      : [...validateMetaFor(st, obj, a.oldObject), ...((a.oldObject && st.validateUpdate ? st.validateUpdate(obj, a.oldObject) : st.validate?.(obj)) ?? [])];
  if (errs.length) return true;
  if (a.operation !== 'CREATE') return false;
  try {
    await a.store.get({ namespace: obj.metadata.namespace, name: obj.metadata.name });
    return true;
  } catch {
    return false;
  }
}

/** Give back charges already made for a write that was then refused (best effort). */
async function refund(store: Store, namespace: string, charged: { name: string; delta: ResourceList }[]): Promise<void> {
  for (const c of charged) {
    await store
      .guaranteedUpdate(
        { namespace, name: c.name },
        (cur) => {
          cur.status = { ...(cur.status ?? {}), used: refundQuota(cur, c.delta) };
          return cur;
        },
        { subresource: 'status' },
      )
      .catch(() => undefined);
  }
}

/**
 * Check the write against the namespace's quotas and charge it; throws 403 Forbidden to refuse.
 * Writes no quota can apply to are answered synchronously (no promise for the chain to await).
 */
function admit(a: AdmissionAttributes): Promise<void> | void {
  // Subresources (status, binding, ...) never change usage, as upstream.
  if (a.subresource !== '') return;
  if (a.operation !== 'CREATE' && a.operation !== 'UPDATE') return;
  if (!a.store.strategy.info.namespaced) return;
  const namespace: string | undefined = a.object?.metadata?.namespace;
  if (!namespace) return;
  const ev = evaluatorFor(a.store.gr);
  if (!ev || !ev.handles(a.operation)) return;
  const quotaStore = a.lookup('', 'resourcequotas');
  if (!quotaStore) return;
  return charge(a, a.operation, namespace, ev, quotaStore);
}

async function charge(a: AdmissionAttributes, operation: 'CREATE' | 'UPDATE', namespace: string, ev: QuotaEvaluator, quotaStore: Store): Promise<void> {
  // Which quotas apply comes from the cache; charging re-reads each one (guaranteedUpdate).
  const quotas = await a.cached.list('', 'resourcequotas', namespace);
  if (quotas.length === 0) return;

  const req: QuotaRequest = { operation, object: a.object, oldObject: a.oldObject };
  const now = new Date();
  const refuse = (message: string) => errors.forbidden(a.store.gr, nameOf(a.object), message);
  const plan = checkQuotas(quotas, req, ev, now);
  if ('refuse' in plan) throw refuse(plan.refuse);
  // Dry runs are checked but never charged.
  if (a.dryRun || plan.charges.length === 0) return;
  if (await doomed(a)) return;

  const charged: { name: string; delta: ResourceList }[] = [];
  try {
    for (const c of plan.charges) {
      const name: string = c.quota.metadata.name;
      let delta: ResourceList | undefined;
      try {
        await quotaStore.guaranteedUpdate(
          { namespace, name },
          (cur) => {
            // Re-evaluated on the stored quota on every attempt: concurrent charges are seen.
            const o = recheckQuota(cur, req, ev, now);
            if (o.kind === 'refuse') throw refuse(o.message);
            delta = undefined;
            if (o.kind === 'skip') return cur;
            delta = o.delta;
            cur.status = { ...(cur.status ?? {}), used: o.used };
            return cur;
          },
          { subresource: 'status' },
        );
      } catch (e) {
        // The quota went away since it was listed: it no longer limits anything.
        if (isNotFound(e)) continue;
        throw e;
      }
      if (delta) charged.push({ name, delta });
    }
  } catch (e) {
    await refund(quotaStore, namespace, charged);
    throw e;
  }
}

/** The ResourceQuota admission plugin (validating). */
export const resourceQuota: AdmissionPlugin = {
  name: 'ResourceQuota',
  validate: admit,
};
