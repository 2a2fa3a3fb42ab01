import { aad } from '../../errors.js';
import { authenticateClient, clientCredentials, clientTenant } from '../client-auth.js';
import type { TokenRequest } from '../context.js';
import { issueAppToken, type TokenResponseBody } from '../issue.js';
import { requestedScope } from './scope.js';

export async function clientCredentialsGrant(req: TokenRequest): Promise<TokenResponseBody> {
  const { clientId } = clientCredentials(req);
  if (!clientId) throw aad.missingParameter('client_id');
  const tenant = await clientTenant(req, clientId.toLowerCase());
  const client = await authenticateClient(req, tenant, { requireConfidential: true });
  return issueAppToken(req, client, requestedScope(req, false));
}
