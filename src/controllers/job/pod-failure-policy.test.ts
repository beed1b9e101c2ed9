import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../client/rest-client.js';
import { isIndexFailed, matchPodFailurePolicy, type PodFailurePolicyMatch } from './pod-failure-policy.js';

function failedPod(opts: { main?: number; init?: number; other?: number; conditions?: KObject[] }): KObject {
  const term = (name: string, exitCode: number) => ({ name, state: { terminated: { exitCode } } });
  const containerStatuses = [];
  if (opts.main !== undefined) containerStatuses.push(term('main', opts.main));
  if (opts.other !== undefined) containerStatuses.push(term('sidecar', opts.other));
  return {
    metadata: { namespace: 'default', name: 'x' },
    status: {
      phase: 'Failed',
      containerStatuses,
      initContainerStatuses: opts.init === undefined ? [] : [term('setup', opts.init)],
      conditions: opts.conditions ?? [],
    },
  };
}

const exit = (action: string, operator: string, values: number[], containerName?: string) => ({ action, onExitCodes: { containerName, operator, values } });
const onCond = (action: string, type: string, status = 'True') => ({ action, onPodConditions: [{ type, status }] });

describe('matchPodFailurePolicy', () => {
  const cases: { name: string; rules: KObject[] | undefined; pod: KObject; want: PodFailurePolicyMatch }[] = [
    { name: 'Without a policy every failure counts.', rules: undefined, pod: failedPod({ main: 1 }), want: { countFailed: true } },
    {
      name: 'A FailJob rule on the exit code of the named container fails the Job with upstream’s message.',
      rules: [exit('FailJob', 'In', [42], 'main')],
      pod: failedPod({ main: 42 }),
      want: { action: 'FailJob', countFailed: true, message: 'Container main for pod default/x failed with exit code 42 matching FailJob rule at index 0' },
    },
    { name: 'A rule naming another container does not match.', rules: [exit('FailJob', 'In', [42], 'sidecar')], pod: failedPod({ main: 42, other: 1 }), want: { countFailed: true } },
    {
      name: 'The first matching rule wins and its index is reported.',
      rules: [exit('Ignore', 'In', [1]), exit('FailJob', 'NotIn', [0, 1]), exit('Count', 'In', [5])],
      pod: failedPod({ main: 5 }),
      want: { action: 'FailJob', countFailed: true, message: 'Container main for pod default/x failed with exit code 5 matching FailJob rule at index 1' },
    },
    { name: 'NotIn never matches exit code 0.', rules: [exit('FailJob', 'NotIn', [1])], pod: failedPod({ main: 0 }), want: { countFailed: true } },
    { name: 'Init containers are checked after the containers.', rules: [exit('Ignore', 'In', [7])], pod: failedPod({ init: 7 }), want: { action: 'Ignore', countFailed: false } },
    { name: 'An Ignore rule on DisruptionTarget does not count the failure.', rules: [onCond('Ignore', 'DisruptionTarget')], pod: failedPod({ main: 137, conditions: [{ type: 'DisruptionTarget', status: 'True' }] }), want: { action: 'Ignore', countFailed: false } },
    { name: 'A condition with another status does not match.', rules: [onCond('Ignore', 'DisruptionTarget')], pod: failedPod({ main: 137, conditions: [{ type: 'DisruptionTarget', status: 'False' }] }), want: { countFailed: true } },
    {
      name: 'A FailJob rule on a pod condition names the condition.',
      rules: [onCond('FailJob', 'ConfigIssue')],
      pod: failedPod({ conditions: [{ type: 'ConfigIssue', status: 'True' }] }),
      want: { action: 'FailJob', countFailed: true, message: 'Pod default/x has condition ConfigIssue matching FailJob rule at index 0' },
    },
    { name: 'A Count rule counts the failure as usual.', rules: [exit('Count', 'In', [3])], pod: failedPod({ main: 3 }), want: { action: 'Count', countFailed: true } },
    { name: 'FailIndex is skipped unless per-index backoff is on.', rules: [exit('FailIndex', 'In', [3]), exit('Ignore', 'In', [3])], pod: failedPod({ main: 3 }), want: { action: 'Ignore', countFailed: false } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(matchPodFailurePolicy(c.rules ? { rules: c.rules } : undefined, c.pod), c.want));

  it('FailIndex applies when per-index backoff is on.', () => {
    assert.deepEqual(matchPodFailurePolicy({ rules: [exit('FailIndex', 'In', [3])] }, failedPod({ main: 3 }), true), { action: 'FailIndex', countFailed: true });
  });
});

describe('isIndexFailed', () => {
  const job = (rules?: KObject[]) => ({ spec: { backoffLimitPerIndex: 1, podFailurePolicy: rules ? { rules } : undefined } });
  const withCount = (pod: KObject, n: number) => ({ ...pod, metadata: { ...pod.metadata, annotations: { 'batch.kubernetes.io/job-index-failure-count': String(n) } } });
  const cases: { name: string; job: KObject; pod: KObject; want: boolean }[] = [
    { name: 'A first failure within backoffLimitPerIndex leaves the index to retry.', job: job(), pod: withCount(failedPod({ main: 1 }), 0), want: false },
    { name: 'A failure after backoffLimitPerIndex earlier ones fails the index.', job: job(), pod: withCount(failedPod({ main: 1 }), 1), want: true },
    { name: 'A FailIndex rule fails the index at once.', job: job([exit('FailIndex', 'In', [9])]), pod: withCount(failedPod({ main: 9 }), 0), want: true },
    { name: 'An ignored failure never fails the index.', job: job([exit('Ignore', 'In', [9])]), pod: withCount(failedPod({ main: 9 }), 5), want: false },
  ];
  for (const c of cases) it(c.name, () => assert.equal(isIndexFailed(c.job, c.pod), c.want));
});
