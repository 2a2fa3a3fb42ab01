import type { Application, AppRole, PermissionScope } from '../../store/index.js';

// Microsoft's first-party applications, with their real IDs, present in every tenant.

export const AKS_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';
export const AKS_CLIENT_APP_ID = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';
export const AZURE_CLI_APP_ID = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const ARM_APP_ID = '797f4846-ba00-4fd7-ba43-dac1f8f63013';
/** Azure Arc-enabled Kubernetes (AKS Arc) server and client applications. */
export const ARC_SERVER_APP_ID = '6256c85f-0aad-4d50-b960-e6e9b21efe35';
export const ARC_CLIENT_APP_ID = '3f4439ff-e698-4d6d-84fe-09c9d574f06b';
/** Kentra's own portal (the SPA served at `/`): a first-party public client, present in every tenant. */
export const KENTRA_PORTAL_APP_ID = '4b3c6e2a-5d1f-4c8e-9a7b-2e6f0d9c1a35';
/**
 * The portal's redirect URIs, of type spa, on Kentra's own origin: the msal-browser v5 redirect bridge and
 * the portal's start page (its post-logout target). Kentra's origin is only known per request (the port may
 * be chosen by the OS), so these paths are matched against the origin the request reached
 * ({@link ownSpaRedirectUris}); no one can register, change or remove them (first-party apps are read-only).
 */
export const PORTAL_SPA_REDIRECT_PATHS = ['/portal/redirect.html', '/'];

export const ARM_RESOURCE_URIS = ['https://management.core.windows.net/', 'https://management.azure.com/'];
export const GRAPH_RESOURCE_URIS = ['https://graph.microsoft.com'];

/** Directory role template IDs. */
export const GLOBAL_ADMINISTRATOR_ROLE = '62e90394-69f5-4237-9190-012177145e10';
export const DIRECTORY_ROLES: Record<string, string> = {
  'Global Administrator': GLOBAL_ADMINISTRATOR_ROLE,
  'User Administrator': 'fe930be7-5e62-47db-91af-98c3a49a38b1',
  'Application Administrator': '9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3',
  'Groups Administrator': 'fdd7a751-b60b-444a-984c-02652fe8fa1c',
  'Directory Readers': '88d8e3e3-8f55-4a1e-953a-9b9898b8876b',
  // The roles that read the sign-in log (reference/security.md §8.2).
  'Global Reader': 'f2ef992c-3afb-46b9-b7cf-a126ee74c451',
  'Reports Reader': '4a5d8f65-41da-4de4-8968-e035b65339cf',
  'Security Administrator': '194ae4cb-b126-40b2-bd5b-6091b380977d',
  'Security Operator': '5f2222b1-57c3-48ba-8ad5-d4759f1fde6f',
  'Security Reader': '5d6b6bb7-de71-4623-b4af-96380a352509',
};

const scope = (id: string, value: string, type: 'User' | 'Admin', text: string): PermissionScope => ({
  id,
  value,
  type,
  adminConsentDisplayName: text,
  adminConsentDescription: text,
  userConsentDisplayName: type === 'User' ? text : null,
  userConsentDescription: type === 'User' ? text : null,
  isEnabled: true,
});
const role = (id: string, value: string, text: string): AppRole => ({
  id,
  value,
  displayName: text,
  description: text,
  allowedMemberTypes: ['Application'],
  isEnabled: true,
});

