import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CommandError } from './exec.js';
import { NftSession } from './nft-session.js';
import { nftSnapshot, renderNftRuleset } from './nftables.js';
import { ep, state, svcPort } from './testdata.js';

const root = process.getuid?.() === 0 && !spawnSync('nft', ['--version']).error && !spawnSync('ip', ['-V']).error;

describe('NftSession applies transactions through one long-lived nft -i', { skip: root ? false : 'needs root, nft and ip' }, () => {
  const ns = `k8ts-np-sess${process.pid}`;
  const T = 'ip k8ts-sess';
  const list = () => spawnSync('nsenter', [`--net=/var/run/netns/${ns}`, 'nft', 'list', 'table', ...T.split(' ')], { encoding: 'utf8' }).stdout;
  let s: NftSession;
  before(() => {
    assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0);
    s = new NftSession({ netns: ns, timeoutMs: 10_000 });
  });
  after(async () => {
    await s?.close();
    spawnSync('ip', ['netns', 'del', ns]);
  });

  it('applies a multi-line script and later ones in the same process', async () => {
    await s.apply(`add table ${T}\nadd set ${T} s { type ipv4_addr; }\n\nadd element ${T} s { 10.0.0.1 }\n`);
    await s.apply(`add element ${T} s { 10.0.0.2 }\n`);
    assert.match(list(), /10\.0\.0\.1, 10\.0\.0\.2/);
    assert.equal(s.starts, 1);
  });

  it('applies nothing of a transaction when one of its commands fails, and reports nft\'s message', async () => {
    const err = await s.apply(`add element ${T} s { 10.0.0.3 }\ndelete element ${T} s { 10.9.9.9 }\n`).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(err instanceof CommandError, String(err));
    assert.match(err.stderr, /Error:/);
    assert.doesNotMatch(list(), /10\.0\.0\.3/, 'the first command was applied alone');
    // The process is still usable.
    await s.apply(`add element ${T} s { 10.0.0.4 }\n`);
    assert.match(list(), /10\.0\.0\.4/);
    assert.equal(s.starts, 1);
  });

  it('rejects a script that does not parse, without applying any of it', async () => {
    await assert.rejects(s.apply(`add element ${T} s { 10.0.0.5 }\nthis is not nft\n`), CommandError);
    assert.doesNotMatch(list(), /10\.0\.0\.5/);
  });

  it('runs queued transactions in order', async () => {
    await Promise.all([1, 2, 3, 4].map((i) => s.apply(`add element ${T} s { 10.0.1.${i} }\n`)));
    await s.apply(`delete element ${T} s { 10.0.1.1, 10.0.1.2, 10.0.1.3, 10.0.1.4 }\n`);
    assert.doesNotMatch(list(), /10\.0\.1\./);
  });

  it('starts a new process when the old one died', async () => {
    const pid = s.pid!;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50 && s.pid === pid; i++) await new Promise((r) => setTimeout(r, 10));
    await s.apply(`add element ${T} s { 10.0.0.6 }\n`);
    assert.match(list(), /10\.0\.0\.6/);
    assert.equal(s.starts, 2);
  });

  it('takes the proxy\'s own scripts: a full replace, then in-place updates', async () => {
    const full = state(
      svcPort('web', [ep('10.244.1.2'), ep('10.244.1.3', { local: false })], { nodePort: 30080, affinityTimeoutSeconds: 30, externalIPs: ['10.55.0.1'] }),
      svcPort('none', [], { nodePort: 30081, clusterIP: '10.96.0.11' }),
    );
    const moved = state({ ...full.services[0], endpoints: [ep('10.244.1.7')] }, full.services[1]);
    const opts = { table: 'k8ts-sess2' };
    await s.apply(renderNftRuleset(full, opts));
    await s.apply(renderNftRuleset(moved, { ...opts, previous: nftSnapshot(full) }));
    const r = spawnSync('nsenter', [`--net=/var/run/netns/${ns}`, 'nft', 'list', 'table', 'ip', 'k8ts-sess2'], { encoding: 'utf8' });
    assert.match(r.stdout, /dnat to 10\.244\.1\.7:8080/);
    assert.doesNotMatch(r.stdout, /10\.244\.1\.2:8080/);
  });

  it('fails every call after close', async () => {
    const s2 = new NftSession({ netns: ns });
    await s2.close();
    await assert.rejects(s2.apply(`add element ${T} s { 10.0.0.7 }\n`), /closed/);
  });
});
