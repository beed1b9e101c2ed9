import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteBackend } from '../../../storage/sqlite/sqlite-backend.js';
import { StatusError } from '../../../api/errors.js';
import { Store } from '../../registry/generic/store.js';
import type { KObject, Strategy } from '../../registry/generic/strategy.js';
import { podStrategy } from '../../registry/core/pods/strategy.js';
import { namespaceStrategy } from '../../registry/core/namespaces/strategy.js';
import { admissionChain, cachedReader, type AdmissionAttributes, type AdmissionOperation, type AdmissionPlugin } from '../index.js';
import { namespaceLifecycle } from '../namespace-lifecycle.js';
import { isSignificantPodUpdate, podSecurity, type PodSecurityOptions } from './index.js';

/** A store that only names a workload resource; the plugin reads nothing else from it. */
function workloadStrategy(group: string, resource: string, kind: string): Strategy {
  return { info: { group, version: 'v1', resource, singular: kind.toLowerCase(), kind, namespaced: true } };
}

const privilegedPod = (name: string, ns = 'ns'): KObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns },
  spec: { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] },
});

/** A pod that passes baseline but not restricted. */
const plainPod = (name: string, ns = 'ns', extra: KObject = {}): KObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, ...extra },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
});

/** A pod that passes restricted. */
const restrictedPod = (name: string, ns = 'ns'): KObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns },
  spec: {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [{ name: 'c', image: 'busybox', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
  },
});

const restrictedReasons =
  'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ' +
  'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ' +
  'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ' +
  'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")';

interface Outcome {
  error?: StatusError;
  warnings: string[];
  annotations: Record<string, string>;
}

