import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ARM_RESOURCE_URIS, InvalidTokenError, type HttpEdge, type TokenVerifier } from '../identity/index.js';
import type { ArmResource, RoleAssignment, Store, Subscription } from '../store/index.js';
import { checkAccess } from './roles.js';

/** An ARM error, answered as `{"error":{"code","message"}}` by the one ARM mapper below. */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ArmError';
  }
}

export function sendArmError(reply: FastifyReply, err: ArmError, authority?: string): FastifyReply {
  if (err.status === 401 && authority) {
    reply.header('www-authenticate', `Bearer authorization_uri="${authority}", error="invalid_token", error_description="${err.message}"`);
  }
  return reply
    .code(err.status)
    .type('application/json; charset=utf-8')
    .send({ error: { code: err.code, message: err.message } });
}

/** Who is calling ARM: the token's tenant, object id and every group the object is in. */
export interface ArmCaller {
  tenantId: string;
  objectId: string;
  principalIds: string[];
  claims: Record<string, unknown>;
  /** The role assignments of the caller and its groups: read once per request, on first use (a request may authorize many scopes). */
  roleAssignments(): Promise<RoleAssignment[]>;
}

export async function armCaller(req: FastifyRequest, verifier: TokenVerifier, store: Store): Promise<ArmCaller> {
  return callerOf(await armClaims(req, verifier), store);
}

/** The claims of the request's ARM token, verified (ARM's 401s otherwise). */
async function armClaims(req: FastifyRequest, verifier: TokenVerifier): Promise<Record<string, unknown>> {
  const header = req.headers.authorization;
  if (!header || !/^bearer /i.test(header)) {
    throw new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
  }
  try {
    return await verifier.verifyAsync(header.slice(7).trim(), { audiences: ARM_RESOURCE_URIS });
  } catch (err) {
    const expired = err instanceof InvalidTokenError && err.code === 'expired';
    throw new ArmError(
      401,
      expired ? 'ExpiredAuthenticationToken' : 'InvalidAuthenticationToken',
      expired
        ? 'The access token expiry UTC time is earlier than current UTC time.'
        : `The access token is invalid. ${(err as Error).message}`,
    );
  }
}

/** The caller a verified token names, with its groups. */
async function callerOf(claims: Record<string, unknown>, store: Store): Promise<ArmCaller> {
  const tenantId = String(claims.tid);
  const objectId = String(claims.oid);
  const principalIds = [objectId, ...(await store.listTransitiveGroupIds(tenantId, objectId))];
  let assignments: Promise<RoleAssignment[]> | undefined;
  const roleAssignments = () => (assignments ??= store.listRoleAssignments({ tenantId, principalIds }));
  return { tenantId, objectId, principalIds, claims, roleAssignments };
}

export interface ArmContext {
  store: Store;
  verifier: TokenVerifier;
  edge: HttpEdge;
  /**
   * The store to read each request's caller (groups, role assignments) and subscription through: the
   * directory cache's view for this request, right across instances by the directory revision
   * (src/identity/oauth/directory-cache.ts). Without it they are read from `store`. Given a resource id,
   * that resource is read in the same statement as the directory revision (one round trip to the
   * store, not two) and returned beside the view.
   */
  cachedReads?: (resourceId?: string) => Promise<{ store: Store; resource?: ArmResource | null }>;
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
  /**
   * The resource the route named in its `resource` option, read with the directory revision before the
   * caller was authorized (`undefined` when it was not read that way). Read, not yet authorized: the
   * handler still authorizes before it answers anything about it.
   */
  named?: { id: string; resource: ArmResource | null };
}

