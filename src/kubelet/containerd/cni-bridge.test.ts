import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { bridgeCSource, cBridgePlugin, cBridgeWanted, GO_BRIDGE_PLUGIN } from './cni-bridge.js';
import { cniBinDirWith } from './cni-loopback.js';
import { bridgeConflist } from './containerd.js';

// Real network namespaces, bridges and veths: root only. Subnets 10.231.70-99.0/24 are this file's
// alone (grep the tests before reusing them); everything is removed in `after`.
const isRoot = process.getuid?.() === 0;
const haveGo = existsSync(GO_BRIDGE_PLUGIN) && existsSync('/usr/lib/cni/host-local');
const work = mkdtempSync(join(tmpdir(), 'k8ts-cnib-'));
const plugin = cBridgePlugin({ cacheDir: join(work, 'cache') });
const skip = !isRoot ? 'needs root (network namespaces)' : !plugin ? 'no C compiler' : !haveGo ? `no Go plugins at ${GO_BRIDGE_PLUGIN}` : false;
if (skip) console.warn(`SKIPPING the C bridge plugin tests: ${skip}`);

const tag = randomBytes(3).toString('hex');
const namespaces: string[] = [];
const bridges: string[] = [];
let nsCount = 0;

/** A fresh network namespace; returns its path. */
function netns(): string {
  const name = `k8ts-cnib-${tag}-${nsCount++}`;
  execFileSync('ip', ['netns', 'add', name]);
  namespaces.push(name);
  return `/var/run/netns/${name}`;
}
const nsName = (path: string) => path.split('/').pop()!;

let bridgeCount = 0;
/** A network config like bridgeConflist's, on a bridge of its own (or `o.bridge`). */
function config(o: { subnet: string; bridge?: string; name?: string; version?: string; extra?: object; ipam?: object }) {
  const bridge = o.bridge ?? `k8cb${tag}${bridgeCount++}`;
  if (!bridges.includes(bridge)) bridges.push(bridge);
  const dataDir = join(work, 'ipam');
  const conf = {
    cniVersion: o.version ?? '1.0.0',
    name: o.name ?? `net-${bridge}`,
    type: 'bridge',
    bridge,
    isGateway: true,
    ipMasq: false,
    hairpinMode: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: o.subnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir, ...o.ipam },
    ...o.extra,
  };
  return { conf, bridge, store: join(dataDir, conf.name), text: JSON.stringify(conf) };
}

interface Run {
  status: number | null;
  stdout: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}
function run(bin: string, command: string, conf: string, env: Record<string, string>): Run {
  const r = spawnSync(bin, [], {
    input: conf,
    encoding: 'utf8',
    timeout: 20_000,
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni', ...env },
  });
  let json: unknown;
  try {
    json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, stdout: r.stdout, json };
}
const c = (cmd: string, conf: string, env: Record<string, string>) => run(plugin!, cmd, conf, env);
const go = (cmd: string, conf: string, env: Record<string, string>) => run(GO_BRIDGE_PLUGIN, cmd, conf, env);

function inNs(ns: string, args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', nsName(ns), ...args], { encoding: 'utf8' });
}
function nsAddrs(ns: string, dev = 'eth0'): string[] {
  try {
    const j = JSON.parse(inNs(ns, ['ip', '-j', 'addr', 'show', 'dev', dev]));
    return j.flatMap((l: { addr_info: { family: string; local: string; prefixlen: number }[] }) =>
      l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
    );
  } catch {
    return [];
  }
}
function hostLink(name: string) {
  return JSON.parse(execFileSync('ip', ['-j', '-d', 'link', 'show', 'dev', name], { encoding: 'utf8' }))[0];
}
const storeFiles = (store: string) => (existsSync(store) ? readdirSync(store).sort() : []);

after(() => {
  for (const n of namespaces) spawnSync('ip', ['netns', 'del', n]);
  for (const b of bridges) spawnSync('ip', ['link', 'del', b]);
  rmSync(work, { recursive: true, force: true });
});

