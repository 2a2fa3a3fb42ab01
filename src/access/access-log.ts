import { GROUPS_FROM_DIRECTORY, type AuthnResult, type UserInfo } from './authn.js';
import type { AccessDecisionRecord, ClusterSettings } from './ports.js';
import type { RequestAttributes } from './rbac.js';
import type { WebhookReply } from './token-review.js';

// The cluster access log's entries (docs/access-log.md), built from what a decision saw. The
// cluster-access service queues a closure per decision; these functions run when its batch is
// written, off the request's path. Nothing secret leaves them: the bearer token is only scrubbed from
// any reason text; whether the groups came from the token's claim or from the directory (overage) is
// marked on the user by the Entra authenticator (GROUPS_FROM_DIRECTORY).

export type AccessSource = AccessDecisionRecord['source'];

/** What a request authenticated with: only to tell where its groups came from. Never recorded. */
export interface CredentialSeen {
  token?: string;
  certificate?: boolean;
  /** The user is the one `kubectl --as` named. */
  impersonated?: boolean;
}

const MAX_TEXT = 256;
const MAX_REASON = 1024;
const JWT_LIKE = /eyJ[\w-]*\.[\w-]*\.[\w-]*/g;

const clip = (s: string, max = MAX_TEXT): string => (s.length > max ? s.slice(0, max) : s);
const orNull = (s: string | undefined | null): string | null => (s === undefined || s === null || s === '' ? null : clip(s));

/** A reason without the token the request carried (nor anything shaped like a JWT). */
export function scrubbed(text: string, token?: string): string {
  let t = text;
  if (token && token.length >= 4) t = t.split(token).join('***');
  return clip(t.replace(JWT_LIKE, '***'), MAX_REASON);
}

const objectIdOf = (user: UserInfo): string | null => orNull(user.extra?.oid?.[0]);

function groupsSourceOf(settings: ClusterSettings, user: UserInfo, seen: CredentialSeen, reviewRequest = false): string {
  let source: string;
  if (reviewRequest) source = 'reviewRequest';
  else if (seen.impersonated) source = 'impersonation';
  else if (user.username.startsWith('system:serviceaccount:')) source = 'serviceAccount';
  else if (seen.certificate) source = 'clientCertificate';
  else if (objectIdOf(user) !== null) source = user[GROUPS_FROM_DIRECTORY] ? 'graphOverage' : 'tokenClaim';
  else source = 'localAccount';
  const admins = settings.aad?.adminGroupObjectIDs ?? [];
  return admins.length && user.groups.some((g) => admins.includes(g)) ? `${source},adminGroup` : source;
}

/** What a decision is about, beyond who asked (a resource, or a non-resource path). */
type Target = Pick<AccessDecisionRecord, 'verb' | 'resource' | 'subresource' | 'apiGroup' | 'namespace' | 'name' | 'path'>;

const NO_TARGET: Target = { verb: null, resource: null, subresource: null, apiGroup: null, namespace: null, name: null, path: null };

/**
 * The entry, as one object literal with every field (no spread: V8 defines each property that follows
 * a spread in a literal through the runtime, which made an entry cost 20 µs instead of 1).
 */
function entry(
  settings: ClusterSettings,
  time: number,
  kind: AccessDecisionRecord['kind'],
  source: AccessSource,
  who: { user: string; userObjectId: string | null; groups: string[]; groupsSource: string | null },
  t: Target,
  decision: AccessDecisionRecord['decision'],
  reason: string,
): AccessDecisionRecord {
  return {
    time,
    clusterUid: settings.uid,
    kind,
    source,
    user: who.user,
    userObjectId: who.userObjectId,
    groups: who.groups,
    groupsSource: who.groupsSource,
    verb: t.verb,
    resource: t.resource,
    subresource: t.subresource,
    apiGroup: t.apiGroup,
    namespace: t.namespace,
    name: t.name,
    path: t.path,
    decision,
    reason,
  };
}

function who(settings: ClusterSettings, user: UserInfo, seen: CredentialSeen, reviewRequest = false) {
  return {
    user: clip(user.username),
    userObjectId: objectIdOf(user),
    groups: user.groups.map((g) => clip(g)),
    groupsSource: groupsSourceOf(settings, user, seen, reviewRequest),
  };
}

function authenticatedBy(user: UserInfo, seen: CredentialSeen): string {
  if (seen.certificate) return "authenticated by a client certificate of the cluster's CA";
  if (user.username.startsWith('system:serviceaccount:')) return 'authenticated by a service account token';
  if (objectIdOf(user) !== null) return 'authenticated by an Entra token';
  return "authenticated by the cluster's local admin token";
}

