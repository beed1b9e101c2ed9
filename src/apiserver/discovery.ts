/**
 * API discovery, legacy (APIVersions, APIGroupList, APIResourceList) and aggregated
 * (apidiscovery.k8s.io v2 and v2beta1), computed once from the served resources.
 */
import type { ResourceInfo } from './registry/generic/strategy.js';

/** A subresource as discovery reports it. */
export interface SubresourceInfo {
  name: string;
  /** The kind the subresource takes or returns. */
  kind: string;
  group?: string;
  version?: string;
  verbs: string[];
}

export interface ServedResource {
  info: ResourceInfo;
  subresources: SubresourceInfo[];
}

const allVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** Group order as upstream lists them (core first, then apps, ...). */
const groupPriority = [
  '',
  'apps',
  'events.k8s.io',
  'authentication.k8s.io',
  'authorization.k8s.io',
  'autoscaling',
  'batch',
  'certificates.k8s.io',
  'networking.k8s.io',
  'policy',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'scheduling.k8s.io',
  'coordination.k8s.io',
  'node.k8s.io',
  'discovery.k8s.io',
  'flowcontrol.apiserver.k8s.io',
  'metrics.k8s.io',
];

export class Discovery {
  private readonly byGV = new Map<string, ServedResource[]>();
  private readonly groups: { name: string; versions: string[] }[] = [];
  private cache = new Map<string, string>();

  constructor(resources: ServedResource[]) {
    for (const r of resources) {
      const gv = r.info.group ? `${r.info.group}/${r.info.version}` : r.info.version;
      let list = this.byGV.get(gv);
      if (!list) this.byGV.set(gv, (list = []));
      list.push(r);
      let g = this.groups.find((x) => x.name === r.info.group);
      if (!g) this.groups.push((g = { name: r.info.group, versions: [] }));
      if (!g.versions.includes(r.info.version)) g.versions.push(r.info.version);
    }
    const prio = (n: string) => {
      const i = groupPriority.indexOf(n);
      return i < 0 ? groupPriority.length : i;
    };
    this.groups.sort((a, b) => prio(a.name) - prio(b.name) || a.name.localeCompare(b.name));
  }

  /** Served resources of a group-version (`v1` or `apps/v1`). */
  resources(gv: string): ServedResource[] | undefined {
    return this.byGV.get(gv);
  }

  hasGroup(group: string): boolean {
    return this.groups.some((g) => g.name === group && group !== '');
  }

  private memo(key: string, build: () => unknown): string {
    let v = this.cache.get(key);
    if (v === undefined) this.cache.set(key, (v = JSON.stringify(build())));
    return v;
  }

  /** `GET /api` (legacy). */
  apiVersions(serverAddress: string): string {
    return this.memo(`api:${serverAddress}`, () => ({
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    }));
  }

  private apiGroup(g: { name: string; versions: string[] }) {
    const versions = g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v }));
    return { name: g.name, versions, preferredVersion: versions[0] };
  }

  /** `GET /apis` (legacy). */
  apiGroupList(): string {
    return this.memo('apis', () => ({
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: this.groups.filter((g) => g.name !== '').map((g) => this.apiGroup(g)),
    }));
  }

  /** `GET /apis/<group>`. */
  apiGroupDoc(group: string): string | undefined {
    const g = this.groups.find((x) => x.name === group && group !== '');
    if (!g) return undefined;
    return this.memo(`group:${group}`, () => ({ kind: 'APIGroup', apiVersion: 'v1', ...this.apiGroup(g) }));
  }

  /** `GET /api/v1` and `/apis/<g>/<v>`. */
  apiResourceList(gv: string): string | undefined {
    const list = this.byGV.get(gv);
    if (!list) return undefined;
    return this.memo(`gv:${gv}`, () => {
      const resources: unknown[] = [];
      for (const r of list) {
        const i = r.info;
        const main: Record<string, unknown> = {
          name: i.resource,
          singularName: i.singular,
          namespaced: i.namespaced,
          kind: i.kind,
          verbs: i.verbs ?? allVerbs,
        };
        if (i.shortNames?.length) main.shortNames = i.shortNames;
        if (i.categories?.length) main.categories = i.categories;
        resources.push(main);
        for (const s of r.subresources) {
          const sub: Record<string, unknown> = { name: `${i.resource}/${s.name}`, singularName: '', namespaced: i.namespaced };
          if (s.group !== undefined && s.group !== i.group) sub.group = s.group;
          if (s.version !== undefined && (s.group !== i.group || s.version !== i.version)) sub.version = s.version;
          sub.kind = s.kind;
          sub.verbs = s.verbs;
          resources.push(sub);
        }
      }
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources };
    });
  }

  /** Aggregated discovery for `/api` (core) or `/apis` (all named groups). */
  aggregated(which: 'api' | 'apis', version: 'v2' | 'v2beta1'): string {
    return this.memo(`agg:${which}:${version}`, () => ({
      kind: 'APIGroupDiscoveryList',
      apiVersion: `apidiscovery.k8s.io/${version}`,
      metadata: {},
      items: this.groups
        .filter((g) => (which === 'api' ? g.name === '' : g.name !== ''))
        .map((g) => ({
          metadata: { name: g.name, creationTimestamp: null },
          versions: g.versions.map((v) => ({
            version: v,
            freshness: 'Current',
            resources: (this.byGV.get(g.name ? `${g.name}/${v}` : v) ?? []).map((r) => {
              const i = r.info;
              const res: Record<string, unknown> = {
                resource: i.resource,
                responseKind: { group: i.group, version: i.version, kind: i.kind },
                scope: i.namespaced ? 'Namespaced' : 'Cluster',
                singularResource: i.singular,
                verbs: i.verbs ?? allVerbs,
              };
              if (i.shortNames?.length) res.shortNames = i.shortNames;
              if (i.categories?.length) res.categories = i.categories;
              if (r.subresources.length) {
                res.subresources = r.subresources.map((s) => ({
                  subresource: s.name,
                  responseKind: { group: s.group ?? i.group, version: s.version ?? i.version, kind: s.kind },
                  verbs: s.verbs,
                }));
              }
              return res;
            }),
          })),
        })),
    }));
  }
}
