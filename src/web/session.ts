import type { FastifyReply, FastifyRequest } from 'fastify';
import { AadError, homeAccountOf, type IdentityServices, type SignedInUser } from '../identity/index.js';
import { randomToken, sha256Hex } from '../shared/crypto.js';
import type { Tenant } from '../store/index.js';

// The sign-in session (SSO) of the authorization endpoint, as Entra keeps one in its ESTSAUTH cookie:
// after a password sign-in the browser holds a random session id (the store keeps only its SHA-256),
// scoped to the tenant's path, so the next /authorize from that browser skips the password and
// `prompt=none` can answer with a code. `prompt=login` asks again; the logout endpoint ends it.

export const SESSION_COOKIE = 'kentra_sso';
/** How long a session lives after the password check (Entra's sign-in frequency default is a rolling window; Kentra keeps it fixed). */
export const SESSION_LIFETIME_MS = 12 * 3600 * 1000;

/** The cookie's path: the tenant segment the authorize and logout URLs start with. */
function cookiePath(segment: string): string {
  return `/${encodeURIComponent(segment)}/`;
}

function cookieValue(req: FastifyRequest): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    const value = rest.join('=');
    // A forged or garbled value is no session.
    if (name === SESSION_COOKIE && /^[A-Za-z0-9_-]{43,128}$/.test(value)) return value;
  }
  return null;
}

function setCookie(reply: FastifyReply, segment: string, value: string, maxAgeSeconds?: number): void {
  // SameSite=None: the authorization request may come from the client's site (top-level navigation,
  // form_post, or a hidden iframe for prompt=none), and the browser must send the cookie on each.
  const attrs = [`${SESSION_COOKIE}=${value}`, `Path=${cookiePath(segment)}`, 'Secure', 'HttpOnly', 'SameSite=None'];
  if (maxAgeSeconds !== undefined) attrs.push(`Max-Age=${maxAgeSeconds}`);
  reply.header('set-cookie', attrs.join('; '));
}

/** After a password sign-in on the authorize page: a new session and its cookie. */
export async function startSession(
  services: IdentityServices,
  reply: FastifyReply,
  segment: string,
  signedIn: SignedInUser,
): Promise<void> {
  const value = randomToken(32);
  const now = services.clock.now();
  await services.store.createSignInSession({
    idHash: sha256Hex(value),
    tenantId: signedIn.tenant.id,
    userId: signedIn.user.id,
    authTime: now,
    expiresAt: now + SESSION_LIFETIME_MS,
  });
  setCookie(reply, segment, value, Math.floor(SESSION_LIFETIME_MS / 1000));
}

/**
 * The user this browser's session signs in, for a request to `tenant` (null: a tenant-less path, where
 * the session's own tenant is used). Null when there is no live session, the account is gone or
 * disabled, the session is another tenant's, or `loginHint` names someone else.
 */
export async function sessionUser(
  services: IdentityServices,
  req: FastifyRequest,
  tenant: Tenant | null,
  loginHint?: string,
): Promise<SignedInUser | null> {
  const value = cookieValue(req);
  if (!value) return null;
  const session = await services.store.getSignInSession(sha256Hex(value), services.clock.now());
  if (!session || (tenant && session.tenantId !== tenant.id)) return null;
  const sessionTenant = tenant ?? (await services.store.getTenant(session.tenantId));
  const user = sessionTenant ? await services.store.getUser(sessionTenant.id, session.userId) : null;
  if (!sessionTenant || !user || !user.accountEnabled) return null;
  const home = await homeAccountOf(services, user).catch(() => null);
  if (!home?.accountEnabled) return null;
  if (
    loginHint &&
    loginHint.toLowerCase() !== home.userPrincipalName.toLowerCase() &&
    loginHint.toLowerCase() !== user.userPrincipalName.toLowerCase()
  )
    return null;
  return { tenant: sessionTenant, user, home };
}

/** Ends this browser's session for the segment (logout): the row is deleted and the cookie cleared. */
export async function endSession(services: IdentityServices, req: FastifyRequest, reply: FastifyReply, segment: string): Promise<void> {
  if (!req.headers.cookie?.includes(`${SESSION_COOKIE}=`)) return;
  const value = cookieValue(req);
  if (value) await services.store.deleteSignInSession(sha256Hex(value));
  setCookie(reply, segment, '', 0);
}

/** `prompt=none` when the user would have to consent: the request fails as Entra fails it. */
export const consentRequired = (appName: string): AadError =>
  new AadError(
    65001,
    'consent_required',
    400,
    `The user or administrator has not consented to use the application '${appName}'. Send an interactive authorization request for this user and resource.`,
  );
