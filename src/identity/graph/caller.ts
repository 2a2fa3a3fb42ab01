import type { FastifyRequest } from 'fastify';
import type { Store, Tenant } from '../../store/index.js';
import { GLOBAL_ADMINISTRATOR_ROLE, DIRECTORY_ROLES } from '../directory/first-party.js';
import { InvalidTokenError, type TokenVerifier } from '../tokens/verify.js';
import { GraphError, graphErrors } from './errors.js';

/** The kinds of directory object a Graph call touches, for permission checks. */
export type Area = 'user' | 'group' | 'member' | 'application' | 'directory';

/** Who calls Graph, and with which permissions: application roles, or delegated scopes plus directory roles. */
export interface GraphCaller {
  tenantId: string;
  kind: 'app' | 'user';
  objectId: string;
  appId: string;
  permissions: Set<string>;
  /** Directory roles by name (those Kentra knows), and every role template id held, known or not. */
  directoryRoles: Set<string>;
  directoryRoleIds: Set<string>;
  isGuest: boolean;
}

/** Built-in directory role template ids (reference/security.md §4.1, PERMREF). */
const ROLE_TEMPLATES: Record<string, string> = {
  'Privileged Role Administrator': 'e8611ab8-c189-46e8-94e1-60213ab1f814',
  'Privileged Authentication Administrator': '7be44c8a-adaf-4e2a-84d6-ab2649e08a13',
  'Authentication Administrator': 'c4e39bd9-1100-46d3-8c65-fb160da0071f',
  'Helpdesk Administrator': '729827e3-9c14-49f7-bb1b-9608f156bbb8',
  'Password Administrator': '966707d0-3269-4727-9be2-8c3a10f19b9d',
  'Cloud Application Administrator': '158c047a-c907-4556-b7ef-446551a6b5f7',
  'Guest Inviter': '95e79109-95c0-4d8e-aee3-d01accf2d47b',
  'Reports Reader': '4a5d8f65-41da-4de4-8968-e035b65339cf',
  'Message Center Reader': '790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b',
  'Usage Summary Reports Reader': '75934031-6c7e-415a-99d7-48dbd49e875e',
  'Partner Tier1 Support': '4ba39ca4-527c-499a-b93d-d9b492c50246',
  'Partner Tier2 Support': 'e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8',
  ...DIRECTORY_ROLES,
};
const ROLE_NAMES = new Map(Object.entries(ROLE_TEMPLATES).map(([name, id]) => [id, name]));

function roleNames(ids: Set<string>): Set<string> {
  return new Set([...ids].map((id) => ROLE_NAMES.get(id)).filter((n): n is string => !!n));
}

/** The directory role template ids a principal holds directly. */
async function directoryRoleIds(store: Store, tenantId: string, principalId: string): Promise<Set<string>> {
  return new Set((await store.listDirectoryRoleAssignments(tenantId, principalId)).map((r) => r.roleTemplateId));
}

/** The roles that protect a user: its own and those of every group it is in (role-assignable groups). */
export async function protectingRoleIds(store: Store, tenantId: string, userId: string): Promise<Set<string>> {
  const holders = [userId, ...(await store.listTransitiveGroupIds(tenantId, userId))];
  const lists = await Promise.all(holders.map((id) => store.listDirectoryRoleAssignments(tenantId, id)));
  return new Set(lists.flat().map((r) => r.roleTemplateId));
}

const READ: Record<Area, string[]> = {
  user: ['User.Read.All', 'User.ReadWrite.All', 'User.ReadBasic.All'],
  group: ['Group.Read.All', 'Group.ReadWrite.All', 'GroupMember.Read.All', 'GroupMember.ReadWrite.All'],
  member: ['GroupMember.Read.All', 'GroupMember.ReadWrite.All', 'Group.Read.All', 'Group.ReadWrite.All'],
  application: ['Application.Read.All', 'Application.ReadWrite.All', 'Application.ReadWrite.OwnedBy'],
  directory: [],
};
const WRITE: Record<Area, string[]> = {
  user: ['User.ReadWrite.All'],
  group: ['Group.ReadWrite.All', 'Group.Create'],
  member: ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All'],
  application: ['Application.ReadWrite.All', 'Application.ReadWrite.OwnedBy'],
  directory: [],
};
const ADMIN_ROLES: Record<Area, string[]> = {
  user: ['User Administrator'],
  group: ['Groups Administrator', 'User Administrator'],
  member: ['Groups Administrator', 'User Administrator'],
  application: ['Application Administrator', 'Cloud Application Administrator'],
  directory: [],
};
const ALL_DIRECTORY = ['Directory.ReadWrite.All', 'Directory.AccessAsUser.All'];

