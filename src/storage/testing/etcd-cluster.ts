/**
 * A three-member etcd cluster on loopback ports, for failover tests: members can be killed with
 * SIGKILL (by PID) and started again on their data, and the current leader is found through
 * etcd's HTTP gateway. A watchdog per member kills it if the test process dies.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdBinary, freePort } from './etcd-process.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Member {
  name: string;
  client: number;
  peer: number;
  child?: ChildProcess;
  watchdog?: ChildProcess;
  log: string;
}

export class EtcdCluster {
  private dir = '';
  private readonly members: Member[] = [];

  constructor(private readonly size = 3) {}

  /** Client URLs of every member. */
  get endpoints(): string[] {
    return this.members.map((m) => `http://127.0.0.1:${m.client}`);
  }

  async start(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'k8ts-etcd-cluster-'));
    for (let i = 0; i < this.size; i++) this.members.push({ name: `m${i}`, client: await freePort(), peer: await freePort(), log: '' });
    await Promise.all(this.members.map((m) => this.launch(m, 'new')));
    await this.waitHealthy();
  }

  private initialCluster(): string {
    return this.members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  }

  private launch(m: Member, state: 'new' | 'existing'): Promise<void> {
    const client = `http://127.0.0.1:${m.client}`;
    const peer = `http://127.0.0.1:${m.peer}`;
    m.child = spawn(
      etcdBinary,
      [
        '--name', m.name,
        '--data-dir', join(this.dir, m.name),
        '--listen-client-urls', client,
        '--advertise-client-urls', client,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', this.initialCluster(),
        '--initial-cluster-state', state,
        '--initial-cluster-token', 'k8ts-test',
        '--experimental-watch-progress-notify-interval', '200ms',
        '--heartbeat-interval', '50',
        '--election-timeout', '500',
        '--log-level', 'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const child = m.child;
    m.watchdog = spawn('sh', ['-c', `read _; kill -9 ${child.pid}`], { stdio: ['pipe', 'ignore', 'ignore'] });
    const append = (d: Buffer) => {
      m.log = (m.log + d.toString('utf8')).slice(-4000);
    };
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    return Promise.resolve();
  }

  /** Every running member answers /health with true. */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.members.filter((m) => m.child && m.child.exitCode === null && m.child.signalCode === null);
      const ok = await Promise.all(
        running.map(async (m) => {
          try {
            const r = await fetch(`http://127.0.0.1:${m.client}/health`);
            return ((await r.json()) as { health?: string }).health === 'true';
          } catch {
            return false;
          }
        }),
      );
      if (ok.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`etcd cluster not healthy: ${this.members.map((m) => `${m.name}: ${m.log.slice(-300)}`).join('\n')}`);
      await sleep(100);
    }
  }

  /** The index of the current leader. */
  async leader(): Promise<number> {
    for (let attempt = 0; attempt < 100; attempt++) {
      for (const m of this.members) {
        if (!m.child || m.child.exitCode !== null || m.child.signalCode !== null) continue;
        try {
          const r = await fetch(`http://127.0.0.1:${m.client}/v3/maintenance/status`, { method: 'POST', body: '{}' });
          const st = (await r.json()) as { header?: { member_id?: string }; leader?: string };
          if (st.leader && st.header?.member_id === st.leader) return this.members.indexOf(m);
        } catch {
          // this member is not answering
        }
      }
      await sleep(100);
    }
    throw new Error('no etcd leader found');
  }

  /** SIGKILL member `i` (by PID). */
  async kill(i: number): Promise<void> {
    const m = this.members[i];
    await this.killProc(m.watchdog);
    await this.killProc(m.child, 'SIGKILL');
  }

  /** Start member `i` again on its data. */
  async restart(i: number): Promise<void> {
    await this.launch(this.members[i], 'existing');
    await this.waitHealthy();
  }

  private async killProc(p: ChildProcess | undefined, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    process.kill(p.pid!, sig);
    await gone;
  }

  async stop(): Promise<void> {
    for (const m of this.members) {
      await this.killProc(m.watchdog);
      await this.killProc(m.child, 'SIGTERM');
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
