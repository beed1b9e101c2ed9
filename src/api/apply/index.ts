/** Server-side apply and managed-fields tracking. */
export {
  applyConflictError,
  lastAppliedAnnotation,
  serverSideApply,
  updateManagedFields,
  type ApplyConflict,
  type ServerSideApplyOptions,
  type ServerSideApplyResult,
  type UpdateManagedFieldsOptions,
} from './server-side-apply.js';
export { decodeManagedFields, encodeManagedFields, managerId, maxUpdateManagers, type ManagedFieldsEntry } from './managed-fields.js';
export { formatPath, fromFieldsV1, toFieldsV1, type FieldNode } from './field-set.js';
