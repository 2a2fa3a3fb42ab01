import type { JsonObject } from '../../shared/json.js';
import type {
  Application,
  AppRoleAssignment,
  FederatedIdentityCredential,
  Group,
  KeyCredential,
  OAuth2PermissionGrant,
  PasswordCredential,
  ServicePrincipal,
  Tenant,
  User,
} from '../../store/index.js';

// Directory entities in Microsoft Graph v1.0's JSON shapes. Dates are ISO 8601 UTC.

/** ISO 8601 to the second, as Graph writes it (toISOString always ends in `.sssZ`). */
const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : `${new Date(ms).toISOString().slice(0, -5)}Z`);

/** The properties Graph returns for a user when no $select is given. */
export const USER_DEFAULT_SELECT = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
];

export function userJson(u: User): Record<string, unknown> {
  return {
    businessPhones: [],
    displayName: u.displayName,
    givenName: null,
    jobTitle: null,
    mail: u.mail,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: null,
    userPrincipalName: u.userPrincipalName,
    id: u.id,
    accountEnabled: u.accountEnabled,
    userType: u.userType,
    mailNickname: u.mailNickname,
    createdDateTime: iso(u.createdAt),
    creationType: u.userType === 'Guest' ? 'Invitation' : null,
    externalUserState: u.userType === 'Guest' ? 'Accepted' : null,
  };
}

export function userDefault(u: User): Record<string, unknown> {
  const full = userJson(u);
  return Object.fromEntries(USER_DEFAULT_SELECT.map((k) => [k, full[k]]));
}

/**
 * The security identifier Entra shows for a group: `S-1-12-1-` and the object id's 16 bytes, as .NET's
 * `Guid.ToByteArray()` orders them (the first three fields little-endian), read as four little-endian
 * 32-bit numbers. So the first number is the id's first field as written, the second its third field then
 * its second, and the last two are their bytes in reverse order.
 */
export function securityIdentifier(id: string): string {
  const hex = id.replace(/-/g, '');
  const reversed = (i: number) => hex.slice(i + 6, i + 8) + hex.slice(i + 4, i + 6) + hex.slice(i + 2, i + 4) + hex.slice(i, i + 2);
  const parts = [hex.slice(0, 8), hex.slice(12, 16) + hex.slice(8, 12), reversed(16), reversed(24)];
  return `S-1-12-1-${parts.map((p) => parseInt(p, 16)).join('-')}`;
}

export function groupJson(g: Group): Record<string, unknown> {
  return {
    id: g.id,
    deletedDateTime: null,
    classification: null,
    createdDateTime: iso(g.createdAt),
    creationOptions: [],
    description: g.description,
    displayName: g.displayName,
    expirationDateTime: null,
    groupTypes: [],
    isAssignableToRole: null,
    mail: null,
    mailEnabled: g.mailEnabled,
    mailNickname: g.mailNickname,
    membershipRule: null,
    membershipRuleProcessingState: null,
    onPremisesDomainName: null,
    onPremisesLastSyncDateTime: null,
    onPremisesNetBiosName: null,
    onPremisesSamAccountName: null,
    onPremisesSecurityIdentifier: null,
    onPremisesSyncEnabled: null,
    preferredDataLocation: null,
    preferredLanguage: null,
    proxyAddresses: [],
    renewedDateTime: iso(g.createdAt),
    resourceBehaviorOptions: [],
    resourceProvisioningOptions: [],
    securityEnabled: g.securityEnabled,
    securityIdentifier: securityIdentifier(g.id),
    theme: null,
    visibility: null,
    onPremisesProvisioningErrors: [],
  };
}

export function passwordCredentialJson(c: PasswordCredential, secretText: string | null = null): Record<string, unknown> {
  return {
    customKeyIdentifier: null,
    displayName: c.displayName,
    endDateTime: iso(c.endDateTime),
    hint: c.hint,
    keyId: c.keyId,
    secretText,
    startDateTime: iso(c.startDateTime),
  };
}

export function keyCredentialJson(c: KeyCredential): Record<string, unknown> {
  return {
    customKeyIdentifier: Buffer.from(c.thumbprintSha1, 'base64url').toString('hex').toUpperCase(),
    displayName: c.displayName,
    endDateTime: iso(c.endDateTime),
    key: null,
    keyId: c.keyId,
    startDateTime: iso(c.startDateTime),
    type: 'AsymmetricX509Cert',
    usage: 'Verify',
  };
}

