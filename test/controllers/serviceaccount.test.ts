import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from '../../src/client/resources.js';
import { ServiceAccountsController } from '../../src/controllers/serviceaccount/serviceaccounts-controller.js';
import { startHarness, until, type Harness } from './harness.js';

describe('ServiceAccounts controller', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await h.run(new ServiceAccountsController());
  });
  after(async () => h.stop());

  const getSA = (ns: string) => h.client.get(resources.serviceaccounts, ns, 'default').catch(() => undefined);

  it('gives the namespaces that exist at start a default ServiceAccount.', async () => {
    for (const ns of ['default', 'kube-system']) await until(async () => !!(await getSA(ns)), `default SA in ${ns}`);
  });

  it('gives a new namespace a default ServiceAccount.', async () => {
    await h.client.create(resources.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } });
    await until(async () => !!(await getSA('team-a')), 'default SA in team-a');
    const sa = (await getSA('team-a'))!;
    assert.equal(sa.metadata.namespace, 'team-a');
  });

  it('re-creates the default ServiceAccount after it is deleted.', async () => {
    const old = (await getSA('team-a'))!;
    await h.client.delete(resources.serviceaccounts, 'team-a', 'default');
    await until(async () => {
      const sa = await getSA('team-a');
      return !!sa && sa.metadata.uid !== old.metadata.uid;
    }, 'a new default SA in team-a');
  });

  it('leaves other ServiceAccounts deleted.', async () => {
    await h.client.create(resources.serviceaccounts, 'team-a', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder' } });
    await h.client.delete(resources.serviceaccounts, 'team-a', 'builder');
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(h.client.get(resources.serviceaccounts, 'team-a', 'builder'), /not found/);
  });
});
