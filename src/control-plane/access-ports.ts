import {
  cachedGroupLookup,
  serviceAccountSigningKey,
  type ClusterAccessPorts,
  type ClusterSettings,
  type KeySource,
  type RbacBinding,
  type RbacObjects,
  type RbacRole,
} from '../access/index.js';
import type { ClusterBodyJson } from '../shared/json.js';
import type { Clock } from '../shared/clock.js';
import type { ArmResource, Store } from '../store/index.js';
import { checkAccess } from './roles.js';
import { clusterSecretsOf, isClusterResource, withClusterSecrets } from './cluster-record.js';

// The control plane's side of the access component's ports (src/access/ports.ts), over the store:
// cluster settings by uid (an indexed look-up, with the record's revision), group membership from
// the directory, Azure RBAC's data-action check from the role assignments, and the cluster's RBAC
// objects and service accounts from its Kubernetes objects.

const TYPES = { 'microsoft.containerservice/managedclusters': 'managedCluster', 'microsoft.kubernetes/connectedclusters': 'arc' } as const;
const RBAC = 'rbac.authorization.k8s.io/';

/** A cluster resource's access settings, or null when the resource is not a cluster. */
export function clusterSettingsOf(res: ArmResource, revision: number): ClusterSettings | null {
  const kind = TYPES[res.type.toLowerCase() as keyof typeof TYPES];
  if (!kind || !isClusterResource(res)) return null;
  const s = clusterSecretsOf(res);
  const body = res.body as ClusterBodyJson;
  const props = (kind === 'managedCluster' ? body.properties : body.instance?.properties) ?? {};
  return {
    uid: s.uid,
    resourceId: res.id,
    kind,
    kubernetesVersion: String(props.kubernetesVersion ?? ''),
    enableRBAC: props.enableRBAC ?? true,
    disableLocalAccounts: !!props.disableLocalAccounts,
    aad: s.aad,
    localCaPem: s.caCertPem,
    adminToken: s.adminToken,
    serviceAccountKey: s.saPublicKeyPem && s.saKid ? { publicKeyPem: s.saPublicKeyPem, kid: s.saKid } : null,
    ...(typeof props.attachedClusterProfile?.serverUrl === 'string' ? { attachedServer: props.attachedClusterProfile.serverUrl } : {}),
    revision,
  };
}

/** The cluster's service-account signing key, made on first use and kept with its secrets (the first writer wins). */
export async function ensureServiceAccountKey(store: Store, res: ArmResource): Promise<ArmResource> {
  if (clusterSecretsOf(res).saKeyPem) return res;
  const made = await serviceAccountSigningKey();
  const stored = await store.updateResource(res.id, (x) =>
    clusterSecretsOf(x).saKeyPem
      ? x
      : withClusterSecrets(x, { saKeyPem: made.privateKeyPem, saPublicKeyPem: made.publicKeyPem, saKid: made.kid }),
  );
  return stored ?? res;
}

/** `groupCacheSize`: users whose groups are kept (`kentra up --group-cache-size`). */
export function controlPlaneAccessPorts(store: Store, keys: KeySource, clock: Clock, groupCacheSize?: number): ClusterAccessPorts {
  return {
    clock,
    keys,
    settings: {
      async settings(uid) {
        let found = await store.getClusterByUid(uid);
        if (found && !clusterSecretsOf(found.resource).saKeyPem) {
          await ensureServiceAccountKey(store, found.resource);
          found = await store.getClusterByUid(uid);
        }
        return found ? clusterSettingsOf(found.resource, found.revision) : null;
      },
      revision: (uid) => store.clusterRevision(uid),
    },
    groups: cachedGroupLookup(
      { memberGroups: (tenantId, objectId) => store.listTransitiveGroupIds(tenantId, objectId) },
      clock,
      30_000,
      groupCacheSize,
    ),
    dataActions: {
      async checkDataAction(q) {
        const result = await checkAccess(store, {
          tenantId: q.tenantId,
          principalIds: [q.subject.objectId, ...q.subject.groups],
          scope: q.scope,
          action: q.action,
          data: true,
        });
        if (!result.allowed) return { allowed: false };
        const a = result.assignment!;
        return {
          allowed: true,
          roleAssignmentId: `${a.scope}/providers/Microsoft.Authorization/roleAssignments/${a.id}`,
          roleDefinitionId: result.role!.id,
        };
      },
    },
    objects: {
      async rbacObjects(uid): Promise<RbacObjects> {
        const list = async <T>(r: string) => (await store.listKubeObjects(uid, `${RBAC}${r}`)).map((o) => o.body as unknown as T);
        const [clusterRoles, clusterRoleBindings, roles, roleBindings] = await Promise.all([
          list<RbacRole>('clusterroles'),
          list<RbacBinding>('clusterrolebindings'),
          list<RbacRole>('roles'),
          list<RbacBinding>('rolebindings'),
        ]);
        return { clusterRoles, clusterRoleBindings, roles, roleBindings };
      },
      async serviceAccountUid(uid, ns, name) {
        const sa = await store.getKubeObject(uid, '/serviceaccounts', ns, name);
        return sa ? String((sa.body as { metadata?: { uid?: string } }).metadata?.uid ?? '') : null;
      },
    },
  };
}
