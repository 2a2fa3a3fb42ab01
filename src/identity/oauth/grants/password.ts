import { authenticateClient } from '../client-auth.js';
import type { TokenRequest } from '../context.js';
import { issueUserTokens, type TokenResponseBody } from '../issue.js';
import { signInWithPassword } from '../sign-in.js';
import { requestedScope } from './scope.js';

/** Resource owner password credentials (ROPC). */
export async function passwordGrant(req: TokenRequest): Promise<TokenResponseBody> {
  const username = req.params.require('username');
  const password = req.params.require('password');
  const scope = requestedScope(req, true);
  const signedIn = await signInWithPassword(req.services, { username, password, target: req.tenant, ip: req.ip });
  const client = await authenticateClient(req, signedIn.tenant, { requireConfidential: false });
  return issueUserTokens(req, { ...signedIn, client, scope, amr: ['pwd'], authTime: req.services.clock.now() });
}
