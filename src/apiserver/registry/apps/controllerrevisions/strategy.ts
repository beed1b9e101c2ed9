/** apps/v1 controllerrevisions: immutable data, and the Controller/Revision columns. */
import { validateControllerRevision, validateControllerRevisionUpdate } from '../../../../api/validation/apps.js';
import type { KObject, Strategy } from '../../generic/strategy.js';
import { age, ageColumn, col, nameColumn } from '../../strategy-helpers.js';

/** `daemonset.apps/name` for the controlling owner, or `<none>`. */
export function controllerOf(obj: KObject): string {
  const ref = (Array.isArray(obj.metadata?.ownerReferences) ? obj.metadata.ownerReferences : []).find((r: any) => r?.controller === true);
  if (!ref) return '<none>';
  const apiVersion = String(ref.apiVersion ?? '');
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  const kind = String(ref.kind ?? '');
  if (!kind && !group) return ref.name ?? '';
  return `${(group ? `${kind}.${group}` : kind).toLowerCase()}/${ref.name ?? ''}`;
}

/** The controllerrevisions strategy. */
export function controllerRevisionStrategy(): Strategy {
  return {
    info: { group: 'apps', version: 'v1', resource: 'controllerrevisions', singular: 'controllerrevision', kind: 'ControllerRevision', namespaced: true },
    nameValidation: 'dns-subdomain',
    validate: validateControllerRevision,
    validateUpdate: validateControllerRevisionUpdate,
    table: {
      columns: [nameColumn(), col('Controller', 'string', 'Controller of the object'), col('Revision', 'string', 'Revision indicates the revision of the state represented by Data.'), ageColumn()],
      cells: (cr, now) => [cr.metadata?.name ?? '', controllerOf(cr), cr.revision ?? 0, age(cr, now)],
    },
  };
}
