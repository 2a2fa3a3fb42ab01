import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '../../shared/clock.js';
import { openStore, type Group, type Store, type User } from '../../store/index.js';
import type { IdentityServices } from './context.js';
import { DirectoryReadCache } from './directory-cache.js';

// The per-instance cache of directory reads (token issuance, Graph's caller and member actions), on a
// real SQLite store: answers shared within a revision, a write seen by the next request, keys that
// cannot collide, failures not kept.

describe('DirectoryReadCache', () => {
  let store: Store;
  let cache: DirectoryReadCache;
  const tenantId = randomUUID();
  const user = (over: Partial<User> = {}): User => ({
    tenantId,
    id: randomUUID(),
    userPrincipalName: `u${randomUUID().slice(0, 8)}@cache.example`,
    displayName: 'U',
    mailNickname: 'u',
    mail: null,
    passwordHash: 'scrypt$1$1$1$x$y',
    accountEnabled: true,
    userType: 'Member',
    homeTenantId: null,
    homeObjectId: null,
    createdAt: Date.now(),
    ...over,
  });

  before(async () => {
    store = await openStore({ url: 'sqlite::memory:' });
    await store.createTenant({
      id: tenantId,
      displayName: 'Cache',
      domains: ['cache.example'],
      defaultDomain: 'cache.example',
      createdAt: Date.now(),
    });
    cache = new DirectoryReadCache({ store, clock: systemClock } as unknown as IdentityServices);
  });
  after(async () => store?.close());

  it('shares one frozen answer within a revision, and reads again after any write', async () => {
    const u = user();
    await store.createUser(u);
    const first = await (await cache.forRequest()).store.getUser(tenantId, u.id);
    const again = await (await cache.forRequest()).store.getUser(tenantId, u.id);
    assert.equal(first?.accountEnabled, true);
    assert.equal(again, first, 'the second request gets the same object: no read');
    assert.ok(Object.isFrozen(first));
    assert.throws(() => {
      (first as { accountEnabled: boolean }).accountEnabled = false;
    }, TypeError);

    await store.updateUser(tenantId, u.id, (x) => ({ ...x, accountEnabled: false }));
    const after = await (await cache.forRequest()).store.getUser(tenantId, u.id);
    assert.equal(after?.accountEnabled, false, 'the write raised the revision: the next request reads it');
  });

  it('keeps arguments apart that a plain join would run together', async () => {
    const a = user({ userPrincipalName: 'a@cache.example' });
    await store.createUser(a);
    const view = (await cache.forRequest()).store;
    assert.equal((await view.findUserByUpn(tenantId, 'a@cache.example'))?.id, a.id);
    // Arguments that run together when concatenated are different reads.
    assert.equal(await view.findUserByUpn(`${tenantId}a@cache`, '.example'), null);
    assert.equal(await view.findUserByUpn(`${tenantId}\u00009:a@cache`, '.example'), null);
    // Object arguments: a filter by principal and one by resource are different reads.
    const principalId = randomUUID();
    await store.createAppRoleAssignment({
      tenantId,
      id: randomUUID(),
      principalId,
      principalType: 'ServicePrincipal',
      resourceId: randomUUID(),
      appRoleId: randomUUID(),
    });
    const next = (await cache.forRequest()).store;
    assert.equal((await next.listAppRoleAssignments(tenantId, { principalId })).length, 1);
    assert.equal((await next.listAppRoleAssignments(tenantId, { resourceId: principalId })).length, 0);
  });

  it('answers getGroups as the store does, reading only the groups it does not keep yet, and reads again after a write', async () => {
    const group = (i: number): Group => ({
      tenantId,
      id: randomUUID(),
      displayName: `g${i}`,
      mailNickname: `g${i}`,
      description: null,
      securityEnabled: i % 2 === 0,
      mailEnabled: false,
      createdAt: Date.now(),
    });
    const groups = Array.from({ length: 12 }, (_, i) => group(i));
    for (const g of groups) await store.createGroup(g);
    const ids = groups.map((g) => g.id);
    const original = store.getGroups.bind(store);
    const asked: string[][] = [];
    store.getGroups = async (t: string, wanted: string[]) => {
      asked.push([...wanted]);
      return original(t, wanted);
    };
    try {
      for (const c of [cache, new DirectoryReadCache({ store, clock: systemClock } as unknown as IdentityServices, 5)]) {
        asked.length = 0;
        const view = (await c.forRequest()).store;
        const some = [ids[3]!, ids[1]!, randomUUID(), ids[3]!];
        assert.deepEqual(
          await view.getGroups(tenantId, some),
          await original(tenantId, some),
          'sorted by id, an unknown id left out, a repeated one once',
        );
        assert.deepEqual(asked, [[ids[3], ids[1], some[2]]]);
        const all = await view.getGroups(tenantId, [...ids].reverse());
        assert.deepEqual(all, await original(tenantId, ids));
        assert.ok(Object.isFrozen(all[0]));
        assert.equal(asked.length, 2);
        if (c === cache) {
          assert.deepEqual(
            new Set(asked[1]),
            new Set(ids.filter((id) => id !== ids[1] && id !== ids[3])),
            'only the groups not read before',
          );
          assert.deepEqual(await view.getGroups(tenantId, ids), all);
          assert.equal(asked.length, 2, 'all kept: no read');
          assert.equal(
            await view.getGroup(tenantId, ids[5]!),
            all.find((g) => g.id === ids[5]),
            'getGroup answers from the same groups',
          );
        }
      }
      await store.updateGroup(tenantId, ids[0]!, (g) => ({ ...g, displayName: 'renamed' }));
      const next = (await cache.forRequest()).store;
      assert.equal((await next.getGroups(tenantId, ids)).find((g) => g.id === ids[0])?.displayName, 'renamed');
    } finally {
      store.getGroups = original;
    }
  });

  it('answers getUsers as the store does, reading only the users it does not keep yet (getUser answers included), and reads again after a write', async () => {
    const users = Array.from({ length: 6 }, (_, i) => user({ userPrincipalName: `many${i}-${randomUUID().slice(0, 8)}@cache.example` }));
    for (const u of users) await store.createUser(u);
    const ids = users.map((u) => u.id);
    const original = store.getUsers.bind(store);
    const asked: string[][] = [];
    store.getUsers = async (t: string, wanted: string[]) => {
      asked.push([...wanted]);
      return original(t, wanted);
    };
    try {
      const view = (await cache.forRequest()).store;
      const kept = await view.getUser(tenantId, ids[2]!);
      const some = [ids[4]!, ids[2]!, randomUUID(), ids[4]!];
      assert.deepEqual(await view.getUsers(tenantId, some), await original(tenantId, some), 'sorted by id, unknown left out, repeats once');
      assert.deepEqual(asked, [[ids[4], some[2]]], 'the user getUser kept is not read again');
      const all = await view.getUsers(tenantId, ids);
      assert.deepEqual(all, await original(tenantId, ids));
      assert.equal(
        all.find((u) => u.id === ids[2]),
        kept,
        "getUser's answer, shared",
      );
      assert.ok(Object.isFrozen(all[0]));
      assert.equal(asked.length, 2);
      assert.deepEqual(new Set(asked[1]), new Set(ids.filter((id) => id !== ids[2] && id !== ids[4])));
      await store.updateUser(tenantId, ids[0]!, (u) => ({ ...u, displayName: 'renamed' }));
      const next = (await cache.forRequest()).store;
      assert.equal((await next.getUsers(tenantId, ids)).find((u) => u.id === ids[0])?.displayName, 'renamed');
    } finally {
      store.getUsers = original;
    }
  });

  it('does not keep a read that failed', async () => {
    const original = store.getTenant.bind(store);
    let calls = 0;
    store.getTenant = async (id: string) => {
      calls++;
      if (calls === 1) throw new Error('store unavailable');
      return original(id);
    };
    try {
      await store.createUser(user()); // a new revision: the next request's view reads through the patched store
      const view = (await cache.forRequest()).store;
      const fresh = randomUUID();
      await assert.rejects(view.getTenant(fresh), /store unavailable/);
      assert.equal(await view.getTenant(fresh), null, 'the second call reads again');
      assert.equal(await view.getTenant(fresh), null);
      assert.equal(calls, 2, 'the answer of the second call is kept');
    } finally {
      store.getTenant = original;
    }
  });
});
