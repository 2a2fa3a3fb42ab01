import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpEdge, TokenVerifier } from '../identity/index.js';
import type { Store, Subscription, Tenant } from '../store/index.js';
import { armCaller, ArmError, sendArmError, type ArmCaller } from './arm.js';

function subscriptionBody(s: Subscription) {
  return {
    id: `/subscriptions/${s.id}`,
    authorizationSource: 'RoleBased',
    managedByTenants: [],
    subscriptionId: s.id,
    tenantId: s.tenantId,
    displayName: s.displayName,
    state: s.state,
    subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' },
  };
}

function tenantBody(t: Tenant) {
  return {
    id: `/tenants/${t.id}`,
    tenantId: t.id,
    countryCode: 'US',
    displayName: t.displayName,
    domains: t.domains,
    tenantCategory: 'Home',
    defaultDomain: t.defaultDomain,
    tenantType: 'AAD',
  };
}

// ---- cloud metadata (GET /metadata/endpoints) ------------------------------------------------------------
// Three shapes, by api-version, as ARM answers them: before 2019-05-01 the msrestazure object (Debian's
// az 2.45 registers with 2015-01-01; its login endpoint is the ADFS-style path it needs, docs/azure-cli.md);
// from 2019-05-01 a list of clouds (what ARM_CLOUD_METADATA_URL reads); from 2022-09-01 the one cloud
// object that today's `az cloud register` maps with `_arm_to_cli_mapper`, whose Entra endpoint is the
// tenant authority itself (today's az turns instance discovery off with core.instance_discovery=false).

const METADATA_API_VERSIONS = ['2015-01-01', '2019-05-01', '2020-06-01', '2022-09-01'];

function metadataShape(apiVersion: unknown): 'legacy' | 'list' | 'cloud' | null {
  if (apiVersion === undefined) return 'legacy';
  if (typeof apiVersion !== 'string' || !/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(apiVersion)) return null;
  const date = apiVersion.slice(0, 10);
  return date < '2019-05-01' ? 'legacy' : date < '2022-09-01' ? 'list' : 'cloud';
}

function legacyCloudMetadata(origin: string) {
  return {
    galleryEndpoint: `${origin}/`,
    graphEndpoint: 'https://graph.windows.net/',
    portalEndpoint: `${origin}/`,
    authentication: {
      loginEndpoint: `${origin}/adfs`,
      audiences: ['https://management.core.windows.net/', 'https://management.azure.com/'],
    },
  };
}

function cloudMetadata(origin: string) {
  return {
    name: 'Kentra',
    portal: `${origin}/`,
    resourceManager: `${origin}/`,
    gallery: `${origin}/`,
    authentication: {
      loginEndpoint: origin,
      audiences: ['https://management.core.windows.net/', 'https://management.azure.com/'],
      tenant: 'common',
      identityProvider: 'AAD',
    },
    graph: 'https://graph.windows.net/',
    graphAudience: 'https://graph.windows.net/',
    microsoftGraphResourceId: `${origin}/`,
    suffixes: {
      acrLoginServer: 'azurecr.io',
      keyVaultDns: 'vault.azure.net',
      storage: 'core.windows.net',
      sqlServerHostname: 'database.windows.net',
    },
  };
}

/** Subscriptions the caller holds any role in (at the subscription or below). */
export async function visibleSubscriptions(store: Store, caller: ArmCaller): Promise<Subscription[]> {
  const assignments = await caller.roleAssignments();
  const ids = new Set(assignments.map((a) => /^\/subscriptions\/([^/]+)/i.exec(a.scope)?.[1]?.toLowerCase()).filter(Boolean));
  return (await store.listSubscriptions(caller.tenantId)).filter((s) => ids.has(s.id.toLowerCase()));
}

export function registerSubscriptionRoutes(app: FastifyInstance, store: Store, verifier: TokenVerifier, edge: HttpEdge): void {
  const arm =
    (handler: (req: FastifyRequest, reply: FastifyReply, caller: ArmCaller) => Promise<unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        return await handler(req, reply, await armCaller(req, verifier, store));
      } catch (err) {
        if (err instanceof ArmError) return sendArmError(reply, err, edge.originOf(req));
        throw err;
      }
    };

  app.get(
    '/subscriptions',
    arm(async (_req, reply, caller) => {
      const subs = await visibleSubscriptions(store, caller);
      return reply.send({ value: subs.map(subscriptionBody), count: { type: 'Total', value: subs.length } });
    }),
  );

  app.get(
    '/subscriptions/:subscriptionId',
    arm(async (req, reply, caller) => {
      const { subscriptionId } = req.params as { subscriptionId: string };
      const sub = (await visibleSubscriptions(store, caller)).find((s) => s.id.toLowerCase() === subscriptionId.toLowerCase());
      if (!sub) throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${subscriptionId}' could not be found.`);
      return reply.send(subscriptionBody(sub));
    }),
  );

  app.get(
    '/tenants',
    arm(async (_req, reply, caller) => {
      const ids = new Set([caller.tenantId]);
      const home = await store.getUser(caller.tenantId, caller.objectId);
      const homeTenant = home?.userType === 'Guest' ? home.homeTenantId : home ? home.tenantId : null;
      const homeId = home?.userType === 'Guest' ? home.homeObjectId : home?.id;
      if (homeTenant && homeId) {
        ids.add(homeTenant);
        for (const g of await store.listGuestAccounts(homeTenant, homeId)) ids.add(g.tenantId);
      }
      const tenants = (await Promise.all([...ids].map((id) => store.getTenant(id)))).filter((t): t is Tenant => !!t);
      return reply.send({ value: tenants.map(tenantBody) });
    }),
  );

  // Cloud metadata, for `az cloud register --endpoint-resource-manager <this server>` autodetection.
  app.get('/metadata/endpoints', async (req, reply) => {
    const origin = edge.originOf(req);
    const apiVersion = (req.query as Record<string, unknown>)['api-version'];
    const shape = metadataShape(apiVersion);
    if (!shape) {
      const shown = String(apiVersion)
        .slice(0, 100)
        .replace(/[^\w.-]/g, '?');
      return sendArmError(
        reply,
        new ArmError(
          400,
          'InvalidApiVersionParameter',
          `The api-version '${shown}' is invalid. The supported versions are '${METADATA_API_VERSIONS.join(',')}'.`,
        ),
      );
    }
    if (shape === 'legacy') return reply.send(legacyCloudMetadata(origin));
    return reply.send(shape === 'list' ? [cloudMetadata(origin)] : cloudMetadata(origin));
  });
}
