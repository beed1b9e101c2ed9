import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bridgeConflist, containerdConfig, crunCgroupProblem, HOSTPORT_RUNTIME_HANDLER, hostPortCniConfDir, pickOciRuntime } from './containerd.js';
import { staticPauseBinary } from './pause-image.js';
import { cLoopbackPlugin, cniBinDirWith } from './cni-loopback.js';
import { staticPauseLayer } from './images.js';

const dirs: string[] = [];
const tmp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the CNI chains', () => {
  const cases = [
    { name: 'The default conflist leaves portmap out when asked to.', portmap: false, types: ['bridge'] },
    { name: 'The hostPort conflist ends with portmap.', portmap: true, types: ['bridge', 'portmap'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const conf = JSON.parse(bridgeConflist({ bridge: 'k8tsx', subnet: '10.1.2.0/24', dataDir: '/tmp/ipam', portmap: c.portmap }));
      assert.deepEqual(conf.plugins.map((p: { type: string }) => p.type), c.types);
      assert.equal(conf.name, 'k8ts');
    });
  }

  it('The hostPort handler has its own CNI dir beside the default one.', () => {
    assert.equal(hostPortCniConfDir('/s/cni/net.d'), '/s/cni/net.d-hostport');
  });
});

describe('the containerd config', () => {
  const base = { stateDir: '/s', pauseImage: 'p:1', cniConfDir: '/s/cni/net.d', cniBinDir: '/usr/lib/cni', logLevel: 'info' };

  it('Defines the hostPort runtime handler with its own CNI config dir, and the default handler without one.', () => {
    const toml = containerdConfig({ ...base, cniHostPortConfDir: '/s/cni/net.d-hostport' });
    const section = toml.split(`runtimes."${HOSTPORT_RUNTIME_HANDLER}"]`)[1] ?? '';
    assert.match(section, /cni_conf_dir = "\/s\/cni\/net\.d-hostport"/);
    const runc = toml.split('runtimes."runc"]')[1].split('[')[0];
    assert.doesNotMatch(runc, /cni_conf_dir/);
  });

  it('Names the OCI runtime binary for both handlers only when one is chosen.', () => {
    assert.equal(containerdConfig({ ...base, runtimeBinary: '/usr/bin/crun' }).match(/BinaryName = "\/usr\/bin\/crun"/g)?.length, 2);
    assert.doesNotMatch(containerdConfig(base), /BinaryName/);
  });
});

describe('choosing the OCI runtime', () => {
  const bin = tmp('k8ts-oci-');
  for (const b of ['crun', 'runc']) {
    writeFileSync(join(bin, b), '#!/bin/sh\n');
    chmodSync(join(bin, b), 0o755);
  }
  const empty = tmp('k8ts-oci-none-');
  const ok = () => undefined;
  const bad = () => 'hybrid';
  const cases: { name: string; choice: string; path: string; problem: () => string | undefined; want?: string; throws?: RegExp }[] = [
    { name: 'Auto takes crun when it is installed and the cgroups suit it.', choice: 'auto', path: bin, problem: ok, want: join(bin, 'crun') },
    { name: 'Auto falls back to runc when crun cannot handle the cgroup layout.', choice: 'auto', path: bin, problem: bad, want: undefined },
    { name: 'Auto falls back to runc when crun is not installed.', choice: 'auto', path: empty, problem: ok, want: undefined },
    { name: 'Runc is containerd\'s default, so no binary is named.', choice: 'runc', path: bin, problem: ok, want: undefined },
    { name: 'Asking for crun where it is missing says which package to install.', choice: 'crun', path: empty, problem: ok, throws: /apt-get install crun/ },
    { name: 'Asking for crun where the cgroup layout does not suit it says why.', choice: 'crun', path: bin, problem: bad, throws: /crun cannot run here: hybrid/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.throws) assert.throws(() => pickOciRuntime(c.choice, c.path, c.problem), c.throws);
      else assert.equal(pickOciRuntime(c.choice, c.path, c.problem), c.want);
    });
  }

  const layouts: { name: string; files: Record<string, string>; problem: boolean }[] = [
    { name: 'A pure cgroup v2 layout suits crun.', files: { 'cgroup.controllers': 'cpu memory pids' }, problem: false },
    { name: 'A hybrid layout with an empty cgroup2 hierarchy suits crun.', files: { 'unified/cgroup.controllers': '' }, problem: false },
    { name: 'A hybrid layout with hugetlb left in cgroup2 does not suit crun.', files: { 'unified/cgroup.controllers': 'hugetlb' }, problem: true },
    { name: 'A legacy layout without cgroup2 suits crun.', files: { 'memory/tasks': '' }, problem: false },
  ];
  for (const l of layouts) {
    it(l.name, () => {
      const root = tmp('k8ts-cg-');
      for (const [f, text] of Object.entries(l.files)) {
        mkdirSync(join(root, f, '..'), { recursive: true });
        writeFileSync(join(root, f), text);
      }
      const p = crunCgroupProblem(root);
      assert.equal(p !== undefined, l.problem, p);
      if (l.problem) assert.match(p!, /mount -t cgroup -o hugetlb/);
    });
  }
});

