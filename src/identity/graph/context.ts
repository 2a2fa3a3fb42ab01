import type { JsonObject } from '../../shared/json.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isGuid } from '../../shared/crypto.js';
import {
  StoreError,
  type Application,
  type ListOptions,
  type Page,
  type ServicePrincipal,
  type Store,
  type Tenant,
  type User,
} from '../../store/index.js';
import { DirectoryError } from '../directory/directory.js';
import type { IdentityServices } from '../oauth/context.js';
import type { HttpEdge } from '../oauth/routes.js';
import type { TokenVerifier } from '../tokens/verify.js';
import { graphAudiences, graphCaller, requireRead, type Area, type GraphCaller } from './caller.js';
import { GraphError, graphErrors, sendGraphError } from './errors.js';
import { applicationJson, groupJson, servicePrincipalJson, typed, userJson } from './shapes.js';
import { decodeComponent } from '../../shared/uri.js';
import { applySelect, keyedSkipToken, linkWithSkipToken, listQuery, page, type ListQuery } from './odata.js';

export const GRAPH_MAX_MEMBER_OBJECTS = 11_000;

export interface GraphContext {
  services: IdentityServices;
  verifier: TokenVerifier;
  edge: HttpEdge;
}

export interface GraphRequest {
  services: IdentityServices;
  req: FastifyRequest;
  reply: FastifyReply;
  caller: GraphCaller;
  tenant: Tenant;
  store: Store;
  /** `https://host:port/v1.0`, for @odata.context and nextLink. */
  base: string;
  params: Record<string, string>;
  query: Record<string, unknown>;
}

type Handler = (r: GraphRequest) => Promise<unknown>;

/**
 * Registers a Graph route: authenticates the caller and answers errors in Graph's envelope.
 *
 * The caller, its directory roles and its tenant are read through the instance's directory cache
 * (src/identity/oauth/directory-cache.ts: one revision read, then the answers cached under it, right
 * across instances). `cachedReads` gives the handler that cache's store too: for actions that only
 * read a few objects and their memberships; any other handler reads the store itself.
 */
export function graphRoute(
  app: FastifyInstance,
  ctx: GraphContext,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  handler: Handler,
  opts: { cachedReads?: boolean } = {},
): void {
  const isGraphAudience = graphAudiences(ctx.services.isOwnOrigin);
  const cache = ctx.services.directoryCache;
  app.route({
    method,
    url: `/v1.0${path}`,
    handler: async (req, reply) => {
      try {
        const servicesOf = async () => (cache ? cache.forRequest() : ctx.services);
        const { caller, tenant, services: cached } = await graphCaller(req, ctx.verifier, servicesOf, isGraphAudience);
        if (!tenant) throw graphErrors.unauthenticated('The tenant of the token no longer exists.');
        const services = opts.cachedReads ? cached : ctx.services;
        return await handler({
          services,
          req,
          reply,
          caller,
          tenant,
          store: services.store,
          base: `${ctx.edge.originOf(req)}/v1.0`,
          params: req.params as Record<string, string>,
          query: (req.query ?? {}) as Record<string, unknown>,
        });
      } catch (err) {
        if (err instanceof GraphError) return sendGraphError(req, reply, err);
        if (err instanceof DirectoryError || err instanceof StoreError) {
          const status = err.code === 'not_found' ? 404 : 400;
          const code =
            err.code === 'not_found' ? 'Request_ResourceNotFound' : err.code === 'conflict' ? 'Request_BadRequest' : 'Request_BadRequest';
          return sendGraphError(req, reply, new GraphError(status, code, err.message));
        }
        throw err;
      }
    },
  });
}

/**
 * `GET <collection>/:id`: one directory object, for a caller with the read right on its area, in its
 * shape (`view`) with `$select` applied. Its reads go through the directory cache (`cachedReads`), so
 * `view` may only read what the cache keeps.
 */
export function objectByIdRoute(
  app: FastifyInstance,
  ctx: GraphContext,
  collection: string,
  o: { area: Area; resource: string; filters: string[]; view: (r: GraphRequest) => Promise<Record<string, unknown>> },
): void {
  graphRoute(
    app,
    ctx,
    'GET',
    `/${collection}/:id`,
    async (r) => {
      requireRead(r.caller, o.area);
      const q = listQuery(r.query, r.req.headers, o.resource, o.filters);
      return r.reply.send({ '@odata.context': `${r.base}/$metadata#${collection}/$entity`, ...applySelect(await o.view(r), q.select) });
    },
    { cachedReads: true },
  );
}

