/**
 * Builds the OpenAPI v3 `paths` of one group-version from the served resources, in the shape the upstream
 * API server publishes: one path item per collection, object, subresource and watch URL, each operation
 * tagged with `x-kubernetes-action` and `x-kubernetes-group-version-kind`.
 */

/** A JSON-compatible OpenAPI object. */
export type JsonObject = { [key: string]: unknown };

/** Group, version and kind of an API type. */
export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** One served resource, as the server's registry describes it. */
export interface OpenAPIResource {
  /** API group; '' for the core group. */
  group: string;
  version: string;
  /** Plural resource name, e.g. 'deployments'. */
  resource: string;
  kind: string;
  namespaced: boolean;
  /** Subresource names, e.g. ['status', 'scale']. */
  subresources: string[];
  /** Discovery verbs: get, list, watch, create, update, patch, delete, deletecollection. */
  verbs: string[];
  /**
   * Schema of the kind when it is not a built-in (e.g. a CRD's openAPIV3Schema). Refs inside it must
   * point at `#/components/schemas/<definition>` names known to the service.
   */
  schema?: JsonObject;
}

/** Resolves a GVK to its schema definition name, or undefined when no schema is known. */
export type DefinitionLookup = (gvk: GroupVersionKind) => string | undefined;

const REF = '#/components/schemas/';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const STATUS_DEF = META + 'Status';
const DELETE_OPTIONS_DEF = META + 'DeleteOptions';
const PATCH_DEF = META + 'Patch';
const WATCH_EVENT_DEF = META + 'WatchEvent';

/** Media types a PATCH accepts; strategic merge patch only exists for built-in kinds. */
export function patchContentTypes(builtin: boolean): string[] {
  const types = ['application/json-patch+json', 'application/merge-patch+json'];
  if (builtin) types.push('application/strategic-merge-patch+json');
  types.push('application/apply-patch+yaml');
  return types;
}

type ParamIn = 'query' | 'path';

function param(name: string, where: ParamIn, type: string, description: string): JsonObject {
  const p: JsonObject = { name, in: where, description, schema: { type, uniqueItems: true } };
  if (where === 'path') p.required = true;
  return p;
}

// Parameter descriptions are k8ts' own wording.
const P = {
  pretty: param('pretty', 'query', 'string', "Pretty-print the output when set to 'true'."),
  dryRun: param('dryRun', 'query', 'string',
    "When set to 'All', the request is validated and processed but nothing is persisted."),
  fieldManager: param('fieldManager', 'query', 'string',
    'Name of the actor making the change; recorded in metadata.managedFields. Required for apply patches.'),
  fieldValidation: param('fieldValidation', 'query', 'string',
    "How to treat unknown or duplicate fields in the request body: 'Ignore', 'Warn' or 'Strict'."),
  force: param('force', 'query', 'boolean',
    'For apply patches only: take ownership of fields owned by other managers instead of reporting a conflict.'),
  allowWatchBookmarks: param('allowWatchBookmarks', 'query', 'boolean',
    'Ask for BOOKMARK watch events, which carry only a resourceVersion.'),
  continue: param('continue', 'query', 'string', 'Token from a previous paged list response to fetch the next page.'),
  fieldSelector: param('fieldSelector', 'query', 'string', 'Restrict the results to objects whose fields match.'),
  labelSelector: param('labelSelector', 'query', 'string', 'Restrict the results to objects whose labels match.'),
  limit: param('limit', 'query', 'integer', 'Maximum number of items in one list response; more pages follow via continue.'),
  resourceVersion: param('resourceVersion', 'query', 'string', 'Resource version the list or watch starts from.'),
  resourceVersionMatch: param('resourceVersionMatch', 'query', 'string',
    'How resourceVersion is applied to a list: Exact or NotOlderThan.'),
  sendInitialEvents: param('sendInitialEvents', 'query', 'boolean',
    'Start a watch with synthetic ADDED events for the current state, followed by a bookmark.'),
  timeoutSeconds: param('timeoutSeconds', 'query', 'integer', 'End the list or watch call after this many seconds.'),
  watch: param('watch', 'query', 'boolean', 'Stream add, update and delete events instead of returning a list.'),
  gracePeriodSeconds: param('gracePeriodSeconds', 'query', 'integer',
    'Seconds to wait before the object is deleted; 0 deletes immediately.'),
  ignoreStoreReadError: param('ignoreStoreReadErrorWithClusterBreakingPotential', 'query', 'boolean',
    'Delete an object even when it cannot be read from storage. Dangerous.'),
  orphanDependents: param('orphanDependents', 'query', 'boolean',
    'Deprecated: use propagationPolicy. Whether dependents are orphaned.'),
  propagationPolicy: param('propagationPolicy', 'query', 'string',
    "How dependents are garbage collected: 'Orphan', 'Background' or 'Foreground'."),
};

