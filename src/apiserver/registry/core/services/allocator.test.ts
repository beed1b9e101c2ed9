import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../../../api/errors.js';
import type { HookContext, KObject } from '../../generic/strategy.js';
import { ServiceAllocator, nodePortKeyPrefix, serviceIPKeyPrefix } from './allocator.js';
import { serviceStrategy } from './strategy.js';

/** An in-memory claim space, like the store's keys. */
function fakeClaims(dryRun = false): { taken: Map<string, string>; ctx: HookContext } {
  const taken = new Map<string, string>();
  return {
    taken,
    ctx: {
      dryRun,
      async claim(key, owner) {
        if (taken.has(key)) return false;
        if (!dryRun) taken.set(key, owner);
        return true;
      },
      async release(key) {
        if (!dryRun) taken.delete(key);
      },
    },
  };
}

function svc(name: string, spec: Record<string, any>): KObject {
  const s = { metadata: { name, namespace: 'default' }, spec: structuredClone(spec) };
  strategy.prepareForCreate!(s);
  strategy.defaults!(s);
  return s;
}

const strategy = serviceStrategy({ serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 32767], random: () => 0 });
const hooks = strategy.hooks!;

async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StatusError, String(e));
    return { code: e.code, message: e.message };
  }
  assert.fail('expected a rejection');
}

