import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { ARC_CLIENT_APP_ID, ARC_SERVER_APP_ID } from '../identity/index.js';
import { createCertificateAuthority } from '../pki/index.js';
import { isGuid, newId } from '../shared/crypto.js';
import type { ClusterBodyJson } from '../shared/json.js';
import type { ArmResource } from '../store/index.js';
import { clusterSecretsOf, isClusterResource, withClusterSecrets } from './cluster-record.js';
import { ArmError, armRoute, authorize, type ArmRequest } from './arm.js';
import type { AadProfile } from './cluster-model.js';
import { certificateKubeconfig, credentialResults, storedClientCertificates, userKubeconfig } from './credentials.js';
import type { ControlPlaneOptions } from './managed-clusters.js';

// The AKS Arc variant (source document 004): a Microsoft.Kubernetes/connectedClusters resource that
// holds the Entra profile, and its Microsoft.HybridContainerService/provisionedClusterInstances/default
// child with the listUserKubeconfig / listAdminKubeconfig actions. Operations finish at once here.

/** The fields of a connected cluster's or provisioned instance's PUT body that Kentra reads. */
interface ArcRequestJson {
  location?: unknown;
  tags?: Record<string, string>;
  extendedLocation?: unknown;
  properties?: {
    aadProfile?: { adminGroupObjectIDs?: string[] | null; tenantID?: string; enableAzureRBAC?: boolean } | null;
    [key: string]: unknown;
  };
}

const CC_TYPE = 'Microsoft.Kubernetes/connectedClusters';
const HYBRID = 'Microsoft.HybridContainerService/provisionedClusterInstances';

function ccJson(r: ArmResource) {
  const { aad } = clusterSecretsOf(r);
  const body = r.body as ClusterBodyJson;
  return {
    id: r.id,
    name: r.name,
    type: CC_TYPE,
    location: r.location,
    tags: r.tags,
    identity: body.identity,
    kind: 'ProvisionedCluster',
    properties: {
      provisioningState: 'Succeeded',
      connectivityStatus: 'Connected',
      kubernetesVersion: body.instance?.properties?.kubernetesVersion ?? null,
      aadProfile: aad
        ? { enableAzureRBAC: aad.enableAzureRBAC, adminGroupObjectIDs: aad.adminGroupObjectIDs, tenantID: aad.tenantID }
        : null,
    },
  };
}

function instanceJson(r: ArmResource) {
  const instance = (r.body as ClusterBodyJson).instance;
  if (!instance) return null;
  return {
    id: `${r.id}/providers/${HYBRID}/default`,
    name: 'default',
    type: HYBRID,
    extendedLocation: instance.extendedLocation,
    properties: { ...instance.properties, provisioningState: 'Succeeded' },
  };
}

