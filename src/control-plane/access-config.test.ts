import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openStore } from '../store/index.js';
import { clusterAccessConfig } from './access-config.js';

describe('cluster access settings for the data plane', () => {
  it('finds a managed cluster by the id in its API URL, with its Entra profile and local accounts', async () => {
    const store = await openStore({ url: 'sqlite::memory:' });
    try {
      await store.createSubscription({ id: 'sub1', tenantId: 't1', displayName: 'S', state: 'Enabled', createdAt: 1 });
      const aad = { managed: true, enableAzureRBAC: true, adminGroupObjectIDs: ['g1'], tenantID: 't1', clientAppID: null, serverAppID: null };
      await store.createResource({
        id: '/subscriptions/sub1/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1', subscriptionId: 'sub1', resourceGroup: 'rg',
        type: 'Microsoft.ContainerService/managedClusters', name: 'c1', location: 'eastus', tags: {}, etag: '"1"',
        body: { properties: { kubernetesVersion: '1.32.7', enableRBAC: true, disableLocalAccounts: true } }, secrets: { uid: 'u-1', aad, adminToken: 'abc' },
        createdAt: 1, updatedAt: 1,
      });
      const config = await clusterAccessConfig(store, 'u-1');
      assert.deepEqual(config, {
        uid: 'u-1', resourceId: '/subscriptions/sub1/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1', kind: 'managedCluster',
        kubernetesVersion: '1.32.7', enableRBAC: true, disableLocalAccounts: true, aad, localCaPem: null, adminToken: 'abc',
      });
      assert.equal(await clusterAccessConfig(store, 'nope'), null);
    } finally {
      await store.close();
    }
  });
});
