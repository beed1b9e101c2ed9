import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../errors.js';
import {
  validateConfigMap,
  validateConfigMapUpdate,
  validateEndpoints,
  validateEvent,
  validateLimitRange,
  validateNamespace,
  validateNamespaceStatusUpdate,
  validateNode,
  validateNodeUpdate,
  validateResourceQuota,
  validateResourceQuotaUpdate,
  validateSecret,
  validateSecretUpdate,
} from './core.js';

const r = (errs: ReturnType<typeof validateNode>) => errs.map(fieldErrorString);

describe('core/v1 kinds', () => {
  const cases: Array<{ name: string; got: () => string[]; want: string[] }> = [
    { name: 'a namespace with the kubernetes finalizer is valid', got: () => r(validateNamespace({ spec: { finalizers: ['kubernetes'] } })), want: [] },
    {
      name: 'a namespace finalizer must be standard or qualified',
      got: () => r(validateNamespace({ spec: { finalizers: ['mine'] } })),
      want: ['spec.finalizers: Invalid value: "mine": name is neither a standard finalizer name nor is it fully qualified'],
    },
    {
      name: 'a deleting namespace must be Terminating',
      got: () => r(validateNamespaceStatusUpdate({ metadata: { deletionTimestamp: 'x' }, status: { phase: 'Active' } }, {})),
      want: ["status.Phase: Invalid value: \"Active\": may only be 'Terminating' if `deletionTimestamp` is not empty"],
    },
    {
      name: 'node taints must have a known effect',
      got: () => r(validateNode({ spec: { taints: [{ key: 'a', effect: 'Sometimes' }] } })),
      want: ['metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"'],
    },
    {
      name: 'node taints are unique by key and effect',
      got: () => r(validateNode({ spec: { taints: [{ key: 'a', effect: 'NoSchedule' }, { key: 'a', effect: 'NoSchedule', value: 'x' }] } })),
      want: ['metadata.taints[1]: Duplicate value: {"key":"a","effect":"NoSchedule","value":"x"}: taints must be unique by key and effect pair'],
    },
    {
      name: 'a node podCIDR may not change once set',
      got: () => r(validateNodeUpdate({ spec: { podCIDRs: ['10.42.1.0/24'] } }, { spec: { podCIDRs: ['10.42.0.0/24'] } })),
      want: ['spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid'],
    },
    {
      name: 'configmap keys must be config keys',
      got: () => r(validateConfigMap({ data: { 'a b': 'x' } })),
      want: [
        `data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
      ],
    },
    { name: 'configmaps are limited to 1 MiB', got: () => r(validateConfigMap({ data: { a: 'x'.repeat(1024 * 1024 + 1) } })), want: [': Too long: must have at most 1048576 bytes'] },
    {
      name: 'an immutable configmap keeps its data',
      got: () => r(validateConfigMapUpdate({ immutable: true, data: { a: '2' } }, { immutable: true, data: { a: '1' } })),
      want: ['data: Forbidden: field is immutable when `immutable` is set'],
    },
    { name: 'a TLS secret needs tls.crt and tls.key', got: () => r(validateSecret({ type: 'kubernetes.io/tls', data: {} })), want: ['data[tls.crt]: Required value', 'data[tls.key]: Required value'] },
    { name: 'a secret type is immutable', got: () => r(validateSecretUpdate({ type: 'a.io/x' }, { type: 'Opaque' })), want: ['type: Invalid value: "a.io/x": field is immutable'] },
    {
      name: 'endpoints subsets need addresses',
      got: () => r(validateEndpoints({ subsets: [{ ports: [{ port: 80, protocol: 'TCP' }] }] })),
      want: ['subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`'],
    },
    {
      name: 'endpoint addresses may not be loopback',
      got: () => r(validateEndpoints({ subsets: [{ addresses: [{ ip: '127.0.0.1' }] }] })),
      want: ['subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)'],
    },
    {
      name: 'a legacy event must match its involved object namespace',
      got: () => r(validateEvent({ metadata: { namespace: 'a' }, involvedObject: { namespace: 'b' } })),
      want: ['involvedObject.namespace: Invalid value: "b": does not match event.namespace'],
    },
    {
      name: 'a limit range min may not exceed max',
      got: () => r(validateLimitRange({ spec: { limits: [{ type: 'Container', min: { cpu: '2' }, max: { cpu: '1' } }] } })),
      want: ['spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1'],
    },
    {
      name: 'quota resources must be standard or qualified',
      got: () => r(validateResourceQuota({ spec: { hard: { widgets: '3' } } })),
      want: ['spec.hard[widgets]: Invalid value: "widgets": must be a standard resource type or fully qualified'],
    },
    {
      name: 'quota scopes are immutable',
      got: () => r(validateResourceQuotaUpdate({ spec: { scopes: ['BestEffort'] } }, { spec: {} })),
      want: ['spec.scopes: Invalid value: ["BestEffort"]: field is immutable'],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(c.got(), c.want));
});
