import { createHash } from 'node:crypto';
import { safeEqual, sha256Hex } from '../../../shared/crypto.js';
import { aad } from '../../errors.js';
import { authenticateClient } from '../client-auth.js';
import type { TokenRequest } from '../context.js';
import { issueUserTokens, type TokenResponseBody } from '../issue.js';
import { checkRedemptionOrigin, SPA_REFRESH_LIFETIME_MS } from '../cors.js';
import { matchRedirectUri } from '../redirect-uri.js';
import { parseScope } from '../scopes.js';
import { homeAccountOf } from './accounts.js';

/** RFC 7636 §4.1: 43–128 characters of the unreserved set. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** The same URI, where an empty path and `/` are one (`http://localhost:8400` = `http://localhost:8400/`). */
function sameUri(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return false;
  }
}

/**
 * The refresh-token family of the tokens a code's redemption issues, derived from the code, so that a
 * replay of the code can revoke them without the store remembering the link (RFC 6749 §4.1.2).
 */
export function codeFamilyId(codeHash: string): string {
  const h = sha256Hex(`authorization-code-family|${codeHash}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** RFC 7636 §4.6 and RFC 9700 §2.1.1: a verifier is checked whenever a challenge or a verifier is present. */
function checkPkce(challenge: string | null, verifier: string | undefined): void {
  if (!challenge) {
    // A verifier for a code issued without a challenge is a PKCE downgrade (RFC 9700 §4.8.2).
    if (verifier !== undefined) throw aad.pkceDowngrade();
    return;
  }
  if (verifier === undefined) throw aad.missingParameter('code_verifier');
  if (!VERIFIER.test(verifier)) throw aad.pkceVerifierFormat();
  const computed = createHash('sha256').update(verifier, 'ascii').digest('base64url');
  if (!safeEqual(computed, challenge)) throw aad.pkceMismatch();
}

export async function authorizationCodeGrant(req: TokenRequest): Promise<TokenResponseBody> {
  const { services } = req;
  const code = req.params.require('code');
  const redirectUri = req.params.require('redirect_uri');
  const now = services.clock.now();
  const codeHash = sha256Hex(code);
  const record = await services.store.redeemAuthorizationCode(codeHash, now);
  if (!record) {
    // Already redeemed (or unknown): whoever holds the tokens of the first redemption may be the thief,
    // so their refresh tokens go. Access tokens are stateless JWTs and live until they expire.
    await services.store.revokeRefreshTokenFamily(codeFamilyId(codeHash), now);
    throw aad.codeRedeemed();
  }
  if (record.expiresAt <= now) throw aad.codeExpired();
  if (req.tenant && req.tenant.id !== record.tenantId) throw aad.grantInvalid();
  const tenant = await services.store.getTenant(record.tenantId);
  if (!tenant) throw aad.grantInvalid();
  checkPkce(record.codeChallenge, req.params.get('code_verifier'));
  const app = await services.store.findApplicationByAppId(tenant.id, record.clientId);
  // A code sent to a web redirect URI belongs to a confidential client: it must authenticate (Entra: AADSTS7000218).
  const platform = app ? matchRedirectUri(app, record.redirectUri, req.origin) : null;
  // A spa code only cross-origin, any other only not (AADSTS9002327 / 9002326); a spa code always with PKCE.
  checkRedemptionOrigin(req, platform === 'spa');
  if (platform === 'spa' && !record.codeChallenge) throw aad.pkceRequired();
  const client = await authenticateClient(req, tenant, { requireConfidential: platform !== 'public' && platform !== 'spa' });
  if (client.app.appId !== record.clientId) throw aad.clientMismatch();
  if (!sameUri(redirectUri, record.redirectUri)) throw aad.redirectMismatch(redirectUri, client.app.appId);
  const user = await services.store.getUser(tenant.id, record.userId);
  if (!user || !user.accountEnabled) throw aad.accountDisabled();
  const home = await homeAccountOf(services, user);
  return issueUserTokens(req, {
    tenant,
    user,
    home,
    client,
    scope: parseScope(record.scope),
    amr: ['pwd'],
    authTime: record.createdAt,
    nonce: record.nonce,
    familyId: codeFamilyId(codeHash),
    refreshExpiresAt: platform === 'spa' ? now + SPA_REFRESH_LIFETIME_MS : undefined,
  });
}
