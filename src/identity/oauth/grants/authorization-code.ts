import { createHash } from 'node:crypto';
import { safeEqual, sha256Hex } from '../../../shared/crypto.js';
import { aad } from '../../errors.js';
import { authenticateClient } from '../client-auth.js';
import type { TokenRequest } from '../context.js';
import { issueUserTokens, type TokenResponseBody } from '../issue.js';
import { parseScope } from '../scopes.js';
import { homeAccountOf } from './accounts.js';

/** The same URI, where an empty path and `/` are one (`http://localhost:8400` = `http://localhost:8400/`). */
function sameUri(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return false;
  }
}

export async function authorizationCodeGrant(req: TokenRequest): Promise<TokenResponseBody> {
  const { services } = req;
  const code = req.params.require('code');
  const redirectUri = req.params.require('redirect_uri');
  const now = services.clock.now();
  const record = await services.store.redeemAuthorizationCode(sha256Hex(code), now);
  if (!record) throw aad.codeRedeemed();
  if (record.expiresAt <= now) throw aad.codeExpired();
  if (req.tenant && req.tenant.id !== record.tenantId) throw aad.grantInvalid();
  const tenant = await services.store.getTenant(record.tenantId);
  if (!tenant) throw aad.grantInvalid();
  const client = await authenticateClient(req, tenant, { requireConfidential: false });
  if (client.app.appId !== record.clientId) throw aad.clientMismatch();
  if (!sameUri(redirectUri, record.redirectUri)) throw aad.redirectMismatch(redirectUri, client.app.appId);
  if (record.codeChallenge) {
    const verifier = req.params.require('code_verifier');
    const computed = createHash('sha256').update(verifier).digest('base64url');
    if (!safeEqual(computed, record.codeChallenge)) throw aad.pkceMismatch();
  }
  const user = await services.store.getUser(tenant.id, record.userId);
  if (!user || !user.accountEnabled) throw aad.accountDisabled();
  const home = await homeAccountOf(services, user);
  return issueUserTokens(req, {
    tenant, user, home, client, scope: parseScope(record.scope), amr: ['pwd'], authTime: record.createdAt, nonce: record.nonce,
  });
}
