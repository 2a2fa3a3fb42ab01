import type { TokenVerifier } from '../../tokens/verify.js';
import type { TokenRequest } from '../context.js';
import type { TokenResponseBody } from '../issue.js';
import { authorizationCodeGrant } from './authorization-code.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { deviceCodeGrant } from './device-code.js';
import { onBehalfOfGrant } from './on-behalf-of.js';
import { passwordGrant } from './password.js';
import { refreshTokenGrant } from './refresh-token.js';

export type GrantHandler = (req: TokenRequest) => Promise<TokenResponseBody>;

/** grant_type → handler. Both spellings of the device-code grant arrive (msal-node sends the short one). */
export function grantHandlers(verifier: TokenVerifier): Map<string, GrantHandler> {
  return new Map<string, GrantHandler>([
    ['client_credentials', clientCredentialsGrant],
    ['authorization_code', authorizationCodeGrant],
    ['refresh_token', refreshTokenGrant],
    ['password', passwordGrant],
    ['device_code', deviceCodeGrant],
    ['urn:ietf:params:oauth:grant-type:device_code', deviceCodeGrant],
    ['urn:ietf:params:oauth:grant-type:jwt-bearer', onBehalfOfGrant(verifier)],
  ]);
}
