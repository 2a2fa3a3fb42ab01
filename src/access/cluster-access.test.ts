import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ClusterAccessService,
  DEFAULT_SETTINGS_CHECK_MS,
  defaultRbacObjects,
  type AccessCacheOptions,
  type ClusterSettings,
  type TokenAuthenticator,
} from './index.js';

// The cluster-access service over fake ports (the ports are the whole of its outside world): chains
// built once per cluster, a new revision re-reads the settings, only changed settings rebuild.

const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const LEGACY_SERVER = '5e5e5e5e-0000-4000-8000-000000000001';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ORIGIN = 'https://localhost:8443';

function fakeCluster(caches?: AccessCacheOptions) {
  const clock = { t: 0 };
  const fakeSettings: ClusterSettings = {
    uid: 'u1',
    resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1',
    kind: 'managedCluster',
    kubernetesVersion: '1.32.7',
    enableRBAC: true,
    disableLocalAccounts: false,
    localCaPem: null,
    adminToken: 'admin-token-0123456789abcdef',
    serviceAccountKey: null,
    aad: {
      managed: false,
      enableAzureRBAC: false,
      adminGroupObjectIDs: null,
      tenantID: TENANT,
      clientAppID: null,
      serverAppID: LEGACY_SERVER,
    },
    revision: 1,
  };
  let settings: ClusterSettings | null = { ...fakeSettings };
  const reads = { revision: 0, settings: 0 };
  const wrapped: string[] = [];
  const service = new ClusterAccessService({
    clock: { now: () => clock.t },
    caches,
    settings: {
      revision: async (uid) => {
        reads.revision++;
        await new Promise((r) => setImmediate(r));
        return uid === 'u1' && settings ? settings.revision : /^c\d+$/.test(uid) ? 1 : null;
      },
      settings: async (uid) => {
        reads.settings++;
        return uid === 'u1' && settings ? { ...settings } : /^c\d+$/.test(uid) ? { ...fakeSettings, uid, revision: 1 } : null;
      },
    },
    keys: { publicKey: () => undefined },
    groups: { memberGroups: async () => [] },
    dataActions: { checkDataAction: async () => ({ allowed: false }) },
    objects: { rbacObjects: async () => defaultRbacObjects(), serviceAccountUid: async () => null },
    // The hook a proof-of-possession check uses: it sees each Entra authenticator built, with its cluster's settings.
    wrapEntra: (inner: TokenAuthenticator, s) => {
      wrapped.push(s.aad?.serverAppID ?? AKS_SERVER);
      return inner;
    },
  });
  return {
    service,
    reads,
    wrapped,
    set: (next: ClusterSettings | null) => {
      settings = next;
    },
    get: () => settings!,
    /** Moves the clock past the settings check interval (each request then reads the revision again). */
    later: () => {
      clock.t += DEFAULT_SETTINGS_CHECK_MS;
    },
    tick: (ms: number) => {
      clock.t += ms;
    },
  };
}

