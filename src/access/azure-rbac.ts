import type { Clock } from '../shared/clock.js';
import type { DataActionCheck } from './ports.js';
import { isGuid } from '../shared/crypto.js';
import { Lru } from '../shared/lru.js';

// Azure RBAC for Kubernetes, as Guard's authorizer decides it (reference/guard-rbac.md §2): system
// users and users without an Entra object ID get no opinion, discovery paths are allowed, every other
// request becomes a data action checked against role assignments at the cluster or
// `<cluster>/namespaces/<ns>` scope; what is not allowed is denied (no fall-through).

export interface AccessRequest {
  user: string;
  groups: string[];
  extra: Record<string, string[]>;
  resourceAttributes?: { namespace?: string; verb?: string; group?: string; resource?: string; subresource?: string; name?: string };
  nonResourceAttributes?: { path?: string; verb?: string };
}

export interface AzureDecision {
  allowed: boolean;
  denied?: boolean;
  reason: string;
  /** Set when the decision could not be made: the webhook answers with HTTP 500, as Guard does. */
  error?: string;
}

export const CLUSTER_TYPES = {
  managedCluster: 'Microsoft.ContainerService/managedClusters',
  arc: 'Microsoft.Kubernetes/connectedClusters',
} as const;
export const AZURE_DENIED = 'User does not have access to the resource in Azure. Update role assignment to allow access.';
export const AZURE_NO_OPINION = 'Azure does not have opinion for this user.';
export const AZURE_NO_OPINION_NON_AAD =
  'Azure does not have opinion for this non AAD user. If you are an AAD user, please set Extra:oid parameter for impersonated user in the kubeconfig';

const SUFFIX: Record<string, string> = {
  get: 'read',
  list: 'read',
  watch: 'read',
  create: 'write',
  update: 'write',
  patch: 'write',
  delete: 'delete',
  deletecollection: 'delete',
  bind: 'bind/action',
  escalate: 'escalate/action',
  use: 'use/action',
  impersonate: 'impersonate/action',
  '*': '*',
};
const suffixOf = (verb: string) => SUFFIX[verb] ?? '';
const join = (...parts: string[]) =>
  parts
    .filter((p) => p !== '')
    .join('/')
    .replace(/\/+/g, '/');

/** The data action Guard checks for a request (`…/pods/read`, `…/apps/deployments/write`, `…/pods/exec/action`, `…/metrics/read`). */
export function dataActionOf(clusterType: string, req: AccessRequest): string {
  if (req.resourceAttributes) {
    const r = req.resourceAttributes;
    if (r.resource === 'pods' && r.subresource === 'exec') return `${clusterType}/pods/exec/action`;
    return join(clusterType, r.group ?? '', r.resource ?? '', suffixOf(r.verb ?? ''));
  }
  const n = req.nonResourceAttributes ?? {};
  return join(clusterType, n.path ?? '', suffixOf(n.verb ?? ''));
}

export interface AzureRbacOptions {
  /** ARM's checkaccess: in-process in `kentra up`, over HTTPS in `kentra webhook`. */
  dataActions: DataActionCheck;
  clock: Clock;
  tenantId: string;
  clusterResourceId: string;
  clusterType: string;
  /** Guard's cache time: 3 minutes. */
  cacheTtlMs?: number;
  /** At most this many decisions are kept, the least recently used dropped first (default 50,000: `kentra up --decision-cache-size`). */
  cacheSize?: number;
}

/** The default bound of a cluster's Azure RBAC decision cache. */
export const DEFAULT_DECISION_CACHE_SIZE = 50_000;

export type AzureAuthorizer = (req: AccessRequest) => Promise<AzureDecision>;

export function azureRbacAuthorizer(opts: AzureRbacOptions): AzureAuthorizer {
  const ttl = opts.cacheTtlMs ?? 180_000;
  const cache = new Lru<string, { decision: AzureDecision; until: number }>(opts.cacheSize ?? DEFAULT_DECISION_CACHE_SIZE);
  return async (req) => {
    if (req.user.toLowerCase().startsWith('system:')) return { allowed: false, reason: AZURE_NO_OPINION };
    const oid = req.extra?.oid?.[0];
    if (!oid) return { allowed: false, reason: AZURE_NO_OPINION_NON_AAD };
    const r = req.resourceAttributes;
    const n = req.nonResourceAttributes;
    // Guard's key: user, namespace, group, resource and verb suffix (not the groups, the name or extra).
    const key = r
      ? `${req.user}/${r.namespace || '-'}/${r.group || '-'}/${r.resource ?? ''}/${suffixOf(r.verb ?? '')}`
      : `${req.user}/${n?.path ?? ''}/${suffixOf(n?.verb ?? '')}`;
    const hit = cache.get(key);
    if (hit && hit.until > opts.clock.now()) return hit.decision;
    const remember = (decision: AzureDecision) => {
      cache.set(key, { decision, until: opts.clock.now() + ttl });
      return decision;
    };
    if (n) {
      const path = (n.path ?? '').toLowerCase();
      if (n.verb === 'get' && ['/api', '/openapi', '/version', '/healthz'].some((p) => path.startsWith(p)))
        return remember({ allowed: true, reason: 'Access allowed by Azure RBAC' });
    }
    if (r && (r.verb === '*' || r.resource === '*' || r.group === '*')) {
      return {
        allowed: false,
        reason: '',
        error:
          'Wildcard support for Resource/Verb/Group is not enabled for request Group: ' +
          `${r.group ?? ''}, Resource: ${r.resource ?? ''}, Verb: ${r.verb ?? ''}`,
      };
    }
    if (!isGuid(oid))
      return { allowed: false, reason: '', error: `error in preparing check access request: oid ${oid} is not a valid UUID` };
    const scope = r?.namespace ? `${opts.clusterResourceId}/namespaces/${r.namespace}` : opts.clusterResourceId;
    const action = dataActionOf(opts.clusterType, req);
    let result;
    try {
      result = await opts.dataActions.checkDataAction({
        tenantId: opts.tenantId,
        subject: { objectId: oid, groups: req.groups.filter((g) => isGuid(g)) },
        scope,
        action,
      });
    } catch (err) {
      // Guard: a 5xx, a timeout or a network failure is an error (not cached), which the API server takes as no opinion.
      return { allowed: false, reason: '', error: (err as Error).message };
    }
    if (!result.allowed) return remember({ allowed: false, denied: true, reason: result.reason ?? AZURE_DENIED });
    return remember({
      allowed: true,
      reason: `Access allowed by Azure RBAC Role Assignment ${result.roleAssignmentId} of Role ${result.roleDefinitionId} to user ${req.user}`,
    });
  };
}