describe('PodSecurity admission', () => {
  let backend: SqliteBackend;
  let namespaces: Store;
  let pods: Store;
  const stores = new Map<string, Store>();

  beforeEach(() => {
    backend = SqliteBackend.open({ path: ':memory:' });
    namespaces = new Store(namespaceStrategy(), backend);
    pods = new Store(podStrategy(), backend);
    stores.clear();
    stores.set('/namespaces', namespaces);
    stores.set('/pods', pods);
    stores.set('apps/deployments', new Store(workloadStrategy('apps', 'deployments', 'Deployment'), backend));
    stores.set('batch/cronjobs', new Store(workloadStrategy('batch', 'cronjobs', 'CronJob'), backend));
  });
  afterEach(async () => {
    await backend.close();
  });

  async function ns(name: string, labels: Record<string, string> = {}): Promise<KObject> {
    return namespaces.create('', { metadata: { name, labels } });
  }

  async function admit(
    plugin: AdmissionPlugin,
    resource: string,
    operation: AdmissionOperation,
    object: KObject,
    more: { oldObject?: KObject; username?: string; subresource?: string } = {},
  ): Promise<Outcome> {
    const out: Outcome = { warnings: [], annotations: {} };
    const a: AdmissionAttributes = {
      operation,
      object,
      oldObject: more.oldObject,
      store: stores.get(resource)!,
      lookup: (g, r) => stores.get(`${g}/${r}`),
      cached: cachedReader((g, r) => stores.get(`${g}/${r}`)),
      user: more.username ? { username: more.username, groups: ['system:authenticated'] } : undefined,
      subresource: more.subresource ?? '',
      dryRun: false,
      warn: (t) => out.warnings.push(t),
      annotate: (k, v) => (out.annotations[k] = v),
    };
    try {
      await plugin.validate!(a);
    } catch (e) {
      if (!(e instanceof StatusError)) throw e;
      out.error = e;
    }
    return out;
  }

  describe('pods', () => {
    it('enforce refuses a violating pod with 403 and upstream message, and records the enforced policy', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/enforce': 'baseline' });
      const got = await admit(podSecurity(), '/pods', 'CREATE', privilegedPod('x'));
      assert.equal(got.error?.code, 403);
      assert.equal(got.error?.reason, 'Forbidden');
      assert.equal(got.error?.message, 'pods "x" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)');
      assert.deepEqual(got.annotations, { 'pod-security.kubernetes.io/enforce-policy': 'baseline:latest' });
      assert.deepEqual(got.warnings, []);
    });

    it('several failures are joined with commas in upstream check order', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/enforce': 'restricted' });
      const pod = privilegedPod('x');
      pod.spec.hostNetwork = true;
      pod.spec.volumes = [{ name: 'h', hostPath: { path: '/' } }];
      const got = await admit(podSecurity(), '/pods', 'CREATE', pod);
      assert.equal(
        got.error?.message,
        'pods "x" is forbidden: violates PodSecurity "restricted:latest": host namespaces (hostNetwork=true), ' +
          'privileged (container "c" must not set securityContext.privileged=true), ' +
          restrictedReasons.replace('runAsNonRoot', 'restricted volume types (volume "h" uses restricted volume type "hostPath"), runAsNonRoot'),
      );
    });

    it('a compliant pod is admitted without warnings', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' });
      const got = await admit(podSecurity(), '/pods', 'CREATE', restrictedPod('ok'));
      assert.equal(got.error, undefined);
      assert.deepEqual(got.warnings, []);
    });

    it('warn and audit levels produce a Warning and an audit annotation but admit the pod', async () => {
      await ns('ns', {
        'pod-security.kubernetes.io/enforce': 'baseline',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/audit': 'restricted',
      });
      const got = await admit(podSecurity(), '/pods', 'CREATE', plainPod('p'));
      assert.equal(got.error, undefined);
      assert.deepEqual(got.warnings, [`would violate PodSecurity "restricted:latest": ${restrictedReasons}`]);
      assert.deepEqual(got.annotations, {
        'pod-security.kubernetes.io/enforce-policy': 'baseline:latest',
        'pod-security.kubernetes.io/audit-violations': `would violate PodSecurity "restricted:latest": ${restrictedReasons}`,
      });
    });

    it('a refused pod gets no warnings, only the refusal and the audit annotation', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/enforce': 'baseline', 'pod-security.kubernetes.io/warn': 'restricted', 'pod-security.kubernetes.io/audit': 'baseline' });
      const got = await admit(podSecurity(), '/pods', 'CREATE', privilegedPod('x'));
      assert.equal(got.error?.code, 403);
      assert.deepEqual(got.warnings, []);
      assert.equal(got.annotations['pod-security.kubernetes.io/audit-violations'], 'would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)');
    });

    it('an unlabeled namespace is privileged by default and admits anything', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/enforce-version': 'v1.20' });
      const got = await admit(podSecurity(), '/pods', 'CREATE', privilegedPod('x'));
      assert.equal(got.error, undefined);
      assert.deepEqual(got.warnings, []);
      assert.deepEqual(got.annotations, { 'pod-security.kubernetes.io/enforce-policy': 'privileged:latest' });
    });

    it('configured defaults apply to namespaces without labels', async () => {
      await ns('ns');
      const plugin = podSecurity({ defaults: { enforce: 'baseline', warn: 'restricted' } });
      const refused = await admit(plugin, '/pods', 'CREATE', privilegedPod('x'));
      assert.equal(refused.error?.message, 'pods "x" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)');
      const warned = await admit(plugin, '/pods', 'CREATE', plainPod('p'));
      assert.deepEqual(warned.warnings, [`would violate PodSecurity "restricted:latest": ${restrictedReasons}`]);
    });

    it('invalid defaults are a configuration error', () => {
      assert.throws(() => podSecurity({ defaults: { enforce: 'strict' } }), /must be one of privileged, baseline, restricted/);
      assert.throws(() => podSecurity({ defaults: { enforceVersion: 'v2.0' } }), /must be "latest" or "v1.x"/);
    });

    it('a versioned label is named in the message and skips checks newer than that version', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/enforce': 'baseline', 'pod-security.kubernetes.io/enforce-version': 'v1.30' });
      const probeHost = plainPod('p');
      probeHost.spec.containers[0].livenessProbe = { httpGet: { port: 80, host: 'example.com' } };
      assert.equal((await admit(podSecurity(), '/pods', 'CREATE', probeHost)).error, undefined);
      const got = await admit(podSecurity(), '/pods', 'CREATE', privilegedPod('x'));
      assert.match(got.error?.message ?? '', /violates PodSecurity "baseline:v1\.30": privileged/);
      await namespaces.update({ namespace: '', name: 'ns' }, { metadata: { name: 'ns', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } } });
      const latest = await admit(podSecurity(), '/pods', 'CREATE', probeHost);
      assert.equal(latest.error?.message, 'pods "p" is forbidden: violates PodSecurity "baseline:latest": probe or lifecycle host (container "c" uses probe or lifecycle host "example.com")');
    });

    it('an invalid enforce label on an existing namespace evaluates as restricted and records the parse error', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/enforce': 'bogus' });
      const got = await admit(podSecurity(), '/pods', 'CREATE', plainPod('p'));
      assert.equal(got.error?.message, `pods "p" is forbidden: violates PodSecurity "restricted:latest": ${restrictedReasons}`);
      assert.equal(
        got.annotations['pod-security.kubernetes.io/error'],
        'Failed to parse policy: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted',
      );
    });

    it('an invalid warn label fails open to privileged', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/warn': 'bogus' });
      const got = await admit(podSecurity(), '/pods', 'CREATE', privilegedPod('x'));
      assert.equal(got.error, undefined);
      assert.deepEqual(got.warnings, []);
    });

    const skipped: { name: string; subresource?: string; operation: AdmissionOperation; change: (p: KObject) => void }[] = [
      { name: 'status updates are not evaluated', subresource: 'status', operation: 'UPDATE', change: (p) => (p.status = { phase: 'Running' }) },
      { name: 'bindings are not evaluated', subresource: 'binding', operation: 'CREATE', change: () => {} },
      { name: 'evictions are not evaluated', subresource: 'eviction', operation: 'CREATE', change: () => {} },
      { name: 'an update that only changes labels is not evaluated', operation: 'UPDATE', change: (p) => (p.metadata.labels = { a: 'b' }) },
      { name: 'deletes are not evaluated', operation: 'DELETE', change: () => {} },
    ];
    for (const tc of skipped) {
      it(tc.name, async () => {
        await ns('ns', { 'pod-security.kubernetes.io/enforce': 'restricted' });
        const old = privilegedPod('x');
        const next = structuredClone(old);
        tc.change(next);
        const got = await admit(podSecurity(), '/pods', tc.operation, next, { oldObject: old, subresource: tc.subresource });
        assert.equal(got.error, undefined);
      });
    }

    it('an update that changes a container image is evaluated', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/enforce': 'baseline' });
      const old = privilegedPod('x');
      const next = structuredClone(old);
      next.spec.containers[0].image = 'busybox:2';
      const got = await admit(podSecurity(), '/pods', 'UPDATE', next, { oldObject: old });
      assert.equal(got.error?.code, 403);
    });

    it('adding an ephemeral container through its subresource is evaluated', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/enforce': 'baseline' });
      const old = plainPod('x');
      const next = structuredClone(old);
      next.spec.ephemeralContainers = [{ name: 'debug', image: 'busybox', securityContext: { privileged: true } }];
      const got = await admit(podSecurity(), '/pods', 'UPDATE', next, { oldObject: old, subresource: 'ephemeralcontainers' });
      assert.equal(got.error?.message, 'pods "x" is forbidden: violates PodSecurity "baseline:latest": privileged (container "debug" must not set securityContext.privileged=true)');
    });

    it('kube-system is not special: its labels are enforced like any namespace', async () => {
      await ns('kube-system', { 'pod-security.kubernetes.io/enforce': 'baseline' });
      const got = await admit(podSecurity(), '/pods', 'CREATE', privilegedPod('x', 'kube-system'));
      assert.equal(got.error?.code, 403);
    });

    const exemptions: { name: string; opts: PodSecurityOptions; pod: KObject; username?: string; reason: string }[] = [
      { name: 'an exempt namespace admits a violating pod', opts: { exemptions: { namespaces: ['kube-system'] } }, pod: privilegedPod('x', 'kube-system'), reason: 'namespace' },
      { name: 'an exempt user may create a violating pod', opts: { exemptions: { usernames: ['system:serviceaccount:kube-system:daemon-set-controller'] } }, pod: privilegedPod('x', 'kube-system'), username: 'system:serviceaccount:kube-system:daemon-set-controller', reason: 'user' },
      {
        name: 'a pod with an exempt runtime class is admitted',
        opts: { exemptions: { runtimeClasses: ['kata'] } },
        pod: { ...privilegedPod('x', 'kube-system'), spec: { ...privilegedPod('x').spec, runtimeClassName: 'kata' } },
        reason: 'runtimeClass',
      },
    ];
    for (const tc of exemptions) {
      it(tc.name, async () => {
        await ns('kube-system', { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' });
        const got = await admit(podSecurity(tc.opts), '/pods', 'CREATE', tc.pod, { username: tc.username });
        assert.equal(got.error, undefined);
        assert.deepEqual(got.warnings, []);
        assert.deepEqual(got.annotations, { 'pod-security.kubernetes.io/exempt': tc.reason });
      });
    }

    it('a non-exempt user is still refused', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/enforce': 'baseline' });
      const got = await admit(podSecurity({ exemptions: { usernames: ['admin'] } }), '/pods', 'CREATE', privilegedPod('x'), { username: 'alice' });
      assert.equal(got.error?.code, 403);
    });
  });

  describe('through the admission chain', () => {
    it('a store create is refused, and a warning reaches the request hooks', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/enforce': 'baseline', 'pod-security.kubernetes.io/warn': 'restricted' });
      const chained = new Store(podStrategy(), backend, { admit: admissionChain((g, r) => stores.get(`${g}/${r}`), [namespaceLifecycle, podSecurity()]) });
      const warnings: string[] = [];
      const annotations: Record<string, string> = {};
      const hooks = { warn: (t: string) => warnings.push(t), annotate: (k: string, v: string) => (annotations[k] = v) };
      await assert.rejects(chained.create('ns', privilegedPod('x'), { hooks }), (e: unknown) => {
        assert.ok(e instanceof StatusError);
        assert.equal(e.message, 'pods "x" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)');
        return true;
      });
      await assert.rejects(pods.get({ namespace: 'ns', name: 'x' }), /not found/);
      const created = await chained.create('ns', plainPod('p'), { hooks });
      assert.equal(created.metadata.name, 'p');
      assert.deepEqual(warnings, [`would violate PodSecurity "restricted:latest": ${restrictedReasons}`]);
      assert.equal(annotations['pod-security.kubernetes.io/enforce-policy'], 'baseline:latest');
    });
  });

  describe('workloads', () => {
    const deployment = (): KObject => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'ns' },
      spec: { template: { metadata: { labels: { app: 'web' } }, spec: privilegedPod('t').spec } },
    });

    it('a deployment violating enforce and warn is admitted with a warning, never refused', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'baseline' });
      const got = await admit(podSecurity(), 'apps/deployments', 'CREATE', deployment());
      assert.equal(got.error, undefined);
      assert.deepEqual(got.warnings, ['would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)']);
      assert.equal(got.annotations['pod-security.kubernetes.io/enforce-policy'], undefined);
    });

    it('a deployment in a namespace that only enforces gets no warning', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/enforce': 'restricted' });
      const got = await admit(podSecurity(), 'apps/deployments', 'CREATE', deployment());
      assert.equal(got.error, undefined);
      assert.deepEqual(got.warnings, []);
    });

    it('a cronjob is checked through jobTemplate.spec.template and audited', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/audit': 'baseline' });
      const cj = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'cj', namespace: 'ns' }, spec: { jobTemplate: { spec: { template: { spec: privilegedPod('t').spec } } } } };
      const got = await admit(podSecurity(), 'batch/cronjobs', 'CREATE', cj);
      assert.equal(got.annotations['pod-security.kubernetes.io/audit-violations'], 'would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)');
    });

    it('a workload subresource write is not evaluated', async () => {
      await ns('ns', { 'pod-security.kubernetes.io/warn': 'baseline' });
      const got = await admit(podSecurity(), 'apps/deployments', 'UPDATE', deployment(), { oldObject: deployment(), subresource: 'scale' });
      assert.deepEqual(got.warnings, []);
    });
  });

  describe('namespaces', () => {
    it('creating a namespace with an invalid level is refused with upstream message', async () => {
      const obj = { metadata: { name: 'bad', labels: { 'pod-security.kubernetes.io/enforce': 'strict' } } };
      const got = await admit(podSecurity(), '/namespaces', 'CREATE', obj);
      assert.equal(got.error?.code, 422);
      assert.equal(got.error?.message, 'Namespace "bad" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted');
    });

    it('creating a namespace with an invalid version is refused', async () => {
      const obj = { metadata: { name: 'bad', labels: { 'pod-security.kubernetes.io/warn-version': 'v1.05' } } };
      const got = await admit(podSecurity(), '/namespaces', 'CREATE', obj);
      assert.equal(got.error?.message, 'Namespace "bad" is invalid: metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "v1.05": must be "latest" or "v1.x"');
    });

    it('an update may keep an already invalid label but not introduce a new one', async () => {
      const old = await ns('ns', { 'pod-security.kubernetes.io/enforce': 'strict' });
      const keep = structuredClone(old);
      keep.metadata.labels.team = 'a';
      assert.equal((await admit(podSecurity(), '/namespaces', 'UPDATE', keep, { oldObject: old })).error, undefined);
      const worse = structuredClone(old);
      worse.metadata.labels['pod-security.kubernetes.io/audit'] = 'nope';
      const got = await admit(podSecurity(), '/namespaces', 'UPDATE', worse, { oldObject: old });
      assert.equal(got.error?.code, 422);
    });

    it('tightening enforce warns about existing pods, grouped by reasons and sorted', async () => {
      const old = await ns('ns');
      await pods.create('ns', privilegedPod('priv-b'));
      await pods.create('ns', privilegedPod('priv-a'));
      await pods.create('ns', plainPod('plain'));
      await pods.create('ns', restrictedPod('fine'));
      const next = structuredClone(old);
      next.metadata.labels = { 'pod-security.kubernetes.io/enforce': 'restricted' };
      const got = await admit(podSecurity(), '/namespaces', 'UPDATE', next, { oldObject: old });
      assert.equal(got.error, undefined);
      assert.deepEqual(got.warnings, [
        'existing pods in namespace "ns" violate the new PodSecurity enforce level "restricted:latest"',
        'plain: allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile',
        'priv-a (and 1 other pod): privileged, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile',
      ]);
    });

    it('relaxing enforce or leaving it unchanged checks no pods', async () => {
      const old = await ns('ns', { 'pod-security.kubernetes.io/enforce': 'restricted' });
      await pods.create('ns', privilegedPod('priv'));
      const relaxed = structuredClone(old);
      relaxed.metadata.labels['pod-security.kubernetes.io/enforce'] = 'baseline';
      assert.deepEqual((await admit(podSecurity(), '/namespaces', 'UPDATE', relaxed, { oldObject: old })).warnings, []);
      const same = structuredClone(old);
      same.metadata.labels.team = 'x';
      assert.deepEqual((await admit(podSecurity(), '/namespaces', 'UPDATE', same, { oldObject: old })).warnings, []);
    });

    it('pods with an exempt runtime class are not reported', async () => {
      const old = await ns('ns');
      const pod = privilegedPod('kata-pod');
      pod.spec.runtimeClassName = 'kata';
      await pods.create('ns', pod);
      const next = structuredClone(old);
      next.metadata.labels = { 'pod-security.kubernetes.io/enforce': 'baseline' };
      const got = await admit(podSecurity({ exemptions: { runtimeClasses: ['kata'] } }), '/namespaces', 'UPDATE', next, { oldObject: old });
      assert.deepEqual(got.warnings, []);
    });

    it('an exempt namespace that sets a policy is told it will be ignored', async () => {
      const old = await ns('kube-system');
      const next = structuredClone(old);
      next.metadata.labels = { 'pod-security.kubernetes.io/enforce': 'baseline', 'pod-security.kubernetes.io/warn': 'restricted' };
      const got = await admit(podSecurity({ exemptions: { namespaces: ['kube-system'] } }), '/namespaces', 'UPDATE', next, { oldObject: old });
      assert.deepEqual(got.warnings, ['namespace "kube-system" is exempt from Pod Security, and the policy (enforce=baseline:latest, warn=restricted:latest) will be ignored']);
    });

    it('kube-system is checked like any namespace when not exempt', async () => {
      const old = await ns('kube-system');
      await pods.create('kube-system', privilegedPod('proxy', 'kube-system'));
      const next = structuredClone(old);
      next.metadata.labels = { 'pod-security.kubernetes.io/enforce': 'baseline' };
      const got = await admit(podSecurity(), '/namespaces', 'UPDATE', next, { oldObject: old });
      assert.deepEqual(got.warnings, ['existing pods in namespace "kube-system" violate the new PodSecurity enforce level "baseline:latest"', 'proxy: privileged']);
    });

    it('the pod check is bounded and says so', async () => {
      const old = await ns('ns');
      for (const n of ['a', 'b', 'c']) await pods.create('ns', privilegedPod(n));
      const next = structuredClone(old);
      next.metadata.labels = { 'pod-security.kubernetes.io/enforce': 'baseline' };
      const got = await admit(podSecurity({ namespaceMaxPodsToCheck: 2 }), '/namespaces', 'UPDATE', next, { oldObject: old });
      assert.deepEqual(got.warnings, [
        'new PodSecurity enforce level only checked against the first 2 of 3 existing pods',
        'existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest"',
        'a (and 1 other pod): privileged',
      ]);
    });
  });

  describe('isSignificantPodUpdate', () => {
    const base = plainPod('p');
    const cases: { name: string; change: (p: KObject) => void; want: boolean }[] = [
      { name: 'a label change is not significant', change: (p) => (p.metadata.labels = { x: 'y' }), want: false },
      { name: 'an activeDeadlineSeconds change is not significant', change: (p) => (p.spec.activeDeadlineSeconds = 5), want: false },
      { name: 'an image change is significant', change: (p) => (p.spec.containers[0].image = 'nginx'), want: true },
      { name: 'a new ephemeral container is significant', change: (p) => (p.spec.ephemeralContainers = [{ name: 'd', image: 'busybox' }]), want: true },
      { name: 'a container seccomp annotation change is significant', change: (p) => (p.metadata.annotations = { 'container.seccomp.security.alpha.kubernetes.io/c': 'unconfined' }), want: true },
    ];
    for (const tc of cases) {
      it(tc.name, () => {
        const next = structuredClone(base);
        tc.change(next);
        assert.equal(isSignificantPodUpdate(next, base), tc.want);
      });
    }
  });
});
