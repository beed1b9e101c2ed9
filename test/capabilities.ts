/**
 * What tests with real nodes need from the machine, checked in one place: root and the binaries
 * scripts/setup.sh installs. A test skips (loudly) only when this returns a reason.
 */
import { requireBinaries } from '../src/kubelet/containerd/containerd.js';
import { freePort } from '../src/base/ports.js';

export { freePort };

/** The binaries every real-node test needs; add what a test needs beyond them. */
const NODE_BINARIES = [
  { name: 'containerd', pkg: 'containerd' },
  { name: 'ctr', pkg: 'containerd' },
  { name: 'runc', pkg: 'runc' },
  { name: '/bin/busybox', pkg: 'busybox-static' },
  { name: '/usr/lib/cni/bridge', pkg: 'containernetworking-plugins' },
];

/** Why real-node tests cannot run here (not root, a binary missing), or undefined when they can. */
export function missingNodeCapability(extra: { name: string; pkg: string }[] = []): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  try {
    requireBinaries([...NODE_BINARIES, ...extra]);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

/** Prints the skip reason where CI logs show it, and returns it for `describe(..., { skip })`. */
export function announceSkip(what: string, why: string | undefined): string | undefined {
  if (why) console.warn(`\n*** SKIPPING ${what}: ${why} ***\n`);
  return why;
}

