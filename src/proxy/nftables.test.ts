import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { clusterChainName, endpointChainName, externalChainName, firewallChainName, localChainName, nftSnapshot, renderNft, renderNftCleanup, renderNftRuleset } from './nftables.js';
import { ep, state, svcPort } from './testdata.js';
import type { ProxyState } from './state.js';

const T = 'add rule ip k8ts-proxy';

describe('renderNftRuleset writes one transaction for the proxy table', () => {
  const two = svcPort('web', [ep('10.244.1.2'), ep('10.244.1.3', { local: false })], { nodePort: 30080 });
  const fw = svcPort('fw', [ep('10.244.1.2')], { nodePort: 30085, externalIPs: ['10.55.0.1'], loadBalancerIPs: ['10.55.0.2'], loadBalancerSourceRanges: ['192.168.0.0/16', '203.0.113.0/24'] });
  const cases: { name: string; state: ProxyState; has: (string | RegExp)[]; hasNot?: (string | RegExp)[] }[] = [
    {
      name: 'a ClusterIP with two endpoints picks one with a numgen cascade in its service chain, with no endpoint chains',
      state: state(two),
      has: [
        `add element ip k8ts-proxy service-ips { 10.96.0.10 . tcp . 80 comment "default/web:http" : goto ${clusterChainName(two)} }`,
        `${T} ${clusterChainName(two)} numgen random mod 2 == 0 meta l4proto tcp dnat to 10.244.1.2:8080`,
        `${T} ${clusterChainName(two)} meta l4proto tcp dnat to 10.244.1.3:8080`,
      ],
      hasNot: ['add element ip k8ts-proxy no-endpoint-services', /add chain ip k8ts-proxy endpoint-/, 'vmap {'],
    },
    {
      name: 'more than eight endpoints share one anonymous DNAT map instead of a cascade',
      state: state(svcPort('big', Array.from({ length: 9 }, (_, i) => ep(`10.244.1.${i + 2}`)))),
      has: [/add rule ip k8ts-proxy service-\S+ meta l4proto tcp dnat ip addr \. port to numgen random mod 9 map \{ 0 : 10\.244\.1\.2 \. 8080, 1 : 10\.244\.1\.3 \. 8080, .* 8 : 10\.244\.1\.10 \. 8080 \}/],
      hasNot: [/numgen random mod \d+ == 0/],
    },
    {
      name: 'traffic from outside the pod range to a ClusterIP is marked for masquerade, and so is hairpin traffic, by one set of endpoint pairs',
      state: state(two),
      has: [
        `${T} ${clusterChainName(two)} ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade`,
        'add element ip k8ts-proxy hairpin-endpoints { 10.244.1.2 . 10.244.1.2, 10.244.1.3 . 10.244.1.3 }',
        `${T} masquerading ct status dnat ip saddr . ip daddr @hairpin-endpoints jump mark-for-masquerade`,
        `${T} masquerading masquerade fully-random`,
      ],
    },
    {
      name: 'a single endpoint is a plain DNAT, without numgen',
      state: state(svcPort('one', [ep('10.244.1.2')])),
      has: [/add rule ip k8ts-proxy service-\S+ meta l4proto tcp dnat to 10\.244\.1\.2:8080\n/],
      hasNot: ['numgen'],
    },
    {
      name: 'a NodePort answers on the node IPs through an external chain that masquerades',
      state: state(two),
      has: [
        'add element ip k8ts-proxy nodeport-ips { 10.77.0.1 }',
        `add element ip k8ts-proxy service-nodeports { tcp . 30080 comment "default/web:http" : goto ${externalChainName(two)} }`,
        `${T} ${externalChainName(two)} jump mark-for-masquerade`,
        `${T} ${externalChainName(two)} goto ${clusterChainName(two)}`,
      ],
    },
    {
      name: 'a Service without usable endpoints is rejected on its ClusterIP, external IPs and NodePort, with no chains',
      state: state(svcPort('none', [ep('10.244.1.2', { ready: false, serving: false })], { nodePort: 30090, externalIPs: ['10.55.0.1'] })),
      has: [
        'add element ip k8ts-proxy no-endpoint-services { 10.96.0.10 . tcp . 80 comment "default/none:http" : goto reject-chain, 10.55.0.1 . tcp . 80 comment "default/none:http" : goto reject-chain }',
        'add element ip k8ts-proxy no-endpoint-nodeports { tcp . 30090 comment "default/none:http" : goto reject-chain }',
        `${T} reject-chain meta l4proto tcp reject with tcp reset`,
      ],
      hasNot: [/add chain ip k8ts-proxy (service|endpoint)-[A-Z2-7]{8}-/],
    },
    {
      name: 'session affinity adds a timed set per endpoint, checked before the random pick and updated on DNAT',
      state: state(svcPort('sticky', [ep('10.244.1.2'), ep('10.244.1.3')], { affinityTimeoutSeconds: 600 })),
      has: [
        /add set ip k8ts-proxy affinity-\w+-600 \{ type ipv4_addr; flags dynamic,timeout; timeout 600s; \}/,
        /add rule ip k8ts-proxy service-\S+ ip saddr @affinity-\w+-600 goto endpoint-\S+__10\.244\.1\.2\/8080/,
        /add rule ip k8ts-proxy endpoint-\S+ update @affinity-\w+-600 \{ ip saddr \}/,
      ],
    },
    {
      name: 'externalTrafficPolicy Local keeps the client address and sends outside traffic to local endpoints only',
      state: state({ ...two, externalPolicyLocal: true }),
      has: [
        `${T} ${externalChainName(two)} ip saddr 10.244.0.0/16 goto ${clusterChainName(two)}`,
        `${T} ${externalChainName(two)} fib saddr type local jump mark-for-masquerade`,
        `${T} ${externalChainName(two)} goto ${localChainName(two)}`,
        `${T} ${localChainName(two)} meta l4proto tcp dnat to 10.244.1.2:8080`,
      ],
      hasNot: [`${T} ${externalChainName(two)} jump mark-for-masquerade\n`],
    },
    {
      name: 'externalTrafficPolicy Local with no local endpoint drops outside traffic',
      state: state(svcPort('remote', [ep('10.244.2.2', { local: false })], { nodePort: 30091, externalPolicyLocal: true })),
      has: [/add rule ip k8ts-proxy external-\S+ drop/],
    },
    {
      name: 'internalTrafficPolicy Local with no local endpoint drops ClusterIP traffic',
      state: state(svcPort('int', [ep('10.244.2.2', { local: false })], { internalPolicyLocal: true })),
      has: ['add element ip k8ts-proxy no-endpoint-services { 10.96.0.10 . tcp . 80 comment "default/int:http" : drop }'],
      hasNot: ['add element ip k8ts-proxy service-ips'],
    },
    {
      name: 'load-balancer ingress IPs are routed like external IPs',
      state: state(svcPort('lb', [ep('10.244.1.2')], { loadBalancerIPs: ['10.55.0.2'] })),
      has: [/10\.55\.0\.2 \. tcp \. 80 comment "default\/lb:http" : goto external-/],
    },
    {
      name: 'loadBalancerSourceRanges send new connections to the load-balancer IP through a firewall chain that drops other sources',
      state: state(fw),
      has: [
        `add element ip k8ts-proxy firewall-ips { 10.55.0.2 . tcp . 80 comment "default/fw:http" : goto ${firewallChainName(fw)} }`,
        `${T} ${firewallChainName(fw)} ip saddr != { 192.168.0.0/16, 203.0.113.0/24 } drop`,
        `${T} filter-prerouting ct state new jump firewall-check`,
        `${T} filter-output ct state new jump firewall-check`,
        `${T} firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips`,
      ],
      // NodePorts, external IPs and the ClusterIP are not subject to the ranges, as upstream.
      hasNot: [/firewall-ips \{[^}]*(10\.55\.0\.1|10\.96\.0\.10|30085)/],
    },
    {
      name: 'with a node IP inside a source range, the load-balancer IP is an allowed source too',
      state: state({ ...fw, loadBalancerSourceRanges: ['10.77.0.0/24'] }),
      has: [`${T} ${firewallChainName(fw)} ip saddr != { 10.77.0.0/24, 10.55.0.2 } drop`],
    },
    {
      name: 'a Service without endpoints still drops disallowed sources before rejecting the rest',
      state: state({ ...fw, endpoints: [] }),
      has: [/firewall-ips \{ 10\.55\.0\.2 \. tcp \. 80 comment "default\/fw:http" : goto firewall-/, /no-endpoint-services \{[^}]*10\.55\.0\.2 \. tcp \. 80 comment "default\/fw:http" : goto reject-chain/],
    },
    {
      name: 'without source ranges there is no firewall chain and the map stays empty',
      state: state(svcPort('lb', [ep('10.244.1.2')], { loadBalancerIPs: ['10.55.0.2'] })),
      has: [],
      hasNot: [/add chain ip k8ts-proxy firewall-[A-Z2-7]{8}-/, 'add element ip k8ts-proxy firewall-ips'],
    },
    {
      name: 'UDP endpoints are DNATed with the UDP protocol match',
      state: state(svcPort('dns', [ep('10.244.1.9', { port: 53 })], { protocol: 'udp', port: 53 })),
      has: [/service-\S+ meta l4proto udp dnat to 10\.244\.1\.9:53/, /10\.96\.0\.10 \. udp \. 53/],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const out = renderNftRuleset(c.state);
      for (const h of c.has) {
        if (typeof h === 'string') assert.ok(out.includes(h + '\n'), `missing line: ${h}\n---\n${out}`);
        else assert.match(out, h);
      }
      for (const h of c.hasNot ?? []) {
        if (typeof h === 'string') assert.ok(!out.includes(h), `unexpected: ${h}`);
        else assert.doesNotMatch(out, h);
      }
    });
  }

  it('keeps only the first of two Services that claim the same address and port, so the transaction still applies', () => {
    const a = svcPort('a', [ep('10.244.1.2')], { externalIPs: ['10.55.0.1'] });
    const b = svcPort('b', [ep('10.244.1.3')], { externalIPs: ['10.55.0.1'], clusterIP: '10.96.0.20' });
    const out = renderNftRuleset(state(a, b));
    assert.equal(out.match(/10\.55\.0\.1 \. tcp \. 80/g)?.length, 1);
    assert.match(out, /10\.55\.0\.1 \. tcp \. 80 comment "default\/a:http"/);
  });

  it('with localhost NodePorts, answers on 127.0.0.1 and drops outside traffic to 127/8 that was not DNATed', () => {
    const out = renderNftRuleset({ ...state(svcPort('web', [ep('10.244.1.2')], { nodePort: 30080 })), nodeIPs: ['10.77.0.1', '127.0.0.1'], localhostNodePorts: true });
    assert.ok(out.includes('add element ip k8ts-proxy nodeport-ips { 10.77.0.1, 127.0.0.1 }\n'));
    const input = out.split('\n').filter((l) => l.startsWith('add rule ip k8ts-proxy filter-input '));
    assert.equal(input[0], 'add rule ip k8ts-proxy filter-input ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct status & dnat == 0 drop');
    assert.doesNotMatch(renderNftRuleset(state()), /127\.0\.0\.0\/8/);
  });

  it('replaces the whole table when it knows nothing about what is there', () => {
    const out = renderNftRuleset(state());
    assert.deepEqual(out.split('\n').slice(0, 3), ['add table ip k8ts-proxy', 'delete table ip k8ts-proxy', 'add table ip k8ts-proxy']);
  });

  it('updates in place after a good sync: only changed chains and elements, stale chains flushed then deleted, affinity kept', () => {
    const a = svcPort('a', [ep('10.244.1.2'), ep('10.244.1.3')], { affinityTimeoutSeconds: 60 });
    const b = svcPort('b', [ep('10.244.1.4')], { clusterIP: '10.96.0.20' });
    const c = svcPort('c', [ep('10.244.1.5')], { clusterIP: '10.96.0.30' });
    const before = state(a, b, c);
    const after = state({ ...a, endpoints: [a.endpoints[0]] }, c);
    const out = renderNftRuleset(after, { previous: nftSnapshot(before) }).split('\n');
    assert.ok(!out.some((l) => l.startsWith('delete table')));
    const goneEp = endpointChainName(a, a.endpoints[1]);
    const flushAt = out.indexOf(`flush chain ip k8ts-proxy ${goneEp}`);
    const deleteAt = out.indexOf(`delete chain ip k8ts-proxy ${goneEp}`);
    assert.ok(flushAt >= 0 && deleteAt > flushAt, 'stale endpoint chain flushed, then deleted');
    assert.ok(out.includes(`delete chain ip k8ts-proxy ${clusterChainName(b)}`));
    assert.ok(out.includes(`flush chain ip k8ts-proxy ${clusterChainName(a)}`), 'the changed service chain is rewritten');
    assert.ok(!out.some((l) => l.includes(clusterChainName(c))), 'an unchanged service is not touched');
    assert.ok(out.includes('delete element ip k8ts-proxy service-ips { 10.96.0.20 . tcp . 80 }'));
    assert.ok(out.indexOf('delete element ip k8ts-proxy service-ips { 10.96.0.20 . tcp . 80 }') < out.indexOf(`delete chain ip k8ts-proxy ${clusterChainName(b)}`));
    assert.equal(out.filter((l) => /^delete set .*affinity/.test(l)).length, 1, 'only the gone endpoint loses its affinity set');
    assert.ok(!out.some((l) => /^flush set .*affinity/.test(l)), 'affinity sets are never flushed');
  });

  it('gives the same script with a render cache as without, across changes', () => {
    const cache = new Map();
    const a = state(svcPort('a', [ep('10.244.1.2'), ep('10.244.1.3')], { affinityTimeoutSeconds: 60, nodePort: 30001 }), svcPort('b', [ep('10.244.1.4')], { clusterIP: '10.96.0.20' }));
    const b = state({ ...a.services[0], endpoints: [ep('10.244.1.9')] }, a.services[1]);
    const c = { ...b, clusterCIDR: '10.200.0.0/16' };
    let prevPlain: ReturnType<typeof nftSnapshot> | undefined;
    let prevCached: ReturnType<typeof nftSnapshot> | undefined;
    for (const st of [a, b, a, c, state()]) {
      const plain = renderNft(st, { previous: prevPlain });
      const cached = renderNft(st, { previous: prevCached, cache });
      assert.equal(cached.script, plain.script);
      prevPlain = plain.snapshot;
      prevCached = cached.snapshot;
    }
    assert.equal(cache.size, 0, 'services that are gone leave the cache');
  });

  it('turns one endpoint change among 500 Services into a transaction touching only that Service', () => {
    const many = Array.from({ length: 500 }, (_, i) =>
      svcPort(`s${i}`, [ep(`10.244.${i >> 8}.${(i & 255) + 1}`), ep(`10.245.${i >> 8}.${(i & 255) + 1}`, { local: false })], { clusterIP: `10.96.${i >> 8}.${(i & 255) + 1}`, nodePort: i % 4 ? 0 : 30000 + i }),
    );
    const cache = new Map();
    const first = renderNft(state(...many), { cache });
    const target = many[100];
    const changed = { ...target, endpoints: [target.endpoints[0], ep('10.246.0.9', { local: false })] };
    // As the proxy's tracker hands them over: the other 499 are the very same objects.
    const next = state(...many.slice(0, 100), changed, ...many.slice(101));
    const { script } = renderNft(next, { previous: first.snapshot, cache });
    const lines = script.trim().split('\n');
    assert.deepEqual(lines, [
      `flush chain ip k8ts-proxy ${clusterChainName(target)}`,
      `${T} ${clusterChainName(target)} ip daddr ${target.clusterIP} tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade`,
      `${T} ${clusterChainName(target)} numgen random mod 2 == 0 meta l4proto tcp dnat to ${target.endpoints[0].ip}:8080`,
      `${T} ${clusterChainName(target)} meta l4proto tcp dnat to 10.246.0.9:8080`,
      `delete element ip k8ts-proxy hairpin-endpoints { ${target.endpoints[1].ip} . ${target.endpoints[1].ip} }`,
      'add element ip k8ts-proxy hairpin-endpoints { 10.246.0.9 . 10.246.0.9 }',
    ]);
  });

  it('renders nothing when nothing changed, and everything (in place) when asked to rewrite', () => {
    const st = state(svcPort('a', [ep('10.244.1.2')], { affinityTimeoutSeconds: 60 }));
    assert.equal(renderNftRuleset(st, { previous: nftSnapshot(st) }), '');
    const all = renderNftRuleset(st, { previous: nftSnapshot(st), rewriteAll: true });
    assert.match(all, /^flush map ip k8ts-proxy service-ips$/m);
    assert.match(all, /^flush chain ip k8ts-proxy service-/m);
    assert.doesNotMatch(all, /delete table|flush set ip k8ts-proxy affinity/);
  });

  it('names chains by namespace, name, protocol and port, with a hash prefix', () => {
    assert.match(clusterChainName(svcPort('web', [])), /^service-[A-Z2-7]{8}-default\/web\/tcp\/http$/);
    assert.match(endpointChainName(svcPort('web', []), ep('10.244.1.2')), /^endpoint-[A-Z2-7]{8}-default\/web\/tcp\/http__10\.244\.1\.2\/8080$/);
    assert.notEqual(clusterChainName(svcPort('web', [])), clusterChainName(svcPort('web', [], { protocol: 'udp' })));
  });

  const root = process.getuid?.() === 0 && !spawnSync('nft', ['--version']).error && !spawnSync('ip', ['-V']).error;
  it('produces scripts the kernel accepts, applied and updated in a private namespace', { skip: root ? false : 'needs root, nft and ip' }, () => {
    const ns = `k8ts-np-nft${process.pid}`;
    assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0);
    try {
      const nft = (input: string) => spawnSync('nsenter', [`--net=/var/run/netns/${ns}`, 'nft', '-f', '-'], { input, encoding: 'utf8' });
      const full = state(
        svcPort('web', [ep('10.244.1.2'), ep('10.244.1.3', { local: false })], { nodePort: 30080, affinityTimeoutSeconds: 30, externalIPs: ['10.55.0.1'], loadBalancerIPs: ['10.55.0.2'], externalPolicyLocal: true }),
        svcPort('none', [], { nodePort: 30081 }),
        // Same ClusterIP as 'none' on purpose: a clash must not break the transaction.
        svcPort('int', [ep('10.244.2.2', { local: false })], { internalPolicyLocal: true }),
        svcPort('dns', [ep('10.244.1.9', { port: 53 })], { protocol: 'udp', port: 53, clusterIP: '10.96.0.11' }),
        svcPort('sctp', [ep('10.244.1.9', { port: 99 })], { protocol: 'sctp', port: 99, clusterIP: '10.96.0.12' }),
        svcPort('fw', [ep('10.244.1.9')], { clusterIP: '10.96.0.13', loadBalancerIPs: ['10.55.0.3', '10.55.0.4'], loadBalancerSourceRanges: ['10.77.0.0/24', '192.168.0.0/16'] }),
        svcPort('big', Array.from({ length: 10 }, (_, i) => ep(`10.244.3.${i + 2}`, { local: i % 2 === 0 })), { clusterIP: '10.96.0.14', nodePort: 30082, externalPolicyLocal: true }),
      );
      let r = nft(renderNftRuleset({ ...full, localhostNodePorts: true }));
      assert.equal(r.status, 0, r.stderr);
      r = nft(renderNftRuleset(full));
      assert.equal(r.status, 0, r.stderr);
      const smaller = state(full.services[0], full.services[3]);
      const moved = state({ ...full.services[0], endpoints: [ep('10.244.1.7')] }, ...full.services.slice(1));
      // Full → moved endpoints → full again (diffs), → a rewrite in place → smaller (diff).
      for (const [from, to, rewriteAll] of [[full, moved, false], [moved, full, false], [full, full, true], [full, smaller, false]] as const) {
        r = nft(renderNftRuleset(to, { previous: nftSnapshot(from), rewriteAll }));
        assert.equal(r.status, 0, r.stderr);
      }
      const list = spawnSync('nsenter', [`--net=/var/run/netns/${ns}`, 'nft', 'list', 'table', 'ip', 'k8ts-proxy'], { encoding: 'utf8' });
      assert.match(list.stdout, /default\/web/);
      assert.doesNotMatch(list.stdout, /default\/int|default\/none|default\/sctp/);
      r = nft(renderNftCleanup());
      assert.equal(r.status, 0, r.stderr);
      r = nft(renderNftCleanup());
      assert.equal(r.status, 0, 'cleanup twice is fine');
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
    }
  });
});
