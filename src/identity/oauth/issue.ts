import { newId, randomToken, sha256Hex } from '../../shared/crypto.js';
import type { Application, GroupMembershipClaims, ServicePrincipal, Tenant, User } from '../../store/index.js';
import { aad } from '../errors.js';
import { accessTokenClaims, clientInfo, GROUP_OVERAGE_LIMIT, idTokenClaims, type GroupClaims, type UserSubject } from '../tokens/claims.js';
import { signTokenAsync } from '../tokens/sign.js';
import { rememberIssuedClaims } from '../sign-in-log.js';
import type { AuthenticatedClient } from './client-auth.js';
import type { IdentityServices, TokenRequest } from './context.js';
import { applicationRoles, delegatedScopes, resolveResource, type ParsedScope } from './scopes.js';
import { graphOriginFor } from '../../shared/azure-hosts.js';

const REFRESH_LIFETIME_MS = 90 * 24 * 3600 * 1000;
const ID_TOKEN_LIFETIME_S = 3600;
/** The "User" directory role Entra lists in `wids` for every member. */
const MEMBER_ROLE = 'b79fbf4d-3ef9-4689-8143-76b194e85509';

export type TokenResponseBody = Record<string, string | number>;

/** Groups and directory roles for the token, per the application's `groupMembershipClaims`. */
export async function groupClaimsFor(
  services: IdentityServices,
  tenantId: string,
  principal: { id: string; kind: 'user' | 'servicePrincipal'; member: boolean },
  setting: GroupMembershipClaims | null,
  origin: string,
): Promise<GroupClaims> {
  if (!setting || setting === 'None') return {};
  const claims: GroupClaims = {};
  if (setting === 'All' || setting === 'DirectoryRole') {
    const roles = (await services.store.listDirectoryRoleAssignments(tenantId, principal.id)).map((r) => r.roleTemplateId);
    claims.wids = principal.member ? [...new Set([...roles, MEMBER_ROLE])] : roles;
  }
  if (setting === 'All' || setting === 'SecurityGroup' || setting === 'ApplicationGroup') {
    let ids = await services.store.listTransitiveGroupIds(tenantId, principal.id);
    if (setting === 'SecurityGroup') {
      const groups = await Promise.all(ids.map((id) => services.store.getGroup(tenantId, id)));
      ids = ids.filter((_, i) => groups[i]?.securityEnabled);
    }
    if (ids.length > GROUP_OVERAGE_LIMIT) {
      const collection = principal.kind === 'user' ? 'users' : 'servicePrincipals';
      claims.overageEndpoint = `${graphOriginFor(origin)}/v1.0/${collection}/${principal.id}/getMemberObjects`;
    } else {
      claims.groups = ids;
    }
  }
  return claims;
}

/**
 * Proof-of-possession (MSAL's PoP scheme, kubelogin --pop-enabled): `token_type=pop` with `req_cnf`, the
 * base64url JSON `{"kid":"<RFC 7638 thumbprint of the client's RSA key>","xms_ksl":"sw"}`. Entra binds the
 * access token to that key with a `cnf` claim and answers `token_type: pop`. Null for a bearer request.
 */
export function popConfirmation(req: TokenRequest): { cnf: Record<string, string> } | null {
  const tokenType = req.params.get('token_type');
  if (tokenType === undefined || tokenType.toLowerCase() === 'bearer') return null;
  if (tokenType.toLowerCase() !== 'pop')
    throw aad.malformed(`The token_type '${tokenType.slice(0, 40)}' is not supported: use 'pop' (with req_cnf) or leave it out.`);
  const reqCnf = req.params.get('req_cnf');
  if (!reqCnf) throw aad.missingParameter('req_cnf');
  let value: unknown;
  try {
    if (!/^[A-Za-z0-9_-]{1,1024}$/.test(reqCnf)) throw new Error('not base64url');
    value = JSON.parse(Buffer.from(reqCnf, 'base64url').toString('utf8'));
  } catch {
    throw aad.malformed('The req_cnf parameter must be the base64url encoding of a JSON object such as {"kid":"<key thumbprint>"}.');
  }
  const o = value as Record<string, unknown>;
  if (!o || typeof o !== 'object' || Array.isArray(o) || typeof o.kid !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(o.kid)) {
    throw aad.malformed('The req_cnf parameter must name the key by its SHA-256 JWK thumbprint: {"kid":"<43 base64url characters>"}.');
  }
  if (o.xms_ksl !== undefined && (typeof o.xms_ksl !== 'string' || !/^[a-z]{1,8}$/.test(o.xms_ksl)))
    throw aad.malformed("The req_cnf parameter's xms_ksl must be a short key-storage name such as 'sw'.");
  return { cnf: { kid: o.kid, ...(typeof o.xms_ksl === 'string' ? { xms_ksl: o.xms_ksl } : {}) } };
}

