import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../api/errors.js';
import { setLogLevel } from '../base/log.js';
import { EventRecorder, objectReference, type EventClient } from './event-recorder.js';
import type { KObject, ResourceRef } from './rest-client.js';

setLogLevel('error');

interface Call {
  method: string;
  path: string;
  body: KObject;
  contentType?: string;
}

/** Records requests; `fail` decides an error for a request (or none). */
function fakeClient(fail: (c: Call, n: number) => unknown = () => undefined) {
  const calls: Call[] = [];
  const client: EventClient = {
    path: (r: ResourceRef, ns?: string, name?: string) => `/api/${r.version}/namespaces/${ns}/${r.resource}${name ? '/' + name : ''}`,
    send: (async (method: string, path: string, body?: unknown, opts: { contentType?: string } = {}) => {
      const c = { method, path, body: body as KObject, contentType: opts.contentType };
      calls.push(c);
      const err = fail(c, calls.length);
      if (err) throw err;
      return body;
    }) as EventClient['send'],
  };
  return { client, calls };
}

const status = (code: number) => new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, message: `HTTP ${code}` });
const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'ns1', name: 'web-0', uid: 'pod-uid', resourceVersion: '42' } };
const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', uid: 'node-uid' } };

test('An event is written as a core/v1 Event named after the object, in its namespace, with source and reporting fields.', async () => {
  const { client, calls } = fakeClient();
  const now = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
  const rec = new EventRecorder(client, { component: 'default-scheduler', reportingInstance: 'sched-1', now: () => now });
  rec.event(pod, 'Normal', 'Scheduled', 'Successfully assigned ns1/web-0 to node-1');
  await rec.flush();
  assert.equal(calls.length, 1);
  const { method, path, body } = calls[0]!;
  assert.equal(method, 'POST');
  assert.equal(path, '/api/v1/namespaces/ns1/events');
  assert.match(body.metadata.name, /^web-0\.[0-9a-f]+$/);
  assert.equal(BigInt('0x' + body.metadata.name.split('.')[1]) / 1_000_000n, BigInt(now), 'the suffix is the time in nanoseconds');
  assert.deepEqual(
    { ...body, metadata: { namespace: body.metadata.namespace } },
    {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { namespace: 'ns1' },
      involvedObject: { kind: 'Pod', namespace: 'ns1', name: 'web-0', uid: 'pod-uid', apiVersion: 'v1', resourceVersion: '42' },
      reason: 'Scheduled',
      message: 'Successfully assigned ns1/web-0 to node-1',
      source: { component: 'default-scheduler' },
      firstTimestamp: '2024-01-02T03:04:05Z',
      lastTimestamp: '2024-01-02T03:04:05Z',
      count: 1,
      type: 'Normal',
      eventTime: null,
      reportingComponent: 'default-scheduler',
      reportingInstance: 'sched-1',
    },
  );
  assert.equal(rec.stats.created, 1);
});

test('Events about cluster-scoped objects go to the default namespace; the host becomes source.host and the reporting instance.', async () => {
  const { client, calls } = fakeClient();
  const rec = new EventRecorder(client, { component: 'kubelet', host: 'node-1' });
  rec.event(node, 'Normal', 'NodeReady', 'Node node-1 status is now: NodeReady');
  await rec.flush();
  assert.equal(calls[0]!.path, '/api/v1/namespaces/default/events');
  assert.deepEqual(calls[0]!.body.source, { component: 'kubelet', host: 'node-1' });
  assert.equal(calls[0]!.body.reportingInstance, 'node-1');
  assert.equal(calls[0]!.body.involvedObject.namespace, undefined);
});

test('A repeated event within the window patches count and lastTimestamp on the first event; after the window a new event is created.', async () => {
  const { client, calls } = fakeClient();
  let now = Date.UTC(2024, 0, 1);
  const rec = new EventRecorder(client, { component: 'c', now: () => now, repeatWindowMs: 60_000 });
  rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
  now += 10_000;
  rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
  now += 10_000;
  rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
  await rec.flush();
  const name = calls[0]!.body.metadata.name;
  assert.deepEqual(
    calls.map((c) => [c.method, c.path.endsWith(`/${name}`), c.body.count]),
    [
      ['POST', false, 1],
      ['PATCH', true, 2],
      ['PATCH', true, 3],
    ],
  );
  assert.deepEqual(calls[2]!.body, { count: 3, lastTimestamp: '2024-01-01T00:00:20Z', message: 'Back-off restarting failed container' });
  assert.equal(calls[1]!.contentType, 'application/merge-patch+json');

  now += 61_000;
  rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
  await rec.flush();
  assert.equal(calls[3]!.method, 'POST');
  assert.notEqual(calls[3]!.body.metadata.name, name);
  assert.equal(calls[3]!.body.count, 1);
});