/** An authentication decision: a user (allowed), a refused credential (denied), or none known (no opinion). */
export function authenticationRecord(
  settings: ClusterSettings,
  source: AccessSource,
  time: number,
  seen: CredentialSeen,
  result: AuthnResult,
): AccessDecisionRecord {
  if (result.kind === 'user')
    return entry(
      settings,
      time,
      'authentication',
      source,
      who(settings, result.user, seen),
      NO_TARGET,
      'allowed',
      authenticatedBy(result.user, seen),
    );
  const nobody = { user: '', userObjectId: null, groups: [], groupsSource: null };
  if (result.kind === 'error')
    return entry(settings, time, 'authentication', source, nobody, NO_TARGET, 'denied', scrubbed(result.message, seen.token));
  const reason = seen.token || seen.certificate ? 'no authenticator of the cluster accepted the credential' : 'no credential was presented';
  return entry(settings, time, 'authentication', source, nobody, NO_TARGET, 'noOpinion', reason);
}

const DECISIONS = { allow: 'allowed', deny: 'denied', 'no-opinion': 'noOpinion' } as const;

/** A decision of the built-in API's authorizer chain. */
export function authorizationRecord(
  settings: ClusterSettings,
  source: AccessSource,
  time: number,
  a: RequestAttributes,
  d: { decision: 'allow' | 'deny' | 'no-opinion'; reason: string; error?: string },
  seen: CredentialSeen,
): AccessDecisionRecord {
  const t: Target = a.resourceRequest
    ? {
        verb: orNull(a.verb),
        resource: orNull(a.resource),
        subresource: orNull(a.subresource),
        apiGroup: clip(a.apiGroup ?? ''),
        namespace: orNull(a.namespace),
        name: orNull(a.name),
        path: null,
      }
    : { verb: orNull(a.verb), resource: null, subresource: null, apiGroup: null, namespace: null, name: null, path: orNull(a.path) };
  const reason = scrubbed(d.error && !d.reason ? d.error : d.reason, seen.token);
  return entry(settings, time, 'authorization', source, who(settings, a.user, seen), t, DECISIONS[d.decision], reason);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** A webhook's answer (TokenReview or SubjectAccessReview); null when the request was not a review to decide. */
export function webhookRecord(
  settings: ClusterSettings,
  review: 'tokenreviews' | 'subjectaccessreviews',
  time: number,
  body: unknown,
  reply: WebhookReply,
): AccessDecisionRecord | null {
  if (reply.statusCode === 400 || !body || typeof body !== 'object') return null;
  const request = body as { apiVersion?: unknown; spec?: Record<string, unknown> };
  const spec = request.spec ?? {};
  const status = (reply.body.status ?? {}) as Record<string, unknown>;
  if (review === 'tokenreviews') {
    const token = str(spec.token);
    if (status.authenticated === true && status.user && typeof status.user === 'object') {
      const u = status.user as UserInfo;
      return authenticationRecord(settings, 'webhook', time, { token }, { kind: 'user', user: u });
    }
    if (typeof status.error === 'string')
      return authenticationRecord(settings, 'webhook', time, { token }, { kind: 'error', message: status.error });
    return authenticationRecord(settings, 'webhook', time, { token }, { kind: 'none' });
  }
  const groups = strs(String(request.apiVersion).endsWith('v1beta1') ? spec.group : spec.groups);
  const extra = (spec.extra && typeof spec.extra === 'object' ? spec.extra : {}) as Record<string, string[]>;
  const user: UserInfo = { username: str(spec.user), uid: '', groups, extra };
  const ra = spec.resourceAttributes as Record<string, unknown> | undefined;
  const na = spec.nonResourceAttributes as Record<string, unknown> | undefined;
  const decision: AccessDecisionRecord['decision'] =
    reply.statusCode !== 200
      ? // An error is HTTP 500, which the API server takes as no opinion.
        'noOpinion'
      : status.allowed === true
        ? 'allowed'
        : status.denied === true
          ? 'denied'
          : 'noOpinion';
  const reason = reply.statusCode === 200 ? str(status.reason) : str(reply.body.message);
  const verb = orNull(str(ra ? ra.verb : na?.verb));
  const t: Target = ra
    ? {
        verb,
        resource: orNull(str(ra.resource)),
        subresource: orNull(str(ra.subresource)),
        apiGroup: clip(str(ra.group)),
        namespace: orNull(str(ra.namespace)),
        name: orNull(str(ra.name)),
        path: null,
      }
    : { verb, resource: null, subresource: null, apiGroup: null, namespace: null, name: null, path: orNull(str(na?.path)) };
  return entry(settings, time, 'authorization', 'webhook', who(settings, user, {}, true), t, decision, scrubbed(reason));
}
