import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Check, Forbidden, ObjectMeta, PodSpec } from '../check.js';
import { allowPrivilegeEscalation } from './allow-privilege-escalation.js';
import { appArmorProfile } from './app-armor-profile.js';
import { capabilitiesBaseline } from './capabilities-baseline.js';
import { capabilitiesRestricted } from './capabilities-restricted.js';
import { hostNamespaces } from './host-namespaces.js';
import { hostPathVolumes } from './host-path-volumes.js';
import { hostPorts } from './host-ports.js';
import { hostProbesAndHostLifecycle } from './host-probes-and-host-lifecycle.js';
import { privileged } from './privileged.js';
import { procMount } from './proc-mount.js';
import { restrictedVolumes } from './restricted-volumes.js';
import { runAsNonRoot } from './run-as-non-root.js';
import { runAsUser } from './run-as-user.js';
import { seLinuxOptions } from './se-linux-options.js';
import { seccompProfileBaseline } from './seccomp-profile-baseline.js';
import { seccompProfileRestricted } from './seccomp-profile-restricted.js';
import { sysctls } from './sysctls.js';
import { windowsHostProcess } from './windows-host-process.js';

interface Case {
  name: string;
  spec: PodSpec;
  meta?: ObjectMeta;
  /** [reason, detail], or undefined when the pod is allowed. */
  want?: [string, string];
}

/** A container named `name` with the given security context and extra fields. */
function c(name: string, securityContext?: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { name, image: 'busybox', ...(securityContext ? { securityContext } : {}), ...extra };
}

function table(check: Check, cases: Case[]): void {
  describe(`check ${check.id}`, () => {
    for (const tc of cases) {
      it(tc.name, () => {
        const got: Forbidden | undefined = check.check(tc.meta ?? {}, tc.spec);
        assert.deepEqual(got, tc.want ? { reason: tc.want[0], detail: tc.want[1] } : undefined);
      });
    }
  });
}

table(hostNamespaces, [
  { name: 'a pod on the pod network is allowed', spec: { containers: [c('a')] } },
  { name: 'explicit false values are allowed', spec: { hostNetwork: false, hostPID: false, hostIPC: false, containers: [c('a')] } },
  { name: 'hostNetwork alone is named', spec: { hostNetwork: true, containers: [c('a')] }, want: ['host namespaces', 'hostNetwork=true'] },
  {
    name: 'all three host namespaces are listed in sorted order',
    spec: { hostPID: true, hostNetwork: true, hostIPC: true, containers: [c('a')] },
    want: ['host namespaces', 'hostIPC=true, hostNetwork=true, hostPID=true'],
  },
]);

table(privileged, [
  { name: 'an unprivileged container is allowed', spec: { containers: [c('a', { privileged: false })] } },
  { name: 'one privileged container is named in the singular', spec: { containers: [c('c', { privileged: true })] }, want: ['privileged', 'container "c" must not set securityContext.privileged=true'] },
  {
    name: 'privileged init, regular and ephemeral containers are listed init first',
    spec: { initContainers: [c('i', { privileged: true })], containers: [c('a', { privileged: true }), c('b')], ephemeralContainers: [c('e', { privileged: true })] },
    want: ['privileged', 'containers "i", "a", "e" must not set securityContext.privileged=true'],
  },
]);

table(capabilitiesBaseline, [
  { name: 'adding default capabilities is allowed', spec: { containers: [c('a', { capabilities: { add: ['NET_BIND_SERVICE', 'CHOWN', 'KILL'] } })] } },
  { name: 'dropping anything is allowed', spec: { containers: [c('a', { capabilities: { drop: ['ALL'] } })] } },
  {
    name: 'non-default capabilities are listed sorted and de-duplicated across containers',
    spec: { containers: [c('a', { capabilities: { add: ['SYS_ADMIN', 'NET_RAW'] } }), c('b', { capabilities: { add: ['NET_RAW', 'CHOWN'] } })] },
    want: ['non-default capabilities', 'containers "a", "b" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add'],
  },
]);

