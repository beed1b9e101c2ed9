/**
 * Defaults of the smaller core/v1 kinds and of the other groups' kinds.
 */

type Obj = Record<string, any>;

/** Namespace: the `kubernetes.io/metadata.name` label and phase Active. */
export function defaultNamespace(ns: Obj): Obj {
  const meta = (ns.metadata ??= {});
  if (meta.name) meta.labels = { ...(meta.labels ?? {}), 'kubernetes.io/metadata.name': meta.name };
  const status = (ns.status ??= {});
  if (!status.phase) status.phase = 'Active';
  return ns;
}

/** Node: allocatable defaults to capacity. */
export function defaultNode(node: Obj): Obj {
  const st = node.status;
  if (st && st.capacity && (st.allocatable === undefined || st.allocatable === null)) st.allocatable = { ...st.capacity };
  return node;
}

/** Secret: type Opaque, and `stringData` folded into base64 `data` (as upstream's conversion does). */
export function defaultSecret(secret: Obj): Obj {
  if (!secret.type) secret.type = 'Opaque';
  if (secret.stringData && typeof secret.stringData === 'object') {
    const data = (secret.data ??= {});
    for (const [k, v] of Object.entries(secret.stringData)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  }
  delete secret.stringData;
  return secret;
}

/** Endpoints: port protocol TCP. */
export function defaultEndpoints(ep: Obj): Obj {
  for (const ss of Array.isArray(ep.subsets) ? ep.subsets : []) {
    for (const p of Array.isArray(ss?.ports) ? ss.ports : []) if (!p.protocol) p.protocol = 'TCP';
  }
  return ep;
}

/** LimitRange: for Container limits, default ← max, defaultRequest ← default, then min. */
export function defaultLimitRange(lr: Obj): Obj {
  for (const item of Array.isArray(lr.spec?.limits) ? lr.spec.limits : []) {
    if (item?.type !== 'Container') continue;
    const def = (item.default ??= {});
    const req = (item.defaultRequest ??= {});
    for (const [k, v] of Object.entries(item.max ?? {})) if (!(k in def)) def[k] = v;
    for (const [k, v] of Object.entries(def)) if (!(k in req)) req[k] = v;
    for (const [k, v] of Object.entries(item.min ?? {})) if (!(k in req)) req[k] = v;
  }
  return lr;
}

/** EndpointSlice: port name `''` and protocol TCP. */
export function defaultEndpointSlice(es: Obj): Obj {
  for (const p of Array.isArray(es.ports) ? es.ports : []) {
    if (p.name === undefined || p.name === null) p.name = '';
    if (!p.protocol) p.protocol = 'TCP';
  }
  return es;
}

/** PriorityClass: preemptionPolicy PreemptLowerPriority. */
export function defaultPriorityClass(pc: Obj): Obj {
  if (!pc.preemptionPolicy) pc.preemptionPolicy = 'PreemptLowerPriority';
  return pc;
}

/** PodDisruptionBudget: nothing is defaulted in policy/v1; kept for symmetry. */
export function defaultPodDisruptionBudget(pdb: Obj): Obj {
  return pdb;
}
