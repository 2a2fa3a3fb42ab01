import type { Clock } from '../shared/clock.js';
import type { GroupLookup } from './entra.js';
import { Lru } from '../shared/lru.js';

/** The default bound of the group cache (`kentra up --group-cache-size`). */
export const DEFAULT_GROUP_CACHE_SIZE = 10_000;

/**
 * Keeps each user's groups for a short while (default 60 s), so a burst of requests costs one look-up;
 * at most `maxEntries` users, the least recently used dropped first.
 */
export function cachedGroupLookup(inner: GroupLookup, clock: Clock, ttlMs = 60_000, maxEntries = DEFAULT_GROUP_CACHE_SIZE): GroupLookup {
  const cache = new Lru<string, { groups: string[]; until: number }>(maxEntries);
  return {
    async memberGroups(tenantId, objectId) {
      const key = `${tenantId}/${objectId}`;
      const hit = cache.get(key);
      if (hit && hit.until > clock.now()) return hit.groups;
      const groups = await inner.memberGroups(tenantId, objectId);
      cache.set(key, { groups, until: clock.now() + ttlMs });
      return groups;
    },
  };
}
