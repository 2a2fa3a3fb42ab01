import type { RoleAssignment, Store } from '../store/index.js';

// Azure built-in role definitions Kentra knows (IDs, actions and data actions are Azure's), and the
// CheckAccess decision over role assignments that ARM and the cluster data plane both call.

export interface RoleDefinition {
  id: string;
  roleName: string;
  description: string;
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

const MC = 'Microsoft.ContainerService/managedClusters';
const RBAC_CP = [
  'Microsoft.Authorization/*/read',
  'Microsoft.Resources/subscriptions/operationresults/read',
  'Microsoft.Resources/subscriptions/read',
  'Microsoft.Resources/subscriptions/resourceGroups/read',
];
const READ_DATA = [
  'apps/controllerrevisions/read',
  'apps/daemonsets/read',
  'apps/deployments/read',
  'apps/replicasets/read',
  'apps/statefulsets/read',
  'autoscaling/horizontalpodautoscalers/read',
  'batch/cronjobs/read',
  'batch/jobs/read',
  'configmaps/read',
  'discovery.k8s.io/endpointslices/read',
  'endpoints/read',
  'events.k8s.io/events/read',
  'events/read',
  'extensions/daemonsets/read',
  'extensions/deployments/read',
  'extensions/ingresses/read',
  'extensions/networkpolicies/read',
  'extensions/replicasets/read',
  'limitranges/read',
  'metrics.k8s.io/pods/read',
  'metrics.k8s.io/nodes/read',
  'namespaces/read',
  'networking.k8s.io/ingresses/read',
  'networking.k8s.io/networkpolicies/read',
  'persistentvolumeclaims/read',
  'pods/read',
  'policy/poddisruptionbudgets/read',
  'replicationcontrollers/read',
  'resourcequotas/read',
  'serviceaccounts/read',
  'services/read',
].map((a) => `${MC}/${a}`);
const WRITE_DATA = [
  'apps/controllerrevisions/read',
  'apps/daemonsets/*',
  'apps/deployments/*',
  'apps/replicasets/*',
  'apps/statefulsets/*',
  'autoscaling/horizontalpodautoscalers/*',
  'batch/cronjobs/*',
  'coordination.k8s.io/leases/read',
  'coordination.k8s.io/leases/write',
  'coordination.k8s.io/leases/delete',
  'discovery.k8s.io/endpointslices/read',
  'batch/jobs/*',
  'configmaps/*',
  'endpoints/*',
  'events.k8s.io/events/read',
  'events/*',
  'extensions/daemonsets/*',
  'extensions/deployments/*',
  'extensions/ingresses/*',
  'extensions/networkpolicies/*',
  'extensions/replicasets/*',
  'limitranges/read',
  'metrics.k8s.io/pods/read',
  'metrics.k8s.io/nodes/read',
  'namespaces/read',
  'networking.k8s.io/ingresses/*',
  'networking.k8s.io/networkpolicies/*',
  'persistentvolumeclaims/*',
  'pods/*',
  'policy/poddisruptionbudgets/*',
  'replicationcontrollers/*',
  'resourcequotas/read',
  'secrets/*',
  'serviceaccounts/*',
  'services/*',
].map((a) => `${MC}/${a}`);

const role = (
  id: string,
  roleName: string,
  description: string,
  actions: string[],
  extra: Partial<RoleDefinition> = {},
): RoleDefinition => ({
  id,
  roleName,
  description,
  actions,
  notActions: [],
  dataActions: [],
  notDataActions: [],
  ...extra,
});

export const ROLE_DEFINITIONS: RoleDefinition[] = [
  role(
    '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
    'Owner',
    'Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.',
    ['*'],
  ),
  role(
    'b24988ac-6180-42a0-ab88-20f7382dd24c',
    'Contributor',
    'Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.',
    ['*'],
    { notActions: ['Microsoft.Authorization/*/Delete', 'Microsoft.Authorization/*/Write', 'Microsoft.Authorization/elevateAccess/Action'] },
  ),
  role('acdd72a7-3385-48ef-bd42-f606fba81ae7', 'Reader', 'View all resources, but does not allow you to make any changes.', ['*/read']),
  role('18d7d88d-d35e-4fb5-a5c3-7773c20a72d9', 'User Access Administrator', 'Lets you manage user access to Azure resources.', [
    '*/read',
    'Microsoft.Authorization/*',
  ]),
  role('0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8', 'Azure Kubernetes Service Cluster Admin Role', 'List cluster admin credential action.', [
    `${MC}/listClusterAdminCredential/action`,
    `${MC}/accessProfiles/listCredential/action`,
    `${MC}/read`,
    `${MC}/runcommand/action`,
  ]),
  role('4abbcc35-e782-43d8-92c5-2d3f1bd2253f', 'Azure Kubernetes Service Cluster User Role', 'List cluster user credential action.', [
    `${MC}/listClusterUserCredential/action`,
    `${MC}/read`,
  ]),
  role(
    '1afdec4b-e479-420e-99e7-f82237c7c5e6',
    'Azure Kubernetes Service Cluster Monitoring User',
    'List cluster monitoring user credential action.',
    [`${MC}/listClusterMonitoringUserCredential/action`, `${MC}/read`],
  ),
  role(
    'ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8',
    'Azure Kubernetes Service Contributor Role',
    'Grants access to read and write Azure Kubernetes Service clusters',
    [`${MC}/read`, `${MC}/write`, 'Microsoft.Resources/deployments/*'],
  ),
  role(
    'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b',
    'Azure Kubernetes Service RBAC Cluster Admin',
    'Lets you manage all resources in the cluster.',
    [...RBAC_CP, `${MC}/listClusterUserCredential/action`],
    { dataActions: [`${MC}/*`] },
  ),
  role(
    '3498e952-d568-435e-9b2c-8d77e338d7f7',
    'Azure Kubernetes Service RBAC Admin',
    'Lets you manage all resources under cluster/namespace, except update or delete resource quotas and namespaces.',
    [...RBAC_CP, `${MC}/listClusterUserCredential/action`],
    {
      dataActions: [`${MC}/*`],
      notDataActions: [`${MC}/resourcequotas/write`, `${MC}/resourcequotas/delete`, `${MC}/namespaces/write`, `${MC}/namespaces/delete`],
    },
  ),
  role(
    '7f6c6a51-bcf8-42ba-9220-52d62157d7db',
    'Azure Kubernetes Service RBAC Reader',
    'Allows read-only access to see most objects in a namespace.',
    RBAC_CP,
    { dataActions: READ_DATA },
  ),
  role(
    'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb',
    'Azure Kubernetes Service RBAC Writer',
    'Allows read/write access to most objects in a namespace.',
    RBAC_CP,
    { dataActions: WRITE_DATA },
  ),
  role('233ca253-b031-42ff-9fba-87ef12d6b55f', 'Azure Kubernetes Service Arc Cluster User Role', 'List cluster user credential action.', [
    'Microsoft.HybridContainerService/provisionedClusterInstances/read',
    'Microsoft.HybridContainerService/provisionedClusterInstances/listUserKubeconfig/action',
    'Microsoft.Kubernetes/connectedClusters/Read',
  ]),
  role('b29efa5f-7782-4dc3-9537-4d5bc70a5e9f', 'Azure Kubernetes Service Arc Cluster Admin Role', 'List cluster admin credential action.', [
    'Microsoft.HybridContainerService/provisionedClusterInstances/read',
    'Microsoft.HybridContainerService/provisionedClusterInstances/listAdminKubeconfig/action',
    'Microsoft.Kubernetes/connectedClusters/Read',
  ]),
  // Azure's Arc Contributor lists 25 actions; these patterns cover the ones Kentra's Arc resources use.
  role(
    '5d3f1697-4507-4d08-bb4a-477695db5f82',
    'Azure Kubernetes Service Arc Contributor Role',
    'Grants access to read and write Azure Kubernetes Services hybrid clusters',
    [
      'Microsoft.HybridContainerService/*',
      'Microsoft.Kubernetes/connectedClusters/*',
      'Microsoft.ExtendedLocation/customLocations/read',
      'Microsoft.ExtendedLocation/customLocations/deploy/action',
      'Microsoft.AzureStackHCI/clusters/read',
      'Microsoft.Resources/subscriptions/resourceGroups/read',
    ],
  ),
];

export const OWNER_ROLE_ID = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
export const CONTRIBUTOR_ROLE_ID = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
export const READER_ROLE_ID = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';

/** Role name → definition id, for seeds and the CLI (`--role "Azure Kubernetes Service RBAC Reader"`). */
export const BUILT_IN_ROLES: Record<string, string> = Object.fromEntries(ROLE_DEFINITIONS.map((r) => [r.roleName, r.id]));

export function roleDefinitionResourceId(subscriptionId: string, roleId: string): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`;
}

export function findRoleDefinition(idOrName: string): RoleDefinition | undefined {
  const key = idOrName.split('/').pop()!.toLowerCase();
  return ROLE_DEFINITIONS.find((r) => r.id === key || r.roleName.toLowerCase() === idOrName.toLowerCase());
}

/** Azure action matching: case-insensitive, `*` matches any run of characters. */
export function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );
  return re.test(action);
}

/** True when `ancestor` is the scope itself or one of its parents (segment-wise, case-insensitive). */
export function scopeCovers(ancestor: string, scope: string): boolean {
  const a = ancestor.toLowerCase().replace(/\/+$/, '');
  const s = scope.toLowerCase().replace(/\/+$/, '');
  return a === '' || a === '/' || s === a || s.startsWith(`${a}/`);
}

export interface AccessDecision {
  allowed: boolean;
  /** The assignment and role that allowed it. */
  assignment?: RoleAssignment;
  role?: RoleDefinition;
}

/**
 * CheckAccess: does any of the principals hold a role assignment at the scope or above whose role
 * grants the action (or, with `data`, the data action) and does not exclude it?
 */
export async function checkAccess(
  store: Store,
  input: {
    tenantId: string;
    principalIds: string[];
    scope: string;
    action: string;
    data?: boolean;
    /** The principals' assignments when the caller has read them already (else they are read here). */
    assignments?: RoleAssignment[];
  },
): Promise<AccessDecision> {
  const assignments =
    input.assignments ?? (await store.listRoleAssignments({ tenantId: input.tenantId, principalIds: input.principalIds }));
  for (const assignment of assignments) {
    if (!scopeCovers(assignment.scope, input.scope)) continue;
    const def = findRoleDefinition(assignment.roleDefinitionId);
    if (!def) continue;
    const [allow, deny] = input.data ? [def.dataActions, def.notDataActions] : [def.actions, def.notActions];
    if (allow.some((p) => actionMatches(p, input.action)) && !deny.some((p) => actionMatches(p, input.action)))
      return { allowed: true, assignment, role: def };
  }
  return { allowed: false };
}