/** Refuses unless the caller holds `action` at `scope` (ARM's AuthorizationFailed, security.md §5.1, otherwise). */
export async function authorize(store: Store, r: ArmRequest, scope: string, action: string): Promise<void> {
  const decision = await checkAccess(store, {
    tenantId: r.caller.tenantId,
    principalIds: r.caller.principalIds,
    scope,
    action,
    assignments: await r.caller.roleAssignments(),
  });
  if (!decision.allowed) {
    const who = String(r.caller.claims.upn ?? r.caller.claims.unique_name ?? r.caller.claims.appid ?? r.caller.objectId);
    throw new ArmError(
      403,
      'AuthorizationFailed',
      `The client '${who}' with object id '${r.caller.objectId}' does not have authorization or an ABAC condition not fulfilled to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
  }
}

// ---- request bodies ------------------------------------------------------------------------------------
// Every ARM body is checked at the edge, before a handler sees it: no string with U+0000 or a lone
// surrogate (the stores cannot keep them), a bounded depth, and the shape of its resource type. A
// mismatch is ARM's 400 InvalidRequestContent, so a handler never meets a value of the wrong type.

/** The shape of a JSON body. Every property is optional unless `required`; `null` only where `nullable`. */
export type BodySchema =
  | { type: 'any' }
  | { type: 'string' | 'boolean' | 'integer'; nullable?: boolean }
  | { type: 'array'; items: BodySchema; nullable?: boolean }
  | { type: 'object'; properties?: Record<string, BodySchema>; additional?: BodySchema; required?: string[]; nullable?: boolean };

const MAX_BODY_DEPTH = 32;
const invalidContent = (reason: string, path: string) =>
  new ArmError(400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: '${reason} Path '${path}'.'.`);
const kindOf = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' && Number.isInteger(v) ? 'integer' : typeof v;
/** U+0000 or an unpaired surrogate: text neither store can keep. */
const unstorable = (s: string) => /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
const join = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

/** Throws ARM's InvalidRequestContent unless `value` has the shape `schema` (and no string the stores refuse). */
export function checkBody(value: unknown, schema: BodySchema = { type: 'any' }, path = '', depth = 0): void {
  if (depth > MAX_BODY_DEPTH) throw invalidContent(`The content is nested deeper than ${MAX_BODY_DEPTH} levels.`, path);
  if (typeof value === 'string' && unstorable(value)) throw invalidContent('A string holds U+0000 or an unpaired surrogate.', path);
  if (value === null && schema.type !== 'any' && !schema.nullable) throw invalidContent('Null is not a valid value here.', path);
  if (schema.type !== 'any' && value !== null && kindOf(value) !== schema.type) {
    throw invalidContent(
      `Expected ${schema.type === 'object' ? 'an object' : schema.type === 'array' ? 'an array' : `a ${schema.type}`}, found ${kindOf(value) === 'object' ? 'an object' : kindOf(value) === 'array' ? 'an array' : kindOf(value)}.`,
      path,
    );
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkBody(item, schema.type === 'array' ? schema.items : { type: 'any' }, join(path, i), depth + 1));
  } else if (value !== null && typeof value === 'object') {
    const props = schema.type === 'object' ? (schema.properties ?? {}) : {};
    for (const key of schema.type === 'object' ? (schema.required ?? []) : []) {
      if ((value as Record<string, unknown>)[key] === undefined)
        throw invalidContent(`Required property '${key}' not found in JSON.`, join(path, key));
    }
    for (const [key, item] of Object.entries(value)) {
      if (unstorable(key)) throw invalidContent('A property name holds U+0000 or an unpaired surrogate.', path);
      const own = Object.hasOwn(props, key) ? props[key] : schema.type === 'object' ? schema.additional : undefined;
      checkBody(item, own ?? { type: 'any' }, join(path, key), depth + 1);
    }
  }
}

/** Names in the path go to the store: one with a control character or an unpaired surrogate names nothing. */
function checkPathParams(params: Record<string, string>): void {
  for (const [key, value] of Object.entries(params)) {
    if (typeof value !== 'string' || !(unstorable(value) || /[\u0000-\u001f\u007f]/.test(value))) continue;
    const shown = JSON.stringify(value.slice(0, 100)).slice(1, -1);
    throw key === 'subscriptionId'
      ? new ArmError(400, 'InvalidSubscriptionId', `The provided subscription identifier '${shown}' is malformed or invalid.`)
      : new ArmError(
          400,
          'InvalidResourceName',
          `The name '${shown}' in the request URI is not valid: it holds a control character or an unpaired surrogate.`,
        );
  }
}

/** Schema builders. Values are nullable unless said: ARM clients send null for what they leave unset. */
export const shape = {
  any: { type: 'any' } as BodySchema,
  string: { type: 'string', nullable: true } as BodySchema,
  boolean: { type: 'boolean', nullable: true } as BodySchema,
  integer: { type: 'integer', nullable: true } as BodySchema,
  array: (items: BodySchema): BodySchema => ({ type: 'array', items, nullable: true }),
  object: (
    properties: Record<string, BodySchema> = {},
    more: { additional?: BodySchema; required?: string[]; nullable?: boolean } = {},
  ): BodySchema => ({ type: 'object', properties, nullable: true, ...more }),
  /** A request body: an object, never null. */
  body: (properties: Record<string, BodySchema>): BodySchema => ({ type: 'object', properties, nullable: false }),
  /** ARM tags: a map of strings. */
  tags: { type: 'object', additional: { type: 'string' }, nullable: true } as BodySchema,
};

/** A location as ARM normalizes it ("East US" → "eastus"); anything that cannot be a region name is refused. */
export function armLocation(location: string, resourceType?: string): string {
  const normalized = location.toLowerCase().replace(/ /g, '');
  if (!/^[a-z][a-z0-9]{1,63}$/.test(normalized)) {
    const shown = JSON.stringify(location.slice(0, 100)).slice(1, -1);
    throw resourceType
      ? new ArmError(
          400,
          'LocationNotAvailableForResourceType',
          `The provided location '${shown}' is not available for resource type '${resourceType}'. A location is a region name of letters and digits, such as 'eastus'.`,
        )
      : new ArmError(
          400,
          'LocationNotAvailableForResourceGroup',
          `The provided location '${shown}' is not available for resource group. A location is a region name of letters and digits, such as 'eastus'.`,
        );
  }
  return normalized;
}

/** Registers an ARM route: bearer token, api-version, the subscription, the body's shape, and ARM's error envelope. */
export function armRoute(
  app: FastifyInstance,
  ctx: ArmContext,
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  handler: (r: ArmRequest) => Promise<unknown>,
  opts: {
    body?: BodySchema;
    /** The resource the handler reads first, from the path's (checked) parameters: read with the directory revision. */
    resource?: (params: Record<string, string>) => string;
  } = {},
): void {
  app.route({
    method,
    url,
    handler: async (req, reply) => {
      try {
        const query = (req.query ?? {}) as Record<string, string | undefined>;
        const params = req.params as Record<string, string>;
        if (!query['api-version'])
          throw new ArmError(
            400,
            'MissingApiVersionParameter',
            'The api-version query parameter (?api-version=) is required for all requests.',
          );
        checkPathParams(params);
        const claims = await armClaims(req, ctx.verifier);
        // Once the token is good, the subscription is read while the caller's groups are, and the
        // caller's role assignments (every ARM route authorizes) while the subscription and the resource
        // are. A failure is reported where the read is awaited. Through the directory cache, all three
        // usually cost one read of the directory revision.
        const namedId = opts.resource?.(params);
        const cached = ctx.cachedReads ? await ctx.cachedReads(namedId) : null;
        const reads = cached ? cached.store : ctx.store;
        const named = namedId !== undefined && cached?.resource !== undefined ? { id: namedId, resource: cached.resource } : undefined;
        const subscriptionRead = params.subscriptionId ? reads.getSubscription(params.subscriptionId.toLowerCase()) : null;
        subscriptionRead?.catch(() => {});
        const caller = await callerOf(claims, reads);
        caller.roleAssignments().catch(() => {});
        let subscription: Subscription | null = null;
        if (subscriptionRead) {
          subscription = await subscriptionRead;
          if (!subscription || subscription.tenantId !== caller.tenantId) {
            throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${params.subscriptionId}' could not be found.`);
          }
        }
        if (req.body !== undefined) checkBody(req.body, opts.body);
        return await handler({
          req,
          reply,
          caller,
          origin: ctx.edge.originOf(req),
          params,
          query,
          subscription,
          ...(named ? { named } : {}),
        });
      } catch (err) {
        if (err instanceof ArmError) return sendArmError(reply, err, ctx.edge.originOf(req));
        throw err;
      }
    },
  });
}
