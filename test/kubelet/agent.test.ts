/**
 * The real node agent in a k8ts server: containerd + runc, CNI bridge networking and the kubelet,
 * driven with the real kubectl. Pods get their own IPs and host names, reach each other, restart
 * per policy with CrashLoopBackOff, run init containers first, and survive an agent restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { kubectlBinary, startTestCluster, eventually, type TestCluster } from '../helpers.js';
import { announceSkip, missingNodeCapability } from '../capabilities.js';
import { importBusyboxImage } from '../../src/kubelet/containerd/images.js';
import { startServer, type ServerOptions } from '../../src/app/server.js';

const BUSYBOX = 'k8ts.local/busybox:1';

const why = announceSkip('the real node agent tests', missingNodeCapability([{ name: 'nft', pkg: 'nftables' }]));

// Ranges of this test file alone (other files with agents use other blocks), so parallel test
// files never share a bridge, a route or a load balancer address.
const n = 1;
const clusterCIDR = `10.${100 + n}.0.0/16`;
const serviceCIDR = `10.${200 + n}.0.0/16`;
const lbPool = `127.0.${100 + n}.0/24`;
const bridge = `k8tst${process.pid % 100000}`;

describe('the node agent runs real pods', { skip: why }, () => {
  let c: TestCluster;
  let dataDir: string;
  const serverOptions = (): ServerOptions => ({
    dataDir,
    removeDataDirOnStop: false,
    clusterCIDR,
    serviceCIDR,
    loadBalancerPool: lbPool,
    agent: { bridge, kubeletPort: 0, backoffInitialMs: 1000, backoffMaxMs: 4000, heartbeatMs: 2000 },
  });

  const pod = (name: string, spec: Record<string, unknown>) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec });
  const phase = async (name: string) => (await c.ok(['get', 'pod', name, '-o', 'jsonpath={.status.phase}'])).trim();
  const status = async (name: string) => JSON.parse(await c.ok(['get', 'pod', name, '-o', 'json'])).status;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'k8ts-agent-'));
    c = await startTestCluster({ server: serverOptions() });
    await importBusyboxImage({ socket: c.server.agent!.containerd!.socket, name: BUSYBOX });
    await eventually(async () => (await c.ok(['get', 'nodes', '-o', 'jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}'])) === 'True', 30_000, 200);
  });

  after(async () => {
    if (!c) return;
    await c.server.agent?.stop({ removePods: true, removeState: true });
    await c.server.stop();
    await c.stop();
    // The server's data dir (database, certificates); the agent's own state is removed above.
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers the node with its machine capacity, addresses, runtime and a pod CIDR from the cluster range', async () => {
    const node = JSON.parse(await c.ok(['get', 'nodes', '-o', 'json'])).items[0];
    assert.match(node.spec.podCIDR, new RegExp(`^10\\.${100 + n}\\.\\d+\\.0/24$`));
    assert.equal(node.status.addresses.find((a: any) => a.type === 'InternalIP').address, c.server.agent!.nodeIP);
    assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\//);
    assert.ok(Number(node.status.capacity.cpu) >= 1);
    assert.match(node.status.capacity.memory, /^\d+Ki$/);
    assert.equal(node.metadata.labels['kubernetes.io/hostname'], node.metadata.name);
    // The server's own node shows the control-plane role, as in k3s.
    assert.equal(node.metadata.labels['node-role.kubernetes.io/control-plane'], 'true');
    assert.match(await c.ok(['get', 'nodes']), new RegExp(`^${node.metadata.name}\\s+Ready\\s+control-plane\\s`, 'm'));
    // The machine's own identity, as upstream's kubelet reports it.
    assert.equal(node.status.nodeInfo.bootID, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    if (existsSync('/etc/machine-id')) assert.equal(node.status.nodeInfo.machineID, readFileSync('/etc/machine-id', 'utf8').trim());
  });

  it('gives each pod its own IP and host name, and a client pod reaches a server pod by IP', async () => {
    await c.ok(['apply', '-f', '-'], {
      input: pod('web', { containers: [{ name: 'web', image: BUSYBOX, command: ['sh', '-c', 'mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www'] }] }),
    });
    await eventually(async () => (await phase('web')) === 'Running', 60_000, 200);
    const st = await status('web');
    assert.ok(st.podIP, 'the pod has an IP');
    assert.ok(st.podIP.startsWith(`10.${100 + n}.`), `pod IP ${st.podIP} is in the cluster range`);
    assert.equal(st.hostIP, c.server.agent!.nodeIP);
    const described = await c.ok(['describe', 'pod', 'web']);
    assert.match(described, new RegExp(`^IP:\\s+${st.podIP.replace(/\./g, '\\.')}$`, 'm'));

    const script = [
      `[ "$(hostname)" = client ] || { echo "hostname is $(hostname)"; exit 2; }`,
      `grep -q "search default.svc.cluster.local svc.cluster.local cluster.local" /etc/resolv.conf || { cat /etc/resolv.conf; exit 3; }`,
      `ip=$(ip -4 -o addr show eth0 | sed 's/.*inet \\([0-9.]*\\).*/\\1/'); [ "$ip" != "${st.podIP}" ] || exit 4`,
      `timeout 10 wget -qO- http://${st.podIP}:8080/ | grep -q hello-from-web || exit 5`,
      // The node's DNS server answers cluster names (the kube-dns ClusterIP needs the proxy).
      `timeout 10 nslookup kubernetes.default.svc.cluster.local ${c.server.agent!.nodeIP} | grep -q "10.${200 + n}.0.1" || exit 6`,
    ].join('; ');
    await c.ok(['apply', '-f', '-'], { input: pod('client', { restartPolicy: 'Never', containers: [{ name: 'client', image: BUSYBOX, command: ['sh', '-c', script] }] }) });
    await eventually(async () => ['Succeeded', 'Failed'].includes(await phase('client')), 60_000, 200);
    const cs = (await status('client')).containerStatuses[0];
    assert.equal(cs.state.terminated.exitCode, 0, `client script failed with exit code ${cs.state.terminated.exitCode}`);
    assert.equal(await phase('client'), 'Succeeded');
  });

  it('execs into a container with its exit code, and shows its logs', async () => {
    assert.equal((await c.ok(['exec', 'web', '--', 'cat', '/www/index.html'])).trim(), 'hello-from-web');
    const r = await c.kubectl(['exec', 'web', '--', 'sh', '-c', 'echo oops >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /oops/);
    assert.match(r.stderr, /command terminated with exit code 3/);
    await c.ok(['run', 'talker', `--image=${BUSYBOX}`, '--restart=Never', '--command', '--', 'sh', '-c', 'echo line-one; echo line-two']);
    await eventually(async () => (await phase('talker')) === 'Succeeded', 60_000, 200);
    assert.equal(await c.ok(['logs', 'talker']), 'line-one\nline-two\n');
    assert.equal(await c.ok(['logs', 'talker', '--tail=1']), 'line-two\n');
  });

  it('serves a Service by name and a LoadBalancer address from this machine, released on delete', async () => {
    await c.ok(['create', 'deployment', 'front', `--image=${BUSYBOX}`, '--replicas=2', '--', 'sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www']);
    await c.ok(['rollout', 'status', 'deployment/front', '--timeout=90s'], { timeoutMs: 100_000 });
    await c.ok(['expose', 'deployment', 'front', '--port=80', '--target-port=8080']);
    const script = 'for i in $(seq 20); do timeout 3 wget -qO- http://front/ && exit 0; sleep 0.5; done; exit 1';
    await c.ok(['run', 'byname', `--image=${BUSYBOX}`, '--restart=Never', '--command', '--', 'sh', '-c', script]);
    await eventually(async () => ['Succeeded', 'Failed'].includes(await phase('byname')), 60_000, 200);
    assert.equal(await phase('byname'), 'Succeeded', await c.ok(['logs', 'byname']));
    assert.match(await c.ok(['logs', 'byname']), /^front-/);

    await c.ok(['expose', 'deployment', 'front', '--name=front-lb', '--type=LoadBalancer', '--port=80', '--target-port=8080']);
    const ip = await eventually(async () => (await c.ok(['get', 'svc', 'front-lb', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).trim(), 30_000, 200);
    assert.ok(ip.startsWith(`127.0.${100 + n}.`), `address ${ip} from the pool ${lbPool}`);
    const body = await eventually(async () => {
      const res = await fetch(`http://${ip}/`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
      return res?.ok ? res.text() : undefined;
    }, 30_000, 250);
    assert.match(body, /^front-/);
    const wide = await c.ok(['get', 'svc', 'front-lb']);
    assert.match(wide, new RegExp(`front-lb\\s+LoadBalancer\\s+\\S+\\s+${ip.replace(/\./g, '\\.')}\\s+80:3\\d{4}/TCP`));
    await c.ok(['delete', 'svc', 'front-lb', '--wait=true'], { timeoutMs: 30_000 });
    await eventually(async () => (await fetch(`http://${ip}/`, { signal: AbortSignal.timeout(1000) }).then(() => false, () => true)), 10_000, 250);
    await c.ok(['expose', 'deployment', 'front', '--name=front-lb2', '--type=LoadBalancer', '--port=80', '--target-port=8080']);
    const again = await eventually(async () => (await c.ok(['get', 'svc', 'front-lb2', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).trim(), 30_000, 200);
    assert.equal(again, ip, 'the released address is handed out again');
    await c.ok(['delete', 'svc', 'front', 'front-lb2']);
    await c.ok(['delete', 'deployment', 'front']);
  });

  it('serves a replaced pod through its ClusterIP within a second of it becoming Ready', async () => {
    await c.ok(['create', 'deployment', 'swap', `--image=${BUSYBOX}`, '--', 'sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www']);
    await c.ok(['rollout', 'status', 'deployment/swap', '--timeout=90s'], { timeoutMs: 100_000 });
    await c.ok(['expose', 'deployment', 'swap', '--port=80', '--target-port=8080']);
    const vip = (await c.ok(['get', 'svc', 'swap', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const get = () => fetch(`http://${vip}/`, { signal: AbortSignal.timeout(1000) }).then((r) => r.text(), () => '');
    const old = await eventually(async () => (await get()).trim(), 30_000, 100);
    await c.ok(['delete', 'pod', old, '--wait=false']);
    // Watch (by polling) for the new pod's Ready, and for the VIP to answer from it.
    let readyAt = 0;
    let servedAt = 0;
    let fresh = '';
    const end = Date.now() + 60_000;
    while (Date.now() < end && !(readyAt && servedAt)) {
      if (!readyAt) {
        const pods = JSON.parse(await c.ok(['get', 'pods', '-l', 'app=swap', '-o', 'json'])).items;
        const p = pods.find((x: any) => x.metadata.name !== old && x.status?.conditions?.some((k: any) => k.type === 'Ready' && k.status === 'True'));
        if (p) {
          readyAt = Date.now();
          fresh = p.metadata.name;
        }
      }
      if (fresh && !servedAt && (await get()).trim() === fresh) servedAt = Date.now();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(readyAt && servedAt, 'the new pod became Ready and was served');
    // Ready is seen through kubectl polls (~0.2 s each), so served may even come first.
    assert.ok(servedAt - readyAt <= 1000, `served ${servedAt - readyAt} ms after Ready was seen`);
    await c.ok(['delete', 'deployment', 'swap']);
    await c.ok(['delete', 'service', 'swap']);
  });

  it('loses no request while a Deployment behind a Service scales up and down', async () => {
    // preStop keeps a leaving pod serving while the proxies drop it, as upstream recommends.
    await c.ok(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'steady' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'steady' } },
          template: {
            metadata: { labels: { app: 'steady' } },
            spec: {
              terminationGracePeriodSeconds: 10,
              containers: [
                {
                  name: 'web',
                  image: BUSYBOX,
                  command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www'],
                  readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
                  lifecycle: { preStop: { exec: { command: ['sleep', '3'] } } },
                },
              ],
            },
          },
        },
      }),
    });
    await c.ok(['rollout', 'status', 'deployment/steady', '--timeout=90s'], { timeoutMs: 100_000 });
    await c.ok(['expose', 'deployment', 'steady', '--port=80', '--target-port=8080']);
    const loop = 'ok=0; bad=0; for i in $(seq 240); do if timeout 3 wget -qO- http://steady/ >/dev/null 2>&1; then ok=$((ok+1)); else bad=$((bad+1)); fi; sleep 0.05; done; echo "ok=$ok bad=$bad"';
    // Wait until the name answers before counting.
    await c.ok(['run', 'steady-warm', `--image=${BUSYBOX}`, '--restart=Never', '--command', '--', 'sh', '-c', 'for i in $(seq 40); do timeout 2 wget -qO- http://steady/ && exit 0; sleep 0.25; done; exit 1']);
    await eventually(async () => (await phase('steady-warm')) === 'Succeeded', 60_000, 200);
    await c.ok(['run', 'steady-client', `--image=${BUSYBOX}`, '--restart=Never', '--command', '--', 'sh', '-c', loop]);
    await eventually(async () => (await phase('steady-client')) === 'Running', 60_000, 100);
    await c.ok(['scale', 'deployment/steady', '--replicas=3']);
    await c.ok(['rollout', 'status', 'deployment/steady', '--timeout=60s'], { timeoutMs: 70_000 });
    await new Promise((r) => setTimeout(r, 2000));
    await c.ok(['scale', 'deployment/steady', '--replicas=1']);
    await eventually(async () => ['Succeeded', 'Failed'].includes(await phase('steady-client')), 120_000, 250);
    const out = (await c.ok(['logs', 'steady-client'])).trim();
    assert.match(out, /^ok=\d+ bad=0$/, out);
    await c.ok(['delete', 'deployment', 'steady']);
    await c.ok(['delete', 'service', 'steady']);
  });

  it('restarts a crashing container with growing back-off and shows CrashLoopBackOff', async () => {
    await c.ok(['run', 'chat', `--image=${BUSYBOX}`, '--command', '--', 'sh', '-c', 'sleep 0.5; exit 1']);
    await eventually(async () => ((await status('chat')).containerStatuses?.[0]?.restartCount ?? 0) >= 2, 60_000, 200);
    const cs = await eventually(async () => {
      const s = (await status('chat')).containerStatuses[0];
      return s.state.waiting?.reason === 'CrashLoopBackOff' ? s : undefined;
    }, 30_000, 100);
    assert.equal(cs.lastState.terminated.exitCode, 1);
    assert.equal(cs.lastState.terminated.reason, 'Error');
    assert.match(cs.state.waiting.message, /^back-off \d+s restarting failed container=chat pod=chat_default/);
    const events = await c.ok(['get', 'events', '--field-selector', 'involvedObject.name=chat', '-o', 'jsonpath={.items[*].reason}']);
    for (const r of ['Scheduled', 'Pulled', 'Created', 'Started', 'BackOff']) assert.ok(events.split(' ').includes(r), `event ${r} in ${events}`);
    await c.ok(['delete', 'pod', 'chat', '--wait=false']);
  });

  it('follows restartPolicy OnFailure and Never', async () => {
    await c.ok(['apply', '-f', '-'], { input: pod('onfail-ok', { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: BUSYBOX, command: ['true'] }] }) });
    await c.ok(['apply', '-f', '-'], { input: pod('onfail-bad', { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: BUSYBOX, command: ['sh', '-c', 'exit 7'] }] }) });
    await c.ok(['apply', '-f', '-'], { input: pod('never-bad', { restartPolicy: 'Never', containers: [{ name: 'c', image: BUSYBOX, command: ['sh', '-c', 'exit 7'] }] }) });
    await eventually(async () => (await phase('onfail-ok')) === 'Succeeded', 60_000, 200);
    await eventually(async () => (await phase('never-bad')) === 'Failed', 60_000, 200);
    await eventually(async () => ((await status('onfail-bad')).containerStatuses?.[0]?.restartCount ?? 0) >= 1, 60_000, 200);
    assert.equal((await status('onfail-ok')).containerStatuses[0].restartCount, 0);
    const never = (await status('never-bad')).containerStatuses[0];
    assert.equal(never.restartCount, 0);
    assert.equal(never.state.terminated.exitCode, 7);
    assert.equal(await phase('onfail-bad'), 'Running', 'an OnFailure pod that keeps failing stays Running (restarting)');
    await c.ok(['delete', 'pod', 'onfail-ok', 'onfail-bad', 'never-bad', '--wait=false']);
  });

  it('runs init containers to completion, in order, before the app container starts', async () => {
    await c.ok(['apply', '-f', '-'], {
      input: pod('inits', {
        initContainers: [
          { name: 'first', image: BUSYBOX, command: ['sh', '-c', 'sleep 1'] },
          { name: 'second', image: BUSYBOX, command: ['sh', '-c', 'sleep 1'] },
        ],
        containers: [{ name: 'app', image: BUSYBOX, command: ['sleep', '3600'] }],
      }),
    });
    await eventually(async () => (await phase('inits')) === 'Running', 60_000, 200);
    const st = await status('inits');
    const [first, second] = st.initContainerStatuses;
    assert.equal(first.state.terminated.exitCode, 0);
    assert.equal(second.state.terminated.exitCode, 0);
    assert.ok(Date.parse(first.state.terminated.finishedAt) <= Date.parse(second.state.terminated.startedAt));
    assert.ok(Date.parse(second.state.terminated.finishedAt) <= Date.parse(st.containerStatuses[0].state.running.startedAt));
    assert.equal(st.conditions.find((x: any) => x.type === 'Initialized').status, 'True');
  });

  it('runs two containers that share the pod network (localhost) and an emptyDir', async () => {
    await c.ok(['apply', '-f', '-'], {
      input: pod('pair', {
        volumes: [{ name: 'shared', emptyDir: {} }],
        containers: [
          { name: 'main', image: BUSYBOX, command: ['sh', '-c', 'mkdir -p /www && echo from-main > /www/index.html && echo written-by-main > /data/note && exec httpd -f -p 8080 -h /www'], volumeMounts: [{ name: 'shared', mountPath: '/data' }] },
          { name: 'sidecar', image: BUSYBOX, command: ['sh', '-c', 'while :; do timeout 3 wget -qO- http://localhost:8080/ > /data/fetched 2>/dev/null; sleep 1; done'], volumeMounts: [{ name: 'shared', mountPath: '/data' }] },
        ],
      }),
    });
    await eventually(async () => (await phase('pair')) === 'Running', 60_000, 200);
    // A third pod cannot see the pair's files; the sidecar's fetch lands in the shared volume, which
    // a restartPolicy Never check container in the same pod would need exec for: read it through a
    // hostPath-free route instead, the pod's own readiness probe.
    await c.ok(['apply', '-f', '-'], {
      input: pod('pair-check', {
        volumes: [{ name: 'shared', emptyDir: {} }],
        restartPolicy: 'Never',
        initContainers: [{ name: 'web', image: BUSYBOX, restartPolicy: 'Always', command: ['sh', '-c', 'mkdir -p /www && echo from-main > /www/index.html && exec httpd -f -p 8080 -h /www'] }],
        containers: [{ name: 'check', image: BUSYBOX, command: ['sh', '-c', 'for i in $(seq 20); do timeout 3 wget -qO- http://localhost:8080/ > /data/got 2>/dev/null && break; sleep 0.5; done; grep -q from-main /data/got'], volumeMounts: [{ name: 'shared', mountPath: '/data' }] }],
      }),
    });
    await eventually(async () => ['Succeeded', 'Failed'].includes(await phase('pair-check')), 60_000, 200).catch(() => undefined);
    await c.ok(['delete', 'pod', 'pair-check', '--wait=false']);
    await eventually(async () => {
      const st = await status('pair');
      return st.containerStatuses?.every((x: any) => x.ready) ? st : undefined;
    }, 30_000, 200);
  });

  it('gives containers env from a ConfigMap, the downward API and a Secret volume, and a memory limit in their cgroup', async () => {
    await c.ok(['create', 'configmap', 'app-config', '--from-literal=GREETING=hello-config']);
    await c.ok(['create', 'secret', 'generic', 'app-secret', '--from-literal=password=s3cret']);
    const script = [
      `[ "$GREETING" = hello-config ] || exit 2`,
      `[ "$MY_POD" = envpod ] || exit 3`,
      `[ "$(cat /secret/password)" = s3cret ] || exit 4`,
      `lim=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max); [ "$lim" = 67108864 ] || { echo "limit $lim"; exit 5; }`,
      `grep -q envpod /etc/hosts || exit 6`,
    ].join('; ');
    await c.ok(['apply', '-f', '-'], {
      input: pod('envpod', {
        restartPolicy: 'Never',
        volumes: [{ name: 'sec', secret: { secretName: 'app-secret' } }],
        containers: [
          {
            name: 'c',
            image: BUSYBOX,
            command: ['sh', '-c', script],
            env: [
              { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'GREETING' } } },
              { name: 'MY_POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            ],
            volumeMounts: [{ name: 'sec', mountPath: '/secret', readOnly: true }],
            resources: { limits: { memory: '64Mi' } },
          },
        ],
      }),
    });
    await eventually(async () => ['Succeeded', 'Failed'].includes(await phase('envpod')), 60_000, 200);
    const cs = (await status('envpod')).containerStatuses[0];
    assert.equal(cs.state.terminated.exitCode, 0, `check script exit code ${cs.state.terminated.exitCode}`);
  });

  it('gives a pod a ServiceAccount token that can list what its Role allows, and nothing more, from inside the pod', async () => {
    await c.ok(['create', 'serviceaccount', 'lister']);
    await c.ok(['create', 'role', 'pod-lister', '--verb=list', '--resource=pods']);
    await c.ok(['create', 'rolebinding', 'lister', '--role=pod-lister', '--serviceaccount=default:lister']);
    const api = 'https://kubernetes.default.svc/api/v1/namespaces/default';
    const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
    const script = [
      `T=$(cat ${dir}/token)`,
      `test "$(cat ${dir}/namespace)" = default && echo NS-OK`,
      `grep -q 'BEGIN CERTIFICATE' ${dir}/ca.crt && echo CA-OK`,
      `wget -qO- --no-check-certificate --header "Authorization: Bearer $T" ${api}/pods | grep -q '"kind":"PodList"' && echo LIST-OK`,
      `wget -qO- --no-check-certificate --header "Authorization: Bearer $T" ${api}/secrets 2>&1 | grep -q 403 && echo SECRETS-FORBIDDEN`,
    ].join('; ');
    await c.ok(['apply', '-f', '-'], { input: pod('token-user', { serviceAccountName: 'lister', restartPolicy: 'Never', containers: [{ name: 'c', image: BUSYBOX, command: ['sh', '-c', script] }] }) });
    await eventually(async () => ['Succeeded', 'Failed'].includes(await phase('token-user')), 60_000, 200);
    const out = await c.ok(['logs', 'token-user']);
    assert.deepEqual(out.trim().split('\n'), ['NS-OK', 'CA-OK', 'LIST-OK', 'SECRETS-FORBIDDEN'], out);
  });

  it('holds a container whose ConfigMap is missing in CreateContainerConfigError', async () => {
    await c.ok(['apply', '-f', '-'], {
      input: pod('nocm', { containers: [{ name: 'c', image: BUSYBOX, command: ['sleep', '3600'], env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'absent', key: 'k' } } }] }] }),
    });
    const cs = await eventually(async () => {
      const s = (await status('nocm')).containerStatuses?.[0];
      return s?.state?.waiting?.reason === 'CreateContainerConfigError' ? s : undefined;
    }, 30_000, 200);
    assert.equal(cs.state.waiting.message, 'configmap "absent" not found');
    await c.ok(['delete', 'pod', 'nocm', '--wait=false']);
  });

  it('restarts a container whose liveness probe fails, and records Unhealthy', async () => {
    await c.ok(['apply', '-f', '-'], {
      input: pod('live', {
        containers: [
          {
            name: 'c',
            image: BUSYBOX,
            command: ['sh', '-c', 'touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600'],
            livenessProbe: { exec: { command: ['test', '-f', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 1 },
          },
        ],
      }),
    });
    await eventually(async () => ((await status('live')).containerStatuses?.[0]?.restartCount ?? 0) >= 1, 60_000, 200);
    const events = await c.ok(['get', 'events', '--field-selector', 'involvedObject.name=live', '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
    assert.match(events, /Unhealthy: Liveness probe failed/);
    assert.match(events, /Killing: Container c failed liveness probe, will be restarted/);
    await c.ok(['delete', 'pod', 'live', '--wait=false']);
  });

  it('keeps a pod un-Ready until its readiness probe passes', async () => {
    await c.ok(['apply', '-f', '-'], {
      input: pod('ready-late', {
        containers: [
          {
            name: 'c',
            image: BUSYBOX,
            command: ['sh', '-c', 'sleep 3; touch /tmp/ready; sleep 3600'],
            readinessProbe: { exec: { command: ['test', '-f', '/tmp/ready'] }, periodSeconds: 1 },
          },
        ],
      }),
    });
    await eventually(async () => (await phase('ready-late')) === 'Running', 60_000, 100);
    const early = await status('ready-late');
    assert.equal(early.containerStatuses[0].ready, false, 'not ready before the probe passes');
    assert.equal(early.conditions.find((x: any) => x.type === 'Ready').status, 'False');
    await eventually(async () => (await status('ready-late')).conditions.find((x: any) => x.type === 'Ready')?.status === 'True', 30_000, 200);
    assert.equal((await status('ready-late')).containerStatuses[0].restartCount, 0);
    await c.ok(['delete', 'pod', 'ready-late', '--wait=false']);
  });

  it('deletes a pod with a grace period: SIGTERM first, and the object goes only when its containers are gone', async () => {
    // The container ignores SIGTERM, so the kubelet must wait the grace period and then kill it.
    await c.ok(['apply', '-f', '-'], {
      input: pod('graceful', { terminationGracePeriodSeconds: 2, containers: [{ name: 'c', image: BUSYBOX, command: ['sh', '-c', "trap '' TERM; while :; do sleep 1; done"] }] }),
    });
    await eventually(async () => (await phase('graceful')) === 'Running', 60_000, 200);
    const t0 = Date.now();
    await c.ok(['delete', 'pod', 'graceful', '--wait=true'], { timeoutMs: 60_000 });
    const took = Date.now() - t0;
    assert.ok(took >= 1500, `delete waited for the grace period (took ${took} ms)`);
    assert.ok(took < 20_000, `delete finished after the grace period (took ${took} ms)`);
  });

  it('runs postStart after the start and preStop before SIGTERM on delete', async () => {
    const hostDir = mkdtempSync(join(tmpdir(), 'k8ts-hooks-'));
    await c.ok(['apply', '-f', '-'], {
      input: pod('hooks', {
        terminationGracePeriodSeconds: 5,
        volumes: [{ name: 'out', hostPath: { path: hostDir, type: 'Directory' } }],
        containers: [
          {
            name: 'c',
            image: BUSYBOX,
            command: ['sh', '-c', 'while [ ! -f /tmp/started ]; do sleep 0.1; done; echo saw-poststart > /out/main; trap "echo got-term >> /out/order; exit 0" TERM; while :; do sleep 0.2; done'],
            volumeMounts: [{ name: 'out', mountPath: '/out' }],
            lifecycle: {
              postStart: { exec: { command: ['touch', '/tmp/started'] } },
              preStop: { exec: { command: ['sh', '-c', 'echo prestop >> /out/order'] } },
            },
          },
        ],
      }),
    });
    await eventually(async () => (await phase('hooks')) === 'Running' && existsSync(join(hostDir, 'main')), 60_000, 200);
    await c.ok(['delete', 'pod', 'hooks', '--wait=true'], { timeoutMs: 60_000 });
    assert.equal(readFileSync(join(hostDir, 'order'), 'utf8'), 'prestop\ngot-term\n', 'preStop ran, then SIGTERM');
    rmSync(hostDir, { recursive: true, force: true });
  });

  it('applies the security context: user, group and a read-only root filesystem', async () => {
    const script = '[ "$(id -u)" = 1234 ] || exit 2; [ "$(id -g)" = 2345 ] || exit 3; touch /rootfs-write 2>/dev/null && exit 4; touch /tmp/ok 2>/dev/null && exit 5; exit 0';
    await c.ok(['apply', '-f', '-'], {
      input: pod('secure', {
        restartPolicy: 'Never',
        securityContext: { runAsUser: 1234, runAsGroup: 2345 },
        containers: [{ name: 'c', image: BUSYBOX, command: ['sh', '-c', script], securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false } }],
      }),
    });
    await eventually(async () => ['Succeeded', 'Failed'].includes(await phase('secure')), 60_000, 200);
    assert.equal((await status('secure')).containerStatuses[0].state.terminated.exitCode, 0);
  });

  it('copies files in and out of a container with kubectl cp', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-cp-'));
    const src = join(dir, 'in.txt');
    writeFileSync(src, 'copied-in\n');
    await c.ok(['cp', src, 'web:/tmp/in.txt']);
    assert.equal(await c.ok(['exec', 'web', '--', 'cat', '/tmp/in.txt']), 'copied-in\n');
    await c.ok(['cp', 'web:/www/index.html', join(dir, 'out.html')]);
    assert.equal(readFileSync(join(dir, 'out.html'), 'utf8'), 'hello-from-web\n');
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs kubectl debug: an ephemeral container in the pod that sees the target container\'s processes', async () => {
    // Non-interactive: the debug container's own output, once it has run, through logs.
    await c.ok(['debug', 'web', `--image=${BUSYBOX}`, '--image-pull-policy=IfNotPresent', '--target=web', '--container=dbg', '--profile=general', '--', 'sh', '-c', 'ps -o args; echo debug-done']);
    await eventually(async () => {
      const pod = JSON.parse(await c.ok(['get', 'pod', 'web', '-o', 'json']));
      return pod.status.ephemeralContainerStatuses?.find((s: any) => s.name === 'dbg')?.state?.terminated?.exitCode === 0;
    }, 60_000, 250);
    const out = await c.ok(['logs', 'web', '-c', 'dbg']);
    assert.match(out, /httpd -f -p 8080/, 'the target container\'s process is visible: the PID namespace is shared');
    assert.match(out, /debug-done/);
    const pod = JSON.parse(await c.ok(['get', 'pod', 'web', '-o', 'json']));
    assert.equal(pod.spec.ephemeralContainers[0].targetContainerName, 'web');
    assert.equal(pod.status.ephemeralContainerStatuses[0].ready, false);
    assert.equal(pod.status.phase, 'Running', 'an ephemeral container never ends the pod');
    assert.match(await c.ok(['describe', 'pod', 'web']), /Ephemeral Containers:\s+dbg:/);
    // Interactive, as people use it, in a terminal (script's): kubectl waits for the container to run,
    // attaches, and shows what it prints. (Piped stdin would detach at its end, as containerd does.)
    const cmd = `${kubectlBinary()} debug web -it --image=${BUSYBOX} --image-pull-policy=IfNotPresent --container=dbg2 --profile=general -- sh -c 'sleep 2; echo from-debug-tty'`;
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      execFile('script', ['-qec', cmd, '/dev/null'], { env: c.env, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }));
    });
    assert.match(r.out, /from-debug-tty/, r.out);
  });

  it('shows the output of a quick command run with kubectl run -i --rm, as upstream does', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await c.kubectl(['run', `quick-${i}`, `--image=${BUSYBOX}`, '--image-pull-policy=IfNotPresent', '--restart=Never', '--rm', '-i', '--command', '--', 'echo', `quick-output-${i}`], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`quick-output-${i}`), `run ${i}: ${JSON.stringify(r)}`);
    }
  });

  it('loses no pod when containerd itself dies and is restarted', async () => {
    const cd = c.server.agent!.containerd!;
    const before = (await status('web')).containerStatuses[0];
    const pid = cd.pid()!;
    process.kill(pid, 'SIGKILL');
    await eventually(async () => cd.restarts() >= 1 && cd.pid() !== pid && (await c.server.agent!.runtime.version().then(() => true, () => false)), 30_000, 200);
    // The pod keeps running in its shim; after the restart the kubelet still sees the same container.
    await new Promise((r) => setTimeout(r, 2000));
    const after = (await status('web')).containerStatuses[0];
    assert.equal(after.containerID, before.containerID);
    assert.equal(after.restartCount, before.restartCount);
    assert.equal((await c.ok(['exec', 'web', '--', 'cat', '/www/index.html'])).trim(), 'hello-from-web');
  });

  it('a restarted agent adopts running containers instead of restarting them', async () => {
    await eventually(async () => (await phase('web')) === 'Running', 30_000, 200);
    const before = (await status('web')).containerStatuses[0];
    await c.server.stop();
    // The same data dir: the new server's agent finds the sandboxes in containerd and adopts them.
    const server = await startServer(serverOptions());
    (c as any).server = server;
    await eventually(async () => (await phase('web')) === 'Running' && (await status('web')).containerStatuses[0].containerID, 60_000, 200);
    await new Promise((r) => setTimeout(r, 3000));
    const after = (await status('web')).containerStatuses[0];
    assert.equal(after.containerID, before.containerID, 'same container');
    assert.equal(after.restartCount, 0);
    assert.equal(after.state.running.startedAt, before.state.running.startedAt);
  });
});
