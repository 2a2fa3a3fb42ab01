import { graph } from '../api';

// API permissions of an app registration and "Grant admin consent" as the Entra admin center does it
// through Graph: the client's service principal (created when missing), one tenant-wide
// oauth2PermissionGrant per resource for the delegated permissions, one appRoleAssignment per
// application permission. Each call is authorized by Graph for the signed-in user (security.md §4.6).

export interface PermissionScope {
  id: string;
  value: string;
  type?: string;
  adminConsentDisplayName?: string;
  adminConsentDescription?: string;
}
export interface AppRole {
  id: string;
  value: string;
  displayName?: string;
  description?: string;
  allowedMemberTypes?: string[];
}
export interface ServicePrincipal {
  id: string;
  appId: string;
  displayName: string;
  appOwnerOrganizationId?: string;
  servicePrincipalType?: string;
  accountEnabled?: boolean;
  appRoleAssignmentRequired?: boolean;
  servicePrincipalNames?: string[];
  replyUrls?: string[];
  oauth2PermissionScopes: PermissionScope[];
  appRoles: AppRole[];
}
export interface RequiredResourceAccess {
  resourceAppId: string;
  resourceAccess: { id: string; type: 'Scope' | 'Role' }[];
}
interface Grant {
  id: string;
  clientId: string;
  resourceId: string;
  consentType: string;
  principalId: string | null;
  scope: string;
}
export interface AppRoleAssignment {
  id: string;
  appRoleId: string;
  principalId: string;
  principalDisplayName?: string;
  principalType?: string;
  resourceId: string;
  resourceDisplayName?: string;
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

export async function servicePrincipalByAppId(appId: string): Promise<ServicePrincipal | null> {
  const page = await graph<{ value: ServicePrincipal[] }>(`/servicePrincipals?$filter=${encodeURIComponent(`appId eq ${quote(appId)}`)}`);
  return page.value[0] ?? null;
}

/** One permission of requiredResourceAccess, named, with whether the tenant has granted it. */
export interface PermissionRow {
  resourceAppId: string;
  resourceName: string;
  id: string;
  type: 'Scope' | 'Role';
  value: string;
  description: string;
  adminConsentRequired: boolean;
  granted: boolean;
}

/** The permissions an app asks for, named from their resources' service principals, and their consent state. */
export async function permissionRows(appId: string, required: RequiredResourceAccess[]): Promise<PermissionRow[]> {
  const client = await servicePrincipalByAppId(appId);
  const grants = client
    ? (
        await graph<{ value: Grant[] }>(
          `/oauth2PermissionGrants?$filter=${encodeURIComponent(`clientId eq ${quote(client.id)} and consentType eq 'AllPrincipals'`)}`,
        )
      ).value
    : [];
  const assignments = client
    ? (await graph<{ value: AppRoleAssignment[] }>(`/servicePrincipals/${client.id}/appRoleAssignments`)).value
    : [];
  const rows: PermissionRow[] = [];
  for (const rra of required) {
    const resource = await servicePrincipalByAppId(rra.resourceAppId);
    const granted = new Set(
      grants
        .filter((g) => g.resourceId === resource?.id)
        .flatMap((g) => g.scope.split(/\s+/))
        .map((s) => s.toLowerCase()),
    );
    for (const a of rra.resourceAccess) {
      if (a.type === 'Scope') {
        const s = resource?.oauth2PermissionScopes.find((x) => x.id === a.id);
        rows.push({
          resourceAppId: rra.resourceAppId,
          resourceName: resource?.displayName ?? rra.resourceAppId,
          id: a.id,
          type: 'Scope',
          value: s?.value ?? a.id,
          description: s?.adminConsentDisplayName ?? '',
          adminConsentRequired: s?.type === 'Admin',
          granted: !!s && granted.has(s.value.toLowerCase()),
        });
      } else {
        const r = resource?.appRoles.find((x) => x.id === a.id);
        rows.push({
          resourceAppId: rra.resourceAppId,
          resourceName: resource?.displayName ?? rra.resourceAppId,
          id: a.id,
          type: 'Role',
          value: r?.value ?? a.id,
          description: r?.displayName ?? '',
          adminConsentRequired: true,
          granted: assignments.some((x) => x.resourceId === resource?.id && x.appRoleId === a.id),
        });
      }
    }
  }
  return rows;
}

/** Grants every permission the app asks for, for the whole tenant. Returns what was granted, in words. */
export async function grantAdminConsent(app: { appId: string; displayName: string; requiredResourceAccess: RequiredResourceAccess[] }) {
  let client = await servicePrincipalByAppId(app.appId);
  client ??= await graph<ServicePrincipal>('/servicePrincipals', { method: 'POST', body: JSON.stringify({ appId: app.appId }) });
  const done: string[] = [];
  for (const rra of app.requiredResourceAccess) {
    const resource = await servicePrincipalByAppId(rra.resourceAppId);
    if (!resource) throw new Error(`The API ${rra.resourceAppId} has no service principal in this tenant: it cannot be consented to.`);
    const scopes = rra.resourceAccess
      .filter((a) => a.type === 'Scope')
      .map((a) => resource.oauth2PermissionScopes.find((s) => s.id === a.id)?.value)
      .filter((v): v is string => !!v);
    if (scopes.length) {
      const existing = (
        await graph<{ value: Grant[] }>(
          `/oauth2PermissionGrants?$filter=${encodeURIComponent(
            `clientId eq ${quote(client.id)} and resourceId eq ${quote(resource.id)} and consentType eq 'AllPrincipals'`,
          )}`,
        )
      ).value[0];
      if (existing) {
        const merged = [...new Set([...existing.scope.split(/\s+/).filter(Boolean), ...scopes])].join(' ');
        if (merged !== existing.scope)
          await graph(`/oauth2PermissionGrants/${existing.id}`, { method: 'PATCH', body: JSON.stringify({ scope: merged }) });
      } else {
        await graph('/oauth2PermissionGrants', {
          method: 'POST',
          body: JSON.stringify({ clientId: client.id, consentType: 'AllPrincipals', resourceId: resource.id, scope: scopes.join(' ') }),
        });
      }
      done.push(`${resource.displayName}: ${scopes.join(', ')} (delegated)`);
    }
    const roles = rra.resourceAccess.filter((a) => a.type === 'Role');
    if (roles.length) {
      const have = (await graph<{ value: AppRoleAssignment[] }>(`/servicePrincipals/${client.id}/appRoleAssignments`)).value;
      for (const r of roles) {
        if (have.some((x) => x.resourceId === resource.id && x.appRoleId === r.id)) continue;
        await graph(`/servicePrincipals/${client.id}/appRoleAssignments`, {
          method: 'POST',
          body: JSON.stringify({ principalId: client.id, resourceId: resource.id, appRoleId: r.id }),
        });
      }
      done.push(
        `${resource.displayName}: ${roles.map((r) => resource.appRoles.find((x) => x.id === r.id)?.value ?? r.id).join(', ')} (application)`,
      );
    }
  }
  return done;
}

/** The APIs the tenant knows that expose delegated or application permissions. */
export async function permissionApis(): Promise<ServicePrincipal[]> {
  const page = await graph<{ value: ServicePrincipal[] }>('/servicePrincipals');
  return page.value
    .filter((sp) => sp.oauth2PermissionScopes.length || sp.appRoles.some((r) => r.allowedMemberTypes?.includes('Application')))
    .sort((a, b) =>
      a.displayName === 'Microsoft Graph' ? -1 : b.displayName === 'Microsoft Graph' ? 1 : a.displayName.localeCompare(b.displayName),
    );
}
