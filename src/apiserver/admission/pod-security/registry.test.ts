import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checksFor, evaluatePod, forbiddenDetail, forbiddenReason } from './registry.js';
import type { Level, PodSpec } from './check.js';

describe('checksFor', () => {
  const cases: { name: string; level: Level; version: string; want: string[] }[] = [
    { name: 'privileged runs no checks', level: 'privileged', version: 'latest', want: [] },
    {
      name: 'baseline at latest runs every baseline check sorted by ID in byte order',
      level: 'baseline',
      version: 'latest',
      want: [
        'appArmorProfile', 'capabilities_baseline', 'hostNamespaces', 'hostPathVolumes', 'hostPorts', 'hostProbesAndHostLifecycle',
        'privileged', 'procMount', 'seLinuxOptions', 'seccompProfile_baseline', 'sysctls', 'windowsHostProcess',
      ],
    },
    {
      name: 'restricted replaces overridden baseline checks and appends restricted checks',
      level: 'restricted',
      version: 'latest',
      want: [
        'appArmorProfile', 'hostNamespaces', 'hostPorts', 'hostProbesAndHostLifecycle', 'privileged', 'procMount', 'seLinuxOptions', 'sysctls',
        'windowsHostProcess', 'allowPrivilegeEscalation', 'capabilities_restricted', 'restrictedVolumes', 'runAsNonRoot', 'runAsUser',
        'seccompProfile_restricted',
      ],
    },
    {
      name: 'restricted at v1.21 keeps the baseline capability check because the restricted one starts at 1.22',
      level: 'restricted',
      version: 'v1.21',
      want: [
        'appArmorProfile', 'capabilities_baseline', 'hostNamespaces', 'hostPorts', 'privileged', 'procMount', 'seLinuxOptions', 'sysctls',
        'windowsHostProcess', 'allowPrivilegeEscalation', 'restrictedVolumes', 'runAsNonRoot', 'seccompProfile_restricted',
      ],
    },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      assert.deepEqual(checksFor({ level: tc.level, version: tc.version }).map((c) => c.id), tc.want);
    });
  }
});

describe('evaluatePod', () => {
  it('formats reasons alone and reasons with details as upstream aggregates them', () => {
    const e = evaluatePod({ level: 'baseline', version: 'latest' }, {}, {
      hostPID: true,
      containers: [{ name: 'c', securityContext: { privileged: true } }],
    });
    assert.equal(e.allowed, false);
    assert.equal(forbiddenReason(e), 'host namespaces, privileged');
    assert.equal(forbiddenDetail(e), 'host namespaces (hostPID=true), privileged (container "c" must not set securityContext.privileged=true)');
  });

  it('a pod without a spec passes baseline', () => {
    assert.equal(evaluatePod({ level: 'baseline', version: 'latest' }, {}, {} as PodSpec).allowed, true);
  });
});
