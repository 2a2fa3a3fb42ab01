import type { ChainDecision, ClusterAccessService, RequestAttributes, TokenFailureCode, UserInfo } from '../access/index.js';
import { decodeJwt } from '../identity/index.js';
import type { ArmResource, Store } from '../store/index.js';
import { ArmError } from './arm.js';
import { clusterSecretsOf } from './cluster-record.js';
import { isGuid } from '../shared/crypto.js';
import { forbiddenMessage } from '../shared/kube-status.js';

// Kentra's `checkAccess` action (`kentra aks check-access`): one cluster access decision explained
// step by step, with the same authenticators and authorizer chain as the cluster's Kubernetes API.
// It answers "You must be logged in to the server" (which token check failed) and "Forbidden"
// (which authorizer said what, and which binding or role assignment allowed it, or that none did).
// The token is never echoed: only the claims that explain the decision are shown.

export interface CheckAccessRequest {
  token?: string;
  user?: string;
  verb: string;
  resource?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  apiGroup?: string;
  path?: string;
}

export interface CheckStep {
  step: number;
  title: string;
  outcome: 'passed' | 'failed' | 'info' | 'allow' | 'deny' | 'no-opinion';
  details: string[];
}

export interface CheckAccessResult {
  allowed: boolean;
  authenticated: boolean;
  request: Record<string, unknown> & { description: string };
  identity: {
    source: 'token' | 'directory';
    kind?: 'entra' | 'serviceAccount' | 'localAccount' | 'unknown';
    checks?: { check: string; result: 'passed' | 'failed' | 'not checked'; detail?: string }[];
    error?: string;
    user?: UserInfo;
    groupsSource?: 'token' | 'overage' | 'directory' | 'none' | 'credential';
  };
  authorization?: {
    decision: ChainDecision['decision'];
    reason: string;
    error?: string;
    steps: (ChainDecision['steps'][number] & { explanation: string })[];
  };
  /** What kubectl would print for this request. */
  kubectl: string;
  steps: CheckStep[];
}

const invalid = (message: string) => new ArmError(400, 'InvalidRequestContent', message);
const UNAUTHORIZED = 'error: You must be logged in to the server (Unauthorized)';

/** The body, checked as ARM checks a request's content. */
export function parseCheckAccessRequest(body: unknown): CheckAccessRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('The request content must be a JSON object.');
  const b = body as Record<string, unknown>;
  const known = ['token', 'user', 'verb', 'resource', 'namespace', 'name', 'subresource', 'apiGroup', 'path'];
  const unknown = Object.keys(b).filter((k) => !known.includes(k));
  if (unknown.length)
    throw invalid(
      `Unknown propert${unknown.length > 1 ? 'ies' : 'y'} '${unknown.join("', '")}' in the request content; known: ${known.join(', ')}.`,
    );
  for (const k of known) {
    if (b[k] !== undefined && b[k] !== null && (typeof b[k] !== 'string' || b[k] === ''))
      throw invalid(`The property '${k}' must be a non-empty string.`);
  }
  const s = (k: string) => (typeof b[k] === 'string' ? (b[k] as string) : undefined);
  if (!!s('token') === !!s('user'))
    throw invalid(
      "Exactly one of 'token' (a bearer token, as kubectl would send) or 'user' (a user principal name or object id) is required.",
    );
  const verb = s('verb');
  if (!verb)
    throw invalid("The property 'verb' is required (get, list, watch, create, update, patch, delete, deletecollection, impersonate, …).");
  if (!/^[a-z*]+$/i.test(verb)) throw invalid(`The verb '${verb}' is invalid.`);
  const path = s('path');
  const resource = s('resource');
  if (!!path === !!resource)
    throw invalid("Exactly one of 'resource' (a resource request) or 'path' (a non-resource request such as /metrics) is required.");
  if (path) {
    if (!path.startsWith('/')) throw invalid(`The path '${path}' must start with '/'.`);
    for (const k of ['namespace', 'name', 'subresource', 'apiGroup'])
      if (s(k)) throw invalid(`The property '${k}' applies to resource requests only, not to path '${path}'.`);
    return { token: s('token'), user: s('user'), verb: verb.toLowerCase(), path };
  }
  // `pods/log` and `deployments.apps` as kubectl auth can-i takes them.
  let res = resource!;
  let subresource = s('subresource');
  let apiGroup = s('apiGroup');
  const slash = res.indexOf('/');
  if (slash >= 0) {
    if (subresource) throw invalid(`The resource '${res}' names a subresource and so does 'subresource'.`);
    subresource = res.slice(slash + 1);
    res = res.slice(0, slash);
  }
  const dot = res.indexOf('.');
  if (dot >= 0) {
    if (apiGroup !== undefined) throw invalid(`The resource '${res}' names an API group and so does 'apiGroup'.`);
    apiGroup = res.slice(dot + 1);
    res = res.slice(0, dot);
  }
  if (!/^[a-z0-9*-]+$/.test(res))
    throw invalid(`The resource '${resource}' is invalid: use its plural lower-case name (pods, deployments.apps, pods/log).`);
  return {
    token: s('token'),
    user: s('user'),
    verb: verb.toLowerCase(),
    resource: res,
    namespace: s('namespace'),
    name: s('name'),
    subresource,
    apiGroup: apiGroup ?? '',
  };
}

