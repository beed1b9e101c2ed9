// Streaming end to end: the real kubectl → the API server → the kubelet server → a real
// containerd. exec (WebSocket v5 and SPDY), logs (tail, follow), port-forward (SPDY, raw and
// tunnelled in WebSocket), and the errors on the way. Needs root plus containerd, runc,
// busybox-static, the CNI plugins, kubectl and script; without them it skips, loudly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CriRuntime } from '../../src/kubelet/runtime/cri-runtime.js';
import type { ContainerConfig, PodSandboxConfig } from '../../src/kubelet/runtime/runtime.js';
import { bridgeConflist, containerdPaths, removeStateDir, startContainerd, type ContainerdHandle } from '../../src/kubelet/containerd/containerd.js';
import { importBusyboxImage, importPauseImage } from '../../src/kubelet/containerd/images.js';
import { startKubeletServer, type KubeletServer, type StreamTarget } from '../../src/kubelet/server/kubelet-server.js';
import { issueCertificate } from '../../src/base/pki.js';
import { kubectlBinary, startTestCluster, type TestCluster } from '../helpers.js';
import { missingNodeCapability } from '../capabilities.js';
import { removeAllPodSandboxes } from '../../src/kubelet/runtime/cleanup.js';

const BUSYBOX = 'k8ts.local/busybox:1';
const PAUSE = 'k8ts.local/pause:1';

