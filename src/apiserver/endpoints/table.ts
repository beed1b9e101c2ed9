/**
 * Server-side Table conversion (meta.k8s.io/v1 Table) for `kubectl get`, with the generic
 * Name / Created At table for kinds without their own columns.
 */
import type { KObject, Strategy, TableColumn } from '../registry/generic/strategy.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

const defaultColumns: TableColumn[] = [
  { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names', priority: 0 },
  { name: 'Created At', type: 'date', description: 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.', priority: 0 },
];

function columnsOf(strategy: Strategy): TableColumn[] {
  return strategy.table?.columns ?? defaultColumns;
}

function cellsOf(strategy: Strategy, obj: KObject, now: Date): unknown[] {
  if (strategy.table) return strategy.table.cells(obj, now);
  return [obj.metadata?.name ?? '', obj.metadata?.creationTimestamp ?? null];
}

function rowObject(obj: KObject, include: IncludeObject): KObject | undefined {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

function renderColumns(cols: TableColumn[]) {
  return cols.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description, priority: c.priority }));
}

/** A Table for a list (or a single object as a one-row list). */
export function toTable(
  strategy: Strategy,
  objs: KObject[],
  opts: { include: IncludeObject; version: 'v1' | 'v1beta1'; listMeta?: Record<string, unknown>; withColumns?: boolean },
): KObject {
  const now = new Date();
  const table: KObject = {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${opts.version}`,
    metadata: opts.listMeta ?? {},
  };
  if (opts.withColumns !== false) table.columnDefinitions = renderColumns(columnsOf(strategy));
  table.rows = objs.map((o) => {
    const row: KObject = { cells: cellsOf(strategy, o, now) };
    const ro = rowObject(o, opts.include);
    if (ro) row.object = ro;
    return row;
  });
  return table;
}

/** A PartialObjectMetadataList, for clients that ask for metadata only. */
export function toPartialList(objs: KObject[], listMeta: Record<string, unknown>): KObject {
  return {
    kind: 'PartialObjectMetadataList',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    items: objs.map((o) => ({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata })),
  };
}
