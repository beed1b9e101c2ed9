/**
 * Pieces the per-kind strategies share: column definitions, age and container cells, and the
 * usual status/spec carry-over rules of upstream's strategies.
 */
import { translateTimestampSince } from '../../api/duration.js';
import { labelSelectorFromObject, selectorString } from '../../api/labels/label-selector.js';
import type { KObject, ScaleStrategy, StatusStrategy, TableColumn } from './generic/strategy.js';
import type { FieldError } from '../../api/errors.js';

/** Upstream's ObjectMeta swagger text for `name`. */
export const nameDescription =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
/** Upstream's ObjectMeta swagger text for `creationTimestamp`. */
export const ageDescription =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

/** A column definition. */
export function col(name: string, type: TableColumn['type'], description: string, priority = 0, format?: string): TableColumn {
  const c: TableColumn = { name, type, description, priority };
  if (format !== undefined) c.format = format;
  return c;
}

/** The `Name` column. */
export const nameColumn = (): TableColumn => col('Name', 'string', nameDescription, 0, 'name');
/** The `Age` column. */
export const ageColumn = (): TableColumn => col('Age', 'string', ageDescription);
/** The wide `Containers` column. */
export const containersColumn = (): TableColumn => col('Containers', 'string', 'Names of each container in the template.', 1);
/** The wide `Images` column. */
export const imagesColumn = (): TableColumn => col('Images', 'string', 'Images referenced by each container in the template.', 1);

/** The object's age cell. */
export function age(obj: KObject, now: Date): string {
  return translateTimestampSince(obj.metadata?.creationTimestamp, now);
}

/** Container names and images joined by commas (upstream's layoutContainerCells). */
export function containerCells(containers: unknown): [string, string] {
  const cs = Array.isArray(containers) ? containers : [];
  return [cs.map((c: any) => c?.name ?? '').join(','), cs.map((c: any) => c?.image ?? '').join(',')];
}

/** A number cell (int64 in upstream). */
export function int(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** `spec.selector` as a selector string, `''` when empty, undefined when invalid. */
export function selectorStringOf(sel: unknown): string | undefined {
  try {
    return selectorString(labelSelectorFromObject(sel as any));
  } catch {
    return undefined;
  }
}

/** Start a new object with an empty status (upstream's PrepareForCreate for most kinds). */
export function resetStatus(obj: KObject): void {
  obj.status = {};
}

/** Keep the stored status on a main-resource update. */
export function keepStatus(obj: KObject, old: KObject): void {
  if (old.status === undefined) delete obj.status;
  else obj.status = structuredClone(old.status);
}

/**
 * A status strategy: everything but `status` comes from the stored object. With `resetMeta`,
 * labels, annotations, finalizers and ownerReferences are also kept (upstream's
 * ResetObjectMetaForStatus); `keepMeta` names the metadata fields to keep instead.
 */
export function statusStrategy(
  opts: { resetMeta?: boolean; validate?: (obj: KObject, old: KObject) => FieldError[]; keepOwnerReferences?: boolean; keepMeta?: string[] } = {},
): StatusStrategy {
  return {
    prepareForUpdate(obj: KObject, old: KObject) {
      for (const k of Object.keys(obj)) if (!['status', 'metadata', 'apiVersion', 'kind'].includes(k)) delete obj[k];
      for (const k of Object.keys(old)) if (!['status', 'metadata', 'apiVersion', 'kind'].includes(k)) obj[k] = structuredClone(old[k]);
      const meta = (obj.metadata ??= {});
      const om = old.metadata ?? {};
      const keep = opts.keepMeta ?? (opts.resetMeta ? ['labels', 'annotations', 'finalizers', 'ownerReferences'] : opts.keepOwnerReferences ? ['ownerReferences'] : []);
      for (const f of keep) {
        if (om[f] === undefined) delete meta[f];
        else meta[f] = structuredClone(om[f]);
      }
    },
    validateUpdate: opts.validate,
  };
}

/** `/scale` for a kind with spec.replicas, status.replicas and spec.selector. */
export function replicasScale(): ScaleStrategy {
  return {
    specReplicas: (obj) => int(obj.spec?.replicas),
    setSpecReplicas: (obj, n) => {
      (obj.spec ??= {}).replicas = n;
    },
    statusReplicas: (obj) => int(obj.status?.replicas),
    selector: (obj) => selectorStringOf(obj.spec?.selector) ?? '',
  };
}

/** `true`/`false` as field-selector values print booleans. */
export function boolField(v: unknown): string {
  return v === true ? 'true' : 'false';
}