describe('the static pause binary', () => {
  const cache = tmp('k8ts-pause-');
  const bin = staticPauseBinary({ cacheDir: cache });
  const why = bin ? undefined : 'no C compiler with a static libc here';

  it('Is cached: a second call returns the same file without building.', { skip: why }, () => {
    assert.equal(staticPauseBinary({ cacheDir: cache, cc: '/nonexistent-cc' }), bin);
  });

  it('Keeps running until SIGTERM, then exits 0.', { skip: why }, async () => {
    const c = spawn(bin!, [], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(c.exitCode, null, 'pause exited on its own');
    const done = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
    c.kill('SIGTERM');
    assert.equal(await done, 0);
  });

  it('Is the only file of the pause image layer, executable, at /pause.', { skip: why }, () => {
    const layer = staticPauseLayer(Buffer.from('x'));
    assert.equal(layer.subarray(0, 6).toString(), 'pause\0');
    assert.equal(layer.subarray(100, 107).toString(), '0000755');
  });

  it('Is not built without a compiler.', () => {
    assert.equal(staticPauseBinary({ cacheDir: tmp('k8ts-pause-none-'), cc: '/nonexistent-cc' }), undefined);
  });
});

describe('the C loopback CNI plugin', () => {
  const cache = tmp('k8ts-lo-');
  const bin = cLoopbackPlugin({ cacheDir: cache });
  const why = bin ? undefined : 'no C compiler with a static libc here';
  const rootWhy = why ?? (process.getuid?.() === 0 ? undefined : 'needs root for a network namespace');
  const run = (env: Record<string, string>, conf: string) => spawnSync(bin!, [], { input: conf, env: { ...env, CNI_PATH: '/usr/lib/cni', CNI_IFNAME: 'lo', CNI_CONTAINERID: 'x' }, encoding: 'utf8' });

  it('Answers VERSION with the spec versions it speaks.', { skip: why }, () => {
    const r = run({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
    assert.equal(r.status, 0);
    assert.deepEqual(JSON.parse(r.stdout).supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0']);
  });

  const versions = [
    { name: 'Sets lo up on ADD and reports it in the 0.3.1 result shape (IPs carry their version).', v: '0.3.1', ipVersion: '4' },
    { name: 'Sets lo up on ADD and reports it in the 1.0.0 result shape (no IP version field).', v: '1.0.0', ipVersion: undefined },
  ];
  for (const c of versions) {
    it(c.name, { skip: rootWhy }, () => {
      const ns = `k8ts-lot-${process.pid.toString(36)}`;
      execFileSync('ip', ['netns', 'add', ns]);
      try {
        const conf = JSON.stringify({ cniVersion: c.v, name: 'cni-loopback', type: 'loopback' });
        const r = run({ CNI_COMMAND: 'ADD', CNI_NETNS: `/var/run/netns/${ns}` }, conf);
        assert.equal(r.status, 0, r.stdout + r.stderr);
        const res = JSON.parse(r.stdout);
        assert.equal(res.cniVersion, c.v);
        assert.equal(res.interfaces[0].name, 'lo');
        assert.equal(res.ips[0].address, '127.0.0.1/8');
        assert.equal(res.ips[0].version, c.ipVersion);
        assert.match(execFileSync('ip', ['-n', ns, '-o', 'link', 'show', 'lo'], { encoding: 'utf8' }), /<LOOPBACK,UP/);
        assert.equal(run({ CNI_COMMAND: 'DEL', CNI_NETNS: `/var/run/netns/${ns}` }, conf).status, 0);
        assert.doesNotMatch(execFileSync('ip', ['-n', ns, '-o', 'link', 'show', 'lo'], { encoding: 'utf8' }), /<LOOPBACK,UP/);
      } finally {
        execFileSync('ip', ['netns', 'del', ns]);
      }
    });
  }

  it('Succeeds on DEL when the namespace is already gone, and fails ADD without one.', { skip: why }, () => {
    const conf = '{"cniVersion":"0.3.1","name":"cni-loopback","type":"loopback"}';
    assert.equal(run({ CNI_COMMAND: 'DEL', CNI_NETNS: '/var/run/netns/k8ts-no-such-ns' }, conf).status, 0);
    const add = run({ CNI_COMMAND: 'ADD' }, conf);
    assert.equal(add.status, 1);
    assert.equal(JSON.parse(add.stdout).code, 4);
  });

  it('Is linked as loopback in the bin dir, beside links to every other plugin.', () => {
    const from = tmp('k8ts-cnifrom-');
    for (const p of ['bridge', 'host-local', 'loopback']) writeFileSync(join(from, p), '');
    const dir = join(tmp('k8ts-cnibin-'), 'bin');
    cniBinDirWith(dir, from, { loopback: '/opt/lo' });
    cniBinDirWith(dir, from, { loopback: '/opt/lo' }); // idempotent
    assert.equal(readlinkSync(join(dir, 'loopback')), '/opt/lo');
    assert.equal(readlinkSync(join(dir, 'bridge')), join(from, 'bridge'));
    assert.equal(readlinkSync(join(dir, 'host-local')), join(from, 'host-local'));
  });
});
