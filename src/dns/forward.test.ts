import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as packet from 'dns-packet';
import { Forwarder, parseUpstream, upstreamsFromResolvConf } from './forward.js';
import { deadPort, query, startFakeUpstream } from './testdata/fake-upstream.js';

test('parseUpstream accepts addresses with and without ports', () => {
  const cases: [string, { host: string; port: number }][] = [
    ['10.0.0.1', { host: '10.0.0.1', port: 53 }],
    ['127.0.0.1:5353', { host: '127.0.0.1', port: 5353 }],
    ['fd00::1', { host: 'fd00::1', port: 53 }],
    ['[fd00::1]:5353', { host: 'fd00::1', port: 5353 }],
  ];
  for (const [s, want] of cases) assert.deepEqual(parseUpstream(s), want, s);
  assert.throws(() => parseUpstream('dns.example.com'), /invalid upstream/);
});

test('upstreamsFromResolvConf takes the nameservers but not this server itself', () => {
  const text = '# x\nnameserver 10.255.255.53\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\nsearch example\n';
  assert.deepEqual(upstreamsFromResolvConf(text).map((u) => u.host), ['10.255.255.53', '127.0.0.53', 'fe80::1']);
  assert.deepEqual(upstreamsFromResolvConf(text, { host: '127.0.0.53', port: 53 }).map((u) => u.host), ['10.255.255.53', 'fe80::1']);
  assert.deepEqual(upstreamsFromResolvConf(text, { host: '0.0.0.0', port: 53 }).map((u) => u.host), ['10.255.255.53', 'fe80::1']);
  assert.deepEqual(upstreamsFromResolvConf(text, { host: '127.0.0.53', port: 1053 }).length, 3, 'another port is not a loop');
});

test('a Forwarder skips a refused upstream at once and returns the reply with the client ID', async () => {
  const up = await startFakeUpstream({ 'example.test': '192.0.2.7' });
  try {
    const f = new Forwarder([{ host: '127.0.0.1', port: await deadPort() }, { host: '127.0.0.1', port: up.port }]);
    for (const proto of ['udp', 'tcp'] as const) {
      const t0 = Date.now();
      const reply = packet.decode(await f.exchange(query('example.test', 'A', { id: 777 }), proto));
      assert.equal(reply.id, 777);
      assert.deepEqual(reply.answers?.map((a) => (a as { data: string }).data), ['192.0.2.7']);
      assert.ok(Date.now() - t0 < 500, `answered in ${Date.now() - t0} ms`);
    }
    assert.deepEqual(up.seen, ['example.test A udp', 'example.test A tcp']);
  } finally {
    await up.stop();
  }
});

test('a Forwarder gives up within its deadline when the upstream stays silent', async () => {
  const slow = await startFakeUpstream({ 'example.test': '192.0.2.7' }, { delayMs: 5000 });
  try {
    const f = new Forwarder([{ host: '127.0.0.1', port: slow.port }], { timeoutMs: 400 });
    const t0 = Date.now();
    await assert.rejects(f.exchange(query('example.test', 'A'), 'udp'), /timed out/);
    const took = Date.now() - t0;
    assert.ok(took >= 350 && took < 1000, `gave up after ${took} ms`);
  } finally {
    await slow.stop();
  }
});
