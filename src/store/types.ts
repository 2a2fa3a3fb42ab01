// Entities the store keeps. Plain data: no behaviour, no SQL. Times are epoch milliseconds.

export interface Tenant {
  id: string;
  displayName: string;
  /** The initial domain, e.g. `contoso.onmicrosoft.com`. */
  defaultDomain: string;
  /** Every verified domain, the default one included, lower case. */
  domains: string[];
  createdAt: number;
}

export type UserType = 'Member' | 'Guest';

export interface User {
  tenantId: string;
  id: string;
  userPrincipalName: string;
  displayName: string;
  mailNickname: string;
  mail: string | null;
  /** scrypt hash in `scrypt$N$r$p$salt$hash` form; null for guests (they sign in at home). */
  passwordHash: string | null;
  accountEnabled: boolean;
  userType: UserType;
  /** For guests: the tenant and object id of the account they sign in with. */
  homeTenantId: string | null;
  homeObjectId: string | null;
  createdAt: number;
}

export type MemberType = 'user' | 'group' | 'servicePrincipal';

export interface Group {
  tenantId: string;
  id: string;
  displayName: string;
  mailNickname: string;
  description: string | null;
  securityEnabled: boolean;
  mailEnabled: boolean;
  createdAt: number;
}

export interface GroupMember {
  tenantId: string;
  groupId: string;
  memberId: string;
  memberType: MemberType;
}

export interface PermissionScope {
  id: string;
  value: string;
  type: 'User' | 'Admin';
  adminConsentDisplayName: string;
  adminConsentDescription: string;
  userConsentDisplayName?: string | null;
  userConsentDescription?: string | null;
  isEnabled: boolean;
}

export interface AppRole {
  id: string;
  value: string;
  displayName: string;
  description: string;
  allowedMemberTypes: ('User' | 'Application')[];
  isEnabled: boolean;
}

export interface RequiredResourceAccess {
  resourceAppId: string;
  resourceAccess: { id: string; type: 'Scope' | 'Role' }[];
}

export type GroupMembershipClaims = 'None' | 'SecurityGroup' | 'All' | 'DirectoryRole' | 'ApplicationGroup';

export interface Application {
  tenantId: string;
  /** Object id (Graph `id`). */
  id: string;
  /** Client id. */
  appId: string;
  displayName: string;
  identifierUris: string[];
  signInAudience: string;
  /** Redirect URIs of the public-client (native / mobile and desktop) platform. */
  publicClientRedirectUris: string[];
  webRedirectUris: string[];
  isFallbackPublicClient: boolean;
  groupMembershipClaims: GroupMembershipClaims | null;
  oauth2PermissionScopes: PermissionScope[];
  appRoles: AppRole[];
  requiredResourceAccess: RequiredResourceAccess[];
  /** `null` or 1: v1 access tokens; 2: v2. */
  accessTokenAcceptedVersion: 1 | 2 | null;
  /** First-party apps (AKS, Azure CLI, Graph, ARM) cannot be deleted or changed through Graph. */
  firstParty: boolean;
  /** Graph properties Kentra keeps but does not act on (optionalClaims, web.homePageUrl, notes, tags…). */
  extra: Record<string, unknown>;
  /**
   * Graph `uniqueName`: an alternate key the client gives when it creates the application through
   * `PATCH /applications(uniqueName='…')` (upsert); unique in the tenant whatever its case, never changed.
   */
  uniqueName: string | null;
  createdAt: number;
}

export interface PasswordCredential {
  tenantId: string;
  appObjectId: string;
  keyId: string;
  displayName: string | null;
  hint: string;
  /** scrypt hash of the secret text; the text itself is shown once and never stored. */
  secretHash: string;
  startDateTime: number;
  endDateTime: number;
}

export interface KeyCredential {
  tenantId: string;
  appObjectId: string;
  keyId: string;
  displayName: string | null;
  /** DER of the certificate, base64. */
  certificateDer: string;
  /** base64url SHA-1 of the DER (`x5t`). */
  thumbprintSha1: string;
  /** base64url SHA-256 of the DER (`x5t#S256`). */
  thumbprintSha256: string;
  startDateTime: number;
  endDateTime: number;
}

export interface FederatedIdentityCredential {
  tenantId: string;
  appObjectId: string;
  id: string;
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
  description: string | null;
}

