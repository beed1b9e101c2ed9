/**
 * Parses a request path into what it addresses (upstream's RequestInfoFactory):
 * `/api/v1/namespaces/ns/pods/name/sub` and `/apis/g/v/...`.
 */

export interface RequestInfo {
  isResourceRequest: boolean;
  path: string;
  /** get, list, watch, create, update, patch, delete, deletecollection (resource requests), or the HTTP method lowercased. */
  verb: string;
  apiPrefix?: 'api' | 'apis';
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  /** Path segments after the GV prefix, for non-resource handling of `/apis/g` and `/apis/g/v`. */
  parts: string[];
}

/** Decides whether `/…/namespaces/X/Y` addresses a namespaced resource Y, given the GV's resources. */
export type IsNamespacedResource = (group: string, version: string, resource: string) => boolean;

export function parseRequestInfo(method: string, pathname: string, query: URLSearchParams): RequestInfo {
  const info: RequestInfo = {
    isResourceRequest: false,
    path: pathname,
    verb: method.toLowerCase(),
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    parts: [],
  };
  const segs = pathname.split('/').filter((s) => s !== '');
  let i = 0;
  if (segs[0] === 'api') {
    info.apiPrefix = 'api';
    if (segs.length < 2) return info;
    info.apiVersion = segs[1];
    i = 2;
  } else if (segs[0] === 'apis') {
    info.apiPrefix = 'apis';
    if (segs.length < 3) {
      info.apiGroup = segs[1] ?? '';
      return info;
    }
    info.apiGroup = segs[1];
    info.apiVersion = segs[2];
    i = 3;
  } else {
    return info;
  }
  let rest = segs.slice(i).map((s) => {
    // Most segments have no escapes: nothing to decode.
    if (!s.includes('%')) return s;
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  info.parts = rest;
  if (rest.length === 0) return info;
  info.isResourceRequest = true;
  // `watch` as a path prefix is deprecated upstream but still served.
  let watchPath = false;
  if (rest[0] === 'watch') {
    watchPath = true;
    rest = rest.slice(1);
  }
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    // /namespaces/{ns}/{resource}[/{name}[/{sub}]]; `/namespaces/{name}/status|finalize` is the namespace itself
    if (rest[2] === 'status' || rest[2] === 'finalize') {
      if (rest.length === 3) {
        info.resource = 'namespaces';
        info.name = rest[1];
        info.subresource = rest[2];
        rest = [];
      }
    }
    if (rest.length) {
      info.namespace = rest[1];
      rest = rest.slice(2);
    }
  } else if (rest[0] === 'namespaces' && rest.length === 2) {
    info.resource = 'namespaces';
    info.name = rest[1];
    rest = [];
  }
  if (rest.length) {
    info.resource = rest[0];
    info.name = rest[1] ?? '';
    info.subresource = rest.slice(2).join('/');
  }
  const m = method.toUpperCase();
  if (m === 'GET' || m === 'HEAD') {
    const watch = watchPath || query.get('watch') === 'true' || query.get('watch') === '1';
    if (info.name && !info.subresource) info.verb = watch ? 'watch' : 'get';
    else if (!info.name) info.verb = watch ? 'watch' : 'list';
    else info.verb = 'get';
  } else if (m === 'POST') info.verb = 'create';
  else if (m === 'PUT') info.verb = 'update';
  else if (m === 'PATCH') info.verb = 'patch';
  else if (m === 'DELETE') info.verb = info.name ? 'delete' : 'deletecollection';
  return info;
}
