import { lookupKey, randomToken } from '../shared/crypto.js';
import type { Clock } from '../shared/clock.js';
import type { AuthnResult, TokenAuthenticator } from './authn.js';
import { Lru } from '../shared/lru.js';

// The kube-apiserver's cached token authenticator: results keyed by a keyed hash of the audiences and
// the token (the token itself is never kept), users for the success TTL (never past the credential's
// own expiry), "not authenticated" for the failure TTL, errors not at all so a passing failure is
// retried on the next request. Concurrent look-ups of the same token share one call.

export interface TokenCacheOptions {
  clock: Clock;
  /** Default 2 minutes, the kube-apiserver's `--authentication-token-webhook-cache-ttl`. */
  successTtlMs?: number;
  /** Default 10 seconds. */
  failureTtlMs?: number;
  /** At most this many results are kept; the least recently used goes first (default 10,000: `kentra up --token-cache-size`). */
  maxEntries?: number;
}

/** The default bound of a cluster's token cache. */
export const DEFAULT_TOKEN_CACHE_SIZE = 10_000;

export interface CachedTokenAuthenticator extends TokenAuthenticator {
  readonly size: () => number;
  readonly clear: () => void;
}

/** What every token cache of this process has done, for /metrics. */
export interface TokenCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Entries held now, over every live cache. */
  entries: number;
  /** The largest bound (maxEntries) of a live cache. */
  maxEntries: number;
}

const totals = { hits: 0, misses: 0, evictions: 0 };
const live = new Set<WeakRef<{ entries: Lru<string, unknown>; max: number }>>();

export function tokenCacheStats(): TokenCacheStats {
  let entries = 0;
  let maxEntries = 0;
  for (const ref of live) {
    const cache = ref.deref();
    if (!cache) {
      live.delete(ref);
      continue;
    }
    entries += cache.entries.size;
    maxEntries = Math.max(maxEntries, cache.max);
  }
  return { ...totals, entries, maxEntries };
}

export function cachedTokenAuthenticator(inner: TokenAuthenticator, opts: TokenCacheOptions): CachedTokenAuthenticator {
  const successTtl = opts.successTtlMs ?? 120_000;
  const failureTtl = opts.failureTtlMs ?? 10_000;
  const max = opts.maxEntries ?? DEFAULT_TOKEN_CACHE_SIZE;
  const entries = new Lru<string, { result: AuthnResult; until: number }>(max);
  // At most one per request being answered: bounded by the requests in flight.
  const inflight = new Map<string, Promise<AuthnResult>>();
  const self = { entries: entries as Lru<string, unknown>, max };
  live.add(new WeakRef(self));

  // The audiences go in as JSON (a value that ends where it ends, so no two pairs of audiences and token
  // make the same text), then the token.
  const prefix = randomToken(32);
  const keyOf = (token: string, audiences: string[] | undefined) =>
    lookupKey(prefix, `${audiences ? JSON.stringify(audiences) : 'null'}${token}`);

  const authenticate = (async (req) => {
    const key = keyOf(req.token, req.audiences);
    const now = opts.clock.now();
    // Least recently used first out: a hit moves the entry to the end.
    const hit = entries.get(key);
    if (hit) {
      if (hit.until > now) {
        totals.hits++;
        return hit.result;
      }
      entries.delete(key);
    }
    totals.misses++;
    const pending = inflight.get(key);
    if (pending) return pending;
    const call = inner(req)
      .then((result) => {
        if (result.kind !== 'error') {
          const ttl = result.kind === 'user' ? successTtl : failureTtl;
          const until = Math.min(opts.clock.now() + ttl, result.kind === 'user' && result.expiresAt ? result.expiresAt : Infinity);
          const before = entries.evictions;
          entries.set(key, { result, until });
          totals.evictions += entries.evictions - before;
        }
        return result;
      })
      .finally(() => inflight.delete(key));
    inflight.set(key, call);
    return call;
  }) as CachedTokenAuthenticator;
  // `self` is held by the authenticator so the WeakRef in `live` lasts exactly as long as the cache.
  Object.assign(authenticate, { size: () => entries.size, clear: () => entries.clear(), [Symbol.for('kentra.tokenCache')]: self });
  return authenticate;
}
