import type { ArmResource, Store } from '../store/index.js';
import type { AadProfile } from './cluster-model.js';

// The one interface the cluster data plane (access issue) reads a cluster's access settings through:
// its Entra profile (admin groups, tenant, Azure RBAC, legacy server app), Kubernetes RBAC, local
// accounts, and the local admin credentials' CA and token. Keyed by the cluster id in its API URL.

export interface ClusterAccessConfig {
  /** The id in the cluster's API server URL (`/clusters/<uid>`). */
  uid: string;
  resourceId: string;
  kind: 'managedCluster' | 'arc';
  kubernetesVersion: string;
  enableRBAC: boolean;
  disableLocalAccounts: boolean;
  aad: AadProfile | null;
  /** The cluster's own CA (PEM) for local admin certificates, once one was issued. */
  localCaPem: string | null;
  adminToken: string;
  /**
   * Set for an attached cluster (one Kentra does not run): its own API server URL. Its webhooks answer;
   * the built-in sandbox must not serve it (the cluster's API is at this URL, not on Kentra).
   */
  attachedServer?: string;
}

const TYPES = { 'microsoft.containerservice/managedclusters': 'managedCluster', 'microsoft.kubernetes/connectedclusters': 'arc' } as const;

export function accessConfigOf(res: ArmResource): ClusterAccessConfig | null {
  const kind = TYPES[res.type.toLowerCase() as keyof typeof TYPES];
  if (!kind || typeof res.secrets.uid !== 'string') return null;
  const props = kind === 'managedCluster' ? ((res.body as any).properties ?? {}) : ((res.body as any).instance?.properties ?? {});
  return {
    uid: res.secrets.uid, resourceId: res.id, kind, kubernetesVersion: String(props.kubernetesVersion ?? ''),
    enableRBAC: props.enableRBAC ?? true, disableLocalAccounts: !!props.disableLocalAccounts, aad: (res.secrets.aad ?? null) as AadProfile | null,
    localCaPem: (res.secrets.caCertPem as string | undefined) ?? null, adminToken: String(res.secrets.adminToken ?? ''),
    ...(typeof props.attachedClusterProfile?.serverUrl === 'string' ? { attachedServer: props.attachedClusterProfile.serverUrl } : {}),
  };
}

/** The access settings of the cluster whose API URL carries `uid`, or null. */
export async function clusterAccessConfig(store: Store, uid: string): Promise<ClusterAccessConfig | null> {
  for (const sub of await store.listSubscriptions()) {
    for (const type of Object.keys(TYPES)) {
      for (const res of await store.listResources({ subscriptionId: sub.id, type })) {
        if (res.secrets.uid === uid) return accessConfigOf(res);
      }
    }
  }
  return null;
}