export function graphAudiences(isOwnOrigin: (url: string) => boolean) {
  return (aud: unknown) =>
    typeof aud === 'string' &&
    (/^https:\/\/graph\.microsoft\.com\/?$/i.test(aud) || aud === '00000003-0000-0000-c000-000000000000' || isOwnOrigin(aud));
}

/** Who calls Graph (verifies the token, then reads the caller), and the tenant its token names, read at the same time. */
export async function graphCaller<S extends { store: Store }>(
  req: FastifyRequest,
  verifier: TokenVerifier,
  /** The services whose store the caller is read from, asked for once the token is verified; returned with the caller. */
  servicesOf: () => Promise<S>,
  isGraphAudience: (aud: unknown) => boolean,
): Promise<{ caller: GraphCaller; tenant: Tenant | null; services: S }> {
  const claims = await graphClaims(req, verifier, isGraphAudience);
  const services = await servicesOf();
  // The caller's reads and the tenant's go out together.
  const [caller, tenant] = await Promise.all([callerOf(claims, services.store), services.store.getTenant(String(claims.tid))]);
  return { caller, tenant, services };
}

/** The claims of the request's Graph token, verified (Graph's 401s otherwise). */
async function graphClaims(
  req: FastifyRequest,
  verifier: TokenVerifier,
  isGraphAudience: (aud: unknown) => boolean,
): Promise<Record<string, unknown>> {
  const header = req.headers.authorization;
  if (!header || !/^bearer /i.test(header)) throw graphErrors.unauthenticated('Access token is empty.');
  let claims: Record<string, unknown>;
  try {
    claims = await verifier.verifyAsync(header.slice(7).trim());
  } catch (err) {
    throw graphErrors.unauthenticated(
      err instanceof InvalidTokenError && err.code === 'expired'
        ? 'Lifetime validation failed, the token is expired.'
        : 'Access token validation failure. Invalid audience or signature.',
    );
  }
  if (!isGraphAudience(claims.aud)) throw graphErrors.unauthenticated('Access token validation failure. Invalid audience.');
  return claims;
}

async function callerOf(claims: Record<string, unknown>, store: Store): Promise<GraphCaller> {
  const tenantId = String(claims.tid);
  const objectId = String(claims.oid);
  if (claims.idtyp === 'app') {
    // A service principal may hold directory roles too (an app that resets passwords needs one, as in Entra).
    const roleIds = await directoryRoleIds(store, tenantId, objectId);
    return {
      tenantId,
      kind: 'app',
      objectId,
      appId: String(claims.appid ?? claims.azp),
      directoryRoles: roleNames(roleIds),
      directoryRoleIds: roleIds,
      isGuest: false,
      permissions: new Set(Array.isArray(claims.roles) ? claims.roles.map(String) : []),
    };
  }
  const [user, roleIds] = await Promise.all([store.getUser(tenantId, objectId), directoryRoleIds(store, tenantId, objectId)]);
  if (!user || !user.accountEnabled) throw graphErrors.unauthenticated('The user account is disabled or was deleted.');
  return {
    tenantId,
    kind: 'user',
    objectId,
    appId: String(claims.appid ?? claims.azp),
    directoryRoles: roleNames(roleIds),
    directoryRoleIds: roleIds,
    isGuest: user.userType === 'Guest',
    permissions: new Set(
      String(claims.scp ?? '')
        .split(' ')
        .filter(Boolean),
    ),
  };
}

function has(caller: GraphCaller, perms: string[]): boolean {
  return perms.some((p) => caller.permissions.has(p));
}

export function isGlobalAdmin(caller: GraphCaller): boolean {
  return caller.directoryRoles.has('Global Administrator');
}