function lifetime(services: IdentityServices): { expiresIn: number } {
  return { expiresIn: services.accessTokenLifetime() };
}

/** An app-only token (client credentials). */
export async function issueAppToken(req: TokenRequest, client: AuthenticatedClient, scope: ParsedScope): Promise<TokenResponseBody> {
  const { services } = req;
  const tenant = client.tenant;
  // OIDC scopes next to `<resource>/.default` are ignored, as Entra does: MSAL Go (azidentity, upstream kubelogin)
  // always sends `<resource>/.default openid offline_access profile` (kubelogin's recorded client_secret_credential.yaml).
  if (!scope.resourceId || scope.values.length !== 1 || scope.values[0] !== '.default') {
    throw aad.clientCredentialScope(scope.requested.join(' '));
  }
  const pop = popConfirmation(req);
  const resource = await resolveResource(services, tenant, scope.resourceId);
  const sp: ServicePrincipal | null = client.sp;
  if (!sp) throw aad.appNotFound(client.app.appId, tenant.defaultDomain);
  const roles = await applicationRoles(services, tenant.id, sp.id, resource);
  const groupClaims = await groupClaimsFor(
    services,
    tenant.id,
    { id: sp.id, kind: 'servicePrincipal', member: false },
    resource.app.groupMembershipClaims,
    req.origin,
  );
  const { expiresIn } = lifetime(services);
  const claims = accessTokenClaims({
    subject: { kind: 'app', tenantId: tenant.id, servicePrincipal: sp, roles, groupClaims },
    audience: resource.audience,
    resource: resource.app,
    client: { appId: client.app.appId, authMethod: client.authMethod },
    origin: req.origin,
    lifetimeSeconds: expiresIn,
    now: services.clock.now(),
    extra: pop ?? undefined,
  });
  const body = withV1Fields(
    req,
    {
      token_type: pop ? 'pop' : 'Bearer',
      expires_in: expiresIn,
      ext_expires_in: expiresIn,
      access_token: await signTokenAsync(services.keys, claims),
    },
    resource.audience,
    expiresIn,
  );
  rememberIssuedClaims(body, claims);
  return body;
}

function withV1Fields(req: TokenRequest, body: TokenResponseBody, resource: string, expiresIn: number): TokenResponseBody {
  if (req.version !== 1) return body;
  const now = Math.floor(req.services.clock.now() / 1000);
  return { ...body, expires_on: String(now + expiresIn), not_before: String(now), resource };
}

export interface UserGrant {
  tenant: Tenant;
  user: User;
  home: User;
  client: AuthenticatedClient;
  scope: ParsedScope;
  amr: string[];
  authTime: number;
  nonce?: string | null;
  /** Continue this refresh-token family (refresh grant); a new one otherwise. */
  familyId?: string;
  /** Issue a refresh token even without offline_access (v1 endpoint, device code as Entra does). */
  alwaysRefresh?: boolean;
  /** Runs once every check has passed, before anything is written (e.g. rotating the old refresh token). */
  commit?: () => Promise<void>;
  /** A fixed expiry for the refresh token (spa: 24 h from the sign-in, oauth/cors.ts); the default lifetime otherwise. */
  refreshExpiresAt?: number;
}

