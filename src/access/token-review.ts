import { kubeStatusBody } from '../shared/kube-status.js';
import type { AuthnResult, TokenAuthenticator } from './authn.js';

// The TokenReview webhook contract (reference/guard-rbac.md §4.1 and §1.6): the kube-apiserver POSTs
// a TokenReview in the version it was configured with (v1 or v1beta1) and expects the answer in the
// same version. A user → 200 authenticated; no answer → 200 unauthenticated; an error → the error in
// `status.error` with Guard's status code (401 unless the authenticator says otherwise).

export const TOKEN_REVIEW_VERSIONS = ['authentication.k8s.io/v1', 'authentication.k8s.io/v1beta1'] as const;

export interface WebhookReply {
  statusCode: number;
  body: Record<string, unknown>;
}

/** Answers serialized once (those of cached results): their JSON, so the webhook sends it as it is. */
const serialized = new WeakMap<WebhookReply, string>();

/** `reply.body` as JSON when it was serialized already. */
export const serializedReply = (reply: WebhookReply): string | undefined => serialized.get(reply);

/** A cached result's answer, per apiVersion: the cache hands out the same result object until it expires. */
const answered = new WeakMap<AuthnResult, Map<string, WebhookReply>>();

/** A Kubernetes Status failure. */
export function kubeStatus(code: number, reason: string, message: string): WebhookReply {
  return { statusCode: code, body: kubeStatusBody(code, reason, message) };
}

/** A Kubernetes Status for a request that is not a TokenReview at all. */
export const badReview = (message: string): WebhookReply => kubeStatus(400, 'BadRequest', message);

export async function reviewToken(body: unknown, authenticate: TokenAuthenticator): Promise<WebhookReply> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return badReview('the request body must be a TokenReview object');
  const review = body as { apiVersion?: unknown; kind?: unknown; spec?: { token?: unknown; audiences?: unknown } };
  const apiVersion = review.apiVersion;
  if (!TOKEN_REVIEW_VERSIONS.includes(apiVersion as (typeof TOKEN_REVIEW_VERSIONS)[number])) {
    return badReview(`unsupported apiVersion ${JSON.stringify(apiVersion)}: expected one of ${TOKEN_REVIEW_VERSIONS.join(', ')}`);
  }
  if (review.kind !== 'TokenReview') return badReview(`unsupported kind ${JSON.stringify(review.kind)}: expected TokenReview`);
  const reply = (statusCode: number, status: Record<string, unknown>): WebhookReply => ({
    statusCode,
    body: { apiVersion, kind: 'TokenReview', metadata: { creationTimestamp: null }, spec: {}, status },
  });
  const token = review.spec?.token;
  if (typeof token !== 'string' || token === '') return reply(400, { authenticated: false, error: 'spec.token is required' });
  const audiences = review.spec?.audiences;
  if (audiences !== undefined && audiences !== null && (!Array.isArray(audiences) || audiences.some((a) => typeof a !== 'string'))) {
    return reply(400, { authenticated: false, error: 'spec.audiences must be a list of strings' });
  }
  const result = await authenticate({ token, audiences: (audiences as string[] | null | undefined) ?? undefined });
  if (result.kind === 'error') return reply(result.httpStatus ?? 401, { authenticated: false, user: {}, error: result.message });
  let byVersion = answered.get(result);
  const known = byVersion?.get(apiVersion as string);
  if (known) return known;
  const answer =
    result.kind === 'user' ? reply(200, { authenticated: true, user: result.user }) : reply(200, { authenticated: false, user: {} });
  serialized.set(answer, JSON.stringify(answer.body));
  if (!byVersion) answered.set(result, (byVersion = new Map()));
  byVersion.set(apiVersion as string, answer);
  return answer;
}
