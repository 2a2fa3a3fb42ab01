import type { Clock } from '../shared/clock.js';
import type { GroupLookup } from './entra.js';

/** Keeps each user's groups for a short while (default 60 s), so a burst of requests costs one look-up. */
export function cachedGroupLookup(inner: GroupLookup, clock: Clock, ttlMs = 60_000): GroupLookup {
  const cache = new Map<string, { groups: string[]; until: number }>();
  return {
    async memberGroups(tenantId, objectId) {
      const key = `${tenantId}/${objectId}`;
      const hit = cache.get(key);
      if (hit && hit.until > clock.now()) return hit.groups;
      const groups = await inner.memberGroups(tenantId, objectId);
      if (cache.size >= 10_000) cache.clear();
      cache.set(key, { groups, until: clock.now() + ttlMs });
      return groups;
    },
  };
}
