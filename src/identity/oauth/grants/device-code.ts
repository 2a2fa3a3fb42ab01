import { sha256Hex } from '../../../shared/crypto.js';
import { aad } from '../../errors.js';
import { authenticateClient, clientCredentials } from '../client-auth.js';
import type { TokenRequest } from '../context.js';
import { issueUserTokens, type TokenResponseBody } from '../issue.js';
import { parseScope } from '../scopes.js';
import { homeAccountOf } from './accounts.js';

/** Polling for a device code (`device_code` and the RFC 8628 URN both arrive here). */
export async function deviceCodeGrant(req: TokenRequest): Promise<TokenResponseBody> {
  const { services } = req;
  const code = req.params.require('device_code');
  const { clientId } = clientCredentials(req);
  if (!clientId) throw aad.missingParameter('client_id');
  const hash = sha256Hex(code);
  const record = await services.store.getDeviceCode(hash);
  if (!record || record.clientId !== clientId.toLowerCase()) throw aad.badDeviceCode();
  const now = services.clock.now();
  if (record.expiresAt <= now) throw aad.deviceCodeExpired();
  if (record.status === 'pending') {
    await services.store.touchDeviceCode(hash, now);
    throw aad.authorizationPending();
  }
  if (record.status === 'declined') throw aad.authorizationDeclined();
  if (record.status === 'redeemed') throw aad.codeRedeemed();
  const tenant = record.tenantId ? await services.store.getTenant(record.tenantId) : null;
  const user = tenant && record.userId ? await services.store.getUser(tenant.id, record.userId) : null;
  if (!tenant || !user) throw aad.badDeviceCode();
  const home = await homeAccountOf(services, user);
  const client = await authenticateClient(req, tenant, { requireConfidential: false });
  return issueUserTokens(req, {
    tenant,
    user,
    home,
    client,
    scope: parseScope(record.scope),
    amr: ['pwd'],
    authTime: now,
    alwaysRefresh: true,
    commit: async () => {
      if (!(await services.store.transitionDeviceCode(hash, 'approved', { status: 'redeemed' }))) throw aad.codeRedeemed();
    },
  });
}
