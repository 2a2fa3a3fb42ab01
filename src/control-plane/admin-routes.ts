import type { FastifyInstance } from 'fastify';
import { isGuid } from '../shared/crypto.js';
import type { RoleAssignment } from '../store/index.js';
import { ArmError, armRoute, authorize, type ArmContext, type ArmRequest } from './arm.js';
import { findRoleDefinition, ROLE_DEFINITIONS, roleDefinitionResourceId, scopeCovers, type RoleDefinition } from './roles.js';

// Microsoft.Features (preview features), resource provider registration, and
// Microsoft.Authorization role assignments and definitions at any scope.

const featureJson = (sub: string, ns: string, name: string, state: string) => ({
  id: `/subscriptions/${sub}/providers/Microsoft.Features/providers/${ns}/features/${name}`, name: `${ns}/${name}`, type: 'Microsoft.Features/providers/features', properties: { state },
});

const KNOWN_FEATURES: Record<string, string[]> = {
  'microsoft.containerservice': ['AAD-V2', 'AllowLegacyAADIntegration', 'EnableAzureRBACPreview'],
};

function roleDefinitionJson(scope: string, def: RoleDefinition) {
  const sub = /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1] ?? '';
  return {
    id: roleDefinitionResourceId(sub, def.id), name: def.id, type: 'Microsoft.Authorization/roleDefinitions',
    properties: { roleName: def.roleName, type: 'BuiltInRole', description: def.description, assignableScopes: ['/'], permissions: [{ actions: def.actions, notActions: def.notActions, dataActions: def.dataActions, notDataActions: def.notDataActions }] },
  };
}

function assignmentJson(a: RoleAssignment) {
  return {
    id: `${a.scope.replace(/\/+$/, '')}/providers/Microsoft.Authorization/roleAssignments/${a.id}`, name: a.id, type: 'Microsoft.Authorization/roleAssignments',
    properties: { roleDefinitionId: a.roleDefinitionId, principalId: a.principalId, principalType: a.principalType, scope: a.scope, createdOn: new Date(a.createdAt).toISOString() },
  };
}

