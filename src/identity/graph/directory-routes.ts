import type { JsonObject } from '../../shared/json.js';
import type { FastifyInstance } from 'fastify';
import { hashSecret, isGuid } from '../../shared/crypto.js';
import { compareIds, type Group, type GroupMember, type User } from '../../store/index.js';
import { Directory } from '../directory/directory.js';
import { canChangeUser, isGlobalAdmin, protectingRoleIds, requireRead, requireSomeWrite, requireWrite, type UserChange } from './caller.js';
import {
  boolField,
  tenantPage,
  directoryObject,
  findUser,
  graphRoute,
  objectByIdRoute,
  jsonBody,
  memberGroups,
  noContent,
  referenceId,
  requireGuid,
  requireString,
  servicePrincipalView,
  type GraphContext,
  type GraphRequest,
  checkObjectQuota,
} from './context.js';
import { graphErrors } from './errors.js';
import { listQuery, page, pageJson, pageOf, applySelect } from './odata.js';
import { groupJson, typed, USER_DEFAULT_SELECT, userDefault, userJson } from './shapes.js';

const USER_FILTERS = [
  'id',
  'displayName',
  'userPrincipalName',
  'mail',
  'mailNickname',
  'accountEnabled',
  'userType',
  'givenName',
  'surname',
];
const GROUP_FILTERS = ['id', 'displayName', 'mailNickname', 'securityEnabled', 'mailEnabled', 'description'];
const USER_WRITABLE = [
  'accountEnabled',
  'displayName',
  'mailNickname',
  'userPrincipalName',
  'passwordProfile',
  'givenName',
  'surname',
  'jobTitle',
  'mail',
  'onPremisesImmutableId',
  'usageLocation',
  'passwordPolicies',
];
const GROUP_WRITABLE = [
  'displayName',
  'mailNickname',
  'mailEnabled',
  'securityEnabled',
  'description',
  'groupTypes',
  'visibility',
  'owners@odata.bind',
  'members@odata.bind',
];
/** Graph creates at most 20 owners and members together with a group. */
const MAX_BOUND_ON_CREATE = 20;

/** What a user PATCH changes, in the terms of Entra's tables (security.md §4.2, §4.3). */
/** A user request body as the routes read it (the password is checked by checkPassword). */
interface UserBody {
  passwordProfile?: { password?: unknown };
  mail?: string | null;
  [key: string]: unknown;
}
/** A group request body as the routes read it (description is stored as given). */
interface GroupBody {
  description?: string | null;
  [key: string]: unknown;
}

function userChanges(body: Record<string, unknown>): Set<UserChange> {
  const changes = new Set<UserChange>();
  for (const key of Object.keys(body)) {
    if (key.startsWith('@odata.')) continue;
    if (['passwordProfile', 'passwordPolicies', 'businessPhones', 'mobilePhone', 'otherMails'].includes(key)) changes.add('password');
    else if (['accountEnabled', 'userPrincipalName', 'onPremisesImmutableId'].includes(key)) changes.add('sensitive');
    else changes.add('properties');
  }
  if (changes.size === 0) changes.add('properties');
  return changes;
}