/** Graph permissions Kentra knows, with Microsoft's IDs (delegated scope id, application role id). */
/** A null `scopeId` is an application permission only (no delegated form), a null `roleId` a delegated one only. */
export const GRAPH_PERMISSIONS: { value: string; scopeId: string | null; roleId: string | null; text: string; adminOnly: boolean }[] = [
  {
    value: 'User.Read',
    scopeId: 'e1fe6dd8-ba31-4d61-89e7-88639da4683d',
    roleId: null,
    text: 'Sign in and read user profile',
    adminOnly: false,
  },
  {
    value: 'User.Read.All',
    scopeId: 'a154be20-db9c-4678-8ab7-66f6cc099a59',
    roleId: 'df021288-bdef-4463-88db-98f22de89214',
    text: "Read all users' full profiles",
    adminOnly: true,
  },
  {
    value: 'User.ReadWrite.All',
    scopeId: '204e0828-b5ca-4ad8-b9f3-f32a958e7cc4',
    roleId: '741f803b-c850-494e-b5df-cde7c675a1ca',
    text: "Read and write all users' full profiles",
    adminOnly: true,
  },
  {
    value: 'Directory.Read.All',
    scopeId: '06da0dbc-49e2-44d2-8312-53f166ab848a',
    roleId: '7ab1d382-f21e-4acd-a863-ba3e13f7da61',
    text: 'Read directory data',
    adminOnly: true,
  },
  {
    value: 'Directory.ReadWrite.All',
    scopeId: 'c5366453-9fb0-48a5-a156-24f0c49a4b84',
    roleId: '19dbc75e-c2e2-444c-a770-ec69d8559fc7',
    text: 'Read and write directory data',
    adminOnly: true,
  },
  {
    value: 'Directory.AccessAsUser.All',
    scopeId: '0e263e50-5827-48a4-b97c-d940288653c7',
    roleId: null,
    text: 'Access the directory as the signed-in user',
    adminOnly: true,
  },
  {
    value: 'Group.Read.All',
    scopeId: '5f8c59db-677d-491f-a6b8-5f174b11ec1d',
    roleId: '5b567255-7703-4780-807c-7be8301ae99b',
    text: 'Read all groups',
    adminOnly: true,
  },
  {
    value: 'Group.ReadWrite.All',
    scopeId: '4e46008b-f24c-477d-8fff-7bb4ec7aafe0',
    roleId: '62a82d76-70ea-41e2-9197-370581804d09',
    text: 'Read and write all groups',
    adminOnly: true,
  },
  {
    value: 'GroupMember.Read.All',
    scopeId: 'bc024368-1153-4739-b217-4326f2e966d0',
    roleId: '98830695-27a2-44f7-8c18-0c3ebc9698f6',
    text: 'Read all group memberships',
    adminOnly: true,
  },
  {
    value: 'Application.Read.All',
    scopeId: 'c79f8feb-a9db-4090-85f9-90d820caa0eb',
    roleId: '9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30',
    text: 'Read all applications',
    adminOnly: true,
  },
  {
    value: 'Application.ReadWrite.All',
    scopeId: 'bdfbf15f-ee85-4955-8675-146e8e5296b5',
    roleId: '1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9',
    text: 'Read and write all applications',
    adminOnly: true,
  },
  {
    value: 'Application.ReadWrite.OwnedBy',
    scopeId: null,
    roleId: '18a4783c-866b-4cc7-a460-3d5e5662c884',
    text: 'Manage apps that this app creates or owns',
    adminOnly: true,
  },
  {
    value: 'AppRoleAssignment.ReadWrite.All',
    scopeId: '84bccea3-f856-4a8a-967b-dbe0a3d53a64',
    roleId: '06b708a9-e830-4db3-a914-8e69da51d44f',
    text: 'Manage app permission grants and app role assignments',
    adminOnly: true,
  },
  {
    value: 'DelegatedPermissionGrant.ReadWrite.All',
    scopeId: '41ce6ca6-6826-4807-84f1-1c82854f7ee5',
    roleId: '8e8e4742-1d95-4f68-9d56-6ee75648c72a',
    text: 'Manage all delegated permission grants',
    adminOnly: true,
  },
  {
    value: 'AuditLog.Read.All',
    scopeId: 'e4c9e354-4dc5-45b8-9e7c-e1393b0b1a20',
    roleId: 'b0afded3-3588-46d8-8b3d-9842eff778da',
    text: 'Read all audit log data',
    adminOnly: true,
  },
  { value: 'openid', scopeId: '37f7f235-527c-4136-accd-4a02d197296e', roleId: null, text: 'Sign users in', adminOnly: false },
  { value: 'profile', scopeId: '14dad69e-099b-42c9-810b-d002981feec1', roleId: null, text: "View users' basic profile", adminOnly: false },
  { value: 'email', scopeId: '64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0', roleId: null, text: "View users' email address", adminOnly: false },
  {
    value: 'offline_access',
    scopeId: '7427e0e9-2fba-42fe-b0c0-848c9e6a8182',
    roleId: null,
    text: 'Maintain access to data you have given it access to',
    adminOnly: false,
  },
];