test('Events differing in type, reason, message, object or field path are not counted together.', async () => {
  const { client, calls } = fakeClient();
  const rec = new EventRecorder(client, { component: 'c' });
  rec.event(pod, 'Normal', 'Pulling', 'Pulling image "a"');
  rec.event(pod, 'Warning', 'Pulling', 'Pulling image "a"');
  rec.event(pod, 'Normal', 'Pulled', 'Pulling image "a"');
  rec.event(pod, 'Normal', 'Pulling', 'Pulling image "b"');
  rec.event({ ...pod, metadata: { ...pod.metadata, name: 'web-1', uid: 'u1' } }, 'Normal', 'Pulling', 'Pulling image "a"');
  rec.eventWithFieldPath(pod, 'spec.containers{web}', 'Normal', 'Pulling', 'Pulling image "a"');
  await rec.flush();
  assert.deepEqual(
    calls.map((c) => c.method),
    ['POST', 'POST', 'POST', 'POST', 'POST', 'POST'],
  );
  assert.equal(calls[5]!.body.involvedObject.fieldPath, 'spec.containers{web}');
});

test('From the tenth distinct message for one object, type and reason, events are combined into one.', async () => {
  const { client, calls } = fakeClient();
  const rec = new EventRecorder(client, { component: 'c' });
  for (let i = 1; i <= 12; i++) rec.eventf(pod, 'Warning', 'FailedCreate', 'Error creating: quota exceeded (%d)', i);
  await rec.flush();
  assert.equal(calls.filter((c) => c.method === 'POST').length, 10);
  const combined = calls[9]!;
  assert.equal(combined.body.message, '(combined from similar events): Error creating: quota exceeded (10)');
  assert.deepEqual(
    calls.slice(10).map((c) => [c.method, c.body.count, c.body.message]),
    [
      ['PATCH', 2, '(combined from similar events): Error creating: quota exceeded (11)'],
      ['PATCH', 3, '(combined from similar events): Error creating: quota exceeded (12)'],
    ],
  );
});

test('The spam filter lets 25 events through per object, then one more every five minutes.', async () => {
  const { client, calls } = fakeClient();
  let now = 0;
  const rec = new EventRecorder(client, { component: 'c', now: () => now });
  for (let i = 0; i < 30; i++) rec.event(pod, 'Normal', `R${i}`, 'm');
  rec.event(node, 'Normal', 'Other', 'another object has its own budget');
  await rec.flush();
  assert.equal(calls.length, 26);
  assert.equal(rec.stats.filtered, 5);
  now += 299_000;
  rec.event(pod, 'Normal', 'Late', 'm');
  now += 2_000;
  rec.event(pod, 'Normal', 'Later', 'm');
  rec.event(pod, 'Normal', 'Latest', 'm');
  await rec.flush();
  assert.deepEqual(calls.slice(26).map((c) => c.body.reason), ['Later']);
});

test('A patch of an event that no longer exists creates it again with the count so far.', async () => {
  const { client, calls } = fakeClient((c) => (c.method === 'PATCH' ? status(404) : undefined));
  const rec = new EventRecorder(client, { component: 'c' });
  rec.event(pod, 'Normal', 'Killing', 'Stopping container web');
  rec.event(pod, 'Normal', 'Killing', 'Stopping container web');
  await rec.flush();
  assert.deepEqual(
    calls.map((c) => [c.method, c.body.count]),
    [
      ['POST', 1],
      ['PATCH', 2],
      ['POST', 2],
    ],
  );
  assert.equal(calls[2]!.body.metadata.name, calls[0]!.body.metadata.name);
});

test('Transient failures are retried a bounded number of times; client errors are not retried.', async () => {
  const table: { name: string; err: () => unknown; failures: number; wantCalls: number; created: number }[] = [
    { name: 'a 503 once', err: () => status(503), failures: 1, wantCalls: 2, created: 1 },
    { name: 'network errors throughout', err: () => Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), failures: 99, wantCalls: 3, created: 0 },
    { name: 'a 422', err: () => status(422), failures: 99, wantCalls: 1, created: 0 },
    { name: 'a 409 (already exists)', err: () => status(409), failures: 99, wantCalls: 1, created: 0 },
  ];
  for (const c of table) {
    const { client, calls } = fakeClient((_call, n) => (n <= c.failures ? c.err() : undefined));
    const rec = new EventRecorder(client, { component: 'c', retryDelayMs: 1 });
    rec.event(pod, 'Normal', 'Started', 'Started container web');
    await rec.flush();
    assert.equal(calls.length, c.wantCalls, c.name);
    assert.equal(rec.stats.created, c.created, c.name);
  }
});

test('After stop the recorder drops new events.', async () => {
  const { client, calls } = fakeClient();
  const rec = new EventRecorder(client, { component: 'c' });
  rec.event(pod, 'Normal', 'A', 'a');
  await rec.stop();
  rec.event(pod, 'Normal', 'B', 'b');
  await rec.flush();
  assert.deepEqual(calls.map((c) => c.body.reason), ['A']);
});

test('objectReference builds a reference from an object and copies a reference given directly.', () => {
  assert.deepEqual(objectReference(node), { kind: 'Node', name: 'node-1', uid: 'node-uid', apiVersion: 'v1' });
  const ref = { kind: 'Pod', namespace: 'a', name: 'b', uid: 'c', apiVersion: 'v1' };
  assert.deepEqual(objectReference(ref, 'spec.containers{x}'), { ...ref, fieldPath: 'spec.containers{x}' });
  assert.equal('fieldPath' in ref, false, 'the input is not mutated');
});
