import { isReservedIdentifierUri, normalizeResourceId } from '../../directory/first-party.js';
import { aad } from '../../errors.js';
import { InvalidTokenError, type TokenVerifier } from '../../tokens/verify.js';
import { authenticateClient } from '../client-auth.js';
import type { TokenRequest } from '../context.js';
import { issueUserTokens, type TokenResponseBody } from '../issue.js';
import { requestedScope } from './scope.js';
import { homeAccountOf } from './accounts.js';

/** On-behalf-of: a middle-tier API trades the user's token (whose audience it is) for one to another API. */
export function onBehalfOfGrant(verifier: TokenVerifier) {
  return async (req: TokenRequest): Promise<TokenResponseBody> => {
    if (req.params.get('requested_token_use') !== 'on_behalf_of')
      throw aad.unsupportedGrant('urn:ietf:params:oauth:grant-type:jwt-bearer without requested_token_use=on_behalf_of');
    const { services } = req;
    if (!req.tenant) throw aad.tenantRequired();
    const tenant = req.tenant;
    const client = await authenticateClient(req, tenant, { requireConfidential: true });
    let claims: Record<string, unknown>;
    try {
      claims = await verifier.verifyAsync(req.params.require('assertion'), { tenantId: tenant.id });
    } catch (err) {
      throw aad.oboAssertionInvalid(err instanceof InvalidTokenError ? err.message : 'The assertion is not a valid token.');
    }
    if (claims.idtyp === 'app' || typeof claims.oid !== 'string')
      throw aad.oboAssertionInvalid('An application token cannot be exchanged on behalf of a user.');
    // Only a user's access token (it carries `scp`); an id_token for the same client is another kind of JWT (RFC 8725 §3.12).
    if (typeof claims.scp !== 'string' || claims.scp.trim() === '')
      throw aad.oboAssertionInvalid('The assertion is not an access token with delegated permissions; an id_token cannot be exchanged.');
    // The assertion must be for this client: its appId or an identifier URI of its own, never a
    // first-party resource's URI an old seed file may have given it (reference/security.md §1.7).
    const audiences = [client.app.appId, ...client.app.identifierUris.filter((u) => !isReservedIdentifierUri(u))].map(normalizeResourceId);
    if (!audiences.includes(normalizeResourceId(String(claims.aud)))) throw aad.oboAudience();
    const user = await services.store.getUser(tenant.id, claims.oid);
    if (!user || !user.accountEnabled) throw aad.accountDisabled();
    const home = await homeAccountOf(services, user);
    return issueUserTokens(req, {
      tenant,
      user,
      home,
      client,
      scope: requestedScope(req, true),
      amr: Array.isArray(claims.amr) ? claims.amr.map(String) : ['pwd'],
      authTime: Number(claims.iat ?? 0) * 1000,
    });
  };
}