/** Reading the directory: app roles, or for users a delegated scope (members may read it; guests only themselves). */
export function canRead(caller: GraphCaller, area: Area): boolean {
  const perms = [...READ[area], 'Directory.Read.All', ...ALL_DIRECTORY];
  if (caller.kind === 'app') return has(caller, perms);
  if (caller.isGuest) return false;
  return has(caller, [...perms, 'User.Read', 'User.ReadBasic.All']);
}

/**
 * Writing: app roles; or for users a delegated scope plus a directory role that allows it. `owner`
 * says the caller owns the object (members manage what they own); `create` says members may create it.
 */
export function canWrite(caller: GraphCaller, area: Area, opts: { owner?: boolean; create?: boolean } = {}): boolean {
  // Directory.ReadWrite.All writes users and groups, not applications (Graph: Application.ReadWrite.* only).
  const perms = area === 'application' ? WRITE[area] : [...WRITE[area], 'Directory.ReadWrite.All'];
  if (caller.kind === 'app') {
    // Application.ReadWrite.OwnedBy: only the applications and service principals the app owns, or creates
    // (it becomes their owner); security.md §4.5.
    if (area === 'application' && !has(caller, ['Application.ReadWrite.All']))
      return caller.permissions.has('Application.ReadWrite.OwnedBy') && !!(opts.owner || opts.create);
    return has(caller, perms);
  }
  if (!has(caller, [...perms, ...ALL_DIRECTORY])) return false;
  if (isGlobalAdmin(caller) || ADMIN_ROLES[area].some((r) => caller.directoryRoles.has(r))) return true;
  if (caller.isGuest) return false;
  return !!(opts.owner || opts.create);
}

export function requireRead(caller: GraphCaller, area: Area): void {
  if (!canRead(caller, area)) throw graphErrors.denied();
}

export function requireWrite(caller: GraphCaller, area: Area, opts?: { owner?: boolean; create?: boolean }): void {
  if (!canWrite(caller, area, opts)) throw graphErrors.denied();
}

/**
 * Before a write looks up its object: a caller who could not write such an object even as its owner is
 * refused at once, as Graph refuses on permission before it reads, so that 403 and 404 tell a caller
 * without the right nothing about which objects exist.
 */
export function requireSomeWrite(caller: GraphCaller, area: Area): void {
  requireWrite(caller, area, { owner: true, create: true });
}

type TargetTable = Record<string, string[] | 'all'>;
const SSPR_READERS = [
  'Directory Readers',
  'Guest Inviter',
  'Message Center Reader',
  'Password Administrator',
  'Reports Reader',
  'Usage Summary Reports Reader',
];
/** Who may reset the password of a user holding which roles (security.md §4.2, DOC PRIV). A user with no role is in every column. */
const PASSWORD_RESET: TargetTable = {
  'Global Administrator': 'all',
  'Privileged Authentication Administrator': 'all',
  'Partner Tier2 Support': 'all',
  'Partner Tier1 Support': [],
  'Password Administrator': ['Directory Readers', 'Guest Inviter', 'Password Administrator'],
  'Helpdesk Administrator': [...SSPR_READERS, 'Helpdesk Administrator'],
  'Authentication Administrator': [...SSPR_READERS, 'Authentication Administrator'],
  'User Administrator': [...SSPR_READERS, 'Groups Administrator', 'Helpdesk Administrator', 'User Administrator'],
};
/** Who may change the sensitive properties of, or delete, a user holding which roles (security.md §4.3). */
const SENSITIVE_ACTIONS: TargetTable = {
  'Global Administrator': 'all',
  'Privileged Authentication Administrator': 'all',
  'Authentication Administrator': [...SSPR_READERS, 'Authentication Administrator'],
  'User Administrator': [...SSPR_READERS, 'Groups Administrator', 'Helpdesk Administrator', 'User Administrator'],
};

/** The target is protected by every role it holds: each must be in a column of one of the actor's roles; unknown roles only in 'all'. */
function covers(table: TargetTable, actorRoles: Set<string>, targetRoleIds: Set<string>): boolean {
  const columns = [...actorRoles].map((r) => table[r]).filter((c): c is string[] | 'all' => c !== undefined);
  if (columns.length === 0) return false;
  return [...targetRoleIds].every((id) => {
    const name = ROLE_NAMES.get(id);
    return columns.some((c) => c === 'all' || (name !== undefined && c.includes(name)));
  });
}

