import { sha256Hex } from '../../../shared/crypto.js';
import { aad } from '../../errors.js';
import { authenticateClient, clientCredentials } from '../client-auth.js';
import type { TokenRequest } from '../context.js';
import { checkRedemptionOrigin, SPA_REFRESH_LIFETIME_MS } from '../cors.js';
import { issueUserTokens, type TokenResponseBody } from '../issue.js';
import { parseScope, v1Resource } from '../scopes.js';
import { accountInTenant } from '../sign-in.js';

/** Two processes refreshing with the same token at the same moment is not theft. */
const CONCURRENT_REUSE_MS = 10_000;

/** Refresh tokens rotate on every use; a rotated one presented again revokes its whole family. */
export async function refreshTokenGrant(req: TokenRequest): Promise<TokenResponseBody> {
  const { services } = req;
  const token = req.params.require('refresh_token');
  const hash = sha256Hex(token);
  const record = await services.store.getRefreshToken(hash);
  if (!record) throw aad.grantInvalid();
  const now = services.clock.now();
  if (record.revokedAt) throw aad.refreshRevoked();
  if (record.expiresAt <= now) throw aad.refreshExpired();
  if (record.rotatedAt && now - record.rotatedAt > CONCURRENT_REUSE_MS) {
    await services.store.revokeRefreshTokenFamily(record.familyId, now);
    throw aad.refreshRevoked();
  }
  // A spa refresh token (issued for a spa code: 24 h from the sign-in, no longer) is redeemed cross-origin only.
  const spa = record.expiresAt - record.createdAt <= SPA_REFRESH_LIFETIME_MS;
  checkRedemptionOrigin(req, spa);
  const { clientId } = clientCredentials(req);
  if (!clientId) throw aad.missingParameter('client_id');
  if (clientId.toLowerCase() !== record.clientId) throw aad.clientMismatch();
  const home = await services.store.getUser(record.tenantId, record.userId);
  if (!home) throw aad.refreshRevoked();
  if (!home.accountEnabled) throw aad.accountDisabled();
  const tenant = req.tenant ?? (await services.store.getTenant(home.tenantId));
  if (!tenant) throw aad.refreshRevoked();
  const user = await accountInTenant(services, home, tenant);
  const client = await authenticateClient(req, tenant, { requireConfidential: false });
  const resource = req.params.get('resource');
  const scope = parseScope(
    req.params.get('scope') ?? (resource ? `${v1Resource(resource, req.apiVersion)}/.default openid profile offline_access` : record.scope),
  );
  return issueUserTokens(req, {
    tenant,
    user,
    home,
    client,
    scope,
    amr: ['pwd'],
    authTime: record.createdAt,
    familyId: record.familyId,
    alwaysRefresh: true,
    // Entra: tokens refreshed from a spa refresh token keep its expiry.
    refreshExpiresAt: spa ? record.expiresAt : undefined,
    commit: async () => {
      if (!record.rotatedAt && !(await services.store.rotateRefreshToken(hash, now))) {
        // Someone else rotated it between our read and now: treat as a concurrent refresh only if just now.
        const again = await services.store.getRefreshToken(hash);
        if (!again?.rotatedAt || now - again.rotatedAt > CONCURRENT_REUSE_MS || again.revokedAt) throw aad.refreshRevoked();
      }
    },
  });
}
