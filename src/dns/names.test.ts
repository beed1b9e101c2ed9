import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dashedToIP, ipToDashed, ipToReverse, isReverseName, normalizeIP, parseClusterName, reverseToIP } from './names.js';

test('parseClusterName splits names in the cluster zone as CoreDNS does', () => {
  const cases: [string, unknown][] = [
    ['cluster.local', { kind: 'apex' }],
    ['Cluster.Local.', { kind: 'apex' }],
    ['dns-version.cluster.local', { kind: 'dns-version' }],
    ['svc.cluster.local', { kind: 'type-root', type: 'svc' }],
    ['pod.cluster.local.', { kind: 'type-root', type: 'pod' }],
    ['default.svc.cluster.local', { kind: 'namespace', type: 'svc', namespace: 'default' }],
    ['web.default.svc.cluster.local', { kind: 'service', namespace: 'default', service: 'web' }],
    ['WEB.Default.SVC.cluster.local.', { kind: 'service', namespace: 'default', service: 'web' }],
    ['web-0.web.default.svc.cluster.local', { kind: 'endpoint', namespace: 'default', service: 'web', endpoint: 'web-0' }],
    ['_http._tcp.web.default.svc.cluster.local', { kind: 'port', namespace: 'default', service: 'web', port: 'http', protocol: 'tcp' }],
    ['http.tcp.web.default.svc.cluster.local', { kind: 'port', namespace: 'default', service: 'web', port: 'http', protocol: 'tcp' }],
    ['a._http._tcp.web.default.svc.cluster.local', { kind: 'invalid' }],
    ['10-1-2-3.default.pod.cluster.local', { kind: 'pod', namespace: 'default', ip: '10.1.2.3' }],
    ['fd00--1.default.pod.cluster.local', { kind: 'pod', namespace: 'default', ip: 'fd00::1' }],
    ['not-an-ip.default.pod.cluster.local', { kind: 'pod', namespace: 'default', ip: undefined }],
    ['x.10-1-2-3.default.pod.cluster.local', { kind: 'invalid' }],
    ['foo.cluster.local', { kind: 'invalid' }],
    ['web.default.other.cluster.local', { kind: 'invalid' }],
    ['example.com', undefined],
    ['notcluster.local', undefined],
  ];
  for (const [name, want] of cases) assert.deepEqual(parseClusterName(name, 'cluster.local'), want, name);
});

test('dashed labels and addresses convert both ways', () => {
  const cases: [string, string][] = [
    ['10.1.2.3', '10-1-2-3'],
    ['fd00::1', 'fd00--1'],
    ['2001:db8:0:0:1:0:0:1', '2001-db8-0-0-1-0-0-1'],
  ];
  for (const [ip, dashed] of cases) {
    assert.equal(ipToDashed(ip), dashed);
    assert.equal(dashedToIP(dashed), ip);
  }
  assert.equal(dashedToIP('10-1-2'), undefined);
  assert.equal(dashedToIP('300-1-2-3'), undefined);
});

test('reverse names map to addresses and back', () => {
  const cases: [string, string][] = [
    ['10.96.0.10', '10.0.96.10.in-addr.arpa'],
    ['fd00::a', 'a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa'],
  ];
  for (const [ip, rev] of cases) {
    assert.equal(ipToReverse(ip), rev);
    assert.equal(reverseToIP(rev), ip);
    assert.equal(reverseToIP(rev.toUpperCase() + '.'), ip);
    assert.ok(isReverseName(rev));
  }
  assert.equal(reverseToIP('96.10.in-addr.arpa'), undefined, 'a partial name is no address');
  assert.equal(reverseToIP('1.2.3.256.in-addr.arpa'), undefined);
  assert.equal(isReverseName('web.default.svc.cluster.local'), false);
});

test('normalizeIP gives one spelling per IPv6 address', () => {
  const cases: [string, string][] = [
    ['10.0.0.1', '10.0.0.1'],
    ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['0:0:0:0:0:0:0:0', '::'],
  ];
  for (const [input, want] of cases) assert.equal(normalizeIP(input), want, input);
});
