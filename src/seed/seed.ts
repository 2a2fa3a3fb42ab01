import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { BUILT_IN_ROLES, roleDefinitionResourceId } from '../control-plane/index.js';
import { DIRECTORY_ROLES, Directory, DirectoryError, GRAPH_APP_ID } from '../identity/index.js';
import type { Clock } from '../shared/clock.js';
import { isGuid, newId } from '../shared/crypto.js';
import type { Application, Store, Tenant, User } from '../store/index.js';

// The declarative seed file: tenants, users, guests, groups, applications, service principals and
// subscriptions. Applied at every start; what exists already (same id, UPN, appId or name) is left alone.

export class SeedError extends Error {
  constructor(message: string) {
    super(`seed: ${message}`);
    this.name = 'SeedError';
  }
}

interface SeedUser {
  userPrincipalName: string;
  id?: string;
  displayName?: string;
  password: string;
  accountEnabled?: boolean;
  directoryRoles?: string[];
}
interface SeedGuest {
  userPrincipalName: string;
  id?: string;
}
interface SeedGroup {
  displayName: string;
  id?: string;
  mailNickname?: string;
  description?: string;
  members?: string[];
}
interface SeedGroupSet {
  prefix: string;
  count: number;
  members?: string[];
}
interface SeedApp {
  displayName: string;
  appId?: string;
  id?: string;
  identifierUris?: string[];
  signInAudience?: string;
  publicClient?: { redirectUris?: string[] };
  web?: { redirectUris?: string[] };
  /** Single-page application redirect URIs (Graph `spa.redirectUris`): codes redeemed cross-origin only. */
  spa?: { redirectUris?: string[] };
  isFallbackPublicClient?: boolean;
  groupMembershipClaims?: Application['groupMembershipClaims'];
  accessTokenAcceptedVersion?: 1 | 2 | null;
  scopes?: { value: string; id?: string; type?: 'User' | 'Admin'; description?: string }[];
  appRoles?: { value: string; id?: string; allowedMemberTypes?: ('User' | 'Application')[]; description?: string }[];
  requiredResourceAccess?: Application['requiredResourceAccess'];
  /** Graph permissions by name, shorthand for requiredResourceAccess on Microsoft Graph. */
  graphPermissions?: { delegated?: string[]; application?: string[] };
  secrets?: ({ value: string; keyId?: string; displayName?: string } | string)[];
  certificates?: ({ pem?: string; file?: string } | string)[];
  federatedIdentityCredentials?: { name: string; issuer: string; subject: string; audiences?: string[]; description?: string }[];
  servicePrincipal?: boolean | { id?: string };
  /** Grants every permission in requiredResourceAccess for the whole tenant. */
  adminConsent?: boolean;
  /** A managed identity: the IMDS endpoint (`/metadata/identity/oauth2/token`) issues it tokens. */
  managedIdentity?: boolean;
}
interface SeedSubscription {
  id?: string;
  displayName: string;
  roleAssignments?: { principal: string; role: string }[];
}
interface SeedTenant {
  id?: string;
  displayName?: string;
  domain: string;
  domains?: string[];
  users?: SeedUser[];
  guests?: SeedGuest[];
  groups?: SeedGroup[];
  groupSets?: SeedGroupSet[];
  applications?: SeedApp[];
  subscriptions?: SeedSubscription[];
}
export interface SeedFile {
  tenants: SeedTenant[];
}

export function loadSeedFile(path: string): { seed: SeedFile; baseDir: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SeedError(`cannot read ${path}: ${(err as Error).message}`);
  }
  return { seed: parseSeed(text), baseDir: dirname(resolve(path)) };
}

