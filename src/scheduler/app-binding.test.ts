import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { logger } from '../base/log.js';
import { RestClient, type EventRecorder, type KObject } from '../client/index.js';
import { ApiClusterSource, type SchedulerInformers } from './app.js';

/** A RestClient that records the requests it is asked to send instead of sending them. */
function recordingClient(name: string, sent: string[]): RestClient {
  const c = new RestClient({ server: 'https://127.0.0.1:1' });
  c.send = (async (method: string, path: string) => {
    sent.push(`${name} ${method} ${path}`);
    return {};
  }) as RestClient['send'];
  return c;
}

const emptyLister = { get: () => undefined, list: () => [] };
const informers = { nodes: { lister: emptyLister }, pods: { lister: emptyLister }, namespaces: { lister: emptyLister }, pdbs: { lister: emptyLister } } as unknown as SchedulerInformers;

describe('ApiClusterSource binding', () => {
  const pod: KObject = { metadata: { name: 'p', namespace: 'ns', uid: 'u1' }, spec: {} };

  it('posts pods/binding over the dedicated binding client and records the Scheduled event through the recorder.', async () => {
    const sent: string[] = [];
    const events: string[] = [];
    const recorder = { event: (_o: KObject, type: string, reason: string, msg: string) => events.push(`${type} ${reason} ${msg}`) } as unknown as EventRecorder;
    const client = recordingClient('shared', sent);
    const src = new ApiClusterSource(client, informers, recorder, logger('test'), recordingClient('binding', sent));
    await src.bind(pod, 'node-1');
    assert.deepEqual(sent, ['binding POST /api/v1/namespaces/ns/pods/p/binding']);
    assert.deepEqual(events, ['Normal Scheduled Successfully assigned ns/p to node-1']);
    client.close();
  });

  it('binds over the shared client when no binding client is given.', async () => {
    const sent: string[] = [];
    const recorder = { event: () => undefined } as unknown as EventRecorder;
    const client = recordingClient('shared', sent);
    await new ApiClusterSource(client, informers, recorder, logger('test')).bind(pod, 'node-1');
    assert.deepEqual(sent, ['shared POST /api/v1/namespaces/ns/pods/p/binding']);
    client.close();
  });
});
