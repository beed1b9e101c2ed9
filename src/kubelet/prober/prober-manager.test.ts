import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, mock } from 'node:test';
import type { KObject } from '../../client/rest-client.js';
import { Ticker } from '../timing.js';
import { ProbeManager, probeSpec, type ProbeEvent, type ProbeKind, type ProbeResult, type ProbeTarget, type ProberOptions } from './prober-manager.js';

/** One probe "second" is 20 ms in these tests. */
const SCALE = 0.02;
const SECOND = 1000 * SCALE;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, pred: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

type Script = (kind: string, n: number) => { exitCode: number; out?: string } | 'throw' | 'hang';

/** A manager over a fake execSync whose probes are `exec: [kind]`, answered by `script`. */
function harness(script: Script, extra: Partial<ProberOptions> = {}) {
  const calls: { kind: string; at: number; id: string }[] = [];
  const results: { id: string; kind: ProbeKind; result: ProbeResult; message: string }[] = [];
  const events: { kind: ProbeKind; e: ProbeEvent }[] = [];
  const counts = new Map<string, number>();
  const m = new ProbeManager({
    jitter: false,
    periodScale: SCALE,
    async execSync(id, cmd) {
      const kind = cmd[0];
      const n = (counts.get(kind) ?? 0) + 1;
      counts.set(kind, n);
      calls.push({ kind, at: Date.now(), id });
      const r = script(kind, n);
      if (r === 'throw') throw new Error('boom');
      if (r === 'hang') return new Promise(() => {});
      return { stdout: Buffer.from(r.out ?? ''), stderr: Buffer.alloc(0), exitCode: r.exitCode };
    },
    onResult: (t, kind, result, message) => results.push({ id: t.containerId, kind, result, message }),
    onEvent: (_t, kind, e) => events.push({ kind, e }),
    ...extra,
  });
  const count = (kind: string) => calls.filter((c) => c.kind === kind).length;
  return { m, calls, results, events, count };
}

function target(container: KObject, over: Partial<ProbeTarget> = {}): ProbeTarget {
  return { podUID: 'uid-1', podName: 'web-0', namespace: 'default', podIP: '127.0.0.1', container: { name: 'app', ...container }, containerId: 'c1', startedAtMs: Date.now(), ...over };
}

const exec = (kind: string, o: KObject = {}) => ({ exec: { command: [kind] }, periodSeconds: 1, ...o });
const ok = { exitCode: 0 };
const bad = { exitCode: 1, out: 'bad' };

