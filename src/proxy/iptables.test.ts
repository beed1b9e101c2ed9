import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { iptablesChains, iptablesJumps, iptChain, parseIptablesSave, renderIptablesCleanup, renderIptablesRestore } from './iptables.js';
import { ep, state, svcPort } from './testdata.js';
import type { ProxyState } from './state.js';

describe('renderIptablesRestore writes the proxy chains for iptables-restore --noflush', () => {
  const three = svcPort('web', [ep('10.244.1.2'), ep('10.244.1.3', { local: false }), ep('10.244.1.4', { local: false })], { nodePort: 30080 });
  const c = '-m comment --comment "default/web:http"';
  const fw = svcPort('fw', [ep('10.244.1.2')], { nodePort: 30085, externalIPs: ['10.55.0.1'], loadBalancerIPs: ['10.55.0.2'], loadBalancerSourceRanges: ['192.168.0.0/16', '203.0.113.0/24'] });
  const cfw = '-m comment --comment "default/fw:http"';
  const cases: { name: string; state: ProxyState; has: (string | RegExp)[]; hasNot?: (string | RegExp)[] }[] = [
    {
      name: 'three endpoints are picked with probabilities one third, one half, then the rest',
      state: state(three),
      has: [
        `-A ${iptChain.cluster(three)} ${c} -m statistic --mode random --probability 0.3333333333 -j ${iptChain.endpoint(three, three.endpoints[0])}`,
        `-A ${iptChain.cluster(three)} ${c} -m statistic --mode random --probability 0.5000000000 -j ${iptChain.endpoint(three, three.endpoints[1])}`,
        `-A ${iptChain.cluster(three)} ${c} -j ${iptChain.endpoint(three, three.endpoints[2])}`,
        `-A ${iptChain.endpoint(three, three.endpoints[0])} ${c} -p tcp -m tcp -j DNAT --to-destination 10.244.1.2:8080`,
      ],
    },
    {
      name: 'the ClusterIP jumps to the service chain, which masquerades traffic from outside the pod range',
      state: state(three),
      has: [
        `-A KUBE-SERVICES ${c} -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j ${iptChain.cluster(three)}`,
        `-A ${iptChain.cluster(three)} ${c} ! -s 10.244.0.0/16 -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ`,
        `-A ${iptChain.endpoint(three, three.endpoints[0])} ${c} -s 10.244.1.2/32 -j KUBE-MARK-MASQ`,
      ],
    },
    {
      name: 'NodePorts are reached from the node IPs through KUBE-NODEPORTS and an external chain that masquerades',
      state: state(three),
      has: ['-A KUBE-SERVICES -d 10.77.0.1/32 -j KUBE-NODEPORTS', `-A KUBE-NODEPORTS ${c} -p tcp -m tcp --dport 30080 -j ${iptChain.external(three)}`, `-A ${iptChain.external(three)} -j KUBE-MARK-MASQ`],
    },
    {
      name: 'a TCP Service without endpoints is reset in the filter table, on the ClusterIP and the NodePort',
      state: state(svcPort('none', [], { nodePort: 30090 })),
      has: [
        '-A KUBE-SERVICES -m comment --comment "default/none:http" -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REJECT --reject-with tcp-reset',
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/none:http" -d 10.77.0.1/32 -p tcp -m tcp --dport 30090 -j REJECT --reject-with tcp-reset',
      ],
      hasNot: [/KUBE-SVC-/],
    },
    {
      name: 'a UDP Service without endpoints gets an ICMP reject',
      state: state(svcPort('dns', [], { protocol: 'udp', port: 53 })),
      has: ['-A KUBE-SERVICES -m comment --comment "default/dns:http" -d 10.96.0.10/32 -p udp -m udp --dport 53 -j REJECT'],
    },
    {
      name: 'session affinity checks and sets a recent list per endpoint',
      state: state(svcPort('s', [ep('10.244.1.2')], { affinityTimeoutSeconds: 600 })),
      has: [/-m recent --name KUBE-SEP-\w+ --mask 255\.255\.255\.255 --rsource --rcheck --seconds 600 --reap -j KUBE-SEP-/, /-m recent --name KUBE-SEP-\w+ --mask 255\.255\.255\.255 --rsource --set -j DNAT/],
    },
    {
      name: 'externalTrafficPolicy Local with no local endpoint drops outside traffic in the filter table',
      state: state(svcPort('r', [ep('10.244.2.2', { local: false })], { nodePort: 30091, externalPolicyLocal: true })),
      has: ['-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/r:http" -d 10.77.0.1/32 -p tcp -m tcp --dport 30091 -j DROP'],
    },
    {
      name: 'loadBalancerSourceRanges send the load-balancer IP through a firewall chain; other sources stay un-DNATed and are dropped',
      state: state(fw),
      has: [
        `-A KUBE-SERVICES ${cfw} -d 10.55.0.2/32 -p tcp -m tcp --dport 80 -j ${iptChain.firewall(fw)}`,
        `-A ${iptChain.firewall(fw)} ${cfw} -s 192.168.0.0/16 -j ${iptChain.external(fw)}`,
        `-A ${iptChain.firewall(fw)} ${cfw} -s 203.0.113.0/24 -j ${iptChain.external(fw)}`,
        `-A KUBE-SERVICES ${cfw} -d 10.55.0.2/32 -p tcp -m tcp --dport 80 -j DROP`,
        // External IPs and NodePorts are not subject to the ranges.
        `-A KUBE-SERVICES ${cfw} -d 10.55.0.1/32 -p tcp -m tcp --dport 80 -j ${iptChain.external(fw)}`,
        `-A KUBE-NODEPORTS ${cfw} -p tcp -m tcp --dport 30085 -j ${iptChain.external(fw)}`,
      ],
      hasNot: [/-d 10\.55\.0\.2\/32 -p tcp -m tcp --dport 80 -j KUBE-EXT-/],
    },
    {
      name: 'with a node IP inside a source range, the load-balancer IP is an allowed source too',
      state: state({ ...fw, loadBalancerSourceRanges: ['10.77.0.0/24'] }),
      has: [`-A ${iptChain.firewall(fw)} ${cfw} -s 10.77.0.0/24 -j ${iptChain.external(fw)}`, `-A ${iptChain.firewall(fw)} ${cfw} -s 10.55.0.2/32 -j ${iptChain.external(fw)}`],
    },
  ];
  for (const t of cases) {
    it(t.name, () => {
      const out = renderIptablesRestore(t.state);
      for (const h of t.has) {
        if (typeof h === 'string') assert.ok(out.includes(h + '\n'), `missing line: ${h}\n---\n${out}`);
        else assert.match(out, h);
      }
      for (const h of t.hasNot ?? []) assert.doesNotMatch(out, h as RegExp);
    });
  }

  it('with localhost NodePorts, guards 127/8 against outside traffic that was not DNATed', () => {
    const out = renderIptablesRestore({ ...state(svcPort('web', [ep('10.244.1.2')], { nodePort: 30080 })), nodeIPs: ['10.77.0.1', '127.0.0.1'], localhostNodePorts: true });
    assert.ok(out.includes('-A KUBE-SERVICES -d 127.0.0.1/32 -j KUBE-NODEPORTS\n'));
    assert.ok(out.includes('-A KUBE-EXTERNAL-SERVICES -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n'));
  });

  it('keeps chain names within the 28 characters iptables allows', () => {
    const long = svcPort('a-very-long-service-name-that-goes-on-and-on', [ep('10.244.1.2')], { namespace: 'a-namespace-with-a-long-name', nodePort: 30000 });
    for (const ch of iptablesChains(state(long))) assert.ok(ch.length <= 28, ch);
  });

  it('declares stale service chains (which flushes them) and deletes them after the new rules', () => {
    const gone = svcPort('gone', [ep('10.244.1.9')]);
    const out = renderIptablesRestore(state(three), { existing: [...iptablesChains(state(three, gone)), 'KUBE-MARK-MASQ'] }).split('\n');
    const stale = [...iptablesChains(state(gone))];
    assert.equal(stale.length, 2);
    for (const ch of stale) {
      assert.ok(out.indexOf(`:${ch} - [0:0]`) >= 0);
      assert.ok(out.indexOf(`-X ${ch}`) > out.indexOf(`:${ch} - [0:0]`));
    }
    assert.ok(!out.includes('-X KUBE-MARK-MASQ'), 'fixed chains are never deleted by a sync');
  });

  const root = process.getuid?.() === 0 && !spawnSync('iptables-restore', ['--version']).error && !spawnSync('ip', ['-V']).error;
  it('produces input iptables-restore accepts, in a private namespace', { skip: root ? false : 'needs root, iptables and ip' }, () => {
    const ns = `k8ts-np-ipt${process.pid}`;
    assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0);
    try {
      const restore = (input: string) => spawnSync('nsenter', [`--net=/var/run/netns/${ns}`, 'iptables-restore', '--noflush'], { input, encoding: 'utf8' });
      const full = state(three, svcPort('fw', [ep('10.244.1.2')], { clusterIP: '10.96.0.13', loadBalancerIPs: ['10.55.0.3'], loadBalancerSourceRanges: ['10.77.0.0/24'] }), svcPort('none', [], { nodePort: 30081, clusterIP: '10.96.0.11' }), svcPort('s', [ep('10.244.1.2')], { affinityTimeoutSeconds: 60, clusterIP: '10.96.0.12', externalPolicyLocal: true, nodePort: 30082 }));
      const save = () => spawnSync('nsenter', [`--net=/var/run/netns/${ns}`, 'iptables-save'], { encoding: 'utf8' }).stdout;
      let r = restore(renderIptablesRestore({ ...full, localhostNodePorts: true }, { addJumps: iptablesJumps() }));
      assert.equal(r.status, 0, r.stderr);
      const seen = parseIptablesSave(save());
      assert.equal(seen.jumps.length, iptablesJumps().length, 'every jump is found again in iptables-save output');
      assert.deepEqual(seen.chains, iptablesChains(full));
      r = restore(renderIptablesRestore(state(three), { existing: iptablesChains(full) }));
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(save(), /default\/s:http|default\/none/);
      assert.match(save(), /default\/web:http/);
      const now = parseIptablesSave(save());
      r = restore(renderIptablesCleanup(now.chains, now.jumps));
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(save(), /KUBE-|k8ts-proxy/);
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
    }
  });
});
