import { createHmac, randomBytes } from 'node:crypto';
import type { Clock } from '../shared/clock.js';
import type { AuthnResult, TokenAuthenticator } from './authn.js';

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
  maxEntries?: number;
}

export interface CachedTokenAuthenticator extends TokenAuthenticator {
  readonly size: () => number;
  readonly clear: () => void;
}

export function cachedTokenAuthenticator(inner: TokenAuthenticator, opts: TokenCacheOptions): CachedTokenAuthenticator {
  const secret = randomBytes(32);
  const successTtl = opts.successTtlMs ?? 120_000;
  const failureTtl = opts.failureTtlMs ?? 10_000;
  const max = opts.maxEntries ?? 10_000;
  const entries = new Map<string, { result: AuthnResult; until: number }>();
  const inflight = new Map<string, Promise<AuthnResult>>();

  const keyOf = (token: string, audiences: string[] | undefined) => {
    const h = createHmac('sha256', secret);
    for (const a of audiences ?? []) h.update(a).update('\0');
    return h.update('\u0001').update(token).digest('base64url');
  };

  const authenticate = (async (req) => {
    const key = keyOf(req.token, req.audiences);
    const now = opts.clock.now();
    const hit = entries.get(key);
    if (hit) {
      if (hit.until > now) return hit.result;
      entries.delete(key);
    }
    const pending = inflight.get(key);
    if (pending) return pending;
    const call = inner(req).then((result) => {
      if (result.kind !== 'error') {
        const ttl = result.kind === 'user' ? successTtl : failureTtl;
        const until = Math.min(opts.clock.now() + ttl, result.kind === 'user' && result.expiresAt ? result.expiresAt : Infinity);
        if (entries.size >= max) entries.delete(entries.keys().next().value!); // oldest first
        entries.set(key, { result, until });
      }
      return result;
    }).finally(() => inflight.delete(key));
    inflight.set(key, call);
    return call;
  }) as CachedTokenAuthenticator;
  Object.assign(authenticate, { size: () => entries.size, clear: () => entries.clear() });
  return authenticate;
}
