import type { AzureAuthorizer } from './azure-rbac.js';
import { rbacAuthorize, type Decision, type RbacObjects, type RequestAttributes } from './rbac.js';

// Authorization for a cluster's API as the kube-apiserver composes it: authorizers asked in order,
// the first allow or deny wins, no opinion passes on; members of system:masters never reach the chain.
// Each step's answer is kept, so `check-access` can explain a decision with the same chain the API uses.

export interface AuthzDecision extends Decision {
  /** Set when the decision could not be made (the API answers 500, a webhook error). */
  error?: string;
}

export interface NamedAuthorizer {
  name: string;
  authorize(a: RequestAttributes): Promise<AuthzDecision>;
}

export interface ChainDecision extends AuthzDecision {
  steps: { name: string; decision: AuthzDecision['decision']; reason: string; error?: string }[];
}

export type AuthorizerChain = (a: RequestAttributes) => Promise<ChainDecision>;

/** The union authorizer: no-opinion reasons are joined with newlines, as upstream's. */
export function authorizerChain(authorizers: NamedAuthorizer[]): AuthorizerChain {
  return async (a) => {
    const steps: ChainDecision['steps'] = [];
    const reasons: string[] = [];
    const errors: string[] = [];
    for (const authorizer of authorizers) {
      const d = await authorizer.authorize(a);
      steps.push({ name: authorizer.name, decision: d.decision, reason: d.reason, ...(d.error ? { error: d.error } : {}) });
      if (d.error) errors.push(d.error);
      if (d.reason) reasons.push(d.reason);
      if (d.decision !== 'no-opinion') return { decision: d.decision, reason: d.reason, steps, ...(d.error ? { error: d.error } : {}) };
    }
    return { decision: 'no-opinion', reason: reasons.join('\n'), steps, ...(errors.length ? { error: errors.join(', ') } : {}) };
  };
}

/** The kube-apiserver's privileged group: allowed before any authorizer is asked. */
export const superUserAuthorizer: NamedAuthorizer = {
  name: 'system:masters',
  async authorize(a) {
    return a.user.groups.includes('system:masters')
      ? { decision: 'allow', reason: 'member of system:masters' }
      : { decision: 'no-opinion', reason: '' };
  },
};

/** Clusters created without Kubernetes RBAC (`--disable-rbac`) allow everything authenticated. */
export const alwaysAllowAuthorizer: NamedAuthorizer = {
  name: 'AlwaysAllow',
  authorize: async () => ({ decision: 'allow', reason: 'Kubernetes RBAC is disabled on this cluster' }),
};

/** Kubernetes RBAC over the cluster's current roles and bindings. */
export function rbacAuthorizer(objects: () => Promise<RbacObjects>): NamedAuthorizer {
  return {
    name: 'RBAC',
    async authorize(a) {
      const d = rbacAuthorize(await objects(), a);
      // Upstream reports resolution problems as the no-opinion reason, prefixed "RBAC: ".
      return d.decision === 'no-opinion' && d.reason ? { decision: 'no-opinion', reason: `RBAC: ${d.reason}` } : d;
    },
  };
}

/** Guard's Azure RBAC authorizer as the webhook step of the chain. */
export function azureRbacStep(authorize: AzureAuthorizer): NamedAuthorizer {
  return {
    name: 'Webhook (Azure RBAC)',
    async authorize(a) {
      const d = await authorize({
        user: a.user.username,
        groups: a.user.groups,
        extra: a.user.extra,
        ...(a.resourceRequest
          ? {
              resourceAttributes: {
                namespace: a.namespace ?? '',
                verb: a.verb,
                group: a.apiGroup ?? '',
                resource: a.resource ?? '',
                subresource: a.subresource ?? '',
                name: a.name ?? '',
              },
            }
          : { nonResourceAttributes: { path: a.path ?? '', verb: a.verb } }),
      });
      if (d.error) return { decision: 'no-opinion', reason: d.reason, error: d.error };
      return { decision: d.allowed ? 'allow' : d.denied ? 'deny' : 'no-opinion', reason: d.reason };
    },
  };
}
