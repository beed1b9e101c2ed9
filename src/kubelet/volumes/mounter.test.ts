import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { staticCBinary } from '../containerd/pause-image.js';
import { MountCommandError, Mounter, MOUNTER_C_SOURCE, type MounterOptions } from './mounter.js';

const O_PATH = 0o10000000;
const TMPFS_MAGIC = 0x01021994;
const root = mkdtempSync(path.join(tmpdir(), 'k8ts-mounter-'));
let seq = 0;

/** Why real mounts cannot be tested here, or false. */
function whyNoMounts(): string | false {
  if (process.getuid?.() !== 0) return 'SKIPPED: mounter tests need root (mount(2) requires CAP_SYS_ADMIN)';
  const probe = path.join(root, 'probe');
  mkdirSync(probe);
  try {
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', probe], { stdio: 'pipe' });
  } catch (e) {
    return `SKIPPED: mount(2) is not permitted here: ${(e as Error).message}`;
  }
  execFileSync('umount', [probe]);
  return false;
}
const noMounts = whyNoMounts();
if (noMounts) console.warn(noMounts);
const binary = noMounts ? undefined : staticCBinary('k8ts-mounter', MOUNTER_C_SOURCE);
const noHelper = noMounts || (!binary && 'SKIPPED: no C compiler or static libc to build k8ts-mounter');
if (!noMounts && noHelper) console.warn(noHelper);

const mounters: Mounter[] = [];
after(async () => {
  for (const m of mounters) await m.close();
  // Whatever a failed test left mounted, deepest first.
  for (const mp of mountsUnder(root)) spawnSync('umount', ['-l', mp]);
  rmSync(root, { recursive: true, force: true });
});

