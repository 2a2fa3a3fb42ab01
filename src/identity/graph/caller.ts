import type { FastifyRequest } from 'fastify';
import type { Store } from '../../store/index.js';
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
  directoryRoles: Set<string>;
  isGuest: boolean;
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
  application: ['Application Administrator'],
  directory: [],
};
const ALL_DIRECTORY = ['Directory.ReadWrite.All', 'Directory.AccessAsUser.All'];

export function graphAudiences(isOwnOrigin: (url: string) => boolean) {
  return (aud: unknown) => typeof aud === 'string' && (/^https:\/\/graph\.microsoft\.com\/?$/i.test(aud) || aud === '00000003-0000-0000-c000-000000000000' || isOwnOrigin(aud));
}

export async function graphCaller(req: FastifyRequest, verifier: TokenVerifier, store: Store, isGraphAudience: (aud: unknown) => boolean): Promise<GraphCaller> {
  const header = req.headers.authorization;
  if (!header || !/^bearer /i.test(header)) throw graphErrors.unauthenticated('Access token is empty.');
  let claims: Record<string, unknown>;
  try {
    claims = await verifier.verifyAsync(header.slice(7).trim());
  } catch (err) {
    throw graphErrors.unauthenticated(err instanceof InvalidTokenError && err.reason === 'expired' ? 'Lifetime validation failed, the token is expired.' : 'Access token validation failure. Invalid audience or signature.');
  }
  if (!isGraphAudience(claims.aud)) throw graphErrors.unauthenticated('Access token validation failure. Invalid audience.');
  const tenantId = String(claims.tid);
  const objectId = String(claims.oid);
  if (claims.idtyp === 'app') {
    return {
      tenantId, kind: 'app', objectId, appId: String(claims.appid ?? claims.azp), directoryRoles: new Set(), isGuest: false,
      permissions: new Set(Array.isArray(claims.roles) ? claims.roles.map(String) : []),
    };
  }
  const user = await store.getUser(tenantId, objectId);
  if (!user || !user.accountEnabled) throw graphErrors.unauthenticated('The user account is disabled or was deleted.');
  const roleIds = new Set((await store.listDirectoryRoleAssignments(tenantId, objectId)).map((r) => r.roleTemplateId));
  const roleNames = new Set(Object.entries(DIRECTORY_ROLES).filter(([, id]) => roleIds.has(id)).map(([name]) => name));
  return {
    tenantId, kind: 'user', objectId, appId: String(claims.appid ?? claims.azp), directoryRoles: roleNames, isGuest: user.userType === 'Guest',
    permissions: new Set(String(claims.scp ?? '').split(' ').filter(Boolean)),
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
  const perms = [...WRITE[area], 'Directory.ReadWrite.All'];
  if (caller.kind === 'app') return has(caller, perms);
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

export { GraphError, GLOBAL_ADMINISTRATOR_ROLE };