table(hostPathVolumes, [
  { name: 'emptyDir volumes are allowed', spec: { containers: [c('a')], volumes: [{ name: 'v', emptyDir: {} }] } },
  { name: 'one hostPath volume is named', spec: { containers: [c('a')], volumes: [{ name: 'h', hostPath: { path: '/' } }] }, want: ['hostPath volumes', 'volume "h"'] },
  {
    name: 'several hostPath volumes keep their order',
    spec: { containers: [c('a')], volumes: [{ name: 'z', hostPath: { path: '/z' } }, { name: 'e', emptyDir: {} }, { name: 'a', hostPath: { path: '/a' } }] },
    want: ['hostPath volumes', 'volumes "z", "a"'],
  },
]);

table(hostPorts, [
  { name: 'container ports without host ports are allowed', spec: { containers: [c('a', undefined, { ports: [{ containerPort: 80 }] })] } },
  { name: 'hostPort 0 counts as unset', spec: { containers: [c('a', undefined, { ports: [{ containerPort: 80, hostPort: 0 }] })] } },
  { name: 'one container with one host port', spec: { containers: [c('c', undefined, { ports: [{ containerPort: 80, hostPort: 80 }] })] }, want: ['hostPort', 'container "c" uses hostPort 80'] },
  {
    name: 'several containers and ports are pluralised and ports sorted as strings',
    spec: {
      containers: [c('a', undefined, { ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 443, hostPort: 443 }] }), c('b', undefined, { ports: [{ containerPort: 80, hostPort: 80 }] })],
    },
    want: ['hostPort', 'containers "a", "b" use hostPorts 443, 80, 8080'],
  },
]);

table(hostProbesAndHostLifecycle, [
  { name: 'probes without a host are allowed', spec: { containers: [c('a', undefined, { livenessProbe: { httpGet: { port: 80 } } })] } },
  {
    name: 'a probe host and a lifecycle host are both listed',
    spec: {
      containers: [
        c('b', undefined, { readinessProbe: { tcpSocket: { port: 80, host: '10.0.0.1' } } }),
        c('a', undefined, { lifecycle: { preStop: { httpGet: { port: 80, host: 'example.com' } } } }),
      ],
    },
    want: ['probe or lifecycle host', 'containers "a", "b" use probe or lifecycle hosts "10.0.0.1", "example.com"'],
  },
]);

table(appArmorProfile, [
  { name: 'RuntimeDefault and Localhost profiles are allowed', spec: { securityContext: { appArmorProfile: { type: 'RuntimeDefault' } }, containers: [c('a', { appArmorProfile: { type: 'Localhost', localhostProfile: 'p' } })] } },
  { name: 'allowed annotation values pass', meta: { annotations: { 'container.apparmor.security.beta.kubernetes.io/a': 'runtime/default', 'container.apparmor.security.beta.kubernetes.io/b': 'localhost/x' } }, spec: { containers: [c('a'), c('b')] } },
  {
    name: 'an Unconfined pod profile is refused',
    spec: { securityContext: { appArmorProfile: { type: 'Unconfined' } }, containers: [c('a')] },
    want: ['forbidden AppArmor profile', 'pod must not set AppArmor profile type to "Unconfined"'],
  },
  {
    name: 'pod, container and annotation setters are joined with and',
    meta: { annotations: { 'container.apparmor.security.beta.kubernetes.io/a': 'unconfined' } },
    spec: { securityContext: { appArmorProfile: { type: 'Unconfined' } }, containers: [c('a', { appArmorProfile: { type: 'Unconfined' } })] },
    want: [
      'forbidden AppArmor profiles',
      'pod and container "a" and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/a="unconfined""',
    ],
  },
]);

