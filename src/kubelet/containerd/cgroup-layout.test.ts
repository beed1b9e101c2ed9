import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountUnifiedControllersAsV1 } from './cgroup-layout.js';

describe('mounting cgroup2 leftovers as v1 hierarchies (for crun)', () => {
  const cases: { name: string; files: Record<string, string>; isRoot?: boolean; failOn?: string; mounted: string[]; skipped?: RegExp }[] = [
    { name: 'A hybrid layout with unused hugetlb in cgroup2 gets hugetlb mounted as v1.', files: { 'unified/cgroup.controllers': 'hugetlb', 'unified/cgroup.subtree_control': '' }, mounted: ['hugetlb'] },
    { name: 'Every unused controller left in cgroup2 is mounted, in order.', files: { 'unified/cgroup.controllers': 'hugetlb misc', 'unified/cgroup.subtree_control': '' }, mounted: ['hugetlb', 'misc'] },
    { name: 'A pure cgroup v2 layout is left alone.', files: { 'cgroup.controllers': 'cpu memory' }, mounted: [], skipped: /pure cgroup v2/ },
    { name: 'A hybrid layout with an empty cgroup2 hierarchy is left alone.', files: { 'unified/cgroup.controllers': '' }, mounted: [], skipped: /no controllers/ },
    { name: 'Controllers that cgroup2 delegates to its children are not taken from them.', files: { 'unified/cgroup.controllers': 'hugetlb', 'unified/cgroup.subtree_control': 'hugetlb' }, mounted: [], skipped: /delegates hugetlb/ },
    { name: 'Without root nothing is mounted.', files: { 'unified/cgroup.controllers': 'hugetlb', 'unified/cgroup.subtree_control': '' }, isRoot: false, mounted: [], skipped: /not running as root/ },
    { name: 'A failing mount stops there and says why.', files: { 'unified/cgroup.controllers': 'hugetlb misc', 'unified/cgroup.subtree_control': '' }, failOn: 'misc', mounted: ['hugetlb'], skipped: /mounting misc as cgroup v1 failed: busy/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const root = mkdtempSync(join(tmpdir(), 'k8ts-cgl-'));
      try {
        for (const [f, text] of Object.entries(c.files)) {
          mkdirSync(join(root, f, '..'), { recursive: true });
          writeFileSync(join(root, f), text);
        }
        const calls: [string, string][] = [];
        const got = mountUnifiedControllersAsV1(root, (ctl, dir) => {
          if (ctl === c.failOn) throw new Error('busy');
          calls.push([ctl, dir]);
        }, c.isRoot ?? true);
        assert.deepEqual(got.mounted, c.mounted);
        assert.deepEqual(calls, c.mounted.map((m) => [m, join(root, m)]));
        for (const m of c.mounted) assert.ok(existsSync(join(root, m)), `mount point ${m} made`);
        if (c.skipped) assert.match(got.skipped ?? '', c.skipped);
        else assert.equal(got.skipped, undefined);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