type FirstPartyApp = Omit<Application, 'tenantId' | 'id' | 'createdAt'> & {
  /** Clients Microsoft pre-authorizes for this resource: no consent is asked. */
  preAuthorizedClients?: string[];
};

const base = {
  signInAudience: 'AzureADMultipleOrgs',
  publicClientRedirectUris: [] as string[],
  webRedirectUris: [] as string[],
  isFallbackPublicClient: false,
  groupMembershipClaims: null,
  oauth2PermissionScopes: [] as PermissionScope[],
  appRoles: [] as AppRole[],
  requiredResourceAccess: [],
  accessTokenAcceptedVersion: null,
  firstParty: true,
  identifierUris: [] as string[],
  extra: {} as Record<string, unknown>,
  uniqueName: null,
};

export const FIRST_PARTY_APPS: FirstPartyApp[] = [
  {
    ...base,
    appId: AKS_SERVER_APP_ID,
    displayName: 'Azure Kubernetes Service AAD Server',
    identifierUris: [`https://${AKS_SERVER_APP_ID}`],
    groupMembershipClaims: 'All',
    oauth2PermissionScopes: [
      scope('b65c6b7d-e7c1-4eae-b2c8-5d3e0e1b4b4e', 'user.read', 'User', 'Access Azure Kubernetes Service clusters as the signed-in user'),
    ],
    preAuthorizedClients: [AKS_CLIENT_APP_ID, AZURE_CLI_APP_ID],
  },
  {
    ...base,
    appId: AKS_CLIENT_APP_ID,
    displayName: 'Azure Kubernetes Service AAD Client',
    isFallbackPublicClient: true,
    publicClientRedirectUris: [
      'http://localhost',
      'https://login.microsoftonline.com/common/oauth2/nativeclient',
      'https://afd.hosting.portal.azure.net/monitoring/Content/redirectauth.html',
    ],
  },
  {
    ...base,
    appId: ARC_SERVER_APP_ID,
    displayName: 'Azure Arc Kubernetes AAD Server',
    identifierUris: [`https://${ARC_SERVER_APP_ID}`],
    groupMembershipClaims: 'All',
    oauth2PermissionScopes: [
      scope(
        '3fb8dbe8-8d2e-4c5d-9b7c-0d5a4c1a7e01',
        'user.read',
        'User',
        'Access Azure Arc-enabled Kubernetes clusters as the signed-in user',
      ),
    ],
    preAuthorizedClients: [ARC_CLIENT_APP_ID, AZURE_CLI_APP_ID],
  },
  {
    ...base,
    appId: ARC_CLIENT_APP_ID,
    displayName: 'Azure Arc Kubernetes AAD Client',
    isFallbackPublicClient: true,
    publicClientRedirectUris: ['http://localhost', 'https://login.microsoftonline.com/common/oauth2/nativeclient'],
  },
  {
    ...base,
    appId: AZURE_CLI_APP_ID,
    displayName: 'Microsoft Azure CLI',
    isFallbackPublicClient: true,
    publicClientRedirectUris: ['http://localhost', 'https://login.microsoftonline.com/common/oauth2/nativeclient'],
  },
  {
    ...base,
    appId: ARM_APP_ID,
    displayName: 'Windows Azure Service Management API',
    identifierUris: ARM_RESOURCE_URIS,
    oauth2PermissionScopes: [
      scope('41094075-9dad-400e-a0bd-54e686782033', 'user_impersonation', 'User', 'Access Azure Service Management as organization users'),
    ],
    preAuthorizedClients: [AZURE_CLI_APP_ID, AKS_CLIENT_APP_ID, KENTRA_PORTAL_APP_ID],
  },
  {
    ...base,
    appId: GRAPH_APP_ID,
    displayName: 'Microsoft Graph',
    identifierUris: GRAPH_RESOURCE_URIS,
    oauth2PermissionScopes: GRAPH_PERMISSIONS.filter((p) => p.scopeId).map((p) =>
      scope(p.scopeId!, p.value, p.adminOnly ? 'Admin' : 'User', p.text),
    ),
    appRoles: GRAPH_PERMISSIONS.filter((p) => p.roleId).map((p) => role(p.roleId!, p.value, p.text)),
    preAuthorizedClients: [AZURE_CLI_APP_ID, KENTRA_PORTAL_APP_ID],
  },
  {
    ...base,
    appId: KENTRA_PORTAL_APP_ID,
    displayName: 'Kentra portal',
    signInAudience: 'AzureADMultipleOrgs',
  },
];

