/**
 * The kubelet's pod volumes (upstream pkg/kubelet/volumemanager with the emptyDir, configMap,
 * secret, downwardAPI, projected and hostPath plugins, and persistentVolumeClaims of hostPath and
 * local PersistentVolumes), reduced to what a single node needs: set
 * the volumes of a pod up under `<rootDir>/pods/<uid>/volumes/<plugin>/<name>`, keep the API-backed
 * ones current, tell the runtime what to bind where, and tear it all down.
 */
import { chmodSync, closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { KObject } from '../../client/rest-client.js';
import { containerResourceValue, expandVars, extractMetadataField, type PodResources } from '../envvars.js';
import type { Mount, MountPropagation } from '../runtime/runtime.js';
import { validatePayloadPath, writeAtomic, type FileProjection, type Payload } from './atomic-writer.js';
import { managedHostsFileContent, nodeHostsFileContent, podHostnameAndDomain } from './etc-hosts.js';
import { memoryBackedVolumeSize } from './memory-size.js';
import { Mounter } from './mounter.js';

/** Linux open(2) flags Node does not export. */
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;

/** Upstream plugin directory names. */
export const PLUGIN_DIRS = {
  emptyDir: 'kubernetes.io~empty-dir',
  configMap: 'kubernetes.io~configmap',
  secret: 'kubernetes.io~secret',
  downwardAPI: 'kubernetes.io~downward-api',
  projected: 'kubernetes.io~projected',
} as const;

type ApiPlugin = keyof typeof PLUGIN_DIRS;

/** The API calls volumes need: ConfigMaps, Secrets and, optionally, service account tokens. */
export interface VolumeResources extends PodResources {
  /** PersistentVolumeClaims and PersistentVolumes (undefined when not found); without them, PVC volumes fail to mount. */
  getPersistentVolumeClaim?(ns: string, name: string): Promise<KObject | undefined>;
  getPersistentVolume?(name: string): Promise<KObject | undefined>;
  requestToken?(ns: string, serviceAccount: string, req: { audiences?: string[]; expirationSeconds: number; boundPod: { name: string; uid: string } }): Promise<{ token: string; expirationTimestamp: string }>;
}

/** Options of {@link VolumeManager}. */
export interface VolumeManagerOptions {
  /** The kubelet root directory (upstream /var/lib/kubelet). */
  rootDir: string;
  resources: VolumeResources;
  nodeName: string;
  /** Cluster DNS domain, for the pod's FQDN in /etc/hosts. Default cluster.local. */
  clusterDomain?: string;
  /** Node allocatable, the default of unset limits in downward API volumes. */
  allocatable?: Record<string, string>;
  /** The node's hosts file, copied for host-network pods. Default /etc/hosts. */
  nodeHostsFile?: string;
  /** Mount secret, projected and downward API volumes on tmpfs as upstream does (needs root). Default false. */
  tmpfsForSecrets?: boolean;
  /**
   * Bind each subPath onto `<pod dir>/volume-subpaths/<volume>/<container>/<index>` through an
   * open file descriptor, as upstream does, so that a symlink swapped in after the check cannot
   * redirect the container's mount (needs root). Default false: the checked path is handed over.
   */
  bindSubPaths?: boolean;
  /** Clock, ms. */
  now?: () => number;
  /** Mounts and unmounts (shared, or owned and closed by {@link VolumeManager.close}). Default: a new {@link Mounter}. */
  mounter?: Mounter;
}

/** A volume failure, with upstream's FailedMount message. */
export class MountError extends Error {
  override readonly name = 'MountError';
  constructor(
    readonly volume: string,
    cause: string,
    /** The whole message, when it is not a SetUp failure (a claim that cannot be processed yet). */
    message?: string,
  ) {
    super(message ?? `MountVolume.SetUp failed for volume ${JSON.stringify(volume)} : ${cause}`);
  }
}

/** A persistentVolumeClaim volume resolved to its PersistentVolume's local path. */
interface ClaimMount {
  path: string;
  readOnly: boolean;
}

/** Several errors as upstream's utilerrors.NewAggregate prints them. */
function aggregate(errs: string[]): string {
  return errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`;
}

interface CachedToken {
  token: string;
  issuedMs: number;
  expiresMs: number;
  requestedSeconds: number;
}

const DEFAULT_MODE = 0o644;
const TOKEN_MAX_AGE_MS = 24 * 3600 * 1000;

function b64(v: unknown): Buffer {
  return Buffer.from(String(v ?? ''), 'base64');
}

function isSafeSegment(s: string): boolean {
  return s !== '' && s !== '.' && s !== '..' && !s.includes('/') && !s.includes('\0');
}

/** Decodes the octal escapes of /proc/self/mountinfo fields. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or under `dir`, deepest first. */
async function mountsUnder(dir: string): Promise<string[]> {
  let info: string;
  try {
    info = await fs.readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of info.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = unescapeMountPath(mp);
    if (p === dir || p.startsWith(dir + '/')) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Sets pod volumes up and down. One instance per kubelet. */
export class VolumeManager {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly locks = new Map<string, Promise<void>>();
  /** `<pod uid>/<volume>` → the path its claim's volume mounts. */
  private readonly claims = new Map<string, ClaimMount>();
  private readonly mounter: Mounter;
  private readonly ownsMounter: boolean;

  constructor(private readonly o: VolumeManagerOptions) {
    this.ownsMounter = !o.mounter;
    this.mounter = o.mounter ?? new Mounter();
  }

  /** Readies the mount helper (see {@link Mounter.prepare}); call at start-up. */
  prepare(): void {
    if (this.o.tmpfsForSecrets || this.o.bindSubPaths) this.mounter.prepare();
  }

  /** Stops the mount helper this manager started (an idle one does not keep the process alive anyway). */
  async close(): Promise<void> {
    if (this.ownsMounter) await this.mounter.close();
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  /** `<rootDir>/pods/<uid>`. */
  podDir(podUID: string): string {
    if (!isSafeSegment(podUID)) throw new Error(`invalid pod UID ${JSON.stringify(podUID)}`);
    return path.join(this.o.rootDir, 'pods', podUID);
  }

  /** Where a plugin-managed volume lives on the host. */
  volumeDir(podUID: string, plugin: ApiPlugin, volumeName: string): string {
    if (!isSafeSegment(volumeName)) throw new Error(`invalid volume name ${JSON.stringify(volumeName)}`);
    return path.join(this.podDir(podUID), 'volumes', PLUGIN_DIRS[plugin], volumeName);
  }

  /** The host path a volume's mounts bind (the volume directory, the hostPath path, or a claim's volume path). */
  hostPathOf(pod: KObject, vol: KObject): string {
    if (vol.hostPath) return vol.hostPath.path;
    if (vol.persistentVolumeClaim) {
      const claim = this.claims.get(`${pod.metadata.uid}/${vol.name}`);
      if (!claim) throw new MountError(vol.name, `volume ${JSON.stringify(vol.name)} is not mounted yet`);
      return claim.path;
    }
    const plugin = pluginOf(vol);
    if (!plugin) throw new MountError(vol.name, 'unsupported volume type');
    return this.volumeDir(pod.metadata.uid, plugin, vol.name);
  }

  /**
   * Sets up every volume of the pod; idempotent. All volumes are tried; the first failure is
   * thrown as a {@link MountError}.
   */
  async setUpPod(pod: KObject): Promise<void> {
    await fs.mkdir(path.join(this.podDir(pod.metadata.uid), 'volumes'), { recursive: true, mode: 0o750 });
    await this.each(pod, (v) => this.setUpVolume(pod, v));
  }

  /** Rewrites the API-backed volumes (ConfigMap, Secret, downward API, projected) when their sources changed, and renews tokens. */
  async refresh(pod: KObject): Promise<void> {
    await this.each(pod, async (v) => {
      const plugin = pluginOf(v);
      if (plugin && plugin !== 'emptyDir') await this.setUpVolume(pod, v);
    });
  }

  private async each(pod: KObject, f: (v: KObject) => Promise<void>): Promise<void> {
    let first: unknown;
    for (const v of pod.spec?.volumes ?? []) {
      try {
        await f(v);
      } catch (e) {
        first ??= e instanceof MountError ? e : new MountError(v.name, (e as Error).message);
      }
    }
    if (first) throw first;
  }

  private setUpVolume(pod: KObject, vol: KObject): Promise<void> {
    if (vol.hostPath) return checkHostPath(vol.hostPath.path, vol.hostPath.type ?? '');
    if (vol.persistentVolumeClaim) return this.setUpClaim(pod, vol);
    const plugin = pluginOf(vol);
    if (!plugin) return Promise.reject(new MountError(vol.name, 'unsupported volume type'));
    const dir = this.volumeDir(pod.metadata.uid, plugin, vol.name);
    // One writer per volume directory: setUpPod and refresh may overlap.
    const prev = this.locks.get(dir) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.setUpVolumeLocked(pod, vol, plugin, dir));
    const tail = next.catch(() => undefined);
    this.locks.set(dir, tail);
    void tail.then(() => {
      if (this.locks.get(dir) === tail) this.locks.delete(dir);
    });
    return next;
  }

  /**
   * Resolves a persistentVolumeClaim volume as upstream's desired-state populator does: the claim
   * must be Bound and not being deleted, and its PersistentVolume bound back to it. hostPath and
   * local PersistentVolumes are then used in place, as hostPath volumes.
   */
  private async setUpClaim(pod: KObject, vol: KObject): Promise<void> {
    const ns: string = pod.metadata.namespace ?? 'default';
    const claimName: string = vol.persistentVolumeClaim.claimName;
    const key = `${pod.metadata.uid}/${vol.name}`;
    if (this.claims.has(key)) return;
    // Upstream reports a claim it cannot use yet as a volume it failed to process, not a SetUp failure.
    const notReady = (why: string) =>
      new MountError(vol.name, why, `Unable to attach or mount volumes: unmounted volumes=[${vol.name}], unattached volumes=[], failed to process volumes=[${vol.name}]: error processing PVC ${ns}/${claimName}: ${why}`);
    const r = this.o.resources;
    if (!r.getPersistentVolumeClaim || !r.getPersistentVolume) throw notReady('persistent volumes are not available on this node');
    let pvc: KObject | undefined;
    try {
      pvc = await r.getPersistentVolumeClaim(ns, claimName);
    } catch (e) {
      throw notReady(`failed to fetch PVC from API server: ${(e as Error).message}`);
    }
    if (!pvc) throw notReady(`failed to fetch PVC from API server: persistentvolumeclaims ${JSON.stringify(claimName)} not found`);
    if (pvc.metadata?.deletionTimestamp) throw notReady('PVC is being deleted');
    const pvName: string | undefined = pvc.spec?.volumeName;
    if (pvc.status?.phase !== 'Bound' || !pvName) throw notReady('PVC is not bound');
    let pv: KObject | undefined;
    try {
      pv = await r.getPersistentVolume(pvName);
    } catch (e) {
      throw notReady(`failed to fetch PV ${pvName} from API server: ${(e as Error).message}`);
    }
    if (!pv) throw notReady(`failed to fetch PV ${pvName} from API server: persistentvolumes ${JSON.stringify(pvName)} not found`);
    const ref = pv.spec?.claimRef;
    if (!ref) throw notReady(`found PV object ${pvName} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim`);
    if (ref.uid !== pvc.metadata?.uid) throw notReady(`found PV object ${pvName} but its pv.Spec.ClaimRef.UID (${ref.uid}) does not point to claim.UID (${pvc.metadata?.uid})`);
    const src = pv.spec ?? {};
    let hostPath: string;
    // From here on upstream names the volume by its PersistentVolume.
    try {
      if (src.hostPath) {
        hostPath = src.hostPath.path;
        await checkHostPath(hostPath, src.hostPath.type ?? '');
      } else if (src.local) {
        hostPath = src.local.path;
        if (!(await fs.stat(hostPath).catch(() => undefined))) throw new Error(`path "${hostPath}" does not exist`);
      } else {
        throw new Error('unsupported volume type: this node mounts only hostPath and local persistent volumes');
      }
    } catch (e) {
      throw new MountError(pvName, (e as Error).message);
    }
    this.claims.set(key, { path: hostPath, readOnly: !!vol.persistentVolumeClaim.readOnly });
  }

  private async setUpVolumeLocked(pod: KObject, vol: KObject, plugin: ApiPlugin, dir: string): Promise<void> {
    const fsGroup: number | undefined = pod.spec?.securityContext?.fsGroup;
    if (vol.emptyDir) return this.setUpEmptyDir(pod, dir, vol.emptyDir, fsGroup);
    const payload = await this.payloadOf(pod, vol);
    // Upstream backs secret, projected (tokens) and downward API volumes with a memory emptyDir,
    // so their content never reaches the disk.
    if (this.o.tmpfsForSecrets && (plugin === 'secret' || plugin === 'projected' || plugin === 'downwardAPI')) {
      await fs.mkdir(dir, { recursive: true });
      await this.ensureTmpfs(dir, memoryBackedVolumeSize(pod, undefined, this.o.allocatable?.memory));
    }
    await writeAtomic(dir, payload, { fsGroup });
  }

  private async ensureTmpfs(dir: string, sizeBytes: number): Promise<void> {
    if ((await mountsUnder(dir)).includes(dir)) return;
    await this.mounter.tmpfs(dir, sizeBytes);
  }

  private async setUpEmptyDir(pod: KObject, dir: string, src: KObject, fsGroup?: number): Promise<void> {
    await fs.mkdir(dir, { recursive: true });
    if (src.medium === 'Memory') await this.ensureTmpfs(dir, memoryBackedVolumeSize(pod, src.sizeLimit, this.o.allocatable?.memory));
    // Everyone may write an emptyDir (upstream perm 0777; setgid with fsGroup).
    if (fsGroup !== undefined) {
      await fs.lchown(dir, -1, fsGroup);
      await fs.chmod(dir, 0o2777);
    } else {
      await fs.chmod(dir, 0o777);
    }
  }

  /** The files of an API-backed volume. Throws the plain cause (wrapped by the caller). */
  private async payloadOf(pod: KObject, vol: KObject): Promise<Payload> {
    const ns: string = pod.metadata.namespace ?? 'default';
    if (vol.configMap) return this.configMapPayload(ns, vol.configMap, vol.configMap.defaultMode ?? DEFAULT_MODE);
    if (vol.secret) return this.secretPayload(ns, vol.secret, vol.secret.defaultMode ?? DEFAULT_MODE);
    if (vol.downwardAPI) return this.downwardPayload(pod, vol.downwardAPI.items ?? [], vol.downwardAPI.defaultMode ?? DEFAULT_MODE);
    // projected
    const mode: number = vol.projected.defaultMode ?? DEFAULT_MODE;
    const payload: Payload = new Map();
    const errs: string[] = [];
    for (const src of vol.projected.sources ?? []) {
      try {
        let part: Payload = new Map();
        if (src.configMap) part = await this.configMapPayload(ns, src.configMap, mode);
        else if (src.secret) part = await this.secretPayload(ns, src.secret, mode);
        else if (src.downwardAPI) part = await this.downwardPayload(pod, src.downwardAPI.items ?? [], mode);
        else if (src.serviceAccountToken) part = await this.tokenPayload(pod, vol.name, src.serviceAccountToken, mode);
        for (const [k, v] of part) payload.set(k, v);
      } catch (e) {
        errs.push((e as Error).message);
      }
    }
    if (errs.length) throw new Error(aggregate(errs));
    return payload;
  }

  private async configMapPayload(ns: string, src: KObject, defaultMode: number): Promise<Payload> {
    const cm = await this.o.resources.getConfigMap(ns, src.name);
    if (!cm && !src.optional) throw new Error(`configmap ${JSON.stringify(src.name)} not found`);
    const data = new Map<string, Buffer>();
    for (const [k, v] of Object.entries(cm?.data ?? {})) data.set(k, Buffer.from(String(v)));
    for (const [k, v] of Object.entries(cm?.binaryData ?? {})) data.set(k, b64(v));
    return makePayload(data, src.items, defaultMode, !!src.optional, (k) => `configmap references non-existent config key: ${k}`);
  }

  private async secretPayload(ns: string, src: KObject, defaultMode: number): Promise<Payload> {
    // The volume source names it secretName; a projection names it name.
    const name: string = src.secretName ?? src.name;
    const s = await this.o.resources.getSecret(ns, name);
    if (!s && !src.optional) throw new Error(`secret ${JSON.stringify(name)} not found`);
    const data = new Map<string, Buffer>();
    for (const [k, v] of Object.entries(s?.data ?? {})) data.set(k, b64(v));
    return makePayload(data, src.items, defaultMode, !!src.optional, (k) => `references non-existent secret key: ${k}`);
  }

  private async downwardPayload(pod: KObject, items: KObject[], defaultMode: number): Promise<Payload> {
    const payload: Payload = new Map();
    const errs: string[] = [];
    for (const it of items) {
      try {
        let value: string;
        if (it.fieldRef) {
          value = extractMetadataField(pod, it.fieldRef.fieldPath);
        } else if (it.resourceFieldRef) {
          const cname: string = it.resourceFieldRef.containerName;
          const c = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((x: KObject) => x.name === cname);
          if (!c) throw new Error(`container ${cname} not found`);
          value = containerResourceValue(it.resourceFieldRef, c, this.o.allocatable);
        } else {
          continue;
        }
        payload.set(it.path, { data: Buffer.from(value), mode: it.mode ?? defaultMode });
      } catch (e) {
        errs.push((e as Error).message);
      }
    }
    if (errs.length) throw new Error(aggregate(errs));
    return payload;
  }

  private async tokenPayload(pod: KObject, volName: string, tp: KObject, mode: number): Promise<Payload> {
    const request = this.o.resources.requestToken;
    // Without a token source the projection is left out (hollow nodes, tests).
    if (!request) return new Map();
    const key = `${pod.metadata.uid}/${volName}/${tp.path}`;
    const now = this.now();
    const seconds: number = tp.expirationSeconds ?? 3600;
    let t = this.tokens.get(key);
    // Renew after 80% of the requested lifetime or after 24h, as upstream's token manager.
    if (!t || t.requestedSeconds !== seconds || now > t.expiresMs - seconds * 200 || now - t.issuedMs > TOKEN_MAX_AGE_MS) {
      const res = await request.call(this.o.resources, pod.metadata.namespace ?? 'default', pod.spec?.serviceAccountName || 'default', {
        ...(tp.audience ? { audiences: [tp.audience] } : {}),
        expirationSeconds: seconds,
        boundPod: { name: pod.metadata.name, uid: pod.metadata.uid },
      });
      const exp = Date.parse(res.expirationTimestamp);
      t = { token: res.token, issuedMs: now, expiresMs: Number.isNaN(exp) ? now + seconds * 1000 : exp, requestedSeconds: seconds };
      this.tokens.set(key, t);
    }
    return new Map([[tp.path, { data: Buffer.from(t.token), mode }]]);
  }

  /**
   * The CRI mounts of a container: its volumeMounts (subPath / subPathExpr resolved inside the
   * volume, `env` feeding subPathExpr), then /etc/hosts when {@link writeEtcHosts} wrote one and
   * the container does not mount its own.
   */
  async mountsFor(pod: KObject, container: KObject, env: { key: string; value: string }[] = []): Promise<Mount[]> {
    const vols = new Map<string, KObject>((pod.spec?.volumes ?? []).map((v: KObject) => [v.name, v]));
    const mounts: Mount[] = [];
    let ownHosts = false;
    for (const [index, vm] of (container.volumeMounts ?? []).entries()) {
      const vol = vols.get(vm.name);
      if (!vol) throw new Error(`cannot find volume ${JSON.stringify(vm.name)} to mount into container ${JSON.stringify(container.name)}`);
      let hostPath = this.hostPathOf(pod, vol);
      const sub = vm.subPathExpr ? expandSubPathExpr(vm.subPathExpr, env) : vm.subPath;
      if (sub) {
        const volPath = hostPath;
        hostPath = this.subPath(volPath, sub, vm, container);
        if (this.o.bindSubPaths) hostPath = await this.bindSubPath(pod.metadata.uid, volPath, hostPath, vm, container, index);
      }
      if (vm.mountPath === '/etc/hosts') ownHosts = true;
      mounts.push({
        containerPath: vm.mountPath,
        hostPath,
        // The API-backed volumes are always read-only to the container.
        readonly: !!vm.readOnly || isAlwaysReadOnly(vol) || !!this.claims.get(`${pod.metadata.uid}/${vol.name}`)?.readOnly,
        selinuxRelabel: false,
        propagation: propagationOf(vm.mountPropagation),
      });
    }
    const hosts = this.etcHostsPath(pod.metadata.uid);
    if (!ownHosts && existsSync(hosts)) mounts.push({ containerPath: '/etc/hosts', hostPath: hosts, readonly: false, selinuxRelabel: false, propagation: 'PROPAGATION_PRIVATE' });
    return mounts;
  }

  /**
   * Resolves `sub` inside `volPath` as upstream's makeMounts: no absolute path, no `..`, missing
   * directories created with the volume's mode, nothing reached through a symlink out of the
   * volume. The detailed cause stays in the log, as upstream (it would show host paths).
   */
  private subPath(volPath: string, sub: string, vm: KObject, container: KObject): string {
    if (path.isAbsolute(sub)) throw new Error(`error SubPath \`${sub}\` must not be an absolute path`);
    if (sub.split('/').includes('..')) throw new Error(`unable to provision SubPath \`${sub}\`: must not contain '..'`);
    const ids = `volumeMount ${JSON.stringify(vm.name)} of container ${JSON.stringify(container.name)}`;
    const root = realpathSync(volPath);
    const inside = (p: string) => p === root || p.startsWith(root + '/');
    const dirMode = statSync(root).mode & 0o7777;
    // Walk one element at a time, resolving each existing one and creating missing directories
    // only under real directories of the volume.
    let cur = root;
    for (const part of sub.split('/').filter((x) => x !== '' && x !== '.')) {
      const next = path.join(cur, part);
      if (!statSync(cur).isDirectory()) throw new Error(`failed to create subPath directory for ${ids}`);
      if (lstatSync(next, { throwIfNoEntry: false })) {
        cur = realpathSync(next);
        if (!inside(cur)) throw new Error(`failed to prepare subPath for ${ids}`);
      } else {
        try {
          mkdirSync(next, { mode: dirMode });
          // mkdir applies the umask; the volume's mode is what upstream gives a new subpath.
          chmodSync(next, dirMode);
        } catch {
          throw new Error(`failed to create subPath directory for ${ids}`);
        }
        cur = next;
      }
    }
    return cur;
  }

  /**
   * Upstream's safe subpath: opens the checked path without following a final symlink, checks
   * where the descriptor really points, and bind-mounts the descriptor (not the path) onto a
   * per-container target under the pod directory, which tearDownPod unmounts.
   */
  private async bindSubPath(podUID: string, volPath: string, resolved: string, vm: KObject, container: KObject, index: number): Promise<string> {
    const failed = () => new Error(`failed to prepare subPath for volumeMount ${JSON.stringify(vm.name)} of container ${JSON.stringify(container.name)}`);
    const root = realpathSync(volPath);
    let fd: number;
    try {
      fd = openSync(resolved, O_PATH | constants.O_NOFOLLOW | O_CLOEXEC);
    } catch {
      throw failed();
    }
    try {
      const real = readlinkSync(`/proc/self/fd/${fd}`);
      if (real !== root && !real.startsWith(root + '/')) throw failed();
      const isDir = fstatSync(fd).isDirectory();
      const target = path.join(this.podDir(podUID), 'volume-subpaths', vm.name, container.name, String(index));
      // A restarted container binds afresh (a ConfigMap key then shows its current content).
      if ((await mountsUnder(target)).includes(target)) await this.mounter.umount(target);
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o750 });
      const st = await fs.lstat(target).catch(() => undefined);
      if (st && st.isDirectory() !== isDir) await fs.rm(target, { recursive: true });
      if (isDir) await fs.mkdir(target, { recursive: true });
      else await fs.writeFile(target, '', { flag: 'a' });
      await this.mounter.bind(`/proc/${process.pid}/fd/${fd}`, target).catch(() => {
        throw failed();
      });
      return target;
    } finally {
      closeSync(fd);
    }
  }

  /** `<pod dir>/etc-hosts`. */
  etcHostsPath(podUID: string): string {
    return path.join(this.podDir(podUID), 'etc-hosts');
  }

  /**
   * Writes the pod's /etc/hosts (upstream's managed hosts file: localhost entries, the pod's IPs
   * with its hostname and FQDN, hostAliases; for host-network pods the node's file plus aliases)
   * and returns its path.
   */
  writeEtcHosts(pod: KObject, podIPs: string[]): string {
    const p = this.etcHostsPath(pod.metadata.uid);
    mkdirSync(path.dirname(p), { recursive: true, mode: 0o750 });
    const aliases = pod.spec?.hostAliases ?? [];
    let content: string;
    if (pod.spec?.hostNetwork) {
      content = nodeHostsFileContent(readFileSync(this.o.nodeHostsFile ?? '/etc/hosts', 'utf8'), aliases);
    } else {
      const { hostname, domain } = podHostnameAndDomain(pod, this.o.clusterDomain ?? 'cluster.local');
      content = managedHostsFileContent(podIPs, hostname, domain, aliases);
    }
    writeFileSync(p, content, { mode: 0o644 });
    return p;
  }

  /**
   * Unmounts what is mounted under the pod directory (tmpfs emptyDirs), then removes it. Symlinks
   * are removed, never followed. Throws, removing nothing, if a mount cannot be undone.
   */
  async tearDownPod(podUID: string): Promise<void> {
    const dir = this.podDir(podUID);
    if (!(await fs.lstat(dir).catch(() => undefined))) return;
    for (const tokenKey of [...this.tokens.keys()]) if (tokenKey.startsWith(`${podUID}/`)) this.tokens.delete(tokenKey);
    for (const claimKey of [...this.claims.keys()]) if (claimKey.startsWith(`${podUID}/`)) this.claims.delete(claimKey);
    for (const mp of await mountsUnder(dir)) await this.mounter.umount(mp).catch(() => undefined);
    const left = await mountsUnder(dir);
    if (left.length) throw new Error(`cannot remove pod directory ${dir}: still mounted: ${left.join(', ')}`);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * A volumeMount's subPathExpr expanded from the container's environment (upstream
 * ExpandContainerVolumeMounts): only `$(VAR)`, and every variable must be set and non-empty.
 */
export function expandSubPathExpr(expr: string, env: { key: string; value: string }[]): string {
  const envMap = new Map(env.map((e) => [e.key, e.value]));
  const missing = new Set<string>();
  const out = expandVars(expr, (n) => {
    const v = envMap.get(n);
    if (!v) missing.add(n);
    return v ?? '';
  });
  if (missing.size) throw new Error(`missing value for ${[...missing].sort().join(', ')}`);
  return out;
}

/** Which plugin directory a volume uses, or undefined (hostPath, unsupported types). */
function pluginOf(vol: KObject): ApiPlugin | undefined {
  if (vol.emptyDir) return 'emptyDir';
  if (vol.configMap) return 'configMap';
  if (vol.secret) return 'secret';
  if (vol.downwardAPI) return 'downwardAPI';
  if (vol.projected) return 'projected';
  return undefined;
}

function isAlwaysReadOnly(vol: KObject): boolean {
  return !!(vol.configMap || vol.secret || vol.downwardAPI || vol.projected);
}

function propagationOf(p: string | undefined): MountPropagation {
  if (p === 'HostToContainer') return 'PROPAGATION_HOST_TO_CONTAINER';
  if (p === 'Bidirectional') return 'PROPAGATION_BIDIRECTIONAL';
  return 'PROPAGATION_PRIVATE';
}

/** upstream configmap/secret MakePayload: all keys with defaultMode, or the listed items. */
function makePayload(data: Map<string, Buffer>, items: KObject[] | undefined, defaultMode: number, optional: boolean, missing: (k: string) => string): Payload {
  const payload: Payload = new Map();
  if (!items?.length) {
    for (const [k, v] of data) payload.set(k, { data: v, mode: defaultMode });
    return payload;
  }
  for (const it of items) {
    const v = data.get(it.key);
    if (!v) {
      if (optional) continue;
      throw new Error(missing(it.key));
    }
    validatePayloadPath(it.path);
    payload.set(it.path, { data: v, mode: it.mode ?? defaultMode } satisfies FileProjection);
  }
  return payload;
}

/** hostPath type checks (upstream checkTypeInternal); the *OrCreate types create what is missing. */
export async function checkHostPath(p: string, type: string): Promise<void> {
  const st = await fs.stat(p).catch(() => undefined);
  if (type === 'DirectoryOrCreate' && !st) return void (await fs.mkdir(p, { recursive: true, mode: 0o755 }));
  if (type === 'FileOrCreate' && !st) return void (await (await fs.open(p, 'a', 0o644)).close());
  switch (type) {
    case '':
      return;
    case 'DirectoryOrCreate':
    case 'Directory':
      if (!st) throw new Error(`hostPath type check failed: ${p} does not exist`);
      if (!st.isDirectory()) throw new Error(`hostPath type check failed: ${p} is not a directory`);
      return;
    case 'FileOrCreate':
    case 'File':
      if (!st) throw new Error(`hostPath type check failed: ${p} does not exist`);
      if (!st.isFile()) throw new Error(`hostPath type check failed: ${p} is not a file`);
      return;
    case 'Socket':
      if (!st?.isSocket()) throw new Error(`hostPath type check failed: ${p} is not a socket file`);
      return;
    case 'CharDevice':
      if (!st?.isCharacterDevice()) throw new Error(`hostPath type check failed: ${p} is not a character device`);
      return;
    case 'BlockDevice':
      if (!st?.isBlockDevice()) throw new Error(`hostPath type check failed: ${p} is not a block device`);
      return;
  }
  throw new Error(`${type} is an invalid volume type`);
}
