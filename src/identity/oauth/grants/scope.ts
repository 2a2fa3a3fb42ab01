import type { TokenRequest } from '../context.js';
import { parseScope, v1Resource, type ParsedScope } from '../scopes.js';

/** The scope of a token request; the v1 endpoint names a `resource` instead. */
export function requestedScope(req: TokenRequest, forUser: boolean): ParsedScope {
  const scope = req.params.get('scope');
  if (scope || req.version === 2) return parseScope(req.params.require('scope'));
  const resource = v1Resource(req.params.require('resource'), req.apiVersion);
  return parseScope(`${resource}/.default${forUser ? ' openid profile offline_access' : ''}`);
}