export function parseSeed(text: string): SeedFile {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new SeedError(`not valid YAML: ${(err as Error).message}`);
  }
  const seed = doc as SeedFile;
  if (!seed || typeof seed !== 'object' || !Array.isArray(seed.tenants)) throw new SeedError("the file must have a 'tenants' list");
  seed.tenants.forEach((t, i) => {
    if (!t || typeof t.domain !== 'string') throw new SeedError(`tenants[${i}] needs a 'domain'`);
    if (t.id !== undefined && !isGuid(t.id)) throw new SeedError(`tenants[${i}].id must be a GUID`);
    for (const [j, u] of (t.users ?? []).entries()) {
      if (!u?.userPrincipalName || typeof u.password !== 'string')
        throw new SeedError(`tenants[${i}].users[${j}] needs 'userPrincipalName' and 'password'`);
      if (u.id !== undefined && !isGuid(u.id)) throw new SeedError(`tenants[${i}].users[${j}].id must be a GUID`);
    }
    for (const [j, a] of (t.applications ?? []).entries()) {
      if (!a?.displayName) throw new SeedError(`tenants[${i}].applications[${j}] needs a 'displayName'`);
      if (a.appId !== undefined && !isGuid(a.appId)) throw new SeedError(`tenants[${i}].applications[${j}].appId must be a GUID`);
    }
  });
  return seed;
}

/** Applies a seed in one transaction: a broken seed leaves the store as it was. */
export async function applySeed(store: Store, clock: Clock, seed: SeedFile, baseDir = '.'): Promise<void> {
  await store
    .transaction(async (tx) => {
      const dir = new Directory(tx, clock);
      const tenants = new Map<SeedTenant, Tenant>();
      // Tenants and their members first: guests and groups may name users of any tenant in the file.
      for (const t of seed.tenants) {
        const existing = (t.id ? await tx.getTenant(t.id) : null) ?? (await tx.findTenantByDomain(t.domain));
        const tenant =
          existing ??
          (await dir.createTenant({
            id: t.id,
            displayName: t.displayName ?? t.domain.split('.')[0]!,
            domain: t.domain,
            domains: t.domains,
          }));
        tenants.set(t, tenant);
        for (const u of t.users ?? []) {
          const user =
            (await tx.findUserByUpn(tenant.id, u.userPrincipalName)) ??
            (await dir.createUser({
              tenantId: tenant.id,
              userPrincipalName: u.userPrincipalName,
              displayName: u.displayName ?? u.userPrincipalName.split('@')[0]!,
              password: u.password,
              id: u.id,
              accountEnabled: u.accountEnabled,
            }));
          const have = new Set((await tx.listDirectoryRoleAssignments(tenant.id, user.id)).map((r) => r.roleTemplateId));
          for (const role of u.directoryRoles ?? []) {
            const roleTemplateId = DIRECTORY_ROLES[role] ?? (isGuid(role) ? role : undefined);
            if (!roleTemplateId)
              throw new SeedError(`unknown directory role '${role}' (known: ${Object.keys(DIRECTORY_ROLES).join(', ')})`);
            if (!have.has(roleTemplateId))
              await tx.addDirectoryRoleAssignment({ tenantId: tenant.id, principalId: user.id, roleTemplateId });
          }
        }
      }
      for (const t of seed.tenants) {
        const tenant = tenants.get(t)!;
        for (const g of t.guests ?? []) {
          const home = await findHomeUser(tx, g.userPrincipalName);
          if ((await tx.listGuestAccounts(home.tenantId, home.id)).some((x) => x.tenantId === tenant.id)) continue;
          await dir.createGuest({ tenantId: tenant.id, home, id: g.id });
        }
      }
      for (const t of seed.tenants) {
        const tenant = tenants.get(t)!;
        for (const a of t.applications ?? []) await applyApp(tx, dir, tenant, a, baseDir);
        const groups = [...(t.groups ?? [])];
        for (const set of t.groupSets ?? []) {
          for (let i = 1; i <= set.count; i++)
            groups.push({ displayName: `${set.prefix}${String(i).padStart(3, '0')}`, members: set.members });
        }
        const existing = await allGroups(tx, tenant.id);
        for (const g of groups) {
          let group = g.id ? await tx.getGroup(tenant.id, g.id) : (existing.get(g.displayName.toLowerCase()) ?? null);
          group ??= await dir.createGroup({
            tenantId: tenant.id,
            displayName: g.displayName,
            mailNickname: g.mailNickname,
            id: g.id,
            description: g.description,
          });
          existing.set(group.displayName.toLowerCase(), group);
        }
        for (const g of groups) {
          const group = existing.get(g.displayName.toLowerCase())!;
          const members = new Set((await tx.listGroupMembers(tenant.id, group.id)).map((m) => m.memberId));
          for (const ref of g.members ?? []) {
            const id = await resolvePrincipal(tx, tenant, ref, existing);
            if (!members.has(id)) await dir.addGroupMember(tenant.id, group.id, id);
            members.add(id);
          }
        }
        for (const s of t.subscriptions ?? []) {
          const id = s.id ?? newId();
          if (!(s.id && (await tx.getSubscription(s.id)))) {
            await tx.createSubscription({ id, tenantId: tenant.id, displayName: s.displayName, state: 'Enabled', createdAt: clock.now() });
          }
          const scope = `/subscriptions/${id}`;
          const current = await tx.listRoleAssignments({ scope });
          for (const ra of s.roleAssignments ?? []) {
            const roleId = BUILT_IN_ROLES[ra.role] ?? (isGuid(ra.role) ? ra.role : undefined);
            if (!roleId) throw new SeedError(`unknown role '${ra.role}' (known: ${Object.keys(BUILT_IN_ROLES).join(', ')})`);
            const principalId = await resolvePrincipal(tx, tenant, ra.principal, existing);
            const roleDefinitionId = roleDefinitionResourceId(id, roleId);
            if (current.some((c) => c.principalId === principalId && c.roleDefinitionId === roleDefinitionId)) continue;
            const type = (await dir.objectType(tenant.id, principalId)) ?? 'user';
            await tx.createRoleAssignment({
              id: newId(),
              tenantId: tenant.id,
              scope,
              roleDefinitionId,
              principalId,
              createdAt: clock.now(),
              principalType: type === 'group' ? 'Group' : type === 'servicePrincipal' ? 'ServicePrincipal' : 'User',
            });
          }
        }
      }
    })
    .catch((err) => {
      if (err instanceof DirectoryError) throw new SeedError(err.message);
      throw err;
    });
}

