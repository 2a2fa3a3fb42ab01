import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  adminOnlyScopes,
  consentedScopes,
  findHomeTenantForClient,
  grantConsent,
  isGlobalAdministrator,
  parseScope,
  signInWithPassword,
  tenantOfSegment,
  AadError,
  type IdentityServices,
  type SignedInUser,
} from '../identity/index.js';
import type { Application, Tenant } from '../store/index.js';
import { consentPage, signInPage } from './pages.js';

export const STATE_TTL_MS = 10 * 60 * 1000;

export interface ConsentQuestion {
  /** Scope values the user is asked to grant on the resource. */
  scopes: { value: string; description: string }[];
  adminOnly: string[];
}

/** What the user must consent to before the client may have the scope, or null when nothing. */
export async function consentQuestion(
  services: IdentityServices,
  signedIn: SignedInUser,
  client: Application,
  scopeText: string,
): Promise<ConsentQuestion | null> {
  const scope = parseScope(scopeText);
  const sp = await services.store.findServicePrincipalByAppId(signedIn.tenant.id, client.appId);
  const { resource, granted } = await consentedScopes(services, signedIn.tenant.id, { app: client, sp }, scope, signedIn.user);
  if (granted) return null;
  const values = scope.resourceId ? scope.values : ['User.Read'];
  let wanted: string[];
  if (values.includes('.default')) {
    const ids = new Set(
      client.requiredResourceAccess
        .filter((r) => r.resourceAppId === resource.app.appId)
        .flatMap((r) => r.resourceAccess.filter((a) => a.type === 'Scope').map((a) => a.id)),
    );
    const configured = resource.app.oauth2PermissionScopes.filter((s) => ids.has(s.id)).map((s) => s.value);
    wanted = configured.length ? configured : resource.app.oauth2PermissionScopes.filter((s) => s.type === 'User').map((s) => s.value);
  } else {
    wanted = values;
  }
  const byValue = new Map(resource.app.oauth2PermissionScopes.map((s) => [s.value.toLowerCase(), s]));
  return {
    scopes: wanted.map((v) => ({
      value: v,
      description: byValue.get(v.toLowerCase())?.userConsentDisplayName ?? byValue.get(v.toLowerCase())?.adminConsentDisplayName ?? v,
    })),
    adminOnly: adminOnlyScopes(resource, wanted),
  };
}

/** Records the user's (or, for an administrator who asks, the organization's) consent. */
export async function recordConsent(
  services: IdentityServices,
  signedIn: SignedInUser,
  client: Application,
  scopeText: string,
  forOrganization: boolean,
): Promise<string | null> {
  const question = await consentQuestion(services, signedIn, client, scopeText);
  if (!question) return null;
  const admin = await isGlobalAdministrator(services, signedIn.tenant.id, signedIn.user.id);
  if (question.adminOnly.length && !admin) {
    return `AADSTS90094: ${client.displayName} needs permission to access resources in your organization that only an admin can grant (${question.adminOnly.join(', ')}). Please ask an admin to grant permission to this app before you can use it.`;
  }
  const scope = parseScope(scopeText);
  const { resource } = await consentedScopes(services, signedIn.tenant.id, { app: client, sp: null }, scope, signedIn.user);
  await grantConsent(
    services,
    signedIn.tenant.id,
    client,
    resource,
    question.scopes.map((s) => s.value),
    forOrganization && admin ? null : signedIn.user.id,
  );
  return null;
}

/** The tenant a sign-in is for: the path's, or for a tenant-less path the one the app is registered in. */
export async function signInTarget(
  services: IdentityServices,
  segment: string,
  clientId: string,
): Promise<{ tenant: Tenant | null; client: Application | null }> {
  const tenant = await tenantOfSegment(services, segment);
  if (tenant) return { tenant, client: await services.store.findApplicationByAppId(tenant.id, clientId) };
  return findHomeTenantForClient(services, clientId);
}

export interface PagePolicy {
  /**
   * Where the page's forms may go, as CSP sources; default `'self'`. Browsers apply form-action to the
   * redirect that answers a form too, so a sign-in page lists the client's redirect URI origin.
   */
  formAction?: string[];
  /** CSP sources of the scripts the page runs; none by default. */
  scripts?: string[];
}

/**
 * Sends an interactive page with the headers every one of them carries: no framing (CSP
 * frame-ancestors and X-Frame-Options, RFC 9700 §4.16), no referrer (§4.2), no caching, no sniffing.
 */
export function html(reply: FastifyReply, body: string, status = 200, policy: PagePolicy = {}): FastifyReply {
  const csp = [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    `script-src ${policy.scripts?.join(' ') || "'none'"}`,
    `form-action ${policy.formAction?.join(' ') || "'self'"}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .header('x-frame-options', 'DENY')
    .header('content-security-policy', csp)
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .type('text/html; charset=utf-8')
    .send(body);
}

export function formBody(req: FastifyRequest): Record<string, string> {
  const body = req.body;
  const params = new URLSearchParams(typeof body === 'string' ? body : '');
  const out: Record<string, string> = {};
  for (const [k, v] of params) out[k] = v;
  return out;
}

/** Signs the user in from the sign-in form, or renders the form again with the error. */
export async function signInFromForm(
  services: IdentityServices,
  req: FastifyRequest,
  reply: FastifyReply,
  form: Record<string, string>,
  target: Tenant | null,
  again: { action: string; state: string; appName: string; heading?: string; intro?: string; policy?: PagePolicy; clientId?: string },
): Promise<SignedInUser | null> {
  const attempt = { ip: req.ip, clientId: again.clientId, username: form.username ?? '', target };
  try {
    const signedIn = await signInWithPassword(services, {
      username: form.username ?? '',
      password: form.password ?? '',
      target,
      ip: req.ip,
    });
    services.signInLog?.recordInteractive({ ...attempt, signedIn });
    return signedIn;
  } catch (err) {
    services.signInLog?.recordInteractive({ ...attempt, error: err });
    if (!(err instanceof AadError)) throw err;
    const { policy, clientId: _clientId, ...page } = again;
    html(reply, signInPage({ ...page, error: err.message, loginHint: form.username }), err.status === 429 ? 429 : 400, policy);
    return null;
  }
}

export function askConsent(
  reply: FastifyReply,
  input: {
    action: string;
    state: string;
    appName: string;
    user: string;
    question: ConsentQuestion;
    canConsentForOrganization: boolean;
    error?: string;
  },
  policy?: PagePolicy,
): FastifyReply {
  return html(reply, consentPage({ ...input, scopes: input.question.scopes }), 200, policy);
}
