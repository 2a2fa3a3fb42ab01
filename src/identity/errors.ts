// The identity service's errors. Each carries its AADSTS number, the OAuth `error` value and the
// HTTP status; oauth/respond.ts turns them into Entra's JSON shape, web/ into a sign-in page message.

export class AadError extends Error {
  constructor(
    readonly code: number,
    readonly error: string,
    readonly status: number,
    message: string,
    readonly suberror?: string,
  ) {
    super(`AADSTS${code}: ${message}`);
    this.name = 'AadError';
  }
}

const e = (code: number, error: string, status: number, message: string, suberror?: string) =>
  new AadError(code, error, status, message, suberror);

/** The catalogue: one function per situation, wording as Entra has it where it is known. */
export const aad = {
  malformed: (detail: string) => e(9002313, 'invalid_request', 400, `Invalid request. Request is malformed or invalid. ${detail}`),
  missingParameter: (name: string) =>
    e(900144, 'invalid_request', 400, `The request body must contain the following parameter: '${name}'.`),
  duplicateParameter: (name: string) =>
    e(9002313, 'invalid_request', 400, `Invalid request. Request is malformed or invalid. The parameter '${name}' is duplicated.`),
  unsupportedGrant: (grant: string) => e(70003, 'unsupported_grant_type', 400, `The app requested an unsupported grant type '${grant}'.`),
  tenantNotFound: (tenant: string) =>
    e(
      90002,
      'invalid_tenant',
      400,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
    ),
  tenantRequired: () =>
    e(
      90009,
      'invalid_request',
      400,
      "Application is requesting a token for itself from a multi-tenant endpoint ('common' or 'organizations'). Use a tenant-specific endpoint.",
    ),
  appNotFound: (appId: string, tenantName: string) =>
    e(
      700016,
      'unauthorized_client',
      400,
      `Application with identifier '${appId}' was not found in the directory '${tenantName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    ),
  invalidSecret: (appId: string) =>
    e(
      7000215,
      'invalid_client',
      401,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${appId}'.`,
    ),
  credentialRequired: () =>
    e(7000218, 'invalid_client', 401, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
  assertionInvalid: (detail: string) => e(700027, 'invalid_client', 401, `Client assertion failed signature validation. ${detail}`),
  assertionCertUnknown: (thumbprint: string) =>
    e(
      700027,
      'invalid_client',
      401,
      `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprint}']`,
    ),
  assertionTime: (detail: string) => e(700024, 'invalid_client', 401, `Client assertion is not within its valid time range. ${detail}`),
  assertionAudience: (aud: string) =>
    e(
      700027,
      'invalid_client',
      401,
      `Client assertion contains an invalid audience '${aud}'. The audience must be the token endpoint of this tenant.`,
    ),
  assertionReplayed: () => e(700025, 'invalid_client', 401, 'Client assertion has already been used (replayed jti).'),
  federatedNoMatch: (iss: string, sub: string, aud: string) =>
    e(
      70021,
      'invalid_client',
      401,
      `No matching federated identity record found for presented assertion. Assertion Issuer: '${iss}'. Assertion Subject: '${sub}'. Assertion Audience: '${aud}'.`,
    ),
  federatedInvalid: (detail: string) => e(700213, 'invalid_client', 401, `The federated assertion could not be validated. ${detail}`),
  invalidScope: (scope: string) =>
    e(70011, 'invalid_scope', 400, `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`),
  multipleResources: () =>
    e(
      700022,
      'invalid_scope',
      400,
      "The provided value for the input parameter scope isn't valid because it contains more than one resource.",
    ),
  clientCredentialScope: (scope: string) =>
    e(
      1002012,
      'invalid_scope',
      400,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    ),
  resourceNotFound: (name: string, tenant: string) =>
    e(
      500011,
      'invalid_resource',
      400,
      `The resource principal named ${name} was not found in the tenant named ${tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    ),
  userNotFound: (tenantName: string) =>
    e(
      50034,
      'invalid_grant',
      400,
      `The user account {EmailHidden} does not exist in the ${tenantName} directory. To sign into this application, the account must be added to the directory.`,
    ),
  userNotInTenant: (upn: string, tenantName: string) =>
    e(
      50020,
      'invalid_grant',
      400,
      `User account '${upn}' from identity provider does not exist in tenant '${tenantName}' and cannot access the application in that tenant. The account needs to be added as an external user in the tenant first.`,
    ),
  badPassword: () => e(50126, 'invalid_grant', 400, 'Error validating credentials due to invalid username or password.'),
  accountDisabled: () => e(50057, 'invalid_grant', 400, 'The user account is disabled.'),
  accountLocked: () =>
    e(
      50053,
      'invalid_grant',
      400,
      "Your account is locked because you've tried to sign in too many times with an incorrect user ID or password.",
    ),
  tooManyRequests: () =>
    e(
      50196,
      'temporarily_unavailable',
      429,
      'The server terminated an operation because it encountered a client request loop. Please try again later.',
    ),
  consentRequired: (appId: string, appName: string) =>
    e(
      65001,
      'invalid_grant',
      400,
      `The user or administrator has not consented to use the application with ID '${appId}' named '${appName}'. Send an interactive authorization request for this user and resource.`,
      'consent_required',
    ),
  consentDeclined: () => e(65004, 'access_denied', 400, 'User declined to consent to access the app.'),
  authorizationPending: () =>
    e(70016, 'authorization_pending', 400, 'OAuth 2.0 device flow error. Authorization is pending. Continue polling.'),
  authorizationDeclined: () => e(70015, 'authorization_declined', 400, 'The user declined the sign-in request on the device login page.'),
  deviceCodeExpired: () =>
    e(70020, 'expired_token', 400, "The provided value for the input parameter 'device_code' is not valid. This device code has expired."),
  badDeviceCode: () => e(70018, 'bad_verification_code', 400, "The provided value for the input parameter 'device_code' is not valid."),
  userCodeInvalid: () =>
    e(70018, 'bad_verification_code', 400, 'Invalid verification code due to User typing in wrong user code for device code flow.'),
  grantInvalid: () => e(70000, 'invalid_grant', 400, 'Provided grant is invalid or malformed.'),
  codeRedeemed: () =>
    e(
      54005,
      'invalid_grant',
      400,
      'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
    ),
  codeExpired: () =>
    e(
      70008,
      'invalid_grant',
      400,
      'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.',
    ),
  pkceMismatch: () =>
    e(501481, 'invalid_grant', 400, "The Code_Verifier doesn't match the code_challenge supplied in the authorization request."),
  pkceDowngrade: () =>
    e(501481, 'invalid_grant', 400, 'A code_verifier was sent for an authorization code that was issued without a code_challenge.'),
  pkceVerifierFormat: () =>
    e(
      501481,
      'invalid_grant',
      400,
      'The code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, hyphen, period, underscore and tilde (RFC 7636 section 4.1).',
    ),
  pkceRequired: () =>
    e(
      9002325,
      'invalid_request',
      400,
      'Proof Key for Code Exchange is required for public clients. Send code_challenge with code_challenge_method=S256.',
    ),
  crossOriginNotSpa: (origin: string) =>
    e(
      9002326,
      'invalid_request',
      400,
      `Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. Request origin: '${origin.slice(0, 200)}'.`,
    ),
  spaRequiresCrossOrigin: () =>
    e(
      9002327,
      'invalid_request',
      400,
      "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
    ),
  pkceMethod: () => e(501491, 'invalid_request', 400, "Invalid code_challenge_method: only 'S256' is supported."),
  pkceChallengeSize: () =>
    e(50147, 'invalid_request', 400, 'The code_challenge must be 43 characters of base64url (the SHA-256 of the verifier).'),
  redirectMismatch: (uri: string, appId: string) =>
    e(
      50011,
      'invalid_request',
      400,
      `The redirect URI '${uri}' specified in the request does not match the redirect URIs configured for the application '${appId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.`,
    ),
  refreshRevoked: () =>
    e(
      50173,
      'invalid_grant',
      400,
      'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.',
    ),
  refreshExpired: () =>
    e(
      700082,
      'invalid_grant',
      400,
      'The refresh token has expired due to inactivity. The token was issued and was inactive for 90.00:00:00.',
    ),
  clientMismatch: () => e(70000, 'invalid_grant', 400, 'Provided grant is invalid or malformed: it was issued to another client.'),
  responseTypeUnsupported: (t: string) =>
    e(900561, 'unsupported_response_type', 400, `The response_type '${t}' is not supported; use 'code'.`),
  oboAssertionInvalid: (detail: string) => e(50013, 'invalid_grant', 400, `Assertion failed signature validation. ${detail}`),
  oboAudience: () => e(50013, 'invalid_grant', 400, 'Assertion audience does not match the Client app presenting the assertion.'),
  loginRequired: () => e(50058, 'login_required', 400, 'A silent sign-in request was sent but no user is signed in.'),
  publicClientNotAllowed: (appId: string) =>
    e(
      7000218,
      'invalid_client',
      401,
      `The request body must contain the following parameter: 'client_assertion' or 'client_secret'. Application '${appId}' is not a public client.`,
    ),
  spDisabled: (appId: string) => e(7000112, 'unauthorized_client', 400, `Application '${appId}' is disabled.`),
};
