import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../../../api/errors.js';
import { kubeletEndpoint, kubeletPath, pickContainer } from './kubelet-proxy.js';

const pod = (containers: string[], init: string[] = []) => ({
  spec: { containers: containers.map((name) => ({ name })), initContainers: init.map((name) => ({ name })) },
});

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof StatusError);
    assert.equal(e.status.code, 400);
    return e.status.message ?? '';
  }
  throw new Error('no error');
}

describe('choosing the container of a streaming request', () => {
  it('defaults to the only container', () => {
    assert.equal(pickContainer(pod(['app']), null, 'p'), 'app');
  });

  it('asks for a name when the pod has several containers, listing them and the init containers as upstream does', () => {
    assert.equal(message(() => pickContainer(pod(['a', 'b']), null, 'p')), 'a container name must be specified for pod p, choose one of: [a b]');
    assert.equal(message(() => pickContainer(pod(['a', 'b'], ['i']), null, 'p')), 'a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [i]');
  });

  it('accepts containers and init containers by name, and rejects other names', () => {
    assert.equal(pickContainer(pod(['a', 'b'], ['i']), 'i', 'p'), 'i');
    assert.equal(message(() => pickContainer(pod(['a']), 'x', 'p')), 'container x is not valid for pod p');
  });
});

describe('finding and addressing the kubelet', () => {
  it('prefers the InternalIP and needs a kubelet port', () => {
    const node = (port: number | undefined, addresses: { type: string; address: string }[]) => ({ status: { addresses, daemonEndpoints: { kubeletEndpoint: { Port: port } } } });
    assert.deepEqual(kubeletEndpoint(node(10250, [{ type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: '10.0.0.5' }])), { host: '10.0.0.5', port: 10250 });
    assert.deepEqual(kubeletEndpoint(node(10250, [{ type: 'Hostname', address: 'n1' }])), { host: 'n1', port: 10250 });
    assert.equal(kubeletEndpoint(node(0, [{ type: 'InternalIP', address: '10.0.0.5' }])), undefined);
    assert.equal(kubeletEndpoint(node(undefined, [{ type: 'InternalIP', address: '10.0.0.5' }])), undefined);
    assert.equal(kubeletEndpoint({}), undefined);
  });

  it('maps each subresource to the kubelet path, passing only the parameters the kubelet reads', () => {
    const q = new URLSearchParams('command=sh&command=-c&command=echo+a%26b&stdin=true&stdout=true&tty=true&container=c&pretty=1');
    assert.equal(kubeletPath('exec', 'ns', 'p', 'c', q), '/exec/ns/p/c?command=sh&command=-c&command=echo+a%26b&stdin=true&stdout=true&tty=true');
    assert.equal(kubeletPath('attach', 'ns', 'p', 'c', q), '/attach/ns/p/c?stdin=true&stdout=true&tty=true');
    assert.equal(kubeletPath('portforward', 'ns', 'p', '', new URLSearchParams()), '/portForward/ns/p');
    assert.equal(kubeletPath('log', 'ns', 'p', 'c', new URLSearchParams('follow=true&tailLines=3&container=c')), '/containerLogs/ns/p/c?follow=true&tailLines=3');
  });
});
