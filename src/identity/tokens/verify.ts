import { hash, type KeyObject } from 'node:crypto';
import { Lru } from '../../shared/lru.js';
import type { Clock } from '../../shared/clock.js';
import { decodeJwt, JwtError, verifySignature } from './jwt.js';
import type { KeyRing } from './keys.js';

/** Which check refused a token: a stable code for callers to branch on (never the message). */
export type InvalidTokenCode =
  'malformed' | 'unknown_key' | 'bad_signature' | 'expired' | 'not_yet_valid' | 'issuer' | 'audience' | 'tenant';

export class InvalidTokenError extends Error {
  constructor(
    readonly code: InvalidTokenCode,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidTokenError';
  }
}

export interface VerifyOptions {
  /** Accepted `aud` values (compared case-insensitively, trailing slash ignored); any when absent. */
  audiences?: string[];
  tenantId?: string;
  leewaySeconds?: number;
}

/** Audiences compare case-insensitively, trailing slashes ignored. */
export const normalizeAudience = (s: string): string => s.toLowerCase().replace(/\/+$/, '');

/** Is `exp` past, or `nbf` ahead, beyond the leeway? (seconds) */
export function timeProblem(
  claims: Record<string, unknown>,
  nowSeconds: number,
  leewaySeconds: number,
): 'expired' | 'not_yet_valid' | null {
  if (typeof claims.exp !== 'number' || claims.exp + leewaySeconds < nowSeconds) return 'expired';
  if (typeof claims.nbf === 'number' && claims.nbf - leewaySeconds > nowSeconds) return 'not_yet_valid';
  return null;
}

/** Does any `aud` value of the token fall in `accepted` (already normalized)? */
export function audienceAccepted(claims: Record<string, unknown>, accepted: Set<string>): boolean {
  return (Array.isArray(claims.aud) ? claims.aud : [claims.aud]).some((a) => accepted.has(normalizeAudience(String(a))));
}

/**
 * `https://<origin>/<tid>/v2.0` where the origin is one this server answers on (RFC 8725 §3.8: the
 * issuer is this server, not any https host). A string test, not a RegExp built per token from its claims.
 */
function isV2Issuer(iss: string, tid: string, isOwnOrigin: (origin: string) => boolean): boolean {
  const suffix = `/${tid}/v2.0`;
  if (!tid || !iss.startsWith('https://') || !iss.endsWith(suffix)) return false;
  const host = iss.slice('https://'.length, iss.length - suffix.length);
  return /^(\[[0-9a-f:]+\]|[a-z0-9.-]+)(:\d{1,5})?$/i.test(host) && isOwnOrigin(`https://${host}`);
}

export interface TokenVerifierOptions {
  /**
   * Is `https://host[:port]` an origin of this server (the hosts and port it answers on)? A v2 issuer
   * must name one. Without it only v1 tokens (`https://sts.windows.net/<tid>/`) verify.
   */
  isOwnOrigin?: (origin: string) => boolean;
  /**
   * Tokens whose signature was checked, kept by a hash of the token (default 10,000; 0: none). A token
   * seen before skips the RS256 check (about half of an ARM GET's CPU), never the claim checks; it is
   * checked again when its key is no longer the key ring's.
   */
  cacheSize?: number;
}

/** A token whose signature verified: its claims (frozen: every caller shares them) and the key that verified it. */
interface Verified {
  key: KeyObject;
  kid: string;
  claims: Record<string, unknown>;
}

/** Claims shared between callers are frozen, with their arrays (`aud`, `groups`, `roles`…). */
function freezeClaims(claims: Record<string, unknown>): Record<string, unknown> {
  for (const v of Object.values(claims)) if (Array.isArray(v)) Object.freeze(v);
  return Object.freeze(claims);
}

/** A token naming a kid not loaded here (an InvalidTokenError('unknown_key') to `verify`'s callers). */
class UnknownKidError extends InvalidTokenError {
  constructor(
    readonly kid: string,
    message: string,
  ) {
    super('unknown_key', message);
  }
}

/** Verifies tokens this server issued: header (RS256, no crit) and signature with the key ring, then iss, tid, aud, exp and nbf. */
export class TokenVerifier {
  private readonly isOwnOrigin: (origin: string) => boolean;
  private readonly verified: Lru<string, Verified> | null;
  /** The accepted audiences, normalized, per `audiences` array (callers pass the same few constants). */
  private readonly audienceSets = new WeakMap<string[], Set<string>>();