describe('the C bridge plugin', { skip }, () => {
  before(() => {
    // Nothing of ours may be left from an earlier run with the same tag.
    for (const b of bridges) spawnSync('ip', ['link', 'del', b]);
  });

  for (const [i, version] of ['1.0.0', '0.4.0', '0.3.1'].entries()) {
    const net = `10.231.${80 + i}`;
    it(`Configures the sandbox on ADD and reports a ${version} result: address, default route via the gateway, host veth on the bridge with hairpin on.`, () => {
      const n = config({ subnet: `${net}.0/24`, version });
      const ns = netns();
      const r = c('ADD', n.text, { CNI_CONTAINERID: `add${version.replace(/\./g, '')}`, CNI_NETNS: ns });
      assert.equal(r.status, 0, r.stdout);
      assert.deepEqual(nsAddrs(ns), [`${net}.2/24`]);
      const routes = JSON.parse(inNs(ns, ['ip', '-j', 'route', 'show', 'default']));
      assert.deepEqual(routes.map((x: { gateway: string; dev: string }) => [x.gateway, x.dev]), [[`${net}.1`, 'eth0']]);
      const veth = r.json.interfaces[1].name;
      assert.match(veth, /^veth[0-9a-f]{8}$/);
      const link = hostLink(veth);
      assert.equal(link.master, n.bridge);
      assert.equal(link.linkinfo.info_slave_data.hairpin, true);
      assert.equal(link.operstate, 'UP');
      assert.equal(hostLink(n.bridge).linkinfo.info_kind, 'bridge');
      assert.equal(r.json.cniVersion, version);
      assert.equal(r.json.interfaces[0].mac, hostLink(n.bridge).address);
      assert.equal(r.json.interfaces[1].mac, link.address);
      assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), '1');
      const br = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show', 'dev', n.bridge], { encoding: 'utf8' }))[0];
      assert.ok(br.addr_info.some((a: { local: string; prefixlen: number }) => a.local === `${net}.1` && a.prefixlen === 24));
      assert.equal(c('DEL', n.text, { CNI_CONTAINERID: `add${version.replace(/\./g, '')}`, CNI_NETNS: ns }).status, 0);
    });

    it(`Gives a ${version} result shaped like the Go plugin's for the same config.`, () => {
      const [m, t] = [83 + 2 * i, 84 + 2 * i];
      const mine = config({ subnet: `10.231.${m}.0/24`, version });
      const theirs = config({ subnet: `10.231.${t}.0/24`, version });
      const ns1 = netns();
      const ns2 = netns();
      const a = c('ADD', mine.text, { CNI_CONTAINERID: 'shape', CNI_NETNS: ns1 });
      const b = go('ADD', theirs.text, { CNI_CONTAINERID: 'shape', CNI_NETNS: ns2 });
      assert.equal(a.status, 0, a.stdout);
      assert.equal(b.status, 0, b.stdout);
      const norm = (j: unknown, bridge: string, net: string, ns: string) =>
        JSON.parse(
          JSON.stringify(j)
            .replaceAll(bridge, 'BRIDGE')
            .replaceAll(net, 'NET.')
            .replaceAll(ns, 'NETNS')
            .replace(/veth[0-9a-f]{8}/g, 'VETH')
            .replace(/([0-9a-f]{2}:){5}[0-9a-f]{2}/g, 'MAC'),
        );
      assert.deepEqual(norm(a.json, mine.bridge, `10.231.${m}.`, ns1), norm(b.json, theirs.bridge, `10.231.${t}.`, ns2));
      assert.equal(c('DEL', mine.text, { CNI_CONTAINERID: 'shape', CNI_NETNS: ns1 }).status, 0);
      assert.equal(go('DEL', theirs.text, { CNI_CONTAINERID: 'shape', CNI_NETNS: ns2 }).status, 0);
    });
  }

  it('Allocates sequential IPs, skipping the gateway, in host-local’s file format.', () => {
    const n = config({ subnet: '10.231.74.0/24' });
    const got = [0, 1, 2].map((i) => {
      const r = c('ADD', n.text, { CNI_CONTAINERID: `seq${i}`, CNI_NETNS: netns() });
      assert.equal(r.status, 0, r.stdout);
      return r.json.ips[0].address;
    });
    assert.deepEqual(got, ['10.231.74.2/24', '10.231.74.3/24', '10.231.74.4/24']);
    assert.deepEqual(storeFiles(n.store), ['10.231.74.2', '10.231.74.3', '10.231.74.4', 'last_reserved_ip.0', 'lock']);
    assert.equal(readFileSync(join(n.store, '10.231.74.3'), 'utf8'), 'seq1\r\neth0');
    assert.equal(readFileSync(join(n.store, 'last_reserved_ip.0'), 'utf8'), '10.231.74.4');
  });

  it('Goes on after the last reserved IP and wraps around to the start of the range.', () => {
    const n = config({ subnet: '10.231.75.0/29' }); // usable .2 to .6 (.1 is the gateway)
    mkdirSync(n.store, { recursive: true });
    writeFileSync(join(n.store, 'last_reserved_ip.0'), '10.231.75.5');
    writeFileSync(join(n.store, '10.231.75.2'), 'other\r\neth0');
    const got = [0, 1, 2].map((i) => c('ADD', n.text, { CNI_CONTAINERID: `wrap${i}`, CNI_NETNS: netns() }).json?.ips[0].address);
    assert.deepEqual(got, ['10.231.75.6/29', '10.231.75.3/29', '10.231.75.4/29']);
    const full = [0, 1].map((i) => c('ADD', n.text, { CNI_CONTAINERID: `full${i}`, CNI_NETNS: netns() }));
    assert.equal(full[0].json?.ips[0].address, '10.231.75.5/29');
    assert.equal(full[1].status, 1);
    assert.match(full[1].json.msg, /no IP addresses available in range set: 10\.231\.75\.1-10\.231\.75\.6/);
  });

  it('Releases the IP and removes the interface on DEL; a second DEL and a DEL without the netns succeed.', () => {
    const n = config({ subnet: '10.231.76.0/24' });
    const ns = netns();
    const env = { CNI_CONTAINERID: 'del1', CNI_NETNS: ns };
    assert.equal(c('ADD', n.text, env).status, 0);
    assert.ok(storeFiles(n.store).includes('10.231.76.2'));
    const del = c('DEL', n.text, env);
    assert.equal(del.status, 0, del.stdout);
    assert.equal(del.stdout, '');
    assert.ok(!storeFiles(n.store).includes('10.231.76.2'));
    assert.deepEqual(nsAddrs(ns), []);
    assert.doesNotMatch(inNs(ns, ['ip', '-br', 'link']), /eth0/);
    assert.equal(c('DEL', n.text, env).status, 0);
    assert.equal(c('DEL', n.text, { CNI_CONTAINERID: 'del1', CNI_NETNS: `/var/run/netns/k8ts-cnib-${tag}-missing` }).status, 0);
    assert.equal(c('DEL', n.text, { CNI_CONTAINERID: 'del1', CNI_NETNS: '' }).status, 0);
  });

  it('Shares the IP store with the Go plugin: each releases what the other allocated.', () => {
    const bridge = `k8cb${tag}mx`;
    const n = config({ subnet: '10.231.77.0/24', bridge, name: `mixed-${tag}` });
    const [ns1, ns2, ns3] = [netns(), netns(), netns()];
    const g1 = go('ADD', n.text, { CNI_CONTAINERID: 'mix1', CNI_NETNS: ns1 });
    assert.equal(g1.status, 0, g1.stdout);
    const c2 = c('ADD', n.text, { CNI_CONTAINERID: 'mix2', CNI_NETNS: ns2 });
    assert.equal(c2.status, 0, c2.stdout);
    const g3 = go('ADD', n.text, { CNI_CONTAINERID: 'mix3', CNI_NETNS: ns3 });
    assert.equal(g3.status, 0, g3.stdout);
    assert.deepEqual([g1, c2, g3].map((r) => r.json.ips[0].address), ['10.231.77.2/24', '10.231.77.3/24', '10.231.77.4/24']);
    // The C plugin refuses a second IP for a container the Go plugin served, as host-local does.
    const dup = c('ADD', n.text, { CNI_CONTAINERID: 'mix1', CNI_NETNS: netns() });
    assert.equal(dup.status, 1);
    assert.equal(dup.json.code, 999);
    assert.match(dup.json.msg, /10\.231\.77\.2 has been allocated to mix1, duplicate allocation is not allowed/);
    assert.equal(c('DEL', n.text, { CNI_CONTAINERID: 'mix1', CNI_NETNS: ns1 }).status, 0);
    const g = go('DEL', n.text, { CNI_CONTAINERID: 'mix2', CNI_NETNS: ns2 });
    assert.equal(g.status, 0, g.stdout);
    assert.deepEqual(storeFiles(n.store), ['10.231.77.4', 'last_reserved_ip.0', 'lock']);
    assert.deepEqual(nsAddrs(ns1), []);
    assert.deepEqual(nsAddrs(ns2), []);
    assert.deepEqual(nsAddrs(ns3), ['10.231.77.4/24']);
  });

  it('Lets two sandboxes on the same bridge ping each other.', () => {
    const n = config({ subnet: '10.231.78.0/24' });
    const [ns1, ns2] = [netns(), netns()];
    assert.equal(c('ADD', n.text, { CNI_CONTAINERID: 'ping1', CNI_NETNS: ns1 }).status, 0);
    assert.equal(c('ADD', n.text, { CNI_CONTAINERID: 'ping2', CNI_NETNS: ns2 }).status, 0);
    const ping = spawnSync('ip', ['netns', 'exec', nsName(ns1), 'busybox', 'ping', '-c', '1', '-W', '3', '10.231.78.3'], { encoding: 'utf8' });
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);
    // And the gateway on the bridge answers too.
    const gw = spawnSync('ip', ['netns', 'exec', nsName(ns2), 'busybox', 'ping', '-c', '1', '-W', '3', '10.231.78.1'], { encoding: 'utf8' });
    assert.equal(gw.status, 0, gw.stdout + gw.stderr);
  });

  const fallbacks = [
    {
      name: 'An mtu is left to the Go plugin, which sets it.',
      subnet: '10.231.90',
      extra: { mtu: 1400 },
      check: (ns: string) => assert.match(inNs(ns, ['ip', 'link', 'show', 'eth0']), /mtu 1400/),
    },
    {
      name: 'A rangeStart is left to the Go plugin, which starts there.',
      subnet: '10.231.91',
      ipam: { ranges: [[{ subnet: '10.231.91.0/24', rangeStart: '10.231.91.50' }]] },
      check: (ns: string) => assert.deepEqual(nsAddrs(ns), ['10.231.91.50/24']),
    },
    {
      name: 'An IP asked for in CNI_ARGS is left to the Go plugin, which gives it.',
      subnet: '10.231.92',
      env: { CNI_ARGS: 'IgnoreUnknown=1;IP=10.231.92.77' },
      check: (ns: string) => assert.deepEqual(nsAddrs(ns), ['10.231.92.77/24']),
    },
  ];
  for (const f of fallbacks) {
    it(f.name, () => {
      const n = config({ subnet: `${f.subnet}.0/24`, extra: f.extra, ipam: f.ipam });
      const ns = netns();
      const env = { CNI_CONTAINERID: `fb${bridgeCount}`, CNI_NETNS: ns, ...f.env };
      const r = c('ADD', n.text, env);
      assert.equal(r.status, 0, r.stdout);
      f.check(ns);
      assert.equal(c('DEL', n.text, env).status, 0);
      assert.deepEqual(nsAddrs(ns), []);
    });
  }

  it('Hands CHECK to the Go plugin.', () => {
    const n = config({ subnet: '10.231.93.0/24' });
    const r = c('CHECK', n.text, { CNI_CONTAINERID: 'chk', CNI_NETNS: netns() });
    assert.equal(r.status, 1);
    // Only the Go plugin (through host-local) says this: the C one has no CHECK.
    assert.match(r.json.msg, /Failed to find address added by container chk|prevResult/);
  });

  const bad = [
    { name: 'Malformed JSON is a decoding error.', text: '{"cniVersion":"1.0.0",', env: {}, code: 6, msg: /unmarshall network config/ },
    {
      name: 'A subnet with host bits set is rejected (by the Go plugin).',
      text: config({ subnet: '10.231.94.5/24' }).text,
      env: {},
      code: undefined,
      msg: /10\.231\.94\.5|host bits|Network/i,
    },
    {
      name: 'A netns that does not exist fails the ADD.',
      text: config({ subnet: '10.231.95.0/24' }).text,
      env: { CNI_NETNS: `/var/run/netns/k8ts-cnib-${tag}-nope` },
      code: 999,
      msg: /failed to open netns/,
    },
  ];
  for (const b of bad) {
    it(`Answers a CNI error and exit code 1: ${b.name}`, () => {
      const r = c('ADD', b.text, { CNI_CONTAINERID: 'bad', CNI_NETNS: netns(), ...b.env });
      assert.equal(r.status, 1, r.stdout);
      assert.equal(typeof r.json?.code, 'number', r.stdout);
      if (b.code !== undefined) assert.equal(r.json.code, b.code);
      assert.match(r.json.msg, b.msg);
    });
  }

  it('Cleans up its veth when the ADD fails after creating it.', () => {
    const n = config({ subnet: '10.231.96.0/24', name: `dup-${tag}` });
    const ns1 = netns();
    assert.equal(c('ADD', n.text, { CNI_CONTAINERID: 'dupe', CNI_NETNS: ns1 }).status, 0);
    const ns2 = netns();
    const r = c('ADD', n.text, { CNI_CONTAINERID: 'dupe', CNI_NETNS: ns2 });
    assert.equal(r.status, 1);
    assert.doesNotMatch(inNs(ns2, ['ip', '-br', 'link']), /eth0/);
    assert.deepEqual(nsAddrs(ns1), ['10.231.96.2/24']); // the first sandbox keeps its IP
  });

  it('Handles the config bridgeConflist writes by itself, with the CNI_ARGS containerd passes, never handing it to the Go plugin.', () => {
    const bridge = `k8cb${tag}cf`;
    bridges.push(bridge);
    const list = JSON.parse(bridgeConflist({ bridge, subnet: '10.231.97.0/24', dataDir: join(work, 'ipam'), name: `conflist-${tag}` }));
    const conf = JSON.stringify({ cniVersion: list.cniVersion, name: list.name, ...list.plugins[0] });
    const ns = netns();
    // With this set, a hand-over to the Go plugin fails ("loops back"): success means no hand-over.
    const env = {
      CNI_CONTAINERID: 'conflist',
      CNI_NETNS: ns,
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=conflist;K8S_POD_UID=u1',
      K8TS_CNI_BRIDGE_FALLBACK: '1',
    };
    const add = c('ADD', conf, env);
    assert.equal(add.status, 0, add.stdout);
    assert.deepEqual(nsAddrs(ns), ['10.231.97.2/24']);
    assert.equal(c('DEL', conf, env).status, 0);
    assert.deepEqual(nsAddrs(ns), []);
    const other = c('ADD', JSON.stringify({ ...JSON.parse(conf), mtu: 1400 }), env);
    assert.equal(other.status, 1);
    assert.match(other.json.msg, /loops back/);
  });

  it('Gives distinct IPs to parallel ADDs on a new bridge, reading pretty-printed JSON with escapes.', async () => {
    const n = config({ subnet: '10.231.98.0/24', name: `par-${tag}` });
    // Indented, with escaped slashes and a \u escape: the same config to any JSON reader.
    const text = JSON.stringify(n.conf, null, 2).replaceAll('/', '\\/').replace('"bridge": "k8cb', '"bridge": "\\u006b8cb');
    assert.notEqual(text, JSON.stringify(n.conf, null, 2));
    const nss = Array.from({ length: 8 }, () => netns());
    const results = await Promise.all(
      nss.map(
        (ns, i) =>
          new Promise<Run>((res) => {
            const p = spawn(plugin!, [], {
              env: { PATH: process.env.PATH, CNI_COMMAND: 'ADD', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni', CNI_CONTAINERID: `par${i}`, CNI_NETNS: ns, K8TS_CNI_BRIDGE_FALLBACK: '1' },
            });
            let out = '';
            p.stdout.on('data', (d) => (out += d));
            p.on('close', (status) => res({ status, stdout: out, json: out ? JSON.parse(out) : undefined }));
            p.stdin.end(text);
          }),
      ),
    );
    for (const r of results) assert.equal(r.status, 0, r.stdout);
    const ips = results.map((r) => r.json.ips[0].address).sort();
    assert.equal(new Set(ips).size, 8);
    assert.deepEqual(storeFiles(n.store).filter((f) => f.startsWith('10.')).length, 8);
    nss.forEach((ns, i) => assert.deepEqual(nsAddrs(ns), [results[i].json.ips[0].address]));
  });

  it('Reports the CNI versions it takes.', () => {
    const r = c('VERSION', '', {});
    assert.equal(r.status, 0);
    assert.deepEqual(r.json.supportedVersions, ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0']);
  });
});