describe('ClusterIP allocation', () => {
  it('a new ClusterIP service gets an address from the upper part of the range', async () => {
    const { ctx, taken } = fakeClaims();
    const s = svc('web', { ports: [{ port: 80 }] });
    await hooks.beforeCreate!(s, ctx);
    assert.equal(s.spec.clusterIP, '10.43.1.1');
    assert.deepEqual(s.spec.clusterIPs, ['10.43.1.1']);
    assert.deepEqual([...taken.keys()], [`${serviceIPKeyPrefix}10.43.1.1`]);
  });

  it('a requested cluster IP is honoured, even the first one for the kubernetes service', async () => {
    const { ctx } = fakeClaims();
    const s = svc('kubernetes', { clusterIP: '10.43.0.1', ports: [{ port: 443 }] });
    await hooks.beforeCreate!(s, ctx);
    assert.deepEqual(s.spec.clusterIPs, ['10.43.0.1']);
  });

  it('a requested cluster IP that is taken is refused with 422 and the upstream message', async () => {
    const { ctx } = fakeClaims();
    await hooks.beforeCreate!(svc('a', { clusterIP: '10.43.0.10', ports: [{ port: 80 }] }), ctx);
    const err = await rejection(hooks.beforeCreate!(svc('b', { clusterIP: '10.43.0.10', ports: [{ port: 80 }] }), ctx));
    assert.deepEqual(err, {
      code: 422,
      message: 'Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.10"}: failed to allocate IP 10.43.0.10: provided IP is already allocated',
    });
  });

  it('a requested cluster IP outside the range is refused', async () => {
    const { ctx } = fakeClaims();
    const err = await rejection(hooks.beforeCreate!(svc('b', { clusterIP: '10.96.0.10', ports: [{ port: 80 }] }), ctx));
    assert.equal(
      err.message,
      'Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: the provided IP (10.96.0.10) is not in the valid range. The range of valid IPs is 10.43.0.0/16',
    );
  });

  it('a headless service claims no address', async () => {
    const { ctx, taken } = fakeClaims();
    const s = svc('h', { clusterIP: 'None', selector: { app: 'x' }, ports: [{ port: 80 }] });
    await hooks.beforeCreate!(s, ctx);
    assert.deepEqual(s.spec.clusterIPs, ['None']);
    assert.equal(taken.size, 0);
  });

  it('an ExternalName service claims nothing', async () => {
    const { ctx, taken } = fakeClaims();
    const s = svc('e', { type: 'ExternalName', externalName: 'db.example.com' });
    await hooks.beforeCreate!(s, ctx);
    assert.equal(s.spec.clusterIP, undefined);
    assert.equal(taken.size, 0);
  });

  it('a full range answers 500 range is full, and never hands out the first address', async () => {
    const small = serviceStrategy({ serviceCIDR: '10.0.0.0/29', nodePortRange: [30000, 32767], random: () => 0.5 });
    const { ctx, taken } = fakeClaims();
    const mk = (n: string) => {
      const s: KObject = { metadata: { name: n, namespace: 'default' }, spec: { ports: [{ port: 80 }] } };
      small.prepareForCreate!(s);
      small.defaults!(s);
      return s;
    };
    for (let i = 0; i < 5; i++) await small.hooks!.beforeCreate!(mk(`s${i}`), ctx);
    assert.deepEqual([...taken.keys()].map((k) => k.slice(serviceIPKeyPrefix.length)).sort(), ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    const err = await rejection(small.hooks!.beforeCreate!(mk('s5'), ctx));
    assert.deepEqual(err, { code: 500, message: 'Internal error occurred: failed to allocate a serviceIP: range is full' });
  });

  it('a dry run claims nothing', async () => {
    const { ctx, taken } = fakeClaims(true);
    const s = svc('web', { ports: [{ port: 80 }] });
    await hooks.beforeCreate!(s, ctx);
    assert.ok(s.spec.clusterIP);
    assert.equal(taken.size, 0);
  });

  it('a requested IPv6 address on an IPv4 cluster is refused', async () => {
    const { ctx } = fakeClaims();
    const err = await rejection(hooks.beforeCreate!(svc('v6', { clusterIP: 'fd00::10', ports: [{ port: 80 }] }), ctx));
    assert.equal(err.code, 422);
  });
});

describe('NodePort allocation', () => {
  it('a NodePort service gets a cluster IP and a node port per port', async () => {
    const { ctx, taken } = fakeClaims();
    const s = svc('np', { type: 'NodePort', ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] });
    await hooks.beforeCreate!(s, ctx);
    assert.deepEqual(
      s.spec.ports.map((p: any) => p.nodePort),
      [30000, 30001],
    );
    assert.ok(taken.has(`${nodePortKeyPrefix}TCP/30000`));
    assert.ok(taken.has(`${nodePortKeyPrefix}TCP/30001`));
  });

  it('a requested node port is honoured', async () => {
    const { ctx, taken } = fakeClaims();
    const s = svc('np', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] });
    await hooks.beforeCreate!(s, ctx);
    assert.equal(s.spec.ports[0].nodePort, 30080);
    assert.ok(taken.has(`${nodePortKeyPrefix}TCP/30080`));
  });

  it('a taken node port is refused and the cluster IP claimed for it is given back', async () => {
    const { ctx, taken } = fakeClaims();
    await hooks.beforeCreate!(svc('a', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }), ctx);
    const before = taken.size;
    const err = await rejection(hooks.beforeCreate!(svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }), ctx));
    assert.deepEqual(err, { code: 422, message: 'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated' });
    assert.equal(taken.size, before);
  });

  it('a node port outside the range is refused', async () => {
    const { ctx } = fakeClaims();
    const err = await rejection(hooks.beforeCreate!(svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] }), ctx));
    assert.equal(err.message, 'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767');
  });

  it('a full node port range answers 500', async () => {
    const tiny = new ServiceAllocator({ serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 30001], random: () => 0 });
    const { ctx } = fakeClaims();
    const s: KObject = { metadata: { name: 'x', namespace: 'd' }, spec: { type: 'NodePort', ports: [{ name: 'a', port: 1, protocol: 'TCP' }, { name: 'b', port: 2, protocol: 'TCP' }] } };
    await tiny.allocateCreate(s, ctx);
    const t: KObject = { metadata: { name: 'y', namespace: 'd' }, spec: { type: 'NodePort', ports: [{ port: 1, protocol: 'TCP' }] } };
    const err = await rejection(tiny.allocateCreate(t, ctx));
    assert.deepEqual(err, { code: 500, message: 'Internal error occurred: failed to allocate a nodePort: range is full' });
  });

  it('TCP and UDP on the same service port share one node port number', async () => {
    const { ctx, taken } = fakeClaims();
    const s = svc('dns', { type: 'NodePort', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] });
    await hooks.beforeCreate!(s, ctx);
    assert.equal(s.spec.ports[0].nodePort, s.spec.ports[1].nodePort);
    assert.ok(taken.has(`${nodePortKeyPrefix}UDP/${s.spec.ports[0].nodePort}`));
    assert.ok(taken.has(`${nodePortKeyPrefix}TCP/${s.spec.ports[0].nodePort}`));
  });

  it('a LoadBalancer with externalTrafficPolicy Local gets a health check node port', async () => {
    const { ctx } = fakeClaims();
    const s = svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] });
    await hooks.beforeCreate!(s, ctx);
    assert.equal(s.spec.ports[0].nodePort, 30000);
    assert.equal(s.spec.healthCheckNodePort, 30001);
  });
});