/** The JSON object body of a request, refusing properties the resource does not have. */
export function jsonBody(r: GraphRequest, allowed: string[], type: string): JsonObject {
  const body = r.req.body;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw graphErrors.badRequest('The request body must be a JSON object.');
  for (const key of Object.keys(body)) {
    if (key.startsWith('@odata.')) continue;
    if (!allowed.includes(key))
      throw graphErrors.badRequest(`Property '${key}' does not exist as a declared property or extension property of '${type}'.`);
  }
  return body as JsonObject;
}

export function requireString(body: JsonObject, key: string, type: string): string {
  const v = body[key];
  if (typeof v !== 'string' || !v.trim())
    throw graphErrors.badRequest(`Property '${key}' is required on '${type}' and must be a non-empty string.`);
  return v;
}

/** How many directory objects a user without a directory role may own (security.md §4.4: Entra's 250). */
export const MEMBER_OBJECT_QUOTA = 250;

/**
 * Before a user without a directory role creates an application or a group: the objects it owns
 * (applications, groups, service principals) must be fewer than MEMBER_OBJECT_QUOTA (Entra counts what a non-admin user created;
 * Kentra keeps no deleted objects, so only those that exist count). Administrators and apps have no quota here.
 */
export async function checkObjectQuota(r: GraphRequest): Promise<void> {
  if (r.caller.kind !== 'user' || r.caller.directoryRoleIds.size > 0) return;
  if ((await r.store.listOwnedObjects(r.tenant.id, r.caller.objectId)).length >= MEMBER_OBJECT_QUOTA) throw graphErrors.quotaExceeded();
}

/** A value Graph types as a string: the string, null, or undefined when absent; anything else is a 400 naming `name`. */
export function stringOrNull(value: unknown, name: string): string | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== 'string') throw graphErrors.badRequest(`Property '${name}' must be a string.`);
  return value;
}

/** A string property of a body that may be absent (undefined) or null; anything else but a string is a 400. */
export function optionalString(body: JsonObject, key: string): string | null | undefined {
  return stringOrNull(body[key], key);
}

/**
 * A value Graph types as a list of strings (of GUIDs with `guids`), named `name` in the 400 otherwise;
 * undefined when absent, and null an empty list when `nullIsEmpty`.
 */
export function stringList(value: unknown, name: string, opts: { guids?: boolean; nullIsEmpty?: boolean } = {}): string[] | undefined {
  if (value === undefined) return undefined;
  if (value === null && opts.nullIsEmpty) return [];
  if (!Array.isArray(value) || value.some((x) => typeof x !== 'string' || (opts.guids && !isGuid(x))))
    throw graphErrors.badRequest(`Property '${name}' must be an array of ${opts.guids ? 'GUIDs' : 'strings'}.`);
  return value as string[];
}

export function optionalStringArray(body: JsonObject, key: string): string[] | undefined {
  return stringList(body[key], key);
}

export function requireGuid(value: string | undefined, what: string): string {
  if (!value || !isGuid(value)) throw graphErrors.badRequest(`Invalid object identifier '${value ?? ''}' for ${what}.`);
  return value.toLowerCase();
}

