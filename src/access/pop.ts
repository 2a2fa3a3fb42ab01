import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Clock } from '../shared/clock.js';
import { decodeJwt, type DecodedJwt } from '../shared/jwt.js';
import type { AuthnResult, TokenAuthenticator } from './authn.js';

// Proof-of-possession tokens as Guard's `--azure.enable-pop` checks them (kubeguard/guard
// auth/providers/azure/pop_tokenverifier.go): the client wraps its access token in a JWT it signs with its
// own RSA key (a SignedHttpRequest: header typ "pop", claims at, ts, u, cnf.jwk, nonce); the access token's
// `cnf.kid` is that key's RFC 7638 thumbprint, so a stolen access token is useless without the key.

export interface PopOptions {
  /** The `u` claim this cluster answers to (Guard's --azure.pop-hostname); undefined: PoP tokens are not taken. */
  hostname: string | undefined;
  /** Only PoP tokens (Guard with --azure.enable-pop); otherwise bearer tokens without `cnf` are taken too. */
  required?: boolean;
  /** How long after `ts` a PoP token is valid (Guard's --azure.pop-token-validity-duration, 15 minutes). */
  validitySeconds?: number;
  clock: Clock;
}

const fail = (message: string): AuthnResult => ({ kind: 'error', message: `failed to verify pop token: ${message}`, httpStatus: 401 });