export function applicationJson(
  a: Application,
  tenant: Tenant,
  creds: { passwords: PasswordCredential[]; keys: KeyCredential[] },
): Record<string, unknown> {
  const extra = a.extra as JsonObject;
  const web = (extra.web ?? {}) as Record<string, unknown>;
  return {
    id: a.id,
    deletedDateTime: null,
    appId: a.appId,
    applicationTemplateId: null,
    disabledByMicrosoftStatus: null,
    createdDateTime: iso(a.createdAt),
    displayName: a.displayName,
    description: extra.description ?? null,
    groupMembershipClaims: a.groupMembershipClaims,
    identifierUris: a.identifierUris,
    isDeviceOnlyAuthSupported: null,
    isFallbackPublicClient: a.isFallbackPublicClient,
    notes: extra.notes ?? null,
    publisherDomain: tenant.defaultDomain,
    serviceManagementReference: null,
    signInAudience: a.signInAudience,
    tags: extra.tags ?? [],
    tokenEncryptionKeyId: null,
    uniqueName: a.uniqueName,
    defaultRedirectUri: null,
    certification: null,
    optionalClaims: extra.optionalClaims ?? null,
    requestSignatureVerification: null,
    addIns: [],
    api: {
      acceptMappedClaims: null,
      knownClientApplications: extra.knownClientApplications ?? [],
      requestedAccessTokenVersion: a.accessTokenAcceptedVersion,
      oauth2PermissionScopes: a.oauth2PermissionScopes,
      preAuthorizedApplications: extra.preAuthorizedApplications ?? [],
    },
    // The AAD Graph name of api.oauth2PermissionScopes, which the legacy walkthrough queries (`oauth2Permissions[0].id`).
    oauth2Permissions: a.oauth2PermissionScopes,
    appRoles: a.appRoles,
    info: {
      logoUrl: null,
      marketingUrl: null,
      privacyStatementUrl: null,
      supportUrl: null,
      termsOfServiceUrl: null,
      ...(extra.info as Record<string, string | null> | undefined),
    },
    keyCredentials: creds.keys.map(keyCredentialJson),
    parentalControlSettings: { countriesBlockedForMinors: [], legalAgeGroupRule: 'Allow' },
    passwordCredentials: creds.passwords.map((c) => passwordCredentialJson(c)),
    publicClient: { redirectUris: a.publicClientRedirectUris },
    requiredResourceAccess: a.requiredResourceAccess,
    verifiedPublisher: { displayName: null, verifiedPublisherId: null, addedDateTime: null },
    web: {
      homePageUrl: web.homePageUrl ?? null,
      logoutUrl: web.logoutUrl ?? null,
      redirectUris: a.webRedirectUris,
      implicitGrantSettings: web.implicitGrantSettings ?? { enableAccessTokenIssuance: false, enableIdTokenIssuance: false },
      redirectUriSettings: a.webRedirectUris.map((uri) => ({ uri, index: null })),
    },
    spa: { redirectUris: (extra.spa as { redirectUris?: string[] } | undefined)?.redirectUris ?? [] },
  };
}

export function servicePrincipalJson(
  sp: ServicePrincipal,
  app: Application | null,
  tenant: Tenant,
  creds: { passwords: PasswordCredential[]; keys: KeyCredential[] },
): Record<string, unknown> {
  return {
    id: sp.id,
    deletedDateTime: null,
    accountEnabled: sp.accountEnabled,
    alternativeNames: [],
    appDisplayName: app?.displayName ?? sp.displayName,
    appDescription: null,
    appId: sp.appId,
    applicationTemplateId: null,
    appOwnerOrganizationId: app?.firstParty ? 'f8cdef31-a31e-4b4a-93e4-5f571e91255a' : tenant.id,
    appRoleAssignmentRequired: sp.appRoleAssignmentRequired,
    createdDateTime: iso(sp.createdAt),
    description: null,
    disabledByMicrosoftStatus: null,
    displayName: sp.displayName,
    homepage: null,
    loginUrl: null,
    logoutUrl: null,
    notes: null,
    notificationEmailAddresses: [],
    preferredSingleSignOnMode: null,
    preferredTokenSigningKeyThumbprint: null,
    replyUrls: app ? [...app.webRedirectUris, ...app.publicClientRedirectUris] : [],
    servicePrincipalNames: sp.servicePrincipalNames,
    servicePrincipalType: (app?.extra as Record<string, unknown> | undefined)?.managedIdentity ? 'ManagedIdentity' : 'Application',
    signInAudience: app?.signInAudience ?? 'AzureADMyOrg',
    tags: [],
    tokenEncryptionKeyId: null,
    info: { logoUrl: null, marketingUrl: null, privacyStatementUrl: null, supportUrl: null, termsOfServiceUrl: null },
    samlSingleSignOnSettings: null,
    addIns: [],
    appRoles: app?.appRoles ?? [],
    keyCredentials: creds.keys.map(keyCredentialJson),
    oauth2PermissionScopes: app?.oauth2PermissionScopes ?? [],
    passwordCredentials: creds.passwords.map((c) => passwordCredentialJson(c)),
    resourceSpecificApplicationPermissions: [],
    verifiedPublisher: { displayName: null, verifiedPublisherId: null, addedDateTime: null },
  };
}

export function grantJson(g: OAuth2PermissionGrant): Record<string, unknown> {
  return {
    clientId: g.clientId,
    consentType: g.consentType,
    id: g.id,
    principalId: g.principalId,
    resourceId: g.resourceId,
    scope: g.scope,
  };
}

export function appRoleAssignmentJson(
  a: AppRoleAssignment,
  names: { principal: string; resource: string },
  createdAt = Date.now(),
): Record<string, unknown> {
  return {
    id: a.id,
    deletedDateTime: null,
    appRoleId: a.appRoleId,
    createdDateTime: iso(createdAt),
    principalDisplayName: names.principal,
    principalId: a.principalId,
    principalType: a.principalType,
    resourceDisplayName: names.resource,
    resourceId: a.resourceId,
  };
}

export function federatedCredentialJson(f: FederatedIdentityCredential): Record<string, unknown> {
  return { id: f.id, name: f.name, issuer: f.issuer, subject: f.subject, description: f.description, audiences: f.audiences };
}

/** A directory object with its `@odata.type`, as memberOf, members and getByIds list them. */
export function typed(type: 'user' | 'group' | 'servicePrincipal' | 'application', body: Record<string, unknown>): Record<string, unknown> {
  return { '@odata.type': `#microsoft.graph.${type}`, ...body };
}
