import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../errors.js';
import { defaultPod } from '../defaulting/pod.js';
import { validatePod, validatePodStatusUpdate, validatePodUpdate } from './pod.js';

/** A defaulted Pod built from a spec patch, as the store validates it. */
function pod(spec: Record<string, any>, meta: Record<string, any> = {}): Record<string, any> {
  return defaultPod({ metadata: { name: 'p', namespace: 'default', ...meta }, spec: structuredClone(spec) });
}
const errs = (p: Record<string, any>) => validatePod(p).map(fieldErrorString);
const web = { name: 'web', image: 'nginx:1.25' };

describe('validatePod', () => {
  const cases: Array<{ name: string; spec: Record<string, any>; want: string[] }> = [
    { name: 'a minimal pod is valid', spec: { containers: [web] }, want: [] },
    { name: 'a pod without containers is refused', spec: { containers: [] }, want: ['spec.containers: Required value'] },
    { name: 'a container without an image is refused', spec: { containers: [{ name: 'web' }] }, want: ['spec.containers[0].image: Required value'] },
    { name: 'a container without a name is refused', spec: { containers: [{ image: 'nginx' }] }, want: ['spec.containers[0].name: Required value'] },
    {
      name: 'container names must be RFC 1123 labels',
      spec: { containers: [{ name: 'Web', image: 'nginx' }] },
      want: [
        `spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
      ],
    },
    { name: 'container names must be unique', spec: { containers: [web, web] }, want: ['spec.containers[1].name: Duplicate value: "web"'] },
    {
      name: 'container ports must be 1-65535',
      spec: { containers: [{ ...web, ports: [{ containerPort: 70000 }] }] },
      want: ['spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive'],
    },
    { name: 'a container port is required', spec: { containers: [{ ...web, ports: [{ name: 'http' }] }] }, want: ['spec.containers[0].ports[0].containerPort: Required value'] },
    {
      name: 'port protocols are TCP, UDP or SCTP',
      spec: { containers: [{ ...web, ports: [{ containerPort: 80, protocol: 'HTTP' }] }] },
      want: ['spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'],
    },
    {
      name: 'restartPolicy must be Always, OnFailure or Never',
      spec: { containers: [web], restartPolicy: 'Sometimes' },
      want: ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'],
    },
    {
      name: 'dnsPolicy must be one of the four policies',
      spec: { containers: [web], dnsPolicy: 'Google' },
      want: ['spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"'],
    },
    {
      name: 'volume names must be unique',
      spec: { containers: [web], volumes: [{ name: 'data', emptyDir: {} }, { name: 'data', emptyDir: {} }] },
      want: ['spec.volumes[1].name: Duplicate value: "data"'],
    },
    {
      name: 'a volume may have only one source',
      spec: { containers: [web], volumes: [{ name: 'data', emptyDir: {}, configMap: { name: 'cm' } }] },
      want: ['spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type'],
    },
    {
      name: 'a volume mount must refer to a volume',
      spec: { containers: [{ ...web, volumeMounts: [{ name: 'data', mountPath: '/data' }] }] },
      want: ['spec.containers[0].volumeMounts[0].name: Not found: "data"'],
    },
    {
      name: 'mount paths must be unique',
      spec: { containers: [{ ...web, volumeMounts: [{ name: 'a', mountPath: '/d' }, { name: 'b', mountPath: '/d' }] }], volumes: [{ name: 'a' }, { name: 'b' }] },
      want: ['spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/d": must be unique'],
    },
    {
      name: 'subPath and subPathExpr are mutually exclusive',
      spec: { containers: [{ ...web, volumeMounts: [{ name: 'a', mountPath: '/d', subPath: 'x', subPathExpr: '$(POD)' }] }], volumes: [{ name: 'a', emptyDir: {} }] },
      want: ['spec.containers[0].volumeMounts[0].subPathExpr: Invalid value: "$(POD)": subPathExpr and subPath are mutually exclusive'],
    },
    {
      // Upstream reports these two on the list's path, without the index.
      name: 'a subPath must be relative and must not contain ..',
      spec: { containers: [{ ...web, volumeMounts: [{ name: 'a', mountPath: '/d', subPath: '/x/../y' }] }], volumes: [{ name: 'a', emptyDir: {} }] },
      want: ['spec.containers[0].volumeMounts.subPath: Invalid value: "/x/../y": must be a relative path', `spec.containers[0].volumeMounts.subPath: Invalid value: "/x/../y": must not contain '..'`],
    },
    {
      name: 'a subPathExpr must not contain ..',
      spec: { containers: [{ ...web, volumeMounts: [{ name: 'a', mountPath: '/d', subPathExpr: '$(A)/..' }] }], volumes: [{ name: 'a', emptyDir: {} }] },
      want: [`spec.containers[0].volumeMounts.subPathExpr: Invalid value: "$(A)/..": must not contain '..'`],
    },
    {
      name: 'a secret volume needs a secretName',
      spec: { containers: [web], volumes: [{ name: 's', secret: {} }] },
      want: ['spec.volumes[0].secret.secretName: Required value'],
    },
    {
      name: 'requests may not exceed limits',
      spec: { containers: [{ ...web, resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } }] },
      want: ['spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1'],
    },
    {
      name: 'equal requests and limits in different units are fine',
      spec: { containers: [{ ...web, resources: { requests: { cpu: '1000m', memory: '1Gi' }, limits: { cpu: '1', memory: '1024Mi' } } }] },
      want: [],
    },
    {
      name: 'an unknown unprefixed resource is refused twice, as upstream does',
      spec: { containers: [{ ...web, resources: { limits: { gpu: '1' } } }] },
      want: [
        'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource type or fully qualified',
        'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers',
        'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource type or fully qualified',
        'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers',
      ],
    },
    {
      name: 'extended resources must have equal requests and limits',
      spec: { containers: [{ ...web, resources: { requests: { 'example.com/gpu': '1' }, limits: { 'example.com/gpu': '2' } } }] },
      want: ['spec.containers[0].resources.requests: Invalid value: "1": must be equal to example.com/gpu limit of 2'],
    },
    {
      name: 'a malformed quantity is reported',
      spec: { containers: [{ ...web, resources: { limits: { cpu: 'lots' } } }] },
      want: [
        `spec.containers[0].resources.limits[cpu]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
        `spec.containers[0].resources.requests[cpu]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
      ],
    },
    { name: 'env names may not contain =', spec: { containers: [{ ...web, env: [{ name: 'A=B', value: 'x' }] }] }, want: [`spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`] },
    { name: 'env entries need a name', spec: { containers: [{ ...web, env: [{ value: 'x' }] }] }, want: ['spec.containers[0].env[0].name: Required value'] },
    {
      name: 'a field ref must use a supported path',
      spec: { containers: [{ ...web, env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.bogus' } } }] }] },
      want: [
        'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.bogus": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"',
      ],
    },
    {
      name: 'hostNetwork pods need hostPort equal to containerPort',
      spec: { hostNetwork: true, containers: [{ ...web, ports: [{ containerPort: 80, hostPort: 81 }] }] },
      want: ['spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is true'],
    },
    {
      name: 'two containers may not claim the same host port',
      spec: { containers: [{ ...web, ports: [{ containerPort: 80, hostPort: 8080 }] }, { name: 'b', image: 'x', ports: [{ containerPort: 81, hostPort: 8080 }] }] },
      want: ['spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"'],
    },
    {
      name: 'a toleration without a key needs operator Exists',
      spec: { containers: [web], tolerations: [{ operator: 'Equal', value: 'x' }] },
      want: ['spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"'],
    },
    {
      name: 'a probe needs a handler',
      spec: { containers: [{ ...web, livenessProbe: { periodSeconds: 5 } }] },
      want: ['spec.containers[0].livenessProbe: Required value: must specify a handler type'],
    },
    { name: 'activeDeadlineSeconds must be positive', spec: { containers: [web], activeDeadlineSeconds: 0 }, want: ['spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive'] },
    {
      name: 'init containers without restartPolicy Always may not have probes',
      spec: { containers: [web], initContainers: [{ name: 'init', image: 'busybox', readinessProbe: { exec: { command: ['true'] } } }] },
      want: ['spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always'],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(errs(pod(c.spec)), c.want));

  it('a mirror pod annotation requires spec.nodeName', () => {
    assert.deepEqual(errs(pod({ containers: [web] }, { annotations: { 'kubernetes.io/config.mirror': 'x' } })), [
      'metadata.annotations[kubernetes.io/config.mirror]: Invalid value: "x": must set spec.nodeName if mirror pod annotation is set',
    ]);
  });
  it('ephemeral containers may not be set on create', () => {
    assert.deepEqual(errs(pod({ containers: [web], ephemeralContainers: [{ name: 'dbg', image: 'busybox' }] })), ['spec.ephemeralContainers: Forbidden: cannot be set on create']);
  });
});

describe('validatePodUpdate', () => {
  const old = pod({ containers: [web], activeDeadlineSeconds: 100 });
  const update = (f: (p: Record<string, any>) => void) => {
    const p = structuredClone(old);
    f(p);
    return validatePodUpdate(p, old).map(fieldErrorString);
  };
  it('changing the image is allowed', () => assert.deepEqual(update((p) => (p.spec.containers[0].image = 'nginx:1.26')), []));
  it('lowering activeDeadlineSeconds is allowed', () => assert.deepEqual(update((p) => (p.spec.activeDeadlineSeconds = 50)), []));
  it('raising activeDeadlineSeconds is refused', () =>
    assert.deepEqual(update((p) => (p.spec.activeDeadlineSeconds = 200)), ['spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value']));
  it('adding a toleration is allowed', () => assert.deepEqual(update((p) => (p.spec.tolerations = [{ key: 'a', operator: 'Exists' }])), []));
  it('adding a container is refused', () =>
    assert.deepEqual(update((p) => p.spec.containers.push({ ...web, name: 'b', imagePullPolicy: 'IfNotPresent', terminationMessagePolicy: 'File' })), [
      'spec.containers: Forbidden: pod updates may not add or remove containers',
    ]));
  it('changing a port is refused with the upstream message and a diff', () => {
    const got = update((p) => (p.spec.containers[0].ports = [{ containerPort: 8080, protocol: 'TCP' }]));
    assert.equal(got.length, 1);
    assert.ok(
      got[0].startsWith(
        'spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n',
      ),
      got[0],
    );
    assert.match(got[0], /containers\[0\]\.ports/);
  });
  it('removing an existing toleration is refused', () => {
    const withTol = pod({ containers: [web], tolerations: [{ key: 'a', operator: 'Exists' }] });
    const next = structuredClone(withTol);
    next.spec.tolerations = [];
    assert.deepEqual(validatePodUpdate(next, withTol).map(fieldErrorString), ['spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds']);
  });
});

describe('validatePodStatusUpdate', () => {
  it('a terminated container of a Never pod may not start again', () => {
    const old = pod({ containers: [web], restartPolicy: 'Never' });
    old.status = { containerStatuses: [{ name: 'web', state: { terminated: { exitCode: 0 } } }] };
    const next = structuredClone(old);
    next.status.containerStatuses[0].state = { running: {} };
    assert.deepEqual(validatePodStatusUpdate(next, old).map(fieldErrorString), ['status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state']);
  });
  it('an invalid pod IP is refused', () => {
    const old = pod({ containers: [web] });
    const next = structuredClone(old);
    next.status = { podIPs: [{ ip: '10.0.0.300' }] };
    assert.deepEqual(validatePodStatusUpdate(next, old).map(fieldErrorString), ['status.podIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']);
  });
});
