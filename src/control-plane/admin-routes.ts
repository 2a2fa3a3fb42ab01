import type { FastifyInstance } from 'fastify';
import { GLOBAL_ADMINISTRATOR_ROLE } from '../identity/index.js';
import { isGuid } from '../shared/crypto.js';
import { StoreError, type RoleAssignment } from '../store/index.js';
import { ArmError, armRoute, authorize, shape, type ArmContext, type ArmRequest } from './arm.js';
import {
  findRoleDefinition,
  OWNER_ROLE_ID,
  ROLE_DEFINITIONS,
  roleDefinitionResourceId,
  scopeCovers,
  type RoleDefinition,
} from './roles.js';
import { decodeComponent } from '../shared/uri.js';

// Microsoft.Features (preview features), resource provider registration, and
// Microsoft.Authorization role assignments and definitions at any scope.

const featureJson = (sub: string, ns: string, name: string, state: string) => ({
  id: `/subscriptions/${sub}/providers/Microsoft.Features/providers/${ns}/features/${name}`,
  name: `${ns}/${name}`,
  type: 'Microsoft.Features/providers/features',
  properties: { state },
});

const KNOWN_FEATURES: Record<string, string[]> = {
  'microsoft.containerservice': ['AAD-V2', 'AllowLegacyAADIntegration', 'EnableAzureRBACPreview'],
};

function roleDefinitionJson(scope: string, def: RoleDefinition) {
  const sub = /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1] ?? '';
  return {
    id: roleDefinitionResourceId(sub, def.id),
    name: def.id,
    type: 'Microsoft.Authorization/roleDefinitions',
    properties: {
      roleName: def.roleName,
      type: 'BuiltInRole',
      description: def.description,
      assignableScopes: ['/'],
      permissions: [{ actions: def.actions, notActions: def.notActions, dataActions: def.dataActions, notDataActions: def.notDataActions }],
    },
  };
}

const USER_ACCESS_ADMINISTRATOR_ROLE_ID = '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9';
/** "RBAC admin" roles: the last one at a subscription cannot be deleted. */
const RBAC_ADMIN_ROLES = [OWNER_ROLE_ID, USER_ACCESS_ADMINISTRATOR_ROLE_ID];
const ASSIGNMENT_BODY = shape.body({
  properties: shape.object(
    {
      roleDefinitionId: shape.string,
      principalId: shape.string,
      principalType: shape.string,
      scope: shape.string,
      description: shape.string,
      condition: shape.string,
      conditionVersion: shape.string,
      delegatedManagedIdentityResourceId: shape.string,
    },
    { additional: shape.any },
  ),
});

const normalScope = (scope: string) => scope.toLowerCase().replace(/\/+$/, '');
const sameScope = (a: string, b: string) => normalScope(a) === normalScope(b);
const roleIdOf = (roleDefinitionId: string) => roleDefinitionId.split('/').pop()!.toLowerCase();
const isSubscriptionScope = (scope: string) => /^\/subscriptions\/[^/]+\/?$/i.test(scope);
/** The full resource path of an assignment: what its reads, writes and deletes are authorized over. */
const assignmentId = (scope: string, name: string) =>
  `${scope.replace(/\/+$/, '')}/providers/Microsoft.Authorization/roleAssignments/${name}`;
/**
 * A scope is a resource path: /subscriptions/{id}[/resourceGroups/{name}[/providers/{namespace}/{type}/{name}…]],
 * in name/value pairs with no empty, '.' or '..' segment, and not inside Microsoft.Authorization.
 */
function validScope(scope: string): boolean {
  const segments = scope.replace(/\/$/, '').split('/').slice(1);
  if (segments.length < 2 || segments.length % 2 !== 0) return false;
  if (segments.some((s) => s === '' || s === '.' || s === '..' || /[\u0000-\u001f]/.test(s))) return false;
  if (segments[0]!.toLowerCase() !== 'subscriptions') return false;
  if (segments.length > 2 && segments[2]!.toLowerCase() !== 'resourcegroups' && segments[2]!.toLowerCase() !== 'providers') return false;
  return !segments.some((s, i) => s.toLowerCase() === 'providers' && segments[i + 1]?.toLowerCase() === 'microsoft.authorization');
}

function assignmentJson(a: RoleAssignment) {
  return {
    id: assignmentId(a.scope, a.id),
    name: a.id,
    type: 'Microsoft.Authorization/roleAssignments',
    properties: {
      roleDefinitionId: a.roleDefinitionId,
      principalId: a.principalId,
      principalType: a.principalType,
      scope: a.scope,
      createdOn: new Date(a.createdAt).toISOString(),
    },
  };
}

