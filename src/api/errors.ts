/**
 * API errors as metav1.Status, with upstream's reasons, codes and message wording.
 * Errors become HTTP responses in exactly one place (the apiserver's handler).
 */

/** One validation failure, upstream's field.Error. */
export interface FieldError {
  /** Upstream's cause reason, e.g. FieldValueInvalid. */
  type: FieldErrorType;
  /** Field path such as `spec.containers[0].image`. */
  field: string;
  /** The bad value, when the message shows it. */
  value?: unknown;
  /** Detail after the value, e.g. "a lowercase RFC 1123 subdomain must consist of ...". */
  detail?: string;
}

export type FieldErrorType =
  | 'FieldValueNotFound'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'InternalError'
  | 'FieldValueTypeInvalid';

const fieldTypeText: Record<FieldErrorType, string> = {
  FieldValueNotFound: 'Not found',
  FieldValueRequired: 'Required value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  InternalError: 'Internal error',
  FieldValueTypeInvalid: 'Invalid value',
};

/** Builders for field errors, named as upstream's field package. */
export const field = {
  required: (path: string, detail?: string): FieldError => ({ type: 'FieldValueRequired', field: path, detail }),
  invalid: (path: string, value: unknown, detail?: string): FieldError => ({ type: 'FieldValueInvalid', field: path, value, detail }),
  notSupported: (path: string, value: unknown, valid: string[]): FieldError => ({
    type: 'FieldValueNotSupported',
    field: path,
    value,
    detail: valid.length ? `supported values: ${valid.map((v) => JSON.stringify(v)).join(', ')}` : undefined,
  }),
  duplicate: (path: string, value: unknown): FieldError => ({ type: 'FieldValueDuplicate', field: path, value }),
  forbidden: (path: string, detail: string): FieldError => ({ type: 'FieldValueForbidden', field: path, detail }),
  tooLong: (path: string, value: unknown, max: number): FieldError => ({
    type: 'FieldValueTooLong',
    field: path,
    value,
    detail: `must have at most ${max} bytes`,
  }),
  notFound: (path: string, value: unknown): FieldError => ({ type: 'FieldValueNotFound', field: path, value }),
};

/** Go's %#v-ish rendering of a value in a field error message. */
function renderValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** The cause message without the field path: "Invalid value: \"Foo_1\": a lowercase ...". */
export function fieldErrorBody(e: FieldError): string {
  const t = fieldTypeText[e.type];
  const hasValue = e.type !== 'FieldValueRequired' && e.type !== 'FieldValueForbidden' && e.type !== 'FieldValueTooMany' && e.type !== 'InternalError' && 'value' in e && e.value !== undefined;
  let s = t;
  if (hasValue) s += `: ${renderValue(e.value)}`;
  if (e.detail) s += `: ${e.detail}`;
  return s;
}

/** "metadata.name: Invalid value: ..." */
export function fieldErrorString(e: FieldError): string {
  return `${e.field}: ${fieldErrorBody(e)}`;
}

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** metav1.Status */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** An error that is answered with a Status body. */
export class StatusError extends Error {
  constructor(readonly status: Status) {
    super(status.message ?? status.reason ?? 'error');
    this.name = `StatusError(${status.reason ?? status.code})`;
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): string | undefined {
    return this.status.reason;
  }
}

function failure(code: number, reason: string | undefined, message: string, details?: StatusDetails): StatusError {
  const st: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code };
  if (reason) st.reason = reason;
  if (details) st.details = details;
  return new StatusError(st);
}

/** A group-qualified resource, as upstream's schema.GroupResource ("deployments.apps", or "pods"). */
export interface GroupResource {
  group: string;
  resource: string;
}
export function qualifiedResource(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}
function grDetails(gr: GroupResource, name?: string): StatusDetails {
  const d: StatusDetails = {};
  if (name !== undefined) d.name = name;
  if (gr.group) d.group = gr.group;
  d.kind = gr.resource;
  return d;
}

export function successStatus(details?: StatusDetails): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 200 };
  if (details) s.details = details;
  return s;
}

/** Constructors mirroring k8s.io/apimachinery/pkg/api/errors. */
export const errors = {
  notFound: (gr: GroupResource, name: string) =>
    failure(404, 'NotFound', `${qualifiedResource(gr)} "${name}" not found`, grDetails(gr, name)),
  alreadyExists: (gr: GroupResource, name: string) =>
    failure(409, 'AlreadyExists', `${qualifiedResource(gr)} "${name}" already exists`, grDetails(gr, name)),
  conflict: (gr: GroupResource, name: string, why: string) =>
    failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(gr)} "${name}": ${why}`, grDetails(gr, name)),
  /** The optimistic-concurrency conflict message. */
  modified: (gr: GroupResource, name: string) =>
    errors.conflict(gr, name, 'the object has been modified; please apply your changes to the latest version and try again'),
  invalid: (group: string, kind: string, name: string, errs: FieldError[]) => {
    const qkind = group ? `${kind}.${group}` : kind;
    const list = errs.map(fieldErrorString);
    const agg = list.length === 1 ? list[0] : `[${list.join(', ')}]`;
    const details: StatusDetails = { name, kind };
    if (group) details.group = group;
    details.causes = errs.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field }));
    return failure(422, 'Invalid', `${qkind} "${name}" is invalid: ${agg}`, details);
  },
  badRequest: (message: string) => failure(400, 'BadRequest', message),
  methodNotSupported: (gr: GroupResource, verb: string) =>
    failure(405, 'MethodNotAllowed', `${verb} is not supported on resources of kind "${qualifiedResource(gr)}"`, grDetails(gr)),
  notAcceptable: (message: string) => failure(406, 'NotAcceptable', message),
  unsupportedMediaType: (contentType: string) =>
    failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got ${contentType})`),
  requestEntityTooLarge: (message = 'the request body is too large') => failure(413, 'RequestEntityTooLarge', `Request entity too large: ${message}`),
  gone: (message: string) => failure(410, 'Expired', message),
  resourceExpired: (message: string) => failure(410, 'Expired', message),
  unauthorized: (message = 'Unauthorized') => failure(401, 'Unauthorized', message),
  forbidden: (gr: GroupResource, name: string, message: string) =>
    failure(403, 'Forbidden', `${qualifiedResource(gr)}${name ? ` "${name}"` : ''} is forbidden: ${message}`, grDetails(gr, name || undefined)),
  tooManyRequests: (message: string, retryAfterSeconds = 1) =>
    failure(429, 'TooManyRequests', message, { retryAfterSeconds }),
  timeout: (message: string) => failure(504, 'Timeout', message),
  serviceUnavailable: (message: string) => failure(503, 'ServiceUnavailable', message),
  internal: (message: string) => failure(500, 'InternalError', `Internal error occurred: ${message}`),
  notFoundPath: () => failure(404, 'NotFound', 'the server could not find the requested resource', {}),
};