function missingCapability(): string | undefined {
  return missingNodeCapability([
    { name: 'script', pkg: 'util-linux' },
    { name: 'kubectl', pkg: 'kubectl (Google Cloud CLI)' },
  ]);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('streaming from kubectl through the API server to the kubelet and containerd', () => {
  const why = missingCapability();
  if (why) console.warn(`\n*** SKIPPING the streaming tests: ${why} ***\n`);
  const skip = why ? { skip: why } : {};
  const tag = process.pid.toString(36).slice(-5);
  const bridge = `k8tsst${tag}`;
  const subnet = `10.251.${process.pid % 250}.0/24`;
  let stateDir: string | undefined;
  let cd: ContainerdHandle | undefined;
  let rt: CriRuntime | undefined;
  let kubelet: KubeletServer | undefined;
  let cluster: TestCluster | undefined;
  let bridgeMade = false;
  const children = new Set<ChildProcess>();
  const target: StreamTarget = { uid: 'uid-stream', sandboxId: '', containers: [] };
  // A second pod name served from the same sandbox, for attach.
  const attachTarget: StreamTarget = { uid: 'uid-attach', sandboxId: '', containers: [] };
  // And a third, whose only container has exited.
  const exitedTarget: StreamTarget = { uid: 'uid-exited', sandboxId: '', containers: [] };
  let sandboxConfig: PodSandboxConfig;

  /** The API as the admin, with status and parsed body. */
  const api = (method: string, path: string, body?: unknown, cert?: { cert: string; key: string }) =>
    new Promise<{ status: number; body: any; text: string }>((resolve, reject) => {
      const u = new URL(cluster!.server.url + path);
      const id = cert ?? cluster!.server.adminCert;
      const req = https.request(
        { host: u.hostname, port: u.port, path: u.pathname + u.search, method, ca: cluster!.server.ca, cert: id.cert, key: id.key, headers: { 'Content-Type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, text });
          });
        },
      );
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });

  const run = (bin: string, args: string[], o: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}) =>
    new Promise<Run>((resolve, reject) => {
      const child = spawn(bin, args, { env: { ...cluster!.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
      children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d) => (stdout += d));
      child.stderr!.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        children.delete(child);
        resolve({ code: code ?? -1, stdout, stderr });
      });
      child.stdin!.end(o.input ?? '');
    });

  const kubectl = (args: string[], o?: { input?: string; env?: Record<string, string>; version?: string }) => run(kubectlBinary(o?.version), args, o);

  /** Starts a long-running process and returns it with its output so far. */
  const background = (bin: string, args: string[], env: Record<string, string> = {}) => {
    const child = spawn(bin, args, { env: { ...cluster!.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.on('close', () => children.delete(child));
    const out = { stdout: '', stderr: '' };
    child.stdout!.on('data', (d) => (out.stdout += d));
    child.stderr!.on('data', (d) => (out.stderr += d));
    return { child, out };
  };

  const until = async (what: string, f: () => boolean, ms = 15_000) => {
    const end = Date.now() + ms;
    while (!f()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };

  const stopChild = async (c: ChildProcess) => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('close', r));
    process.kill(c.pid!, 'SIGTERM');
    await Promise.race([gone, sleep(3000)]);
    if (c.exitCode === null && c.signalCode === null) process.kill(c.pid!, 'SIGKILL');
  };

  before(async () => {
    if (why) return;
    stateDir = mkdtempSync('/tmp/k8ts-st-');
    const p = containerdPaths(stateDir);
    mkdirSync(p.cniConfDir, { recursive: true });
    writeFileSync(join(p.cniConfDir, '10-k8ts.conflist'), bridgeConflist({ bridge, subnet, dataDir: join(stateDir, 'cni', 'ipam'), portmap: false }));
    cd = await startContainerd({ stateDir, pauseImage: PAUSE });
    rt = new CriRuntime({ socket: cd.socket });
    await importBusyboxImage({ socket: cd.socket, name: BUSYBOX });
    await importPauseImage({ socket: cd.socket, name: PAUSE });

    const sb: PodSandboxConfig = {
      metadata: { name: 'web', namespace: 'default', uid: target.uid, attempt: 0 },
      hostname: 'web',
      logDirectory: join(stateDir, 'pods', target.uid),
      labels: {},
      annotations: {},
    };
    bridgeMade = true;
    target.sandboxId = await rt.runPodSandbox(sb);
    sandboxConfig = sb;
    const container = async (name: string, command: string[]) => {
      const cfg: ContainerConfig = { metadata: { name, attempt: 0 }, image: { image: BUSYBOX }, command, labels: {}, annotations: {}, logPath: `${name}/0.log` };
      const id = await rt!.createContainer(target.sandboxId, cfg, sb);
      await rt!.startContainer(id);
      target.containers.push({ name, id, logPath: join(stateDir!, 'pods', target.uid, `${name}/0.log`) });
    };
    await container('main', ['sh', '-c', 'mkdir -p /tmp/www; echo hello-from-httpd > /tmp/www/index.html; head -c 8000000 /dev/urandom > /tmp/www/big; httpd -f -p 8080 -h /tmp/www & echo line 1; echo line 2; echo line 3; while :; do if [ -f /tmp/say ]; then cat /tmp/say; rm /tmp/say; fi; sleep 0.2; done']);
    await container('side', ['sleep', '3600']);

    cluster = await startTestCluster({ server: { controllers: false } });
    kubelet = await startKubeletServer({
      host: '127.0.0.1',
      port: 0,
      clientCA: cluster.server.ca,
      runtime: rt,
      lookup: (ns, name) => (ns !== 'default' ? undefined : name === 'web' ? target : name === 'att' ? attachTarget : name === 'done' ? exitedTarget : undefined),
    });
    const node = (name: string, port: number) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name },
      status: {
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: name }],
        daemonEndpoints: { kubeletEndpoint: { Port: port } },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ok', lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z/, 'Z'), lastTransitionTime: new Date().toISOString().replace(/\.\d+Z/, 'Z') }],
      },
    });
    assert.equal((await api('POST', '/api/v1/nodes', node('n1', kubelet.port))).status, 201);
    // A node whose agent serves nothing (hollow nodes report 10250 but have no server).
    const closed = await new Promise<number>((resolve) => {
      const s = http.createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    assert.equal((await api('POST', '/api/v1/nodes', node('hollow', closed))).status, 201);
    const pod = (name: string, nodeName?: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default' },
      spec: { nodeName, containers: [{ name: 'main', image: BUSYBOX }, { name: 'side', image: BUSYBOX }] },
    });
    for (const [name, n] of [['web', 'n1'], ['elsewhere', 'hollow'], ['pending', undefined]] as const) {
      const r = await api('POST', '/api/v1/namespaces/default/pods', pod(name, n));
      assert.equal(r.status, 201, r.text);
      if (!n) continue;
      r.body.status = { ...r.body.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] };
      const u = await api('PUT', `/api/v1/namespaces/default/pods/${name}/status`, r.body);
      assert.equal(u.status, 200, u.text);
    }
    await until('the main container to log', () => {
      try {
        return readFileSync(target.containers[0]!.logPath, 'utf8').includes('line 3');
      } catch {
        return false;
      }
    });
  });

  after(async () => {
    if (why) return;
    try {
      for (const c of [...children]) await stopChild(c);
      await kubelet?.close();
      await cluster?.stop();
      if (rt) {
        await removeAllPodSandboxes(rt);
        rt.close();
      }
      await cd?.stop();
      if (stateDir) await removeStateDir(stateDir);
    } finally {
      if (bridgeMade) {
        try {
          execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
        } catch {
          // never created
        }
      }
    }
  });

  for (const [label, version, env, method] of [
    ['the default kubectl (WebSocket v5)', undefined, {}, 'GET'],
    ['the default kubectl forced to SPDY', undefined, { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' }, 'POST'],
    ['kubectl 1.27 (SPDY only)', '1.27', {}, 'POST'],
    ['kubectl 1.33 (WebSocket v5)', '1.33', {}, 'GET'],
  ] as [string, string | undefined, Record<string, string>, string][]) {
    it(`runs a command with ${label}, passes its exit code, closes piped stdin, and carries bulk output whole`, skip, async () => {
      // -v=6 logs the upgrade: GET for WebSocket, POST for SPDY.
      const hi = await kubectl(['exec', '-v=6', 'web', '-c', 'main', '--', 'echo', 'hi'], { version, env });
      assert.equal(hi.code, 0, hi.stderr);
      assert.equal(hi.stdout, 'hi\n');
      // (1.33 logs it structured.)
      assert.match(hi.stderr, new RegExp(`${method} https://\\S+/pods/web/exec\\?\\S+ 101 Switching Protocols|verb="${method}" url="https://\\S+/pods/web/exec\\?\\S+" status="101 Switching Protocols"`));
      const three = await kubectl(['exec', 'web', '-c', 'main', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'], { version, env });
      assert.equal(three.code, 3, three.stderr);
      assert.equal(three.stdout, 'out\n');
      assert.match(three.stderr, /err\n/);
      assert.match(three.stderr, /command terminated with exit code 3/);
      const cat = await kubectl(['exec', '-i', 'web', '-c', 'main', '--', 'cat'], { version, env, input: 'x\n' });
      assert.equal(cat.code, 0, cat.stderr);
      assert.equal(cat.stdout, 'x\n');
      const bulk = await kubectl(['exec', 'web', '-c', 'main', '--', 'sh', '-c', 'yes abcdefghi | head -c 3000000'], { version, env });
      assert.equal(bulk.code, 0, bulk.stderr);
      assert.equal(bulk.stdout.length, 3_000_000);
      assert.equal(bulk.stdout, 'abcdefghi\n'.repeat(300_000));
    });
  }

  it('runs an interactive TTY session under script, with the terminal size and the exit code', skip, async () => {
    // script's terminal starts at 0x0; give it a size, which kubectl sends as a resize. The resize
    // travels beside the process start (upstream too), so the command waits a moment before reading it.
    const cmd = `stty rows 30 cols 100; ${kubectlBinary()} exec -it web -c main -- sh -c 'tty; sleep 0.5; stty size; exit 4'`;
    const r = await run('script', ['-qec', cmd, '/dev/null']);
    assert.equal(r.code, 4, r.stdout + r.stderr);
    // (script echoes its own stdin's end as ^@ into the terminal.)
    assert.match(r.stdout.replace(/\^@/g, ''), /^\/dev\/pts\/\d+\r\n30 100\r\ncommand terminated with exit code 4\r\n$/);
  });

  it('attaches to a container’s stdin and output, and reports the exit code the container ended with', skip, async () => {
    const cfg: ContainerConfig = {
      metadata: { name: 'att', attempt: 0 },
      image: { image: BUSYBOX },
      command: ['sh', '-c', 'read x; echo got $x; exit 5'],
      stdin: true,
      stdinOnce: true,
      labels: {},
      annotations: {},
      logPath: 'att/0.log',
    };
    const id = await rt!.createContainer(target.sandboxId, cfg, sandboxConfig);
    await rt!.startContainer(id);
    attachTarget.sandboxId = target.sandboxId;
    attachTarget.containers = [{ name: 'att', id, logPath: join(stateDir!, 'pods', target.uid, 'att/0.log') }];
    const created = await api('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'att', namespace: 'default' },
      spec: { nodeName: 'n1', containers: [{ name: 'att', image: BUSYBOX, stdin: true, stdinOnce: true }] },
    });
    assert.equal(created.status, 201, created.text);
    created.body.status = { ...created.body.status, phase: 'Running' };
    assert.equal((await api('PUT', '/api/v1/namespaces/default/pods/att/status', created.body)).status, 200);
    const r = await kubectl(['attach', '-i', 'att'], { input: 'hello\n' });
    assert.match(r.stdout, /got hello\n/);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /exit code 5/);
  });

  it('refuses exec and attach into a container that has exited, before upgrading, as upstream', skip, async () => {
    const cfg: ContainerConfig = {
      metadata: { name: 'done', attempt: 0 },
      image: { image: BUSYBOX },
      command: ['sh', '-c', 'echo finished'],
      labels: { 'io.kubernetes.container.name': 'done' },
      annotations: {},
      logPath: 'done/0.log',
    };
    const id = await rt!.createContainer(target.sandboxId, cfg, sandboxConfig);
    await rt!.startContainer(id);
    const end = Date.now() + 10_000;
    while ((await rt!.containerStatus(id)).state !== 'CONTAINER_EXITED') {
      assert.ok(Date.now() < end, 'the container exits');
      await sleep(50);
    }
    exitedTarget.sandboxId = target.sandboxId;
    exitedTarget.containers = [{ name: 'done', id, logPath: join(stateDir!, 'pods', target.uid, 'done/0.log') }];
    const created = await api('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'done', namespace: 'default' },
      spec: { nodeName: 'n1', containers: [{ name: 'done', image: BUSYBOX }] },
    });
    assert.equal(created.status, 201, created.text);
    // The pod still says Running: kubectl's own check of the phase lets the request through to the kubelet.
    created.body.status = { ...created.body.status, phase: 'Running' };
    assert.equal((await api('PUT', '/api/v1/namespaces/default/pods/done/status', created.body)).status, 200);
    for (const args of [['exec', 'done', '--', 'true'], ['attach', 'done']]) {
      const r = await kubectl(args);
      assert.notEqual(r.code, 0, `${args[0]}: ${r.stdout}`);
      assert.match(r.stderr, /container is in CONTAINER_EXITED state/, args[0]);
      assert.doesNotMatch(r.stderr, /UNKNOWN/, 'no gRPC status prefix');
    }
  });

  it('prints logs, their tail, and follows new lines until killed', skip, async () => {
    const all = await kubectl(['logs', 'web', '-c', 'main']);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout, 'line 1\nline 2\nline 3\n');
    const tail = await kubectl(['logs', 'web', '-c', 'main', '--tail=1', '--timestamps']);
    assert.match(tail.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z line 3\n$/);
    const f = background(kubectlBinary(), ['logs', '-f', 'web', '-c', 'main', '--tail=1']);
    await until('the followed tail', () => f.out.stdout.includes('line 3'));
    // The container prints what appears in /tmp/say.
    const said = await rt!.execSync(target.containers[0]!.id, ['sh', '-c', 'echo appended-line > /tmp/say.new && mv /tmp/say.new /tmp/say'], 10);
    assert.equal(said.exitCode, 0, said.stderr.toString());
    await until('the appended line', () => f.out.stdout.includes('appended-line')).catch((e) => {
      throw new Error(`${e.message}; kubectl printed ${JSON.stringify(f.out)}; the log file holds ${JSON.stringify(readFileSync(target.containers[0]!.logPath, 'utf8'))}`);
    });
    assert.equal(f.out.stdout, 'line 3\nappended-line\n');
    await stopChild(f.child);
  });

  for (const [label, env, method] of [
    ['tunnelled in WebSocket', {}, 'GET'],
    ['over raw SPDY', { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' }, 'POST'],
  ] as [string, Record<string, string>, string][]) {
    it(`forwards a local port to the pod's httpd ${label}, for several connections`, skip, async () => {
      const pf = background(kubectlBinary(), ['port-forward', '-v=6', 'pod/web', ':8080'], env);
      await until('port-forward to listen', () => /Forwarding from 127\.0\.0\.1:(\d+)/.test(pf.out.stdout));
      const port = Number(/Forwarding from 127\.0\.0\.1:(\d+)/.exec(pf.out.stdout)![1]);
      for (let i = 0; i < 3; i++) {
        const body = await new Promise<string>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
            let t = '';
            res.on('data', (d) => (t += d));
            res.on('end', () => resolve(t));
          }).on('error', reject);
        });
        assert.equal(body, 'hello-from-httpd\n', pf.out.stderr);
      }
      assert.match(pf.out.stderr, new RegExp(`${method} https://\\S+/pods/web/portforward 101 Switching Protocols`));
      // A large body arrives whole (backpressure, frames split across messages).
      const big = await new Promise<Buffer>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/big', agent: false }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve(Buffer.concat(parts)));
        }).on('error', reject);
      });
      const sum = (await rt!.execSync(target.containers[0]!.id, ['md5sum', '/tmp/www/big'], 10)).stdout.toString().split(' ')[0];
      assert.equal(big.length, 8_000_000);
      assert.equal(createHash('md5').update(big).digest('hex'), sum);
      await stopChild(pf.child);
    });
  }

  it('answers the API errors of upstream before reaching a kubelet', skip, async () => {
    const cases: [string, number, RegExp][] = [
      ['/api/v1/namespaces/default/pods/web/exec?container=main&stdout=true', 400, /you must specify at least one command for the container/],
      ['/api/v1/namespaces/default/pods/web/log', 400, /a container name must be specified for pod web, choose one of: \[main side\]/],
      ['/api/v1/namespaces/default/pods/web/log?container=nope', 400, /container nope is not valid for pod web/],
      ['/api/v1/namespaces/default/pods/pending/log?container=main', 400, /pod pending does not have a host assigned/],
      ['/api/v1/namespaces/default/pods/absent/log?container=main', 404, /pods "absent" not found/],
      ['/api/v1/namespaces/default/pods/elsewhere/log?container=main', 503, /node agent \(kubelet\) of node "hollow" at 127\.0\.0\.1:\d+ cannot be reached/],
    ];
    for (const [path, code, msg] of cases) {
      const r = await api('GET', path);
      assert.equal(r.status, code, `${path}: ${r.text}`);
      assert.equal(r.body?.kind, 'Status', r.text);
      assert.match(r.body.message, msg);
    }
    // Refused upgrades are answered on the upgrading connection; kubectl prints the reason.
    const pending = await kubectl(['exec', 'pending', '-c', 'main', '--', 'true']);
    assert.equal(pending.code, 1);
    assert.match(pending.stderr, /pod pending does not have a host assigned/);
    const hollow = await kubectl(['exec', 'elsewhere', '-c', 'main', '--', 'true']);
    assert.equal(hollow.code, 1);
    assert.match(hollow.stderr, /node agent \(kubelet\) of node "hollow" at 127\.0\.0\.1:\d+ cannot be reached/);
    const ok = await api('GET', '/api/v1/namespaces/default/pods/web/log?container=main&limitBytes=14');
    assert.equal(ok.status, 200);
    assert.equal(ok.text, 'line 1\nline 2\n');
  });

  it('lets only the API server’s client certificate into the kubelet server', skip, async () => {
    const get = (path: string, id?: { cert: string; key: string }) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port: kubelet!.port, path, rejectUnauthorized: false, agent: false, ...(id ?? {}) }, (res) => {
            let t = '';
            res.on('data', (d) => (t += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: t ? JSON.parse(t.startsWith('{') ? t : JSON.stringify(t)) : undefined }));
          })
          .on('error', reject);
      });
    const ca = { cert: cluster!.server.ca, key: readFileSync(join(cluster!.server.dataDir, 'tls', 'ca.key'), 'utf8') };
    const stranger = await issueCertificate(ca, { commonName: 'someone', usage: 'client' });
    const kc = { cert: readFileSync(join(cluster!.server.dataDir, 'tls', 'apiserver-kubelet-client.crt'), 'utf8'), key: readFileSync(join(cluster!.server.dataDir, 'tls', 'apiserver-kubelet-client.key'), 'utf8') };
    assert.equal((await get('/healthz')).status, 401);
    assert.equal((await get('/healthz', stranger)).status, 403);
    assert.equal((await get('/healthz', kc)).status, 200);
    const nf = await get('/containerLogs/default/nope/main', kc);
    assert.equal(nf.status, 404);
    assert.equal(nf.body.kind, 'Status');
    assert.equal((await get('/containerLogs/default/web/nope', kc)).status, 404);
    assert.equal((await get('/containerLogs/default/web/main?limitBytes=7', kc)).body, 'line 1\n');
  });
});