/** The object ids of an `owners@odata.bind` / `members@odata.bind` list of `…/directoryObjects/{id}`-style URLs. */
function boundIds(body: JsonObject, key: string): string[] {
  const v = body[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw graphErrors.badRequest(`Property '${key}' must be an array of directory object URLs.`);
  return [
    ...new Set(
      v.map((url: string) => {
        const last = url.split('/').pop() ?? '';
        const id = /^[a-z]+\('([^']*)'\)$/i.exec(last)?.[1] ?? /^\('?([^')]*)'?\)$/.exec(last)?.[1] ?? last;
        if (!isGuid(id))
          throw graphErrors.badRequest(`Invalid value specified for property '${key}': '${url}' does not name a directory object.`);
        return id.toLowerCase();
      }),
    ),
  ];
}

/** Entra's default password rule: 8 to 256 characters with three of lower, upper, digit, symbol. */
function checkPassword(password: unknown): string {
  if (typeof password !== 'string') throw graphErrors.badRequest("Property 'passwordProfile.password' is required.");
  const classes = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (password.length < 8 || password.length > 256 || classes < 3) {
    throw graphErrors.badRequest(
      'The specified password does not comply with password complexity requirements. Please provide a different password.',
    );
  }
  return password;
}

function userView(u: User, select: string[] | null): Record<string, unknown> {
  return select ? applySelect(userJson(u), select) : userDefault(u);
}

/**
 * `make`, remembered for what the directory cache shares (frozen, one per revision: its answers never
 * change), and made afresh for anything else.
 */
function onceShared<K extends object, V>(make: (k: K) => V): (k: K) => V {
  const made = new WeakMap<K, V>();
  return (k) => {
    if (!Object.isFrozen(k)) return make(k);
    let v = made.get(k);
    if (v === undefined) {
      v = make(k);
      made.set(k, v);
    }
    return v;
  };
}

const JSON_UTF8 = 'application/json; charset=utf-8';

/** A shared list's answers, one per base URL (at most a few: the hosts Kentra answers to), encoded once. */
const idsAnswers = onceShared((_ids: readonly string[]) => new Map<string, Buffer>());

/** A Collection(Edm.String) answer; a shared list's is made and encoded once. */
function sendIds(r: GraphRequest, ids: readonly string[]): unknown {
  const answers = idsAnswers(ids);
  let body = answers.get(r.base);
  if (body === undefined) {
    const context = JSON.stringify(`${r.base}/$metadata#Collection(Edm.String)`);
    body = Buffer.from(`{"@odata.context":${context},"value":${JSON.stringify(ids)}}`);
    if (answers.size < 8) answers.set(r.base, body);
  }
  return r.reply.type(JSON_UTF8).send(body);
}

/** Ids sorted as the store's getGroups sorts its groups. */
const sortedIds = onceShared((ids: readonly string[]): readonly string[] => [...ids].sort(compareIds));

/** A group as a directoryObject (typed) in Graph's JSON; frozen when shared. */
const groupObject = onceShared((g: Group) => {
  const view = typed('group', groupJson(g));
  return Object.isFrozen(g) ? Object.freeze(view) : view;
});

/** Its JSON text. */
const groupText = onceShared((g: Group) => JSON.stringify(groupObject(g)));

/**
 * The directory objects of group members, in their order, each read by its member type (a page's users
 * in one getUsers, its groups in one getGroups); a member gone since its membership was read is left out.
 */
async function memberObjects(r: GraphRequest, members: readonly GroupMember[]): Promise<Record<string, unknown>[]> {
  const { store, tenant } = r;
  const idsOf = (type: GroupMember['memberType']) => members.filter((m) => m.memberType === type).map((m) => m.memberId);
  const [groups, users] = await Promise.all([store.getGroups(tenant.id, idsOf('group')), store.getUsers(tenant.id, idsOf('user'))]);
  const group = new Map(groups.map((g) => [g.id, g]));
  const user = new Map(users.map((u) => [u.id, u]));
  const objects = await Promise.all(
    members.map(async (m): Promise<Record<string, unknown> | null> => {
      if (m.memberType === 'group') {
        const g = group.get(m.memberId);
        return g ? groupObject(g) : null;
      }
      if (m.memberType === 'user') {
        const u = user.get(m.memberId);
        return u ? typed('user', userJson(u)) : null;
      }
      const sp = await store.getServicePrincipal(tenant.id, m.memberId);
      return sp ? typed('servicePrincipal', await servicePrincipalView(r, sp)) : null;
    }),
  );
  return objects.filter((o): o is Record<string, unknown> => o !== null);
}

/** The groups (and, for getMemberObjects, directory roles) an object is in: the POST actions Graph has on every object. */
function memberActions(app: FastifyInstance, ctx: GraphContext, prefix: string, resolve: (r: GraphRequest) => Promise<string>): void {
  // They read one object and its memberships: from the directory cache, like the caller.
  const action = (name: string, handler: (r: GraphRequest) => Promise<unknown>) =>
    graphRoute(app, ctx, 'POST', `${prefix}/${name}`, handler, { cachedReads: true });
  action('getMemberGroups', async (r) => {
    requireRead(r.caller, 'member');
    const body = jsonBody(r, ['securityEnabledOnly'], 'getMemberGroups');
    return sendIds(r, await memberGroups(r, await resolve(r), boolField(body, 'securityEnabledOnly') ?? false));
  });
  action('getMemberObjects', async (r) => {
    requireRead(r.caller, 'member');
    const body = jsonBody(r, ['securityEnabledOnly'], 'getMemberObjects');
    const id = await resolve(r);
    const groups = await memberGroups(r, id, boolField(body, 'securityEnabledOnly') ?? false);
    const roles = (await r.store.listDirectoryRoleAssignments(r.tenant.id, id)).map((x) => x.roleTemplateId);
    return sendIds(r, [...groups, ...roles]);
  });
  action('checkMemberGroups', async (r) => {
    requireRead(r.caller, 'member');
    const body = jsonBody(r, ['groupIds'], 'checkMemberGroups');
    if (
      !Array.isArray(body.groupIds) ||
      body.groupIds.length === 0 ||
      body.groupIds.length > 20 ||
      body.groupIds.some((g: unknown) => typeof g !== 'string')
    ) {
      throw graphErrors.badRequest("Property 'groupIds' must list 1 to 20 group ids.");
    }
    const all = new Set(await r.store.listTransitiveGroupIds(r.tenant.id, await resolve(r)));
    return sendIds(
      r,
      (body.groupIds as string[]).filter((g) => all.has(g.toLowerCase())),
    );
  });
  const listGroups = (transitive: boolean) => async (r: GraphRequest) => {
    requireRead(r.caller, 'member');
    const id = await resolve(r);
    const ids = transitive ? await r.store.listTransitiveGroupIds(r.tenant.id, id) : await r.store.listDirectGroupIds(r.tenant.id, id);
    const q = listQuery(r.query, r.req.headers, 'Group', GROUP_FILTERS);
    const url = new URL(r.req.url, r.base);
    const context = `${r.base}/$metadata#directoryObjects`;
    if (!q.filter) {
      // Without $filter the page is known from the ids alone, in getGroups' order (by id): only its groups
      // are read, not the other hundreds.
      const sorted = sortedIds(ids);
      const wanted = sorted.slice(q.skip, q.skip + q.top);
      const groups = await r.store.getGroups(r.tenant.id, wanted);
      if (groups.length === wanted.length) {
        if (q.select) return r.reply.send(pageOf(groups.map(groupObject), sorted.length, q, url, context));
        return r.reply.type(JSON_UTF8).send(pageJson(groups.map(groupText), sorted.length, q, url, context));
      }
      // A group went between the two reads (a delete committed in between): read them all, as with $filter.
    }
    const groups = await r.store.getGroups(r.tenant.id, [...ids]);
    return r.reply.send(page(groups.map(groupObject), q, url, context));
  };
  // Like the member actions, from the directory cache: the ids are read once per directory revision.
  graphRoute(app, ctx, 'GET', `${prefix}/memberOf`, listGroups(false), { cachedReads: true });
  graphRoute(app, ctx, 'GET', `${prefix}/transitiveMemberOf`, listGroups(true), { cachedReads: true });
}

export function registerDirectoryRoutes(app: FastifyInstance, ctx: GraphContext): void {
  // ---- users --------------------------------------------------------------------------------
  graphRoute(app, ctx, 'GET', '/users', async (r) => {
    requireRead(r.caller, 'user');
    const q = listQuery(r.query, r.req.headers, 'User', USER_FILTERS);
    const body = await tenantPage(r, q, {
      list: (options) => r.store.listUsers(r.tenant.id, options),
      json: (users) => users.map(userJson),
      context: `${r.base}/$metadata#users`,
      shape: (u) => applySelect(u, q.select ?? USER_DEFAULT_SELECT),
    });
    return r.reply.send(body);
  });

  graphRoute(app, ctx, 'POST', '/users', async (r) => {
    requireWrite(r.caller, 'user');
    const body = jsonBody(r, USER_WRITABLE, 'microsoft.graph.user') as UserBody;
    const upn = requireString(body, 'userPrincipalName', 'user');
    const displayName = requireString(body, 'displayName', 'user');
    const mailNickname = requireString(body, 'mailNickname', 'user');
    if (typeof body.accountEnabled !== 'boolean')
      throw graphErrors.badRequest("Property 'accountEnabled' is required and must be a boolean.");
    const password = checkPassword(body.passwordProfile?.password);
    const domain = upn.split('@')[1]?.toLowerCase() ?? '';
    if (!/^[^@\s]+@[^@\s]+$/.test(upn) || !r.tenant.domains.includes(domain)) {
      throw graphErrors.badRequest(
        `Property userPrincipalName is invalid: the domain '${domain}' is not a verified domain of this tenant (${r.tenant.domains.join(', ')}).`,
      );
    }
    if (await r.store.findUserByUpn(r.tenant.id, upn)) {
      throw graphErrors.badRequest('Another object with the same value for property userPrincipalName already exists.');
    }
    const user = await new Directory(r.store, r.services.clock).createUser({
      tenantId: r.tenant.id,
      userPrincipalName: upn,
      displayName,
      password,
      mailNickname,
      accountEnabled: body.accountEnabled,
      mail: body.mail ?? null,
    });
    return r.reply.code(201).send({ '@odata.context': `${r.base}/$metadata#users/$entity`, ...userDefault(user) });
  });

  graphRoute(
    app,
    ctx,
    'GET',
    '/users/:id',
    async (r) => {
      const user = await findUser(r, r.params.id!);
      if (user.id !== r.caller.objectId) requireRead(r.caller, 'user');
      const q = listQuery(r.query, r.req.headers, 'User', USER_FILTERS);
      return r.reply.send({ '@odata.context': `${r.base}/$metadata#users/$entity`, ...userView(user, q.select) });
    },
    { cachedReads: true },
  );

  graphRoute(app, ctx, 'PATCH', '/users/:id', async (r) => {
    const body = jsonBody(r, USER_WRITABLE, 'microsoft.graph.user') as UserBody;
    // Refused before the look-up when the caller could not make these changes even to a user without roles.
    if (!canChangeUser(r.caller, new Set(), userChanges(body))) throw graphErrors.denied();
    const user = await findUser(r, r.params.id!);
    // The target is protected by every role it holds: checked before anything is read from the values.
    if (!canChangeUser(r.caller, await protectingRoleIds(r.store, r.tenant.id, user.id), userChanges(body))) throw graphErrors.denied();
    const next: User = { ...user };
    if (body.displayName !== undefined) next.displayName = requireString(body, 'displayName', 'user');
    if (body.mailNickname !== undefined) next.mailNickname = requireString(body, 'mailNickname', 'user');
    if (body.accountEnabled !== undefined) next.accountEnabled = boolField(body, 'accountEnabled')!;
    if (body.mail !== undefined) {
      if (body.mail !== null && typeof body.mail !== 'string') throw graphErrors.badRequest("Property 'mail' must be a string or null.");
      next.mail = body.mail;
    }
    if (body.userPrincipalName !== undefined) {
      const upn = requireString(body, 'userPrincipalName', 'user');
      if (!r.tenant.domains.includes(upn.split('@')[1]?.toLowerCase() ?? ''))
        throw graphErrors.badRequest('Property userPrincipalName is invalid.');
      next.userPrincipalName = upn;
    }
    if (body.passwordProfile !== undefined) next.passwordHash = await hashSecret(checkPassword(body.passwordProfile?.password));
    await r.store.transaction(async (tx) => {
      await tx.updateUser(r.tenant.id, user.id, () => next);
      // A new password or a disabled account ends every session, as in Entra.
      if (next.passwordHash !== user.passwordHash || !next.accountEnabled)
        await tx.revokeRefreshTokensOfUser(r.tenant.id, user.id, Date.now());
    });
    return noContent(r.reply);
  });

  graphRoute(app, ctx, 'DELETE', '/users/:id', async (r) => {
    if (!canChangeUser(r.caller, new Set(), ['delete'])) throw graphErrors.denied();
    const user = await findUser(r, r.params.id!);
    if (!canChangeUser(r.caller, await protectingRoleIds(r.store, r.tenant.id, user.id), ['delete'])) throw graphErrors.denied();
    if (user.id === r.caller.objectId) throw graphErrors.badRequest('You cannot delete the account you are signed in with.');
    await r.store.transaction(async (tx) => {
      await tx.deleteUser(r.tenant.id, user.id);
      await tx.revokeRefreshTokensOfUser(r.tenant.id, user.id, Date.now());
    });
    return noContent(r.reply);
  });
  memberActions(app, ctx, '/users/:id', async (r) => (await findUser(r, r.params.id!)).id);

  // ---- organization --------------------------------------------------------------------------
  // The tenant itself (Graph `organization`): any member reads company info and all domains (DEFPERM,
  // reference/security.md §4.8); an application needs Directory.Read.All or above.
  graphRoute(app, ctx, 'GET', '/organization', async (r) => {
    if (r.caller.kind === 'app') requireRead(r.caller, 'directory');
    const t = r.tenant;
    return r.reply.send({
      '@odata.context': `${r.base}/$metadata#organization`,
      value: [
        {
          id: t.id,
          displayName: t.displayName,
          createdDateTime: new Date(t.createdAt).toISOString(),
          tenantType: 'AAD',
          countryLetterCode: null,
          verifiedDomains: t.domains.map((name) => ({
            capabilities: 'None',
            isDefault: name === t.defaultDomain,
            isInitial: name === t.defaultDomain,
            name,
            type: 'Managed',
          })),
        },
      ],
    });
  });

  // ---- me -----------------------------------------------------------------------------------
  const me = async (r: GraphRequest) => {
    if (r.caller.kind === 'app') throw graphErrors.badRequest('/me request is only valid with delegated authentication flow.');
    return r.caller.objectId;
  };
  // The caller is already read through the directory cache (graphRoute), so its profile comes from there too.
  graphRoute(
    app,
    ctx,
    'GET',
    '/me',
    async (r) => {
      const user = await findUser(r, await me(r));
      const q = listQuery(r.query, r.req.headers, 'User', USER_FILTERS);
      return r.reply.send({ '@odata.context': `${r.base}/$metadata#users/$entity`, ...userView(user, q.select) });
    },
    { cachedReads: true },
  );
  graphRoute(app, ctx, 'GET', '/me/ownedObjects', async (r) => {
    const owned = await r.store.listOwnedObjects(r.tenant.id, await me(r));
    const objects = (await Promise.all(owned.map((o) => directoryObject(r, o.objectId)))).filter((o): o is Record<string, unknown> => !!o);
    return r.reply.send({ '@odata.context': `${r.base}/$metadata#directoryObjects`, value: objects });
  });
  memberActions(app, ctx, '/me', me);

  // ---- groups -------------------------------------------------------------------------------
  const findGroup = async (r: GraphRequest): Promise<Group> => {
    const id = requireGuid(r.params.id, 'the group');
    const group = await r.store.getGroup(r.tenant.id, id);
    if (!group) throw graphErrors.notFound(id);
    return group;
  };
  const owns = async (r: GraphRequest, objectId: string) =>
    (await r.store.listOwners(r.tenant.id, objectId)).some((o) => o.ownerId === r.caller.objectId);

  graphRoute(app, ctx, 'GET', '/groups', async (r) => {
    requireRead(r.caller, 'group');
    const q = listQuery(r.query, r.req.headers, 'Group', GROUP_FILTERS);
    const body = await tenantPage(r, q, {
      list: (options) => r.store.listGroups(r.tenant.id, options),
      json: (groups) => groups.map(groupJson),
      context: `${r.base}/$metadata#groups`,
    });
    return r.reply.send(body);
  });

  graphRoute(app, ctx, 'POST', '/groups', async (r) => {
    requireWrite(r.caller, 'group', { create: true });
    await checkObjectQuota(r);
    const body = jsonBody(r, GROUP_WRITABLE, 'microsoft.graph.group') as GroupBody;
    const displayName = requireString(body, 'displayName', 'group');
    const mailNickname = requireString(body, 'mailNickname', 'group');
    const securityEnabled = boolField(body, 'securityEnabled');
    const mailEnabled = boolField(body, 'mailEnabled');
    if (securityEnabled === undefined || mailEnabled === undefined)
      throw graphErrors.badRequest("Properties 'mailEnabled' and 'securityEnabled' are required.");
    if (mailEnabled || (body.groupTypes && (!Array.isArray(body.groupTypes) || body.groupTypes.length))) {
      throw graphErrors.badRequest('Only security groups (mailEnabled false, no groupTypes) can be created in this directory.');
    }
    if (body.description !== undefined && body.description !== null && typeof body.description !== 'string')
      throw graphErrors.badRequest("Property 'description' must be a string or null.");
    const ownerIds = boundIds(body, 'owners@odata.bind');
    const memberIds = boundIds(body, 'members@odata.bind');
    if (ownerIds.length + memberIds.length > MAX_BOUND_ON_CREATE)
      throw graphErrors.badRequest(`At most ${MAX_BOUND_ON_CREATE} owners and members can be added when a group is created.`);
    // The group, its owners and its members in one transaction: a bad reference creates nothing.
    const group = await r.store.transaction(async (tx) => {
      const dir = new Directory(tx, r.services.clock);
      const g = await dir.createGroup({
        tenantId: r.tenant.id,
        displayName,
        mailNickname,
        description: body.description ?? null,
        securityEnabled,
        mailEnabled,
      });
      const owners = new Set(ownerIds);
      if (r.caller.kind === 'user' && !isGlobalAdmin(r.caller)) owners.add(r.caller.objectId);
      for (const ownerId of owners) {
        const type = await dir.objectType(r.tenant.id, ownerId);
        if (type !== 'user' && type !== 'servicePrincipal') {
          throw graphErrors.badRequest(
            `Invalid value specified for property 'owners@odata.bind': '${ownerId}' ${type ? 'is not a user or service principal' : 'does not exist'}.`,
          );
        }
        await tx.addOwner({ tenantId: r.tenant.id, objectId: g.id, objectType: 'group', ownerId });
      }
      for (const memberId of memberIds) {
        if (!(await dir.objectType(r.tenant.id, memberId)))
          throw graphErrors.badRequest(`Invalid value specified for property 'members@odata.bind': '${memberId}' does not exist.`);
        await dir.addGroupMember(r.tenant.id, g.id, memberId);
      }
      return g;
    });
    return r.reply.code(201).send({ '@odata.context': `${r.base}/$metadata#groups/$entity`, ...groupJson(group) });
  });

  objectByIdRoute(app, ctx, 'groups', {
    area: 'group',
    resource: 'Group',
    filters: GROUP_FILTERS,
    view: async (r) => groupJson(await findGroup(r)),
  });

  graphRoute(app, ctx, 'PATCH', '/groups/:id', async (r) => {
    requireSomeWrite(r.caller, 'group');
    const group = await findGroup(r);
    requireWrite(r.caller, 'group', { owner: await owns(r, group.id) });
    const body = jsonBody(r, ['displayName', 'mailNickname', 'description', 'visibility'], 'microsoft.graph.group') as GroupBody;
    await r.store.updateGroup(r.tenant.id, group.id, (g) => ({
      ...g,
      displayName: body.displayName !== undefined ? requireString(body, 'displayName', 'group') : g.displayName,
      mailNickname: body.mailNickname !== undefined ? requireString(body, 'mailNickname', 'group') : g.mailNickname,
      description: body.description !== undefined ? body.description : g.description,
    }));
    return noContent(r.reply);
  });

  graphRoute(app, ctx, 'DELETE', '/groups/:id', async (r) => {
    requireSomeWrite(r.caller, 'group');
    const group = await findGroup(r);
    requireWrite(r.caller, 'group', { owner: await owns(r, group.id) });
    // Directory.ReadWrite.All does not delete groups (Graph's permission reference).
    if (r.caller.kind === 'app' && !r.caller.permissions.has('Group.ReadWrite.All')) throw graphErrors.denied();
    // Allowed even when a cluster names it as an admin group, as in Entra: the cluster then holds a dangling id.
    await r.store.deleteGroup(r.tenant.id, group.id);
    return noContent(r.reply);
  });

  const listMembers = (transitive: boolean) => async (r: GraphRequest) => {
    requireRead(r.caller, 'member');
    const group = await findGroup(r);
    const q = listQuery(r.query, r.req.headers, 'DirectoryObject', ['id', 'displayName', 'userPrincipalName', 'appId']);
    let members = await r.store.listGroupMembers(r.tenant.id, group.id);
    if (transitive) {
      // Breadth first through the nested groups only (a user or a service principal has no members).
      const seen = new Map<string, GroupMember>();
      const queue = [...members];
      for (let i = 0; i < queue.length; i++) {
        const m = queue[i]!;
        if (seen.has(m.memberId)) continue;
        seen.set(m.memberId, m);
        if (m.memberType === 'group') queue.push(...(await r.store.listGroupMembers(r.tenant.id, m.memberId)));
      }
      members = [...seen.values()];
    }
    const url = new URL(r.req.url, r.base);
    const context = `${r.base}/$metadata#directoryObjects`;
    if (!q.filter) {
      // Without $filter the page is known from the memberships alone (by id, as memberOf's): only its
      // objects are read, not every member's.
      const sorted = [...members].sort((a, b) => compareIds(a.memberId, b.memberId));
      const wanted = sorted.slice(q.skip, q.skip + q.top);
      const objects = await memberObjects(r, wanted);
      if (objects.length === wanted.length) return r.reply.send(pageOf(objects, sorted.length, q, url, context));
      // A member went between the two reads (a delete committed in between): read them all, as with $filter.
    }
    return r.reply.send(page(await memberObjects(r, members), q, url, context));
  };
  // Like memberOf, from the directory cache: the memberships are read once per directory revision.
  graphRoute(app, ctx, 'GET', '/groups/:id/members', listMembers(false), { cachedReads: true });
  graphRoute(app, ctx, 'GET', '/groups/:id/transitiveMembers', listMembers(true), { cachedReads: true });

  graphRoute(app, ctx, 'POST', '/groups/:id/members/$ref', async (r) => {
    requireSomeWrite(r.caller, 'member');
    const group = await findGroup(r);
    requireWrite(r.caller, 'member', { owner: await owns(r, group.id) });
    const memberId = referenceId(r);
    const existing = await r.store.listGroupMembers(r.tenant.id, group.id);
    if (existing.some((m) => m.memberId === memberId)) {
      throw graphErrors.badRequest("One or more added object references already exist for the following modified properties: 'members'.");
    }
    await new Directory(r.store, r.services.clock).addGroupMember(r.tenant.id, group.id, memberId);
    return noContent(r.reply);
  });

  graphRoute(app, ctx, 'DELETE', '/groups/:id/members/:memberId/$ref', async (r) => {
    requireSomeWrite(r.caller, 'member');
    const group = await findGroup(r);
    requireWrite(r.caller, 'member', { owner: await owns(r, group.id) });
    const memberId = requireGuid(r.params.memberId, 'the member');
    if (!(await r.store.removeGroupMember(r.tenant.id, group.id, memberId))) throw graphErrors.notFound(memberId);
    return noContent(r.reply);
  });
  memberActions(app, ctx, '/groups/:id', async (r) => (await findGroup(r)).id);

  // ---- directory objects ---------------------------------------------------------------------
  // One object by id, read through the directory cache as GET <collection>/{id} is (objectByIdRoute);
  // getByIds below reads up to 1,000 at once from the store instead of filling the cache with them.
  graphRoute(
    app,
    ctx,
    'GET',
    '/directoryObjects/:id',
    async (r) => {
      requireRead(r.caller, 'directory');
      const object = await directoryObject(r, requireGuid(r.params.id, 'the object'));
      if (!object) throw graphErrors.notFound(r.params.id!);
      return r.reply.send({ '@odata.context': `${r.base}/$metadata#directoryObjects/$entity`, ...object });
    },
    { cachedReads: true },
  );

  graphRoute(app, ctx, 'POST', '/directoryObjects/getByIds', async (r) => {
    requireRead(r.caller, 'directory');
    const body = jsonBody(r, ['ids', 'types'], 'getByIds');
    if (!Array.isArray(body.ids) || body.ids.length > 1000 || body.ids.some((i: unknown) => typeof i !== 'string'))
      throw graphErrors.badRequest("Property 'ids' must list up to 1000 object ids.");
    if (body.types !== undefined && (!Array.isArray(body.types) || body.types.some((t: unknown) => typeof t !== 'string')))
      throw graphErrors.badRequest("Property 'types' must list directory object types, such as 'user' or 'group'.");
    const types = Array.isArray(body.types) ? new Set(body.types.map((t: string) => t.toLowerCase())) : null;
    const objects = (await Promise.all((body.ids as string[]).map((id) => directoryObject(r, id.toLowerCase())))).filter(
      (o): o is Record<string, unknown> =>
        !!o && (!types || types.has(String(o['@odata.type']).replace('#microsoft.graph.', '').toLowerCase())),
    );
    return r.reply.send({ '@odata.context': `${r.base}/$metadata#directoryObjects`, value: objects });
  });
  memberActions(app, ctx, '/directoryObjects/:id', async (r) => {
    const id = requireGuid(r.params.id, 'the object');
    if (!(await directoryObject(r, id))) throw graphErrors.notFound(id);
    return id;
  });
}