export function registerArcRoutes(app: FastifyInstance, o: ControlPlaneOptions): void {
  const { store } = o;
  const ccPath = '/subscriptions/:subscriptionId/resourceGroups/:resourceGroup/providers/Microsoft.Kubernetes/connectedClusters/:name';
  const idOf = (r: ArmRequest) =>
    `/subscriptions/${r.subscription!.id}/resourceGroups/${r.params.resourceGroup}/providers/${CC_TYPE}/${r.params.name}`;
  const find = async (r: ArmRequest, action: string, scope?: string) => {
    const res = await store.getResource(idOf(r));
    await authorize(store, r, scope ?? idOf(r), action);
    if (!res && !(await store.getResource(`/subscriptions/${r.subscription!.id}/resourceGroups/${r.params.resourceGroup}`)))
      throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${r.params.resourceGroup}' could not be found.`);
    if (!res)
      throw new ArmError(
        404,
        'ResourceNotFound',
        `The Resource '${CC_TYPE}/${r.params.name}' under resource group '${r.params.resourceGroup}' was not found.`,
      );
    return res;
  };

  armRoute(app, o, 'PUT', ccPath, async (r) => {
    const rg = await store.getResource(`/subscriptions/${r.subscription!.id}/resourceGroups/${r.params.resourceGroup}`);
    if (!rg) throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${r.params.resourceGroup}' could not be found.`);
    await authorize(store, r, idOf(r), `${CC_TYPE}/write`);
    const body = (r.req.body ?? {}) as ArcRequestJson;
    const existing = await store.getResource(idOf(r));
    const current = existing ? clusterSecretsOf(existing).aad : null;
    const input = body.properties?.aadProfile;
    let aad: AadProfile | null = current;
    if (!input && current)
      throw new ArmError(
        400,
        'AADDisableNotAllowed',
        "Microsoft Entra integration can't be disabled once added. You can still change the admin groups with az aksarc update --aad-admin-group-object-ids.",
      );
    if (input) {
      const groups = input.adminGroupObjectIDs ?? current?.adminGroupObjectIDs ?? null;
      for (const g of groups ?? [])
        if (!isGuid(g)) throw new ArmError(400, 'InvalidAADAdminGroupObjectID', `The admin group object ID '${g}' is not a valid GUID.`);
      for (const g of groups ?? []) {
        if ((await o.isGroup(input.tenantID ?? r.caller.tenantId, g)) === false)
          throw new ArmError(400, 'InvalidAADAdminGroupObjectID', `The admin group object ID '${g}' is not a group.`);
      }
      aad = {
        managed: true,
        enableAzureRBAC: !!(input.enableAzureRBAC ?? current?.enableAzureRBAC),
        adminGroupObjectIDs: groups,
        tenantID: input.tenantID ?? current?.tenantID ?? r.caller.tenantId,
        clientAppID: null,
        serverAppID: null,
      };
    }
    const now = o.clock.now();
    const resource: ArmResource = {
      id: existing?.id ?? idOf(r),
      subscriptionId: r.subscription!.id,
      resourceGroup: rg.name,
      type: CC_TYPE,
      name: existing?.name ?? r.params.name!,
      location: String(body.location ?? existing?.location ?? rg.location).toLowerCase(),
      tags: body.tags ?? existing?.tags ?? {},
      etag: `"${newId()}"`,
      body: {
        ...(existing?.body ?? {}),
        identity: existing
          ? (existing.body as ClusterBodyJson).identity
          : { type: 'SystemAssigned', principalId: newId(), tenantId: r.caller.tenantId },
      },
      secrets: { ...(existing?.secrets ?? { uid: newId(), adminToken: randomBytes(16).toString('hex') }), aad },
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    if (existing) await store.updateResource(resource.id, () => resource);
    else await store.createResource(resource);
    return r.reply.code(existing ? 200 : 201).send(ccJson(resource));
  });
  armRoute(app, o, 'GET', ccPath, async (r) => r.reply.send(ccJson(await find(r, `${CC_TYPE}/read`))));
  armRoute(app, o, 'DELETE', ccPath, async (r) => {
    await authorize(store, r, idOf(r), `${CC_TYPE}/delete`);
    await store.transaction(async (tx) => {
      const res = await tx.getResource(idOf(r));
      if (res && isClusterResource(res)) await tx.deleteKubeObjectsOfCluster(clusterSecretsOf(res).uid);
      await tx.deleteResource(idOf(r));
    });
    return r.reply.code(200).send();
  });

  const instancePath = `${ccPath}/providers/${HYBRID}/default`;
  armRoute(app, o, 'PUT', instancePath, async (r) => {
    const cc = await find(r, `${HYBRID}/write`);
    const body = (r.req.body ?? {}) as ArcRequestJson;
    const properties = {
      kubernetesVersion: body.properties?.kubernetesVersion || '1.29.4',
      controlPlane: body.properties?.controlPlane ?? { count: 1 },
      agentPoolProfiles: body.properties?.agentPoolProfiles ?? [{ name: 'nodepool1', count: 1, osType: 'Linux' }],
      cloudProviderProfile: body.properties?.cloudProviderProfile ?? null,
      networkProfile: body.properties?.networkProfile ?? { networkPolicy: 'calico', podCidr: '10.244.0.0/16' },
      linuxProfile: body.properties?.linuxProfile ?? null,
    };
    const updated = await store.updateResource(cc.id, (x) => ({
      ...x,
      body: { ...x.body, instance: { extendedLocation: body.extendedLocation ?? null, properties } },
      updatedAt: o.clock.now(),
    }));
    return r.reply.code(200).send(instanceJson(updated!));
  });
  armRoute(app, o, 'GET', instancePath, async (r) => {
    const cc = await find(r, `${HYBRID}/read`);
    const json = instanceJson(cc);
    if (!json) throw new ArmError(404, 'ResourceNotFound', 'The provisioned cluster instance was not found.');
    return r.reply.send(json);
  });

  const server = (r: ArmRequest, cc: ArmResource) => ({
    name: cc.name,
    resourceGroup: cc.resourceGroup!,
    server: o.clusterServer(r.origin, clusterSecretsOf(cc).uid),
    serverCaPem: o.serverCaPem,
    kubernetesVersion: String((cc.body as ClusterBodyJson).instance?.properties?.kubernetesVersion ?? '1.29.4'),
    aad: clusterSecretsOf(cc).aad,
  });
  armRoute(app, o, 'POST', `${instancePath}/listUserKubeconfig`, async (r) => {
    const cc = await find(r, `${HYBRID}/listUserKubeconfig/action`, `${idOf(r)}/providers/${HYBRID}/default`);
    const c = server(r, cc);
    if (!c.aad)
      throw new ArmError(
        400,
        'BadRequest',
        'The cluster has no Microsoft Entra integration: use az aksarc get-credentials --admin, or add admin groups with az aksarc update --aad-admin-group-object-ids.',
      );
    return r.reply.send(
      credentialResults('clusterUser', userKubeconfig(c, 'exec', r.origin, { serverId: ARC_SERVER_APP_ID, clientId: ARC_CLIENT_APP_ID })),
    );
  });
  armRoute(app, o, 'POST', `${instancePath}/listAdminKubeconfig`, async (r) => {
    const cc = await find(r, `${HYBRID}/listAdminKubeconfig/action`, `${idOf(r)}/providers/${HYBRID}/default`);
    let current = cc;
    if (!clusterSecretsOf(cc).caCertPem) {
      const ca = await createCertificateAuthority('ca');
      current = (await store.updateResource(cc.id, (x) =>
        clusterSecretsOf(x).caCertPem ? x : withClusterSecrets(x, { caCertPem: ca.certPem, caKeyPem: ca.keyPem }),
      ))!;
    }
    const s = clusterSecretsOf(current);
    const ca = { certPem: s.caCertPem!, keyPem: s.caKeyPem! };
    return r.reply.send(
      credentialResults(
        'clusterAdmin',
        await certificateKubeconfig(server(r, current), 'clusterAdmin', ca, s.adminToken, storedClientCertificates(store, current)),
      ),
    );
  });
}
