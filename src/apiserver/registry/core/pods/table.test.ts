import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { podCells, podTable } from './table.js';
import { podDeleteGracePeriod, podSelectableFields } from './strategy.js';

const now = new Date('2024-05-01T12:00:00Z');
const created = '2024-05-01T11:59:00Z';

function pod(status: Record<string, any>, spec: Record<string, any> = {}, meta: Record<string, any> = {}) {
  return {
    metadata: { name: 'web', creationTimestamp: created, ...meta },
    spec: { containers: [{ name: 'a', image: 'x' }], ...spec },
    status,
  };
}
const running = (extra: Record<string, any> = {}) => ({ name: 'a', ready: true, restartCount: 0, state: { running: { startedAt: created } }, ...extra });

describe('the pods table', () => {
  it('has one cell per column', () => assert.equal(podCells(pod({ phase: 'Pending' }), now).length, podTable.columns.length));

  const cases: Array<{ name: string; pod: Record<string, any>; ready: string; status: string; restarts: string }> = [
    { name: 'a new pod is Pending with 0/1 ready', pod: pod({ phase: 'Pending' }), ready: '0/1', status: 'Pending', restarts: '0' },
    {
      name: 'a pulling container shows ContainerCreating',
      pod: pod({ phase: 'Pending', containerStatuses: [{ name: 'a', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] }),
      ready: '0/1',
      status: 'ContainerCreating',
      restarts: '0',
    },
    { name: 'a running ready container shows Running 1/1', pod: pod({ phase: 'Running', containerStatuses: [running()] }), ready: '1/1', status: 'Running', restarts: '0' },
    {
      name: 'a crash-looping container shows CrashLoopBackOff and when it last restarted',
      pod: pod({
        phase: 'Running',
        containerStatuses: [{ name: 'a', ready: false, restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, finishedAt: '2024-05-01T11:59:55Z' } } }],
      }),
      ready: '0/1',
      status: 'CrashLoopBackOff',
      restarts: '2 (5s ago)',
    },
    {
      name: 'the first pending init container shows Init:0/2',
      pod: pod(
        { phase: 'Pending', initContainerStatuses: [{ name: 'i1', state: { waiting: { reason: 'PodInitializing' } } }, { name: 'i2', state: { waiting: {} } }] },
        { initContainers: [{ name: 'i1' }, { name: 'i2' }] },
      ),
      ready: '0/1',
      status: 'Init:0/2',
      restarts: '0',
    },
    {
      name: 'a failed init container shows Init:Error',
      pod: pod({ phase: 'Pending', initContainerStatuses: [{ name: 'i1', restartCount: 3, state: { terminated: { exitCode: 1, reason: 'Error' } } }] }, { initContainers: [{ name: 'i1' }] }),
      ready: '0/1',
      status: 'Init:Error',
      restarts: '3',
    },
    {
      name: 'a failed init container without a reason shows its exit code',
      pod: pod({ phase: 'Pending', initContainerStatuses: [{ name: 'i1', state: { terminated: { exitCode: 2 } } }] }, { initContainers: [{ name: 'i1' }] }),
      ready: '0/1',
      status: 'Init:ExitCode:2',
      restarts: '0',
    },
    {
      name: 'a started sidecar counts as a ready container',
      pod: pod(
        {
          phase: 'Running',
          conditions: [{ type: 'Initialized', status: 'True' }],
          initContainerStatuses: [{ name: 'side', started: true, ready: true, restartCount: 0, state: { running: {} } }],
          containerStatuses: [running()],
        },
        { initContainers: [{ name: 'side', restartPolicy: 'Always' }] },
      ),
      ready: '2/2',
      status: 'Running',
      restarts: '0',
    },
    {
      name: 'a completed pod shows Completed',
      pod: pod({ phase: 'Succeeded', containerStatuses: [{ name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] }),
      ready: '0/1',
      status: 'Completed',
      restarts: '0',
    },
    {
      name: 'a pod being deleted shows Terminating',
      pod: pod({ phase: 'Running', containerStatuses: [running()] }, {}, { deletionTimestamp: '2024-05-01T12:00:00Z' }),
      ready: '1/1',
      status: 'Terminating',
      restarts: '0',
    },
    {
      name: 'a finished pod being deleted keeps its status',
      pod: pod({ phase: 'Succeeded', containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 0, reason: 'Completed' } } }] }, {}, { deletionTimestamp: '2024-05-01T12:00:00Z' }),
      ready: '0/1',
      status: 'Completed',
      restarts: '0',
    },
    {
      name: 'a deleted pod on a lost node shows Unknown',
      pod: pod({ phase: 'Running', reason: 'NodeLost' }, {}, { deletionTimestamp: '2024-05-01T12:00:00Z' }),
      ready: '0/1',
      status: 'Unknown',
      restarts: '0',
    },
    {
      name: 'a scheduling-gated pod shows SchedulingGated',
      pod: pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }] }),
      ready: '0/1',
      status: 'SchedulingGated',
      restarts: '0',
    },
    {
      name: 'an evicted pod shows the status reason',
      pod: pod({ phase: 'Failed', reason: 'Evicted' }),
      ready: '0/1',
      status: 'Evicted',
      restarts: '0',
    },
    {
      name: 'a container killed by a signal shows Signal:9',
      pod: pod({ phase: 'Failed', containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 137, signal: 9 } } }] }),
      ready: '0/1',
      status: 'Signal:9',
      restarts: '0',
    },
    {
      name: 'a completed container next to a running one shows NotReady without the Ready condition',
      pod: pod(
        { phase: 'Running', containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 0, reason: 'Completed' } } }, { name: 'b', ready: true, state: { running: {} } }] },
        { containers: [{ name: 'a' }, { name: 'b' }] },
      ),
      ready: '1/2',
      status: 'NotReady',
      restarts: '0',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const [, ready, status, restarts] = podCells(c.pod, now);
      assert.deepEqual([ready, status, restarts], [c.ready, c.status, c.restarts]);
    });
  }

  it('wide cells show the IP, node and <none> placeholders', () => {
    const cells = podCells(pod({ phase: 'Running', podIP: '10.42.0.5', podIPs: [{ ip: '10.42.0.5' }] }, { nodeName: 'node-1' }), now);
    assert.deepEqual(cells.slice(4), ['60s', '10.42.0.5', 'node-1', '<none>', '<none>']);
  });
  it('readiness gates count the true conditions', () => {
    const cells = podCells(pod({ phase: 'Running', conditions: [{ type: 'a.io/ok', status: 'True' }] }, { readinessGates: [{ conditionType: 'a.io/ok' }, { conditionType: 'b.io/ok' }] }), now);
    assert.equal(cells[8], '1/2');
  });
});