/** The object id in a `{"@odata.id": ".../directoryObjects/{id}"}` reference body. */
export function referenceId(r: GraphRequest): string {
  const body = r.req.body as Record<string, unknown> | undefined;
  const ref = body?.['@odata.id'];
  if (typeof ref !== 'string') throw graphErrors.badRequest("The reference body must have '@odata.id'.");
  const id = ref.split('/').pop() ?? '';
  return requireGuid(id.replace(/^directoryObjects\(|'|\)$/g, ''), 'the referenced object');
}

async function collect<T>(list: (after?: string) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  do {
    const page = await list(after);
    out.push(...page.items);
    after = page.next;
  } while (after);
  return out;
}

/**
 * One page of a tenant-wide collection (users, groups, applications, service principals), in the
 * store's order. Without $filter, $count or a page counted by position, only the page is read, by key,
 * and the store's cursor goes in the next link's $skiptoken: a page of 100 reads 100 rows, not the whole
 * tenant. With them every item is read, as they need. `json` makes the objects $filter sees (only the
 * page's, when read by key), `shape` what each shown object becomes (by default, $select applied).
 */
export async function tenantPage<T>(
  r: GraphRequest,
  q: ListQuery,
  opts: {
    list: (options: ListOptions) => Promise<Page<T>>;
    json: (items: T[]) => Record<string, unknown>[] | Promise<Record<string, unknown>[]>;
    context: string;
    keep?: (item: T) => boolean;
    shape?: (object: Record<string, unknown>) => Record<string, unknown>;
  },
): Promise<Record<string, unknown>> {
  const keep = opts.keep ?? (() => true);
  const shape = opts.shape ?? ((o: Record<string, unknown>) => applySelect(o, q.select));
  const url = new URL(r.req.url, r.base);
  if (q.filter || q.count || q.skip > 0) {
    const all = (await collect((after) => opts.list({ limit: 1000, after }))).filter(keep);
    const body = page(await opts.json(all), { ...q, select: null }, url, opts.context);
    return { ...body, value: (body.value as Record<string, unknown>[]).map(shape) };
  }
  const items: T[] = [];
  let after = q.after;
  do {
    const read = await opts.list({ limit: q.top - items.length, after });
    items.push(...read.items.filter(keep));
    after = read.next;
  } while (items.length < q.top && after);
  const body: Record<string, unknown> = { '@odata.context': opts.context, value: (await opts.json(items)).map(shape) };
  if (after) body['@odata.nextLink'] = linkWithSkipToken(url, keyedSkipToken(after));
  return body;
}

/** A user by object id or UPN. */
export async function findUser(r: GraphRequest, idOrUpn: string): Promise<User> {
  const key = decodeComponent(idOrUpn).replace(/^\('|'\)$/g, '');
  const user = isGuid(key) ? await r.store.getUser(r.tenant.id, key.toLowerCase()) : await r.store.findUserByUpn(r.tenant.id, key);
  if (!user) throw graphErrors.notFound(key);
  return user;
}

/**
 * Microsoft's documented address of an application or a service principal by its appId has no slash
 * before the key: `/applications(appId='…')`, `/servicePrincipals(appId='…')/…`. The router splits
 * paths at slashes only, so such a URL gets one before routing and reaches the routes that take
 * `/applications/{id}` (findApplication and findServicePrincipal read the key in either form).
 */
const KEY_IN_PARENTHESES = /^\/v1\.0\/(?:applications|servicePrincipals)(?=\(|%28)/i;
export function graphRoutableUrl(url: string): string {
  const m = KEY_IN_PARENTHESES.exec(url);
  return m ? `${m[0]}/${url.slice(m[0].length)}` : url;
}

/**
 * An application by object id, `(appId='…')` or `(uniqueName='…')`; null when there is none. Microsoft's own
 * applications are not found: a customer tenant holds only their service principals (the list hides them too).
 */
export async function applicationByKey(r: GraphRequest, key: string): Promise<Application | null> {
  const app = await anyApplicationByKey(r, key);
  return app?.firstParty ? null : app;
}

/** The application a key names, Microsoft's own included. */
async function anyApplicationByKey(r: GraphRequest, key: string): Promise<Application | null> {
  const byAppId = /^\(appId='([^']+)'\)$/i.exec(key) ?? /^appId=([0-9a-f-]+)$/i.exec(key);
  if (byAppId) return r.store.findApplicationByAppId(r.tenant.id, byAppId[1]!.toLowerCase());
  const uniqueName = uniqueNameKey(key);
  if (uniqueName !== null) return r.store.findApplicationByUniqueName(r.tenant.id, uniqueName);
  return isGuid(key) ? r.store.getApplication(r.tenant.id, key.toLowerCase()) : null;
}

/** An application by object id, `(appId='…')` or `(uniqueName='…')`, or Graph's 404. */
export async function findApplication(r: GraphRequest, key: string): Promise<Application> {
  const app = await applicationByKey(r, key);
  if (!app) throw graphErrors.notFound(key);
  return app;
}

/** Longest uniqueName accepted (Graph does not document one; this keeps keys and indexes small). */
export const MAX_UNIQUE_NAME = 120;

/**
 * Characters no uniqueName may hold: control characters (C0 and C1), invisible format characters (bidi
 * overrides, zero-width spaces and joiners) and line or paragraph separators, so that two names that look
 * the same are the same name.
 */
const UNIQUE_NAME_REFUSED = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/**
 * The uniqueName of a `(uniqueName='…')` key (an OData string: a quote inside is doubled), or null when
 * the key is not of that form. A name that is empty, too long, starts or ends with a space, or holds a
 * character of UNIQUE_NAME_REFUSED is a 400.
 */
export function uniqueNameKey(key: string): string | null {
  const m = /^\(uniqueName='((?:[^']|'')*)'\)$/i.exec(key);
  if (!m) return null;
  const name = m[1]!.replace(/''/g, "'");
  if (!name || name.length > MAX_UNIQUE_NAME || UNIQUE_NAME_REFUSED.test(name) || name.trim() !== name)
    throw graphErrors.badRequest(
      `A uniqueName is 1 to ${MAX_UNIQUE_NAME} characters, does not start or end with a space, and holds no control, invisible formatting or line separator character.`,
    );
  return name;
}

export async function findServicePrincipal(r: GraphRequest, key: string): Promise<ServicePrincipal> {
  const byAppId = /^\(appId='([^']+)'\)$/i.exec(key);
  const sp = byAppId
    ? await r.store.findServicePrincipalByAppId(r.tenant.id, byAppId[1]!.toLowerCase())
    : isGuid(key)
      ? await r.store.getServicePrincipal(r.tenant.id, key.toLowerCase())
      : null;
  if (!sp) throw graphErrors.notFound(key);
  return sp;
}