async function allGroups(store: Store, tenantId: string) {
  const out = new Map<string, Awaited<ReturnType<Store['getGroup']>> & object>();
  let after: string | undefined;
  do {
    const page = await store.listGroups(tenantId, { limit: 1000, after });
    for (const g of page.items) out.set(g.displayName.toLowerCase(), g);
    after = page.next;
  } while (after);
  return out;
}

async function findHomeUser(store: Store, upn: string): Promise<User> {
  const domain = upn.split('@')[1] ?? '';
  const tenant = await store.findTenantByDomain(domain);
  const user = tenant ? await store.findUserByUpn(tenant.id, upn) : null;
  if (!user) throw new SeedError(`guest '${upn}' must be a user of another tenant in the seed (by its domain)`);
  return user;
}

/** `user@domain` (member, or guest by home UPN), `group:<name|id>`, `app:<appId>` (its service principal), or an object id. */
async function resolvePrincipal(store: Store, tenant: Tenant, ref: string, groups: Map<string, { id: string }>): Promise<string> {
  if (ref.startsWith('group:')) {
    const name = ref.slice(6);
    const g = groups.get(name.toLowerCase()) ?? (isGuid(name) ? await store.getGroup(tenant.id, name) : null);
    if (!g) throw new SeedError(`no group '${name}' in ${tenant.defaultDomain}`);
    return g.id;
  }
  if (ref.startsWith('app:')) {
    const sp = await store.findServicePrincipalByAppId(tenant.id, ref.slice(4));
    if (!sp) throw new SeedError(`no service principal for app '${ref.slice(4)}' in ${tenant.defaultDomain}`);
    return sp.id;
  }
  if (ref.includes('@')) {
    const member = await store.findUserByUpn(tenant.id, ref);
    if (member) return member.id;
    const home = await findHomeUser(store, ref);
    const guest = (await store.listGuestAccounts(home.tenantId, home.id)).find((g) => g.tenantId === tenant.id);
    if (guest) return guest.id;
    throw new SeedError(`'${ref}' is neither a user nor a guest of ${tenant.defaultDomain}`);
  }
  if (isGuid(ref)) return ref;
  throw new SeedError(`cannot resolve principal '${ref}'`);
}

