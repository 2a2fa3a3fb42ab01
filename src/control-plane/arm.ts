import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ARM_RESOURCE_URIS, InvalidTokenError, type HttpEdge, type TokenVerifier } from '../identity/index.js';
import type { Store, Subscription } from '../store/index.js';
import { checkAccess } from './roles.js';

/** An ARM error, answered as `{"error":{"code","message"}}` by the one ARM mapper below. */
export class ArmError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ArmError';
  }
}

export function sendArmError(reply: FastifyReply, err: ArmError, authority?: string): FastifyReply {
  if (err.status === 401 && authority) {
    reply.header('www-authenticate', `Bearer authorization_uri="${authority}", error="invalid_token", error_description="${err.message}"`);
  }
  return reply.code(err.status).type('application/json; charset=utf-8').send({ error: { code: err.code, message: err.message } });
}

/** Who is calling ARM: the token's tenant, object id and every group the object is in. */
export interface ArmCaller {
  tenantId: string;
  objectId: string;
  principalIds: string[];
  claims: Record<string, unknown>;
}

export async function armCaller(req: FastifyRequest, verifier: TokenVerifier, store: Store): Promise<ArmCaller> {
  const header = req.headers.authorization;
  if (!header || !/^bearer /i.test(header)) {
    throw new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
  }
  let claims: Record<string, unknown>;
  try {
    claims = await verifier.verifyAsync(header.slice(7).trim(), { audiences: ARM_RESOURCE_URIS });
  } catch (err) {
    const expired = err instanceof InvalidTokenError && err.reason === 'expired';
    throw new ArmError(401, expired ? 'ExpiredAuthenticationToken' : 'InvalidAuthenticationToken',
      expired ? 'The access token expiry UTC time is earlier than current UTC time.' : `The access token is invalid. ${(err as Error).message}`);
  }
  const tenantId = String(claims.tid);
  const objectId = String(claims.oid);
  const groups = await store.listTransitiveGroupIds(tenantId, objectId);
  return { tenantId, objectId, principalIds: [objectId, ...groups], claims };
}


export interface ArmContext {
  store: Store;
  verifier: TokenVerifier;
  edge: HttpEdge;
}

export interface ArmRequest {
  req: FastifyRequest;
  reply: FastifyReply;
  caller: ArmCaller;
  origin: string;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  /** The subscription in the path, checked to exist in the caller's tenant. */
  subscription: Subscription | null;
}

/** Refuses unless the caller holds `action` at `scope` (ARM's AuthorizationFailed otherwise). */
export async function authorize(store: Store, r: ArmRequest, scope: string, action: string): Promise<void> {
  const decision = await checkAccess(store, { tenantId: r.caller.tenantId, principalIds: r.caller.principalIds, scope, action });
  if (!decision.allowed) {
    const who = String(r.caller.claims.upn ?? r.caller.claims.unique_name ?? r.caller.claims.appid ?? r.caller.objectId);
    throw new ArmError(403, 'AuthorizationFailed', `The client '${who}' with object id '${r.caller.objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`);
  }
}

/** Registers an ARM route: bearer token, api-version, the subscription, and ARM's error envelope. */
export function armRoute(app: FastifyInstance, ctx: ArmContext, method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE', url: string, handler: (r: ArmRequest) => Promise<unknown>): void {
  app.route({
    method, url,
    handler: async (req, reply) => {
      try {
        const query = (req.query ?? {}) as Record<string, string | undefined>;
        const params = req.params as Record<string, string>;
        if (!query['api-version']) throw new ArmError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
        const caller = await armCaller(req, ctx.verifier, ctx.store);
        let subscription: Subscription | null = null;
        if (params.subscriptionId) {
          subscription = await ctx.store.getSubscription(params.subscriptionId.toLowerCase());
          if (!subscription || subscription.tenantId !== caller.tenantId) {
            throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${params.subscriptionId}' could not be found.`);
          }
        }
        return await handler({ req, reply, caller, origin: ctx.edge.originOf(req), params, query, subscription });
      } catch (err) {
        if (err instanceof ArmError) return sendArmError(reply, err, ctx.edge.originOf(req));
        throw err;
      }
    },
  });
}
