import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { StoreError } from './errors.js';
import { compareIds, type Store } from './store.js';
import type {
  AccessLogRecord,
  Application,
  ArmResource,
  DeviceCode,
  Group,
  KubeObject,
  RefreshToken,
  SignInEvent,
  Tenant,
  User,
} from './types.js';

// One suite every Store backend must pass (dex's storage/conformance, for Kentra). Each test works in
// tenants of its own, so the tests share one store and stay independent.

const now = 1_800_000_000_000;
const id = () => randomUUID();

const tenant = (over: Partial<Tenant> = {}): Tenant => {
  const tid = id();
  return { id: tid, displayName: 'T', defaultDomain: `t${tid.slice(0, 8)}.onmicrosoft.com`, domains: [], createdAt: now, ...over };
};
const user = (tenantId: string, over: Partial<User> = {}): User => ({
  tenantId,
  id: id(),
  userPrincipalName: `u${id().slice(0, 8)}@example.com`,
  displayName: 'U',
  mailNickname: 'u',
  mail: null,
  passwordHash: 'scrypt$1$1$1$x$y',
  accountEnabled: true,
  userType: 'Member',
  homeTenantId: null,
  homeObjectId: null,
  createdAt: now,
  ...over,
});
const group = (tenantId: string, over: Partial<Group> = {}): Group => ({
  tenantId,
  id: id(),
  displayName: `g-${id().slice(0, 6)}`,
  mailNickname: 'g',
  description: null,
  securityEnabled: true,
  mailEnabled: false,
  createdAt: now,
  ...over,
});
const app = (tenantId: string, over: Partial<Application> = {}): Application => ({
  tenantId,
  id: id(),
  appId: id(),
  displayName: 'A',
  identifierUris: [],
  signInAudience: 'AzureADMyOrg',
  publicClientRedirectUris: [],
  webRedirectUris: ['https://a.example/cb'],
  isFallbackPublicClient: false,
  groupMembershipClaims: 'All',
  oauth2PermissionScopes: [
    { id: id(), value: 'access', type: 'User', adminConsentDisplayName: 'x', adminConsentDescription: 'x', isEnabled: true },
  ],
  appRoles: [],
  requiredResourceAccess: [{ resourceAppId: id(), resourceAccess: [{ id: id(), type: 'Scope' }] }],
  accessTokenAcceptedVersion: 2,
  firstParty: false,
  extra: { optionalClaims: { idToken: [] } },
  uniqueName: null,
  createdAt: now,
  ...over,
});
const deviceCode = (over: Partial<DeviceCode> = {}): DeviceCode => ({
  deviceCodeHash: id(),
  userCode: `UC${id().slice(0, 7).toUpperCase()}`,
  requestTenant: 'organizations',
  clientId: id(),
  scope: 'openid',
  status: 'pending',
  tenantId: null,
  userId: null,
  createdAt: now,
  expiresAt: now + 900_000,
  interval: 5,
  lastPolledAt: null,
  ...over,
});
const refresh = (over: Partial<RefreshToken> = {}): RefreshToken => ({
  tokenHash: id(),
  familyId: id(),
  tenantId: id(),
  clientId: id(),
  userId: id(),
  scope: 'openid',
  createdAt: now,
  expiresAt: now + 1000,
  rotatedAt: null,
  revokedAt: null,
  ...over,
});

const configMap = (
  clusterUid: string,
  namespace: string,
  name: string,
  data: Record<string, unknown> = {},
): Omit<KubeObject, 'resourceVersion'> => ({
  clusterUid,
  resource: '/configmaps',
  namespace,
  name,
  body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data },
});

const isConflict = (err: unknown) => err instanceof StoreError && err.code === 'conflict';

/**
 * `openSameDatabase`, when the backend has one database several stores can open (a file, a server),
 * opens a second store on the database `open` opened last: another instance of the same deployment.
 */
/** A managed cluster's ARM resource in a subscription of its own, for the store's tests (`extra` replaces fields). */
export function clusterResourceFixture(name: string, extra: Partial<ArmResource> = {}): ArmResource {
  const sub = randomUUID();
  return {
    id: `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/${name}`,
    subscriptionId: sub,
    resourceGroup: 'rg',
    type: 'Microsoft.ContainerService/managedClusters',
    name,
    location: 'eastus',
    tags: {},
    etag: '"1"',
    body: { properties: { provisioningState: 'Creating' } },
    secrets: {},
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    ...extra,
  };
}