async function applyApp(store: Store, dir: Directory, tenant: Tenant, a: SeedApp, baseDir: string): Promise<void> {
  const { GRAPH_PERMISSIONS } = await import('../identity/index.js');
  const required = [...(a.requiredResourceAccess ?? [])];
  if (a.graphPermissions) {
    const find = (name: string) => {
      const p = GRAPH_PERMISSIONS.find((x) => x.value.toLowerCase() === name.toLowerCase());
      if (!p) throw new SeedError(`unknown Graph permission '${name}'`);
      return p;
    };
    required.push({
      resourceAppId: GRAPH_APP_ID,
      resourceAccess: [
        ...(a.graphPermissions.delegated ?? []).map((n) => {
          const p = find(n);
          if (!p.scopeId) throw new SeedError(`Graph permission '${n}' has no delegated form`);
          return { id: p.scopeId, type: 'Scope' as const };
        }),
        ...(a.graphPermissions.application ?? []).map((n) => {
          const p = find(n);
          if (!p.roleId) throw new SeedError(`Graph permission '${n}' has no application form`);
          return { id: p.roleId, type: 'Role' as const };
        }),
      ],
    });
  }
  let app =
    (a.appId ? await store.findApplicationByAppId(tenant.id, a.appId) : null) ??
    (a.id ? await store.getApplication(tenant.id, a.id) : null);
  if (!app) {
    app = await dir.createApplication(tenant.id, {
      id: a.id,
      appId: a.appId,
      displayName: a.displayName,
      identifierUris: a.identifierUris,
      signInAudience: a.signInAudience,
      publicClientRedirectUris: a.publicClient?.redirectUris,
      webRedirectUris: a.web?.redirectUris,
      isFallbackPublicClient: a.isFallbackPublicClient,
      groupMembershipClaims: a.groupMembershipClaims,
      accessTokenAcceptedVersion: a.accessTokenAcceptedVersion ?? null,
      requiredResourceAccess: required,
      extra: {
        ...(a.managedIdentity ? { managedIdentity: true } : {}),
        ...(a.spa?.redirectUris ? { spa: { redirectUris: a.spa.redirectUris } } : {}),
      },
      oauth2PermissionScopes: (a.scopes ?? []).map((s) => ({
        id: s.id ?? newId(),
        value: s.value,
        type: s.type ?? 'User',
        adminConsentDisplayName: s.description ?? s.value,
        adminConsentDescription: s.description ?? s.value,
        userConsentDisplayName: s.description ?? s.value,
        userConsentDescription: s.description ?? s.value,
        isEnabled: true,
      })),
      appRoles: (a.appRoles ?? []).map((r) => ({
        id: r.id ?? newId(),
        value: r.value,
        displayName: r.value,
        description: r.description ?? r.value,
        allowedMemberTypes: r.allowedMemberTypes ?? ['Application'],
        isEnabled: true,
      })),
    });
  }
  const secrets = await store.listPasswordCredentials(tenant.id, app.id);
  for (const s of a.secrets ?? []) {
    const spec = typeof s === 'string' ? { value: s } : s;
    if (
      secrets.some((c) =>
        spec.keyId ? c.keyId === spec.keyId : c.hint === spec.value.slice(0, 3) && c.displayName === (spec.displayName ?? 'seed'),
      )
    )
      continue;
    await dir.addPassword(tenant.id, app.id, { secretText: spec.value, keyId: spec.keyId, displayName: spec.displayName ?? 'seed' });
  }
  const certs = await store.listKeyCredentials(tenant.id, app.id);
  for (const c of a.certificates ?? []) {
    const spec = typeof c === 'string' ? { pem: c } : c;
    const pem = spec.pem ?? (spec.file ? readFileSync(resolve(baseDir, spec.file), 'utf8') : undefined);
    if (!pem) throw new SeedError(`a certificate of '${a.displayName}' needs 'pem' or 'file'`);
    const { X509Certificate, createHash } = await import('node:crypto');
    const sha256 = createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');
    if (certs.some((k) => k.thumbprintSha256 === sha256)) continue;
    await dir.addCertificate(tenant.id, app.id, pem);
  }
  const feds = await store.listFederatedCredentials(tenant.id, app.id);
  for (const f of a.federatedIdentityCredentials ?? []) {
    if (feds.some((x) => x.name === f.name)) continue;
    await dir.addFederatedCredential(tenant.id, app.id, f);
  }
  if (a.servicePrincipal !== false && !(await store.findServicePrincipalByAppId(tenant.id, app.appId))) {
    await dir.createServicePrincipal(tenant.id, app.appId, typeof a.servicePrincipal === 'object' ? a.servicePrincipal.id : undefined);
  }
  if (a.adminConsent) await grantAdminConsent(store, tenant, app);
}

