import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../errors.js';
import {
  validateEndpointSlice,
  validateEventsV1Event,
  validateLease,
  validatePodDisruptionBudget,
  validatePriorityClass,
  validatePriorityClassUpdate,
} from './groups.js';

const r = (e: ReturnType<typeof validateLease>) => e.map(fieldErrorString);

describe('kinds of the smaller groups', () => {
  const cases: Array<{ name: string; got: () => string[]; want: string[] }> = [
    { name: 'an EndpointSlice needs an addressType', got: () => r(validateEndpointSlice({})), want: ['addressType: Required value'] },
    {
      name: 'an IPv4 slice refuses IPv6 addresses',
      got: () => r(validateEndpointSlice({ addressType: 'IPv4', endpoints: [{ addresses: ['fd00::1'] }] })),
      want: ['endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address'],
    },
    {
      name: 'an endpoint needs at least one address',
      got: () => r(validateEndpointSlice({ addressType: 'IPv4', endpoints: [{ addresses: [] }] })),
      want: ['endpoints[0].addresses: Required value: must contain at least 1 address'],
    },
    { name: 'a lease duration must be positive', got: () => r(validateLease({ spec: { leaseDurationSeconds: 0 } })), want: ['spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0'] },
    {
      name: 'events.k8s.io events need the reporting fields, and an empty controller is also not a qualified name',
      got: () => r(validateEventsV1Event({ metadata: { namespace: 'default' }, eventTime: '2024-01-01T00:00:00.000000Z', type: 'Normal', regarding: { namespace: 'default' } })),
      want: [
        'reportingController: Required value',
        'reportingController: Invalid value: "": name part must be non-empty',
        `reportingController: Invalid value: "": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
        'reportingInstance: Required value',
        'action: Required value',
        'reason: Required value',
      ],
    },
    {
      name: 'system- priority class names are reserved',
      got: () => r(validatePriorityClass({ metadata: { name: 'system-mine' }, value: 5 })),
      want: ["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"],
    },
    {
      name: 'user priority classes stay at or below one billion',
      got: () => r(validatePriorityClass({ metadata: { name: 'high' }, value: 1000000001 })),
      want: ['value: Forbidden: maximum allowed value of a user defined priority is 1000000000'],
    },
    { name: 'a priority class value may not change', got: () => r(validatePriorityClassUpdate({ value: 2 }, { value: 1 })), want: ['value: Forbidden: may not be changed in an update.'] },
    {
      name: 'a PDB may not set both minAvailable and maxUnavailable',
      got: () => r(validatePodDisruptionBudget({ spec: { minAvailable: 1, maxUnavailable: 1 } })),
      want: ['spec: Invalid value: {"minAvailable":1,"maxUnavailable":1}: minAvailable and maxUnavailable cannot be both set'],
    },
    {
      name: 'a PDB percentage may not exceed 100%',
      got: () => r(validatePodDisruptionBudget({ spec: { minAvailable: '120%' } })),
      want: ['spec.minAvailable: Invalid value: "120%": must not be greater than 100%'],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(c.got(), c.want));
});
