import { createHash } from 'node:crypto';
import type { Application, ServicePrincipal, User } from '../../store/index.js';
import { randomToken } from '../../shared/crypto.js';
import { signJwt } from './jwt.js';
import type { KeyRing } from './keys.js';

// Token meaning (who, for what, which claims) is decided by the grants; this module only shapes
// claims the way Entra does for v1 and v2 tokens and signs them.

/** Past this many groups a JWT carries the overage claims instead of `groups`. */
export const GROUP_OVERAGE_LIMIT = 200;

export const v1Issuer = (tenantId: string): string => `https://sts.windows.net/${tenantId}/`;
export const v2Issuer = (origin: string, tenantId: string): string => `${origin}/${tenantId}/v2.0`;

/** Entra's `sub` is pairwise: stable per user and application, different across applications. */
export function pairwiseSubject(objectId: string, appId: string): string {
  return createHash('sha256').update(`${objectId}|${appId}`).digest('base64url').slice(0, 43);
}

export interface GroupClaims {
  groups?: string[];
  wids?: string[];
  /** Set when the user is in more groups than fit in a token. */
  overageEndpoint?: string;
}

/** What a user's token says about them. */
export interface UserSubject {
  kind: 'user';
  tenantId: string;
  /** The account in the token's tenant (a member, or a guest account). */
  user: User;
  /** The account that signed in (the same as `user` for members). */
  home: User;
  scp: string;
  amr: string[];
  authTime: number;
  groupClaims: GroupClaims;
}

export interface AppSubject {
  kind: 'app';
  tenantId: string;
  servicePrincipal: ServicePrincipal;
  roles: string[];
  groupClaims: GroupClaims;
}

export interface AccessTokenRequest {
  subject: UserSubject | AppSubject;
  /** `aud` as the client named the resource (v1), or the resource app id (v2). */
  audience: string;
  resource: Application;
  client: { appId: string; authMethod: 0 | 1 | 2 };
  /** For delegated tokens: app roles the user holds on the resource. */
  userRoles?: string[];
  origin: string;
  ipaddr?: string;
  lifetimeSeconds: number;
  now: number;
  /** Extra claims (e.g. `cnf`), added last. */
  extra?: Record<string, unknown>;
}

function groupClaims(g: GroupClaims): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (g.overageEndpoint) {
    out._claim_names = { groups: 'src1' };
    out._claim_sources = { src1: { endpoint: g.overageEndpoint } };
  } else if (g.groups && g.groups.length) {
    out.groups = g.groups;
  }
  if (g.wids && g.wids.length) out.wids = g.wids;
  return out;
}

function userNames(s: UserSubject): Record<string, unknown> {
  const guest = s.user.userType === 'Guest';
  const names: Record<string, unknown> = { name: s.home.displayName };
  if (guest) {
    // B2B guests: no `upn`; `unique_name` and `email` carry the home identity.
    names.unique_name = s.home.userPrincipalName;
    names.email = s.home.userPrincipalName;
    names.idp = v1Issuer(s.home.tenantId);
  } else {
    names.upn = s.user.userPrincipalName;
    names.unique_name = s.user.userPrincipalName;
  }
  return names;
}