describe('release and updates', () => {
  it('deleting a service releases its address and node ports', async () => {
    const { ctx, taken } = fakeClaims();
    const s = svc('np', { type: 'NodePort', ports: [{ port: 80 }] });
    await hooks.beforeCreate!(s, ctx);
    await hooks.afterDelete!(s, ctx);
    assert.equal(taken.size, 0);
  });

  it('an update that omits the allocated values keeps them', async () => {
    const { ctx, taken } = fakeClaims();
    const old = svc('np', { type: 'NodePort', ports: [{ name: 'http', port: 80 }] });
    await hooks.beforeCreate!(old, ctx);
    const next: KObject = { metadata: { name: 'np', namespace: 'default' }, spec: { type: 'NodePort', ports: [{ name: 'http', port: 80 }] } };
    strategy.prepareForUpdate!(next, old);
    strategy.defaults!(next);
    assert.equal(strategy.validateUpdate!(next, old).length, 0);
    await hooks.beforeUpdate!(next, old, ctx);
    assert.equal(next.spec.clusterIP, old.spec.clusterIP);
    assert.equal(next.spec.ports[0].nodePort, old.spec.ports[0].nodePort);
    assert.equal(taken.size, 2);
  });

  it('changing NodePort to ClusterIP drops and releases the node ports', async () => {
    const { ctx, taken } = fakeClaims();
    const old = svc('np', { type: 'NodePort', ports: [{ port: 80 }] });
    await hooks.beforeCreate!(old, ctx);
    const next = structuredClone(old);
    next.spec.type = 'ClusterIP';
    strategy.prepareForUpdate!(next, old);
    strategy.defaults!(next);
    assert.equal(next.spec.ports[0].nodePort, undefined);
    assert.equal(next.spec.externalTrafficPolicy, undefined);
    assert.deepEqual(strategy.validateUpdate!(next, old), []);
    await hooks.beforeUpdate!(next, old, ctx);
    assert.deepEqual([...taken.keys()], [`${serviceIPKeyPrefix}${old.spec.clusterIP}`]);
  });

  it('changing ClusterIP to ExternalName drops and releases the address', async () => {
    const { ctx, taken } = fakeClaims();
    const old = svc('web', { ports: [{ port: 80 }] });
    await hooks.beforeCreate!(old, ctx);
    const next = structuredClone(old);
    next.spec.type = 'ExternalName';
    next.spec.externalName = 'db.example.com';
    strategy.prepareForUpdate!(next, old);
    strategy.defaults!(next);
    assert.equal(next.spec.clusterIP, undefined);
    assert.equal(next.spec.ipFamilies, undefined);
    assert.deepEqual(strategy.validateUpdate!(next, old), []);
    await hooks.beforeUpdate!(next, old, ctx);
    assert.equal(taken.size, 0);
  });

  it('changing ClusterIP to NodePort allocates node ports', async () => {
    const { ctx, taken } = fakeClaims();
    const old = svc('web', { ports: [{ port: 80 }] });
    await hooks.beforeCreate!(old, ctx);
    const next = structuredClone(old);
    next.spec.type = 'NodePort';
    strategy.prepareForUpdate!(next, old);
    strategy.defaults!(next);
    await hooks.beforeUpdate!(next, old, ctx);
    assert.equal(next.spec.ports[0].nodePort, 30000);
    assert.equal(taken.size, 2);
  });
});
