import type {
  ArmOperation,
  ArmResource,
  FeatureRegistration,
  Application,
  AppRoleAssignment,
  AuthorizationCode,
  CounterHit,
  DeviceCode,
  DeviceCodeStatus,
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
  SignInEvent,
  SignInQuery,
  SignInSession,
  SigningKey,
  Subscription,
  Tenant,
  User,
} from './types.js';
import type { AccessLogEntry, AccessLogQuery, AccessLogRecord } from './types.js';

/** Read-modify-write: receives the current entity, returns the new one. Runs inside one transaction. */
export type Updater<T> = (current: T) => T;

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; absent on the last page. */
  next?: string;
}

export interface ListOptions {
  limit?: number;
  after?: string;
}

/**
 * The one storage interface. Every backend passes `store/conformance.ts`. Nothing outside `store/`
 * writes SQL. Every method is atomic; `transaction` groups several into one.
 * Create methods throw `StoreError('conflict')` on a duplicate key; update and delete methods
 * return null / false when the entity is missing.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  close(): Promise<void>;
  /** Runs `fn` with a store whose writes all commit together or not at all. Nested calls join the outer one. */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;

  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;
  /**
   * Claims `key`: stores `value` only when the key is absent and says whether this call stored it.
   * Race-free across processes: of concurrent claims exactly one returns true (on PostgreSQL a claim
   * racing an uncommitted one waits for that transaction, then loses if it committed).
   */
  insertMetaIfAbsent(key: string, value: string): Promise<boolean>;
  /**
   * Locks the row named `name` until the surrounding transaction ends (creating it on first use), so
   * check-then-write sequences on other processes queue behind this one. Meaningful inside `transaction`;
   * on SQLite it takes the database write lock, which serializes the same way.
   */
  lockNamed(name: string): Promise<void>;

  createTenant(t: Tenant): Promise<void>;
  getTenant(id: string): Promise<Tenant | null>;
  /** Case-insensitive match on any of the tenant's domains. */
  findTenantByDomain(domain: string): Promise<Tenant | null>;
  listTenants(): Promise<Tenant[]>;
  updateTenant(id: string, fn: Updater<Tenant>): Promise<Tenant | null>;

  createUser(u: User): Promise<void>;
  getUser(tenantId: string, id: string): Promise<User | null>;
  /** The users of the tenant with these ids (the ones that exist), in one read per 500, ordered by id (compareIds). */
  getUsers(tenantId: string, ids: string[]): Promise<User[]>;
  /** Case-insensitive. */
  findUserByUpn(tenantId: string, upn: string): Promise<User | null>;
  /** Guest accounts in other tenants that stand for this home account. */
  listGuestAccounts(homeTenantId: string, homeObjectId: string): Promise<User[]>;
  listUsers(tenantId: string, opts?: ListOptions): Promise<Page<User>>;
  updateUser(tenantId: string, id: string, fn: Updater<User>): Promise<User | null>;
  /** Also removes the user's group memberships, grants and assignments. */
  deleteUser(tenantId: string, id: string): Promise<boolean>;

  createGroup(g: Group): Promise<void>;
  getGroup(tenantId: string, id: string): Promise<Group | null>;
  /** The groups of the tenant with these ids (the ones that exist), in one read per 500, ordered by id (compareIds). */
  getGroups(tenantId: string, ids: string[]): Promise<Group[]>;
  listGroups(tenantId: string, opts?: ListOptions): Promise<Page<Group>>;
  updateGroup(tenantId: string, id: string, fn: Updater<Group>): Promise<Group | null>;
  /** Also removes its memberships, both ways. */
  deleteGroup(tenantId: string, id: string): Promise<boolean>;

  /** StoreError('invalid') when a group member would make a group (transitively) contain itself; checked and written under a per-tenant lock. */
  addGroupMember(m: GroupMember): Promise<void>;
  removeGroupMember(tenantId: string, groupId: string, memberId: string): Promise<boolean>;
  listGroupMembers(tenantId: string, groupId: string): Promise<GroupMember[]>;
  /** Groups the object is a direct member of. */
  listDirectGroupIds(tenantId: string, memberId: string): Promise<string[]>;
  /**
   * Every group the object is a member of, directly or through nested groups, ordered by id. One
   * recursive query; an instance keeps the answer until any instance writes the tenant's memberships.
   */
  listTransitiveGroupIds(tenantId: string, memberId: string): Promise<string[]>;

  createApplication(a: Application): Promise<void>;
  getApplication(tenantId: string, id: string): Promise<Application | null>;
  findApplicationByAppId(tenantId: string, appId: string): Promise<Application | null>;
  /** By Graph's `uniqueName`, whatever its case. */
  findApplicationByUniqueName(tenantId: string, uniqueName: string): Promise<Application | null>;
  /** Exact match on one of the identifier URIs (case-insensitive). */
  findApplicationByIdentifierUri(tenantId: string, uri: string): Promise<Application | null>;
  listApplications(tenantId: string, opts?: ListOptions): Promise<Page<Application>>;
  updateApplication(tenantId: string, id: string, fn: Updater<Application>): Promise<Application | null>;
  /** Also removes its credentials. */
  deleteApplication(tenantId: string, id: string): Promise<boolean>;

  addPasswordCredential(c: PasswordCredential): Promise<void>;
  listPasswordCredentials(tenantId: string, appObjectId: string): Promise<PasswordCredential[]>;
  removePasswordCredential(tenantId: string, appObjectId: string, keyId: string): Promise<boolean>;
  addKeyCredential(c: KeyCredential): Promise<void>;
  listKeyCredentials(tenantId: string, appObjectId: string): Promise<KeyCredential[]>;
  removeKeyCredential(tenantId: string, appObjectId: string, keyId: string): Promise<boolean>;
  addFederatedCredential(c: FederatedIdentityCredential): Promise<void>;
  listFederatedCredentials(tenantId: string, appObjectId: string): Promise<FederatedIdentityCredential[]>;
  removeFederatedCredential(tenantId: string, appObjectId: string, id: string): Promise<boolean>;

  createServicePrincipal(sp: ServicePrincipal): Promise<void>;
  getServicePrincipal(tenantId: string, id: string): Promise<ServicePrincipal | null>;
  findServicePrincipalByAppId(tenantId: string, appId: string): Promise<ServicePrincipal | null>;
  listServicePrincipals(tenantId: string, opts?: ListOptions): Promise<Page<ServicePrincipal>>;
  updateServicePrincipal(tenantId: string, id: string, fn: Updater<ServicePrincipal>): Promise<ServicePrincipal | null>;
  deleteServicePrincipal(tenantId: string, id: string): Promise<boolean>;

  createOAuth2PermissionGrant(g: OAuth2PermissionGrant): Promise<void>;
  listOAuth2PermissionGrants(tenantId: string, filter?: { clientId?: string; resourceId?: string }): Promise<OAuth2PermissionGrant[]>;
  updateOAuth2PermissionGrant(tenantId: string, id: string, fn: Updater<OAuth2PermissionGrant>): Promise<OAuth2PermissionGrant | null>;
  deleteOAuth2PermissionGrant(tenantId: string, id: string): Promise<boolean>;

  createAppRoleAssignment(a: AppRoleAssignment): Promise<void>;
  listAppRoleAssignments(tenantId: string, filter?: { principalId?: string; resourceId?: string }): Promise<AppRoleAssignment[]>;
  deleteAppRoleAssignment(tenantId: string, id: string): Promise<boolean>;

  addDirectoryRoleAssignment(a: DirectoryRoleAssignment): Promise<void>;
  listDirectoryRoleAssignments(tenantId: string, principalId: string): Promise<DirectoryRoleAssignment[]>;

  addOwner(o: Owner): Promise<void>;
  removeOwner(tenantId: string, objectId: string, ownerId: string): Promise<boolean>;
  listOwners(tenantId: string, objectId: string): Promise<Owner[]>;
  /** What an object owns. */
  listOwnedObjects(tenantId: string, ownerId: string): Promise<Owner[]>;

  createSubscription(s: Subscription): Promise<void>;
  getSubscription(id: string): Promise<Subscription | null>;
  listSubscriptions(tenantId?: string): Promise<Subscription[]>;

  createRoleAssignment(a: RoleAssignment): Promise<void>;
  getRoleAssignment(id: string): Promise<RoleAssignment | null>;
  /** `scope` filter: assignments at this exact scope. */
  listRoleAssignments(filter?: { tenantId?: string; scope?: string; principalIds?: string[] }): Promise<RoleAssignment[]>;
  deleteRoleAssignment(id: string): Promise<boolean>;

  addSigningKey(k: SigningKey): Promise<void>;
  listSigningKeys(): Promise<SigningKey[]>;
  deleteSigningKey(kid: string): Promise<boolean>;

  createDeviceCode(d: DeviceCode): Promise<void>;
  getDeviceCode(deviceCodeHash: string): Promise<DeviceCode | null>;
  /** Only codes not yet expired at `now`. */
  findDeviceCodeByUserCode(userCode: string, now: number): Promise<DeviceCode | null>;
  /** Compare-and-set on status: applies `patch` only if the code is still in `expected`. */
  transitionDeviceCode(
    deviceCodeHash: string,
    expected: DeviceCodeStatus,
    patch: Partial<Pick<DeviceCode, 'status' | 'tenantId' | 'userId'>>,
  ): Promise<boolean>;
  touchDeviceCode(deviceCodeHash: string, polledAt: number): Promise<void>;

  createAuthorizationCode(c: AuthorizationCode): Promise<void>;
  /** Marks the code redeemed and returns it, or returns null if it was already redeemed or is unknown. */
  redeemAuthorizationCode(codeHash: string, now: number): Promise<AuthorizationCode | null>;

  createRefreshToken(t: RefreshToken): Promise<void>;
  getRefreshToken(tokenHash: string): Promise<RefreshToken | null>;
  /** Compare-and-set: marks the token rotated only if it is neither rotated nor revoked. */
  rotateRefreshToken(tokenHash: string, now: number): Promise<boolean>;
  revokeRefreshTokenFamily(familyId: string, now: number): Promise<number>;
  revokeRefreshTokensOfUser(tenantId: string, userId: string, now: number): Promise<number>;

  /** Atomically counts one hit for `key` in a fixed window of `windowMs` starting at the first hit. */
  hitCounter(key: string, windowMs: number, now: number): Promise<CounterHit>;
  resetCounter(key: string): Promise<void>;

  createResource(r: ArmResource): Promise<void>;
  /** By resource id, case-insensitively. */
  getResource(id: string): Promise<ArmResource | null>;
  listResources(filter: { subscriptionId: string; type?: string; resourceGroup?: string }): Promise<ArmResource[]>;
  /** Read-modify-write; the id cannot change. */
  updateResource(id: string, fn: Updater<ArmResource>): Promise<ArmResource | null>;
  deleteResource(id: string): Promise<boolean>;
  /**
   * A managed (or Arc) cluster by the uid in its API URL (`secrets.uid`), through an index, with its
   * revision: a number every write of the resource increases (the uid itself cannot change).
   */
  getClusterByUid(uid: string): Promise<{ resource: ArmResource; revision: number } | null>;
  /** Only the revision of the cluster with that uid (null when there is none): one indexed read, for change checks. */
  clusterRevision(uid: string): Promise<number | null>;

  createOperation(op: ArmOperation): Promise<void>;
  /** Creates (or replaces) a resource and creates its long-running operation in one transaction: neither is written without the other. */
  putResourceWithOperation(resource: ArmResource, op: ArmOperation, mode: 'create' | 'replace'): Promise<void>;
  getOperation(id: string): Promise<ArmOperation | null>;
  updateOperation(id: string, fn: Updater<ArmOperation>): Promise<ArmOperation | null>;

  getFeature(subscriptionId: string, namespace: string, name: string): Promise<FeatureRegistration | null>;
  setFeature(f: FeatureRegistration): Promise<void>;
  listFeatures(subscriptionId: string, namespace?: string): Promise<FeatureRegistration[]>;

  /** Stores a new object with the cluster's next resourceVersion; StoreError('conflict') when (cluster, resource, namespace, name) exists. */
  createKubeObject(o: Omit<KubeObject, 'resourceVersion'>): Promise<KubeObject>;
  getKubeObject(clusterUid: string, resource: string, namespace: string, name: string): Promise<KubeObject | null>;
  /** Ordered by namespace then name, byte-wise (as Kubernetes lists). `namespace` undefined = every namespace. */
  listKubeObjects(clusterUid: string, resource: string, namespace?: string): Promise<KubeObject[]>;
  /** Read-modify-write of the body in one transaction; the new version gets the cluster's next resourceVersion. Null when missing. If `fn` throws, nothing changes and the error propagates. */
  updateKubeObject(
    clusterUid: string,
    resource: string,
    namespace: string,
    name: string,
    fn: Updater<Record<string, unknown>>,
  ): Promise<KubeObject | null>;
  /** Removes and returns the object (as last written), or null when missing; bumps the cluster's counter. */
  deleteKubeObject(clusterUid: string, resource: string, namespace: string, name: string): Promise<KubeObject | null>;
  /** Removes every object of a cluster (when the cluster is deleted); returns how many. The counter is kept, so a resourceVersion never repeats. */
  deleteKubeObjectsOfCluster(clusterUid: string): Promise<number>;
  /** The cluster's current resourceVersion counter (0 before its first write), for list metadata. */
  kubeResourceVersion(clusterUid: string): Promise<number>;

  /** Appends sign-in log entries (one statement per batch). */
  addSignIns(events: SignInEvent[]): Promise<void>;
  getSignIn(tenantId: string, id: string): Promise<SignInEvent | null>;
  /** A tenant's sign-ins matching `query`, newest first (then by id), paged. */
  listSignIns(tenantId: string, query: SignInQuery, opts?: ListOptions): Promise<Page<SignInEvent>>;
  /** Deletes sign-ins created before `before` (retention); returns how many. */
  pruneSignIns(before: number): Promise<number>;

  createSignInSession(s: SignInSession): Promise<void>;
  /** Only a session not expired at `now`. */
  getSignInSession(idHash: string, now: number): Promise<SignInSession | null>;
  deleteSignInSession(idHash: string): Promise<boolean>;

  /** Deletes expired device codes, authorization codes, refresh tokens, sign-in sessions and counters. */
  purgeExpired(now: number): Promise<void>;

  // ---- the cluster access log ----
  /** Appends access log entries (one transaction per batch); the store gives each its id. */
  addAccessDecisions(entries: AccessLogRecord[]): Promise<void>;
  /** A cluster's access decisions matching `query`, newest first (then newest written), paged by `query.skipToken`. */
  listAccessDecisions(clusterUid: string, query?: AccessLogQuery): Promise<Page<AccessLogEntry>>;
  /** Deletes access decisions made before `before` (retention); returns how many. */
  deleteAccessDecisionsBefore(before: number): Promise<number>;
  /**
   * A number every committed write to a directory table (migration 0010's list: tenants, applications,
   * credentials, service principals, grants, assignments, groups) increases: one indexed read, for
   * per-instance caches of what a token reads to check that nothing changed.
   */
  directoryRevision(): Promise<number>;
  /**
   * getResource and directoryRevision in one statement, read at one moment (one round trip on
   * PostgreSQL): ARM reads both before most requests.
   */
  getResourceAndDirectoryRevision(id: string): Promise<{ resource: ArmResource | null; directoryRevision: number }>;
}

/** The order of ids that getGroups answers in: code units, the same on every backend. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
