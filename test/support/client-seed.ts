import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { httpsFetch } from './http.js';

// The cast of the client-library tests: an API, a public client that calls it, and a daemon.
export const CLIENTS_TENANT = '44444444-4444-4444-8444-444444444444';
export const API_APP = '44444444-0000-4000-8000-0000000000a1';
export const API_SCOPE_ID = '44444444-0000-4000-8000-0000000000a9';
export const API_ROLE_ID = '44444444-0000-4000-8000-0000000000a8';
export const API_SECRET = 'orders-api-secret-0123456789';
export const CLI_APP = '44444444-0000-4000-8000-0000000000b1';
export const DAEMON_APP = '44444444-0000-4000-8000-0000000000c1';
export const DAEMON_SECRET = 'orders-daemon-secret-0123456789';
export const ALICE = { username: 'alice@clients.onmicrosoft.com', password: 'Alice-Passw0rd!' };
export const FEDERATED_SUBJECT = 'system:serviceaccount:default:orders-daemon';

export function clientSeed(opts: { certificatePem: string; issuer?: string }): string {
  const fed = opts.issuer
    ? `
        federatedIdentityCredentials:
          - { name: k8s-orders, issuer: '${opts.issuer}', subject: '${FEDERATED_SUBJECT}' }`
    : '';
  return `
tenants:
  - id: ${CLIENTS_TENANT}
    domain: clients.onmicrosoft.com
    users:
      - { userPrincipalName: ${ALICE.username}, password: '${ALICE.password}', displayName: Alice }
    applications:
      - displayName: orders-api
        appId: ${API_APP}
        identifierUris: ['api://orders-api']
        accessTokenAcceptedVersion: 2
        scopes: [{ value: access_as_user, id: ${API_SCOPE_ID} }]
        appRoles: [{ value: Orders.Read, id: ${API_ROLE_ID}, allowedMemberTypes: [Application] }]
        secrets: ['${API_SECRET}']
        graphPermissions: { delegated: [User.Read] }
        adminConsent: true
      - displayName: orders-cli
        appId: ${CLI_APP}
        isFallbackPublicClient: true
        publicClient: { redirectUris: ['http://localhost'] }
        requiredResourceAccess: [{ resourceAppId: ${API_APP}, resourceAccess: [{ id: ${API_SCOPE_ID}, type: Scope }] }]
        graphPermissions: { delegated: [User.Read] }
        adminConsent: true
      - displayName: orders-daemon
        appId: ${DAEMON_APP}
        secrets: ['${DAEMON_SECRET}']
        certificates:
          - pem: |
${opts.certificatePem
  .trim()
  .split('\n')
  .map((l) => `              ${l}`)
  .join('\n')}${fed}
        requiredResourceAccess: [{ resourceAppId: ${API_APP}, resourceAccess: [{ id: ${API_ROLE_ID}, type: Role }] }]
        adminConsent: true
`;
}

/** Verifies a token against the tenant's published JWKS, as a resource server would. */
export async function jwksVerifier(authority: string, caFile: string, tenantId: string) {
  const jwks = createLocalJWKSet((await httpsFetch(`${authority}/${tenantId}/discovery/v2.0/keys`, { caFile })).json<JSONWebKeySet>());
  return async (token: string) => (await jwtVerify(token, jwks, { algorithms: ['RS256'] })).payload as Record<string, any>;
}
