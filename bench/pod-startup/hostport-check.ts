/**
 * Checks the hostPort runtime handler on a private containerd: a pod with a hostPort goes through
 * the portmap chain (its DNAT rule appears in the node namespace and the port answers), a pod
 * without one does not touch portmap. Usage: node --import tsx bench/pod-startup/hostport-check.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { removeStateDir, startContainerd, containerdPaths } from '../../src/kubelet/containerd/containerd.js';
import { importBusyboxImage, importPauseImage } from '../../src/kubelet/containerd/images.js';
import { HostNetwork } from '../../src/kubelet/network/host-network.js';
import { removeAllPodSandboxes } from '../../src/kubelet/runtime/cleanup.js';
import { CriRuntime } from '../../src/kubelet/runtime/cri-runtime.js';
import { HOSTPORT_RUNTIME_HANDLER, type PodSandboxConfig } from '../../src/kubelet/runtime/runtime.js';

const tag = process.pid.toString(36).slice(-5);
const netns = `k8ts-hp-${tag}`;
const ns = (...a: string[]) => execFileSync('nsenter', [`--net=/var/run/netns/${netns}`, '--', ...a], { encoding: 'utf8' });

async function main(): Promise<void> {
  const stateDir = mkdtempSync('/tmp/k8ts-hp-');
  execFileSync('ip', ['netns', 'add', netns]);
  execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  let rt: CriRuntime | undefined;
  let cd: Awaited<ReturnType<typeof startContainerd>> | undefined;
  const net = new HostNetwork({ bridge: `k8tshp${tag}`, clusterCIDR: '10.254.0.0/16', serviceCIDR: '10.255.0.0/16', cniConfDir: containerdPaths(stateDir).cniConfDir, ipamDir: join(stateDir, 'cni', 'ipam'), netns: `/var/run/netns/${netns}` });
  try {
    await net.usePodCIDR('10.254.3.0/24');
    cd = await startContainerd({ stateDir, netns: `/var/run/netns/${netns}` });
    rt = new CriRuntime({ socket: cd.socket });
    await importPauseImage({ socket: cd.socket, name: 'k8ts.local/pause:1' });
    await importBusyboxImage({ socket: cd.socket, name: 'k8ts.local/busybox:1' });
    for (let i = 0; i < 50 && !(await rt.status()).conditions.find((c) => c.type === 'NetworkReady')?.status; i++) await new Promise((r) => setTimeout(r, 100));
    console.log('NetworkReady:', (await rt.status()).conditions.find((c) => c.type === 'NetworkReady')?.status);
    const run = async (name: string, hostPort?: number) => {
      const sb: PodSandboxConfig = { metadata: { name, namespace: 'default', uid: `u-${name}`, attempt: 0 }, hostname: name, logDirectory: join(stateDir, 'pods', name), portMappings: hostPort ? [{ protocol: 'TCP', containerPort: 8080, hostPort }] : [], labels: {}, annotations: {} };
      const id = await rt!.runPodSandbox(sb, hostPort ? HOSTPORT_RUNTIME_HANDLER : undefined);
      const c = await rt!.createContainer(id, { metadata: { name: 'c', attempt: 0 }, image: { image: 'k8ts.local/busybox:1' }, command: ['sh', '-c', `while :; do echo hi-${name} | nc -l -p 8080; done`], labels: {}, annotations: {}, logPath: 'c/0.log' }, sb);
      await rt!.startContainer(c);
      return { id, ip: (await rt!.podSandboxStatus(id)).network?.ip };
    };
    const a = await run('plain');
    const b = await run('hp', 30080);
    console.log('plain pod IP', a.ip, '; hostPort pod IP', b.ip);
    const nat = ns('iptables', '-t', 'nat', '-S');
    console.log('hostPort DNAT rule present:', /--dport 30080/.test(nat));
    await new Promise((r) => setTimeout(r, 500));
    const gw = '10.254.3.1';
    console.log('reply via hostPort on the node address:', ns('sh', '-c', `timeout 3 busybox nc ${gw} 30080 </dev/null || true`).trim());
    await removeAllPodSandboxes(rt);
    console.log('after removal, DNAT rule gone:', !/--dport 30080/.test(ns('iptables', '-t', 'nat', '-S')));
  } finally {
    if (rt) {
      await removeAllPodSandboxes(rt);
      rt.close();
    }
    await cd?.stop();
    await net.teardown({ routes: true });
    await removeStateDir(stateDir);
    execFileSync('ip', ['netns', 'del', netns]);
  }
}
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
