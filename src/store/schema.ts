import type { Generated } from 'kysely';

// Every table and column the migrations (migrations.ts, the truth) make, so that kysely checks the
// store's table and column names and value types. text → string; bigint and integer → number (bigint
// columns hold epoch milliseconds, read as numbers on both backends, see open.ts); booleans are 0/1
// integers and lists are JSON text (codecs.ts). A new migration changes this file with it.

export interface Database {
  meta: MetaTable;
  tenants: TenantsTable;
  tenant_domains: TenantDomainsTable;
  users: UsersTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  applications: ApplicationsTable;
  application_identifier_uris: ApplicationIdentifierUrisTable;
  password_credentials: PasswordCredentialsTable;
  key_credentials: KeyCredentialsTable;
  federated_credentials: FederatedCredentialsTable;
  service_principals: ServicePrincipalsTable;
  oauth2_permission_grants: Oauth2PermissionGrantsTable;
  app_role_assignments: AppRoleAssignmentsTable;
  directory_role_assignments: DirectoryRoleAssignmentsTable;
  subscriptions: SubscriptionsTable;
  role_assignments: RoleAssignmentsTable;
  signing_keys: SigningKeysTable;
  device_codes: DeviceCodesTable;
  authorization_codes: AuthorizationCodesTable;
  refresh_tokens: RefreshTokensTable;
  counters: CountersTable;
  owners: OwnersTable;
  arm_resources: ArmResourcesTable;
  arm_operations: ArmOperationsTable;
  feature_registrations: FeatureRegistrationsTable;
  kube_objects: KubeObjectsTable;
  kube_clusters: KubeClustersTable;
  sign_ins: SignInsTable;
  sign_in_sessions: SignInSessionsTable;
  access_log_segments: AccessLogSegmentsTable;
  directory_revision: DirectoryRevisionTable;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface TenantsTable {
  id: string;
  display_name: string;
  default_domain: string;
  domains: string;
  created_at: number;
}

export interface TenantDomainsTable {
  domain: string;
  tenant_id: string;
}

export interface UsersTable {
  tenant_id: string;
  id: string;
  upn: string;
  upn_lower: string;
  display_name: string;
  mail_nickname: string;
  mail: string | null;
  password_hash: string | null;
  account_enabled: number;
  user_type: string;
  home_tenant_id: string | null;
  home_object_id: string | null;
  created_at: number;
}

export interface GroupsTable {
  tenant_id: string;
  id: string;
  display_name: string;
  mail_nickname: string;
  description: string | null;
  security_enabled: number;
  mail_enabled: number;
  created_at: number;
}

export interface GroupMembersTable {
  tenant_id: string;
  group_id: string;
  member_id: string;
  member_type: string;
}

export interface ApplicationsTable {
  tenant_id: string;
  id: string;
  app_id: string;
  display_name: string;
  identifier_uris: string;
  sign_in_audience: string;
  public_client_redirect_uris: string;
  web_redirect_uris: string;
  is_fallback_public_client: number;
  group_membership_claims: string | null;
  oauth2_permission_scopes: string;
  app_roles: string;
  required_resource_access: string;
  access_token_accepted_version: number | null;
  first_party: number;
  created_at: number;
  extra: string;
  /** Migration 0014. */
  unique_name: string | null;
  unique_name_lower: string | null;
}

export interface ApplicationIdentifierUrisTable {
  tenant_id: string;
  uri_lower: string;
  app_object_id: string;
}

export interface PasswordCredentialsTable {
  tenant_id: string;
  app_object_id: string;
  key_id: string;
  display_name: string | null;
  hint: string;
  secret_hash: string;
  start_date_time: number;
  end_date_time: number;
}

export interface KeyCredentialsTable {
  tenant_id: string;
  app_object_id: string;
  key_id: string;
  display_name: string | null;
  certificate_der: string;
  thumbprint_sha1: string;
  thumbprint_sha256: string;
  start_date_time: number;
  end_date_time: number;
}

export interface FederatedCredentialsTable {
  tenant_id: string;
  app_object_id: string;
  id: string;
  name: string;
  issuer: string;
  subject: string;
  audiences: string;
  description: string | null;
}

export interface ServicePrincipalsTable {
  tenant_id: string;
  id: string;
  app_id: string;
  display_name: string;
  account_enabled: number;
  service_principal_names: string;
  app_role_assignment_required: number;
  created_at: number;
}

export interface Oauth2PermissionGrantsTable {
  tenant_id: string;
  id: string;
  client_id: string;
  resource_id: string;
  consent_type: string;
  principal_id: string | null;
  scope: string;
}

export interface AppRoleAssignmentsTable {
  tenant_id: string;
  id: string;
  principal_id: string;
  principal_type: string;
  resource_id: string;
  app_role_id: string;
}

export interface DirectoryRoleAssignmentsTable {
  tenant_id: string;
  principal_id: string;
  role_template_id: string;
}

export interface SubscriptionsTable {
  id: string;
  tenant_id: string;
  display_name: string;
  state: string;
  created_at: number;
}

export interface RoleAssignmentsTable {
  id: string;
  tenant_id: string;
  scope: string;
  scope_lower: string;
  role_definition_id: string;
  principal_id: string;
  principal_type: string;
  created_at: number;
}

export interface SigningKeysTable {
  kid: string;
  private_key_pem: string;
  certificate_der: string;
  publish_at: number;
  activate_at: number;
  retire_at: number;
  expire_at: number;
}

export interface DeviceCodesTable {
  device_code_hash: string;
  user_code: string;
  request_tenant: string;
  client_id: string;
  scope: string;
  status: string;
  tenant_id: string | null;
  user_id: string | null;
  created_at: number;
  expires_at: number;
  poll_interval: number;
  last_polled_at: number | null;
}

export interface AuthorizationCodesTable {
  code_hash: string;
  tenant_id: string;
  client_id: string;
  user_id: string;
  redirect_uri: string;
  scope: string;
  code_challenge: string | null;
  code_challenge_method: string | null;
  nonce: string | null;
  created_at: number;
  expires_at: number;
  redeemed_at: number | null;
}

export interface RefreshTokensTable {
  token_hash: string;
  family_id: string;
  tenant_id: string;
  client_id: string;
  user_id: string;
  scope: string;
  created_at: number;
  expires_at: number;
  rotated_at: number | null;
  revoked_at: number | null;
}

export interface CountersTable {
  key: string;
  window_start: number;
  window_ms: number;
  count: number;
}

export interface OwnersTable {
  tenant_id: string;
  object_id: string;
  object_type: string;
  owner_id: string;
}

export interface ArmResourcesTable {
  id_lower: string;
  id: string;
  subscription_id: string;
  resource_group: string | null;
  resource_group_lower: string | null;
  type: string;
  type_lower: string;
  name: string;
  location: string;
  tags: string;
  etag: string;
  body: string;
  secrets: string;
  created_at: number;
  updated_at: number;
  cluster_uid: string | null;
  /** Defaults to 0; every write adds one. */
  revision: Generated<number>;
}

export interface ArmOperationsTable {
  id: string;
  subscription_id: string;
  location: string;
  resource_id: string;
  kind: string;
  status: string;
  start_time: number;
  end_time: number | null;
  complete_at: number;
  error: string | null;
}

export interface FeatureRegistrationsTable {
  subscription_id: string;
  namespace: string;
  namespace_lower: string;
  name: string;
  name_lower: string;
  state: string;
}

export interface KubeObjectsTable {
  cluster_uid: string;
  resource: string;
  namespace: string;
  name: string;
  resource_version: number;
  body: string;
}

export interface KubeClustersTable {
  cluster_uid: string;
  resource_version: number;
}

export interface SignInsTable {
  id: string;
  tenant_id: string;
  created_at: number;
  event_type: string;
  user_id: string | null;
  user_principal_name: string | null;
  user_principal_name_lower: string | null;
  user_display_name: string | null;
  app_id: string | null;
  app_display_name: string | null;
  service_principal_id: string | null;
  ip_address: string;
  client_app_used: string | null;
  resource_id: string | null;
  resource_display_name: string | null;
  error_code: number;
  failure_reason: string | null;
  additional_details: string | null;
  correlation_id: string | null;
}

export interface SignInSessionsTable {
  id_hash: string;
  tenant_id: string;
  user_id: string;
  auth_time: number;
  expires_at: number;
}

/** The cluster access log (migration 0011): entries packed by cluster and batch (access-log-segments.ts). */
export interface AccessLogSegmentsTable {
  /** Assigned by the database on insert. */
  seq: Generated<number | string>;
  cluster_uid: string;
  /** The oldest and newest entry's time. */
  min_time: number | string;
  max_time: number | string;
  count: number;
  /** The entries, a JSON array (access-log-segments.ts). */
  entries: string;
}

/** One row (id 1) counted up by triggers on every directory write (migration 0010). */
export interface DirectoryRevisionTable {
  id: number;
  revision: number | string;
}
