import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../shared/clock.js';
import { hashSecret, newId } from '../shared/crypto.js';
import { createCertificateAuthority } from '../pki/index.js';
import type { ArmOperation, ArmResource, Store } from '../store/index.js';
import { ArmError, armLocation, armRoute, authorize, shape, type ArmContext, type ArmRequest } from './arm.js';
import {
  aadProfileJson,
  attachedCaPem,
  attachedClusterProperties,
  clusterProperties,
  decideAadProfile,
  execByDefault,
  isAttached,
  kubernetesVersionList,
  LEGACY_AAD_OPT_IN,
} from './cluster-model.js';
import { checkClusterAccess, parseCheckAccessRequest, type CheckAccessDeps } from './check-access.js';
import {
  clusterSecretsOf,
  isClusterResource,
  pendingOperationOf,
  withClusterSecrets,
  withPendingOperation,
  type ClusterSecrets,
} from './cluster-record.js';
import {
  attachedNoLocalCredential,
  authenticationConfiguration,
  certificateKubeconfig,
  credentialResults,
  localAccountsDisabled,
  storedClientCertificates,
  userKubeconfig,
  webhookKubeconfig,
  type ClusterEndpoint,
} from './credentials.js';

// Resource groups and Microsoft.ContainerService/managedClusters, with ARM's long-running operation
// contract: operations complete when read after their due time, so any instance can finish them.

const MC_TYPE = 'Microsoft.ContainerService/managedClusters';
const RG_TYPE = 'Microsoft.Resources/resourceGroups';
const MC = 'Microsoft.ContainerService/managedClusters';

export interface ControlPlaneOptions extends ArmContext {
  clock: Clock;
  /** How long a create, update or delete stays in progress. */
  provisioningDelayMs: number;
  /** The CA of the API server certificate kubectl sees (Kentra's listener). */
  serverCaPem: string;
  /** The API server URL of a cluster (its endpoint on Kentra's listener). */
  clusterServer(origin: string, clusterUid: string): string;
  /** Is the group id a group of the tenant? null: no such object; false: not a group. */
  isGroup(tenantId: string, id: string): Promise<boolean | null>;
  /** A client certificate from Kentra's CA for a cluster's webhooks (subject O=`cluster:<uid>`). */
  webhookClientCertificate(clusterUid: string): Promise<{ certPem: string; keyPem: string }>;
  /** The cluster API's authenticators and authorizer chain, for the checkAccess action. */
  clusterAccess?: CheckAccessDeps['access'];
  /**
   * With real API servers: brings the cluster's up (or down, when stopped) and says what is wrong, or
   * null when it is as its settings say. A create, update, start or stop finishes only then, as in AKS.
   */
  clusterReady?(clusterUid: string): Promise<string | null>;
  /** With real API servers, the kube-apiserver binary's version (`1.36.3`): every cluster Kentra runs has it. */
  kubernetesVersion?: string;
}

// The shapes of the bodies (what the handlers read is typed; the rest is kept as sent or ignored).
const RG_BODY = shape.body({
  location: shape.string,
  tags: shape.tags,
  managedBy: shape.string,
  properties: shape.object({}, { additional: shape.any }),
});
const AGENT_POOL = shape.object(
  {
    name: shape.string,
    count: shape.integer,
    vmSize: shape.string,
    mode: shape.string,
    osType: shape.string,
    type: shape.string,
    orchestratorVersion: shape.string,
  },
  { additional: shape.any, nullable: false },
);
const AAD_PROFILE = shape.object(
  {
    managed: shape.boolean,
    enableAzureRBAC: shape.boolean,
    adminGroupObjectIDs: shape.array({ type: 'string' }),
    tenantID: shape.string,
    clientAppID: shape.string,
    serverAppID: shape.string,
    serverAppSecret: shape.string,
  },
  { additional: shape.any },
);
const OBJECT = shape.object({}, { additional: shape.any });
const MC_BODY = shape.body({
  location: shape.string,
  tags: shape.tags,
  sku: shape.object({ name: shape.string, tier: shape.string }, { additional: shape.any }),
  identity: OBJECT,
  properties: shape.object(
    {
      kubernetesVersion: shape.string,
      dnsPrefix: shape.string,
      enableRBAC: shape.boolean,
      disableLocalAccounts: shape.boolean,
      nodeResourceGroup: shape.string,
      agentPoolProfiles: shape.array(AGENT_POOL),
      aadProfile: AAD_PROFILE,
      networkProfile: OBJECT,
      linuxProfile: OBJECT,
      windowsProfile: OBJECT,
      addonProfiles: OBJECT,
      oidcIssuerProfile: OBJECT,
      storageProfile: OBJECT,
      securityProfile: OBJECT,
      attachedClusterProfile: OBJECT,
    },
    { additional: shape.any },
  ),
});
const MC_PATCH_BODY = shape.body({ tags: shape.tags });