const LIST_PARAMS = [P.allowWatchBookmarks, P.continue, P.fieldSelector, P.labelSelector, P.limit,
  P.resourceVersion, P.resourceVersionMatch, P.sendInitialEvents, P.timeoutSeconds, P.watch];
const WRITE_PARAMS = [P.dryRun, P.fieldManager, P.fieldValidation];
const DELETE_PARAMS = [P.dryRun, P.gracePeriodSeconds, P.ignoreStoreReadError, P.orphanDependents, P.propagationPolicy];

const SUB_PARAMS: Record<string, JsonObject[]> = {
  log: [
    param('container', 'query', 'string', 'Container to stream logs from; optional when the pod has one container.'),
    param('follow', 'query', 'boolean', 'Keep streaming as the container writes.'),
    param('insecureSkipTLSVerifyBackend', 'query', 'boolean', 'Skip verifying the kubelet serving certificate.'),
    param('limitBytes', 'query', 'integer', 'Stop after this many bytes.'),
    param('previous', 'query', 'boolean', 'Return the logs of the previous, terminated container instance.'),
    param('sinceSeconds', 'query', 'integer', 'Only logs newer than this many seconds.'),
    param('tailLines', 'query', 'integer', 'Only the last this many lines.'),
    param('timestamps', 'query', 'boolean', 'Prefix each line with an RFC3339 timestamp.'),
  ],
  exec: [
    param('command', 'query', 'string', 'Command to run; repeat the parameter for each argument.'),
    param('container', 'query', 'string', 'Container to run the command in.'),
    param('stderr', 'query', 'boolean', 'Stream standard error.'),
    param('stdin', 'query', 'boolean', 'Stream standard input.'),
    param('stdout', 'query', 'boolean', 'Stream standard output.'),
    param('tty', 'query', 'boolean', 'Allocate a terminal.'),
  ],
  attach: [
    param('container', 'query', 'string', 'Container to attach to.'),
    param('stderr', 'query', 'boolean', 'Stream standard error.'),
    param('stdin', 'query', 'boolean', 'Stream standard input.'),
    param('stdout', 'query', 'boolean', 'Stream standard output.'),
    param('tty', 'query', 'boolean', 'Allocate a terminal.'),
  ],
  portforward: [param('ports', 'query', 'integer', 'Pod ports to forward.')],
  proxy: [param('path', 'query', 'string', 'Path to append to the URL of the proxied request.')],
};

type SubOp = 'get' | 'put' | 'patch' | 'post' | 'connect';

interface SubresourceSpec {
  ops: SubOp[];
  /** Kind served by the subresource; by default the parent's kind. */
  kind?: (parent: GroupVersionKind) => GroupVersionKind;
  /** Plain-text response (logs) instead of an object. */
  text?: boolean;
}

const core = (kind: string): GroupVersionKind => ({ group: '', version: 'v1', kind });

