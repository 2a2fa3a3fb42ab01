// The identity component's public surface: other components import only from here.
export { Directory, DirectoryError, type AddedPassword, type NewApplication } from './directory/directory.js';
export * from './directory/first-party.js';
export { AadError, aad } from './errors.js';
export { KeyRing, DEFAULT_ROTATION, type KeyRotationPolicy } from './tokens/keys.js';
export { TokenVerifier, InvalidTokenError, audienceAccepted, normalizeAudience, timeProblem, type VerifyOptions } from './tokens/verify.js';
export { signJwt, decodeJwt, verifySignature, publicKeyFromJwk, JwtError, type DecodedJwt } from './tokens/jwt.js';
export { v1Issuer, v2Issuer, GROUP_OVERAGE_LIMIT } from './tokens/claims.js';
export { DEFAULT_RATE_LIMITS, type IdentityServices, type RateLimits } from './oauth/context.js';
export { parseScope, type ParsedScope } from './oauth/scopes.js';
export { consentedScopes } from './oauth/issue.js';
export { adminOnlyScopes, grantConsent, isGlobalAdministrator } from './oauth/consent.js';
export { signInWithPassword, accountInTenant, type SignedInUser } from './oauth/sign-in.js';
export { findHomeTenantForClient } from './oauth/client-auth.js';
export { homeAccountOf } from './oauth/grants/accounts.js';
export { registerOAuthRoutes, tenantOfSegment, type HttpEdge } from './oauth/routes.js';
export { registerGraphRoutes } from './graph/index.js';
export { registerManagedIdentityRoute } from './oauth/managed-identity.js';