/** The client's and the resource's view of consent: the scopes granted, or a consent_required error. */
export async function consentedScopes(
  services: IdentityServices,
  tenantId: string,
  client: { app: Application; sp: ServicePrincipal | null },
  scope: ParsedScope,
  user: User,
) {
  const resource = await resolveResource(
    services,
    await mustTenant(services, tenantId),
    scope.resourceId ?? '00000003-0000-0000-c000-000000000000',
  );
  const values = scope.resourceId ? scope.values : ['User.Read'];
  const granted = await delegatedScopes(services, tenantId, client, resource, values, user);
  return { resource, granted };
}

async function mustTenant(services: IdentityServices, tenantId: string): Promise<Tenant> {
  const t = await services.store.getTenant(tenantId);
  if (!t) throw aad.tenantNotFound(tenantId);
  return t;
}

/** Access, id and refresh tokens for a signed-in user. */
export async function issueUserTokens(req: TokenRequest, grant: UserGrant): Promise<TokenResponseBody> {
  const { services } = req;
  const { tenant, user, home, client, scope } = grant;
  const pop = popConfirmation(req);
  const { resource, granted } = await consentedScopes(services, tenant.id, client, scope, user);
  if (!granted) throw aad.consentRequired(client.app.appId, client.app.displayName);
  const groupClaims = await groupClaimsFor(
    services,
    tenant.id,
    { id: user.id, kind: 'user', member: user.userType === 'Member' },
    resource.app.groupMembershipClaims,
    req.origin,
  );
  const subject: UserSubject = {
    kind: 'user',
    tenantId: tenant.id,
    user,
    home,
    scp: granted.join(' '),
    amr: grant.amr,
    authTime: grant.authTime,
    groupClaims,
  };
  const now = services.clock.now();
  const { expiresIn } = lifetime(services);
  const accessClaims = accessTokenClaims({
    subject,
    audience: resource.audience,
    resource: resource.app,
    client: { appId: client.app.appId, authMethod: client.authMethod },
    origin: req.origin,
    ipaddr: req.ip,
    lifetimeSeconds: expiresIn,
    now,
    extra: pop ?? undefined,
  });
  const accessToken = await signTokenAsync(services.keys, accessClaims);
  await grant.commit?.();
  const body: TokenResponseBody = {
    token_type: pop ? 'pop' : 'Bearer',
    scope: (scope.requested.length ? scope.requested : ['openid', 'profile', 'User.Read']).join(' '),
    expires_in: expiresIn,
    ext_expires_in: expiresIn,
    access_token: accessToken,
  };
  if (scope.oidc.has('offline_access') || grant.alwaysRefresh || req.version === 1) {
    body.refresh_token = await issueRefreshToken(req, grant);
    if (grant.refreshExpiresAt !== undefined)
      body.refresh_token_expires_in = Math.max(0, Math.floor((grant.refreshExpiresAt - now) / 1000));
  }
  if (scope.oidc.has('openid') || req.version === 1) {
    const idGroups = await groupClaimsFor(
      services,
      tenant.id,
      { id: user.id, kind: 'user', member: user.userType === 'Member' },
      client.app.groupMembershipClaims,
      req.origin,
    );
    body.id_token = await signTokenAsync(
      services.keys,
      idTokenClaims({
        subject,
        clientAppId: client.app.appId,
        origin: req.origin,
        nonce: grant.nonce,
        version: req.version,
        lifetimeSeconds: ID_TOKEN_LIFETIME_S,
        now,
        groupClaims: idGroups,
      }),
    );
  }
  if (req.params.get('client_info') === '1' || req.version === 2) body.client_info = clientInfo(home);
  const answer = withV1Fields(req, body, resource.audience, expiresIn);
  rememberIssuedClaims(answer, accessClaims);
  return answer;
}

async function issueRefreshToken(req: TokenRequest, grant: UserGrant): Promise<string> {
  const { services } = req;
  const token = `1.${randomToken(48)}`;
  const now = services.clock.now();
  await services.store.createRefreshToken({
    tokenHash: sha256Hex(token),
    familyId: grant.familyId ?? newId(),
    tenantId: grant.home.tenantId,
    clientId: grant.client.app.appId,
    userId: grant.home.id,
    scope: grant.scope.requested.join(' '),
    createdAt: now,
    expiresAt: grant.refreshExpiresAt ?? now + REFRESH_LIFETIME_MS,
    rotatedAt: null,
    revokedAt: null,
  });
  return token;
}
