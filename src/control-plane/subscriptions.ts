import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpEdge, TokenVerifier } from '../identity/index.js';
import type { Store, Subscription, Tenant } from '../store/index.js';
import { armCaller, ArmError, sendArmError, type ArmCaller } from './arm.js';

function subscriptionBody(s: Subscription) {
  return {
    id: `/subscriptions/${s.id}`, authorizationSource: 'RoleBased', managedByTenants: [], subscriptionId: s.id,
    tenantId: s.tenantId, displayName: s.displayName, state: s.state,
    subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' },
  };
}

function tenantBody(t: Tenant) {
  return {
    id: `/tenants/${t.id}`, tenantId: t.id, countryCode: 'US', displayName: t.displayName, domains: t.domains,
    tenantCategory: 'Home', defaultDomain: t.defaultDomain, tenantType: 'AAD',
  };
}

/** Subscriptions the caller holds any role in (at the subscription or below). */
export async function visibleSubscriptions(store: Store, caller: ArmCaller): Promise<Subscription[]> {
  const assignments = await store.listRoleAssignments({ tenantId: caller.tenantId, principalIds: caller.principalIds });
  const ids = new Set(assignments.map((a) => /^\/subscriptions\/([^/]+)/i.exec(a.scope)?.[1]?.toLowerCase()).filter(Boolean));
  return (await store.listSubscriptions(caller.tenantId)).filter((s) => ids.has(s.id.toLowerCase()));
}

export function registerSubscriptionRoutes(app: FastifyInstance, store: Store, verifier: TokenVerifier, edge: HttpEdge): void {
  const arm = (handler: (req: FastifyRequest, reply: FastifyReply, caller: ArmCaller) => Promise<unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        return await handler(req, reply, await armCaller(req, verifier, store));
      } catch (err) {
        if (err instanceof ArmError) return sendArmError(reply, err, edge.originOf(req));
        throw err;
      }
    };

  app.get('/subscriptions', arm(async (_req, reply, caller) => {
    const subs = await visibleSubscriptions(store, caller);
    return reply.send({ value: subs.map(subscriptionBody), count: { type: 'Total', value: subs.length } });
  }));

  app.get('/subscriptions/:subscriptionId', arm(async (req, reply, caller) => {
    const { subscriptionId } = req.params as { subscriptionId: string };
    const sub = (await visibleSubscriptions(store, caller)).find((s) => s.id.toLowerCase() === subscriptionId.toLowerCase());
    if (!sub) throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${subscriptionId}' could not be found.`);
    return reply.send(subscriptionBody(sub));
  }));

  app.get('/tenants', arm(async (_req, reply, caller) => {
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
  }));

  // Cloud metadata, for `az cloud register --endpoint-resource-manager <this server>` autodetection.
  app.get('/metadata/endpoints', async (req, reply) => {
    const origin = edge.originOf(req);
    return reply.send({
      galleryEndpoint: `${origin}/`, graphEndpoint: 'https://graph.windows.net/', portalEndpoint: `${origin}/`,
      authentication: { loginEndpoint: `${origin}/adfs`, audiences: ['https://management.core.windows.net/', 'https://management.azure.com/'] },
    });
  });
}
