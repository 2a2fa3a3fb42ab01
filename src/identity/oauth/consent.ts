import { newId } from '../../shared/crypto.js';
import type { Application, OAuth2PermissionGrant, ServicePrincipal } from '../../store/index.js';
import { GLOBAL_ADMINISTRATOR_ROLE } from '../directory/first-party.js';
import type { IdentityServices } from './context.js';
import type { Resource } from './scopes.js';

/** Scopes of the resource a user may not consent to alone. */
export function adminOnlyScopes(resource: Resource, scopes: string[]): string[] {
  const byValue = new Map(resource.app.oauth2PermissionScopes.map((s) => [s.value.toLowerCase(), s]));
  return scopes.filter((s) => byValue.get(s.toLowerCase())?.type === 'Admin');
}

export async function isGlobalAdministrator(services: IdentityServices, tenantId: string, userId: string): Promise<boolean> {
  return (await services.store.listDirectoryRoleAssignments(tenantId, userId)).some((r) => r.roleTemplateId === GLOBAL_ADMINISTRATOR_ROLE);
}

/**
 * Records consent: for one user (`principalId`) or, by an administrator, for the organization (null).
 * Creates the client's service principal in the tenant when it has none yet, as Entra does.
 */
export async function grantConsent(
  services: IdentityServices,
  tenantId: string,
  client: Application,
  resource: Resource,
  scopes: string[],
  principalId: string | null,
): Promise<OAuth2PermissionGrant> {
  return services.store.transaction(async (store) => {
    let sp: ServicePrincipal | null = await store.findServicePrincipalByAppId(tenantId, client.appId);
    if (!sp) {
      sp = {
        tenantId,
        id: newId(),
        appId: client.appId,
        displayName: client.displayName,
        accountEnabled: true,
        servicePrincipalNames: [client.appId, ...client.identifierUris],
        appRoleAssignmentRequired: false,
        createdAt: services.clock.now(),
      };
      await store.createServicePrincipal(sp);
    }
    const consentType = principalId ? 'Principal' : 'AllPrincipals';
    const existing = (await store.listOAuth2PermissionGrants(tenantId, { clientId: sp.id, resourceId: resource.sp.id })).find(
      (g) => g.consentType === consentType && (g.principalId ?? null) === principalId,
    );
    if (existing) {
      const updated = await store.updateOAuth2PermissionGrant(tenantId, existing.id, (g) => ({
        ...g,
        scope: [...new Set([...g.scope.split(/\s+/).filter(Boolean), ...scopes])].join(' '),
      }));
      return updated!;
    }
    const grant: OAuth2PermissionGrant = {
      tenantId,
      id: newId(),
      clientId: sp.id,
      resourceId: resource.sp.id,
      consentType,
      principalId,
      scope: scopes.join(' '),
    };
    await store.createOAuth2PermissionGrant(grant);
    return grant;
  });
}