export function accessTokenClaims(req: AccessTokenRequest): Record<string, unknown> {
  const iat = Math.floor(req.now / 1000);
  const v2 = req.resource.accessTokenAcceptedVersion === 2;
  const s = req.subject;
  const claims: Record<string, unknown> = {
    aud: v2 ? req.resource.appId : req.audience,
    iss: v2 ? v2Issuer(req.origin, s.tenantId) : v1Issuer(s.tenantId),
    iat,
    nbf: iat,
    exp: iat + req.lifetimeSeconds,
  };
  if (s.kind === 'user') {
    const guest = s.user.userType === 'Guest';
    if (v2) {
      Object.assign(claims, {
        aio: randomToken(32),
        azp: req.client.appId,
        azpacr: String(req.client.authMethod),
        name: s.home.displayName,
        oid: s.user.id,
        preferred_username: guest ? s.home.userPrincipalName : s.user.userPrincipalName,
      });
    } else {
      Object.assign(claims, {
        acr: '1',
        aio: randomToken(32),
        amr: s.amr,
        appid: req.client.appId,
        appidacr: String(req.client.authMethod),
        ...userNames(s),
        ...(req.ipaddr ? { ipaddr: req.ipaddr } : {}),
        oid: s.user.id,
      });
      if (guest) claims.idp = v1Issuer(s.home.tenantId);
    }
    Object.assign(claims, {
      rh: randomToken(24),
      ...(req.userRoles?.length ? { roles: req.userRoles } : {}),
      scp: s.scp,
      sub: pairwiseSubject(s.user.id, req.resource.appId),
      tid: s.tenantId,
    });
    Object.assign(claims, groupClaims(s.groupClaims));
  } else {
    if (v2) {
      Object.assign(claims, { aio: randomToken(32), azp: req.client.appId, azpacr: String(req.client.authMethod) });
    } else {
      Object.assign(claims, {
        aio: randomToken(32),
        appid: req.client.appId,
        appidacr: String(req.client.authMethod),
        idp: v1Issuer(s.tenantId),
      });
    }
    Object.assign(claims, {
      idtyp: 'app',
      oid: s.servicePrincipal.id,
      rh: randomToken(24),
      ...(s.roles.length ? { roles: s.roles } : {}),
      sub: s.servicePrincipal.id,
      tid: s.tenantId,
    });
    Object.assign(claims, groupClaims(s.groupClaims));
  }
  Object.assign(claims, { uti: randomToken(16), ver: v2 ? '2.0' : '1.0', ...req.extra });
  return claims;
}

export interface IdTokenRequest {
  subject: UserSubject;
  clientAppId: string;
  origin: string;
  nonce?: string | null;
  version: 1 | 2;
  lifetimeSeconds: number;
  now: number;
  groupClaims?: GroupClaims;
}

export function idTokenClaims(req: IdTokenRequest): Record<string, unknown> {
  const iat = Math.floor(req.now / 1000);
  const s = req.subject;
  const guest = s.user.userType === 'Guest';
  const claims: Record<string, unknown> = {
    aud: req.clientAppId,
    iss: req.version === 2 ? v2Issuer(req.origin, s.tenantId) : v1Issuer(s.tenantId),
    iat,
    nbf: iat,
    exp: iat + req.lifetimeSeconds,
  };
  if (guest) claims.idp = v1Issuer(s.home.tenantId);
  Object.assign(claims, {
    aio: randomToken(32),
    auth_time: Math.floor(s.authTime / 1000),
    name: s.home.displayName,
    ...(req.nonce ? { nonce: req.nonce } : {}),
    oid: s.user.id,
    preferred_username: guest ? s.home.userPrincipalName : s.user.userPrincipalName,
    rh: randomToken(24),
    sid: randomToken(16),
    sub: pairwiseSubject(s.user.id, req.clientAppId),
    tid: s.tenantId,
  });
  if (req.version === 1) Object.assign(claims, { amr: s.amr, ...userNames(s) });
  else if (guest) claims.email = s.home.userPrincipalName;
  Object.assign(claims, groupClaims(req.groupClaims ?? {}));
  Object.assign(claims, { uti: randomToken(16), ver: req.version === 2 ? '2.0' : '1.0' });
  return claims;
}

/** Signs claims with the current key. v1 tokens carry `x5t` beside `kid`, as Entra's do. */
export function signToken(keys: KeyRing, claims: Record<string, unknown>): string {
  const { kid, privateKey } = keys.current();
  const header = claims.ver === '1.0' ? { typ: 'JWT', alg: 'RS256', x5t: kid, kid } : { typ: 'JWT', alg: 'RS256', kid };
  return signJwt(header, claims, privateKey);
}

/** `client_info`: where MSAL finds the home account (`uid.utid`). */
export function clientInfo(home: User): string {
  return Buffer.from(JSON.stringify({ uid: home.id, utid: home.tenantId })).toString('base64url');
}