const rgId = (sub: string, rg: string) => `/subscriptions/${sub}/resourceGroups/${rg}`;
const mcId = (sub: string, rg: string, name: string) => `${rgId(sub, rg)}/providers/${MC_TYPE}/${name}`;
const etagOf = () => `"${newId()}"`;

function rgJson(r: ArmResource) {
  return {
    id: r.id,
    name: r.name,
    type: RG_TYPE,
    location: r.location,
    tags: r.tags,
    properties: { provisioningState: (r.body.provisioningState as string) ?? 'Succeeded' },
  };
}

function clusterJson(r: ArmResource) {
  const body = r.body as { properties: Record<string, unknown>; identity?: unknown; sku?: unknown };
  const { aad } = clusterSecretsOf(r);
  return {
    id: r.id,
    location: r.location,
    name: r.name,
    tags: r.tags,
    type: MC_TYPE,
    eTag: r.etag,
    identity: body.identity,
    sku: body.sku,
    properties: { ...body.properties, aadProfile: aadProfileJson(aad) },
  };
}

export function registerManagedClusterRoutes(app: FastifyInstance, o: ControlPlaneOptions): void {
  const { store } = o;
  const now = () => o.clock.now();

  // ---- long-running operations ----------------------------------------------------------------
  /** A new operation on the resource, written in the same transaction as the resource's change (no orphan rows). */
  const newOperation = (resource: ArmResource, kind: ArmOperation['kind']): ArmOperation => ({
    id: newId(),
    subscriptionId: resource.subscriptionId,
    location: resource.location.toLowerCase(),
    resourceId: resource.id,
    kind,
    status: 'InProgress',
    startTime: now(),
    endTime: null,
    completeAt: now() + o.provisioningDelayMs,
    error: null,
  });
  /** The headers a client polls by, set once the operation is stored. */
  const operationHeaders = (r: ArmRequest, op: ArmOperation) => {
    const kind = op.kind;
    const base = `${r.origin}/subscriptions/${op.subscriptionId}/providers/Microsoft.ContainerService/locations/${op.location}`;
    r.reply.header('azure-asyncoperation', `${base}/operations/${op.id}?api-version=2016-03-30`).header('retry-after', '1');
    if (kind === 'delete') r.reply.header('location', `${base}/operationresults/${op.id}?api-version=2016-03-30`);
  };

  /** Finishes an operation whose time has come: the resource reaches its end state. */
  const settle = async (op: ArmOperation): Promise<ArmOperation> => {
    if (op.status !== 'InProgress' || now() < op.completeAt) return op;
    if (op.kind !== 'delete' && o.clusterReady) {
      const found = await store.getResource(op.resourceId);
      const problem = found && isClusterResource(found) ? await o.clusterReady(clusterSecretsOf(found).uid) : null;
      if (problem) {
        return (await store.transaction(async (tx) => {
          await tx.updateResource(op.resourceId, (res) => ({
            ...withPendingOperation(res, null),
            body: { ...res.body, properties: { ...(res.body as any).properties, provisioningState: 'Failed' } },
          }));
          return tx.updateOperation(op.id, (x) => ({
            ...x,
            status: 'Failed',
            endTime: now(),
            error: { code: 'KubeAPIServerNotReady', message: `The cluster's API server did not start: ${problem}` },
          }));
        }))!;
      }
    }
    return (await store.transaction(async (tx) => {
      if (op.kind === 'delete') {
        // The cluster's Kubernetes objects go with it.
        const res = await tx.getResource(op.resourceId);
        if (res && isClusterResource(res)) await tx.deleteKubeObjectsOfCluster(clusterSecretsOf(res).uid);
        await tx.deleteResource(op.resourceId);
      } else {
        await tx.updateResource(op.resourceId, (res) => {
          const body = res.body as { properties: Record<string, unknown> };
          // An attached cluster has no power state Kentra knows; an emulated one is as last started or stopped.
          const power =
            isAttached(body.properties) || !isClusterResource(res)
              ? {}
              : { powerState: { code: clusterSecretsOf(res).powerState ?? 'Running' } };
          return {
            ...withPendingOperation(res, null),
            body: { ...res.body, properties: { ...body.properties, provisioningState: 'Succeeded', ...power } },
          };
        });
      }
      return tx.updateOperation(op.id, (x) => ({ ...x, status: 'Succeeded', endTime: now() }));
    }))!;
  };

  /** A resource read settles its pending operation first. `read` is the resource as already read, if it was. */
  const load = async (id: string, read?: ArmResource | null): Promise<ArmResource | null> => {
    const res = read !== undefined ? read : await store.getResource(id);
    const pending = res ? pendingOperationOf(res) : null;
    if (!res || !pending) return res;
    const op = await store.getOperation(pending);
    if (op) await settle(op);
    return store.getResource(id);
  };

  const operation = async (r: ArmRequest) => {
    const op = await store.getOperation(r.params.operationId!);
    if (!op || op.subscriptionId !== r.subscription!.id)
      throw new ArmError(404, 'NotFound', `Operation ${r.params.operationId} was not found.`);
    return settle(op);
  };
  // `az aks get-versions -l <location>` (which K8sVersionNotSupported tells users to run).
  armRoute(
    app,
    o,
    'GET',
    '/subscriptions/:subscriptionId/providers/Microsoft.ContainerService/locations/:location/kubernetesVersions',
    async (r) => r.reply.send(kubernetesVersionList(o.kubernetesVersion)),
  );
  armRoute(
    app,
    o,
    'GET',
    '/subscriptions/:subscriptionId/providers/Microsoft.ContainerService/locations/:location/operations/:operationId',
    async (r) => {
      const op = await operation(r);
      const iso = (t: number | null) => (t === null ? undefined : new Date(t).toISOString());
      // Pollers wait Retry-After between polls (azure-core's ARM default is 30 s without it).
      if (op.status === 'InProgress') r.reply.header('retry-after', '1');
      return r.reply.send({
        id: `/subscriptions/${op.subscriptionId}/providers/Microsoft.ContainerService/locations/${op.location}/operations/${op.id}`,
        name: op.id,
        status: op.status,
        startTime: iso(op.startTime),
        endTime: iso(op.endTime),
        ...(op.error ? { error: op.error } : {}),
      });
    },
  );
  armRoute(
    app,
    o,
    'GET',
    '/subscriptions/:subscriptionId/providers/Microsoft.ContainerService/locations/:location/operationresults/:operationId',
    async (r) => {
      const op = await operation(r);
      if (op.status === 'InProgress')
        return r.reply.code(202).header('location', `${r.origin}${r.req.url}`).header('retry-after', '1').send();
      return r.reply.code(204).send();
    },
  );
  armRoute(app, o, 'GET', '/subscriptions/:subscriptionId/operationresults/:operationId', async (r) => {
    const op = await operation(r);
    if (op.status === 'InProgress')
      return r.reply.code(202).header('location', `${r.origin}${r.req.url}`).header('retry-after', '1').send();
    return r.reply.code(200).send();
  });

  // ---- resource groups --------------------------------------------------------------------------
  const rgPath = '/subscriptions/:subscriptionId/resourcegroups/:resourceGroup';
  const findRg = async (r: ArmRequest) => {
    const res = await load(rgId(r.subscription!.id, r.params.resourceGroup!));
    if (!res) throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${r.params.resourceGroup}' could not be found.`);
    return res;
  };
  armRoute(
    app,
    o,
    'PUT',
    rgPath,
    async (r) => {
      const name = r.params.resourceGroup!;
      if (!/^[-\w._()]{1,90}$/.test(name) || name.endsWith('.'))
        throw new ArmError(
          400,
          'InvalidResourceGroup',
          `The provided resource group name '${name}' has these invalid characters. The name can only be a letter, digit, '-', '.', '_', '(', ')' and can not end with '.'`,
        );
      const id = rgId(r.subscription!.id, name);
      await authorize(store, r, id, 'Microsoft.Resources/subscriptions/resourceGroups/write');
      const body = (r.req.body ?? {}) as { location?: string | null; tags?: Record<string, string> | null };
      const existing = await store.getResource(id);
      if (!body.location && !existing)
        throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
      const location = body.location ? armLocation(body.location) : null;
      if (existing && location && location !== existing.location.toLowerCase()) {
        throw new ArmError(
          409,
          'InvalidResourceGroupLocation',
          `Invalid resource group location '${body.location}'. The Resource group already exists in location '${existing.location}'.`,
        );
      }
      if (existing) {
        const updated = await store.updateResource(id, (x) => ({ ...x, tags: body.tags ?? x.tags, updatedAt: now() }));
        return r.reply.code(200).send(rgJson(updated!));
      }
      const rg: ArmResource = {
        id,
        subscriptionId: r.subscription!.id,
        resourceGroup: null,
        type: RG_TYPE,
        name,
        location: location!,
        tags: body.tags ?? {},
        etag: etagOf(),
        body: { provisioningState: 'Succeeded' },
        secrets: {},
        createdAt: now(),
        updatedAt: now(),
      };
      await store.createResource(rg);
      return r.reply.code(201).send(rgJson(rg));
    },
    { body: RG_BODY },
  );
  armRoute(app, o, 'GET', rgPath, async (r) => {
    const rg = await findRg(r);
    await authorize(store, r, rg.id, 'Microsoft.Resources/subscriptions/resourceGroups/read');
    return r.reply.send(rgJson(rg));
  });
  armRoute(app, o, 'GET', '/subscriptions/:subscriptionId/resourcegroups', async (r) => {
    const all = await store.listResources({ subscriptionId: r.subscription!.id, type: RG_TYPE });
    const visible = [];
    for (const rg of all) {
      try {
        await authorize(store, r, rg.id, 'Microsoft.Resources/subscriptions/resourceGroups/read');
        visible.push(rgJson(rg));
      } catch {
        /* not visible to this caller */
      }
    }
    return r.reply.send({ value: visible });
  });
  armRoute(app, o, 'DELETE', rgPath, async (r) => {
    const rg = await findRg(r);
    await authorize(store, r, rg.id, 'Microsoft.Resources/subscriptions/resourceGroups/delete');
    // Deleting a group deletes what is in it: its clusters go first, as one operation.
    const op: ArmOperation = {
      id: newId(),
      subscriptionId: rg.subscriptionId,
      location: rg.location,
      resourceId: rg.id,
      kind: 'delete',
      status: 'InProgress',
      startTime: now(),
      endTime: null,
      completeAt: now() + o.provisioningDelayMs,
      error: null,
    };
    await store.transaction(async (tx) => {
      for (const res of await tx.listResources({ subscriptionId: rg.subscriptionId, resourceGroup: rg.name })) {
        if (isClusterResource(res)) await tx.deleteKubeObjectsOfCluster(clusterSecretsOf(res).uid);
        await tx.deleteResource(res.id);
      }
      await tx.updateResource(rg.id, (x) => ({ ...withPendingOperation(x, op.id), body: { ...x.body, provisioningState: 'Deleting' } }));
      await tx.createOperation(op);
    });
    return r.reply
      .code(202)
      .header('location', `${r.origin}/subscriptions/${rg.subscriptionId}/operationresults/${op.id}?api-version=2021-04-01`)
      .header('retry-after', '1')
      .send();
  });

  // ---- managed clusters ----------------------------------------------------------------------------
  const clusterPath =
    '/subscriptions/:subscriptionId/resourceGroups/:resourceGroup/providers/Microsoft.ContainerService/managedClusters/:name';
  /** The cluster a request names, as its route's `resource` option has it read (with the directory revision). */
  const namedCluster = (params: Record<string, string>) => mcId(params.subscriptionId!, params.resourceGroup!, params.name!);
  const findCluster = async (r: ArmRequest, action: string) => {
    const id = mcId(r.subscription!.id, r.params.resourceGroup!, r.params.name!);
    const res = await load(id, r.named && r.named.id.toLowerCase() === id.toLowerCase() ? r.named.resource : undefined);
    if (!res) {
      await authorize(store, r, id, action);
      // ARM names the missing resource group before the missing resource.
      if (!(await store.getResource(`/subscriptions/${r.subscription!.id}/resourceGroups/${r.params.resourceGroup}`)))
        throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${r.params.resourceGroup}' could not be found.`);
      throw new ArmError(
        404,
        'ResourceNotFound',
        `The Resource '${MC_TYPE}/${r.params.name}' under resource group '${r.params.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
      );
    }
    await authorize(store, r, res.id, action);
    return res;
  };

  armRoute(
    app,
    o,
    'PUT',
    clusterPath,
    async (r) => {
      const sub = r.subscription!;
      const rg = await load(rgId(sub.id, r.params.resourceGroup!));
      if (!rg) throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${r.params.resourceGroup}' could not be found.`);
      const name = r.params.name!;
      if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,61}[A-Za-z0-9]$|^[A-Za-z0-9]$/.test(name))
        throw new ArmError(
          400,
          'InvalidParameter',
          `The cluster name '${name}' is invalid: 1 to 63 letters, numbers, '-' and '_', starting and ending with a letter or number.`,
        );
      const id = mcId(sub.id, rg.name, name);
      await authorize(store, r, id, `${MC}/write`);
      const body = (r.req.body ?? {}) as Record<string, any>;
      if (typeof body !== 'object' || Array.isArray(body))
        throw new ArmError(400, 'InvalidRequestContent', 'The request content must be a JSON object.');
      const existing = await load(id);
      const ifMatch = r.req.headers['if-match'];
      if (ifMatch && ifMatch !== '*' && ifMatch !== existing?.etag)
        throw new ArmError(412, 'PreconditionFailed', `The ETag '${ifMatch}' does not match the cluster's current ETag.`);
      if (r.req.headers['if-none-match'] === '*' && existing) throw new ArmError(412, 'PreconditionFailed', 'The cluster already exists.');
      if (existing && ['Creating', 'Updating', 'Deleting'].includes(String((existing.body as any).properties?.provisioningState))) {
        throw new ArmError(
          409,
          'OperationNotAllowed',
          `Operation is not allowed because there's an in progress ${(existing.body as any).properties.provisioningState.toLowerCase()} operation on the managed cluster. Please wait for it to finish.`,
        );
      }
      const given = body.location ?? existing?.location ?? '';
      if (!given) throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
      const location = armLocation(given, MC_TYPE);
      const props = body.properties ?? {};
      const existingProps = (existing?.body as any)?.properties ?? null;
      if (existingProps && props.enableRBAC !== undefined && props.enableRBAC !== existingProps.enableRBAC) {
        throw new ArmError(
          400,
          'BadRequest',
          "Changing property 'enableRBAC' is not allowed: Kubernetes RBAC is set when the cluster is created.",
        );
      }
      // An attached cluster (Kentra's own property attachedClusterProfile) stays attached; an emulated one stays emulated.
      const attached = isAttached(props) || isAttached(existingProps);
      if (existingProps && isAttached(props) !== isAttached(existingProps)) {
        throw new ArmError(
          400,
          'OperationNotAllowed',
          isAttached(existingProps)
            ? `The cluster '${name}' is attached: keep properties.attachedClusterProfile in the request (an attached cluster cannot become one Kentra runs).`
            : `The cluster '${name}' exists and Kentra runs it: it cannot be attached. Attach under another name.`,
        );
      }
      const properties = attached
        ? attachedClusterProperties(props, existingProps)
        : clusterProperties(props, {
            name,
            resourceGroup: rg.name,
            subscriptionId: sub.id,
            location,
            existing: existingProps,
            realVersion: o.kubernetesVersion,
          });
      if (attached && !props.aadProfile?.managed) {
        throw new ArmError(
          400,
          'AttachedClusterNeedsManagedAAD',
          'An attached cluster uses the managed Microsoft Entra integration: send aadProfile with managed: true (and the admin groups).',
        );
      }
      const legacyOptIn = (await store.getFeature(sub.id, LEGACY_AAD_OPT_IN.namespace, LEGACY_AAD_OPT_IN.name))?.state === 'Registered';
      const prior = existing ? clusterSecretsOf(existing) : null;
      const currentAad = prior?.aad ?? null;
      const decision = decideAadProfile(props.aadProfile, currentAad, {
        enableRBAC: properties.enableRBAC,
        callerTenant: r.caller.tenantId,
        legacyAllowed: legacyOptIn,
        now: now(),
        creating: !existing,
      });
      for (const g of decision.profile?.adminGroupObjectIDs ?? []) {
        if ((await o.isGroup(decision.profile!.tenantID, g)) === false) {
          throw new ArmError(
            400,
            'InvalidAADAdminGroupObjectID',
            `The admin group object ID '${g}' is not a group in tenant ${decision.profile!.tenantID}.`,
          );
        }
      }
      const patch: Partial<ClusterSecrets> = { aad: decision.profile };
      if (decision.serverAppSecret) patch.serverAppSecretHash = await hashSecret(decision.serverAppSecret);
      if (decision.migratedFromLegacy) patch.serverAppSecretHash = null;
      // Also marked in the secrets (never returned): what src/apiserver's runner reads to start no API server for it.
      if (attached) patch.attached = true;
      // The cluster's own CA is made when a certificate credential is first asked for: most clusters never need it.
      if (!existing) Object.assign(patch, { uid: newId(), adminToken: randomBytes(16).toString('hex') });
      const secrets: Record<string, unknown> = { ...(existing?.secrets ?? {}), ...patch };
      const identity = existing
        ? (existing.body as any).identity
        : { principalId: newId(), tenantId: r.caller.tenantId, type: 'SystemAssigned' };
      const draft: ArmResource = {
        id: existing?.id ?? id,
        subscriptionId: sub.id,
        resourceGroup: rg.name,
        type: MC_TYPE,
        name: existing?.name ?? name,
        location,
        tags: body.tags ?? existing?.tags ?? {},
        etag: etagOf(),
        body: {
          identity,
          sku: body.sku ?? (existing?.body as any)?.sku ?? { name: 'Base', tier: 'Free' },
          properties: {
            ...properties,
            provisioningState: existing ? 'Updating' : 'Creating',
            ...(attached ? {} : { powerState: { code: prior?.powerState ?? 'Running' } }),
          },
        },
        secrets,
        createdAt: existing?.createdAt ?? now(),
        updatedAt: now(),
      };
      const op = newOperation(draft, existing ? 'update' : 'create');
      const resource = withPendingOperation(draft, op.id);
      // The operation row and the resource in one transaction: a crash leaves both or neither.
      await store.putResourceWithOperation(resource, op, existing ? 'replace' : 'create');
      operationHeaders(r, op);
      return r.reply.code(existing ? 200 : 201).send(clusterJson(resource));
    },
    { body: MC_BODY },
  );

  armRoute(app, o, 'GET', clusterPath, async (r) => r.reply.send(clusterJson(await findCluster(r, `${MC}/read`))), {
    resource: namedCluster,
  });

  armRoute(
    app,
    o,
    'PATCH',
    clusterPath,
    async (r) => {
      const res = await findCluster(r, `${MC}/write`);
      const body = (r.req.body ?? {}) as Record<string, unknown>;
      const extra = Object.keys(body).filter((k) => k !== 'tags');
      if (extra.length)
        throw new ArmError(
          400,
          'InvalidRequestContent',
          `PATCH on a managed cluster updates tags only; found '${extra.join("', '")}'. Use PUT for other changes.`,
        );
      const updated = await store.updateResource(res.id, (x) => ({
        ...x,
        tags: (body.tags as Record<string, string>) ?? {},
        etag: etagOf(),
        updatedAt: now(),
      }));
      return r.reply.send(clusterJson(updated!));
    },
    { body: MC_PATCH_BODY },
  );

  // az aks start / stop: the power state of a cluster Kentra runs (the built-in sandbox keeps answering
  // while Stopped). An attached cluster runs elsewhere: Kentra cannot start or stop it.
  for (const [verb, code, during] of [
    ['start', 'Running', 'Starting'],
    ['stop', 'Stopped', 'Stopping'],
  ] as const) {
    armRoute(app, o, 'POST', `${clusterPath}/${verb}`, async (r) => {
      const res = await findCluster(r, `${MC}/${verb}/action`);
      const props = (res.body as any).properties;
      if (isAttached(props)) {
        throw new ArmError(
          400,
          'OperationNotAllowed',
          `The cluster '${res.name}' is attached: Kentra does not run it, so it cannot ${verb} it. ${verb === 'start' ? 'Start' : 'Stop'} it where it runs (its control plane at ${props.attachedClusterProfile.serverUrl}).`,
        );
      }
      if (['Creating', 'Updating', 'Deleting', 'Starting', 'Stopping'].includes(String(props.provisioningState))) {
        throw new ArmError(
          409,
          'OperationNotAllowed',
          `Operation is not allowed because there's an in progress ${String(props.provisioningState).toLowerCase()} operation on the managed cluster. Please wait for it to finish.`,
        );
      }
      const op = newOperation(res, 'update');
      await store.transaction(async (tx) => {
        await tx.createOperation(op);
        await tx.updateResource(res.id, (x) => ({
          ...withClusterSecrets(x, { powerState: code, pendingOperation: op.id }),
          etag: etagOf(),
          updatedAt: now(),
          body: { ...x.body, properties: { ...(x.body as any).properties, provisioningState: during } },
        }));
      });
      operationHeaders(r, op);
      return r.reply.code(202).send();
    });
  }

  armRoute(app, o, 'DELETE', clusterPath, async (r) => {
    const id = mcId(r.subscription!.id, r.params.resourceGroup!, r.params.name!);
    await authorize(store, r, id, `${MC}/delete`);
    const res = await load(id);
    if (!res) return r.reply.code(204).send();
    const op = newOperation(res, 'delete');
    await store.transaction(async (tx) => {
      await tx.createOperation(op);
      await tx.updateResource(res.id, (x) => ({
        ...withPendingOperation(x, op.id),
        body: { ...x.body, properties: { ...(x.body as any).properties, provisioningState: 'Deleting' } },
      }));
    });
    operationHeaders(r, op);
    return r.reply.code(202).send();
  });

  const listClusters = async (r: ArmRequest, resourceGroup?: string) => {
    const all = await store.listResources({ subscriptionId: r.subscription!.id, type: MC_TYPE, resourceGroup });
    const value = [];
    for (const res of all) {
      try {
        await authorize(store, r, res.id, `${MC}/read`);
        value.push(clusterJson((await load(res.id)) ?? res));
      } catch (err) {
        // Not visible to this caller; anything else (the store away) is the request's failure, not an empty list.
        if (!(err instanceof ArmError && err.status === 403)) throw err;
      }
    }
    return r.reply.send({ value });
  };
  armRoute(
    app,
    o,
    'GET',
    '/subscriptions/:subscriptionId/resourceGroups/:resourceGroup/providers/Microsoft.ContainerService/managedClusters',
    (r) => listClusters(r, r.params.resourceGroup),
  );
  armRoute(app, o, 'GET', '/subscriptions/:subscriptionId/providers/Microsoft.ContainerService/managedClusters', (r) => listClusters(r));

  // ---- credentials ---------------------------------------------------------------------------------
  const endpoint = (r: ArmRequest, res: ArmResource): ClusterEndpoint => {
    const attached = (res.body as any).properties.attachedClusterProfile;
    return {
      name: res.name,
      resourceGroup: res.resourceGroup!,
      // An attached cluster is reached at its own API server, with the CA given when it was attached.
      server: attached ? attached.serverUrl : o.clusterServer(r.origin, clusterSecretsOf(res).uid),
      serverCaPem: attached ? attachedCaPem(attached) : o.serverCaPem,
      kubernetesVersion: String((res.body as any).properties.kubernetesVersion),
      aad: clusterSecretsOf(res).aad,
    };
  };
  /** Refuses a local (certificate) credential of a cluster Kentra does not run. */
  const notAttached = (res: ArmResource) => {
    if (isAttached((res.body as any).properties)) throw attachedNoLocalCredential(res.name);
  };
  const localCa = async (res: ArmResource) => {
    const s = clusterSecretsOf(res);
    if (s.caCertPem && s.caKeyPem) return { certPem: s.caCertPem, keyPem: s.caKeyPem };
    const ca = await createCertificateAuthority('ca');
    // Two first requests at once: the one stored first wins, and both use it.
    const stored = clusterSecretsOf(
      (await store.updateResource(res.id, (x) =>
        clusterSecretsOf(x).caCertPem ? x : withClusterSecrets(x, { caCertPem: ca.certPem, caKeyPem: ca.keyPem }),
      ))!,
    );
    return { certPem: stored.caCertPem!, keyPem: stored.caKeyPem! };
  };

  armRoute(
    app,
    o,
    'POST',
    `${clusterPath}/listClusterUserCredential`,
    async (r) => {
      const res = await findCluster(r, `${MC}/listClusterUserCredential/action`);
      const c = endpoint(r, res);
      const format = r.query.format?.toLowerCase();
      if (format && format !== 'exec' && format !== 'azure')
        throw new ArmError(400, 'InvalidParameter', `The format '${r.query.format}' is not supported: use 'exec' or 'azure'.`);
      if (!c.aad) {
        notAttached(res);
        if ((res.body as any).properties.disableLocalAccounts) throw localAccountsDisabled();
        return r.reply.send(
          credentialResults(
            'clusterUser',
            await certificateKubeconfig(
              c,
              'clusterUser',
              await localCa(res),
              clusterSecretsOf(res).adminToken,
              storedClientCertificates(store, res),
            ),
          ),
        );
      }
      // An attached cluster's users run today's kubectl whatever its server version: exec by default (a difference from AKS's < 1.24 rule).
      const chosen = (format ?? (execByDefault(c.kubernetesVersion) || isAttached((res.body as any).properties) ? 'exec' : 'azure')) as
        'exec' | 'azure';
      return r.reply.send(credentialResults('clusterUser', userKubeconfig(c, chosen, r.origin)));
    },
    { resource: namedCluster },
  );

  armRoute(app, o, 'POST', `${clusterPath}/listClusterAdminCredential`, async (r) => {
    const res = await findCluster(r, `${MC}/listClusterAdminCredential/action`);
    notAttached(res);
    if ((res.body as any).properties.disableLocalAccounts) throw localAccountsDisabled();
    return r.reply.send(
      credentialResults(
        'clusterAdmin',
        await certificateKubeconfig(
          endpoint(r, res),
          'clusterAdmin',
          await localCa(res),
          clusterSecretsOf(res).adminToken,
          storedClientCertificates(store, res),
        ),
      ),
    );
  });

  // Kentra's own action (no Azure counterpart): what a real kube-apiserver needs to use this cluster's
  // webhooks. Owner and Contributor have it; the AKS data-plane roles do not.
  armRoute(app, o, 'POST', `${clusterPath}/listWebhookCredential`, async (r) => {
    const res = await findCluster(r, `${MC}/listWebhookCredential/action`);
    const { uid } = clusterSecretsOf(res);
    const cert = await o.webhookClientCertificate(uid);
    // The webhooks are on Kentra's listener: Kentra's CA, also for an attached cluster.
    const at = (path: string) =>
      webhookKubeconfig({ ...endpoint(r, res), server: `${r.origin}/clusters/${uid}/webhooks/${path}`, serverCaPem: o.serverCaPem }, cert);
    const hooks = [
      ['tokenReview', 'tokenreviews'],
      ['subjectAccessReview', 'subjectaccessreviews'],
    ] as const;
    const c = endpoint(r, res);
    return r.reply.send({
      kubeconfigs: hooks.flatMap(([name, path]) => credentialResults(name, at(path)).kubeconfigs),
      // The structured alternative to the TokenReview webhook (kube-apiserver 1.30+), for clusters with Entra integration.
      ...(c.aad
        ? {
            authenticationConfiguration: Buffer.from(
              authenticationConfiguration({ aad: c.aad, kubernetesVersion: c.kubernetesVersion }, r.origin, o.serverCaPem),
            ).toString('base64'),
            kubernetesVersion: c.kubernetesVersion,
          }
        : {}),
    });
  });

  // Kentra's own action: one access decision of the cluster's API explained step by step (which token
  // check failed, where the groups came from, each authorizer's answer). It reveals who may do what,
  // so it is held like listWebhookCredential: Owner and Contributor, not Reader. The token is not echoed.
  armRoute(app, o, 'POST', `${clusterPath}/checkAccess`, async (r) => {
    const res = await findCluster(r, `${MC}/checkAccess/action`);
    const q = parseCheckAccessRequest(r.req.body);
    if (!o.clusterAccess) throw new ArmError(501, 'NotImplemented', 'checkAccess is not available on this instance.');
    return r.reply.send(await checkClusterAccess({ store, access: o.clusterAccess }, res, r.origin, q));
  });

  armRoute(app, o, 'POST', `${clusterPath}/listClusterMonitoringUserCredential`, async (r) => {
    const res = await findCluster(r, `${MC}/listClusterMonitoringUserCredential/action`);
    notAttached(res);
    if ((res.body as any).properties.disableLocalAccounts) throw localAccountsDisabled();
    return r.reply.send(
      credentialResults(
        'clusterMonitoringUser',
        await certificateKubeconfig(
          endpoint(r, res),
          'clusterMonitoringUser',
          await localCa(res),
          clusterSecretsOf(res).adminToken,
          storedClientCertificates(store, res),
        ),
      ),
    );
  });
}

export { MC_TYPE, RG_TYPE };
export type { Store };