describe('ProbeManager', () => {
  const managers: ProbeManager[] = [];
  const track = <T extends { m: ProbeManager }>(h: T): T => {
    managers.push(h.m);
    return h;
  };
  after(() => managers.forEach((m) => m.stop()));

  it('Defaults are upstream’s: delay 0, period 10, timeout 1, success 1, failure 3.', () => {
    const s = probeSpec({ tcpSocket: { port: 1 } });
    assert.deepEqual([s.initialDelaySeconds, s.periodSeconds, s.timeoutSeconds, s.successThreshold, s.failureThreshold], [0, 10, 1, 1, 3]);
  });

  it('A container without probes has undefined readiness and startup.', () => {
    const h = track(harness(() => ok));
    h.m.addContainer(target({}));
    assert.equal(h.m.ready('c1'), undefined);
    assert.equal(h.m.started('c1'), undefined);
    assert.equal(h.m.ready('unknown'), undefined);
  });

  it('A liveness probe failing failureThreshold times reports failure once, then holds until the container is replaced.', async () => {
    const h = track(harness(() => bad));
    h.m.addContainer(target({ livenessProbe: exec('live', { failureThreshold: 3 }) }));
    await waitFor('liveness failure', () => h.results.length > 0);
    await sleep(10 * SECOND);
    assert.deepEqual(h.results, [{ id: 'c1', kind: 'liveness', result: 'failure', message: 'Liveness probe failed: bad' }]);
    assert.equal(h.count('live'), 3);
    assert.deepEqual(
      h.events.map((e) => e.e),
      Array(3).fill({ type: 'Warning', reason: 'Unhealthy', message: 'Liveness probe failed: bad' }),
    );

    // The restarted container (a new ID for the same name) is probed afresh; the old one is forgotten.
    h.m.addContainer(target({ livenessProbe: exec('live', { failureThreshold: 3 }) }, { containerId: 'c2' }));
    assert.equal(h.m.result('c1', 'liveness'), undefined);
    assert.equal(h.m.result('c2', 'liveness'), 'success');
    await waitFor('second liveness failure', () => h.results.length === 2);
    assert.equal(h.results[1].id, 'c2');
    assert.equal(h.count('live'), 6);
  });

  it('Liveness successes below the failure threshold reset the run of failures.', async () => {
    // fail, fail, ok, fail, fail, ok ... never three failures in a row.
    const h = track(harness((_k, n) => (n % 3 === 0 ? ok : bad)));
    h.m.addContainer(target({ livenessProbe: exec('live') }));
    await waitFor('nine probes', () => h.count('live') >= 9);
    assert.deepEqual(h.results, []);
  });

  it('Readiness starts false, needs successThreshold successes and failureThreshold failures, and keeps probing.', async () => {
    const seq = [bad, ok, ok, bad, bad, ok, ok];
    const h = track(harness((_k, n) => seq[n - 1] ?? ok));
    h.m.addContainer(target({ readinessProbe: exec('ready', { successThreshold: 2, failureThreshold: 2 }) }));
    assert.equal(h.m.ready('c1'), false);
    await waitFor('seven probes and three transitions', () => h.results.length >= 3);
    assert.deepEqual(
      h.results.map((r) => [r.kind, r.result, r.message]),
      [
        ['readiness', 'success', ''],
        ['readiness', 'failure', 'Readiness probe failed: bad'],
        ['readiness', 'success', ''],
      ],
    );
    assert.equal(h.m.ready('c1'), true);
    const n = h.count('ready');
    await waitFor('readiness keeps running', () => h.count('ready') > n + 2);
  });

  it('Liveness and readiness wait for the startup probe, which stops once it succeeds; readiness then runs at once.', async () => {
    const h = track(harness((kind, n) => (kind === 'start' ? (n < 3 ? bad : ok) : ok)));
    h.m.addContainer(
      target({
        startupProbe: exec('start', { failureThreshold: 10 }),
        livenessProbe: exec('live', { periodSeconds: 50 }),
        readinessProbe: exec('ready', { periodSeconds: 50 }),
      }),
    );
    assert.equal(h.m.started('c1'), false);
    assert.equal(h.m.ready('c1'), false);
    await waitFor('started', () => h.m.started('c1') === true);
    const startedAt = h.calls.filter((c) => c.kind === 'start')[2].at;
    assert.ok(h.calls.filter((c) => c.kind !== 'start').every((c) => c.at >= startedAt), 'no liveness or readiness probe before startup succeeded');
    // Readiness' period is a full second here: only the trigger on startup makes it this quick.
    await waitFor('ready', () => h.m.ready('c1') === true, 15 * SECOND);
    assert.ok(Date.now() - startedAt < 25 * SECOND);
    await sleep(5 * SECOND);
    assert.equal(h.count('start'), 3);
    assert.deepEqual(
      h.results.map((r) => [r.kind, r.result]),
      [
        ['startup', 'success'],
        ['readiness', 'success'],
      ],
    );
  });

  it('A startup probe failing failureThreshold times reports failure once and liveness never runs.', async () => {
    const h = track(harness(() => bad));
    h.m.addContainer(target({ startupProbe: exec('start', { failureThreshold: 2 }), livenessProbe: exec('live') }));
    await waitFor('startup failure', () => h.results.length > 0);
    await sleep(6 * SECOND);
    assert.deepEqual(h.results, [{ id: 'c1', kind: 'startup', result: 'failure', message: 'Startup probe failed: bad' }]);
    assert.equal(h.count('start'), 2);
    assert.equal(h.count('live'), 0);
    assert.equal(h.m.started('c1'), false);
  });

  it('No probe runs before initialDelaySeconds have passed since the container started.', async () => {
    const h = track(harness(() => ok));
    const startedAtMs = Date.now();
    h.m.addContainer(target({ readinessProbe: exec('ready', { initialDelaySeconds: 5 }) }, { startedAtMs }));
    await waitFor('ready', () => h.m.ready('c1') === true);
    assert.ok(h.calls[0].at - startedAtMs >= 5 * SECOND, `first probe after ${h.calls[0].at - startedAtMs} ms`);
  });

  it('An errored probe is retried three times, reported as errored, and its result thrown away.', async () => {
    const h = track(harness(() => 'throw'));
    h.m.addContainer(target({ livenessProbe: exec('live', { failureThreshold: 1 }) }));
    await waitFor('two errored runs', () => h.events.length >= 2);
    assert.deepEqual(h.events[0].e, { type: 'Warning', reason: 'Unhealthy', message: 'Liveness probe errored and resulted in unknown state: boom' });
    assert.ok(h.count('live') >= 6);
    assert.deepEqual(h.results, []);
    assert.equal(h.m.result('c1', 'liveness'), 'success');
  });

  it('An exec probe that does not return within the timeout fails as timed out.', async () => {
    const h = track(harness(() => 'hang'));
    h.m.addContainer(target({ livenessProbe: exec('live', { failureThreshold: 1, periodSeconds: 3 }) }));
    await waitFor('liveness failure', () => h.results.length > 0);
    assert.equal(h.results[0].message, 'Liveness probe failed: command "live" timed out');
  });

  it('removeContainer, removePod and stop end probing.', async () => {
    const h = track(harness(() => ok));
    h.m.addContainer(target({ readinessProbe: exec('a') }, { containerId: 'a' }));
    h.m.addContainer(target({ readinessProbe: exec('b'), name: 'b' }, { containerId: 'b' }));
    h.m.addContainer(target({ readinessProbe: exec('c') }, { containerId: 'c', podUID: 'uid-2' }));
    h.m.addContainer(target({ readinessProbe: exec('a') }, { containerId: 'a' }));
    await sleep(SECOND / 2);
    assert.equal(h.count('a'), 1, 'adding a container twice starts one worker');
    await waitFor('all ready', () => ['a', 'b', 'c'].every((id) => h.m.ready(id)));
    h.m.removeContainer('a');
    assert.equal(h.m.ready('a'), undefined);
    h.m.removePod('uid-1');
    assert.equal(h.m.ready('b'), undefined);
    assert.equal(h.m.ready('c'), true);
    h.m.stop();
    assert.equal(h.m.ready('c'), undefined);
    const n = h.calls.length;
    await sleep(5 * SECOND);
    assert.equal(h.calls.length, n);
  });

  it('stopLivenessAndStartup stops those probes and reads them as succeeded, while readiness goes on.', async () => {
    const h = track(harness(() => bad));
    h.m.addContainer(target({ livenessProbe: exec('live', { failureThreshold: 100 }), readinessProbe: exec('ready', { failureThreshold: 100 }) }));
    await waitFor('a liveness probe', () => h.count('live') > 0);
    h.m.stopLivenessAndStartup('uid-1');
    const live = h.count('live');
    const ready = h.count('ready');
    await sleep(5 * SECOND);
    assert.equal(h.count('live'), live);
    assert.ok(h.count('ready') > ready);
    assert.equal(h.m.result('c1', 'liveness'), 'success');
  });

  it('The first probe is delayed by a random part of the period just after start, and not with jitter off.', async () => {
    const random = mock.method(Math, 'random', () => 0.5);
    try {
      const h = track(harness(() => ok, { jitter: true }));
      const t0 = Date.now();
      h.m.addContainer(target({ readinessProbe: exec('ready', { periodSeconds: 100 }) }));
      await waitFor('first probe', () => h.calls.length > 0, 5000);
      const delay = h.calls[0].at - t0;
      // Half of a 100-second period.
      assert.ok(delay >= 50 * SECOND - 5 && delay < 100 * SECOND, `first probe after ${delay} ms`);

      const h2 = track(harness(() => ok));
      const t1 = Date.now();
      h2.m.addContainer(target({ readinessProbe: exec('ready', { periodSeconds: 100 }) }));
      await waitFor('first probe', () => h2.calls.length > 0);
      assert.ok(h2.calls[0].at - t1 < 25 * SECOND);
    } finally {
      random.mock.restore();
    }
  });

  it('Workers can run on a shared Ticker.', async () => {
    const ticker = new Ticker(5);
    try {
      const h = track(harness(() => ok, { ticker }));
      h.m.addContainer(target({ readinessProbe: exec('ready') }));
      await waitFor('three probes', () => h.count('ready') >= 3);
      assert.equal(h.m.ready('c1'), true);
      h.m.stop();
    } finally {
      ticker.stop();
    }
  });
});

