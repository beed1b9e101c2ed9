/**
 * The node's private registry configuration, in the shape of k3s's registries.yaml (`mirrors` with
 * endpoints, `configs` with auth and TLS per registry host), turned into what containerd 1.6 reads:
 * a `hosts.toml` per registry under the CRI's `config_path`, and CRI `registry.configs.*.auth`
 * sections in config.toml for node-wide credentials.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

/** One registry's mirrors. */
export interface RegistryMirror {
  /** Where to pull from, in order, e.g. `http://127.0.0.1:5000` (scheme defaults to https). */
  endpoint?: string[];
}

/** Credentials and TLS for one registry host (an endpoint's `host:port`). */
export interface RegistryHostConfig {
  auth?: { username?: string; password?: string; auth?: string; identity_token?: string };
  tls?: { ca_file?: string; cert_file?: string; key_file?: string; insecure_skip_verify?: boolean };
}

/** registries.yaml. */
export interface RegistriesConfig {
  /** Registry name (`docker.io`, `127.0.0.1:5000`, or `*` for every registry) → its endpoints. */
  mirrors?: Record<string, RegistryMirror>;
  /** Registry host → credentials and TLS. */
  configs?: Record<string, RegistryHostConfig>;
}

const q = (s: string) => JSON.stringify(s); // TOML basic strings accept JSON string escapes

/** Parses and checks a registries.yaml text; throws with the offending key. */
export function parseRegistries(text: string, source = 'registries.yaml'): RegistriesConfig {
  const raw = (parseYaml(text) ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${source}: expected a mapping with mirrors and configs`);
  for (const k of Object.keys(raw)) if (k !== 'mirrors' && k !== 'configs') throw new Error(`${source}: unknown key ${q(k)} (expected mirrors, configs)`);
  const cfg = raw as RegistriesConfig;
  for (const [name, m] of Object.entries(cfg.mirrors ?? {})) {
    checkHostName(name, source, true);
    for (const k of Object.keys(m ?? {})) {
      // k3s's containerd fork rewrites repository paths per mirror; the stock containerd k8ts drives cannot.
      if (k === 'rewrite') throw new Error(`${source}: mirrors.${name}: rewrite is not supported (the containerd k8ts runs has no repository rewriting); name the rewritten image in the pod instead`);
      if (k !== 'endpoint') throw new Error(`${source}: mirrors.${name}: unknown key ${q(k)} (expected endpoint)`);
    }
    for (const e of m?.endpoint ?? []) {
      try {
        const u = new URL(withScheme(e));
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
      } catch {
        throw new Error(`${source}: mirrors.${name}: invalid endpoint ${q(String(e))}`);
      }
    }
  }
  for (const [host, c] of Object.entries(cfg.configs ?? {})) {
    checkHostName(host, source, false);
    for (const k of Object.keys(c ?? {})) if (k !== 'auth' && k !== 'tls') throw new Error(`${source}: configs.${host}: unknown key ${q(k)} (expected auth, tls)`);
  }
  return cfg;
}

/** Reads a registries.yaml file. */
export function loadRegistries(file: string): RegistriesConfig {
  return parseRegistries(readFileSync(file, 'utf8'), file);
}

function checkHostName(name: string, source: string, wildcard: boolean): void {
  // A host names a directory under config_path: it must be one path segment.
  if ((wildcard && name === '*') || /^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(name)) return;
  throw new Error(`${source}: invalid registry host ${q(name)}`);
}

function withScheme(e: string): string {
  return /^[a-z]+:\/\//i.test(e) ? e : `https://${e}`;
}

/** The registry a name's default endpoint is (docker.io's API lives at registry-1.docker.io). */
function defaultServer(name: string): string {
  return name === 'docker.io' ? 'https://registry-1.docker.io' : `https://${name}`;
}

function tlsLines(c: RegistryHostConfig | undefined, indent: string): string[] {
  const t = c?.tls;
  if (!t) return [];
  const out: string[] = [];
  if (t.insecure_skip_verify) out.push(`${indent}skip_verify = true`);
  if (t.ca_file) out.push(`${indent}ca = ${q(t.ca_file)}`);
  if (t.cert_file && t.key_file) out.push(`${indent}client = [[${q(t.cert_file)}, ${q(t.key_file)}]]`);
  else if (t.cert_file) out.push(`${indent}client = ${q(t.cert_file)}`);
  return out;
}

/**
 * The hosts.toml of every configured registry, by directory name under config_path (`_default`
 * for `*`). A mirror endpoint on the registry's own host becomes its `server` (so
 * `http://127.0.0.1:5000` makes a plain-HTTP registry); other endpoints are tried first, in order.
 */
export function registryHostsFiles(cfg: RegistriesConfig): Map<string, string> {
  const files = new Map<string, string>();
  const configs = cfg.configs ?? {};
  for (const [name, m] of Object.entries(cfg.mirrors ?? {})) {
    const endpoints = (m?.endpoint ?? []).map((e) => new URL(withScheme(e)));
    const own = name === '*' ? undefined : endpoints.find((u) => u.host === name && (u.pathname === '/' || u.pathname === '/v2' || u.pathname === '/v2/'));
    const lines: string[] = [];
    if (name !== '*') {
      const server = own ? `${own.protocol}//${own.host}` : defaultServer(name);
      lines.push(`server = ${q(server)}`, ...tlsLines(configs[new URL(server).host], ''));
    }
    for (const u of endpoints) {
      if (u === own) continue;
      const path = u.pathname.replace(/\/+$/, '');
      lines.push('', `[host.${q(`${u.protocol}//${u.host}${path}`)}]`, '  capabilities = ["pull", "resolve"]', ...tlsLines(configs[u.host], '  '));
    }
    files.set(name === '*' ? '_default' : name, lines.join('\n').replace(/^\n/, '') + '\n');
  }
  // A registry with TLS settings but no mirror entry still needs its hosts.toml.
  for (const [host, c] of Object.entries(configs)) {
    if (files.has(host) || !c?.tls) continue;
    files.set(host, [`server = ${q(defaultServer(host))}`, ...tlsLines(c, '')].join('\n') + '\n');
  }
  return files;
}

/** The config.toml sections with node-wide registry credentials (the CRI looks them up by endpoint host). */
export function registryAuthToml(cfg: RegistriesConfig): string {
  let out = '';
  for (const [host, c] of Object.entries(cfg.configs ?? {})) {
    const a = c?.auth;
    if (!a) continue;
    out += `\n[plugins."io.containerd.grpc.v1.cri".registry.configs.${q(host)}.auth]\n`;
    if (a.username !== undefined) out += `  username = ${q(a.username)}\n`;
    if (a.password !== undefined) out += `  password = ${q(a.password)}\n`;
    if (a.auth !== undefined) out += `  auth = ${q(a.auth)}\n`;
    if (a.identity_token !== undefined) out += `  identitytoken = ${q(a.identity_token)}\n`;
  }
  return out;
}

/**
 * Replaces the hosts.toml files under `certsDir` (config_path) with those of `cfg`. Files of
 * registries no longer configured go; containerd reads them per pull, so no restart is needed.
 */
export function writeRegistryHosts(certsDir: string, cfg: RegistriesConfig): void {
  mkdirSync(certsDir, { recursive: true });
  const files = registryHostsFiles(cfg);
  for (const d of readdirSync(certsDir)) if (!files.has(d)) rmSync(join(certsDir, d), { recursive: true, force: true });
  for (const [dir, text] of files) {
    mkdirSync(join(certsDir, dir), { recursive: true });
    writeFileSync(join(certsDir, dir, 'hosts.toml'), text);
  }
}