function part(segment: string | undefined): Record<string, unknown> | undefined {
  if (!segment) return undefined;
  try {
    const value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The RFC 7638 thumbprint of an RSA key, exactly as Guard and MSAL compute it. */
export function rsaThumbprint(e: string, n: string): string {
  return createHash('sha256').update(`{"e":"${e}","kty":"RSA","n":"${n}"}`).digest('base64url');
}

/** Checks a PoP token's envelope; the inner access token, when it passes. */
function unwrap(token: string, opts: PopOptions): { at: string; validUntil: number } | AuthnResult {
  const data = token.split('.');
  if (data.length !== 3 || !data[0] || !data[1] || !data[2]) return fail(`PoP token invalid schema. Token length: ${data.length}`);
  const header = part(data[0]);
  const claims = part(data[1]);
  if (!header || !claims) return fail('Could not parse PoP token.');
  if (typeof header.kid !== 'string' || !header.kid) return fail('No KeyID found in PoP token header');
  if (header.alg !== 'RS256')
    return fail(`Wrong algorithm found in PoP token header, expected 'RS256' having '${String(header.alg ?? '')}'`);
  if (header.typ === undefined) return fail("Invalid token. 'typ' claim is missing");
  if (typeof header.typ !== 'string') return fail("Invalid token. 'typ' claim should be of string");
  if (header.typ.toLowerCase() !== 'pop') return fail(`Wrong typ. Expected 'pop' having '${header.typ}'`);

  const now = Math.floor(opts.clock.now() / 1000);
  const validity = opts.validitySeconds ?? 900;
  if (claims.ts === undefined) return fail("Invalid token. 'ts' claim is missing");
  const ts =
    typeof claims.ts === 'number'
      ? Math.trunc(claims.ts)
      : typeof claims.ts === 'string' && /^\d+$/.test(claims.ts)
        ? Number(claims.ts)
        : 0;
  if (ts + validity < now)
    return fail(
      `Token is expired. Now: ${new Date(now * 1000).toISOString()}, Valid till: ${new Date((ts + validity) * 1000).toISOString()}`,
    );
  // Kentra's addition: Guard takes any future `ts`, which would let a token outlive the validity window.
  if (ts - validity > now)
    return fail(`Token is not valid yet. Now: ${new Date(now * 1000).toISOString()}, issued at: ${new Date(ts * 1000).toISOString()}`);

  if (claims.u === undefined) return fail("Invalid token. 'u' claim is missing");
  if (typeof claims.u !== 'string') return fail("Invalid token. 'u' claim should be of string");
  if (claims.u.toLowerCase() !== opts.hostname!.toLowerCase())
    return fail(
      `Invalid Pop token due to host mismatch. Expected: ${JSON.stringify(opts.hostname)}, received: ${JSON.stringify(claims.u)}`,
    );

  const cnf = claims.cnf;
  if (cnf === undefined) return fail("Invalid token. 'cnf' claim is missing");
  if (!cnf || typeof cnf !== 'object' || Array.isArray(cnf)) return fail("Invalid token. 'cnf' claim is not in expected format");
  const jwk = (cnf as Record<string, unknown>).jwk as Record<string, unknown> | undefined;
  const e = typeof jwk?.e === 'string' ? jwk.e : '';
  const n = typeof jwk?.n === 'string' ? jwk.n : '';
  if (!e || !n) return fail("Invalid token. 'jwk' claim is empty");

  if (claims.at === undefined) return fail('Invalid token. access token missing');
  if (typeof claims.at !== 'string') return fail("Invalid token. 'at' claim should be string");
  const atClaims = part(claims.at.split('.')[1]);
  if (!atClaims) return fail('could not parse access token in PoP token');
  const atCnf = atClaims.cnf as Record<string, unknown> | undefined;
  if (!atCnf || typeof atCnf !== 'object') return fail("could not retrieve 'cnf' claim from access token");
  if (atCnf.kid !== rsaThumbprint(e, n)) return fail("PoP token validate failed: 'cnf' claim mismatch");

  let key: KeyObject;
  try {
    key = createPublicKey({ key: { kty: 'RSA', e, n }, format: 'jwk' });
  } catch (err) {
    return fail(`Failed to decode jwk: ${(err as Error).message}`);
  }
  let ok = false;
  try {
    ok = verify('RSA-SHA256', Buffer.from(`${data[0]}.${data[1]}`), key, Buffer.from(data[2], 'base64url'));
  } catch {
    /* a key or signature that cannot be used */
  }
  if (!ok) return fail('RSA verify err: crypto/rsa: verification error');
  return { at: claims.at, validUntil: (ts + validity) * 1000 };
}

/**
 * PoP in front of the Entra authenticator. A PoP token is checked as Guard does and its inner access token
 * goes to `inner`; the answer lives no longer than the PoP token. A bearer access token that carries `cnf`
 * (bound to a key) is refused: it is only good inside a PoP token signed with that key.
 */
export function popTokenAuthenticator(inner: TokenAuthenticator, opts: PopOptions): TokenAuthenticator {
  return async (req) => {
    // A JWT is decoded once here and handed on with the request; anything else is looked at part by part.
    let jwt: DecodedJwt | undefined;
    try {
      jwt = req.jwt ?? decodeJwt(req.token);
    } catch {
      jwt = undefined;
    }
    const [h, p] = jwt ? [] : req.token.split('.');
    const header = jwt ? (jwt.header as Record<string, unknown>) : part(h);
    if (!header) return inner(req); // not a JWT: the local admin token, perhaps
    const isPop = typeof header.typ === 'string' && header.typ.toLowerCase() === 'pop';
    if (!isPop) {
      if (opts.hostname && opts.required) return unwrap(req.token, opts) as AuthnResult;
      if ((jwt ? jwt.payload : part(p))?.cnf !== undefined) {
        return {
          kind: 'error',
          message:
            'failed to verify token for azure: the access token is bound to a proof-of-possession key (cnf) and is not accepted as a bearer token: send it in a PoP token signed with that key (kubelogin --pop-enabled)',
          httpStatus: 401,
        };
      }
      return inner(jwt && !req.jwt ? { ...req, jwt } : req);
    }
    if (!opts.hostname) return fail('this cluster does not take PoP tokens');
    const unwrapped = unwrap(req.token, opts);
    if ('kind' in unwrapped) return unwrapped;
    const result = await inner({ ...req, token: unwrapped.at, jwt: undefined });
    if (result.kind !== 'user') return result;
    return { ...result, expiresAt: Math.min(result.expiresAt ?? unwrapped.validUntil, unwrapped.validUntil) };
  };
}