describe('ProbeManager over HTTP', () => {
  let server: Server;
  let port = 0;
  let status = 500;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/moved') return res.writeHead(302, { location: `http://localhost:${port}/` }).end('elsewhere');
      res.writeHead(status).end();
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise((r) => server.close(r)));

  const cases: { name: string; kind: ProbeKind; path: string; status: number; want: { results: [ProbeKind, ProbeResult, string][]; event: ProbeEvent } }[] = [
    {
      name: 'A failing HTTP liveness probe reads like upstream’s Unhealthy event.',
      kind: 'liveness',
      path: '/healthz',
      status: 500,
      want: {
        results: [['liveness', 'failure', 'Liveness probe failed: HTTP probe failed with statuscode: 500']],
        event: { type: 'Warning', reason: 'Unhealthy', message: 'Liveness probe failed: HTTP probe failed with statuscode: 500' },
      },
    },
    {
      name: 'A redirect elsewhere makes the probe succeed with a ProbeWarning event.',
      kind: 'readiness',
      path: '/moved',
      status: 200,
      want: {
        results: [['readiness', 'success', '']],
        event: { type: 'Warning', reason: 'ProbeWarning', message: 'Readiness probe warning: Probe terminated redirects, Response body: elsewhere' },
      },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      status = c.status;
      const results: [ProbeKind, ProbeResult, string][] = [];
      const events: ProbeEvent[] = [];
      const m = new ProbeManager({
        jitter: false,
        periodScale: SCALE,
        execSync: async () => assert.fail('no exec'),
        onResult: (_t, kind, result, message) => results.push([kind, result, message]),
        onEvent: (_t, _k, e) => events.push(e),
      });
      try {
        const field = c.kind === 'liveness' ? 'livenessProbe' : 'readinessProbe';
        m.addContainer(target({ [field]: { httpGet: { path: c.path, port: 'http' }, periodSeconds: 1, failureThreshold: 1, timeoutSeconds: 100 }, ports: [{ name: 'http', containerPort: port }] }));
        await waitFor('a result', () => results.length > 0);
        assert.deepEqual(results, c.want.results);
        assert.deepEqual(events[0], c.want.event);
      } finally {
        m.stop();
      }
    });
  }

  it('Adding a known container again refreshes its pod IP.', async () => {
    status = 200;
    const events: ProbeEvent[] = [];
    const m = new ProbeManager({
      jitter: false,
      periodScale: SCALE,
      execSync: async () => assert.fail('no exec'),
      onResult: () => {},
      onEvent: (_t, _k, e) => events.push(e),
    });
    try {
      const c = { readinessProbe: { tcpSocket: { port }, periodSeconds: 1, timeoutSeconds: 100 } };
      // Nothing listens on 127.0.0.2 (the server is bound to 127.0.0.1 only).
      m.addContainer(target(c, { podIP: '127.0.0.2' }));
      await waitFor('a failed probe', () => events.length > 0);
      assert.equal(events[0].message, `Readiness probe failed: dial tcp 127.0.0.2:${port}: connect: connection refused`);
      m.addContainer(target(c, { podIP: '127.0.0.1' }));
      await waitFor('ready', () => m.ready('c1') === true);
    } finally {
      m.stop();
    }
  });
});