export function registerAdminRoutes(app: FastifyInstance, o: ArmContext & { now(): number; principalType(tenantId: string, id: string): Promise<RoleAssignment['principalType'] | null> }): void {
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
      for (const name of names) value.push(featureJson(sub, nsName, name, (await store.getFeature(sub, nsName, name))?.state ?? 'NotRegistered'));
    }
    return r.reply.send({ value });
  };
  armRoute(app, o, 'GET', featureBase, (r) => listFeatures(r, r.params.namespace));
  armRoute(app, o, 'GET', '/subscriptions/:subscriptionId/providers/Microsoft.Features/features', (r) => listFeatures(r));

  // ---- resource providers -----------------------------------------------------------------------------
  const providerJson = (sub: string, ns: string) => ({
    id: `/subscriptions/${sub}/providers/${ns}`, namespace: ns, registrationState: 'Registered', registrationPolicy: 'RegistrationRequired',
    resourceTypes: ns.toLowerCase() === 'microsoft.containerservice' ? [{ resourceType: 'managedClusters', locations: ['East US', 'West Europe', 'Central US'], apiVersions: ['2026-04-01', '2022-11-01'] }] : [],
  });
  armRoute(app, o, 'POST', '/subscriptions/:subscriptionId/providers/:namespace/register', async (r) => {
    await authorize(store, r, `/subscriptions/${r.subscription!.id}`, `${r.params.namespace}/register/action`);
    return r.reply.send(providerJson(r.subscription!.id, r.params.namespace!));
  });
  armRoute(app, o, 'GET', '/subscriptions/:subscriptionId/providers/:namespace', async (r) => r.reply.send(providerJson(r.subscription!.id, r.params.namespace!)));

  // ---- role assignments and definitions, at any scope ---------------------------------------------------
  const AUTHZ = /^(.*?)\/providers\/Microsoft\.Authorization\/(roleAssignments|roleDefinitions)(?:\/([^/?]+))?\/?$/i;
  const parse = (r: ArmRequest) => {
    const path = decodeURIComponent(r.req.url.split('?')[0]!);
    const m = AUTHZ.exec(path);
    if (!m) throw new ArmError(404, 'NotFound', `No route for ${r.req.method} ${path}.`);
    const scope = m[1] || '/';
    const sub = /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1];
    return { scope, kind: m[2]!.toLowerCase(), name: m[3], subscriptionId: sub };
  };
  const checkSub = async (r: ArmRequest, sub: string | undefined) => {
    const s = sub ? await store.getSubscription(sub.toLowerCase()) : null;
    if (!s || s.tenantId !== r.caller.tenantId) throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${sub ?? ''}' could not be found.`);
    return s;
  };
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
      return r.reply.send({ value: ROLE_DEFINITIONS.filter((d) => !filter || d.roleName.toLowerCase() === filter.toLowerCase()).map((d) => roleDefinitionJson(p.scope, d)) });
    }
    await authorize(store, r, p.scope, 'Microsoft.Authorization/roleAssignments/read');
    const all = await store.listRoleAssignments({ tenantId: r.caller.tenantId });
    if (p.name) {
      const a = all.find((x) => x.id === p.name?.toLowerCase());
      if (!a) throw new ArmError(404, 'RoleAssignmentNotFound', `The role assignment '${p.name}' is not found.`);
      return r.reply.send(assignmentJson(a));
    }
    const atScope = /atScope\(\)/i.test(r.query.$filter ?? '');
    const principal = /principalId eq '([^']+)'/i.exec(r.query.$filter ?? '')?.[1]?.toLowerCase();
    // Assignments that apply at the scope (at it or above), and those below it unless atScope().
    const value = all.filter((a) => (scopeCovers(a.scope, p.scope) || (!atScope && scopeCovers(p.scope, a.scope))) && (!principal || a.principalId === principal)).map(assignmentJson);
    return r.reply.send({ value });
  });
  armRoute(app, o, 'PUT', '/subscriptions/*', async (r) => {
    const p = parse(r);
    if (p.kind !== 'roleassignments' || !p.name) throw new ArmError(405, 'MethodNotAllowed', 'Only role assignments can be created here.');
    if (!isGuid(p.name)) throw new ArmError(400, 'InvalidRoleAssignmentId', `The role assignment ID '${p.name}' is not valid. The role assignment ID must be a GUID.`);
    const sub = await checkSub(r, p.subscriptionId);
    await authorize(store, r, p.scope, 'Microsoft.Authorization/roleAssignments/write');
    const props = ((r.req.body ?? {}) as { properties?: Record<string, string> }).properties ?? {};
    const def = props.roleDefinitionId ? findRoleDefinition(props.roleDefinitionId) : undefined;
    if (!def) throw new ArmError(400, 'RoleDefinitionDoesNotExist', `The specified role definition with ID '${props.roleDefinitionId ?? ''}' does not exist.`);
    if (!isGuid(props.principalId)) throw new ArmError(400, 'InvalidPrincipalId', 'A valid principal ID must be provided for role assignment.');
    const principalId = props.principalId!.toLowerCase();
    const type = await o.principalType(sub.tenantId, principalId);
    if (!type) throw new ArmError(400, 'PrincipalNotFound', `Principal ${principalId.replace(/-/g, '')} does not exist in the directory ${sub.tenantId}. Check that you have the correct principal ID.`);
    const existing = await store.listRoleAssignments({ tenantId: sub.tenantId, scope: p.scope, principalIds: [principalId] });
    if (existing.some((a) => a.roleDefinitionId.toLowerCase().endsWith(def.id))) throw new ArmError(409, 'RoleAssignmentExists', 'The role assignment already exists.');
    const assignment: RoleAssignment = {
      id: p.name.toLowerCase(), tenantId: sub.tenantId, scope: p.scope, roleDefinitionId: roleDefinitionResourceId(sub.id, def.id),
      principalId, principalType: type, createdAt: o.now(),
    };
    await store.createRoleAssignment(assignment);
    return r.reply.code(201).send(assignmentJson(assignment));
  });
  armRoute(app, o, 'DELETE', '/subscriptions/*', async (r) => {
    const p = parse(r);
    if (p.kind !== 'roleassignments' || !p.name) throw new ArmError(405, 'MethodNotAllowed', 'Only role assignments can be deleted here.');
    await checkSub(r, p.subscriptionId);
    await authorize(store, r, p.scope, 'Microsoft.Authorization/roleAssignments/delete');
    const a = await store.getRoleAssignment(p.name.toLowerCase());
    if (!a || a.tenantId !== r.caller.tenantId) return r.reply.code(204).send();
    await store.deleteRoleAssignment(a.id);
    return r.reply.send(assignmentJson(a));
  });
}