table(seLinuxOptions, [
  { name: 'container_t and level-only options are allowed', spec: { securityContext: { seLinuxOptions: { level: 's0:c1' } }, containers: [c('a', { seLinuxOptions: { type: 'container_t' } })] } },
  {
    name: 'a custom type on the pod is refused',
    spec: { securityContext: { seLinuxOptions: { type: 'spc_t' } }, containers: [c('a')] },
    want: ['seLinuxOptions', 'pod set forbidden securityContext.seLinuxOptions: type "spc_t"'],
  },
  {
    name: 'user and role are reported even without a bad type',
    spec: { containers: [c('a', { seLinuxOptions: { user: 'u' } }), c('b', { seLinuxOptions: { role: 'r', type: 'x_t' } })] },
    want: ['seLinuxOptions', 'containers "a", "b" set forbidden securityContext.seLinuxOptions: type "x_t"; user may not be set; role may not be set'],
  },
]);

table(procMount, [
  { name: 'Default procMount is allowed', spec: { containers: [c('a', { procMount: 'Default' })] } },
  { name: 'Unmasked procMount is refused', spec: { containers: [c('c', { procMount: 'Unmasked' })] }, want: ['procMount', 'container "c" must not set securityContext.procMount to "Unmasked"'] },
]);

table(seccompProfileBaseline, [
  { name: 'an unset profile is allowed at baseline', spec: { containers: [c('a')] } },
  { name: 'RuntimeDefault is allowed', spec: { securityContext: { seccompProfile: { type: 'RuntimeDefault' } }, containers: [c('a')] } },
  {
    name: 'Unconfined on the pod and a container is refused',
    spec: { securityContext: { seccompProfile: { type: 'Unconfined' } }, containers: [c('a', { seccompProfile: { type: 'Unconfined' } })] },
    want: ['seccompProfile', 'pod and container "a" must not set securityContext.seccompProfile.type to "Unconfined"'],
  },
]);

table(sysctls, [
  { name: 'safe sysctls are allowed', spec: { securityContext: { sysctls: [{ name: 'net.ipv4.tcp_syncookies', value: '1' }, { name: 'net.ipv4.tcp_rmem', value: '4096 87380 6291456' }] }, containers: [c('a')] } },
  {
    name: 'unsafe sysctls are listed in pod order',
    spec: { securityContext: { sysctls: [{ name: 'kernel.msgmax', value: '1' }, { name: 'kernel.shm_rmid_forced', value: '1' }, { name: 'net.core.somaxconn', value: '1' }] }, containers: [c('a')] },
    want: ['forbidden sysctls', 'kernel.msgmax, net.core.somaxconn'],
  },
]);

table(windowsHostProcess, [
  { name: 'hostProcess=false is allowed', spec: { securityContext: { windowsOptions: { hostProcess: false } }, containers: [c('a')] } },
  {
    name: 'pod and container hostProcess are both named',
    spec: { securityContext: { windowsOptions: { hostProcess: true } }, containers: [c('a', { windowsOptions: { hostProcess: true } })] },
    want: ['hostProcess', 'pod and container "a" must not set securityContext.windowsOptions.hostProcess=true'],
  },
]);

table(allowPrivilegeEscalation, [
  { name: 'allowPrivilegeEscalation=false everywhere is allowed', spec: { containers: [c('a', { allowPrivilegeEscalation: false })] } },
  {
    name: 'unset and true values are both refused',
    spec: { initContainers: [c('i')], containers: [c('a', { allowPrivilegeEscalation: true })] },
    want: ['allowPrivilegeEscalation != false', 'containers "i", "a" must set securityContext.allowPrivilegeEscalation=false'],
  },
]);

table(capabilitiesRestricted, [
  { name: 'drop ALL and add NET_BIND_SERVICE is allowed', spec: { containers: [c('a', { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } })] } },
  { name: 'a container without capabilities must drop ALL', spec: { containers: [c('c')] }, want: ['unrestricted capabilities', 'container "c" must set securityContext.capabilities.drop=["ALL"]'] },
  {
    name: 'missing drop and forbidden adds are joined with a semicolon',
    spec: { containers: [c('a', { capabilities: { drop: ['NET_RAW'] } }), c('b', { capabilities: { drop: ['ALL'], add: ['SYS_ADMIN', 'CHOWN'] } })] },
    want: ['unrestricted capabilities', 'container "a" must set securityContext.capabilities.drop=["ALL"]; container "b" must not include "CHOWN", "SYS_ADMIN" in securityContext.capabilities.add'],
  },
]);