/** What `az ad app permission admin-consent` does: every configured permission, for the whole tenant. */
export async function grantAdminConsent(store: Store, tenant: Tenant, app: Application): Promise<void> {
  const clientSp = await store.findServicePrincipalByAppId(tenant.id, app.appId);
  if (!clientSp) throw new SeedError(`'${app.displayName}' needs a service principal before admin consent`);
  for (const rra of app.requiredResourceAccess) {
    const resourceApp = await store.findApplicationByAppId(tenant.id, rra.resourceAppId);
    const resourceSp = resourceApp ? await store.findServicePrincipalByAppId(tenant.id, rra.resourceAppId) : null;
    if (!resourceApp || !resourceSp) throw new SeedError(`resource app ${rra.resourceAppId} is not in ${tenant.defaultDomain}`);
    const scopes = rra.resourceAccess
      .filter((x) => x.type === 'Scope')
      .map((x) => resourceApp.oauth2PermissionScopes.find((s) => s.id === x.id)?.value)
      .filter((v): v is string => !!v);
    if (scopes.length) {
      const grants = await store.listOAuth2PermissionGrants(tenant.id, { clientId: clientSp.id, resourceId: resourceSp.id });
      const org = grants.find((g) => g.consentType === 'AllPrincipals');
      if (org) {
        await store.updateOAuth2PermissionGrant(tenant.id, org.id, (g) => ({
          ...g,
          scope: [...new Set([...g.scope.split(' ').filter(Boolean), ...scopes])].join(' '),
        }));
      } else {
        await store.createOAuth2PermissionGrant({
          tenantId: tenant.id,
          id: newId(),
          clientId: clientSp.id,
          resourceId: resourceSp.id,
          consentType: 'AllPrincipals',
          principalId: null,
          scope: scopes.join(' '),
        });
      }
    }
    const have = new Set(
      (await store.listAppRoleAssignments(tenant.id, { principalId: clientSp.id, resourceId: resourceSp.id })).map((r) => r.appRoleId),
    );
    for (const role of rra.resourceAccess.filter((x) => x.type === 'Role')) {
      if (have.has(role.id)) continue;
      if (!resourceApp.appRoles.some((r) => r.id === role.id))
        throw new SeedError(`app role ${role.id} does not exist on ${resourceApp.displayName}`);
      await store.createAppRoleAssignment({
        tenantId: tenant.id,
        id: newId(),
        principalId: clientSp.id,
        principalType: 'ServicePrincipal',
        resourceId: resourceSp.id,
        appRoleId: role.id,
      });
    }
  }
}