export async function applicationView(r: GraphRequest, app: Application): Promise<Record<string, unknown>> {
  return applicationJson(app, r.tenant, {
    passwords: await r.store.listPasswordCredentials(r.tenant.id, app.id),
    keys: await r.store.listKeyCredentials(r.tenant.id, app.id),
  });
}

export async function servicePrincipalView(r: GraphRequest, sp: ServicePrincipal): Promise<Record<string, unknown>> {
  return servicePrincipalJson(sp, await r.store.findApplicationByAppId(r.tenant.id, sp.appId), r.tenant, {
    passwords: await r.store.listPasswordCredentials(r.tenant.id, sp.id),
    keys: await r.store.listKeyCredentials(r.tenant.id, sp.id),
  });
}

/** Any directory object by id, typed, or null. */
export async function directoryObject(r: GraphRequest, id: string): Promise<Record<string, unknown> | null> {
  const { store, tenant } = r;
  const user = await store.getUser(tenant.id, id);
  if (user) return typed('user', userJson(user));
  const group = await store.getGroup(tenant.id, id);
  if (group) return typed('group', groupJson(group));
  const sp = await store.getServicePrincipal(tenant.id, id);
  if (sp) return typed('servicePrincipal', await servicePrincipalView(r, sp));
  const app = await store.getApplication(tenant.id, id);
  if (app && !app.firstParty) return typed('application', await applicationView(r, app));
  return null;
}

/** The transitive groups of an object (getMemberGroups), capped as Graph caps them. */
export async function memberGroups(r: GraphRequest, objectId: string, securityEnabledOnly: boolean): Promise<string[]> {
  let ids = await r.store.listTransitiveGroupIds(r.tenant.id, objectId);
  if (securityEnabledOnly) {
    const security = new Set((await r.store.getGroups(r.tenant.id, ids)).filter((g) => g.securityEnabled).map((g) => g.id));
    ids = ids.filter((id) => security.has(id));
  }
  if (ids.length > GRAPH_MAX_MEMBER_OBJECTS) throw graphErrors.tooMany();
  return ids;
}

/** A value Graph types as a boolean, named `name` in the 400 otherwise; undefined when absent. */
export function booleanValue(value: unknown, name: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw graphErrors.badRequest(`Property '${name}' must be a boolean.`);
  return value;
}

export function boolField(body: JsonObject, key: string): boolean | undefined {
  return booleanValue(body[key], key);
}

export const noContent = (reply: FastifyReply) => reply.code(204).send();