export interface ServicePrincipal {
  tenantId: string;
  id: string;
  appId: string;
  displayName: string;
  accountEnabled: boolean;
  servicePrincipalNames: string[];
  appRoleAssignmentRequired: boolean;
  createdAt: number;
}

export interface OAuth2PermissionGrant {
  tenantId: string;
  id: string;
  /** Object id of the client's service principal. */
  clientId: string;
  /** Object id of the resource's service principal. */
  resourceId: string;
  consentType: 'AllPrincipals' | 'Principal';
  principalId: string | null;
  /** Space-separated scope values. */
  scope: string;
}

export interface AppRoleAssignment {
  tenantId: string;
  id: string;
  principalId: string;
  principalType: 'User' | 'Group' | 'ServicePrincipal';
  /** Object id of the resource's service principal. */
  resourceId: string;
  appRoleId: string;
}

export interface DirectoryRoleAssignment {
  tenantId: string;
  principalId: string;
  /** Role template id, e.g. Global Administrator `62e90394-69f5-4237-9190-012177145e10`. */
  roleTemplateId: string;
}

/** An owner of an application, service principal or group. */
export interface Owner {
  tenantId: string;
  objectId: string;
  objectType: 'application' | 'servicePrincipal' | 'group';
  ownerId: string;
}

export interface Subscription {
  id: string;
  tenantId: string;
  displayName: string;
  state: 'Enabled' | 'Disabled' | 'Warned';
  createdAt: number;
}

/** An Azure RBAC role assignment (control plane). */
export interface RoleAssignment {
  id: string;
  tenantId: string;
  scope: string;
  roleDefinitionId: string;
  principalId: string;
  principalType: 'User' | 'Group' | 'ServicePrincipal';
  createdAt: number;
}

export interface SigningKey {
  kid: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** Self-signed certificate DER, base64 (the JWKS `x5c`). */
  certificateDer: string;
  /** Published in the JWKS from this time. */
  publishAt: number;
  /** Signs new tokens from this time (after publishAt, so relying parties have it first). */
  activateAt: number;
  /** Stops signing at this time; the next key has taken over. */
  retireAt: number;
  /** Removed from the JWKS at this time (retireAt + the longest token lifetime). */
  expireAt: number;
}

export type DeviceCodeStatus = 'pending' | 'approved' | 'declined' | 'redeemed';

export interface DeviceCode {
  /** SHA-256 of the device code, hex. The code itself is never stored. */
  deviceCodeHash: string;
  userCode: string;
  /** The tenant named in the request path (`organizations`, a GUID, a domain, or `adfs`). */
  requestTenant: string;
  clientId: string;
  scope: string;
  status: DeviceCodeStatus;
  /** Set when approved. */
  tenantId: string | null;
  userId: string | null;
  createdAt: number;
  expiresAt: number;
  interval: number;
  lastPolledAt: number | null;
}

export interface AuthorizationCode {
  codeHash: string;
  tenantId: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  scope: string;
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  nonce: string | null;
  createdAt: number;
  expiresAt: number;
  redeemedAt: number | null;
}

export interface RefreshToken {
  /** SHA-256 of the token, hex. */
  tokenHash: string;
  /** All tokens descended from one sign-in share a family; reuse of a rotated token revokes it. */
  familyId: string;
  tenantId: string;
  clientId: string;
  userId: string;
  scope: string;
  createdAt: number;
  expiresAt: number;
  /** When the token was exchanged for its successor. */
  rotatedAt: number | null;
  revokedAt: number | null;
}

export interface CounterHit {
  count: number;
  windowStart: number;
}

