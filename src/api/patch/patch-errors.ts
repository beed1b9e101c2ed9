/**
 * The Status errors the patch handlers answer with, shaped as upstream's
 * (apiserver/pkg/endpoints/handlers/patch.go and mergepatch's sentinel errors).
 */
import { errors, StatusError, type Status } from '../errors.js';

/** Upstream's mergepatch sentinel messages. */
export const mergePatchMessages = {
  badJSONDoc: 'invalid JSON document',
  noListOfLists: 'lists of lists are not supported',
  badPatchFormatForPrimitiveList: 'invalid patch format of primitive list',
  badPatchFormatForRetainKeys: 'invalid patch format of retainKeys',
  badPatchFormatForSetElementOrderList: 'invalid patch format of setElementOrder list',
  patchContentNotMatchRetainKeys: "patch content doesn't match retainKeys list",
} as const;

function withCause(e: StatusError, detail: string): StatusError {
  (e as Error & { cause?: unknown }).cause = new Error(detail);
  return e;
}

/**
 * A patch that does not apply: 422 with upstream's generic text
 * ("the server rejected our request due to an error in our request") and empty details,
 * as NewGenericServerResponse builds it. The specific reason is kept as the error's `cause`.
 */
export function unprocessablePatch(detail: string): StatusError {
  const st: Status = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'the server rejected our request due to an error in our request',
    reason: 'Invalid',
    details: {},
    code: 422,
  };
  return withCause(new StatusError(st), detail);
}

/** A malformed patch: 400 BadRequest carrying the message itself. */
export function badPatch(message: string): StatusError {
  return errors.badRequest(message);
}

/**
 * A failure upstream reports as a plain Go error: 500 with no reason and the bare message
 * (kubectl prints "Error from server: <message>").
 */
export function plainServerError(message: string): StatusError {
  return new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code: 500 });
}