const SUBRESOURCES: Record<string, SubresourceSpec> = {
  status: { ops: ['get', 'put', 'patch'] },
  scale: { ops: ['get', 'put', 'patch'], kind: () => ({ group: 'autoscaling', version: 'v1', kind: 'Scale' }) },
  ephemeralcontainers: { ops: ['get', 'put', 'patch'] },
  resize: { ops: ['get', 'put', 'patch'] },
  approval: { ops: ['get', 'put', 'patch'] },
  finalize: { ops: ['put'] },
  eviction: { ops: ['post'], kind: () => ({ group: 'policy', version: 'v1', kind: 'Eviction' }) },
  binding: { ops: ['post'], kind: () => core('Binding') },
  token: { ops: ['post'], kind: () => ({ group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' }) },
  log: { ops: ['get'], text: true },
  exec: { ops: ['connect'], kind: () => core('PodExecOptions') },
  attach: { ops: ['connect'], kind: () => core('PodAttachOptions') },
  portforward: { ops: ['connect'], kind: () => core('PodPortForwardOptions') },
  proxy: { ops: ['connect'], kind: (p) => core(`${p.kind}ProxyOptions`) },
};

/** 'CoreV1', 'AppsV1', 'RbacAuthorizationV1': the group-version part of upstream operation ids. */
export function gvIdentifier(group: string, version: string): string {
  const g = group === '' ? 'core' : group.replace(/\.k8s\.io$/, '');
  const parts = g.split(/[.-]/).filter(Boolean).map((s) => s[0]!.toUpperCase() + s.slice(1));
  return parts.join('') + version[0]!.toUpperCase() + version.slice(1);
}

/** Tag of the group-version, e.g. 'core_v1', 'apps_v1', 'rbacAuthorization_v1'. */
function gvTag(group: string, version: string): string {
  const id = gvIdentifier(group, version);
  const base = id.slice(0, id.length - version.length);
  return base[0]!.toLowerCase() + base.slice(1) + '_' + version;
}

/** The URL prefix of a group-version: '/api/v1' or '/apis/<group>/<version>'. */
export function gvPrefix(group: string, version: string): string {
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

function ref(def: string): JsonObject {
  return { $ref: REF + def };
}

function content(types: string[], schema: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const t of types) out[t] = { schema };
  return out;
}

const OBJECT_TYPES = ['application/json', 'application/yaml'];
const WATCH_TYPES = ['application/json', 'application/yaml', 'application/json;stream=watch'];

function objectResponses(def: string | undefined, codes: string[]): JsonObject {
  const out: JsonObject = {};
  const descriptions: Record<string, string> = { '200': 'OK', '201': 'Created', '202': 'Accepted' };
  for (const code of codes) {
    out[code] = def
      ? { description: descriptions[code], content: content(OBJECT_TYPES, ref(def)) }
      : { description: descriptions[code] };
  }
  out['401'] = { description: 'Unauthorized' };
  return out;
}

function bodyOf(def: string | undefined, types = ['*/*']): JsonObject {
  return { content: content(types, def ? ref(def) : { type: 'object' }), required: true };
}

/** Inputs for {@link buildPaths}. */
export interface PathsInput {
  resources: OpenAPIResource[];
  lookup: DefinitionLookup;
  /** Whether strategic merge patch is offered for a resource (built-in kinds). */
  isBuiltin: (r: OpenAPIResource) => boolean;
}

/** Builds the sorted `paths` object of the resources of one group-version. */
export function buildPaths({ resources, lookup, isBuiltin }: PathsInput): JsonObject {
  const paths: Record<string, JsonObject> = {};
  const add = (path: string, method: string, op: JsonObject, params: JsonObject[]): void => {
    const item = (paths[path] ??= { parameters: params });
    item[method] = op;
  };

  for (const r of resources) {
    const gv = gvIdentifier(r.group, r.version);
    const tags = [gvTag(r.group, r.version)];
    const gvk: GroupVersionKind = { group: r.group, version: r.version, kind: r.kind };
    const def = lookup(gvk);
    const listDef = lookup({ ...gvk, kind: r.kind + 'List' });
    const verbs = new Set(r.verbs);
    const prefix = gvPrefix(r.group, r.version);
    const scope = r.namespaced ? 'Namespaced' : '';
    const nsPath = r.namespaced ? `${prefix}/namespaces/{namespace}` : prefix;
    const nsParam = param('namespace', 'path', 'string', 'Namespace of the objects.');
    const nameParam = param('name', 'path', 'string', `Name of the ${r.kind}.`);
    const collParams = r.namespaced ? [nsParam, P.pretty] : [P.pretty];
    const objParams = r.namespaced ? [nameParam, nsParam, P.pretty] : [nameParam, P.pretty];
    const op = (action: string, id: string, description: string, extra: JsonObject, kind = gvk): JsonObject => ({
      tags,
      description,
      operationId: id,
      ...extra,
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': kind,
    });
    const collection = `${nsPath}/${r.resource}`;
    const object = `${collection}/{name}`;
    const patchBody = bodyOf(PATCH_DEF, patchContentTypes(isBuiltin(r)));

    if (verbs.has('list')) {
      add(collection, 'get', op('list', `list${gv}${scope}${r.kind}`, `list or watch objects of kind ${r.kind}`, {
        parameters: LIST_PARAMS,
        responses: listResponses(listDef),
      }), collParams);
    }
    if (verbs.has('create')) {
      add(collection, 'post', op('post', `create${gv}${scope}${r.kind}`, `create a ${r.kind}`, {
        parameters: WRITE_PARAMS,
        requestBody: bodyOf(def),
        responses: objectResponses(def, ['200', '201', '202']),
      }), collParams);
    }
    if (verbs.has('deletecollection')) {
      add(collection, 'delete', op('deletecollection', `delete${gv}Collection${scope}${r.kind}`,
        `delete collection of ${r.kind}`, {
          parameters: [...DELETE_PARAMS, ...LIST_PARAMS.filter((p) => p !== P.watch && p !== P.allowWatchBookmarks)],
          requestBody: { content: content(['*/*'], ref(DELETE_OPTIONS_DEF)) },
          responses: objectResponses(STATUS_DEF, ['200']),
        }), collParams);
    }
    if (verbs.has('get')) {
      add(object, 'get', op('get', `read${gv}${scope}${r.kind}`, `read the specified ${r.kind}`, {
        responses: objectResponses(def, ['200']),
      }), objParams);
    }
    if (verbs.has('update')) {
      add(object, 'put', op('put', `replace${gv}${scope}${r.kind}`, `replace the specified ${r.kind}`, {
        parameters: WRITE_PARAMS,
        requestBody: bodyOf(def),
        responses: objectResponses(def, ['200', '201']),
      }), objParams);
    }
    if (verbs.has('patch')) {
      add(object, 'patch', op('patch', `patch${gv}${scope}${r.kind}`, `partially update the specified ${r.kind}`, {
        parameters: [...WRITE_PARAMS, P.force],
        requestBody: patchBody,
        responses: objectResponses(def, ['200', '201']),
      }), objParams);
    }
    if (verbs.has('delete')) {
      add(object, 'delete', op('delete', `delete${gv}${scope}${r.kind}`, `delete a ${r.kind}`, {
        parameters: DELETE_PARAMS,
        requestBody: { content: content(['*/*'], ref(DELETE_OPTIONS_DEF)) },
        responses: objectResponses(STATUS_DEF, ['200', '202']),
      }), objParams);
    }
    if (verbs.has('watch')) {
      const watchOp = (action: string, id: string, description: string): JsonObject =>
        op(action, id, description, { parameters: LIST_PARAMS, responses: watchResponses() });
      add(`${prefix}/watch${nsPath.slice(prefix.length)}/${r.resource}/{name}`, 'get',
        watchOp('watch', `watch${gv}${scope}${r.kind}`, `watch changes to an object of kind ${r.kind}`), objParams);
      add(`${prefix}/watch${nsPath.slice(prefix.length)}/${r.resource}`, 'get',
        watchOp('watchlist', `watch${gv}${scope}${r.kind}List`, `watch individual changes to a list of ${r.kind}`),
        collParams);
    }
    if (r.namespaced && verbs.has('list')) {
      add(`${prefix}/${r.resource}`, 'get', op('list', `list${gv}${r.kind}ForAllNamespaces`,
        `list or watch objects of kind ${r.kind} in all namespaces`, {
          parameters: LIST_PARAMS,
          responses: listResponses(listDef),
        }), [P.pretty]);
      if (verbs.has('watch')) {
        add(`${prefix}/watch/${r.resource}`, 'get', op('watchlist', `watch${gv}${r.kind}ListForAllNamespaces`,
          `watch individual changes to a list of ${r.kind} in all namespaces`, {
            parameters: LIST_PARAMS,
            responses: watchResponses(),
          }), [P.pretty]);
      }
    }

    for (const sub of r.subresources) {
      const spec = SUBRESOURCES[sub] ?? { ops: ['get', 'put', 'patch'] };
      const subGvk = spec.kind ? spec.kind(gvk) : gvk;
      const subDef = spec.kind ? lookup(subGvk) : def;
      const Sub = sub[0]!.toUpperCase() + sub.slice(1);
      const path = `${object}/${sub}`;
      const params = [...objParams.filter((p) => p !== P.pretty), ...(SUB_PARAMS[sub] ?? [P.pretty])];
      for (const kind of spec.ops) {
        switch (kind) {
          case 'get':
            add(path, 'get', op('get', `read${gv}${scope}${r.kind}${Sub}`, `read ${sub} of the specified ${r.kind}`, {
              responses: spec.text
                ? { '200': { description: 'OK', content: content(['text/plain', 'application/json'], { type: 'string' }) },
                  '401': { description: 'Unauthorized' } }
                : objectResponses(subDef, ['200']),
            }, subGvk), params);
            break;
          case 'put':
            add(path, 'put', op('put', `replace${gv}${scope}${r.kind}${Sub}`, `replace ${sub} of the specified ${r.kind}`, {
              parameters: WRITE_PARAMS,
              requestBody: bodyOf(subDef),
              responses: objectResponses(subDef, ['200', '201']),
            }, subGvk), params);
            break;
          case 'patch':
            add(path, 'patch', op('patch', `patch${gv}${scope}${r.kind}${Sub}`,
              `partially update ${sub} of the specified ${r.kind}`, {
                parameters: [...WRITE_PARAMS, P.force],
                requestBody: patchBody,
                responses: objectResponses(subDef, ['200', '201']),
              }, subGvk), params);
            break;
          case 'post':
            add(path, 'post', op('post', `create${gv}${scope}${r.kind}${Sub}`, `create ${sub} of a ${r.kind}`, {
              parameters: WRITE_PARAMS,
              requestBody: bodyOf(subDef),
              responses: objectResponses(subDef, ['200', '201', '202']),
            }, subGvk), params);
            break;
          case 'connect':
            for (const method of ['get', 'post']) {
              const M = method[0]!.toUpperCase() + method.slice(1);
              add(path, method, op('connect', `connect${gv}${M}${scope}${r.kind}${Sub}`,
                `connect ${method.toUpperCase()} requests to ${sub} of ${r.kind}`, {
                  responses: { '200': { description: 'OK', content: content(['*/*'], { type: 'string' }) },
                    '401': { description: 'Unauthorized' } },
                }, subGvk), params);
            }
            break;
        }
      }
    }
  }

  const sorted: JsonObject = {};
  for (const k of Object.keys(paths).sort()) sorted[k] = paths[k];
  return sorted;
}

function listResponses(listDef: string | undefined): JsonObject {
  const schema = listDef ? ref(listDef) : { type: 'object' };
  return {
    '200': { description: 'OK', content: content([...OBJECT_TYPES, 'application/json;stream=watch'], schema) },
    '401': { description: 'Unauthorized' },
  };
}

function watchResponses(): JsonObject {
  return {
    '200': { description: 'OK', content: content(WATCH_TYPES, ref(WATCH_EVENT_DEF)) },
    '401': { description: 'Unauthorized' },
  };
}
