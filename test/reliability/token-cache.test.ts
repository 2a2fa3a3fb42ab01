import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as access from '../../src/access/index.js';
import type { TokenAuthenticator } from '../../src/access/index.js';

const { cachedTokenAuthenticator, tokenCacheStats } = access;

// Issue 16 item 5: the cluster token cache kept entries in insertion order, so a flood of new tokens
// pushed out the one every request repeats. It must keep the most recently used ones.

describe('reliability: the cluster token cache under a flood of new tokens', () => {
  it('issue 16.5: the hottest token stays cached while a flood of one-off tokens passes through a bounded cache (LRU)', async () => {
    const clock = { now: () => 1_000_000 };
    const calls = new Map<string, number>();
    const inner: TokenAuthenticator = async ({ token }) => {
      calls.set(token, (calls.get(token) ?? 0) + 1);
      return { kind: 'user', user: { username: token, uid: token, groups: [], extra: {} } };
    };
    const maxEntries = 100;
    const cache = cachedTokenAuthenticator(inner, { clock, maxEntries });
    const flood = 5_000;
    let hotLookups = 0;
    for (let i = 0; i < flood; i++) {
      await cache({ token: `one-off-${i}` });
      if (i % 10 === 0) {
        await cache({ token: 'hot' });
        hotLookups++;
      }
    }
    const hotCalls = calls.get('hot') ?? 0;
    console.log(
      `issue 16.5 figure: ${flood} one-off tokens through a cache of ${maxEntries}; the hot token was looked up ${hotLookups} times and verified ${hotCalls} time(s) (its hit rate ${(((hotLookups - hotCalls) / hotLookups) * 100).toFixed(1)} %); cache size ${cache.size()}`,
    );
    assert.equal(hotCalls, 1, 'the hot token is verified once and then always found in the cache');
    assert.equal(cache.size(), maxEntries, 'the bound holds');
  });

  it('issue 16.5: counts hits, misses and evictions and reports the bound, for /metrics', async () => {
    const clock = { now: () => 1_000_000 };
    const inner: TokenAuthenticator = async ({ token }) => ({ kind: 'user', user: { username: token, uid: token, groups: [], extra: {} } });
    const cache = cachedTokenAuthenticator(inner, { clock, maxEntries: 3 });
    const before = tokenCacheStats();
    for (const token of ['a', 'b', 'a', 'c', 'd', 'a', 'b']) await cache({ token });
    const after = tokenCacheStats();
    const figure = { hits: after.hits - before.hits, misses: after.misses - before.misses, evictions: after.evictions - before.evictions };
    console.log(`issue 16.5 figure: a b a c d a b through a cache of 3 → ${JSON.stringify(figure)}, bound reported ${after.maxEntries}`);
    // a b (miss miss) a (hit) c (miss) d (miss, evicts b) a (hit) b (miss, evicts c)
    assert.deepEqual(figure, { hits: 2, misses: 5, evictions: 2 });
    assert.ok(after.maxEntries >= 3);
    assert.ok(after.entries >= cache.size());
  });
});