describe('choosing the bridge plugin', () => {
  it('Uses the C bridge unless K8TS_CNI_BRIDGE=go.', () => {
    assert.equal(cBridgeWanted({}), true);
    assert.equal(cBridgeWanted({ K8TS_CNI_BRIDGE: 'c' }), true);
    assert.equal(cBridgeWanted({ K8TS_CNI_BRIDGE: 'go' }), false);
  });

  it('Compiles the Go plugin’s path in for the fallback, and refuses paths that are not plain.', () => {
    assert.match(bridgeCSource('/opt/cni/bin/bridge'), /GO_BRIDGE\[\] = "\/opt\/cni\/bin\/bridge";/);
    assert.throws(() => bridgeCSource('/opt/"x'));
    assert.equal(cBridgePlugin({ goPlugin: 'relative/bridge' }), undefined);
  });

  it('Links bridge and loopback to their replacements in the bin dir, and back when no longer replaced.', () => {
    const from = join(work, 'from');
    mkdirSync(from, { recursive: true });
    for (const p of ['bridge', 'host-local', 'loopback']) writeFileSync(join(from, p), '');
    const dir = join(work, 'bin');
    cniBinDirWith(dir, from, { loopback: '/opt/lo', bridge: '/opt/br' });
    cniBinDirWith(dir, from, { loopback: '/opt/lo', bridge: '/opt/br' }); // idempotent
    assert.equal(readlinkSync(join(dir, 'bridge')), '/opt/br');
    assert.equal(readlinkSync(join(dir, 'loopback')), '/opt/lo');
    assert.equal(readlinkSync(join(dir, 'host-local')), join(from, 'host-local'));
    cniBinDirWith(dir, from, { loopback: '/opt/lo', bridge: undefined });
    assert.equal(readlinkSync(join(dir, 'bridge')), join(from, 'bridge'));
  });
});
