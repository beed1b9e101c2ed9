/**
 * Reading a kubeconfig file into a client configuration (current context; embedded or file
 * certificate data; bearer tokens).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ClientConfig } from './rest-client.js';

function data(entry: Record<string, any>, key: string, base: string): string | undefined {
  if (entry[`${key}-data`]) return Buffer.from(entry[`${key}-data`], 'base64').toString('utf8');
  if (entry[key]) return readFileSync(resolve(base, entry[key]), 'utf8');
  return undefined;
}

/** The client configuration of a kubeconfig's current context (or `context`). */
export async function loadKubeconfig(path: string, context?: string): Promise<ClientConfig> {
  const { parse } = await import('yaml');
  const doc = parse(readFileSync(path, 'utf8')) ?? {};
  const base = dirname(resolve(path));
  const ctxName = context ?? doc['current-context'];
  const ctx = (doc.contexts ?? []).find((c: any) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`kubeconfig ${path}: context "${ctxName ?? ''}" not found`);
  const cluster = (doc.clusters ?? []).find((c: any) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`kubeconfig ${path}: cluster "${ctx.cluster}" has no server`);
  const user = (doc.users ?? []).find((u: any) => u.name === ctx.user)?.user ?? {};
  return {
    server: cluster.server,
    ca: data(cluster, 'certificate-authority', base),
    insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
    cert: data(user, 'client-certificate', base),
    key: data(user, 'client-key', base),
    token: user.token ?? (user.tokenFile ? readFileSync(resolve(base, user.tokenFile), 'utf8').trim() : undefined),
  };
}