function describeRequest(q: CheckAccessRequest): string {
  if (q.path) return `${q.verb} ${q.path} (a non-resource request)`;
  const what = `${q.resource}${q.subresource ? `/${q.subresource}` : ''}${q.apiGroup ? ` in API group "${q.apiGroup}"` : ''}`;
  return `${q.verb} ${what}${q.name ? ` named "${q.name}"` : ''}${q.namespace ? ` in namespace "${q.namespace}"` : ' (cluster-wide)'}`;
}

/** The Entra checks in the order Guard makes them, and the authenticator's codes for a failure of each. */
const ENTRA_CHECKS: { check: string; failed: readonly TokenFailureCode[] }[] = [
  { check: 'issuer', failed: ['issuer'] },
  { check: 'signature', failed: ['unknown_key', 'bad_signature'] },
  { check: 'lifetime (exp, nbf)', failed: ['expired', 'not_yet_valid'] },
  { check: 'audience', failed: ['audience'] },
  { check: 'tenant', failed: ['tenant'] },
  { check: 'user claims (upn, oid)', failed: ['user_claims'] },
  { check: 'groups', failed: ['groups', 'app_overage'] },
];

const claimsOf = (token: string): Record<string, unknown> | null => {
  try {
    return decodeJwt(token).payload as Record<string, unknown>;
  } catch {
    return null;
  }
};

export interface CheckAccessDeps {
  store: Store;
  /** The cluster API's own chains (the one cluster-access service). */
  access: Pick<ClusterAccessService, 'authenticate' | 'authorize'>;
}

