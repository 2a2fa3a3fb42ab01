import { arm } from '../api';

// The ARM reads the Azure pages share: subscriptions, resource groups and managed clusters, with the
// api-versions the Azure portal sends (Kentra requires one and answers the shapes of these).

export const API_VERSION = {
  subscriptions: '2022-12-01',
  resourceGroups: '2021-04-01',
  managedClusters: '2024-09-01',
  authorization: '2022-04-01',
} as const;

export interface Subscription {
  id: string;
  subscriptionId: string;
  displayName: string;
  state: string;
  tenantId: string;
}

export interface ResourceGroup {
  id: string;
  name: string;
  location: string;
}

export interface AadProfile {
  managed?: boolean | null;
  enableAzureRBAC?: boolean | null;
  adminGroupObjectIDs?: string[] | null;
  tenantID?: string | null;
  clientAppID?: string | null;
  serverAppID?: string | null;
  serverAppSecret?: string | null;
}

export interface ManagedCluster {
  id: string;
  name: string;
  location: string;
  tags?: Record<string, string> | null;
  identity?: unknown;
  sku?: unknown;
  properties: {
    provisioningState: string;
    powerState?: { code: string };
    kubernetesVersion: string;
    fqdn?: string;
    enableRBAC?: boolean;
    disableLocalAccounts?: boolean;
    aadProfile?: AadProfile | null;
    [key: string]: unknown;
  };
}

/** The resource group named in a resource id. */
export const resourceGroupOf = (id: string) => /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? '';

export async function listSubscriptions(): Promise<Subscription[]> {
  return (await arm<{ value: Subscription[] }>(`/subscriptions?api-version=${API_VERSION.subscriptions}`)).value;
}

export async function listResourceGroups(subscriptionId: string): Promise<ResourceGroup[]> {
  return (
    await arm<{ value: ResourceGroup[] }>(`/subscriptions/${subscriptionId}/resourcegroups?api-version=${API_VERSION.resourceGroups}`)
  ).value;
}

export async function listClusters(subscriptionId: string, resourceGroup?: string): Promise<ManagedCluster[]> {
  const base = resourceGroup ? `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}` : `/subscriptions/${subscriptionId}`;
  return (
    await arm<{ value: ManagedCluster[] }>(
      `${base}/providers/Microsoft.ContainerService/managedClusters?api-version=${API_VERSION.managedClusters}`,
    )
  ).value;
}

export const clusterUrl = (id: string, action = '') => `${id}${action ? `/${action}` : ''}?api-version=${API_VERSION.managedClusters}`;

/** How a cluster signs users in, in words. */
export function entraMode(aad: AadProfile | null | undefined): string {
  if (!aad) return 'None (Kubernetes RBAC with local accounts)';
  if (aad.managed) return 'Microsoft Entra ID (managed)';
  return 'Microsoft Entra ID (legacy: server and client apps)';
}