/** Mount points at or under `dir` per /proc/self/mountinfo, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter(Boolean)
    .map((mp) => mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}

/** The mountinfo line of mount point `dir` (at most one expected). */
function mountLine(dir: string): string | undefined {
  const esc = dir.replace(/[ \t\n\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === esc);
  assert.ok(lines.length <= 1, `mounted at most once: ${lines.join('\n')}`);
  return lines[0];
}

function newDir(name = `d${seq++}`): string {
  const d = path.join(root, `t${seq++}`, name);
  mkdirSync(d, { recursive: true });
  return d;
}

function mounter(o: MounterOptions = {}): { m: Mounter; warnings: string[] } {
  const warnings: string[] = [];
  const m = new Mounter({ binary, warn: (msg, f) => warnings.push(`${msg} ${JSON.stringify(f ?? {})}`), ...o });
  mounters.push(m);
  return { m, warnings };
}

const modes: { name: string; skip: string | false; opts: MounterOptions }[] = [
  { name: 'the k8ts-mounter helper', skip: noHelper, opts: {} },
  { name: 'util-linux mount and umount (the fallback)', skip: noMounts, opts: { useUtilLinux: true } },
];

for (const mode of modes) {
  describe(`Mounter through ${mode.name}`, { skip: mode.skip }, () => {
    it('mounts a tmpfs of the requested size with the kernel default mode 1777, and unmounts it', async () => {
      const { m } = mounter(mode.opts);
      const d = newDir();
      await m.tmpfs(d, 8 << 20);
      assert.match(mountLine(d) ?? '', / - tmpfs tmpfs rw,size=8192k/);
      const st = statfsSync(d);
      assert.equal(st.type, TMPFS_MAGIC);
      assert.equal(st.blocks * st.bsize, 8 << 20);
      assert.equal(statSync(d).mode & 0o7777, 0o1777);
      await m.umount(d);
      assert.equal(mountLine(d), undefined);
      assert.equal(m.usingUtilLinux, !!mode.opts.useUtilLinux);
    });

    it('mounts a tmpfs without a size option when the size is 0', async () => {
      const { m } = mounter(mode.opts);
      const d = newDir();
      await m.tmpfs(d, 0);
      assert.equal(statfsSync(d).type, TMPFS_MAGIC);
      assert.notEqual(statfsSync(d).blocks * statfsSync(d).bsize, 0);
      await m.umount(d);
      assert.equal(mountLine(d), undefined);
    });

    it('bind-mounts a file and a directory through O_PATH descriptors of this process', async () => {
      const { m } = mounter(mode.opts);
      const src = newDir();
      writeFileSync(path.join(src, 'file'), 'content');
      mkdirSync(path.join(src, 'dir'));
      writeFileSync(path.join(src, 'dir', 'inner'), 'inside');
      const targets = newDir();
      const fileTarget = path.join(targets, 'file-target');
      const dirTarget = path.join(targets, 'dir-target');
      writeFileSync(fileTarget, '');
      mkdirSync(dirTarget);
      for (const [from, to] of [[path.join(src, 'file'), fileTarget], [path.join(src, 'dir'), dirTarget]]) {
        const fd = openSync(from, O_PATH | constants.O_NOFOLLOW);
        try {
          await m.bind(`/proc/${process.pid}/fd/${fd}`, to);
        } finally {
          closeSync(fd);
        }
      }
      assert.equal(readFileSync(fileTarget, 'utf8'), 'content');
      assert.equal(readFileSync(path.join(dirTarget, 'inner'), 'utf8'), 'inside');
      assert.deepEqual(mountsUnder(targets), [fileTarget, dirTarget].sort((a, b) => b.length - a.length));
      await m.umount(fileTarget);
      await m.umount(dirTarget);
      assert.deepEqual(mountsUnder(targets), []);
      assert.equal(readFileSync(fileTarget, 'utf8'), '');
    });

    it('mounts and unmounts paths with spaces and tabs', async () => {
      const { m } = mounter(mode.opts);
      const d = newDir('with space\tand tab');
      await m.tmpfs(d, 1 << 20);
      assert.match(mountLine(d) ?? '', / - tmpfs tmpfs rw,size=1024k/);
      await m.umount(d);
      assert.equal(mountLine(d), undefined);
    });

    it('fails to unmount a directory that is not a mount point', async () => {
      const { m } = mounter(mode.opts);
      const d = newDir();
      const err = await m.umount(d).then(
        () => assert.fail('umount of a plain directory succeeded'),
        (e: Error) => e,
      );
      assert.match(err.message, new RegExp(`^Command failed: umount ${d}\\numount: ${d}: `));
      if (!mode.opts.useUtilLinux) {
        assert.ok(err instanceof MountCommandError);
        assert.equal(err.code, 'EINVAL');
        assert.equal(err.errno, 22);
        assert.equal(err.message, `Command failed: umount ${d}\numount: ${d}: Invalid argument`);
      }
    });

    it('does not detach a busy mount: umount fails and the mount stays', async () => {
      const { m } = mounter(mode.opts);
      const d = newDir();
      await m.tmpfs(d, 1 << 20);
      const fd = openSync(path.join(d, 'held'), 'w');
      try {
        await assert.rejects(m.umount(d), mode.opts.useUtilLinux ? /target is busy/ : { code: 'EBUSY' });
        assert.notEqual(mountLine(d), undefined);
      } finally {
        closeSync(fd);
      }
      await m.umount(d);
      assert.equal(mountLine(d), undefined);
    });
  });
}

describe('Mounter helper process', { skip: noHelper }, () => {
  it('answers pipelined requests in order from a single process', async () => {
    const { m } = mounter();
    const dirs = [newDir(), newDir(), newDir()];
    const notMounted = newDir();
    await m.tmpfs(dirs[0], 1 << 20);
    const pid = m.helperPid;
    assert.ok(pid);
    const results = await Promise.allSettled([m.tmpfs(dirs[1], 2 << 20), m.tmpfs(dirs[2], 3 << 20), m.umount(notMounted), m.umount(dirs[0]), m.umount(dirs[1])]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.deepEqual([mountLine(dirs[0]), mountLine(dirs[1])], [undefined, undefined]);
    assert.match(mountLine(dirs[2]) ?? '', /size=3072k/);
    await m.umount(dirs[2]);
    assert.equal(m.helperPid, pid);
  });

  it('handles a path with a newline, which the framing carries as is', async () => {
    const { m } = mounter();
    const d = newDir('line\nbreak');
    await m.tmpfs(d, 1 << 20);
    assert.match(mountLine(d) ?? '', / - tmpfs tmpfs/);
    await m.umount(d);
    assert.equal(mountLine(d), undefined);
  });

  it('rejects a path with a NUL byte without sending it', async () => {
    const { m } = mounter();
    await assert.rejects(m.umount('/tmp/a\0b'), /NUL byte/);
    assert.equal(m.helperPid, undefined);
  });

  it('starts a new helper after the old one was killed', async () => {
    const { m, warnings } = mounter();
    const d = newDir();
    await m.tmpfs(d, 1 << 20);
    const pid = m.helperPid!;
    process.kill(pid, 'SIGKILL');
    while (m.helperPid === pid) await new Promise((r) => setTimeout(r, 5));
    await m.umount(d);
    assert.equal(mountLine(d), undefined);
    assert.ok(m.helperPid && m.helperPid !== pid, 'a new helper answered');
    assert.equal(m.usingUtilLinux, false);
    assert.deepEqual(warnings, []);
  });

  it('ends the helper on close, and starts one again on the next call', async () => {
    const { m } = mounter();
    const d = newDir();
    await m.tmpfs(d, 1 << 20);
    const pid = m.helperPid!;
    const owed = m.umount(d);
    await m.close();
    await owed; // answered before the helper ended
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    assert.equal(mountLine(d), undefined);
    await m.tmpfs(d, 1 << 20);
    assert.ok(m.helperPid && m.helperPid !== pid);
    await m.umount(d);
  });

  it('does not keep the process alive while idle', () => {
    const d = newDir();
    const script = `
      import { Mounter } from ${JSON.stringify(path.join(path.dirname(fileURLToPath(import.meta.url)), 'mounter.ts'))};
      const m = new Mounter({ binary: ${JSON.stringify(binary)} });
      await m.tmpfs(${JSON.stringify(d)}, 1 << 20);
      await m.umount(${JSON.stringify(d)});
      console.log('done', m.helperPid > 0);
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.signal, null, `the script did not exit by itself: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'done true');
    assert.equal(mountLine(d), undefined);
  });
});

describe('Mounter fallback to util-linux', { skip: noMounts }, () => {
  it('uses util-linux and warns once when the helper cannot be built', async () => {
    const { m, warnings } = mounter({ binary: undefined, cc: path.join(root, 'no-such-cc'), cacheDir: path.join(root, `cache${seq++}`) });
    const d = newDir();
    await m.tmpfs(d, 1 << 20);
    await m.umount(d);
    assert.equal(mountLine(d), undefined);
    assert.equal(m.usingUtilLinux, true);
    assert.equal(m.helperPid, undefined);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /util-linux.*no C compiler/);
  });

  it('uses util-linux for the queued and later calls when the helper cannot be started', async () => {
    const { m, warnings } = mounter({ binary: path.join(root, 'no-such-helper') });
    const [a, b] = [newDir(), newDir()];
    await Promise.all([m.tmpfs(a, 1 << 20), m.tmpfs(b, 1 << 20)]);
    assert.match(mountLine(a) ?? '', / - tmpfs /);
    await m.umount(a);
    await m.umount(b);
    assert.deepEqual([mountLine(a), mountLine(b)], [undefined, undefined]);
    assert.equal(m.usingUtilLinux, true);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /cannot start .*no-such-helper.*ENOENT/);
  });

  it('rejects what a dying helper owed, and gives up on it after three silent deaths', async () => {
    const { m, warnings } = mounter({ binary: '/bin/false' });
    const d = newDir();
    for (let i = 0; i < 3; i++) await assert.rejects(m.tmpfs(d, 1 << 20), /^Error: mount: .* k8ts-mounter exited with code 1$/);
    assert.equal(m.usingUtilLinux, true);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /keeps dying/);
    await m.tmpfs(d, 1 << 20);
    assert.match(mountLine(d) ?? '', / - tmpfs /);
    await m.umount(d);
  });
});

describe('k8ts-mounter protocol', { skip: noHelper }, () => {
  const cases: { name: string; input: string; stdout: string; status: number }[] = [
    { name: 'answers a size that is not a decimal number with EINVAL', input: 'tmpfs\0-1\0/nonexistent\0\n', stdout: 'err 22 Invalid argument\n', status: 0 },
    { name: 'answers a missing mount point with ENOENT', input: 'tmpfs\x000\0/nonexistent/x\0\n', stdout: 'err 2 No such file or directory\n', status: 0 },
    { name: 'answers every request of a batch, then exits cleanly at the end of input', input: 'umount\0/nonexistent\0\numount\0/nonexistent\0\n', stdout: 'err 2 No such file or directory\n'.repeat(2), status: 0 },
    { name: 'exits on an unknown verb, since it cannot know where the request ends', input: 'remount\0/x\0\n', stdout: '', status: 3 },
    { name: 'exits on a request not ended by a newline', input: 'umount\0/nonexistent\0X', stdout: '', status: 2 },
    { name: 'exits on a truncated request', input: 'bind\0/a\0/b', stdout: '', status: 2 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = spawnSync(binary!, [], { input: c.input, encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.stdout, c.stdout);
      assert.equal(r.status, c.status);
    });
  }
});
