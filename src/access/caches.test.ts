import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  azureRbacAuthorizer,
  cachedGroupLookup,
  cachedTokenAuthenticator,
  Lru,
  type AuthnResult,
  type TokenAuthenticator,
} from './index.js';

// Every per-instance cache of the access layer is bounded (issue 17: memory stays bounded whatever the
// input): each drops its least recently used entry when full. Eviction is a behaviour, shown here by
// counting the calls that reach what the cache stands in front of. (The clusters' chains: in
// cluster-access.test.ts.)

const clock = { now: () => 1_000_000 };
const OID = '0a0a0a0a-1111-4222-8333-444444444444';

describe('bounded caches', () => {
  it('Lru keeps at most max entries and drops the least recently used first', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    assert.equal(lru.get('a'), 1); // a is now the most recently used
    lru.set('c', 3);
    assert.equal(lru.size, 2);
    assert.equal(lru.get('b'), undefined, 'b was the least recently used');
    assert.equal(lru.get('a'), 1);
    assert.equal(lru.get('c'), 3);
    assert.equal(lru.evictions, 1);
    lru.set('a', 10); // replacing a value evicts nothing
    assert.equal(lru.evictions, 1);
    assert.throws(() => new Lru(0), RangeError);
  });

  it('Lru hands out its entries least recently used first, through reads, replacements, deletions and evictions', () => {
    // A model of the same rules on a plain array, driven by the same 5,000 pseudo-random steps.
    const lru = new Lru<number, number>(50);
    let order: number[] = []; // least recently used first
    const values = new Map<number, number>();
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 80;
    for (let step = 0; step < 5000; step++) {
      const key = next();
      const op = step % 4;
      if (op === 0 || op === 3) {
        lru.set(key, step);
        if (!values.has(key) && order.length === 50) values.delete(order.shift()!);
        order = [...order.filter((k) => k !== key), key];
        values.set(key, step);
      } else if (op === 1) {
        assert.equal(lru.get(key), values.get(key));
        if (values.has(key)) order = [...order.filter((k) => k !== key), key];
      } else {
        assert.equal(lru.delete(key), values.delete(key));
        order = order.filter((k) => k !== key);
      }
    }
    assert.deepEqual([...lru.keys()], order);
    assert.deepEqual(
      [...lru],
      order.map((k) => [k, values.get(k)]),
    );
    assert.equal(lru.peek(order[0]!), values.get(order[0]!));
    assert.deepEqual([...lru.keys()], order, 'peek leaves the order alone');
    // Deleting the entry just handed out, while iterating, leaves the rest to come.
    const seen: number[] = [];
    for (const key of lru.keys()) {
      seen.push(key);
      lru.delete(key);
    }
    assert.deepEqual(seen, order);
    assert.equal(lru.size, 0);
    lru.set(1, 1);
    lru.clear();
    assert.deepEqual([...lru], []);
    lru.set(2, 2);
    assert.deepEqual([...lru], [[2, 2]]);
  });

  it('Lru with a weight bound drops the least recently used until the rest fit, and never keeps a value heavier than the bound', () => {
    const lru = new Lru<string, string>(100, { maxWeight: 10, weigh: (_k, v) => v.length });
    lru.set('a', 'aaaa');
    lru.set('b', 'bbbb');
    assert.equal(lru.get('a'), 'aaaa'); // b is now the least recently used
    lru.set('c', 'cccc'); // 12 > 10: b goes
    assert.deepEqual([...lru.keys()], ['a', 'c']);
    assert.equal(lru.weight, 8);
    lru.set('a', 'aaaaaaa'); // heavier in place: 7 + 4 > 10, so c (now the oldest) goes; a stays
    assert.deepEqual([...lru], [['a', 'aaaaaaa']]);
    assert.equal(lru.weight, 7);
    lru.set('d', 'x'.repeat(11)); // heavier than the bound: not kept, nothing dropped for it
    assert.deepEqual([...lru.keys()], ['a']);
    lru.set('a', 'y'.repeat(11)); // a's new value too heavy: its old value goes as well
    assert.equal(lru.get('a'), undefined);
    assert.equal(lru.weight, 0);
    lru.set('e', 'ee');
    lru.delete('e');
    assert.equal(lru.weight, 0);
    lru.set('f', 'ff');
    lru.clear();
    assert.equal(lru.weight, 0);
    assert.equal(lru.evictions, 2);
    // The count bound still holds with a weight bound.
    const both = new Lru<number, string>(2, { maxWeight: 100, weigh: () => 1 });
    [1, 2, 3].forEach((k) => both.set(k, ''));
    assert.deepEqual([...both.keys()], [2, 3]);
    assert.throws(() => new Lru(1, { maxWeight: -1, weigh: () => 0 }), RangeError);
  });

  it('the token cache keeps at most maxEntries results (the kube-apiserver webhook cache), least recently used out first', async () => {
    const asked: string[] = [];
    const inner: TokenAuthenticator = async ({ token }) => {
      asked.push(token);
      return { kind: 'user', user: { username: token, uid: '', groups: [], extra: {} } } as AuthnResult;
    };
    const cached = cachedTokenAuthenticator(inner, { clock, maxEntries: 3 });
    for (const t of ['t1', 't2', 't3']) await cached({ token: t });
    await cached({ token: 't1' }); // a hit: t2 becomes the least recently used
    assert.deepEqual(asked, ['t1', 't2', 't3']);
    await cached({ token: 't4' }); // full: t2 goes
    assert.equal(cached.size(), 3);
    await cached({ token: 't1' });
    await cached({ token: 't3' });
    assert.deepEqual(asked, ['t1', 't2', 't3', 't4'], 't1 and t3 were kept');
    await cached({ token: 't2' });
    assert.deepEqual(asked, ['t1', 't2', 't3', 't4', 't2'], 't2 was evicted and is checked again');
    assert.equal(cached.size(), 3);
  });

  it('the group cache keeps at most maxEntries users', async () => {
    const asked: string[] = [];
    const groups = cachedGroupLookup(
      {
        memberGroups: async (_t, oid) => {
          asked.push(oid);
          return [`g-${oid}`];
        },
      },
      clock,
      60_000,
      2,
    );
    await groups.memberGroups('t', 'u1');
    await groups.memberGroups('t', 'u2');
    await groups.memberGroups('t', 'u1');
    await groups.memberGroups('t', 'u3'); // u2 goes
    await groups.memberGroups('t', 'u1');
    assert.deepEqual(asked, ['u1', 'u2', 'u3']);
    assert.deepEqual(await groups.memberGroups('t', 'u2'), ['g-u2']);
    assert.deepEqual(asked, ['u1', 'u2', 'u3', 'u2'], 'u2 was evicted and is looked up again');
  });

  it("the Azure RBAC decision cache keeps at most cacheSize decisions (Guard's 3-minute cache, bounded)", async () => {
    const asked: string[] = [];
    const authorize = azureRbacAuthorizer({
      clock,
      tenantId: 't',
      clusterResourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c',
      clusterType: 'Microsoft.ContainerService/managedClusters',
      cacheSize: 2,
      dataActions: {
        checkDataAction: async (q) => {
          asked.push(q.scope.split('/').at(-1)!);
          return { allowed: false };
        },
      },
    });
    const ask = (namespace: string) =>
      authorize({ user: 'alice', groups: [], extra: { oid: [OID] }, resourceAttributes: { namespace, verb: 'get', resource: 'pods' } });
    await ask('n1');
    await ask('n2');
    await ask('n1');
    await ask('n3'); // n2 goes
    await ask('n1');
    assert.deepEqual(asked, ['n1', 'n2', 'n3']);
    const again = await ask('n2');
    assert.equal(again.denied, true);
    assert.deepEqual(asked, ['n1', 'n2', 'n3', 'n2'], 'n2 was evicted and is checked again');
  });
});
