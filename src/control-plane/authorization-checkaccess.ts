import type { FastifyInstance } from 'fastify';
import { ArmError, armRoute, authorize, shape, type ArmContext, type ArmRequest } from './arm.js';
import { checkAccess } from './roles.js';
import { isGuid } from '../shared/crypto.js';

// ARM's Microsoft.Authorization/checkaccess at a cluster's scope, the PDP Guard asks for Azure RBAC for
// Kubernetes (reference/guard-rbac.md §2.3), so that `kentra webhook` beside a kube-apiserver decides
// SubjectAccessReviews as Guard does:
//   POST <cluster>[/namespaces/<ns>]/providers/Microsoft.Authorization/checkaccess?api-version=2018-09-01-preview
//   {"Subject":{"Attributes":{"ObjectId","Groups"}},"Actions":[{"Id","IsDataAction"}],"Resource":{"Id":<scope>}}
// → one decision per action. The caller needs Microsoft.Authorization/roleAssignments/read at the scope
// (Reader has it): the answer reveals who may do what there (Kentra's rule; Azure's is not published).

const BODY = shape.body({
  Subject: shape.object(
    { Attributes: shape.object({ ObjectId: shape.string, Groups: shape.array(shape.string) }, { additional: shape.any }) },
    { additional: shape.any },
  ),
  Actions: shape.array(shape.object({ Id: shape.string, IsDataAction: shape.boolean }, { additional: shape.any })),
  Resource: shape.object({ Id: shape.string }, { additional: shape.any }),
});

interface Body {
  Subject?: { Attributes?: { ObjectId?: string | null; Groups?: (string | null)[] | null } | null } | null;
  Actions?: ({ Id?: string | null; IsDataAction?: boolean | null } | null)[] | null;
  Resource?: { Id?: string | null } | null;
}

const invalid = (message: string) => new ArmError(400, 'InvalidRequestContent', message);

export function registerCheckAccessRoutes(app: FastifyInstance, o: ArmContext): void {
  const { store } = o;
  const handler = async (r: ArmRequest) => {
    const p = r.params;
    const cluster = `/subscriptions/${p.subscriptionId}/resourceGroups/${p.resourceGroup}/providers/${p.provider}/${p.type}/${p.name}`;
    const res = await store.getResource(cluster);
    if (!res || res.type.toLowerCase() !== `${p.provider}/${p.type}`.toLowerCase()) {
      throw new ArmError(
        404,
        'ResourceNotFound',
        `The Resource '${p.provider}/${p.type}/${p.name}' under resource group '${p.resourceGroup}' was not found.`,
      );
    }
    const scope = p.namespace ? `${res.id}/namespaces/${p.namespace}` : res.id;
    await authorize(store, r, scope, 'Microsoft.Authorization/roleAssignments/read');
    const body = (r.req.body ?? {}) as Body;
    const oid = body.Subject?.Attributes?.ObjectId;
    if (!oid || !isGuid(oid)) throw invalid('Subject.Attributes.ObjectId must be the object id (a GUID) of the principal to check.');
    const groups = (body.Subject?.Attributes?.Groups ?? []).filter((g): g is string => typeof g === 'string' && isGuid(g));
    const actions = body.Actions ?? [];
    if (!actions.length || actions.length > 200) throw invalid('Actions must hold from 1 to 200 actions.');
    if (actions.some((a) => !a?.Id)) throw invalid('Each action needs an Id, e.g. Microsoft.ContainerService/managedClusters/pods/read.');
    if (body.Resource?.Id && body.Resource.Id.toLowerCase() !== scope.toLowerCase())
      throw invalid(`Resource.Id '${body.Resource.Id}' is not the scope of the request, '${scope}'.`);
    const decisions = [];
    for (const a of actions) {
      const data = a!.IsDataAction !== false;
      const d = await checkAccess(store, {
        tenantId: r.caller.tenantId,
        principalIds: [oid.toLowerCase(), ...groups.map((g) => g.toLowerCase())],
        scope,
        action: a!.Id!,
        data,
      });
      const ra = d.assignment;
      decisions.push({
        accessDecision: d.allowed ? 'Allowed' : 'NotAllowed',
        actionId: a!.Id,
        isDataAction: data,
        roleAssignment: ra
          ? {
              id: `${ra.scope}/providers/Microsoft.Authorization/roleAssignments/${ra.id}`,
              roleDefinitionId: d.role!.id,
              principalId: ra.principalId,
              principalType: ra.principalType,
              scope: ra.scope,
            }
          : null,
        denyAssignment: null,
        timeToLiveInMs: 300_000,
      });
    }
    return r.reply.send(decisions);
  };
  const base = '/subscriptions/:subscriptionId/resourceGroups/:resourceGroup/providers/:provider/:type/:name';
  armRoute(app, o, 'POST', `${base}/providers/Microsoft.Authorization/checkaccess`, handler, { body: BODY });
  armRoute(app, o, 'POST', `${base}/namespaces/:namespace/providers/Microsoft.Authorization/checkaccess`, handler, { body: BODY });
}
