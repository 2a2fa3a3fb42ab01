import type { Clock } from '../../shared/clock.js';
import { decodeJwt, JwtError, verifySignature } from './jwt.js';
import type { KeyRing } from './keys.js';

export class InvalidTokenError extends Error {
  constructor(readonly reason: 'malformed' | 'signature' | 'expired' | 'not_yet_valid' | 'issuer' | 'audience' | 'tenant', message: string) {
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

const norm = (s: string) => s.toLowerCase().replace(/\/+$/, '');

/** Verifies tokens this server issued: signature with the key ring, then iss, tid, aud, exp and nbf. */
export class TokenVerifier {
  constructor(private readonly keys: KeyRing, private readonly clock: Clock) {}

  verify(token: string, opts: VerifyOptions = {}): Record<string, unknown> {
    let claims: Record<string, unknown>;
    try {
      const jwt = decodeJwt(token);
      const key = typeof jwt.header.kid === 'string' ? this.keys.publicKey(jwt.header.kid) : undefined;
      if (!key) throw new InvalidTokenError('signature', 'the token was not signed by a key of this server');
      verifySignature(jwt, key);
      claims = jwt.payload;
    } catch (err) {
      if (err instanceof InvalidTokenError) throw err;
      throw new InvalidTokenError(err instanceof JwtError && err.reason === 'malformed' ? 'malformed' : 'signature', (err as Error).message);
    }
    const tid = String(claims.tid ?? '');
    const iss = String(claims.iss ?? '');
    if (iss !== `https://sts.windows.net/${tid}/` && !new RegExp(`^https://[^/]+/${tid}/v2\\.0$`).test(iss)) {
      throw new InvalidTokenError('issuer', `the token issuer '${iss}' is not this server's for tenant '${tid}'`);
    }
    if (opts.tenantId && tid !== opts.tenantId) throw new InvalidTokenError('tenant', `the token is for tenant '${tid}', not '${opts.tenantId}'`);
    const now = Math.floor(this.clock.now() / 1000);
    const leeway = opts.leewaySeconds ?? 60;
    if (typeof claims.exp !== 'number' || claims.exp + leeway < now) throw new InvalidTokenError('expired', 'the token has expired');
    if (typeof claims.nbf === 'number' && claims.nbf - leeway > now) throw new InvalidTokenError('not_yet_valid', 'the token is not valid yet');
    if (opts.audiences) {
      const accepted = new Set(opts.audiences.map(norm));
      const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!auds.some((a) => accepted.has(norm(String(a))))) throw new InvalidTokenError('audience', `the token audience '${String(claims.aud)}' is not accepted here`);
    }
    return claims;
  }
}
