/**
 * The pod's /etc/hosts, as upstream's kubelet writes it (kubelet_pods.go managedHostsFileContent
 * and nodeHostsFileContent).
 */
import type { KObject } from '../../client/rest-client.js';

const MANAGED_HEADER = '# Kubernetes-managed hosts file.\n';
const MANAGED_HEADER_HOST_NETWORK = '# Kubernetes-managed hosts file (host network).\n';

/** The hostAliases block (empty without aliases). */
export function hostAliasesEntries(aliases: KObject[]): string {
  if (!aliases.length) return '';
  let out = '\n# Entries added by HostAliases.\n';
  for (const a of aliases) out += `${a.ip}\t${(a.hostnames ?? []).join('\t')}\n`;
  return out;
}

/** The managed hosts file of a pod with its own network namespace. */
export function managedHostsFileContent(podIPs: string[], hostname: string, domain: string, aliases: KObject[]): string {
  let out = MANAGED_HEADER;
  out += '127.0.0.1\tlocalhost\n';
  out += '::1\tlocalhost ip6-localhost ip6-loopback\n';
  out += 'fe00::0\tip6-localnet\n';
  out += 'fe00::0\tip6-mcastprefix\n';
  out += 'fe00::1\tip6-allnodes\n';
  out += 'fe00::2\tip6-allrouters\n';
  for (const ip of podIPs) out += domain ? `${ip}\t${hostname}.${domain}\t${hostname}\n` : `${ip}\t${hostname}\n`;
  return out + hostAliasesEntries(aliases);
}

/** A host-network pod's hosts file: the node's, under a header, plus the aliases. */
export function nodeHostsFileContent(nodeHosts: string, aliases: KObject[]): string {
  return MANAGED_HEADER_HOST_NETWORK + nodeHosts + hostAliasesEntries(aliases);
}

/**
 * The pod's hostname (spec.hostname or its name, cut to 63 characters without a trailing `-` or
 * `.`) and DNS domain (`<subdomain>.<ns>.svc.<clusterDomain>` when spec.subdomain is set).
 */
export function podHostnameAndDomain(pod: KObject, clusterDomain: string): { hostname: string; domain: string } {
  let hostname: string = pod.spec?.hostname || pod.metadata?.name || '';
  if (hostname.length > 63) hostname = hostname.slice(0, 63).replace(/[-.]+$/, '');
  const sub: string | undefined = pod.spec?.subdomain;
  const domain = sub && clusterDomain ? `${sub}.${pod.metadata?.namespace ?? 'default'}.svc.${clusterDomain}` : '';
  return { hostname, domain };
}