/**
 * What a write to a user changes: ordinary `properties`, the `password` (with the SSPR properties
 * businessPhones, mobilePhone, otherMails), the `sensitive` properties of DOC PRIV (accountEnabled,
 * onPremisesImmutableId, userPrincipalName), or `delete` (and restore).
 */
export type UserChange = 'properties' | 'password' | 'sensitive' | 'delete';

/**
 * May the caller make these changes to a user holding `targetRoleIds`? Entra's tables (security.md §4.2,
 * §4.3): the target is protected by every role it holds. App-only callers need the permission Graph
 * documents, and their own directory role for a password; Directory.ReadWrite.All neither deletes users
 * nor resets passwords.
 */
export function canChangeUser(caller: GraphCaller, targetRoleIds: Set<string>, changes: Iterable<UserChange>): boolean {
  if (caller.isGuest) return false;
  for (const change of changes) {
    if (caller.kind === 'app') {
      const perms =
        change === 'password' || change === 'delete' ? ['User.ReadWrite.All'] : ['User.ReadWrite.All', 'Directory.ReadWrite.All'];
      if (!has(caller, perms)) return false;
      if (change === 'password' && !covers(PASSWORD_RESET, caller.directoryRoles, targetRoleIds)) return false;
      if (
        (change === 'sensitive' || change === 'delete') &&
        targetRoleIds.size > 0 &&
        !covers(SENSITIVE_ACTIONS, caller.directoryRoles, targetRoleIds)
      )
        return false;
      continue;
    }
    // Delegated: Graph asks Directory.AccessAsUser.All for a password, a user write scope otherwise.
    const scopes =
      change === 'password'
        ? ['Directory.AccessAsUser.All', 'User-PasswordProfile.ReadWrite.All']
        : ['User.ReadWrite.All', ...ALL_DIRECTORY];
    if (!has(caller, scopes)) return false;
    const allowed =
      change === 'password'
        ? covers(PASSWORD_RESET, caller.directoryRoles, targetRoleIds)
        : change === 'properties'
          ? isGlobalAdmin(caller) || caller.directoryRoles.has('User Administrator')
          : covers(SENSITIVE_ACTIONS, caller.directoryRoles, targetRoleIds);
    if (!allowed) return false;
  }
  return true;
}

const CONSENT_ANY = ['Global Administrator', 'Privileged Role Administrator'];
const CONSENT_BUT_GRAPH_APP_ROLES = ['Application Administrator', 'Cloud Application Administrator'];

/**
 * Admin consent (security.md §4.6): tenant-wide delegated grants and app role assignments. Global and
 * Privileged Role Administrators grant anything; Application and Cloud Application Administrators
 * anything except Microsoft Graph's app roles.
 */
export function canConsent(caller: GraphCaller, what: 'delegated' | 'appRole' | 'graphAppRole'): boolean {
  // App-only: delegated grants take DelegatedPermissionGrant.ReadWrite.All or Directory.ReadWrite.All; app role
  // assignments only AppRoleAssignment.ReadWrite.All (Graph's permission tables: Directory.ReadWrite.All is
  // not among them, or an app holding it could grant itself any Graph app role).
  if (caller.kind === 'app')
    return has(
      caller,
      what === 'delegated' ? ['DelegatedPermissionGrant.ReadWrite.All', 'Directory.ReadWrite.All'] : ['AppRoleAssignment.ReadWrite.All'],
    );
  if (
    caller.isGuest ||
    !has(caller, [what === 'delegated' ? 'DelegatedPermissionGrant.ReadWrite.All' : 'AppRoleAssignment.ReadWrite.All', ...ALL_DIRECTORY])
  )
    return false;
  const roles = what === 'graphAppRole' ? CONSENT_ANY : [...CONSENT_ANY, ...CONSENT_BUT_GRAPH_APP_ROLES];
  return roles.some((r) => caller.directoryRoles.has(r));
}

export { GraphError, GLOBAL_ADMINISTRATOR_ROLE };
