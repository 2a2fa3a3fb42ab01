import { codec } from './codecs.js';
import type {
  ArmOperation,
  ArmResource,
  FeatureRegistration,
  Application,
  AppRoleAssignment,
  AuthorizationCode,
  DeviceCode,
  DirectoryRoleAssignment,
  FederatedIdentityCredential,
  Group,
  GroupMember,
  KeyCredential,
  KubeObject,
  OAuth2PermissionGrant,
  Owner,
  PasswordCredential,
  RefreshToken,
  RoleAssignment,
  ServicePrincipal,
  SigningKey,
  Subscription,
  SignInEvent,
  SignInSession,
  Tenant,
  User,
} from './types.js';

export const tenants = codec<Tenant>()('tenants', {
  id: ['id', 'text'],
  displayName: ['display_name', 'text'],
  defaultDomain: ['default_domain', 'text'],
  domains: ['domains', 'json'],
  createdAt: ['created_at', 'int'],
});

export const users = codec<User>()(
  'users',
  {
    tenantId: ['tenant_id', 'text'],
    id: ['id', 'text'],
    userPrincipalName: ['upn', 'text'],
    displayName: ['display_name', 'text'],
    mailNickname: ['mail_nickname', 'text'],
    mail: ['mail', 'text'],
    passwordHash: ['password_hash', 'text'],
    accountEnabled: ['account_enabled', 'bool'],
    userType: ['user_type', 'text'],
    homeTenantId: ['home_tenant_id', 'text'],
    homeObjectId: ['home_object_id', 'text'],
    createdAt: ['created_at', 'int'],
  },
  (u) => ({ upn_lower: u.userPrincipalName.toLowerCase() }),
);

export const groups = codec<Group>()('groups', {
  tenantId: ['tenant_id', 'text'],
  id: ['id', 'text'],
  displayName: ['display_name', 'text'],
  mailNickname: ['mail_nickname', 'text'],
  description: ['description', 'text'],
  securityEnabled: ['security_enabled', 'bool'],
  mailEnabled: ['mail_enabled', 'bool'],
  createdAt: ['created_at', 'int'],
});

export const groupMembers = codec<GroupMember>()('group_members', {
  tenantId: ['tenant_id', 'text'],
  groupId: ['group_id', 'text'],
  memberId: ['member_id', 'text'],
  memberType: ['member_type', 'text'],
});

export const applications = codec<Application>()(
  'applications',
  {
    tenantId: ['tenant_id', 'text'],
    id: ['id', 'text'],
    appId: ['app_id', 'text'],
    displayName: ['display_name', 'text'],
    identifierUris: ['identifier_uris', 'json'],
    signInAudience: ['sign_in_audience', 'text'],
    publicClientRedirectUris: ['public_client_redirect_uris', 'json'],
    webRedirectUris: ['web_redirect_uris', 'json'],
    isFallbackPublicClient: ['is_fallback_public_client', 'bool'],
    groupMembershipClaims: ['group_membership_claims', 'text'],
    oauth2PermissionScopes: ['oauth2_permission_scopes', 'json'],
    appRoles: ['app_roles', 'json'],
    requiredResourceAccess: ['required_resource_access', 'json'],
    accessTokenAcceptedVersion: ['access_token_accepted_version', 'int'],
    firstParty: ['first_party', 'bool'],
    extra: ['extra', 'json'],
    uniqueName: ['unique_name', 'text'],
    createdAt: ['created_at', 'int'],
  },
  (a) => ({ unique_name_lower: a.uniqueName?.toLowerCase() ?? null }),
);

export const passwordCredentials = codec<PasswordCredential>()('password_credentials', {
  tenantId: ['tenant_id', 'text'],
  appObjectId: ['app_object_id', 'text'],
  keyId: ['key_id', 'text'],
  displayName: ['display_name', 'text'],
  hint: ['hint', 'text'],
  secretHash: ['secret_hash', 'text'],
  startDateTime: ['start_date_time', 'int'],
  endDateTime: ['end_date_time', 'int'],
});

export const keyCredentials = codec<KeyCredential>()('key_credentials', {
  tenantId: ['tenant_id', 'text'],
  appObjectId: ['app_object_id', 'text'],
  keyId: ['key_id', 'text'],
  displayName: ['display_name', 'text'],
  certificateDer: ['certificate_der', 'text'],
  thumbprintSha1: ['thumbprint_sha1', 'text'],
  thumbprintSha256: ['thumbprint_sha256', 'text'],
  startDateTime: ['start_date_time', 'int'],
  endDateTime: ['end_date_time', 'int'],
});

