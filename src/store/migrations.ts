import { CompiledQuery, SqliteAdapter, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { SEGMENT_COLUMNS, segmentRows } from './access-log-segments.js';
import type { AccessLogRecord } from './types.js';

// Versioned migrations, written once for both dialects: text, bigint and integer columns only.
// Never edit a released migration; add the next one.

type Db = Kysely<any>;

async function initial(db: Db): Promise<void> {
  const s = db.schema;
  await s
    .createTable('meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await s
    .createTable('tenants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('default_domain', 'text', (c) => c.notNull())
    .addColumn('domains', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createTable('tenant_domains')
    .addColumn('domain', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .execute();

  await s
    .createTable('users')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('upn', 'text', (c) => c.notNull())
    .addColumn('upn_lower', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('mail_nickname', 'text', (c) => c.notNull())
    .addColumn('mail', 'text')
    .addColumn('password_hash', 'text')
    .addColumn('account_enabled', 'integer', (c) => c.notNull())
    .addColumn('user_type', 'text', (c) => c.notNull())
    .addColumn('home_tenant_id', 'text')
    .addColumn('home_object_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('users_pk', ['tenant_id', 'id'])
    .addUniqueConstraint('users_upn_unique', ['tenant_id', 'upn_lower'])
    .execute();
  await s.createIndex('users_home').on('users').columns(['home_tenant_id', 'home_object_id']).execute();

  await s
    .createTable('groups')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('mail_nickname', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('security_enabled', 'integer', (c) => c.notNull())
    .addColumn('mail_enabled', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('groups_pk', ['tenant_id', 'id'])
    .execute();

  await s
    .createTable('group_members')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('group_id', 'text', (c) => c.notNull())
    .addColumn('member_id', 'text', (c) => c.notNull())
    .addColumn('member_type', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('group_members_pk', ['tenant_id', 'group_id', 'member_id'])
    .execute();
  await s.createIndex('group_members_member').on('group_members').columns(['tenant_id', 'member_id']).execute();

  await s
    .createTable('applications')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('app_id', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('identifier_uris', 'text', (c) => c.notNull())
    .addColumn('sign_in_audience', 'text', (c) => c.notNull())
    .addColumn('public_client_redirect_uris', 'text', (c) => c.notNull())
    .addColumn('web_redirect_uris', 'text', (c) => c.notNull())
    .addColumn('is_fallback_public_client', 'integer', (c) => c.notNull())
    .addColumn('group_membership_claims', 'text')
    .addColumn('oauth2_permission_scopes', 'text', (c) => c.notNull())
    .addColumn('app_roles', 'text', (c) => c.notNull())
    .addColumn('required_resource_access', 'text', (c) => c.notNull())
    .addColumn('access_token_accepted_version', 'integer')
    .addColumn('first_party', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('applications_pk', ['tenant_id', 'id'])
    .addUniqueConstraint('applications_app_id_unique', ['tenant_id', 'app_id'])
    .execute();
  await s
    .createTable('application_identifier_uris')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('uri_lower', 'text', (c) => c.notNull())
    .addColumn('app_object_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('application_identifier_uris_pk', ['tenant_id', 'uri_lower'])
    .execute();

  const credentialKey = (t: string, extra: (b: any) => any) =>
    extra(
      s
        .createTable(t)
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('app_object_id', 'text', (c) => c.notNull()),
    );

  await credentialKey('password_credentials', (b) =>
    b
      .addColumn('key_id', 'text', (c: any) => c.notNull())
      .addColumn('display_name', 'text')
      .addColumn('hint', 'text', (c: any) => c.notNull())
      .addColumn('secret_hash', 'text', (c: any) => c.notNull())
      .addColumn('start_date_time', 'bigint', (c: any) => c.notNull())
      .addColumn('end_date_time', 'bigint', (c: any) => c.notNull())
      .addPrimaryKeyConstraint('password_credentials_pk', ['tenant_id', 'app_object_id', 'key_id']),
  ).execute();
  await credentialKey('key_credentials', (b) =>
    b
      .addColumn('key_id', 'text', (c: any) => c.notNull())
      .addColumn('display_name', 'text')
      .addColumn('certificate_der', 'text', (c: any) => c.notNull())
      .addColumn('thumbprint_sha1', 'text', (c: any) => c.notNull())
      .addColumn('thumbprint_sha256', 'text', (c: any) => c.notNull())
      .addColumn('start_date_time', 'bigint', (c: any) => c.notNull())
      .addColumn('end_date_time', 'bigint', (c: any) => c.notNull())
      .addPrimaryKeyConstraint('key_credentials_pk', ['tenant_id', 'app_object_id', 'key_id']),
  ).execute();
  await credentialKey('federated_credentials', (b) =>
    b
      .addColumn('id', 'text', (c: any) => c.notNull())
      .addColumn('name', 'text', (c: any) => c.notNull())
      .addColumn('issuer', 'text', (c: any) => c.notNull())
      .addColumn('subject', 'text', (c: any) => c.notNull())
      .addColumn('audiences', 'text', (c: any) => c.notNull())
      .addColumn('description', 'text')
      .addPrimaryKeyConstraint('federated_credentials_pk', ['tenant_id', 'app_object_id', 'id'])
      .addUniqueConstraint('federated_credentials_name_unique', ['tenant_id', 'app_object_id', 'name']),
  ).execute();

  await s
    .createTable('service_principals')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('app_id', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('account_enabled', 'integer', (c) => c.notNull())
    .addColumn('service_principal_names', 'text', (c) => c.notNull())
    .addColumn('app_role_assignment_required', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('service_principals_pk', ['tenant_id', 'id'])
    .addUniqueConstraint('service_principals_app_id_unique', ['tenant_id', 'app_id'])
    .execute();

  await s
    .createTable('oauth2_permission_grants')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('resource_id', 'text', (c) => c.notNull())
    .addColumn('consent_type', 'text', (c) => c.notNull())
    .addColumn('principal_id', 'text')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('oauth2_permission_grants_pk', ['tenant_id', 'id'])
    .execute();
  await s.createIndex('oauth2_permission_grants_client').on('oauth2_permission_grants').columns(['tenant_id', 'client_id']).execute();

  await s
    .createTable('app_role_assignments')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('principal_id', 'text', (c) => c.notNull())
    .addColumn('principal_type', 'text', (c) => c.notNull())
    .addColumn('resource_id', 'text', (c) => c.notNull())
    .addColumn('app_role_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('app_role_assignments_pk', ['tenant_id', 'id'])
    .addUniqueConstraint('app_role_assignments_unique', ['tenant_id', 'principal_id', 'resource_id', 'app_role_id'])
    .execute();

  await s
    .createTable('directory_role_assignments')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('principal_id', 'text', (c) => c.notNull())
    .addColumn('role_template_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('directory_role_assignments_pk', ['tenant_id', 'principal_id', 'role_template_id'])
    .execute();

  await s
    .createTable('subscriptions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await s
    .createTable('role_assignments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('scope_lower', 'text', (c) => c.notNull())
    .addColumn('role_definition_id', 'text', (c) => c.notNull())
    .addColumn('principal_id', 'text', (c) => c.notNull())
    .addColumn('principal_type', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await s.createIndex('role_assignments_principal').on('role_assignments').columns(['principal_id']).execute();
  await s.createIndex('role_assignments_scope').on('role_assignments').columns(['scope_lower']).execute();

  await s
    .createTable('signing_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('private_key_pem', 'text', (c) => c.notNull())
    .addColumn('certificate_der', 'text', (c) => c.notNull())
    .addColumn('publish_at', 'bigint', (c) => c.notNull())
    .addColumn('activate_at', 'bigint', (c) => c.notNull())
    .addColumn('retire_at', 'bigint', (c) => c.notNull())
    .addColumn('expire_at', 'bigint', (c) => c.notNull())
    .execute();

  await s
    .createTable('device_codes')
    .addColumn('device_code_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_code', 'text', (c) => c.notNull())
    .addColumn('request_tenant', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text')
    .addColumn('user_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('poll_interval', 'integer', (c) => c.notNull())
    .addColumn('last_polled_at', 'bigint')
    .execute();
  await s.createIndex('device_codes_user_code').on('device_codes').columns(['user_code']).execute();

  await s
    .createTable('authorization_codes')
    .addColumn('code_hash', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('code_challenge', 'text')
    .addColumn('code_challenge_method', 'text')
    .addColumn('nonce', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('redeemed_at', 'bigint')
    .execute();

  await s
    .createTable('refresh_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('family_id', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('rotated_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute();
  await s.createIndex('refresh_tokens_family').on('refresh_tokens').columns(['family_id']).execute();
  await s.createIndex('refresh_tokens_user').on('refresh_tokens').columns(['tenant_id', 'user_id']).execute();

  await s
    .createTable('counters')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('window_ms', 'bigint', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .execute();
}

/** Owners of directory objects, and the Graph properties of applications kept as JSON. */
async function ownersAndExtras(db: Db): Promise<void> {
  await db.schema
    .alterTable('applications')
    .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema
    .createTable('owners')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('object_id', 'text', (c) => c.notNull())
    .addColumn('object_type', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('owners_pk', ['tenant_id', 'object_id', 'owner_id'])
    .execute();
  await db.schema.createIndex('owners_owner').on('owners').columns(['tenant_id', 'owner_id']).execute();
}

/**
 * Transitive membership walks member → group. Without statistics SQLite preferred the primary key
 * (tenant_id, group_id, member_id) over (tenant_id, member_id) and scanned the tenant's memberships
 * on every step; a covering index makes each step one probe (250 ms → 1 ms for 500 of 10,000).
 */
async function coveringMemberIndex(db: Db): Promise<void> {
  await db.schema.dropIndex('group_members_member').execute();
  await db.schema.createIndex('group_members_member_group').on('group_members').columns(['tenant_id', 'member_id', 'group_id']).execute();
}

/** The control plane: ARM resources, long-running operations, preview-feature registrations. */
async function controlPlane(db: Db): Promise<void> {
  await db.schema
    .createTable('arm_resources')
    .addColumn('id_lower', 'text', (c) => c.primaryKey())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('subscription_id', 'text', (c) => c.notNull())
    .addColumn('resource_group', 'text')
    .addColumn('resource_group_lower', 'text')
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('type_lower', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('location', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('etag', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('secrets', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('arm_resources_scope')
    .on('arm_resources')
    .columns(['subscription_id', 'type_lower', 'resource_group_lower'])
    .execute();
  await db.schema
    .createTable('arm_operations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('subscription_id', 'text', (c) => c.notNull())
    .addColumn('location', 'text', (c) => c.notNull())
    .addColumn('resource_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('start_time', 'bigint', (c) => c.notNull())
    .addColumn('end_time', 'bigint')
    .addColumn('complete_at', 'bigint', (c) => c.notNull())
    .addColumn('error', 'text')
    .execute();
  await db.schema
    .createTable('feature_registrations')
    .addColumn('subscription_id', 'text', (c) => c.notNull())
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('namespace_lower', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('name_lower', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('feature_registrations_pk', ['subscription_id', 'namespace_lower', 'name_lower'])
    .execute();
}

/** The emulated clusters' Kubernetes objects, and each cluster's resourceVersion counter. */
async function kubeObjects(db: Db): Promise<void> {
  // The key's order serves list (cluster, resource[, namespace]) by namespace and name, and the delete of a cluster.
  await db.schema
    .createTable('kube_objects')
    .addColumn('cluster_uid', 'text', (c) => c.notNull())
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('resource_version', 'bigint', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('kube_objects_pk', ['cluster_uid', 'resource', 'namespace', 'name'])
    .execute();
  await db.schema
    .createTable('kube_clusters')
    .addColumn('cluster_uid', 'text', (c) => c.primaryKey())
    .addColumn('resource_version', 'bigint', (c) => c.notNull())
    .execute();
}

/**
 * Issue 14: a managed cluster is found by the uid in its API URL through an index (not by scanning
 * every subscription), and each write of a resource bumps its revision, which the cluster-access
 * service compares on every request (one indexed read) to see a change made by any instance.
 * `cluster_uid` of existing rows is filled in when the store opens (it lives in the sealed secrets).
 */
async function clusterRecord(db: Db): Promise<void> {
  await db.schema.alterTable('arm_resources').addColumn('cluster_uid', 'text').execute();
  await db.schema
    .alterTable('arm_resources')
    .addColumn('revision', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('arm_resources_cluster_uid').on('arm_resources').column('cluster_uid').unique().execute();
}

/** The sign-in log (Graph `auditLogs/signIns`): newest first per tenant, pruned by age. */
async function signInLog(db: Db): Promise<void> {
  await db.schema
    .createTable('sign_ins')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text')
    .addColumn('user_principal_name', 'text')
    .addColumn('user_principal_name_lower', 'text')
    .addColumn('user_display_name', 'text')
    .addColumn('app_id', 'text')
    .addColumn('app_display_name', 'text')
    .addColumn('service_principal_id', 'text')
    .addColumn('ip_address', 'text', (c) => c.notNull())
    .addColumn('client_app_used', 'text')
    .addColumn('resource_id', 'text')
    .addColumn('resource_display_name', 'text')
    .addColumn('error_code', 'integer', (c) => c.notNull())
    .addColumn('failure_reason', 'text')
    .addColumn('additional_details', 'text')
    .addColumn('correlation_id', 'text')
    .execute();
  await db.schema.createIndex('sign_ins_tenant_time').on('sign_ins').columns(['tenant_id', 'created_at', 'id']).execute();
  await db.schema.createIndex('sign_ins_time').on('sign_ins').columns(['created_at']).execute();
}

/** Browser sign-in sessions (SSO) of the authorization endpoint, by the hash of their cookie. */
async function signInSessions(db: Db): Promise<void> {
  await db.schema
    .createTable('sign_in_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('auth_time', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sign_in_sessions_expiry').on('sign_in_sessions').columns(['expires_at']).execute();
}

/**
 * The cluster access log (ARM `managedClusters/…/accessLogs`): newest first per cluster, pruned by age.
 * Rows are keyed by a sequence the database assigns (SQLite's rowid; a PostgreSQL identity), so each
 * insert lands at the end of the table's B-tree and no key index is kept beside it: an entry is written
 * on every decision (docs/performance.md, the logs bench).
 */
async function accessLog(db: Db): Promise<void> {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  await db.schema
    .createTable('access_decisions')
    .addColumn('seq', sqlite ? 'integer' : 'bigserial', (c) => c.primaryKey())
    .addColumn('cluster_uid', 'text', (c) => c.notNull())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('user_object_id', 'text')
    .addColumn('groups', 'text', (c) => c.notNull())
    .addColumn('groups_source', 'text')
    .addColumn('verb', 'text')
    .addColumn('resource', 'text')
    .addColumn('subresource', 'text')
    .addColumn('api_group', 'text')
    .addColumn('namespace', 'text')
    .addColumn('name', 'text')
    .addColumn('path', 'text')
    .addColumn('decision', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('access_decisions_cluster_time').on('access_decisions').columns(['cluster_uid', 'time', 'seq']).execute();
  await db.schema.createIndex('access_decisions_time').on('access_decisions').columns(['time']).execute();
}

/**
 * The tables a token is made from (tenants, applications and their credentials, service principals,
 * grants, assignments, groups; users since 0012; ARM's subscriptions and role assignments since 0013): each write to one increases
 * `directory_revision.revision` in the writing transaction, so an instance that caches what tokens read (src/identity/oauth/directory-cache.ts)
 * checks one row instead of re-reading them, and sees a change exactly when it is committed.
 * PostgreSQL: a statement-level BEFORE trigger, so the counter's row is locked before any row of the
 * statement is (directory writes queue on it; they are administrative and rare). SQLite has one writer.
 */
const DIRECTORY_TABLES_0010 = [
  'tenants',
  'tenant_domains',
  'groups',
  'group_members',
  'applications',
  'application_identifier_uris',
  'password_credentials',
  'key_credentials',
  'federated_credentials',
  'service_principals',
  'oauth2_permission_grants',
  'app_role_assignments',
  'directory_role_assignments',
] as const;

/** Users (migration 0012): Graph and the user's token flows read them through the same per-revision cache. */
const DIRECTORY_TABLES_0012 = ['users'] as const;

/**
 * Subscriptions and Azure role assignments (migration 0013): every ARM request reads the caller's
 * assignments and the subscription in its path, and reads them through the same per-revision cache.
 * Both are written by administrators, rarely.
 */
const DIRECTORY_TABLES_0013 = ['subscriptions', 'role_assignments'] as const;

/**
 * Every table whose writes raise the directory revision. On PostgreSQL the raise is a BEFORE … FOR EACH
 * STATEMENT trigger, so a write locks the revision's row before the rows it writes: a transaction that
 * locks a directory row first (SELECT … FOR UPDATE) must lock the revision's row before it (the store's
 * `update` does), or it deadlocks with a delete of the same row.
 */
export const DIRECTORY_TABLES: ReadonlySet<string> = new Set<string>([
  ...DIRECTORY_TABLES_0010,
  ...DIRECTORY_TABLES_0012,
  ...DIRECTORY_TABLES_0013,
]);

const REVISION_BUMP = 'UPDATE directory_revision SET revision = revision + 1 WHERE id = 1';

/** The triggers that count the directory revision up on each write to `tables` (PostgreSQL's function is made by 0010). */
async function revisionTriggers(db: Db, tables: readonly string[]): Promise<void> {
  if (db.getExecutor().adapter instanceof SqliteAdapter) {
    for (const table of tables) {
      for (const op of ['INSERT', 'UPDATE', 'DELETE']) {
        await sql
          .raw(`CREATE TRIGGER ${table}_${op.toLowerCase()}_revision AFTER ${op} ON ${table} BEGIN ${REVISION_BUMP}; END`)
          .execute(db);
      }
    }
    return;
  }
  for (const table of tables) {
    await sql
      .raw(
        `CREATE TRIGGER ${table}_revision BEFORE INSERT OR UPDATE OR DELETE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION kentra_directory_revision()`,
      )
      .execute(db);
  }
}

async function directoryRevision(db: Db): Promise<void> {
  await db.schema
    .createTable('directory_revision')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('revision', 'bigint', (c) => c.notNull())
    .execute();
  await db.insertInto('directory_revision').values({ id: 1, revision: 0 }).execute();
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) {
    await sql
      .raw(`CREATE FUNCTION kentra_directory_revision() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${REVISION_BUMP}; RETURN NULL; END $$`)
      .execute(db);
  }
  await revisionTriggers(db, DIRECTORY_TABLES_0010);
}

/** Users join the directory revision's tables: a user read may then be cached as the others are. */
async function userRevision(db: Db): Promise<void> {
  await revisionTriggers(db, DIRECTORY_TABLES_0012);
}

async function authorizationRevision(db: Db): Promise<void> {
  await revisionTriggers(db, DIRECTORY_TABLES_0013);
}

/** Graph's `uniqueName` of an application (an alternate key for upserts): unique in a tenant whatever its case. */
async function applicationUniqueName(db: Db): Promise<void> {
  await db.schema.alterTable('applications').addColumn('unique_name', 'text').execute();
  await db.schema.alterTable('applications').addColumn('unique_name_lower', 'text').execute();
  // Both stores let any number of rows have no unique name (NULLs are distinct in a unique index).
  await db.schema.createIndex('applications_unique_name').unique().on('applications').columns(['tenant_id', 'unique_name_lower']).execute();
}

/**
 * The cluster access log in segments (access-log-segments.ts): one row per cluster per written batch
 * instead of one per decision, which made a decision's entry cost 10 µs of SQLite's work. The rows of
 * 0009's table are carried over in runs of one cluster's consecutive entries, then that table goes.
 */
async function accessLogSegments(db: Db): Promise<void> {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  await db.schema
    .createTable('access_log_segments')
    .addColumn('seq', sqlite ? 'integer' : 'bigserial', (c) => c.primaryKey())
    .addColumn('cluster_uid', 'text', (c) => c.notNull())
    .addColumn('min_time', 'bigint', (c) => c.notNull())
    .addColumn('max_time', 'bigint', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('entries', 'text', (c) => c.notNull())
    .execute();
  // Newest first per cluster; min_time in the index answers "could it hold entries before the cursor".
  await db.schema
    .createIndex('access_log_segments_cluster')
    .on('access_log_segments')
    .columns(['cluster_uid', 'max_time', 'seq', 'min_time'])
    .execute();
  await db.schema.createIndex('access_log_segments_age').on('access_log_segments').columns(['min_time']).execute();

  const columns = SEGMENT_COLUMNS.map((c) => `"${c}"`).join(', ');
  const placeholders = SEGMENT_COLUMNS.map((_, i) => (sqlite ? '?' : `$${i + 1}`)).join(', ');
  for (let after = -1; ;) {
    const rows = (await db.selectFrom('access_decisions').selectAll().where('seq', '>', after).orderBy('seq').limit(1000).execute()) as {
      seq: number | string;
      cluster_uid: string;
      time: number | string;
      kind: AccessLogRecord['kind'];
      source: AccessLogRecord['source'];
      user_name: string;
      user_object_id: string | null;
      groups: string;
      groups_source: string | null;
      verb: string | null;
      resource: string | null;
      subresource: string | null;
      api_group: string | null;
      namespace: string | null;
      name: string | null;
      path: string | null;
      decision: AccessLogRecord['decision'];
      reason: string;
    }[];
    if (rows.length === 0) break;
    after = Number(rows[rows.length - 1]!.seq);
    const records: AccessLogRecord[] = rows.map((r) => ({
      clusterUid: r.cluster_uid,
      time: Number(r.time),
      kind: r.kind,
      source: r.source,
      user: r.user_name,
      userObjectId: r.user_object_id,
      groups: JSON.parse(r.groups) as string[],
      groupsSource: r.groups_source,
      verb: r.verb,
      resource: r.resource,
      subresource: r.subresource,
      apiGroup: r.api_group,
      namespace: r.namespace,
      name: r.name,
      path: r.path,
      decision: r.decision,
      reason: r.reason,
    }));
    for (const row of segmentRows(records)) {
      await db.executeQuery(CompiledQuery.raw(`insert into "access_log_segments" (${columns}) values (${placeholders})`, row));
    }
  }
  await db.schema.dropTable('access_decisions').execute();
}

const migrations: Record<string, Migration> = {
  '0001_initial': { up: initial },
  '0002_owners_and_extras': { up: ownersAndExtras },
  '0003_covering_member_index': { up: coveringMemberIndex },
  '0004_control_plane': { up: controlPlane },
  '0005_kube_objects': { up: kubeObjects },
  '0006_cluster_record': { up: clusterRecord },
  '0007_sign_in_log': { up: signInLog },
  '0008_sign_in_sessions': { up: signInSessions },
  '0009_access_log': { up: accessLog },
  '0010_directory_revision': { up: directoryRevision },
  '0011_access_log_segments': { up: accessLogSegments },
  '0012_user_revision': { up: userRevision },
  '0013_authorization_revision': { up: authorizationRevision },
  '0014_application_unique_name': { up: applicationUniqueName },
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
