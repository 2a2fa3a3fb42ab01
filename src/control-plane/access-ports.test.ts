import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openStore } from '../store/index.js';
import { controlPlaneAccessPorts } from './access-ports.js';
import { ClusterRecordError, clusterSecretsOf } from './cluster-record.js';

describe("the control plane as the access component's ports", () => {
  it('finds a managed cluster by the id in its API URL, with its Entra profile, local accounts, service-account key and revision', async () => {
    const store = await openStore({ url: 'sqlite::memory:' });
    try {
      const aad = {
        managed: true,
        enableAzureRBAC: true,
        adminGroupObjectIDs: ['g1'],
        tenantID: 't1',
        clientAppID: null,
        serverAppID: null,
      };
      const id = '/subscriptions/sub1/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1';
      await store.createResource({
        id,
        subscriptionId: 'sub1',
        resourceGroup: 'rg',
        type: 'Microsoft.ContainerService/managedClusters',
        name: 'c1',
        location: 'eastus',
        tags: {},
        etag: '"1"',
        body: { properties: { kubernetesVersion: '1.32.7', enableRBAC: true, disableLocalAccounts: true } },
        secrets: { uid: 'u-1', aad, adminToken: 'abc' },
        createdAt: 1,
        updatedAt: 1,
      });
      const ports = controlPlaneAccessPorts(store, { publicKey: () => undefined }, { now: () => 1 });
      const settings = await ports.settings.settings('u-1');
      assert.ok(settings?.serviceAccountKey?.kid, 'the service-account key is made on first use');
      assert.deepEqual(
        { ...settings, serviceAccountKey: null },
        {
          uid: 'u-1',
          resourceId: id,
          kind: 'managedCluster',
          kubernetesVersion: '1.32.7',
          enableRBAC: true,
          disableLocalAccounts: true,
          aad,
          localCaPem: null,
          adminToken: 'abc',
          serviceAccountKey: null,
          revision: await ports.settings.revision('u-1'),
        },
      );
      const before = settings!.revision;
      await store.updateResource(id, (r) => ({ ...r, tags: { a: 'b' } }));
      assert.equal(await ports.settings.revision('u-1'), before + 1, 'any write is a new revision');
      assert.equal(await ports.settings.settings('nope'), null);
      assert.equal(await ports.settings.revision('nope'), null);
    } finally {
      await store.close();
    }
  });

  it('reads the secrets bag through one typed accessor that refuses a malformed one', () => {
    const res = {
      id: '/x',
      subscriptionId: 's',
      resourceGroup: 'rg',
      type: 'Microsoft.ContainerService/managedClusters',
      name: 'c',
      location: 'eastus',
      tags: {},
      etag: '"1"',
      body: {},
      createdAt: 1,
      updatedAt: 1,
    };
    assert.deepEqual(clusterSecretsOf({ ...res, secrets: { uid: 'u', adminToken: 't', powerState: 'Stopped', attached: true } }), {
      uid: 'u',
      aad: null,
      adminToken: 't',
      caCertPem: null,
      caKeyPem: null,
      saKeyPem: null,
      saPublicKeyPem: null,
      saKid: null,
      powerState: 'Stopped',
      pendingOperation: null,
      attached: true,
      serverAppSecretHash: null,
      clientCertificates: {},
    });
    assert.throws(() => clusterSecretsOf({ ...res, secrets: {} }), ClusterRecordError);
    assert.throws(() => clusterSecretsOf({ ...res, secrets: { uid: 'u', powerState: 'Sleeping' } }), /powerState/);
    assert.throws(() => clusterSecretsOf({ ...res, secrets: { uid: 'u', aad: { managed: 'yes' } } }), /Entra profile/);
    assert.throws(() => clusterSecretsOf({ ...res, secrets: { uid: 'u', adminToken: 7 } }), /adminToken is not a string/);
  });
});