describe('pod deletion and field selectors', () => {
  it('an unscheduled pod is deleted at once', () => assert.equal(podDeleteGracePeriod({ spec: { terminationGracePeriodSeconds: 30 } }, undefined), 0));
  it('a scheduled pod gets its termination grace period', () => assert.equal(podDeleteGracePeriod({ spec: { nodeName: 'n', terminationGracePeriodSeconds: 45 } }, undefined), 45));
  it('a requested grace period wins', () => assert.equal(podDeleteGracePeriod({ spec: { nodeName: 'n', terminationGracePeriodSeconds: 45 } }, 5), 5));
  it('a finished pod is deleted at once', () => assert.equal(podDeleteGracePeriod({ spec: { nodeName: 'n' }, status: { phase: 'Succeeded' } }, 10), 0));
  it('a negative grace period becomes one second', () => assert.equal(podDeleteGracePeriod({ spec: { nodeName: 'n' } }, -5), 1));
  it('selectable fields include node, phase and IP', () => {
    assert.deepEqual(podSelectableFields({ spec: { nodeName: 'n', restartPolicy: 'Always', hostNetwork: true }, status: { phase: 'Running', podIPs: [{ ip: '10.0.0.1' }] } }), {
      'spec.nodeName': 'n',
      'spec.restartPolicy': 'Always',
      'spec.schedulerName': '',
      'spec.serviceAccountName': '',
      'spec.hostNetwork': 'true',
      'status.phase': 'Running',
      'status.podIP': '10.0.0.1',
      'status.nominatedNodeName': '',
    });
  });
});