export async function checkClusterAccess(
  deps: CheckAccessDeps,
  cluster: ArmResource,
  origin: string,
  q: CheckAccessRequest,
): Promise<CheckAccessResult> {
  const { uid, aad } = clusterSecretsOf(cluster);
  const steps: CheckStep[] = [];
  const add = (title: string, outcome: CheckStep['outcome'], details: string[] = []) =>
    steps.push({ step: steps.length + 1, title, outcome, details });
  const request = q.path
    ? { verb: q.verb, path: q.path, description: describeRequest(q) }
    : {
        verb: q.verb,
        resource: q.resource,
        apiGroup: q.apiGroup ?? '',
        ...(q.subresource ? { subresource: q.subresource } : {}),
        ...(q.namespace ? { namespace: q.namespace } : {}),
        ...(q.name ? { name: q.name } : {}),
        description: describeRequest(q),
      };
  const groupName = async (id: string) => {
    if (!aad || !isGuid(id)) return '';
    const g = await deps.store.getGroup(aad.tenantID, id).catch(() => null);
    return g ? ` (${g.displayName})` : '';
  };
  const groupLines = async (groups: string[]) => {
    const lines = [];
    for (const g of groups) lines.push(`${g}${await groupName(g)}`);
    lines.push('system:authenticated (added by the kube-apiserver to every authenticated user)');
    return lines;
  };

  let user: UserInfo;
  let identity: CheckAccessResult['identity'];
  if (q.user) {
    if (!aad)
      throw new ArmError(
        400,
        'BadRequest',
        `The cluster '${cluster.name}' has no Microsoft Entra integration: no directory user can sign in to it. Check a token (--token) instead.`,
      );
    const tenant = aad.tenantID;
    const u = isGuid(q.user) ? await deps.store.getUser(tenant, q.user.toLowerCase()) : await deps.store.findUserByUpn(tenant, q.user);
    const sp = !u && isGuid(q.user) ? await deps.store.getServicePrincipal(tenant, q.user.toLowerCase()) : null;
    if (!u && !sp)
      throw new ArmError(400, 'InvalidParameter', `No user or service principal '${q.user}' in the cluster's tenant ${tenant}.`);
    const oid = u?.id ?? sp!.id;
    // Guard names members by UPN; guests (no usable UPN in their tokens) and service principals by object id.
    const member = !!u && u.userType === 'Member';
    const username = member ? u!.userPrincipalName : oid;
    const groups = await deps.store.listTransitiveGroupIds(tenant, oid);
    user = { username, uid: '', groups, extra: { oid: [oid] } };
    identity = { source: 'directory', user, groupsSource: 'directory' };
    add(
      `Identity: ${u ? `${u.userType === 'Guest' ? 'guest ' : ''}user` : 'service principal'} '${q.user}' from the directory of tenant ${tenant} (no token checked)`,
      'info',
      [
        `object id: ${oid}`,
        `username: ${username} (${member ? 'the user principal name, as Guard names members' : u ? 'the object id: guests have no UPN claim, Guard names them by oid' : 'the object id: service principals have no UPN'})`,
        `extra: oid=${oid}`,
        ...(u && !u.accountEnabled ? ['note: the account is disabled: it cannot sign in to get a token'] : []),
      ],
    );
    add(`Groups from the directory (what a token would carry, or overage resolution): ${groups.length}`, 'info', await groupLines(groups));
  } else {
    const token = q.token!;
    const claims = claimsOf(token);
    const result = await deps.access.authenticate(uid, origin, token);
    if (!result) throw new ArmError(404, 'ResourceNotFound', `The cluster '${cluster.name}' has no Kubernetes API yet.`);
    const shown = claims
      ? [
          `issuer (iss): ${String(claims.iss ?? '(none)')}`,
          `audience (aud): ${JSON.stringify(claims.aud ?? null)}`,
          ...(claims.tid !== undefined ? [`tenant (tid): ${String(claims.tid)}`] : []),
          ...(claims.upn !== undefined ? [`upn: ${String(claims.upn)}`] : []),
          ...(claims.oid !== undefined ? [`oid: ${String(claims.oid)}`] : []),
          ...(claims.sub !== undefined && claims.oid === undefined ? [`sub: ${String(claims.sub)}`] : []),
          ...(typeof claims.exp === 'number' ? [`expires (exp): ${new Date(claims.exp * 1000).toISOString()}`] : []),
        ]
      : [];
    const entraLike =
      !!claims && typeof claims.iss === 'string' && (/^https:\/\/sts\.windows\.net\//.test(claims.iss) || claims.iss.endsWith('/v2.0'));
    if (result.kind !== 'user') {
      let detail: string;
      let checks: NonNullable<CheckAccessResult['identity']['checks']> | undefined;
      let kind: CheckAccessResult['identity']['kind'] = 'unknown';
      const failedAt = result.kind === 'error' && result.code ? ENTRA_CHECKS.findIndex((c) => c.failed.includes(result.code!)) : -1;
      if (result.kind === 'error' && failedAt >= 0) {
        kind = 'entra';
        const at = failedAt;
        checks = ENTRA_CHECKS.map((c, j) => ({
          check: c.check,
          result: j < at ? ('passed' as const) : j === at ? ('failed' as const) : ('not checked' as const),
          ...(j === at ? { detail: result.message } : {}),
        }));
        detail = `${ENTRA_CHECKS[at]!.check} check failed: ${result.message}`;
      } else if (result.kind === 'error') {
        detail = result.message;
      } else if (!claims) {
        detail = "the token is not a JWT and not the cluster's admin token (the local account token of `get-credentials --admin`)";
      } else if (entraLike && !aad) {
        kind = 'entra';
        detail = `an Entra ID token, but the cluster has no Microsoft Entra integration: only its local accounts and service accounts can sign in`;
      } else {
        detail = `no authenticator of the cluster accepts a token issued by "${String(claims.iss ?? '')}": not the cluster's tenant${aad ? ` (${aad.tenantID})` : ''}, not its service-account issuer`;
      }
      identity = { source: 'token', kind, ...(checks ? { checks } : {}), error: detail };
      const failedCheck = checks?.find((c) => c.result === 'failed')?.check;
      add(`Token: refused${failedCheck ? ` (the ${failedCheck} check failed)` : ''}`, 'failed', [
        ...shown,
        ...(checks ?? []).map((c) => `${c.check}: ${c.result}${c.detail ? ` — ${c.detail}` : ''}`),
        ...(checks ? [] : [detail]),
        `kubectl would say: ${UNAUTHORIZED}`,
      ]);
      return { allowed: false, authenticated: false, request, identity, kubectl: UNAUTHORIZED, steps };
    }
    user = result.user;
    const sa = user.username.startsWith('system:serviceaccount:');
    const local = !claims;
    const kind = sa ? 'serviceAccount' : local ? 'localAccount' : 'entra';
    const claimNames = claims?._claim_names as Record<string, unknown> | undefined;
    const groupsSource =
      sa || local
        ? ('credential' as const)
        : Array.isArray(claims?.groups)
          ? ('token' as const)
          : claimNames && typeof claimNames === 'object' && typeof claimNames.groups === 'string'
            ? ('overage' as const)
            : ('none' as const);
    const checks = kind === 'entra' ? ENTRA_CHECKS.map((c) => ({ check: c.check, result: 'passed' as const })) : undefined;
    identity = { source: 'token', kind, ...(checks ? { checks } : {}), user, groupsSource };
    add(
      `Token: accepted (${kind === 'entra' ? 'a Microsoft Entra ID token, checked as Guard does' : sa ? "a service account token of the cluster's issuer" : "the cluster's local admin token"})`,
      'passed',
      [
        ...shown,
        ...(checks ?? []).map((c) => `${c.check}: passed`),
        `username: ${user.username}${kind === 'entra' ? (claims?.upn ? ' (the upn claim)' : ' (the oid claim: no upn, a guest or a service principal)') : ''}`,
        ...Object.entries(user.extra).map(([k, v]) => `extra: ${k}=${v.join(',')}`),
      ],
    );
    const source = {
      token: "groups from the token's `groups` claim",
      overage: 'groups from the directory: the token has a group overage claim (_claim_names), resolved by object id as Guard does',
      none: 'no groups: the token has neither a `groups` claim nor an overage claim',
      credential: 'groups of the credential',
    }[groupsSource];
    add(`Groups: ${source}: ${user.groups.length}`, 'info', await groupLines(user.groups));
  }

  const attrs: RequestAttributes = q.path
    ? { user, verb: q.verb, resourceRequest: false, path: q.path }
    : {
        user,
        verb: q.verb,
        resourceRequest: true,
        namespace: q.namespace ?? '',
        apiGroup: q.apiGroup ?? '',
        resource: q.resource,
        subresource: q.subresource ?? '',
        name: q.name ?? '',
      };
  const d = await deps.access.authorize(uid, origin, attrs);
  if (!d) throw new ArmError(404, 'ResourceNotFound', `The cluster '${cluster.name}' has no Kubernetes API yet.`);
  const explained = d.steps.map((s) => ({ ...s, explanation: explainStep(s, q) }));
  for (const s of explained) {
    add(`Authorizer ${s.name}: ${s.decision}`, s.decision, [s.explanation, ...(s.error ? [`error: ${s.error}`] : [])]);
  }
  const allowed = d.decision === 'allow';
  const kubectl = allowed
    ? 'yes'
    : d.error
      ? `Error from server (InternalError): Internal error occurred: ${d.error}`
      : `Error from server (Forbidden): ${forbiddenMessage(q, user.username, d.reason)}`;
  if (!allowed) {
    add(d.decision === 'deny' ? 'Decision: denied' : 'Decision: no authorizer allowed it (no opinion from all: forbidden)', 'failed', [
      `kubectl would say: ${kubectl}`,
    ]);
  }
  return {
    allowed,
    authenticated: true,
    request,
    identity,
    authorization: { decision: d.decision, reason: d.reason, ...(d.error ? { error: d.error } : {}), steps: explained },
    kubectl,
    steps,
  };
}

function explainStep(s: ChainDecision['steps'][number], q: CheckAccessRequest): string {
  if (s.name === 'system:masters')
    return s.decision === 'allow'
      ? 'the user is in system:masters: allowed before any authorizer is asked'
      : 'not a member of system:masters';
  if (s.name === 'RBAC') {
    if (s.decision === 'allow') return s.reason;
    return s.reason
      ? `no RoleBinding or ClusterRoleBinding matched that allows it; ${s.reason}`
      : `no RoleBinding or ClusterRoleBinding matched: none grants ${q.verb} on ${q.path ?? q.resource} to the user or any of its groups`;
  }
  if (s.name.startsWith('Webhook')) {
    if (s.error) return `Azure RBAC could not decide: ${s.error}`;
    if (s.decision === 'allow') return s.reason;
    if (s.decision === 'deny') return `${s.reason || 'denied'} (no Azure role assignment at the cluster, its namespace or above allows it)`;
    return s.reason || 'no opinion';
  }
  return s.reason || s.decision;
}