describe('the cluster-access service', () => {
  it("builds a cluster's chains once; each request reads only the revision, concurrent ones share the read", async () => {
    const c = fakeCluster();
    const first = await c.service.cluster('u1', ORIGIN);
    assert.ok(first);
    c.later();
    const again = await Promise.all([1, 2, 3].map(() => c.service.cluster('u1', ORIGIN)));
    assert.ok(
      again.every((x) => x === first),
      'the same chains, with their caches',
    );
    assert.equal(c.reads.settings, 1);
    assert.equal(c.reads.revision, 2, 'one read for the first request, one shared by the three concurrent ones');
    assert.deepEqual(c.wrapped, [LEGACY_SERVER]);
  });

  it('a new revision re-reads the settings; the chains are rebuilt only when what they depend on changed', async () => {
    const c = fakeCluster();
    const legacy = (await c.service.cluster('u1', ORIGIN))!;
    c.set({ ...c.get(), kubernetesVersion: '1.33.7', revision: 2 });
    c.later();
    const sameChains = (await c.service.cluster('u1', ORIGIN))!;
    assert.equal(sameChains.authenticateEntra, legacy.authenticateEntra, 'a version change keeps the token cache');
    assert.equal(sameChains.settings.kubernetesVersion, '1.33.7');
    c.set({
      ...c.get(),
      aad: { managed: true, enableAzureRBAC: false, adminGroupObjectIDs: ['g'], tenantID: TENANT, clientAppID: null, serverAppID: null },
      revision: 3,
    });
    c.later();
    const managed = (await c.service.cluster('u1', ORIGIN))!;
    assert.notEqual(managed.authenticateEntra, legacy.authenticateEntra, 'a migration to managed integration rebuilds the chains at once');
    assert.deepEqual(c.wrapped, [LEGACY_SERVER, AKS_SERVER]);
    assert.equal(c.reads.settings, 3);
  });

  it('a cluster that is gone answers null, and its chains are forgotten', async () => {
    const c = fakeCluster();
    assert.ok(await c.service.cluster('u1', ORIGIN));
    c.set(null);
    c.later();
    assert.equal(await c.service.cluster('u1', ORIGIN), null);
    assert.equal(await c.service.authenticate('u1', ORIGIN, 'admin-token-0123456789abcdef'), null);
    assert.equal(await c.service.cluster('nope', ORIGIN), null);
  });

  it('within the settings check interval a request reuses the last revision read; after it, the next request reads again', async () => {
    const c = fakeCluster();
    const first = await c.service.cluster('u1', ORIGIN);
    c.set({ ...c.get(), disableLocalAccounts: true, revision: 2 });
    c.tick(DEFAULT_SETTINGS_CHECK_MS - 1);
    assert.equal(await c.service.cluster('u1', ORIGIN), first, 'inside the interval: the chains as they were, no read');
    assert.equal(c.reads.revision, 1);
    c.tick(1);
    const changed = await c.service.cluster('u1', ORIGIN);
    assert.notEqual(changed, first, 'once the interval has passed the change is seen');
    assert.equal(changed?.settings.disableLocalAccounts, true);
    assert.equal(c.reads.revision, 2);
  });

  it('with a settings check of 0 every request reads the revision (no staleness at all)', async () => {
    const c = fakeCluster({ settingsCheckMs: 0 });
    const first = await c.service.cluster('u1', ORIGIN);
    c.set({ ...c.get(), disableLocalAccounts: true, revision: 2 });
    const changed = await c.service.cluster('u1', ORIGIN);
    assert.notEqual(changed, first);
    assert.equal(c.reads.revision, 2);
  });

  it("keeps at most caches.clusters clusters' chains: the least recently used is dropped and rebuilt when asked again", async () => {
    const c = fakeCluster({ clusters: 2 });
    const c1 = await c.service.cluster('c1', ORIGIN);
    await c.service.cluster('c2', ORIGIN);
    assert.equal(await c.service.cluster('c1', ORIGIN), c1, 'c1 used again: c2 is now the least recently used');
    await c.service.cluster('c3', ORIGIN);
    assert.equal(c.service.cachedClusters, 2);
    assert.equal(c.reads.settings, 3);
    assert.equal(await c.service.cluster('c1', ORIGIN), c1, 'c1 was kept');
    assert.equal(c.reads.settings, 3);
    await c.service.cluster('c2', ORIGIN);
    assert.equal(c.reads.settings, 4, 'c2 was dropped: its settings are read again and its chains rebuilt');
    assert.equal(c.service.cachedClusters, 2);
  });

  it('the local admin token and the RBAC chain come from the settings and the object port', async () => {
    const c = fakeCluster();
    const admin = await c.service.authenticate('u1', ORIGIN, 'admin-token-0123456789abcdef');
    assert.equal(admin?.kind, 'user');
    const d = await c.service.authorize('u1', ORIGIN, {
      user: { username: 'nobody', uid: '', groups: [], extra: {} },
      verb: 'list',
      resourceRequest: true,
      namespace: 'default',
      apiGroup: '',
      resource: 'pods',
      subresource: '',
      name: '',
    });
    assert.equal(d?.decision, 'no-opinion');
    assert.deepEqual(
      d?.steps.map((s) => s.name),
      ['system:masters', 'RBAC'],
    );
  });
});