  constructor(
    private readonly keys: KeyRing,
    private readonly clock: Clock,
    opts: TokenVerifierOptions = {},
  ) {
    const isOwn = opts.isOwnOrigin ?? (() => false);
    const size = opts.cacheSize ?? 10_000;
    this.verified = size > 0 ? new Lru(size) : null;
    // On the verification hot path: the answer per origin is kept (only tokens Kentra signed get here,
    // so the origins are the few this deployment has served under), instead of a URL parse per token.
    const known = new Map<string, boolean>();
    this.isOwnOrigin = (origin) => {
      let own = known.get(origin);
      if (own === undefined) {
        own = isOwn(origin);
        if (known.size < 64) known.set(origin, own);
      }
      return own;
    };
  }

  verify(token: string, opts: VerifyOptions = {}): Record<string, unknown> {
    return this.check(token, opts, undefined);
  }

  /**
   * `verify`, and when the token names a kid this instance does not know, one re-read of the key list
   * from the store first (rate-limited by the key ring), so a key another instance just rotated in is
   * accepted at once. Tokens with a known kid take the synchronous path unchanged.
   */
  async verifyAsync(token: string, opts: VerifyOptions = {}): Promise<Record<string, unknown>> {
    try {
      return this.check(token, opts, undefined);
    } catch (err) {
      if (!(err instanceof UnknownKidError)) throw err;
      const key = await this.keys.publicKeyOrReload(err.kid);
      return this.check(token, opts, key);
    }
  }

  /** The verified token's claims, when this token's signature was checked before with a key still in the ring. */
  private seen(cacheKey: string): Record<string, unknown> | undefined {
    const hit = this.verified?.get(cacheKey);
    if (!hit) return undefined;
    if (this.keys.publicKey(hit.kid) === hit.key) return hit.claims;
    this.verified!.delete(cacheKey);
    return undefined;
  }

  private check(token: string, opts: VerifyOptions, reloaded: KeyObject | undefined): Record<string, unknown> {
    const cacheKey = this.verified ? hash('sha256', token, 'base64url') : '';
    let claims = this.seen(cacheKey);
    if (!claims) claims = this.checkSignature(token, reloaded, cacheKey);
    return this.checkClaims(claims, opts);
  }

  private checkSignature(token: string, reloaded: KeyObject | undefined, cacheKey: string): Record<string, unknown> {
    let claims: Record<string, unknown>;
    try {
      const jwt = decodeJwt(token);
      const kid = jwt.header.kid;
      const key = typeof kid === 'string' ? (this.keys.publicKey(kid) ?? reloaded) : undefined;
      if (!key) {
        const message = 'the token was not signed by a key of this server';
        throw typeof kid === 'string' && !reloaded ? new UnknownKidError(kid, message) : new InvalidTokenError('unknown_key', message);
      }
      verifySignature(jwt, key, ['RS256']); // Kentra signs its tokens with RS256 only
      claims = freezeClaims(jwt.payload);
      // Only a key of the ring is remembered: one re-read for an unknown kid verifies, and is checked again next time.
      if (this.verified && key !== reloaded && typeof kid === 'string') this.verified.set(cacheKey, { key, kid, claims });
    } catch (err) {
      if (err instanceof InvalidTokenError) throw err;
      throw new InvalidTokenError(
        err instanceof JwtError && err.code === 'malformed' ? 'malformed' : 'bad_signature',
        (err as Error).message,
      );
    }
    return claims;
  }

  private checkClaims(claims: Record<string, unknown>, opts: VerifyOptions): Record<string, unknown> {
    const tid = String(claims.tid ?? '');
    const iss = String(claims.iss ?? '');
    if (iss !== `https://sts.windows.net/${tid}/` && !isV2Issuer(iss, tid, this.isOwnOrigin)) {
      throw new InvalidTokenError('issuer', `the token issuer '${iss}' is not this server's for tenant '${tid}'`);
    }
    if (opts.tenantId && tid !== opts.tenantId)
      throw new InvalidTokenError('tenant', `the token is for tenant '${tid}', not '${opts.tenantId}'`);
    const time = timeProblem(claims, Math.floor(this.clock.now() / 1000), opts.leewaySeconds ?? 60);
    if (time === 'expired') throw new InvalidTokenError('expired', 'the token has expired');
    if (time === 'not_yet_valid') throw new InvalidTokenError('not_yet_valid', 'the token is not valid yet');
    if (opts.audiences) {
      let accepted = this.audienceSets.get(opts.audiences);
      if (!accepted) this.audienceSets.set(opts.audiences, (accepted = new Set(opts.audiences.map(normalizeAudience))));
      if (!audienceAccepted(claims, accepted))
        throw new InvalidTokenError('audience', `the token audience '${String(claims.aud)}' is not accepted here`);
    }
    return claims;
  }
}