/** The spa redirect URIs an application has on Kentra's own `origin` (the portal's), for a request that reached that origin. */
export function ownSpaRedirectUris(appId: string, origin: string | undefined): string[] {
  if (!origin || appId !== KENTRA_PORTAL_APP_ID) return [];
  return PORTAL_SPA_REDIRECT_PATHS.map((p) => `${origin}${p}`);
}

export function firstPartyApp(appId: string): FirstPartyApp | undefined {
  return FIRST_PARTY_APPS.find((a) => a.appId === appId);
}

/** Public clients that may sign users in without a secret. */
export function isFirstPartyPublicClient(appId: string): boolean {
  return appId === AZURE_CLI_APP_ID || appId === AKS_CLIENT_APP_ID || appId === ARC_CLIENT_APP_ID || appId === KENTRA_PORTAL_APP_ID;
}

/** A resource identifier as Entra compares it: case-insensitive, a trailing slash ignored. */
export const normalizeResourceId = (id: string): string => id.toLowerCase().replace(/\/+$/, '');

const FIRST_PARTY_BY_ID = new Map<string, FirstPartyApp>(
  FIRST_PARTY_APPS.flatMap((a) => [a.appId, ...a.identifierUris].map((id) => [normalizeResourceId(id), a] as const)),
);

/**
 * The first-party application a resource identifier names (its appId or one of its identifier URIs,
 * in any case, with or without a trailing slash). Scope resolution asks this first, so no tenant
 * application can shadow a first-party resource (reference/security.md §1.7, §1.8).
 */
export function firstPartyResource(resourceId: string): FirstPartyApp | undefined {
  return FIRST_PARTY_BY_ID.get(normalizeResourceId(resourceId));
}

/**
 * Hosts no tenant application may use in an identifier URI: the first-party resources' hosts and
 * appIds, and the Microsoft identity hosts a client may name (Entra blocks them with its verified-domain rule).
 */
const RESERVED_HOSTS = new Set([
  ...FIRST_PARTY_APPS.map((a) => a.appId),
  ...FIRST_PARTY_APPS.flatMap((a) => a.identifierUris).map((u) => new URL(u).hostname.toLowerCase()),
  'login.microsoftonline.com',
  'login.windows.net',
  'sts.windows.net',
  'graph.windows.net',
  'vault.azure.net',
]);

/** Is this identifier URI reserved for a first-party resource (its URI or appId, in any form, or a URI on one of their hosts)? */
export function isReservedIdentifierUri(uri: string): boolean {
  if (firstPartyResource(uri)) return true;
  try {
    return RESERVED_HOSTS.has(new URL(uri).hostname.toLowerCase());
  } catch {
    return false;
  }
}
