import type { AccessRequest, AzureAuthorizer } from './azure-rbac.js';
import { badReview, kubeStatus, type WebhookReply } from './token-review.js';

// The SubjectAccessReview webhook contract (reference/guard-rbac.md §4.2): v1 or v1beta1 in, the same
// version out; `allowed`, `denied` (a deny short-circuits the API server's chain) and `reason`. In
// v1beta1 the groups field is spelled `group`. An error is HTTP 500, which the API server takes as
// "no opinion" and does not cache.

export const ACCESS_REVIEW_VERSIONS = ['authorization.k8s.io/v1', 'authorization.k8s.io/v1beta1'] as const;

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

export async function reviewAccess(body: unknown, authorize: AzureAuthorizer): Promise<WebhookReply> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return badReview('the request body must be a SubjectAccessReview object');
  const review = body as { apiVersion?: unknown; kind?: unknown; spec?: Record<string, unknown> };
  const apiVersion = review.apiVersion as string;
  if (!ACCESS_REVIEW_VERSIONS.includes(apiVersion as (typeof ACCESS_REVIEW_VERSIONS)[number])) {
    return badReview(`unsupported apiVersion ${JSON.stringify(review.apiVersion)}: expected one of ${ACCESS_REVIEW_VERSIONS.join(', ')}`);
  }
  if (review.kind !== 'SubjectAccessReview')
    return badReview(`unsupported kind ${JSON.stringify(review.kind)}: expected SubjectAccessReview`);
  const spec = review.spec ?? {};
  const groups = apiVersion.endsWith('v1beta1') ? spec.group : spec.groups;
  const extra = spec.extra ?? {};
  const ra = spec.resourceAttributes as AccessRequest['resourceAttributes'] | undefined;
  const na = spec.nonResourceAttributes as AccessRequest['nonResourceAttributes'] | undefined;
  if (
    typeof spec.user !== 'string' ||
    (groups !== undefined && groups !== null && !strings(groups)) ||
    typeof extra !== 'object' ||
    Object.values(extra as object).some((v) => !strings(v)) ||
    !ra === !na ||
    (ra && typeof ra !== 'object') ||
    (na && typeof na !== 'object')
  ) {
    return badReview(
      'spec needs user (a string), groups (strings), extra (lists of strings) and exactly one of resourceAttributes and nonResourceAttributes',
    );
  }
  const decision = await authorize({
    user: spec.user,
    groups: (groups as string[] | null) ?? [],
    extra: extra as Record<string, string[]>,
    resourceAttributes: ra,
    nonResourceAttributes: na,
  });
  if (decision.error) return kubeStatus(500, 'InternalError', decision.error);
  const status: Record<string, unknown> = {
    allowed: decision.allowed,
    ...(decision.denied ? { denied: true } : {}),
    reason: decision.reason,
  };
  return { statusCode: 200, body: { apiVersion, kind: 'SubjectAccessReview', metadata: { creationTimestamp: null }, spec: {}, status } };
}