export const federatedCredentials = codec<FederatedIdentityCredential>()('federated_credentials', {
  tenantId: ['tenant_id', 'text'],
  appObjectId: ['app_object_id', 'text'],
  id: ['id', 'text'],
  name: ['name', 'text'],
  issuer: ['issuer', 'text'],
  subject: ['subject', 'text'],
  audiences: ['audiences', 'json'],
  description: ['description', 'text'],
});

export const servicePrincipals = codec<ServicePrincipal>()('service_principals', {
  tenantId: ['tenant_id', 'text'],
  id: ['id', 'text'],
  appId: ['app_id', 'text'],
  displayName: ['display_name', 'text'],
  accountEnabled: ['account_enabled', 'bool'],
  servicePrincipalNames: ['service_principal_names', 'json'],
  appRoleAssignmentRequired: ['app_role_assignment_required', 'bool'],
  createdAt: ['created_at', 'int'],
});

export const oauth2PermissionGrants = codec<OAuth2PermissionGrant>()('oauth2_permission_grants', {
  tenantId: ['tenant_id', 'text'],
  id: ['id', 'text'],
  clientId: ['client_id', 'text'],
  resourceId: ['resource_id', 'text'],
  consentType: ['consent_type', 'text'],
  principalId: ['principal_id', 'text'],
  scope: ['scope', 'text'],
});

export const appRoleAssignments = codec<AppRoleAssignment>()('app_role_assignments', {
  tenantId: ['tenant_id', 'text'],
  id: ['id', 'text'],
  principalId: ['principal_id', 'text'],
  principalType: ['principal_type', 'text'],
  resourceId: ['resource_id', 'text'],
  appRoleId: ['app_role_id', 'text'],
});

export const directoryRoleAssignments = codec<DirectoryRoleAssignment>()('directory_role_assignments', {
  tenantId: ['tenant_id', 'text'],
  principalId: ['principal_id', 'text'],
  roleTemplateId: ['role_template_id', 'text'],
});

export const owners = codec<Owner>()('owners', {
  tenantId: ['tenant_id', 'text'],
  objectId: ['object_id', 'text'],
  objectType: ['object_type', 'text'],
  ownerId: ['owner_id', 'text'],
});

export const subscriptions = codec<Subscription>()('subscriptions', {
  id: ['id', 'text'],
  tenantId: ['tenant_id', 'text'],
  displayName: ['display_name', 'text'],
  state: ['state', 'text'],
  createdAt: ['created_at', 'int'],
});

export const roleAssignments = codec<RoleAssignment>()(
  'role_assignments',
  {
    id: ['id', 'text'],
    tenantId: ['tenant_id', 'text'],
    scope: ['scope', 'text'],
    roleDefinitionId: ['role_definition_id', 'text'],
    principalId: ['principal_id', 'text'],
    principalType: ['principal_type', 'text'],
    createdAt: ['created_at', 'int'],
  },
  (a) => ({ scope_lower: a.scope.toLowerCase() }),
);

export const signingKeys = codec<SigningKey>()('signing_keys', {
  kid: ['kid', 'text'],
  privateKeyPem: ['private_key_pem', 'sealed-text'],
  certificateDer: ['certificate_der', 'text'],
  publishAt: ['publish_at', 'int'],
  activateAt: ['activate_at', 'int'],
  retireAt: ['retire_at', 'int'],
  expireAt: ['expire_at', 'int'],
});

export const deviceCodes = codec<DeviceCode>()('device_codes', {
  deviceCodeHash: ['device_code_hash', 'text'],
  userCode: ['user_code', 'text'],
  requestTenant: ['request_tenant', 'text'],
  clientId: ['client_id', 'text'],
  scope: ['scope', 'text'],
  status: ['status', 'text'],
  tenantId: ['tenant_id', 'text'],
  userId: ['user_id', 'text'],
  createdAt: ['created_at', 'int'],
  expiresAt: ['expires_at', 'int'],
  interval: ['poll_interval', 'int'],
  lastPolledAt: ['last_polled_at', 'int'],
});

export const authorizationCodes = codec<AuthorizationCode>()('authorization_codes', {
  codeHash: ['code_hash', 'text'],
  tenantId: ['tenant_id', 'text'],
  clientId: ['client_id', 'text'],
  userId: ['user_id', 'text'],
  redirectUri: ['redirect_uri', 'text'],
  scope: ['scope', 'text'],
  codeChallenge: ['code_challenge', 'text'],
  codeChallengeMethod: ['code_challenge_method', 'text'],
  nonce: ['nonce', 'text'],
  createdAt: ['created_at', 'int'],
  expiresAt: ['expires_at', 'int'],
  redeemedAt: ['redeemed_at', 'int'],
});

