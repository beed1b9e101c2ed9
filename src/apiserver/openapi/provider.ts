/**
 * Adapts {@link OpenAPIService} to the API server's lazy `OpenAPIProvider` hook: maps the registry's
 * strategies (and subresource handlers) into OpenAPI resources and locates generated/openapi/schemas.json.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OpenAPIProvider } from '../apiserver.js';
import type { KObject, Strategy } from '../registry/generic/strategy.js';
import { OpenAPIService, type OpenAPIResource } from './openapi.js';

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** A subresource served beside a resource; structurally matches the API server's SubresourceHandler. */
export interface SubresourceRef {
  group: string;
  resource: string;
  info: { name: string };
}

/** Maps strategies and extra subresource handlers into the resource list {@link OpenAPIService} takes. */
export function resourcesFromStrategies(strategies: Strategy[], subresources: SubresourceRef[] = []): OpenAPIResource[] {
  return strategies.map((s) => {
    const i = s.info;
    const subs = new Set<string>();
    if (s.status) subs.add('status');
    if (s.scale) subs.add('scale');
    for (const h of subresources) if (h.group === i.group && h.resource === i.resource) subs.add(h.info.name);
    return {
      group: i.group,
      version: i.version,
      resource: i.resource,
      kind: i.kind,
      namespaced: i.namespaced,
      subresources: [...subs].sort(),
      verbs: i.verbs ?? ALL_VERBS,
    };
  });
}

/**
 * Finds generated/openapi/schemas.json from this module's location; src/ and dist/ sit at the same depth
 * under the repository root. K8TS_OPENAPI_SCHEMAS overrides it.
 */
export function defaultSchemasPath(): string {
  if (process.env.K8TS_OPENAPI_SCHEMAS) return process.env.K8TS_OPENAPI_SCHEMAS;
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, '..', '..', '..', 'generated', 'openapi', 'schemas.json');
}

/** The OpenAPIProvider the API server loads on the first OpenAPI request or strict field validation. */
export class ServiceProvider implements OpenAPIProvider {
  constructor(readonly service: OpenAPIService) {}

  handle(req: { path: string; query: URLSearchParams; accept?: string; ifNoneMatch?: string }) {
    return this.service.handle(req);
  }

  decodeTyped(obj: KObject, group: string, version: string, kind: string, prune: boolean) {
    return this.service.decodeTyped(obj, { group, version, kind }, prune);
  }
}

/**
 * Builds the provider. Fails with a clear message when the schemas were never generated
 * (`node --import tsx scripts/gen-openapi.ts`, run by `npm run build`).
 */
export async function loadOpenAPI(
  strategies: Strategy[],
  subresources: SubresourceRef[] = [],
  schemasPath = defaultSchemasPath(),
): Promise<ServiceProvider> {
  if (!existsSync(schemasPath)) {
    throw new Error(`OpenAPI schemas not found at ${schemasPath}; run: node --import tsx scripts/gen-openapi.ts`);
  }
  return new ServiceProvider(new OpenAPIService(resourcesFromStrategies(strategies, subresources), schemasPath));
}
