import type { RbacObjects } from './rbac.js';

// What the access component needs from the outside world, and nothing more (DESIGN: access is closed).
// In `kentra up` the control plane implements these over the store; in `kentra webhook` they reach
// Kentra (or Entra and ARM) over HTTPS, as Guard does. The key source and the group lookup are in
// entra.ts (KeySource, GroupLookup); the clock is src/shared/clock.ts.

/** A cluster's Entra profile as its API server needs it. */
export interface ClusterAadSettings {
  managed: boolean;
  enableAzureRBAC: boolean;
  adminGroupObjectIDs: string[] | null;
  tenantID: string;
  clientAppID: string | null;
  serverAppID: string | null;
}

/** Everything access decides a cluster's requests by. */
export interface ClusterSettings {
  /** The id in the cluster's API URL (`/clusters/<uid>`). */
  uid: string;
  /** The ARM id: the scope of Azure RBAC checks. */
  resourceId: string;
  kind: 'managedCluster' | 'arc';
  kubernetesVersion: string;
  enableRBAC: boolean;
  disableLocalAccounts: boolean;
  aad: ClusterAadSettings | null;
  /** Accepted token audiences when set (`kentra webhook --server-app-id`); otherwise the server app the Entra profile names. */
  serverAppIds?: string[];
  /** The cluster's own CA (PEM) for local admin certificates, once one was issued. */
  localCaPem: string | null;
  adminToken: string;
  /** The cluster's service-account signing key (public half), when its API is served by Kentra. */
  serviceAccountKey: { publicKeyPem: string; kid: string } | null;
  /** Set for an attached cluster (one Kentra does not run): its own API server URL. */
  attachedServer?: string;
  /** Rises with every write of the cluster's record, on any instance. */
  revision: number;
}

/** Cluster settings by uid (the control plane's managed-cluster records). */
export interface ClusterSettingsSource {
  settings(uid: string): Promise<ClusterSettings | null>;
  /** The record's current revision, or null when the cluster is gone: a cheap read, made on every request. */
  revision(uid: string): Promise<number | null>;
}

export interface DataActionQuestion {
  tenantId: string;
  /** The user's object id and the UUIDs among its groups. */
  subject: { objectId: string; groups: string[] };
  /** The cluster's ARM id, or `<cluster>/namespaces/<ns>`. */
  scope: string;
  /** e.g. `Microsoft.ContainerService/managedClusters/pods/read`. */
  action: string;
}

export type DataActionAnswer =
  | { allowed: true; roleAssignmentId: string; roleDefinitionId: string }
  /** `reason` replaces Guard's standard denial text (e.g. when ARM refused the check with a 4xx). */
  | { allowed: false; reason?: string };

/** Azure RBAC's data-action check (ARM's Microsoft.Authorization/checkaccess). Throws when it cannot answer. */
export interface DataActionCheck {
  checkDataAction(q: DataActionQuestion): Promise<DataActionAnswer>;
}

/** The cluster's Kubernetes objects that access reads: RBAC roles and bindings, service accounts. */
export interface KubeObjectSource {
  rbacObjects(uid: string): Promise<RbacObjects>;
  /** The uid of the service account, or null when it does not exist. */
  serviceAccountUid(uid: string, namespace: string, name: string): Promise<string | null>;
}

/** One decision of a cluster's access, as the access log keeps it: never a token, code, password or secret. */
export interface AccessDecisionRecord {
  time: number;
  /** The id in the cluster's API URL. */
  clusterUid: string;
  kind: 'authentication' | 'authorization';
  source: 'webhook' | 'builtInApi';
  /** '' when authentication failed. */
  user: string;
  userObjectId: string | null;
  groups: string[];
  /** tokenClaim | graphOverage | localAccount | clientCertificate | serviceAccount | reviewRequest | impersonation, then `,adminGroup` when one is an admin group. */
  groupsSource: string | null;
  verb: string | null;
  resource: string | null;
  subresource: string | null;
  apiGroup: string | null;
  namespace: string | null;
  name: string | null;
  path: string | null;
  decision: 'allowed' | 'denied' | 'noOpinion';
  reason: string;
}

/** Where the cluster-access service records its decisions (in `kentra up`: the store, in batches). */
export interface AccessLogPort {
  /**
   * Queues one decision and returns at once (never throws). `entry` is called when its batch is
   * written, off the request's path; it returns null when there is nothing to record.
   */
  record(entry: () => AccessDecisionRecord | null): void;
}
