/**
 * Hybrid cgroup layouts where the cgroup2 hierarchy (/sys/fs/cgroup/unified) still holds
 * controllers, such as hugetlb when no v1 hierarchy was mounted for it. crun 1.8 refuses to run
 * containers there, and crun starts containers for about half of runc's CPU. systemd's hybrid
 * layout mounts every controller as v1 and leaves cgroup2 without any; this does the same for the
 * controllers left over, when nothing in cgroup2 uses them.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What {@link mountUnifiedControllersAsV1} did. */
export interface CgroupLayoutChange {
  /** Controllers now mounted as v1 hierarchies (each at ROOT/<name>). */
  mounted: string[];
  /** Why nothing (more) was done, when the layout was left as it was. */
  skipped?: string;
}

function isMountPoint(dir: string): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);
  } catch {
    return false;
  }
}

/** Mounts one cgroup v1 hierarchy for `controller` at `dir`; injectable for tests. */
export type MountV1 = (controller: string, dir: string) => void;

const mountWithUtilLinux: MountV1 = (controller, dir) => {
  execFileSync('mount', ['-t', 'cgroup', '-o', controller, 'cgroup', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
};

/**
 * In a hybrid layout whose cgroup2 hierarchy holds controllers that no cgroup there enables
 * (cgroup.subtree_control is empty), mounts each of them as a cgroup v1 hierarchy under `root`,
 * as systemd does. Changes nothing in a pure v1 or v2 layout, when cgroup2 delegates a controller
 * (moving it would take it from its users), or when not running as root.
 */
export function mountUnifiedControllersAsV1(root = '/sys/fs/cgroup', mount: MountV1 = mountWithUtilLinux, isRoot = process.getuid?.() === 0): CgroupLayoutChange {
  const read = (p: string) => {
    try {
      return readFileSync(p, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  if (read(join(root, 'cgroup.controllers')) !== undefined) return { mounted: [], skipped: 'pure cgroup v2' };
  const controllers = read(join(root, 'unified', 'cgroup.controllers'))?.split(/\s+/).filter(Boolean) ?? [];
  if (controllers.length === 0) return { mounted: [], skipped: 'no controllers in the cgroup2 hierarchy' };
  const delegated = read(join(root, 'unified', 'cgroup.subtree_control')) ?? '';
  if (delegated) return { mounted: [], skipped: `the cgroup2 hierarchy delegates ${delegated}` };
  if (!isRoot) return { mounted: [], skipped: 'not running as root' };
  const mounted: string[] = [];
  for (const c of controllers) {
    if (!/^[a-z_]+$/.test(c)) continue;
    const dir = join(root, c);
    // Another agent starting at the same moment may have mounted it already.
    if (isMountPoint(dir)) continue;
    try {
      mkdirSync(dir, { recursive: true });
      mount(c, dir);
      mounted.push(c);
    } catch (e) {
      const err = e as Error & { stderr?: Buffer };
      return { mounted, skipped: `mounting ${c} as cgroup v1 failed: ${err.stderr?.toString().trim() || err.message}` };
    }
  }
  return { mounted };
}