export function runStoreConformance(name: string, open: () => Promise<Store>, openSameDatabase?: () => Promise<Store>): void {
  describe(`store conformance: ${name}`, () => {
    let s: Store;
    before(async () => {
      s = await open();
    });
    after(async () => {
      await s?.close();
    });

    it('creates, finds (case-insensitively by domain) and updates tenants', async () => {
      const t = tenant({ domains: ['Contoso.COM'] });
      await s.createTenant(t);
      assert.deepEqual(await s.getTenant(t.id), t);
      assert.equal((await s.findTenantByDomain(t.defaultDomain.toUpperCase()))?.id, t.id);
      assert.equal((await s.findTenantByDomain('contoso.com'))?.id, t.id);
      assert.equal(await s.findTenantByDomain('nowhere.example'), null);
      await assert.rejects(s.createTenant(t), isConflict);
      await assert.rejects(s.createTenant(tenant({ defaultDomain: t.defaultDomain })), isConflict, 'a domain belongs to one tenant');
      const updated = await s.updateTenant(t.id, (x) => ({ ...x, displayName: 'New', domains: ['fabrikam.net'] }));
      assert.equal(updated?.displayName, 'New');
      assert.equal((await s.findTenantByDomain('fabrikam.net'))?.id, t.id);
      assert.equal(await s.findTenantByDomain('contoso.com'), null, 'a removed domain no longer resolves');
      assert.equal(await s.updateTenant(id(), (x) => x), null);
      assert.ok((await s.listTenants()).some((x) => x.id === t.id));
    });

    it('keeps users with unique UPNs per tenant, found case-insensitively', async () => {
      const t = tenant();
      await s.createTenant(t);
      const u = user(t.id, { userPrincipalName: 'Alice@Contoso.com' });
      await s.createUser(u);
      assert.deepEqual(await s.getUser(t.id, u.id), u);
      assert.equal((await s.findUserByUpn(t.id, 'alice@contoso.COM'))?.id, u.id);
      await assert.rejects(s.createUser(user(t.id, { userPrincipalName: 'ALICE@contoso.com' })), isConflict);
      const other = tenant();
      await s.createTenant(other);
      await s.createUser(user(other.id, { userPrincipalName: 'alice@contoso.com' }));
      assert.equal(await s.getUser(other.id, u.id), null, 'users are per tenant');
      const updated = await s.updateUser(t.id, u.id, (x) => ({ ...x, accountEnabled: false, mail: 'a@b.c' }));
      assert.equal(updated?.accountEnabled, false);
      assert.equal((await s.getUser(t.id, u.id))?.mail, 'a@b.c');
      assert.equal(await s.updateUser(t.id, id(), (x) => x), null);
      await assert.rejects(
        s.updateUser(t.id, u.id, (x) => ({ ...x, id: id() })),
        (e: unknown) => e instanceof StoreError && e.code === 'invalid',
      );
    });

    it('finds the guest accounts of a home user', async () => {
      const home = tenant();
      const host = tenant();
      await s.createTenant(home);
      await s.createTenant(host);
      const h = user(home.id);
      await s.createUser(h);
      const g = user(host.id, { userType: 'Guest', passwordHash: null, homeTenantId: home.id, homeObjectId: h.id });
      await s.createUser(g);
      assert.deepEqual(
        (await s.listGuestAccounts(home.id, h.id)).map((x) => x.id),
        [g.id],
      );
      assert.deepEqual(await s.listGuestAccounts(home.id, id()), []);
    });

    it('pages through users, each exactly once', async () => {
      const t = tenant();
      await s.createTenant(t);
      const ids = new Set<string>();
      for (let i = 0; i < 23; i++) {
        const u = user(t.id);
        ids.add(u.id);
        await s.createUser(u);
      }
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      do {
        const page = await s.listUsers(t.id, { limit: 5, after });
        seen.push(...page.items.map((u) => u.id));
        after = page.next;
        pages++;
      } while (after);
      assert.equal(pages, 5);
      assert.equal(seen.length, 23);
      assert.deepEqual(new Set(seen), ids);
    });

    it('deletes a user with its memberships and assignments', async () => {
      const t = tenant();
      await s.createTenant(t);
      const u = user(t.id);
      const g = group(t.id);
      await s.createUser(u);
      await s.createGroup(g);
      await s.addGroupMember({ tenantId: t.id, groupId: g.id, memberId: u.id, memberType: 'user' });
      await s.addDirectoryRoleAssignment({ tenantId: t.id, principalId: u.id, roleTemplateId: id() });
      await s.createRoleAssignment({
        id: id(),
        tenantId: t.id,
        scope: '/subscriptions/x',
        roleDefinitionId: 'r',
        principalId: u.id,
        principalType: 'User',
        createdAt: now,
      });
      assert.equal(await s.deleteUser(t.id, u.id), true);
      assert.equal(await s.getUser(t.id, u.id), null);
      assert.deepEqual(await s.listGroupMembers(t.id, g.id), []);
      assert.deepEqual(await s.listDirectoryRoleAssignments(t.id, u.id), []);
      assert.deepEqual(await s.listRoleAssignments({ principalIds: [u.id] }), []);
      assert.equal(await s.deleteUser(t.id, u.id), false);
    });

    it('resolves transitive group membership through nesting and diamonds, each group once, and survives cycles', async () => {
      const t = tenant();
      await s.createTenant(t);
      const [a, b, c, d, e] = [group(t.id), group(t.id), group(t.id), group(t.id), group(t.id)];
      for (const g of [a, b, c, d, e]) await s.createGroup(g!);
      const u = user(t.id);
      await s.createUser(u);
      const add = (g: Group, m: string, type: 'user' | 'group' = 'group') =>
        s.addGroupMember({ tenantId: t.id, groupId: g.id, memberId: m, memberType: type });
      await add(a!, u.id, 'user');
      await add(b!, a!.id); // u ∈ a ∈ b
      await add(c!, a!.id); // u ∈ a ∈ c
      await add(d!, b!.id); // diamond: d reached through b and c
      await add(d!, c!.id);
      await assert.rejects(add(d!, c!.id), isConflict);
      assert.deepEqual(await s.listDirectGroupIds(t.id, u.id), [a!.id]);
      assert.deepEqual(await s.listTransitiveGroupIds(t.id, u.id), [a!.id, b!.id, c!.id, d!.id].sort());
      await assert.rejects(
        add(a!, d!.id),
        (e: unknown) => e instanceof StoreError && e.code === 'invalid' && /cycle/.test(e.message),
        'a cycle is refused',
      );
      await assert.rejects(
        add(e!, e!.id),
        (x: unknown) => x instanceof StoreError && x.code === 'invalid',
        'a group is not its own member',
      );
      assert.deepEqual(await s.listTransitiveGroupIds(t.id, u.id), [a!.id, b!.id, c!.id, d!.id].sort());
      assert.deepEqual((await s.listGroupMembers(t.id, d!.id)).map((m) => m.memberId).sort(), [b!.id, c!.id].sort());
      assert.equal(await s.removeGroupMember(t.id, d!.id, b!.id), true);
      assert.equal(await s.removeGroupMember(t.id, d!.id, b!.id), false);
      assert.equal(await s.deleteGroup(t.id, c!.id), true);
      assert.deepEqual(await s.listTransitiveGroupIds(t.id, u.id), [a!.id, b!.id].sort(), 'a deleted group takes its memberships with it');
      const page = await s.listGroups(t.id, { limit: 100 });
      assert.equal(page.items.length, 4);
      assert.equal((await s.updateGroup(t.id, e!.id, (g) => ({ ...g, description: 'hi' })))?.description, 'hi');
    });

    it('issue 17: getGroups reads many groups at once (the existing ones of the tenant, by id), in chunks past 500', async () => {
      const t = tenant();
      await s.createTenant(t);
      const other = tenant();
      await s.createTenant(other);
      const groups = Array.from({ length: 520 }, () => group(t.id, { securityEnabled: Math.random() < 0.5 }));
      await s.transaction(async (tx) => {
        for (const g of groups) await tx.createGroup(g);
      });
      const foreign = group(other.id);
      await s.createGroup(foreign);
      const byId = [...groups].sort((a, b) => (a.id < b.id ? -1 : 1));
      assert.deepEqual(await s.getGroups(t.id, [...groups.map((g) => g.id)].reverse()), byId);
      assert.deepEqual(
        await s.getGroups(t.id, [groups[3]!.id, id(), foreign.id]),
        [groups[3]],
        'missing ids and other tenants are left out',
      );
      assert.deepEqual(await s.getGroups(t.id, []), []);
    });

    it('issue 17: getUsers reads many users at once (the existing ones of the tenant, by id), in chunks past 500', async () => {
      const t = tenant();
      await s.createTenant(t);
      const other = tenant();
      await s.createTenant(other);
      const users = Array.from({ length: 510 }, () => user(t.id));
      await s.transaction(async (tx) => {
        for (const u of users) await tx.createUser(u);
      });
      const foreign = user(other.id);
      await s.createUser(foreign);
      const byId = await Promise.all([...users].sort((a, b) => compareIds(a.id, b.id)).map((u) => s.getUser(t.id, u.id)));
      assert.deepEqual(await s.getUsers(t.id, [...users.map((u) => u.id)].reverse()), byId, 'as getUser answers each, by id');
      assert.deepEqual(
        await s.getUsers(t.id, [users[3]!.id, id(), foreign.id, users[3]!.id]),
        [byId.find((u) => u!.id === users[3]!.id)],
        'missing ids, repeats and other tenants are left out',
      );
      assert.deepEqual(await s.getUsers(t.id, []), []);
    });

    it('issue 17: transitive memberships follow every membership write (add, remove, delete of a user, a group or a service principal) and a rolled-back one changes nothing', async () => {
      const t = tenant();
      await s.createTenant(t);
      const [a, b, c] = [group(t.id), group(t.id), group(t.id)];
      for (const g of [a, b, c]) await s.createGroup(g!);
      const u = user(t.id);
      await s.createUser(u);
      const add = (g: Group, m: string, type: 'user' | 'group' | 'servicePrincipal' = 'group') =>
        s.addGroupMember({ tenantId: t.id, groupId: g.id, memberId: m, memberType: type });
      await add(a!, u.id, 'user');
      await add(b!, a!.id);
      const sorted = (...gs: Group[]) => gs.map((g) => g.id).sort();
      assert.deepEqual(await s.listTransitiveGroupIds(t.id, u.id), sorted(a!, b!));
      assert.deepEqual(await s.listTransitiveGroupIds(t.id, u.id), sorted(a!, b!), 'read twice, the same');
      await add(c!, b!.id);
      assert.deepEqual(await s.listTransitiveGroupIds(t.id, u.id), sorted(a!, b!, c!), 'an added group-in-group is seen');
      await assert.rejects(
        s.transaction(async (tx) => {
          await tx.removeGroupMember(t.id, b!.id, a!.id);
          assert.deepEqual(await tx.listTransitiveGroupIds(t.id, u.id), sorted(a!), 'the transaction sees its own write');
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.deepEqual(await s.listTransitiveGroupIds(t.id, u.id), sorted(a!, b!, c!), 'a rolled-back removal changed nothing');
      assert.equal(await s.removeGroupMember(t.id, c!.id, b!.id), true);
      assert.deepEqual(await s.listTransitiveGroupIds(t.id, u.id), sorted(a!, b!), 'a removed membership is gone');
      assert.equal(await s.deleteGroup(t.id, b!.id), true);
      assert.deepEqual(await s.listTransitiveGroupIds(t.id, u.id), sorted(a!), 'a deleted group is gone');
      const sp = id();
      await add(c!, sp, 'servicePrincipal');
      assert.deepEqual(await s.listTransitiveGroupIds(t.id, sp), sorted(c!));
      await s.createServicePrincipal({
        tenantId: t.id,
        id: sp,
        appId: id(),
        displayName: 'sp',
        accountEnabled: true,
        servicePrincipalNames: [],
        appRoleAssignmentRequired: false,
        createdAt: now,
      });
      assert.equal(await s.deleteServicePrincipal(t.id, sp), true);
      assert.deepEqual(await s.listTransitiveGroupIds(t.id, sp), [], "a deleted service principal's memberships are gone");
      assert.equal(await s.deleteUser(t.id, u.id), true);
      assert.deepEqual(await s.listTransitiveGroupIds(t.id, u.id), [], "a deleted user's memberships are gone");
    });

    if (openSameDatabase) {
      it('issue 17: a membership written by another instance is seen by the next read here (no stale transitive groups)', async () => {
        const other = await openSameDatabase();
        try {
          const t = tenant();
          await s.createTenant(t);
          const [a, b] = [group(t.id), group(t.id)];
          for (const g of [a, b]) await s.createGroup(g);
          const u = user(t.id);
          await s.createUser(u);
          await s.addGroupMember({ tenantId: t.id, groupId: a.id, memberId: u.id, memberType: 'user' });
          assert.deepEqual(await s.listTransitiveGroupIds(t.id, u.id), [a.id]);
          assert.deepEqual(await other.listTransitiveGroupIds(t.id, u.id), [a.id]);
          await other.addGroupMember({ tenantId: t.id, groupId: b.id, memberId: a.id, memberType: 'group' });
          assert.deepEqual(await s.listTransitiveGroupIds(t.id, u.id), [a.id, b.id].sort(), 'an add on the other instance');
          await other.removeGroupMember(t.id, a.id, u.id);
          assert.deepEqual(await s.listTransitiveGroupIds(t.id, u.id), [], 'a removal on the other instance');
          await s.addGroupMember({ tenantId: t.id, groupId: a.id, memberId: u.id, memberType: 'user' });
          assert.deepEqual(await other.listTransitiveGroupIds(t.id, u.id), [a.id, b.id].sort(), 'and the other way round');
          await s.deleteGroup(t.id, a.id);
          assert.deepEqual(await other.listTransitiveGroupIds(t.id, u.id), [], 'a deleted group');
        } finally {
          await other.close();
        }
      });
    }

    it('issue 16.2: refuses both directions of a membership added at the same moment (the cycle check and the insert are serialized)', async () => {
      const t = tenant();
      await s.createTenant(t);
      const pairs = 15;
      const groups = Array.from({ length: pairs * 2 }, () => group(t.id));
      for (const g of groups) await s.createGroup(g);
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      // Each add runs in a transaction that lingers after its write, as a request's transaction does.
      const add = (groupId: string, memberId: string) =>
        s.transaction(async (tx) => {
          await tx.addGroupMember({ tenantId: t.id, groupId, memberId, memberType: 'group' });
          await sleep(5);
        });
      const results = await Promise.all(
        Array.from({ length: pairs }, (_, p) => {
          const [a, b] = [groups[2 * p]!.id, groups[2 * p + 1]!.id];
          return Promise.allSettled([add(b, a), add(a, b)]);
        }),
      );
      const both = results.filter(([x, y]) => x.status === 'fulfilled' && y.status === 'fulfilled').length;
      console.log(`issue 16.2 figure (${name}): ${pairs} pairs raced in the store, both directions accepted in ${both}`);
      assert.equal(both, 0, `cycles got in on ${both} of ${pairs} pairs`);
      for (const pair of results) {
        assert.equal(pair.filter((r) => r.status === 'fulfilled').length, 1, 'one direction wins');
        const refused = pair.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        assert.ok(refused.reason instanceof StoreError && refused.reason.code === 'invalid', String(refused.reason));
      }
    });

    it('issue 16.5: writes an ARM resource and its operation in one transaction, both or neither', async () => {
      const resource = clusterResourceFixture(`c-${id().slice(0, 6)}`, { name: 'c', createdAt: now, updatedAt: now });
      const sub = resource.subscriptionId;
      const op = (resourceId: string) => ({
        id: id(),
        subscriptionId: sub,
        location: 'eastus',
        resourceId,
        kind: 'create' as const,
        status: 'InProgress' as const,
        startTime: now,
        endTime: null,
        completeAt: now + 1,
        error: null,
      });
      const first = op(resource.id);
      await s.putResourceWithOperation(resource, first, 'create');
      assert.deepEqual(await s.getResource(resource.id), resource);
      assert.deepEqual(await s.getOperation(first.id), first);
      const second = op(resource.id);
      await assert.rejects(s.putResourceWithOperation(resource, second, 'create'), isConflict, 'a second create of the same resource');
      assert.equal(await s.getOperation(second.id), null, 'the refused create leaves no operation behind');
      const missing = { ...resource, id: `${resource.id}-missing` };
      const third = op(missing.id);
      await assert.rejects(
        s.putResourceWithOperation(missing, third, 'replace'),
        (e: unknown) => e instanceof StoreError && e.code === 'not_found',
      );
      assert.equal(await s.getOperation(third.id), null);
      const fourth = op(resource.id);
      await s.putResourceWithOperation({ ...resource, etag: '"2"' }, fourth, 'replace');
      assert.equal((await s.getResource(resource.id))?.etag, '"2"');
      assert.ok(await s.getOperation(fourth.id));
    });

    it('reads a resource by id inside a transaction as written there, and outside it only once committed', async () => {
      const resource = clusterResourceFixture(`Tx-${id().slice(0, 6)}`, {
        tags: { a: 'b' },
        body: { properties: { provisioningState: 'Succeeded' } },
        secrets: { pendingOperation: null },
      });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let begun!: () => void;
      const inside = new Promise<void>((resolve) => (begun = resolve));
      const rolledBack = s.transaction(async (tx) => {
        await tx.createResource(resource);
        assert.deepEqual(await tx.getResource(resource.id.toUpperCase()), resource, 'the transaction reads its own write, by any case');
        begun();
        await gate;
        throw new Error('rolled back');
      });
      await inside;
      // PostgreSQL answers from another connection at once; SQLite's one connection answers after the transaction.
      const during = s.getResource(resource.id);
      release();
      await assert.rejects(rolledBack, /rolled back/);
      assert.equal(await during, null, 'read while the transaction was open');
      assert.equal(await s.getResource(resource.id), null, 'read after it rolled back');
      await s.createResource(resource);
      assert.deepEqual(await s.getResource(resource.id.toLowerCase()), resource);
    });

    it('finds an application by its uniqueName whatever its case: one per tenant, any number without one', async () => {
      const t = tenant();
      await s.createTenant(t);
      const a = app(t.id, { uniqueName: 'Build-Agent' });
      await s.createApplication(a);
      assert.deepEqual(await s.findApplicationByUniqueName(t.id, 'build-AGENT'), a);
      await assert.rejects(s.createApplication(app(t.id, { uniqueName: 'BUILD-agent' })), isConflict);
      await s.createApplication(app(t.id));
      await s.createApplication(app(t.id));
      const other = tenant();
      await s.createTenant(other);
      await s.createApplication(app(other.id, { uniqueName: 'build-agent' }));
      assert.equal(await s.findApplicationByUniqueName(t.id, 'nothing'), null);
      assert.ok(await s.deleteApplication(t.id, a.id));
      assert.equal(await s.findApplicationByUniqueName(t.id, 'Build-Agent'), null);
      assert.equal((await s.findApplicationByUniqueName(other.id, 'Build-Agent'))?.tenantId, other.id);
    });

    it('keeps applications with unique appIds and identifier URIs, and their credentials', async () => {
      const t = tenant();
      await s.createTenant(t);
      const a = app(t.id, { identifierUris: ['api://Thing'] });
      await s.createApplication(a);
      assert.deepEqual(await s.getApplication(t.id, a.id), a);
      assert.equal((await s.findApplicationByAppId(t.id, a.appId))?.id, a.id);
      assert.equal((await s.findApplicationByIdentifierUri(t.id, 'API://thing'))?.id, a.id);
      await assert.rejects(s.createApplication(app(t.id, { appId: a.appId })), isConflict);
      await assert.rejects(
        s.createApplication(app(t.id, { identifierUris: ['api://thing'] })),
        isConflict,
        'identifier URIs are unique in a tenant',
      );
      const b = app(t.id);
      await s.createApplication(b);
      await assert.rejects(
        s.updateApplication(t.id, b.id, (x) => ({ ...x, identifierUris: ['api://thing'] })),
        isConflict,
      );
      assert.deepEqual((await s.getApplication(t.id, b.id))?.identifierUris, [], 'a refused update changes nothing');
      await s.updateApplication(t.id, a.id, (x) => ({ ...x, identifierUris: ['api://other'] }));
      assert.equal(await s.findApplicationByIdentifierUri(t.id, 'api://thing'), null);
      assert.equal((await s.findApplicationByIdentifierUri(t.id, 'api://other'))?.id, a.id);

      const pw = {
        tenantId: t.id,
        appObjectId: a.id,
        keyId: id(),
        displayName: 'ci',
        hint: 'abc',
        secretHash: 'h',
        startDateTime: now,
        endDateTime: now + 1,
      };
      await s.addPasswordCredential(pw);
      await assert.rejects(s.addPasswordCredential(pw), isConflict);
      assert.deepEqual(await s.listPasswordCredentials(t.id, a.id), [pw]);
      const key = {
        tenantId: t.id,
        appObjectId: a.id,
        keyId: id(),
        displayName: null,
        certificateDer: 'MII',
        thumbprintSha1: 's1',
        thumbprintSha256: 's256',
        startDateTime: now,
        endDateTime: now + 1,
      };
      await s.addKeyCredential(key);
      assert.deepEqual(await s.listKeyCredentials(t.id, a.id), [key]);
      const fed = {
        tenantId: t.id,
        appObjectId: a.id,
        id: id(),
        name: 'gh',
        issuer: 'https://issuer',
        subject: 'repo:x',
        audiences: ['api://AzureADTokenExchange'],
        description: null,
      };
      await s.addFederatedCredential(fed);
      await assert.rejects(s.addFederatedCredential({ ...fed, id: id() }), isConflict, 'federated credential names are unique per app');
      assert.deepEqual(await s.listFederatedCredentials(t.id, a.id), [fed]);
      assert.equal(await s.removePasswordCredential(t.id, a.id, pw.keyId), true);
      assert.equal(await s.removePasswordCredential(t.id, a.id, pw.keyId), false);
      assert.equal(await s.removeKeyCredential(t.id, a.id, key.keyId), true);
      await s.addPasswordCredential({ ...pw, keyId: id() });
      assert.equal(await s.deleteApplication(t.id, a.id), true);
      assert.deepEqual(await s.listPasswordCredentials(t.id, a.id), [], 'credentials go with the application');
      assert.deepEqual(await s.listFederatedCredentials(t.id, a.id), []);
      assert.equal(await s.findApplicationByIdentifierUri(t.id, 'api://other'), null);
      await s.createApplication(app(t.id, { identifierUris: ['api://other'] }));
      const page = await s.listApplications(t.id);
      assert.equal(page.items.length, 2);
    });

    it('keeps service principals, consent grants and app role assignments', async () => {
      const t = tenant();
      await s.createTenant(t);
      const sp = {
        tenantId: t.id,
        id: id(),
        appId: id(),
        displayName: 'sp',
        accountEnabled: true,
        servicePrincipalNames: ['x'],
        appRoleAssignmentRequired: false,
        createdAt: now,
      };
      const res = { ...sp, id: id(), appId: id() };
      await s.createServicePrincipal(sp);
      await s.createServicePrincipal(res);
      await assert.rejects(s.createServicePrincipal({ ...sp, id: id() }), isConflict, 'one service principal per app in a tenant');
      assert.equal((await s.findServicePrincipalByAppId(t.id, sp.appId))?.id, sp.id);
      assert.equal((await s.updateServicePrincipal(t.id, sp.id, (x) => ({ ...x, accountEnabled: false })))?.accountEnabled, false);
      const grant = {
        tenantId: t.id,
        id: id(),
        clientId: sp.id,
        resourceId: res.id,
        consentType: 'AllPrincipals' as const,
        principalId: null,
        scope: 'a b',
      };
      await s.createOAuth2PermissionGrant(grant);
      assert.deepEqual(await s.listOAuth2PermissionGrants(t.id, { clientId: sp.id }), [grant]);
      assert.deepEqual(await s.listOAuth2PermissionGrants(t.id, { clientId: sp.id, resourceId: id() }), []);
      assert.equal((await s.updateOAuth2PermissionGrant(t.id, grant.id, (g) => ({ ...g, scope: 'a b c' })))?.scope, 'a b c');
      const ara = {
        tenantId: t.id,
        id: id(),
        principalId: sp.id,
        principalType: 'ServicePrincipal' as const,
        resourceId: res.id,
        appRoleId: id(),
      };
      await s.createAppRoleAssignment(ara);
      await assert.rejects(s.createAppRoleAssignment({ ...ara, id: id() }), isConflict, 'the same role once per principal');
      assert.deepEqual(await s.listAppRoleAssignments(t.id, { principalId: sp.id }), [ara]);
      assert.equal((await s.listServicePrincipals(t.id)).items.length, 2);
      assert.equal(await s.deleteServicePrincipal(t.id, res.id), true);
      assert.deepEqual(await s.listOAuth2PermissionGrants(t.id), [], 'grants on a deleted resource go');
      assert.deepEqual(await s.listAppRoleAssignments(t.id), [], 'and so do role assignments on it');
      assert.equal(await s.deleteOAuth2PermissionGrant(t.id, grant.id), false);
    });

    it('keeps owners of objects, both ways, and drops them with the object or the owner', async () => {
      const t = tenant();
      await s.createTenant(t);
      const owner = user(t.id);
      const a = app(t.id);
      const g = group(t.id);
      await s.createUser(owner);
      await s.createApplication(a);
      await s.createGroup(g);
      await s.addOwner({ tenantId: t.id, objectId: a.id, objectType: 'application', ownerId: owner.id });
      await s.addOwner({ tenantId: t.id, objectId: g.id, objectType: 'group', ownerId: owner.id });
      await assert.rejects(s.addOwner({ tenantId: t.id, objectId: a.id, objectType: 'application', ownerId: owner.id }), isConflict);
      assert.deepEqual(
        (await s.listOwners(t.id, a.id)).map((o) => o.ownerId),
        [owner.id],
      );
      assert.deepEqual((await s.listOwnedObjects(t.id, owner.id)).map((o) => o.objectId).sort(), [a.id, g.id].sort());
      await s.deleteApplication(t.id, a.id);
      assert.deepEqual(
        (await s.listOwnedObjects(t.id, owner.id)).map((o) => o.objectType),
        ['group'],
      );
      assert.equal(await s.removeOwner(t.id, g.id, owner.id), true);
      assert.equal(await s.removeOwner(t.id, g.id, owner.id), false);
      await s.addOwner({ tenantId: t.id, objectId: g.id, objectType: 'group', ownerId: owner.id });
      await s.deleteUser(t.id, owner.id);
      assert.deepEqual(await s.listOwners(t.id, g.id), [], 'a deleted owner owns nothing');
    });

    it('keeps subscriptions and role assignments by scope and principal', async () => {
      const t = tenant();
      await s.createTenant(t);
      const sub = { id: id(), tenantId: t.id, displayName: 'S', state: 'Enabled' as const, createdAt: now };
      await s.createSubscription(sub);
      await assert.rejects(s.createSubscription(sub), isConflict);
      assert.deepEqual(await s.getSubscription(sub.id), sub);
      assert.deepEqual(
        (await s.listSubscriptions(t.id)).map((x) => x.id),
        [sub.id],
      );
      const scope = `/subscriptions/${sub.id}/resourceGroups/RG`;
      const p = id();
      const ra = {
        id: id(),
        tenantId: t.id,
        scope,
        roleDefinitionId: 'owner',
        principalId: p,
        principalType: 'Group' as const,
        createdAt: now,
      };
      await s.createRoleAssignment(ra);
      assert.deepEqual(await s.getRoleAssignment(ra.id), ra);
      assert.deepEqual(
        (await s.listRoleAssignments({ scope: scope.toLowerCase() })).map((x) => x.id),
        [ra.id],
        'scopes compare case-insensitively',
      );
      assert.deepEqual(
        (await s.listRoleAssignments({ principalIds: [id(), p] })).map((x) => x.id),
        [ra.id],
      );
      assert.deepEqual(await s.listRoleAssignments({ principalIds: [] }), []);
      assert.equal(await s.deleteRoleAssignment(ra.id), true);
      assert.equal(await s.getRoleAssignment(ra.id), null);
    });

    it('keeps signing keys', async () => {
      const k = {
        kid: id(),
        privateKeyPem: 'pem',
        certificateDer: 'der',
        publishAt: now,
        activateAt: now,
        retireAt: now + 1,
        expireAt: now + 2,
      };
      await s.addSigningKey(k);
      await assert.rejects(s.addSigningKey(k), isConflict);
      assert.ok((await s.listSigningKeys()).some((x) => x.kid === k.kid));
      assert.equal(await s.deleteSigningKey(k.kid), true);
      assert.ok(!(await s.listSigningKeys()).some((x) => x.kid === k.kid));
    });

    it('moves device codes only from the expected status (compare-and-set)', async () => {
      const d = deviceCode();
      await s.createDeviceCode(d);
      assert.deepEqual(await s.getDeviceCode(d.deviceCodeHash), d);
      assert.equal((await s.findDeviceCodeByUserCode(d.userCode, now))?.deviceCodeHash, d.deviceCodeHash);
      assert.equal(await s.findDeviceCodeByUserCode(d.userCode, d.expiresAt), null, 'expired codes are not found by user code');
      const results = await Promise.all(
        [1, 2, 3].map(() => s.transitionDeviceCode(d.deviceCodeHash, 'pending', { status: 'approved', tenantId: 't', userId: 'u' })),
      );
      assert.deepEqual(results.filter(Boolean).length, 1, 'exactly one of three concurrent approvals wins');
      const approved = await s.getDeviceCode(d.deviceCodeHash);
      assert.equal(approved?.status, 'approved');
      assert.equal(approved?.userId, 'u');
      assert.equal(await s.transitionDeviceCode(d.deviceCodeHash, 'pending', { status: 'declined' }), false);
      await s.touchDeviceCode(d.deviceCodeHash, now + 5);
      assert.equal((await s.getDeviceCode(d.deviceCodeHash))?.lastPolledAt, now + 5);
    });

    it('redeems an authorization code once', async () => {
      const c = {
        codeHash: id(),
        tenantId: id(),
        clientId: id(),
        userId: id(),
        redirectUri: 'http://localhost',
        scope: 'openid',
        codeChallenge: 'x',
        codeChallengeMethod: 'S256',
        nonce: null,
        createdAt: now,
        expiresAt: now + 1,
        redeemedAt: null,
      };
      await s.createAuthorizationCode(c);
      const [a, b] = await Promise.all([s.redeemAuthorizationCode(c.codeHash, now), s.redeemAuthorizationCode(c.codeHash, now)]);
      assert.equal([a, b].filter(Boolean).length, 1);
      assert.equal((a ?? b)?.redeemedAt, now);
      assert.equal(await s.redeemAuthorizationCode(c.codeHash, now), null);
      assert.equal(await s.redeemAuthorizationCode(id(), now), null);
    });

    it('rotates refresh tokens once and revokes families and users', async () => {
      const family = id();
      const r1 = refresh({ familyId: family });
      const r2 = refresh({ familyId: family, tenantId: r1.tenantId, userId: r1.userId });
      await s.createRefreshToken(r1);
      await s.createRefreshToken(r2);
      assert.deepEqual(await s.getRefreshToken(r1.tokenHash), r1);
      assert.equal(await s.rotateRefreshToken(r1.tokenHash, now), true);
      assert.equal(await s.rotateRefreshToken(r1.tokenHash, now), false, 'a rotated token cannot rotate again');
      assert.equal(await s.revokeRefreshTokenFamily(family, now), 2);
      assert.equal(await s.rotateRefreshToken(r2.tokenHash, now), false, 'a revoked token cannot rotate');
      assert.equal(await s.revokeRefreshTokenFamily(family, now), 0);
      const r3 = refresh();
      await s.createRefreshToken(r3);
      assert.equal(await s.revokeRefreshTokensOfUser(r3.tenantId, r3.userId, now), 1);
      assert.equal((await s.getRefreshToken(r3.tokenHash))?.revokedAt, now);
    });

    it('counts hits in a fixed window without losing concurrent ones', async () => {
      const key = `k-${id()}`;
      const counts = (await Promise.all(Array.from({ length: 20 }, () => s.hitCounter(key, 1000, now))))
        .map((h) => h.count)
        .sort((a, b) => a - b);
      assert.deepEqual(
        counts,
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.equal((await s.hitCounter(key, 1000, now + 999)).count, 21);
      assert.deepEqual(await s.hitCounter(key, 1000, now + 1000), { count: 1, windowStart: now + 1000 }, 'a new window starts over');
      await s.resetCounter(key);
      assert.equal((await s.hitCounter(key, 1000, now + 1001)).count, 1);
    });

    it('loses no concurrent read-modify-write update', async () => {
      const t = tenant();
      await s.createTenant(t);
      const u = user(t.id, { displayName: '0' });
      await s.createUser(u);
      await Promise.all(
        Array.from({ length: 10 }, () => s.updateUser(t.id, u.id, (x) => ({ ...x, displayName: String(Number(x.displayName) + 1) }))),
      );
      assert.equal((await s.getUser(t.id, u.id))?.displayName, '10');
    });

    it('commits a transaction whole or not at all, and joins nested ones', async () => {
      const t = tenant();
      await s.createTenant(t);
      const u1 = user(t.id);
      const u2 = user(t.id);
      await assert.rejects(
        s.transaction(async (tx) => {
          await tx.createUser(u1);
          await tx.transaction(async (inner) => inner.createUser(u2));
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await s.getUser(t.id, u1.id), null);
      assert.equal(await s.getUser(t.id, u2.id), null);
      await assert.rejects(
        s.transaction(async (tx) => {
          await tx.createUser(u1);
          await tx.createUser({ ...u2, userPrincipalName: u1.userPrincipalName });
        }),
        isConflict,
      );
      assert.equal(await s.getUser(t.id, u1.id), null, 'a conflict inside a transaction rolls back the earlier writes');
      await s.transaction(async (tx) => {
        await tx.createUser(u1);
        await tx.setMeta(`m-${t.id}`, 'v');
      });
      assert.equal((await s.getUser(t.id, u1.id))?.id, u1.id);
      assert.equal(await s.getMeta(`m-${t.id}`), 'v');
    });

    it('purges expired codes, tokens and counters, and keeps live ones', async () => {
      const late = now + 10 * 365 * 86400_000;
      const live = deviceCode({ expiresAt: late + 1 });
      const dead = deviceCode({ expiresAt: late - 1 });
      await s.createDeviceCode(live);
      await s.createDeviceCode(dead);
      const liveRt = refresh({ expiresAt: late + 1 });
      const deadRt = refresh({ expiresAt: late - 1 });
      await s.createRefreshToken(liveRt);
      await s.createRefreshToken(deadRt);
      const key = `p-${id()}`;
      await s.hitCounter(key, 10, late - 100);
      const liveSession = { idHash: id(), tenantId: id(), userId: id(), authTime: now, expiresAt: late + 1 };
      const deadSession = { ...liveSession, idHash: id(), expiresAt: late - 1 };
      await s.createSignInSession(liveSession);
      await s.createSignInSession(deadSession);
      assert.deepEqual(await s.getSignInSession(deadSession.idHash, now), deadSession);
      assert.equal(await s.getSignInSession(deadSession.idHash, late), null, 'an expired session is never returned');
      await s.purgeExpired(late);
      assert.deepEqual(await s.getSignInSession(liveSession.idHash, late), liveSession);
      assert.equal(await s.getSignInSession(deadSession.idHash, now), null, 'the expired session was removed');
      assert.equal(await s.deleteSignInSession(liveSession.idHash), true);
      assert.equal(await s.deleteSignInSession(liveSession.idHash), false);
      assert.equal(await s.getSignInSession(liveSession.idHash, now), null);
      assert.ok(await s.getDeviceCode(live.deviceCodeHash));
      assert.equal(await s.getDeviceCode(dead.deviceCodeHash), null);
      assert.ok(await s.getRefreshToken(liveRt.tokenHash));
      assert.equal(await s.getRefreshToken(deadRt.tokenHash), null);
      assert.equal((await s.hitCounter(key, 10, late - 95)).count, 1, 'the expired counter was removed');
    });

    it('keeps ARM resources by case-insensitive id, lists them by scope and type, and updates them atomically', async () => {
      const sub = id();
      const res = (name: string, rg: string | null, type: string) => ({
        id: rg ? `/subscriptions/${sub}/resourceGroups/${rg}/providers/${type}/${name}` : `/subscriptions/${sub}/resourceGroups/${name}`,
        subscriptionId: sub,
        resourceGroup: rg,
        type,
        name,
        location: 'eastus',
        tags: { env: 'test' },
        etag: '"1"',
        body: { properties: { provisioningState: 'Succeeded' } },
        secrets: { key: 'k' },
        createdAt: now,
        updatedAt: now,
      });
      const rg = res('MyRG', null, 'Microsoft.Resources/resourceGroups');
      const mc = res('Cluster1', 'MyRG', 'Microsoft.ContainerService/managedClusters');
      const other = res('Cluster2', 'OtherRG', 'Microsoft.ContainerService/managedClusters');
      for (const r of [rg, mc, other]) await s.createResource(r);
      await assert.rejects(s.createResource({ ...mc, id: mc.id.toUpperCase() }), isConflict, 'ids are case-insensitive');
      assert.deepEqual(await s.getResource(mc.id.toLowerCase()), mc);
      assert.deepEqual(
        (await s.listResources({ subscriptionId: sub, type: 'microsoft.containerservice/managedclusters' })).map((r) => r.name),
        ['Cluster1', 'Cluster2'],
      );
      assert.deepEqual(
        (await s.listResources({ subscriptionId: sub, type: 'Microsoft.ContainerService/managedClusters', resourceGroup: 'myrg' })).map(
          (r) => r.name,
        ),
        ['Cluster1'],
      );
      await Promise.all(
        Array.from({ length: 5 }, () => s.updateResource(mc.id, (r) => ({ ...r, etag: `"${Number(JSON.parse(r.etag)) + 1}"` }))),
      );
      assert.equal((await s.getResource(mc.id))?.etag, '"6"', 'no lost update');
      await assert.rejects(
        s.updateResource(mc.id, (r) => ({ ...r, id: other.id })),
        (e: unknown) => e instanceof StoreError && e.code === 'invalid',
      );
      assert.equal(await s.deleteResource(mc.id.toUpperCase()), true);
      assert.equal(await s.getResource(mc.id), null);
      assert.equal(await s.updateResource(mc.id, (r) => r), null);
    });

    it('issue 14: finds a cluster by the uid in its API URL, and every write raises its revision', async () => {
      const sub = id();
      const uid = id();
      const mc = {
        id: `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c`,
        subscriptionId: sub,
        resourceGroup: 'rg',
        type: 'Microsoft.ContainerService/managedClusters',
        name: 'c',
        location: 'eastus',
        tags: {},
        etag: '"1"',
        body: { properties: {} },
        secrets: { uid, adminToken: 'secret-admin-token' },
        createdAt: now,
        updatedAt: now,
      };
      assert.equal(await s.getClusterByUid(uid), null);
      assert.equal(await s.clusterRevision(uid), null);
      await s.createResource(mc);
      const found = await s.getClusterByUid(uid);
      assert.deepEqual(found?.resource, mc);
      const first = found!.revision;
      assert.equal(await s.clusterRevision(uid), first);
      await s.updateResource(mc.id, (r) => ({ ...r, secrets: { ...r.secrets, caCertPem: 'pem' } }));
      await Promise.all(Array.from({ length: 3 }, () => s.updateResource(mc.id, (r) => r)));
      assert.equal(await s.clusterRevision(uid), first + 4, 'each write, even one that changes only the secrets, raises the revision once');
      const op = {
        id: id(),
        subscriptionId: sub,
        location: 'eastus',
        resourceId: mc.id,
        kind: 'update' as const,
        status: 'InProgress' as const,
        startTime: now,
        endTime: null,
        completeAt: now,
        error: null,
      };
      await s.putResourceWithOperation({ ...mc, etag: '"2"' }, op, 'replace');
      assert.equal(await s.clusterRevision(uid), first + 5, 'a replace is a write too');
      assert.equal((await s.getClusterByUid(uid))?.resource.etag, '"2"');
      await assert.rejects(
        s.updateResource(mc.id, (r) => ({ ...r, secrets: { ...r.secrets, uid: id() } })),
        (e: unknown) => e instanceof StoreError && e.code === 'invalid',
        'the uid cannot change',
      );
      const twin = { ...mc, id: `${mc.id}-twin`, name: 'c-twin' };
      await assert.rejects(s.createResource(twin), isConflict, 'two clusters cannot share a uid');
      assert.equal(await s.getClusterByUid(uid.toUpperCase()), null, 'the uid is matched exactly');
      await s.deleteResource(mc.id);
      assert.equal(await s.getClusterByUid(uid), null);
      assert.equal(await s.clusterRevision(uid), null);
    });

    it('keeps long-running operations and feature registrations', async () => {
      const op = {
        id: id(),
        subscriptionId: id(),
        location: 'eastus',
        resourceId: '/x',
        kind: 'create' as const,
        status: 'InProgress' as const,
        startTime: now,
        endTime: null,
        completeAt: now + 1,
        error: null,
      };
      await s.createOperation(op);
      assert.deepEqual(await s.getOperation(op.id), op);
      const done = await s.updateOperation(op.id, (o) => ({
        ...o,
        status: 'Failed',
        endTime: now + 2,
        error: { code: 'BadRequest', message: 'no' },
      }));
      assert.deepEqual(done?.error, { code: 'BadRequest', message: 'no' });
      const sub = id();
      assert.equal(await s.getFeature(sub, 'Microsoft.ContainerService', 'AAD-V2'), null);
      await s.setFeature({ subscriptionId: sub, namespace: 'Microsoft.ContainerService', name: 'AAD-V2', state: 'Registering' });
      await s.setFeature({ subscriptionId: sub, namespace: 'Microsoft.ContainerService', name: 'AAD-V2', state: 'Registered' });
      assert.equal((await s.getFeature(sub, 'microsoft.containerservice', 'aad-v2'))?.state, 'Registered');
      assert.equal((await s.listFeatures(sub, 'MICROSOFT.CONTAINERSERVICE')).length, 1);
      assert.equal((await s.listFeatures(id())).length, 0);
    });

    it('keeps Kubernetes objects per cluster and resource, listed by namespace then name byte-wise', async () => {
      const c = id();
      const other = id();
      assert.equal(await s.kubeResourceVersion(c), 0, 'no write yet');
      const web2 = await s.createKubeObject(configMap(c, 'default', 'web-2', { a: '1' }));
      const web10 = await s.createKubeObject(configMap(c, 'default', 'web10'));
      const b = await s.createKubeObject(configMap(c, 'kube-system', 'b'));
      const ns = await s.createKubeObject({
        clusterUid: c,
        resource: '/namespaces',
        namespace: '',
        name: 'default',
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } },
      });
      const crb = await s.createKubeObject({
        clusterUid: c,
        resource: 'rbac.authorization.k8s.io/clusterrolebindings',
        namespace: '',
        name: 'default',
        body: { kind: 'ClusterRoleBinding' },
      });
      const elsewhere = await s.createKubeObject(configMap(other, 'default', 'web-2', { a: 'other' }));
      assert.deepEqual(
        [web2, web10, b, ns, crb].map((o) => o.resourceVersion),
        [1, 2, 3, 4, 5],
      );
      assert.equal(elsewhere.resourceVersion, 1, 'each cluster counts its own writes');
      assert.deepEqual(web2, { ...configMap(c, 'default', 'web-2', { a: '1' }), resourceVersion: 1 });
      assert.deepEqual(await s.getKubeObject(c, '/configmaps', 'default', 'web-2'), web2);
      assert.deepEqual(await s.getKubeObject(other, '/configmaps', 'default', 'web-2'), elsewhere);
      assert.deepEqual(await s.getKubeObject(c, '/namespaces', '', 'default'), ns);
      assert.equal(await s.getKubeObject(c, '/configmaps', 'default', 'nope'), null);
      assert.equal(await s.getKubeObject(c, '/configmaps', '', 'web-2'), null, 'the namespace is part of the key');
      assert.equal(await s.getKubeObject(c, '/secrets', 'default', 'web-2'), null, 'and so is the resource');
      const names = (list: KubeObject[]) => list.map((o) => `${o.namespace}/${o.name}`);
      assert.deepEqual(
        names(await s.listKubeObjects(c, '/configmaps')),
        ['default/web-2', 'default/web10', 'kube-system/b'],
        "'-' sorts before '1', whatever the database's locale",
      );
      assert.deepEqual(await s.listKubeObjects(c, '/configmaps', 'default'), [web2, web10]);
      assert.deepEqual(await s.listKubeObjects(c, '/configmaps', 'nowhere'), []);
      assert.deepEqual(await s.listKubeObjects(c, '/namespaces'), [ns]);
      assert.deepEqual(await s.listKubeObjects(c, '/namespaces', ''), [ns]);
      assert.deepEqual(await s.listKubeObjects(c, 'rbac.authorization.k8s.io/clusterrolebindings'), [crb]);
      const roles = ['systema', 'system:c', 'system0', 'system.b', 'system-a'];
      for (const name of roles)
        await s.createKubeObject({
          clusterUid: other,
          resource: 'rbac.authorization.k8s.io/clusterroles',
          namespace: '',
          name,
          body: { kind: 'ClusterRole' },
        });
      assert.deepEqual(
        (await s.listKubeObjects(other, 'rbac.authorization.k8s.io/clusterroles')).map((o) => o.name),
        [...roles].reverse(),
        "byte order, not ICU's or glibc's",
      );
      assert.deepEqual(await s.listKubeObjects(id(), '/configmaps'), []);
      await assert.rejects(s.createKubeObject(configMap(c, 'default', 'web-2', { a: 'again' })), isConflict);
      assert.deepEqual(await s.getKubeObject(c, '/configmaps', 'default', 'web-2'), web2, 'a refused create changes nothing');
      assert.equal(await s.kubeResourceVersion(c), 5, 'nor takes a resourceVersion');
      assert.equal(await s.kubeResourceVersion(other), 1 + roles.length);
    });

    it("updates a Kubernetes object in one transaction with its cluster's next resourceVersion", async () => {
      const c = id();
      const other = id();
      await s.createKubeObject(configMap(c, 'default', 'app', { k: 'v1' }));
      await s.createKubeObject(configMap(other, 'default', 'app'));
      const updated = await s.updateKubeObject(c, '/configmaps', 'default', 'app', (body) => ({ ...body, data: { k: 'v2' } }));
      assert.equal(updated?.resourceVersion, 2);
      assert.deepEqual(updated?.body.data, { k: 'v2' });
      assert.deepEqual(await s.getKubeObject(c, '/configmaps', 'default', 'app'), updated);
      assert.equal(await s.kubeResourceVersion(c), 2);
      assert.equal(await s.kubeResourceVersion(other), 1, "another cluster's counter does not move");
      assert.equal(await s.updateKubeObject(c, '/configmaps', 'default', 'missing', (body) => body), null);
      assert.equal(await s.updateKubeObject(id(), '/configmaps', 'default', 'app', (body) => body), null, 'a cluster without objects');
      assert.equal(await s.kubeResourceVersion(c), 2, 'an update of a missing object takes no resourceVersion');
      await assert.rejects(
        s.updateKubeObject(c, '/configmaps', 'default', 'app', (body) => {
          (body.data as Record<string, unknown>).k = 'mutated';
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.deepEqual(
        await s.getKubeObject(c, '/configmaps', 'default', 'app'),
        updated,
        'a throwing updater changes nothing, even the body it mutated',
      );
      assert.equal(await s.kubeResourceVersion(c), 2);
      const again = await s.updateKubeObject(c, '/configmaps', 'default', 'app', (body) => body);
      assert.equal(again?.resourceVersion, 3, 'every update is a write, even one that keeps the body');
    });

    it('deletes Kubernetes objects one at a time or a whole cluster at once, and the counter keeps rising', async () => {
      const c = id();
      const other = id();
      const a = await s.createKubeObject(configMap(c, 'default', 'a'));
      await s.createKubeObject(configMap(c, 'default', 'b'));
      await s.createKubeObject({ clusterUid: c, resource: '/namespaces', namespace: '', name: 'default', body: { kind: 'Namespace' } });
      const kept = await s.createKubeObject(configMap(other, 'default', 'a'));
      const updatedA = await s.updateKubeObject(c, '/configmaps', 'default', 'a', (body) => ({ ...body, data: { x: '1' } }));
      assert.equal(updatedA?.resourceVersion, 4);
      assert.notDeepEqual(updatedA, a);
      assert.deepEqual(await s.deleteKubeObject(c, '/configmaps', 'default', 'a'), updatedA, 'the object as last written');
      assert.equal(await s.kubeResourceVersion(c), 5, 'a delete takes a resourceVersion');
      assert.equal(await s.getKubeObject(c, '/configmaps', 'default', 'a'), null);
      assert.equal(await s.deleteKubeObject(c, '/configmaps', 'default', 'a'), null);
      assert.equal(await s.deleteKubeObject(id(), '/configmaps', 'default', 'a'), null);
      assert.equal(await s.kubeResourceVersion(c), 5, 'deleting nothing takes none');
      assert.equal(await s.deleteKubeObjectsOfCluster(c), 2);
      assert.deepEqual(await s.listKubeObjects(c, '/configmaps'), []);
      assert.deepEqual(await s.listKubeObjects(c, '/namespaces'), []);
      assert.deepEqual(await s.getKubeObject(other, '/configmaps', 'default', 'a'), kept, "another cluster's objects stay");
      assert.equal(await s.kubeResourceVersion(other), 1);
      assert.equal(await s.deleteKubeObjectsOfCluster(c), 0);
      assert.equal(await s.deleteKubeObjectsOfCluster(id()), 0);
      const recreated = await s.createKubeObject(configMap(c, 'default', 'a'));
      assert.ok(recreated.resourceVersion > 5, 'a resourceVersion never repeats in a cluster');
    });

    it('loses no concurrent Kubernetes write and gives each its own resourceVersion', async () => {
      const c = id();
      await s.createKubeObject({ ...configMap(c, 'default', 'counter'), body: { kind: 'ConfigMap', count: 0 } });
      const increment = () =>
        s.updateKubeObject(c, '/configmaps', 'default', 'counter', (body) => ({ ...body, count: Number(body.count) + 1 }));
      const writes = await Promise.all([
        ...Array.from({ length: 20 }, increment),
        ...Array.from({ length: 5 }, (_, i) => s.createKubeObject(configMap(c, 'default', `cm-${i}`))),
      ]);
      const versions = writes.map((o) => o?.resourceVersion ?? 0).sort((x, y) => x - y);
      assert.deepEqual(
        versions,
        Array.from({ length: 25 }, (_, i) => i + 2),
        'distinct, with no gap',
      );
      const final = await s.getKubeObject(c, '/configmaps', 'default', 'counter');
      assert.equal(final?.body.count, 20);
      assert.equal(final?.resourceVersion, Math.max(...writes.filter((o) => o?.name === 'counter').map((o) => o!.resourceVersion)));
      assert.equal(await s.kubeResourceVersion(c), 26);
    });

    it('runs a transaction over several Kubernetes objects beside single writes without deadlock', async () => {
      const c = id();
      await s.createKubeObject({ ...configMap(c, 'default', 'x'), body: { count: 0 } });
      await s.createKubeObject({ ...configMap(c, 'default', 'y'), body: { count: 0 } });
      const bump = (store: Store, name: string) =>
        store.updateKubeObject(c, '/configmaps', 'default', name, (body) => ({ ...body, count: Number(body.count) + 1 }));
      const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      await Promise.all([
        s.transaction(async (tx) => {
          await bump(tx, 'x');
          await pause(30);
          await bump(tx, 'y');
        }),
        pause(10).then(() => bump(s, 'y')),
        pause(10).then(() => bump(s, 'x')),
      ]);
      assert.equal((await s.getKubeObject(c, '/configmaps', 'default', 'x'))?.body.count, 2);
      assert.equal((await s.getKubeObject(c, '/configmaps', 'default', 'y'))?.body.count, 2);
      assert.equal(await s.kubeResourceVersion(c), 6);
    });

    it('rolls back Kubernetes object writes with the transaction around them', async () => {
      const c = id();
      const kept = await s.createKubeObject(configMap(c, 'default', 'kept', { k: 'v' }));
      await assert.rejects(
        s.transaction(async (tx) => {
          await tx.createKubeObject(configMap(c, 'default', 'new'));
          await tx.updateKubeObject(c, '/configmaps', 'default', 'kept', (body) => ({ ...body, data: { k: 'changed' } }));
          await tx.transaction(async (inner) => inner.deleteKubeObject(c, '/configmaps', 'default', 'kept'));
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await s.getKubeObject(c, '/configmaps', 'default', 'new'), null);
      assert.deepEqual(await s.getKubeObject(c, '/configmaps', 'default', 'kept'), kept);
      assert.equal(await s.kubeResourceVersion(c), 1, 'the counter rolls back too');
      const [created, updated] = await s.transaction(async (tx) => [
        await tx.createKubeObject(configMap(c, 'default', 'new')),
        await tx.updateKubeObject(c, '/configmaps', 'default', 'kept', (body) => ({ ...body, data: { k: 'changed' } })),
      ]);
      assert.deepEqual([created.resourceVersion, updated?.resourceVersion], [2, 3]);
      assert.deepEqual(await s.listKubeObjects(c, '/configmaps', 'default'), [updated, created]);
    });

    it('keeps sign-ins per tenant, filters them, pages them newest first and prunes them by age', async () => {
      const t1 = id();
      const t2 = id();
      const userId = id();
      const appId = id();
      const signIn = (over: Partial<SignInEvent>): SignInEvent => ({
        id: id(),
        tenantId: t1,
        createdAt: now,
        eventType: 'interactiveUser',
        userId,
        userPrincipalName: 'Ann@Example.com',
        userDisplayName: 'Ann',
        appId,
        appDisplayName: 'app',
        servicePrincipalId: null,
        ipAddress: '127.0.0.1',
        clientAppUsed: 'Browser',
        resourceId: null,
        resourceDisplayName: null,
        errorCode: 0,
        failureReason: null,
        additionalDetails: null,
        correlationId: null,
        ...over,
      });
      const events = Array.from({ length: 7 }, (_, i) => signIn({ createdAt: now - i * 1000, errorCode: i % 2 ? 50126 : 0 }));
      const sp = signIn({ eventType: 'servicePrincipal', userId: null, userPrincipalName: null, createdAt: now - 500 });
      const other = signIn({ tenantId: t2 });
      await s.addSignIns([...events, sp, other]);
      await s.addSignIns([]);
      assert.deepEqual(await s.getSignIn(t1, events[3]!.id), events[3]);
      assert.equal(await s.getSignIn(t2, events[3]!.id), null, 'another tenant never sees the row');

      const all = await s.listSignIns(t1, { eventTypes: ['interactiveUser'] });
      assert.deepEqual(
        all.items.map((e) => e.id),
        events.map((e) => e.id),
      );
      assert.equal(all.next, undefined);
      const seen: string[] = [];
      let after: string | undefined;
      do {
        const p = await s.listSignIns(t1, { eventTypes: ['interactiveUser'] }, { limit: 3, after });
        assert.ok(p.items.length <= 3);
        seen.push(...p.items.map((e) => e.id));
        after = p.next;
      } while (after);
      assert.deepEqual(
        seen,
        events.map((e) => e.id),
        'pages join into the whole list, newest first',
      );

      assert.deepEqual(
        (await s.listSignIns(t1, { from: now - 2000, to: now - 1000 })).items.map((e) => e.id),
        [events[1]!.id, events[2]!.id],
        'both bounds inclusive',
      );
      assert.deepEqual(
        (await s.listSignIns(t1, { errorCode: 50126, userPrincipalName: 'ann@example.COM', userId, appId })).items.map((e) => e.id),
        [events[1]!.id, events[3]!.id, events[5]!.id],
      );
      assert.deepEqual(
        (await s.listSignIns(t1, { eventTypes: ['servicePrincipal'] })).items.map((e) => e.id),
        [sp.id],
      );
      assert.deepEqual(
        (await s.listSignIns(t2, {})).items.map((e) => e.id),
        [other.id],
      );
      await assert.rejects(
        s.listSignIns(t1, {}, { after: 'not-a-cursor' }),
        (e: unknown) => e instanceof StoreError && e.code === 'invalid',
      );

      assert.ok((await s.pruneSignIns(now - 4500)) >= 2);
      assert.deepEqual(
        (await s.listSignIns(t1, { eventTypes: ['interactiveUser'] })).items.map((e) => e.id),
        events.slice(0, 5).map((e) => e.id),
      );
    });

    it('stores meta values and overwrites them', async () => {
      const key = `meta-${id()}`;
      assert.equal(await s.getMeta(key), null);
      await s.setMeta(key, 'a');
      await s.setMeta(key, 'b');
      assert.equal(await s.getMeta(key), 'b');
    });

    it('claims a meta key once: of concurrent claims exactly one wins and its value stays', async () => {
      const key = `claim-${id()}`;
      assert.equal(await s.insertMetaIfAbsent(key, 'first'), true);
      assert.equal(await s.insertMetaIfAbsent(key, 'second'), false);
      assert.equal(await s.getMeta(key), 'first');
      const raced = `claim-${id()}`;
      const wins = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((v) => s.insertMetaIfAbsent(raced, v)));
      assert.equal(wins.filter(Boolean).length, 1);
      assert.equal(await s.getMeta(raced), ['a', 'b', 'c', 'd', 'e'][wins.indexOf(true)]);
    });

    it('claims a meta key inside transactions: a claim racing an uncommitted one loses once it commits, and a rolled-back claim frees the key', async () => {
      const key = `claim-${id()}`;
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const results = await Promise.all(
        [0, 1].map((i) =>
          s.transaction(async (tx) => {
            const won = await tx.insertMetaIfAbsent(key, `tx${i}`);
            await sleep(30);
            return won;
          }),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await s.getMeta(key), `tx${results.indexOf(true)}`);
      const freed = `claim-${id()}`;
      await assert.rejects(
        s.transaction(async (tx) => {
          assert.equal(await tx.insertMetaIfAbsent(freed, 'rolled back'), true);
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.equal(await s.getMeta(freed), null);
      assert.equal(await s.insertMetaIfAbsent(freed, 'kept'), true);
    });

    it('queues check-then-write transactions behind a named lock, so none is lost', async () => {
      const name = `lock-${id()}`;
      const key = `count-${id()}`;
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      await Promise.all(
        Array.from({ length: 5 }, () =>
          s.transaction(async (tx) => {
            await tx.lockNamed(name);
            const n = Number((await tx.getMeta(key)) ?? '0');
            await sleep(10);
            await tx.setMeta(key, String(n + 1));
          }),
        ),
      );
      assert.equal(await s.getMeta(key), '5');
      await s.lockNamed(name); // outside a transaction: harmless
    });

    it('keeps access decisions per cluster, filters them, pages them newest first and prunes them by age', async () => {
      const c1 = id();
      const c2 = id();
      // The store gives each entry its id; the tests tell the entries apart by their reasons.
      let n = 0;
      const entry = (over: Partial<AccessLogRecord>): AccessLogRecord => ({
        clusterUid: c1,
        time: now,
        kind: 'authorization',
        source: 'builtInApi',
        user: 'ann@example.com',
        userObjectId: id(),
        groups: [id(), 'system:authenticated'],
        groupsSource: 'tokenClaim',
        verb: 'list',
        resource: 'pods',
        subresource: null,
        apiGroup: '',
        namespace: 'default',
        name: null,
        path: null,
        decision: 'allowed',
        reason: `RBAC: allowed by ClusterRoleBinding "x${++n}" of ClusterRole "view" to User "ann@example.com"`,
        ...over,
      });
      const entries = Array.from({ length: 7 }, (_, i) =>
        entry({ time: now - i * 1000, decision: i % 2 ? 'denied' : 'allowed', user: i === 4 ? 'bob@example.com' : 'ann@example.com' }),
      );
      const failed = entry({
        time: now - 500,
        kind: 'authentication',
        source: 'webhook',
        user: '',
        userObjectId: null,
        groups: [],
        groupsSource: null,
        verb: null,
        resource: null,
        apiGroup: null,
        namespace: null,
        decision: 'denied',
        reason: 'oidc: token is expired',
      });
      const nonResource = entry({
        time: now - 700,
        resource: null,
        apiGroup: null,
        namespace: null,
        path: '/version',
        decision: 'noOpinion',
      });
      const other = entry({ clusterUid: c2 });
      await s.addAccessDecisions([...entries, failed, nonResource, other]);
      await s.addAccessDecisions([]);

      const all = await s.listAccessDecisions(c1);
      assert.deepEqual(
        all.items.map((e) => e.reason),
        [entries[0]!, failed, nonResource, ...entries.slice(1)].map((e) => e.reason),
        'newest first, every field kept',
      );
      const { id: failedId, ...failedRead } = all.items[1]!;
      assert.deepEqual(failedRead, failed);
      const { id: firstId, ...firstRead } = all.items[0]!;
      assert.deepEqual(firstRead, entries[0]);
      assert.ok(failedId && firstId && failedId !== firstId, 'the store gives each entry an id of its own');
      assert.equal(new Set(all.items.map((e) => e.id)).size, all.items.length);
      assert.equal(all.next, undefined);
      assert.deepEqual(
        (await s.listAccessDecisions(c2)).items.map((e) => e.reason),
        [other.reason],
        'another cluster never sees the rows',
      );

      const seen: string[] = [];
      let skipToken: string | undefined;
      do {
        const p = await s.listAccessDecisions(c1, { top: 3, skipToken });
        assert.ok(p.items.length <= 3);
        seen.push(...p.items.map((e) => e.reason));
        skipToken = p.next;
      } while (skipToken);
      assert.deepEqual(
        seen,
        all.items.map((e) => e.reason),
        'pages join into the whole list, newest first',
      );

      assert.deepEqual(
        (await s.listAccessDecisions(c1, { from: now - 2000, to: now - 1000 })).items.map((e) => e.reason),
        [entries[1]!.reason, entries[2]!.reason],
        'both bounds inclusive',
      );
      assert.deepEqual(
        (await s.listAccessDecisions(c1, { allowed: false, user: 'ann@example.com' })).items.map((e) => e.reason),
        [nonResource.reason, entries[1]!.reason, entries[3]!.reason, entries[5]!.reason],
        'no opinion is not allowed',
      );
      assert.deepEqual(
        (await s.listAccessDecisions(c1, { allowed: true })).items.map((e) => e.reason),
        [entries[0]!.reason, entries[2]!.reason, entries[4]!.reason, entries[6]!.reason],
      );
      assert.deepEqual(
        (await s.listAccessDecisions(c1, { user: 'bob@example.com' })).items.map((e) => e.reason),
        [entries[4]!.reason],
      );
      await assert.rejects(
        s.listAccessDecisions(c1, { skipToken: 'not-a-cursor' }),
        (e: unknown) => e instanceof StoreError && e.code === 'invalid',
      );

      assert.ok((await s.deleteAccessDecisionsBefore(now - 4500)) >= 2);
      assert.deepEqual(
        (await s.listAccessDecisions(c1)).items.map((e) => e.reason),
        [entries[0]!, failed, nonResource, ...entries.slice(1, 5)].map((e) => e.reason),
      );
      assert.deepEqual((await s.listAccessDecisions(c2)).items.length, 1);
    });

    it('merges the access log of many batches newest first: batches that overlap in time, a clock that stepped back, ties, pages and pruning across them', async () => {
      const c = id();
      // Older than what the other cases write, so that pruning here counts this case's entries only.
      const at = now - 30 * 86_400_000;
      const rec = (time: number, reason: string, user = 'ann@example.com'): AccessLogRecord => ({
        clusterUid: c,
        time,
        kind: 'authorization',
        source: 'webhook',
        user,
        userObjectId: null,
        groups: ['system:authenticated'],
        groupsSource: 'tokenClaim',
        verb: 'get',
        resource: 'pods',
        subresource: null,
        apiGroup: '',
        namespace: 'default',
        name: null,
        path: null,
        decision: 'allowed',
        reason,
      });
      const written: AccessLogRecord[] = [];
      const write = async (batch: AccessLogRecord[]) => {
        written.push(...batch);
        await s.addAccessDecisions(batch);
      };
      // Two instances' batches interleaved in time; a third whose clock stepped back inside it.
      await write([rec(at - 100, 'a1'), rec(at - 50, 'a2'), rec(at, 'a3')]);
      await write([rec(at - 75, 'b1'), rec(at - 50, 'b2'), rec(at - 10, 'b3', 'bob@example.com')]);
      await write([rec(at - 5, 'c1'), rec(at - 200, 'c2')]);
      // One batch larger than a segment holds.
      await write(
        Array.from({ length: 450 }, (_, i) => rec(at - 1000 - (i % 150), `d${i}`, i % 50 ? 'ann@example.com' : 'bob@example.com')),
      );
      // Newest first; equal times: the later written first.
      const order = written
        .map((e, i) => ({ e, i }))
        .sort((a, b) => b.e.time - a.e.time || b.i - a.i)
        .map(({ e }) => e.reason);

      assert.deepEqual(
        (await s.listAccessDecisions(c)).items.map((e) => e.reason),
        order,
      );
      for (const top of [1, 7, 200]) {
        const seen: string[] = [];
        let skipToken: string | undefined;
        do {
          const p = await s.listAccessDecisions(c, { top, skipToken });
          assert.ok(p.items.length <= top);
          seen.push(...p.items.map((e) => e.reason));
          skipToken = p.next;
        } while (skipToken);
        assert.deepEqual(seen, order, `pages of ${top} join into the whole list`);
      }
      const bob = written.filter((e) => e.user === 'bob@example.com').map((e) => e.reason);
      assert.deepEqual(
        (await s.listAccessDecisions(c, { user: 'bob@example.com', top: 4 })).items.map((e) => e.reason),
        order.filter((r) => bob.includes(r)).slice(0, 4),
      );
      assert.deepEqual(
        (await s.listAccessDecisions(c, { from: at - 1010, to: at - 60 })).items.map((e) => e.reason),
        written
          .map((e, i) => ({ e, i }))
          .filter(({ e }) => e.time >= at - 1010 && e.time <= at - 60)
          .sort((a, b) => b.e.time - a.e.time || b.i - a.i)
          .map(({ e }) => e.reason),
      );

      assert.equal(await s.deleteAccessDecisionsBefore(at - 60), 3 + 450, 'a1, b1, c2 and the large batch, counted exactly');
      assert.deepEqual(
        (await s.listAccessDecisions(c)).items.map((e) => e.reason),
        ['a3', 'c1', 'b3', 'b2', 'a2'],
      );
      assert.equal(await s.deleteAccessDecisionsBefore(at - 60), 0);
    });

    it('writes a log batch outside any transaction running at the same time: its rollback loses none of the batch', async () => {
      const c = id();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let begun!: () => void;
      const inside = new Promise<void>((resolve) => (begun = resolve));
      const t = tenant();
      const rolledBack = s.transaction(async (tx) => {
        await tx.createTenant(t);
        begun();
        await gate;
        throw new Error('rolled back');
      });
      await inside;
      const logged = s.addAccessDecisions([
        {
          clusterUid: c,
          time: now,
          kind: 'authentication',
          source: 'webhook',
          user: 'ann@example.com',
          userObjectId: null,
          groups: [],
          groupsSource: 'tokenClaim',
          verb: null,
          resource: null,
          subresource: null,
          apiGroup: null,
          namespace: null,
          name: null,
          path: null,
          decision: 'allowed',
          reason: 'authenticated by an Entra token',
        },
      ]);
      release();
      await assert.rejects(rolledBack, /rolled back/);
      await logged;
      assert.equal(await s.getTenant(t.id), null, 'the transaction was rolled back');
      assert.deepEqual(
        (await s.listAccessDecisions(c)).items.map((e) => e.reason),
        ['authenticated by an Entra token'],
      );
    });

    it('increases the directory revision on every committed directory write, and only then', async () => {
      const changed = async (what: string, write: () => Promise<unknown>) => {
        const before = await s.directoryRevision();
        await write();
        assert.ok((await s.directoryRevision()) > before, `${what} increases the revision`);
      };
      const t = tenant();
      await changed('a new tenant', () => s.createTenant(t));
      const a = app(t.id);
      await changed('a new application', () => s.createApplication(a));
      const sp = {
        tenantId: t.id,
        id: id(),
        appId: a.appId,
        displayName: 'sp',
        accountEnabled: true,
        servicePrincipalNames: [a.appId],
        appRoleAssignmentRequired: false,
        createdAt: now,
      };
      await changed('a new service principal', () => s.createServicePrincipal(sp));
      await changed('disabling it', () => s.updateServicePrincipal(t.id, sp.id, (x) => ({ ...x, accountEnabled: false })));
      const pw = {
        tenantId: t.id,
        appObjectId: a.id,
        keyId: id(),
        displayName: null,
        hint: 'abc',
        secretHash: 'h',
        startDateTime: now,
        endDateTime: now + 1,
      };
      await changed('a new secret', () => s.addPasswordCredential(pw));
      await changed('removing it', () => s.removePasswordCredential(t.id, a.id, pw.keyId));
      const ara = {
        tenantId: t.id,
        id: id(),
        principalId: sp.id,
        principalType: 'ServicePrincipal' as const,
        resourceId: sp.id,
        appRoleId: id(),
      };
      await changed('an app role assignment', () => s.createAppRoleAssignment(ara));
      await changed('removing it', () => s.deleteAppRoleAssignment(t.id, ara.id));
      const g = group(t.id);
      await changed('a group', () => s.createGroup(g));
      await changed('a membership', () =>
        s.addGroupMember({ tenantId: t.id, groupId: g.id, memberId: sp.id, memberType: 'servicePrincipal' }),
      );
      await changed('a domain', () => s.updateTenant(t.id, (x) => ({ ...x, domains: [...x.domains, `d${id().slice(0, 8)}.example`] })));
      const u = user(t.id);
      await changed('a new user (0012)', () => s.createUser(u));
      await changed('disabling the user', () => s.updateUser(t.id, u.id, (x) => ({ ...x, accountEnabled: false })));
      await changed('deleting the user', () => s.deleteUser(t.id, u.id));
      const sub = { id: id(), tenantId: t.id, displayName: 'S', state: 'Enabled' as const, createdAt: now };
      await changed('a subscription (0013)', () => s.createSubscription(sub));
      const ra = {
        id: id(),
        tenantId: t.id,
        scope: `/subscriptions/${sub.id}`,
        roleDefinitionId: 'reader',
        principalId: u.id,
        principalType: 'User' as const,
        createdAt: now,
      };
      await changed('an Azure role assignment (0013)', () => s.createRoleAssignment(ra));
      await changed('removing it', () => s.deleteRoleAssignment(ra.id));
      const still = await s.directoryRevision();
      await s.setMeta(`unrelated-${id()}`, 'x');
      await s.createRefreshToken(refresh());
      assert.equal(await s.directoryRevision(), still, 'writes elsewhere leave it alone');
      await assert.rejects(
        s.transaction(async (tx) => {
          await tx.updateServicePrincipal(t.id, sp.id, (x) => ({ ...x, accountEnabled: true }));
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.equal(await s.directoryRevision(), still, 'a rolled-back write leaves it alone');
      assert.equal((await s.findServicePrincipalByAppId(t.id, a.appId))?.accountEnabled, false);
    });

    it('issue 17: reads an ARM resource and the directory revision in one statement, each as its own read answers', async () => {
      const mc = clusterResourceFixture(`Rev-${id().slice(0, 6)}`, { name: 'c', secrets: { key: 'k' }, createdAt: now, updatedAt: now });
      const both = (rid: string) => s.getResourceAndDirectoryRevision(rid);
      const missing = await both(mc.id);
      assert.deepEqual(missing, { resource: null, directoryRevision: await s.directoryRevision() }, 'absent: null, with the revision');
      await s.createResource(mc);
      const found = await both(mc.id.toUpperCase());
      assert.deepEqual(found.resource, await s.getResource(mc.id), 'present: as getResource answers, by any case');
      assert.equal(found.resource?.secrets.key, mc.secrets.key, 'sealed columns open as getResource opens them');
      assert.equal(found.directoryRevision, await s.directoryRevision());
      // A directory write moves the revision it answers; a write to the resource shows at the next read.
      await s.createTenant(tenant());
      const after = await both(mc.id);
      assert.ok(after.directoryRevision > found.directoryRevision, 'the revision moved');
      assert.equal(after.directoryRevision, await s.directoryRevision());
      await s.updateResource(mc.id, (r) => ({ ...r, etag: '"changed"' }));
      assert.equal((await both(mc.id)).resource?.etag, '"changed"');
      await s.transaction(async (tx) => {
        await tx.deleteResource(mc.id);
        assert.equal((await tx.getResourceAndDirectoryRevision(mc.id)).resource, null, 'the transaction reads its own write');
      });
      assert.equal((await both(mc.id)).resource, null);
      const other = await both(`${mc.id}-other`);
      assert.equal(other.resource, null, 'another id is not this one');
    });

    it("never reads the directory revision of another caller's transaction before it commits", async () => {
      const before = await s.directoryRevision();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let begun!: () => void;
      const inside = new Promise<void>((resolve) => (begun = resolve));
      const rolledBack = s.transaction(async (tx) => {
        await tx.createTenant(tenant());
        assert.ok((await tx.directoryRevision()) > before, 'the transaction reads its own write');
        begun();
        await gate;
        throw new Error('rolled back');
      });
      await inside;
      // PostgreSQL answers from another connection at once; SQLite's one connection answers after the transaction.
      const during = s.directoryRevision();
      release();
      await assert.rejects(rolledBack, /rolled back/);
      assert.equal(await during, before, 'read while the transaction was open');
      assert.equal(await s.directoryRevision(), before, 'read after it rolled back');
    });
  });
}
