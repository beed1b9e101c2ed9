/**
 * A single-member etcd on loopback ports with its data in a temp folder, for tests (the storage
 * conformance suite against etcd, and servers sharing one etcd). Stopped by PID; a watchdog kills
 * it if the test process dies.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { freePort } from '../../base/ports.js';

export { freePort };
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const etcdBinary = process.env.ETCD_BIN ?? 'etcd';
export const haveEtcd = spawnSync(etcdBinary, ['--version'], { stdio: 'ignore' }).status === 0;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Options of {@link EtcdProcess}. */
export interface EtcdProcessOptions {
  /**
   * Run on this existing etcd data dir (e.g. one made by `etcdctl snapshot restore`) instead of a
   * new temp folder; {@link EtcdProcess.stop} leaves it in place.
   */
  dataDir?: string;
  /** The member name (default `t`); a restored data dir keeps the name it was restored with. */
  name?: string;
}

/** One single-member etcd on loopback, with its data in a temp folder (or a given data dir). */
export class EtcdProcess {
  endpoint = '';
  private child: ChildProcess | undefined;
  private watchdog: ChildProcess | undefined;
  private dir = '';
  private log = '';

  private client = 0;
  private peer = 0;

  constructor(private readonly opts: EtcdProcessOptions = {}) {}

  async start(): Promise<void> {
    if (!this.opts.dataDir) this.dir = await mkdtemp(join(tmpdir(), 'k8ts-etcd-'));
    [this.client, this.peer] = [await freePort(), await freePort()];
    await this.launch();
  }

  /** Stop etcd and start it again on the same ports and data. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  private async launch(): Promise<void> {
    this.endpoint = `http://127.0.0.1:${this.client}`;
    const peerUrl = `http://127.0.0.1:${this.peer}`;
    const name = this.opts.name ?? 't';
    this.child = spawn(
      etcdBinary,
      [
        '--name', name,
        '--data-dir', this.opts.dataDir ?? join(this.dir, 'data'),
        '--listen-client-urls', this.endpoint,
        '--advertise-client-urls', this.endpoint,
        '--listen-peer-urls', peerUrl,
        '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', `${name}=${peerUrl}`,
        // etcd's default is 10 minutes; the conformance suite waits a few seconds for a bookmark.
        '--experimental-watch-progress-notify-interval', '200ms',
        '--log-level', 'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // A watchdog kills etcd once this process is gone, however it died (even SIGKILL): its stdin is a
    // pipe from here, and `read` returns when our end closes.
    this.watchdog = spawn('sh', ['-c', `read _; kill -9 ${this.child.pid}`], { stdio: ['pipe', 'ignore', 'ignore'] });
    const append = (d: Buffer) => {
      this.log = (this.log + d.toString('utf8')).slice(-4000);
    };
    this.child.stdout!.on('data', append);
    this.child.stderr!.on('data', append);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`etcd exited with ${this.child.exitCode}: ${this.log}`);
      try {
        const res = await fetch(`${this.endpoint}/health`);
        const body = (await res.json()) as { health?: string };
        if (body.health === 'true') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy: ${this.log}`);
      await sleep(50);
    }
  }

  /** Stop etcd and remove its data (not a data dir given in the options). */
  async stop(): Promise<void> {
    await this.kill();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** SIGTERM, then SIGKILL if etcd has not exited within 5 s. */
  private async kill(): Promise<void> {
    // The watchdog goes first, so that it never signals a recycled PID.
    const dog = this.watchdog;
    if (dog && dog.exitCode === null && dog.signalCode === null) {
      const gone = new Promise<void>((r) => dog.once('exit', () => r()));
      process.kill(dog.pid!, 'SIGKILL');
      await gone;
    }
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
  }
}