table(restrictedVolumes, [
  {
    name: 'configMap, secret, PVC, projected, downwardAPI, emptyDir, ephemeral and csi volumes are allowed',
    spec: {
      containers: [c('a')],
      volumes: [
        { name: '1', configMap: { name: 'x' } }, { name: '2', secret: { secretName: 'x' } }, { name: '3', persistentVolumeClaim: { claimName: 'x' } },
        { name: '4', projected: { sources: [] } }, { name: '5', downwardAPI: {} }, { name: '6', emptyDir: {} }, { name: '7', ephemeral: {} }, { name: '8', csi: { driver: 'd' } },
      ],
    },
  },
  { name: 'a hostPath volume names its type', spec: { containers: [c('a')], volumes: [{ name: 'h', hostPath: { path: '/' } }] }, want: ['restricted volume types', 'volume "h" uses restricted volume type "hostPath"'] },
  {
    name: 'several volumes list their types sorted, and a volume without a source is unknown',
    spec: { containers: [c('a')], volumes: [{ name: 'n', nfs: { server: 's', path: '/' } }, { name: 'h', hostPath: { path: '/' } }, { name: 'x' }] },
    want: ['restricted volume types', 'volumes "n", "h", "x" use restricted volume types "hostPath", "nfs", "unknown"'],
  },
]);

table(runAsNonRoot, [
  { name: 'pod-level runAsNonRoot=true covers every container', spec: { securityContext: { runAsNonRoot: true }, containers: [c('a'), c('b')] } },
  { name: 'each container may opt in itself', spec: { containers: [c('a', { runAsNonRoot: true })] } },
  { name: 'unset everywhere asks for the pod or the container', spec: { containers: [c('c')] }, want: ['runAsNonRoot != true', 'pod or container "c" must set securityContext.runAsNonRoot=true'] },
  {
    name: 'an explicit false wins over an implicit miss',
    spec: { securityContext: { runAsNonRoot: false }, containers: [c('a', { runAsNonRoot: false }), c('b')] },
    want: ['runAsNonRoot != true', 'pod and container "a" must not set securityContext.runAsNonRoot=false'],
  },
  {
    name: 'a container overriding a true pod setting with false is refused',
    spec: { securityContext: { runAsNonRoot: true }, containers: [c('a', { runAsNonRoot: false })] },
    want: ['runAsNonRoot != true', 'container "a" must not set securityContext.runAsNonRoot=false'],
  },
]);

table(runAsUser, [
  { name: 'a non-zero UID is allowed', spec: { securityContext: { runAsUser: 1000 }, containers: [c('a', { runAsUser: 1 })] } },
  { name: 'UID 0 on a container is refused', spec: { containers: [c('c', { runAsUser: 0 })] }, want: ['runAsUser=0', 'container "c" must not set runAsUser=0'] },
  { name: 'UID 0 on the pod is refused', spec: { securityContext: { runAsUser: 0 }, containers: [c('a')] }, want: ['runAsUser=0', 'pod must not set runAsUser=0'] },
]);

table(seccompProfileRestricted, [
  { name: 'a pod-level RuntimeDefault covers every container', spec: { securityContext: { seccompProfile: { type: 'RuntimeDefault' } }, containers: [c('a')] } },
  { name: 'each container may set Localhost itself', spec: { containers: [c('a', { seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } })] } },
  {
    name: 'an unset profile asks for RuntimeDefault or Localhost',
    spec: { containers: [c('c')] },
    want: ['seccompProfile', 'pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"'],
  },
  {
    name: 'an explicit Unconfined container is named',
    spec: { securityContext: { seccompProfile: { type: 'RuntimeDefault' } }, containers: [c('a', { seccompProfile: { type: 'Unconfined' } })] },
    want: ['seccompProfile', 'container "a" must not set securityContext.seccompProfile.type to "Unconfined"'],
  },
]);