export function registerAdminRoutes(
  app: FastifyInstance,
  o: ArmContext & { now(): number; principalType(tenantId: string, id: string): Promise<RoleAssignment['principalType'] | null> },
): void {
  const { store } = o;

  // ---- preview features ---------------------------------------------------------------------------------
  const featureBase = '/subscriptions/:subscriptionId/providers/Microsoft.Features/providers/:namespace/features';
  const setState = (register: boolean) => async (r: ArmRequest) => {
    const sub = r.subscription!.id;
    await authorize(store, r, `/subscriptions/${sub}`, 'Microsoft.Features/providers/features/register/action');
    const { namespace, feature } = r.params as { namespace: string; feature: string };
    const known = KNOWN_FEATURES[namespace.toLowerCase()];
    if (!known?.some((f) => f.toLowerCase() === feature.toLowerCase())) {
      throw new ArmError(404, 'FeatureNotFound', `The feature '${feature}' could not be found.`);
    }
    const name = known.find((f) => f.toLowerCase() === feature.toLowerCase())!;
    // Registration is immediate here: the first read after it already says Registered.
    await store.setFeature({ subscriptionId: sub, namespace, name, state: register ? 'Registered' : 'NotRegistered' });
    return r.reply.send(featureJson(sub, namespace, name, register ? 'Registering' : 'Unregistering'));
  };
  armRoute(app, o, 'POST', `${featureBase}/:feature/register`, setState(true));
  armRoute(app, o, 'POST', `${featureBase}/:feature/unregister`, setState(false));
  armRoute(app, o, 'GET', `${featureBase}/:feature`, async (r) => {
    const sub = r.subscription!.id;
    const { namespace, feature } = r.params as { namespace: string; feature: string };
    const name = KNOWN_FEATURES[namespace.toLowerCase()]?.find((f) => f.toLowerCase() === feature.toLowerCase());
    if (!name) throw new ArmError(404, 'FeatureNotFound', `The feature '${feature}' could not be found.`);
    const state = (await store.getFeature(sub, namespace, name))?.state ?? 'NotRegistered';
    return r.reply.send(featureJson(sub, namespace, name, state));
  });
  const listFeatures = async (r: ArmRequest, only?: string) => {
    const sub = r.subscription!.id;
    const value = [];
    for (const [ns, names] of Object.entries(KNOWN_FEATURES)) {
      if (only && only.toLowerCase() !== ns) continue;
      const nsName = ns === 'microsoft.containerservice' ? 'Microsoft.ContainerService' : ns;
      for (const name of names)
        value.push(featureJson(sub, nsName, name, (await store.getFeature(sub, nsName, name))?.state ?? 'NotRegistered'));
    }
    return r.reply.send({ value });
  };
  armRoute(app, o, 'GET', featureBase, (r) => listFeatures(r, r.params.namespace));
  armRoute(app, o, 'GET', '/subscriptions/:subscriptionId/providers/Microsoft.Features/features', (r) => listFeatures(r));

  // ---- resource providers -----------------------------------------------------------------------------
  const providerJson = (sub: string, ns: string) => ({
    id: `/subscriptions/${sub}/providers/${ns}`,
    namespace: ns,
    registrationState: 'Registered',
    registrationPolicy: 'RegistrationRequired',
    resourceTypes:
      ns.toLowerCase() === 'microsoft.containerservice'
        ? [
            {
              resourceType: 'managedClusters',
              locations: ['East US', 'West Europe', 'Central US'],
              apiVersions: ['2026-04-01', '2022-11-01'],
            },
          ]
        : [],
  });
  armRoute(app, o, 'POST', '/subscriptions/:subscriptionId/providers/:namespace/register', async (r) => {
    await authorize(store, r, `/subscriptions/${r.subscription!.id}`, `${r.params.namespace}/register/action`);
    return r.reply.send(providerJson(r.subscription!.id, r.params.namespace!));
  });
  armRoute(app, o, 'GET', '/subscriptions/:subscriptionId/providers/:namespace', async (r) =>
    r.reply.send(providerJson(r.subscription!.id, r.params.namespace!)),
  );

  // ---- role assignments and definitions, at any scope ---------------------------------------------------
  // An assignment lives at exactly one scope (security.md §5.3): it is found by (scope from the URL,
  // name), never by name alone, and every read, write and delete is authorized over its full path.
  const AUTHZ = /^(.*?)\/providers\/Microsoft\.Authorization\/(roleAssignments|roleDefinitions)(?:\/([^/?]+))?\/?$/i;
  const parse = (r: ArmRequest) => {
    let path: string;
    try {
      path = decodeComponent(r.req.url.split('?')[0]!);
    } catch {
      throw new ArmError(400, 'BadRequest', 'The request URI is not valid: it holds a malformed percent-encoding.');
    }
    const m = AUTHZ.exec(path);
    if (!m) throw new ArmError(404, 'NotFound', `No route for ${r.req.method} ${path}.`);
    const scope = m[1] || '/';
    if (!validScope(scope)) {
      throw new ArmError(
        400,
        'InvalidScope',
        `The scope '${scope}' is not valid. A scope is /subscriptions/{subscriptionId}, optionally followed by /resourceGroups/{name} and by type and name pairs of a resource.`,
      );
    }
    if (m[3] && /[\u0000-\u001f\u007f]/.test(m[3]))
      throw new ArmError(
        400,
        'InvalidResourceName',
        `The name '${JSON.stringify(m[3]).slice(1, -1)}' in the request URI is not valid: it holds a control character.`,
      );
    const sub = /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1];
    return { scope, kind: m[2]!.toLowerCase(), name: m[3], subscriptionId: sub };
  };
  const checkSub = async (r: ArmRequest, sub: string | undefined) => {
    const s = sub ? await store.getSubscription(sub.toLowerCase()) : null;
    if (!s || s.tenantId !== r.caller.tenantId)
      throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${sub ?? ''}' could not be found.`);
    return s;
  };
  /** The assignment of that name at exactly that scope of the caller's tenant, or null ("not found here"). */
  const findAt = async (tenantId: string, scope: string, name: string) => {
    const a = await store.getRoleAssignment(name.toLowerCase());
    return a && a.tenantId === tenantId && sameScope(a.scope, scope) ? a : null;
  };
  const notFound = (name: string) => new ArmError(404, 'RoleAssignmentNotFound', `The role assignment '${name}' is not found.`);

  armRoute(app, o, 'GET', '/subscriptions/*', async (r) => {
    const p = parse(r);
    await checkSub(r, p.subscriptionId);
    if (p.kind === 'roledefinitions') {
      if (p.name) {
        const def = findRoleDefinition(p.name);
        if (!def) throw new ArmError(404, 'RoleDefinitionDoesNotExist', `The role definition '${p.name}' does not exist.`);
        return r.reply.send(roleDefinitionJson(p.scope, def));
      }
      const filter = /roleName eq '([^']+)'/i.exec(r.query.$filter ?? '')?.[1];
      return r.reply.send({
        value: ROLE_DEFINITIONS.filter((d) => !filter || d.roleName.toLowerCase() === filter.toLowerCase()).map((d) =>
          roleDefinitionJson(p.scope, d),
        ),
      });
    }
    if (p.name) {
      await authorize(store, r, assignmentId(p.scope, p.name), 'Microsoft.Authorization/roleAssignments/read');
      const a = await findAt(r.caller.tenantId, p.scope, p.name);
      if (!a) throw notFound(p.name);
      return r.reply.send(assignmentJson(a));
    }
    await authorize(store, r, p.scope, 'Microsoft.Authorization/roleAssignments/read');
    const all = await store.listRoleAssignments({ tenantId: r.caller.tenantId });
    const atScope = /atScope\(\)/i.test(r.query.$filter ?? '');
    const principal = /principalId eq '([^']+)'/i.exec(r.query.$filter ?? '')?.[1]?.toLowerCase();
    // Assignments that apply at the scope (at it or above), and those below it unless atScope().
    const value = all
      .filter(
        (a) =>
          (scopeCovers(a.scope, p.scope) || (!atScope && scopeCovers(p.scope, a.scope))) && (!principal || a.principalId === principal),
      )
      .map(assignmentJson);
    return r.reply.send({ value });
  });

  armRoute(
    app,
    o,
    'PUT',
    '/subscriptions/*',
    async (r) => {
      const p = parse(r);
      if (p.kind !== 'roleassignments' || !p.name)
        throw new ArmError(405, 'MethodNotAllowed', 'Only role assignments can be created here.');
      if (!isGuid(p.name))
        throw new ArmError(
          400,
          'InvalidRoleAssignmentId',
          `The role assignment ID '${p.name}' is not valid. The role assignment ID must be a GUID.`,
        );
      const name = p.name.toLowerCase();
      const sub = await checkSub(r, p.subscriptionId);
      await authorize(store, r, assignmentId(p.scope, p.name), 'Microsoft.Authorization/roleAssignments/write');
      const props =
        ((r.req.body ?? {}) as { properties?: { roleDefinitionId?: string | null; principalId?: string | null; scope?: string | null } })
          .properties ?? {};
      if (props.scope && !sameScope(props.scope, p.scope)) {
        throw new ArmError(
          400,
          'InvalidCreateRoleAssignmentRequest',
          `The request to create role assignment '${p.name}' is not valid. Role assignment scope '${props.scope}' must match the scope specified on the URI '${p.scope}'.`,
        );
      }
      const def = props.roleDefinitionId ? findRoleDefinition(props.roleDefinitionId) : undefined;
      if (!def)
        throw new ArmError(
          400,
          'RoleDefinitionDoesNotExist',
          `The specified role definition with ID '${props.roleDefinitionId ?? ''}' does not exist.`,
        );
      if (!isGuid(props.principalId))
        throw new ArmError(400, 'InvalidPrincipalId', 'A valid principal ID must be provided for role assignment.');
      const principalId = props.principalId!.toLowerCase();
      // Names are unique across scopes, subscriptions and tenants, and an assignment is never changed.
      const named = await store.getRoleAssignment(name);
      if (named) {
        const same =
          named.tenantId === sub.tenantId &&
          sameScope(named.scope, p.scope) &&
          named.principalId === principalId &&
          roleIdOf(named.roleDefinitionId) === def.id;
        if (!same)
          throw new ArmError(
            400,
            'RoleAssignmentUpdateNotPermitted',
            'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
          );
        return r.reply.code(200).send(assignmentJson(named));
      }
      const type = await o.principalType(sub.tenantId, principalId);
      if (!type)
        throw new ArmError(
          400,
          'PrincipalNotFound',
          `Principal ${principalId.replace(/-/g, '')} does not exist in the directory ${sub.tenantId}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay.`,
        );
      const assignment: RoleAssignment = {
        id: name,
        tenantId: sub.tenantId,
        scope: p.scope,
        roleDefinitionId: roleDefinitionResourceId(sub.id, def.id),
        principalId,
        principalType: type,
        createdAt: o.now(),
      };
      // The duplicate check and the insert in one transaction: two identical PUTs under two names make one assignment.
      const duplicate = await store
        .transaction(async (tx) => {
          const existing = (await tx.listRoleAssignments({ tenantId: sub.tenantId, scope: p.scope, principalIds: [principalId] })).find(
            (a) => sameScope(a.scope, p.scope) && roleIdOf(a.roleDefinitionId) === def.id,
          );
          if (existing) return existing;
          await tx.createRoleAssignment(assignment);
          return null;
        })
        .catch((err: unknown) => {
          if (err instanceof StoreError && err.code === 'conflict')
            throw new ArmError(409, 'RoleAssignmentExists', 'The role assignment already exists.');
          throw err;
        });
      if (duplicate)
        throw new ArmError(
          409,
          'RoleAssignmentExists',
          `The role assignment already exists. The ID of the existing role assignment is ${duplicate.id.replace(/-/g, '')}.`,
        );
      return r.reply.code(201).send(assignmentJson(assignment));
    },
    { body: ASSIGNMENT_BODY },
  );

  armRoute(app, o, 'DELETE', '/subscriptions/*', async (r) => {
    const p = parse(r);
    if (p.kind !== 'roleassignments' || !p.name) throw new ArmError(405, 'MethodNotAllowed', 'Only role assignments can be deleted here.');
    await checkSub(r, p.subscriptionId);
    await authorize(store, r, assignmentId(p.scope, p.name), 'Microsoft.Authorization/roleAssignments/delete');
    const gone = await store.transaction(async (tx) => {
      const a = await tx.getRoleAssignment(p.name!.toLowerCase());
      // A name that exists only at another scope is not found here: nothing is deleted.
      if (!a || a.tenantId !== r.caller.tenantId || !sameScope(a.scope, p.scope)) return null;
      if (isSubscriptionScope(a.scope) && RBAC_ADMIN_ROLES.includes(roleIdOf(a.roleDefinitionId))) {
        const others = (await tx.listRoleAssignments({ tenantId: a.tenantId, scope: a.scope })).filter(
          (x) => x.id !== a.id && sameScope(x.scope, a.scope) && RBAC_ADMIN_ROLES.includes(roleIdOf(x.roleDefinitionId)),
        );
        const globalAdmin = (await tx.listDirectoryRoleAssignments(r.caller.tenantId, r.caller.objectId)).some(
          (d) => d.roleTemplateId === GLOBAL_ADMINISTRATOR_ROLE,
        );
        if (!others.length && !globalAdmin)
          throw new ArmError(
            412,
            'CannotDeleteLastRbacAdminAssignment',
            'Cannot delete the last RBAC admin assignment. Assign Owner or User Access Administrator at this subscription to another principal first.',
          );
      }
      await tx.deleteRoleAssignment(a.id);
      return a;
    });
    if (!gone) return r.reply.code(204).send();
    return r.reply.send(assignmentJson(gone));
  });
}
