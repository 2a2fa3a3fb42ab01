import type { KeyObject } from 'node:crypto';
import { audienceAccepted, decodeJwt, JwtError, normalizeAudience, timeProblem, v1Issuer, type DecodedJwt } from '../identity/index.js';
import type { Clock } from '../shared/clock.js';
import { verifySignatureAsync } from '../shared/jwt.js';
import {
  GROUPS_FROM_DIRECTORY,
  NO_ANSWER,
  type AuthnResult,
  type UserInfo,
  type TokenAuthenticator,
  type TokenFailureCode,
} from './authn.js';

// Entra ID access tokens, checked the way Guard's Azure authenticator does (reference/guard-rbac.md
// §1), with Kentra's additions from the cluster-access issue: v2 tokens as well as v1, the audience
// always checked (the AKS server app or a legacy cluster's server app, and their `spn:` forms), and
// `tid` pinned to the cluster's tenant.

/** Where signing keys come from: the in-process key ring, or a remote tenant's JWKS. */
export interface KeySource {
  publicKey(kid: string): KeyObject | undefined | Promise<KeyObject | undefined>;
}

/** Resolves a user's groups when the token carries an overage claim instead of them. */
export interface GroupLookup {
  memberGroups(tenantId: string, objectId: string): Promise<string[]>;
}

export interface EntraAuthenticatorOptions {
  tenantId: string;
  /** Accepted `aud` values: the server app's ID and/or identifier URIs. Their `spn:` forms are accepted too. */
  audiences: string[];
  /** Kentra's authority origin (`https://host:port`), for the v2 issuer `<origin>/<tenant>/v2.0`. */
  authorityOrigin: string;
  keys: KeySource;
  groups: GroupLookup;
  clock: Clock;
  /** Leeway on `exp` and `nbf`; Guard allows a minute. */
  leewaySeconds?: number;
}

export const SPN_OVERAGE_MESSAGE =
  'service principal with group membership exceeding 200 is not supported. See https://learn.microsoft.com/en-us/azure/aks/kubelogin-authentication#kubelogin-authentication-in-aks-limitations';

const ENTRA_V1 = /^https:\/\/sts\.windows\.net\/([^/]+)\/$/;
const fail = (code: TokenFailureCode, message: string): AuthnResult => ({
  kind: 'error',
  message: `failed to verify token for azure: ${message}`,
  httpStatus: 401,
  code,
});

export function entraTokenAuthenticator(opts: EntraAuthenticatorOptions): TokenAuthenticator {
  const leeway = opts.leewaySeconds ?? 60;
  const v2Prefix = `${opts.authorityOrigin.replace(/\/+$/, '')}/`;
  const issuers = new Set([v1Issuer(opts.tenantId), `${v2Prefix}${opts.tenantId}/v2.0`]);
  const audiences = new Set(opts.audiences.flatMap((a) => [normalizeAudience(a), `spn:${normalizeAudience(a)}`]));

  /** The tenant an Entra-looking issuer names, or undefined when the issuer is not Entra's at all. */
  const entraTenantOf = (iss: string): string | undefined => {
    const v1 = ENTRA_V1.exec(iss);
    if (v1) return v1[1];
    if (iss.startsWith(v2Prefix) && iss.endsWith('/v2.0')) return iss.slice(v2Prefix.length, -'/v2.0'.length);
    return undefined;
  };

  return async ({ token, jwt: decoded }) => {
    let jwt: DecodedJwt;
    try {
      jwt = decoded ?? decodeJwt(token);
    } catch {
      return NO_ANSWER;
    } // not a JWT: the admin token, perhaps
    const claims = jwt.payload;
    const iss = typeof claims.iss === 'string' ? claims.iss : '';
    if (!issuers.has(iss)) {
      const tenant = entraTenantOf(iss);
      if (tenant === undefined) return NO_ANSWER; // not an Entra token: a service account token, perhaps
      return fail('issuer', `oidc: id token issued by a different provider, expected "${v1Issuer(opts.tenantId)}" got "${iss}"`);
    }
    const kid = jwt.header.kid;
    const key = typeof kid === 'string' ? await opts.keys.publicKey(kid) : undefined;
    if (!key) return fail('unknown_key', 'failed to verify id token signature: no signing key with that kid');
    // RS256 only (Entra's and Kentra's tokens), and no `crit` header (checked in verifySignature, RFC 7515 §4.1.11).
    // The RSA operation runs on the threadpool: a burst of new tokens uses both cores, not the event loop.
    try {
      await verifySignatureAsync(jwt, key, ['RS256']);
    } catch (err) {
      return fail(
        'bad_signature',
        err instanceof JwtError && err.code !== 'signature'
          ? `failed to verify id token signature: ${err.message}`
          : 'failed to verify id token signature',
      );
    }
    const now = Math.floor(opts.clock.now() / 1000);
    const time = timeProblem(claims, now, leeway);
    if (time === 'expired') {
      return fail(
        'expired',
        typeof claims.exp === 'number'
          ? `oidc: token is expired (Token Expiry: ${new Date(claims.exp * 1000).toISOString()})`
          : 'oidc: the token has no exp claim',
      );
    }
    if (time === 'not_yet_valid')
      return fail(
        'not_yet_valid',
        `oidc: current time ${new Date(now * 1000).toISOString()} before the nbf (not before) time: ${new Date(Number(claims.nbf) * 1000).toISOString()}`,
      );
    if (!audienceAccepted(claims, audiences)) {
      return fail(
        'audience',
        `oidc: expected audience "${opts.audiences[0]}" got ${JSON.stringify((Array.isArray(claims.aud) ? claims.aud : [claims.aud]).map(String))}`,
      );
    }
    if (claims.tid !== opts.tenantId)
      return fail('tenant', `the token is for tenant "${String(claims.tid)}", the cluster's is "${opts.tenantId}"`);

    const oid = claims.oid;
    const upn = claims.upn;
    if ((upn !== undefined && typeof upn !== 'string') || (oid !== undefined && typeof oid !== 'string'))
      return fail('user_claims', 'upn and oid claims must be strings');
    const username = upn || oid;
    if (!username) return fail('user_claims', 'username: upn and objectID: oid claims not found');

    let groups: string[];
    let fromDirectory = false;
    const claimNames = claims._claim_names as Record<string, unknown> | undefined;
    if (Array.isArray(claims.groups)) {
      groups = claims.groups.map(String);
    } else if (claimNames && typeof claimNames === 'object' && typeof claimNames.groups === 'string') {
      if (String(claims.idtyp ?? '').toLowerCase() === 'app')
        return { kind: 'error', message: SPN_OVERAGE_MESSAGE, httpStatus: 200, code: 'app_overage' };
      if (!oid) return fail('groups', 'the token has a group overage claim but no oid to look the groups up by');
      try {
        groups = await opts.groups.memberGroups(opts.tenantId, oid);
        fromDirectory = true;
      } catch (err) {
        return fail('groups', `could not resolve the groups of a user in overage: ${(err as Error).message}`);
      }
    } else {
      groups = [];
    }
    const user: UserInfo = { username, uid: '', groups, extra: { oid: [oid ?? ''] } };
    if (fromDirectory) user[GROUPS_FROM_DIRECTORY] = true;
    return { kind: 'user', user, expiresAt: (claims.exp as number) * 1000 };
  };
}
