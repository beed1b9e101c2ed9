import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalLoadBalancer, LOCAL_LOAD_BALANCER_CLASS } from './local-provider.js';
import { LoadBalancerError } from './provider.js';

const svc = (name: string, spec: Record<string, unknown> = {}, ingressIP?: string) => ({
  metadata: { namespace: 'default', name },
  spec: { type: 'LoadBalancer', ...spec },
  status: ingressIP ? { loadBalancer: { ingress: [{ ip: ingressIP }] } } : {},
});

test('the local load balancer hands out pool addresses, keeps them per Service and releases them on delete', async () => {
  const lb = new LocalLoadBalancer('127.0.100.0/30');
  const a = await lb.ensureLoadBalancer('k', svc('a'));
  const b = await lb.ensureLoadBalancer('k', svc('b'));
  assert.deepEqual(a.ingress, [{ ip: '127.0.100.1', ipMode: 'VIP' }]);
  assert.equal(b.ingress[0].ip, '127.0.100.2');
  assert.equal((await lb.ensureLoadBalancer('k', svc('a'))).ingress[0].ip, '127.0.100.1', 'stable for a Service');
  await assert.rejects(lb.ensureLoadBalancer('k', svc('c')), LoadBalancerError, 'a /30 has two addresses');
  await lb.ensureLoadBalancerDeleted('k', svc('a'));
  assert.equal((await lb.ensureLoadBalancer('k', svc('c'))).ingress[0].ip, '127.0.100.1', 'released address reused');
});

test('loadBalancerIP is honoured when it is in the pool and free, and refused otherwise', async () => {
  const lb = new LocalLoadBalancer('127.0.100.0/24');
  const cases: [string, Record<string, unknown>, string | RegExp][] = [
    ['want', { loadBalancerIP: '127.0.100.77' }, '127.0.100.77'],
    ['taken', { loadBalancerIP: '127.0.100.77' }, /already in use by service default\/want/],
    ['outside', { loadBalancerIP: '10.0.0.1' }, /not in the pool 127.0.100.0\/24/],
  ];
  for (const [name, spec, want] of cases) {
    if (typeof want === 'string') assert.equal((await lb.ensureLoadBalancer('k', svc(name, spec))).ingress[0].ip, want, name);
    else await assert.rejects(lb.ensureLoadBalancer('k', svc(name, spec)), want, name);
  }
});

test('addresses already in Services\' status survive a restart of the controller', async () => {
  const lb = new LocalLoadBalancer('127.0.100.0/24');
  lb.observeExisting([svc('old', {}, '127.0.100.1'), svc('foreign', {}, '192.0.2.9')]);
  assert.equal((await lb.ensureLoadBalancer('k', svc('new'))).ingress[0].ip, '127.0.100.2');
  assert.equal((await lb.ensureLoadBalancer('k', svc('old'))).ingress[0].ip, '127.0.100.1');
});

test('the local provider answers the default class and its own, not other implementations', () => {
  const lb = new LocalLoadBalancer('127.0.100.0/24');
  const cases: [string | undefined, boolean][] = [
    [undefined, true],
    [LOCAL_LOAD_BALANCER_CLASS, true],
    ['example.com/other', false],
  ];
  for (const [cls, want] of cases) assert.equal(lb.handlesClass(cls), want, String(cls));
});

test('a malformed pool is refused at construction', () => {
  assert.throws(() => new LocalLoadBalancer('127.0.100.0/31'), /invalid load balancer pool/);
  assert.throws(() => new LocalLoadBalancer('nonsense'), /invalid load balancer pool/);
});
