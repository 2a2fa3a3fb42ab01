import { isGuid } from '../../shared/crypto.js';
import type { Application, ServicePrincipal, Tenant, User } from '../../store/index.js';
import { firstPartyApp, firstPartyResource, GRAPH_APP_ID } from '../directory/first-party.js';
import { aad } from '../errors.js';
import type { IdentityServices } from './context.js';

export const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

export interface ParsedScope {
  /** The resource as the client named it (`https://management.core.windows.net/`, a GUID, `api://…`), or null. */
  resourceId: string | null;
  /** Scope values on the resource (`.default`, `user_impersonation`, `User.Read`). */
  values: string[];
  oidc: Set<string>;
  /** The scope tokens as requested, echoed in the response. */
  requested: string[];
}

/**
 * Splits a scope string into one resource and its values. `X//.default` keeps `X/` as the resource
 * (the Azure CLI's form for v1 resource URIs); bare names like `User.Read` mean Microsoft Graph.
 */
export function parseScope(scope: string): ParsedScope {
  const requested = scope.split(/\s+/).filter(Boolean);
  const oidc = new Set<string>();
  const values: string[] = [];
  let resourceId: string | null = null;
  for (const token of requested) {
    if (OIDC_SCOPES.has(token.toLowerCase())) {
      oidc.add(token.toLowerCase());
      continue;
    }
    const slash = token.lastIndexOf('/');
    const [resource, value] =
      token.includes('://') || (slash > 0 && (isGuid(token.slice(0, slash)) || SPN_PREFIX.test(token)))
        ? [token.slice(0, slash), token.slice(slash + 1)]
        : [GRAPH_APP_ID, token];
    if (!value) throw aad.invalidScope(token);
    if (resourceId !== null && resourceId !== resource && !(resource === GRAPH_APP_ID && isGraphAlias(resourceId)))
      throw aad.multipleResources();
    resourceId ??= resource;
    values.push(value);
  }
  return { resourceId, values, oidc, requested };
}

/** `spn:<appId>`: the service-principal-name form of a resource (v1 era, kubelogin --legacy, the old azure auth provider). */
const SPN_PREFIX = /^spn:/i;

/** The app id an `spn:<appId>` resource names, or undefined when the resource is not in that form. */
export function spnAppId(resourceId: string): string | undefined {
  if (!SPN_PREFIX.test(resourceId)) return undefined;
  const id = resourceId.slice(4);
  return isGuid(id) ? id.toLowerCase() : '';
}

/**
 * The resource of a v1 request: with `api-version=1.0` (ADAL's default, kubelogin --legacy, client-go's
 * old azure auth provider) Entra names an app-id resource by its `spn:` form, so the token's `aud` and the
 * response's `resource` are `spn:<appId>`.
 */
export function v1Resource(resource: string, apiVersion: string | undefined): string {
  return apiVersion === '1.0' && isGuid(resource) ? `spn:${resource}` : resource;
}

function isGraphAlias(id: string): boolean {
  return id === GRAPH_APP_ID || /^https:\/\/graph\.microsoft\.com\/?$/i.test(id);
}

export interface Resource {
  app: Application;
  sp: ServicePrincipal;
  /** The `aud` of a v1 token: the resource as requested. */
  audience: string;
}

/**
 * Finds the resource application and its service principal in the tenant: exactly one resource.
 * First-party resources resolve first, by appId or identifier URI in any case or slash form, so no
 * tenant application (even one an old seed file gave a look-alike URI) can capture their scopes.
 * A tenant application is then found by appId, or by its identifier URI exactly (case-insensitive),
 * and only when no application holds it exactly, by the same URI with or without a trailing slash.
 */
export async function resolveResource(services: IdentityServices, tenant: Tenant, resourceId: string): Promise<Resource> {
  const { store } = services;
  let app: Application | null;
  // `spn:<appId>` names the application by its app id; the token's `aud` keeps the form the client sent.
  const spn = spnAppId(resourceId);
  const lookupId = spn ?? resourceId;
  const firstParty = spn === '' ? undefined : firstPartyResource(lookupId);
  if (spn === '') {
    app = null;
  } else if (firstParty) {
    app = await store.findApplicationByAppId(tenant.id, firstParty.appId);
  } else if (isGuid(lookupId)) {
    app = await store.findApplicationByAppId(tenant.id, lookupId.toLowerCase());
  } else if (services.isOwnOrigin(resourceId)) {
    // The Azure CLI asks for Graph by the cloud's `microsoftGraphResourceId`: this server.
    app = await store.findApplicationByAppId(tenant.id, GRAPH_APP_ID);
  } else {
    const other = resourceId.endsWith('/') ? resourceId.replace(/\/+$/, '') : `${resourceId}/`;
    app =
      (await store.findApplicationByIdentifierUri(tenant.id, resourceId)) ?? (await store.findApplicationByIdentifierUri(tenant.id, other));
  }
  if (app && !app.firstParty && (firstParty || services.isOwnOrigin(resourceId))) app = null; // never a tenant app in a first-party app's place
  const sp = app ? await store.findServicePrincipalByAppId(tenant.id, app.appId) : null;
  if (!app || !sp) throw aad.resourceNotFound(resourceId, tenant.defaultDomain);
  return { app, sp, audience: resourceId === GRAPH_APP_ID ? 'https://graph.microsoft.com' : resourceId };
}

/**
 * The delegated permissions a client holds on a resource for a user: pre-authorized first-party
 * pairs, the app itself, then consent grants. Returns null when consent is missing.
 */
export async function delegatedScopes(
  services: IdentityServices,
  tenantId: string,
  client: { app: Application; sp: ServicePrincipal | null },
  resource: Resource,
  requested: string[],
  user: User,
): Promise<string[] | null> {
  const all = resource.app.oauth2PermissionScopes.filter((s) => s.isEnabled).map((s) => s.value);
  let granted: string[];
  const preAuthorized = firstPartyApp(resource.app.appId)?.preAuthorizedClients?.includes(client.app.appId) ?? false;
  if (preAuthorized || client.app.appId === resource.app.appId) {
    granted = all;
  } else {
    const grants = client.sp
      ? await services.store.listOAuth2PermissionGrants(tenantId, { clientId: client.sp.id, resourceId: resource.sp.id })
      : [];
    granted = [
      ...new Set(
        grants
          .filter((g) => g.consentType === 'AllPrincipals' || g.principalId === user.id)
          .flatMap((g) => g.scope.split(/\s+/).filter(Boolean)),
      ),
    ];
  }
  const wantsDefault = requested.length === 0 || requested.some((v) => v === '.default');
  if (wantsDefault) {
    if (granted.length === 0 && !preAuthorized && client.app.appId !== resource.app.appId) return null;
    return granted;
  }
  const lower = new Set(granted.map((g) => g.toLowerCase()));
  for (const value of requested) {
    if (!all.some((s) => s.toLowerCase() === value.toLowerCase())) throw aad.invalidScope(value);
    if (!lower.has(value.toLowerCase())) return null;
  }
  return requested;
}

/** The application permissions (app role values) granted to a service principal on a resource. */
export async function applicationRoles(
  services: IdentityServices,
  tenantId: string,
  principalId: string,
  resource: Resource,
): Promise<string[]> {
  const assignments = await services.store.listAppRoleAssignments(tenantId, { principalId, resourceId: resource.sp.id });
  const byId = new Map(resource.app.appRoles.map((r) => [r.id, r.value]));
  return [...new Set(assignments.map((a) => byId.get(a.appRoleId)).filter((v): v is string => !!v))];
}