/** An ARM resource (resource group, managed cluster, …). `id` keeps the casing it was created with. */
export interface ArmResource {
  id: string;
  subscriptionId: string;
  resourceGroup: string | null;
  /** e.g. `Microsoft.Resources/resourceGroups`, `Microsoft.ContainerService/managedClusters`. */
  type: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  etag: string;
  /** What ARM returns besides id, name, type, location, tags (properties, identity, sku…). */
  body: Record<string, unknown>;
  /** Never returned: keys, tokens, hashes of secrets. */
  secrets: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export type ArmOperationStatus = 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';

/** A long-running ARM operation; it completes when read after `completeAt`. */
export interface ArmOperation {
  id: string;
  subscriptionId: string;
  location: string;
  resourceId: string;
  kind: 'create' | 'update' | 'delete';
  status: ArmOperationStatus;
  startTime: number;
  endTime: number | null;
  completeAt: number;
  error: { code: string; message: string } | null;
}

export interface FeatureRegistration {
  subscriptionId: string;
  namespace: string;
  name: string;
  state: 'Registered' | 'NotRegistered' | 'Registering' | 'Unregistering';
}

/** One Kubernetes object of an emulated cluster, as its API serves it. */
export interface KubeObject {
  /** The cluster's id in its API URL (`/clusters/<uid>`). */
  clusterUid: string;
  /** `<group>/<plural>`, with an empty group for the core API: `/pods`, `rbac.authorization.k8s.io/clusterrolebindings`. */
  resource: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  name: string;
  /** The cluster-wide counter value at the object's last write (Kubernetes' resourceVersion). */
  resourceVersion: number;
  /** The whole object as JSON (apiVersion, kind, metadata, spec…); the store does not interpret it. */
  body: Record<string, unknown>;
}

/** Who signed in: a user interactively (sign-in page, password grant), a user's client without them, or an application. */
export type SignInEventType = 'interactiveUser' | 'nonInteractiveUser' | 'servicePrincipal';

/**
 * One sign-in, as Entra's sign-in log keeps it (Graph `signIn`). Never holds a token, code, password,
 * secret or assertion: only who, which app, for which resource, from where, and the AADSTS outcome.
 */
export interface SignInEvent {
  id: string;
  tenantId: string;
  createdAt: number;
  eventType: SignInEventType;
  userId: string | null;
  userPrincipalName: string | null;
  userDisplayName: string | null;
  appId: string | null;
  appDisplayName: string | null;
  /** The service principal that signed in (servicePrincipal sign-ins). */
  servicePrincipalId: string | null;
  ipAddress: string;
  clientAppUsed: string | null;
  resourceId: string | null;
  resourceDisplayName: string | null;
  /** 0 for success, else the AADSTS number. */
  errorCode: number;
  failureReason: string | null;
  additionalDetails: string | null;
  correlationId: string | null;
}

/** What a sign-in log query selects; every field narrows (and). Times are inclusive bounds in ms. */
export interface SignInQuery {
  eventTypes?: SignInEventType[];
  from?: number;
  to?: number;
  userId?: string;
  /** Case-insensitive. */
  userPrincipalName?: string;
  appId?: string;
  errorCode?: number;
}

/** A browser's sign-in session (SSO) on the authorization endpoint; the cookie value is known only as its hash. */
export interface SignInSession {
  idHash: string;
  /** The tenant the session was made for; it serves no other. */
  tenantId: string;
  /** The account in that tenant. */
  userId: string;
  /** When the password was checked. */
  authTime: number;
  expiresAt: number;
}

/** Which of the cluster's access steps made a decision. */
export type AccessDecisionKind = 'authentication' | 'authorization';
/** Who asked: a kube-apiserver through the webhooks, or the sandbox cluster's built-in API. */
export type AccessDecisionSource = 'webhook' | 'builtInApi';
export type AccessDecisionOutcome = 'allowed' | 'denied' | 'noOpinion';

/**
 * One decision of a cluster's access (the cluster access log, read through ARM `…/accessLogs`).
 * Never holds a token, code, password or secret: who, what, the outcome and its reason.
 */
export interface AccessLogEntry extends AccessLogRecord {
  /** Given by the store when the entry is written: its place in the log, for paging. */
  id: string;
}

/** An access log entry as it is written (the store gives it its id). */
export interface AccessLogRecord {
  /** The id in the cluster's API URL. */
  clusterUid: string;
  time: number;
  kind: AccessDecisionKind;
  source: AccessDecisionSource;
  /** '' when authentication failed. */
  user: string;
  userObjectId: string | null;
  groups: string[];
  groupsSource: string | null;
  verb: string | null;
  resource: string | null;
  subresource: string | null;
  apiGroup: string | null;
  namespace: string | null;
  name: string | null;
  /** The non-resource path. */
  path: string | null;
  decision: AccessDecisionOutcome;
  reason: string;
}

/** What an access log query selects; every field narrows (and). Times are inclusive bounds in ms. */
export interface AccessLogQuery {
  from?: number;
  to?: number;
  /** The exact user name. */
  user?: string;
  /** true: only `decision = allowed`; false: only the others. */
  allowed?: boolean;
  /** Page size (1–1000, default 1000). */
  top?: number;
  /** The `next` of the previous page. */
  skipToken?: string;
}