export const refreshTokens = codec<RefreshToken>()('refresh_tokens', {
  tokenHash: ['token_hash', 'text'],
  familyId: ['family_id', 'text'],
  tenantId: ['tenant_id', 'text'],
  clientId: ['client_id', 'text'],
  userId: ['user_id', 'text'],
  scope: ['scope', 'text'],
  createdAt: ['created_at', 'int'],
  expiresAt: ['expires_at', 'int'],
  rotatedAt: ['rotated_at', 'int'],
  revokedAt: ['revoked_at', 'int'],
});

export const armResources = codec<ArmResource>()(
  'arm_resources',
  {
    id: ['id', 'text'],
    subscriptionId: ['subscription_id', 'text'],
    resourceGroup: ['resource_group', 'text'],
    type: ['type', 'text'],
    name: ['name', 'text'],
    location: ['location', 'text'],
    tags: ['tags', 'json'],
    etag: ['etag', 'text'],
    body: ['body', 'json'],
    secrets: ['secrets', 'sealed-json'],
    createdAt: ['created_at', 'int'],
    updatedAt: ['updated_at', 'int'],
  },
  (r) => ({
    id_lower: r.id.toLowerCase(),
    type_lower: r.type.toLowerCase(),
    resource_group_lower: r.resourceGroup?.toLowerCase() ?? null,
    // The uid in a cluster's API URL, kept in the clear beside the sealed secrets for the indexed look-up (it is no secret: it is in every kubeconfig).
    cluster_uid: typeof r.secrets.uid === 'string' ? r.secrets.uid : null,
  }),
);

export const armOperations = codec<ArmOperation>()('arm_operations', {
  id: ['id', 'text'],
  subscriptionId: ['subscription_id', 'text'],
  location: ['location', 'text'],
  resourceId: ['resource_id', 'text'],
  kind: ['kind', 'text'],
  status: ['status', 'text'],
  startTime: ['start_time', 'int'],
  endTime: ['end_time', 'int'],
  completeAt: ['complete_at', 'int'],
  error: ['error', 'json'],
});

export const featureRegistrations = codec<FeatureRegistration>()(
  'feature_registrations',
  {
    subscriptionId: ['subscription_id', 'text'],
    namespace: ['namespace', 'text'],
    name: ['name', 'text'],
    state: ['state', 'text'],
  },
  (f) => ({ namespace_lower: f.namespace.toLowerCase(), name_lower: f.name.toLowerCase() }),
);

export const kubeObjects = codec<KubeObject>()('kube_objects', {
  clusterUid: ['cluster_uid', 'text'],
  resource: ['resource', 'text'],
  namespace: ['namespace', 'text'],
  name: ['name', 'text'],
  resourceVersion: ['resource_version', 'int'],
  body: ['body', 'json'],
});

export const signIns = codec<SignInEvent>()(
  'sign_ins',
  {
    id: ['id', 'text'],
    tenantId: ['tenant_id', 'text'],
    createdAt: ['created_at', 'int'],
    eventType: ['event_type', 'text'],
    userId: ['user_id', 'text'],
    userPrincipalName: ['user_principal_name', 'text'],
    userDisplayName: ['user_display_name', 'text'],
    appId: ['app_id', 'text'],
    appDisplayName: ['app_display_name', 'text'],
    servicePrincipalId: ['service_principal_id', 'text'],
    ipAddress: ['ip_address', 'text'],
    clientAppUsed: ['client_app_used', 'text'],
    resourceId: ['resource_id', 'text'],
    resourceDisplayName: ['resource_display_name', 'text'],
    errorCode: ['error_code', 'int'],
    failureReason: ['failure_reason', 'text'],
    additionalDetails: ['additional_details', 'text'],
    correlationId: ['correlation_id', 'text'],
  },
  (e) => ({ user_principal_name_lower: e.userPrincipalName?.toLowerCase() ?? null }),
);

export const signInSessions = codec<SignInSession>()('sign_in_sessions', {
  idHash: ['id_hash', 'text'],
  tenantId: ['tenant_id', 'text'],
  userId: ['user_id', 'text'],
  authTime: ['auth_time', 'int'],
  expiresAt: ['expires_at', 'int'],
});
