import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AadError,
  aad,
  browserMayGoTo,
  cspSourceFor,
  homeAccountOf,
  isGlobalAdministrator,
  matchRedirectUri,
  Params,
  parseScope,
  type HttpEdge,
  type IdentityServices,
  type RedirectPlatform,
  type SignedInUser,
} from '../identity/index.js';
import { randomToken, sha256Hex } from '../shared/crypto.js';
import { seal, unseal } from '../shared/sealed.js';
import type { Application } from '../store/index.js';
import {
  askConsent,
  consentQuestion,
  formBody,
  html,
  recordConsent,
  signInFromForm,
  signInTarget,
  STATE_TTL_MS,
  type PagePolicy,
} from './flow.js';
import { FORM_POST_SCRIPT_SOURCE, formPostPage, messagePage, signInPage } from './pages.js';
import { consentRequired, sessionUser, startSession } from './session.js';
import { searchParamsOf } from '../shared/uri.js';

export { matchRedirectUri };

const CODE_LIFETIME_MS = 10 * 60 * 1000;

interface AuthorizeState {
  seg: string;
  cid: string;
  ru: string;
  sc: string;
  st?: string;
  cc?: string;
  nonce?: string;
  mode: string;
  hint?: string;
}
interface ConsentState extends AuthorizeState {
  t: string;
  u: string;
}

/** The pages of one authorization request may post to Kentra and be redirected on to the client's redirect URI. */
function pagePolicy(s: AuthorizeState): PagePolicy {
  const target = cspSourceFor(s.ru);
  return { formAction: target ? ["'self'", target] : ["'self'"] };
}

/**
 * Sends the browser back to the client's (validated) redirect URI. `status` is 302 for an answer to a
 * GET and 303 after a credential POST, so the browser never re-posts the password (RFC 9700 §4.12).
 */
function redirectWith(reply: FastifyReply, s: AuthorizeState, fields: Record<string, string | undefined>, status: 302 | 303): FastifyReply {
  const clean = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Record<string, string>;
  if (s.mode === 'form_post') {
    const target = cspSourceFor(s.ru);
    return html(reply, formPostPage(s.ru, clean), 200, { formAction: target ? [target] : ["'none'"], scripts: [FORM_POST_SCRIPT_SOURCE] });
  }
  const url = new URL(s.ru);
  if (s.mode === 'fragment') {
    url.hash = new URLSearchParams(clean).toString();
  } else {
    for (const [k, v] of Object.entries(clean)) url.searchParams.set(k, v);
  }
  return reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').redirect(url.toString(), status);
}

function redirectError(reply: FastifyReply, s: AuthorizeState, err: AadError, status: 302 | 303): FastifyReply {
  return redirectWith(reply, s, { error: err.error, error_description: err.message, error_codes: String(err.code), state: s.st }, status);
}

/** The authorization endpoint: validates the request, shows sign-in and consent, redirects with a code. */
export function registerAuthorize(app: FastifyInstance, services: IdentityServices, edge?: HttpEdge): void {
  const now = () => services.clock.now();

  const issueCode = async (reply: FastifyReply, s: AuthorizeState, signedIn: SignedInUser, status: 302 | 303 = 303) => {
    const code = randomToken(48);
    await services.store.createAuthorizationCode({
      codeHash: sha256Hex(code),
      tenantId: signedIn.tenant.id,
      clientId: s.cid,
      userId: signedIn.user.id,
      redirectUri: s.ru,
      scope: s.sc,
      codeChallenge: s.cc ?? null,
      codeChallengeMethod: s.cc ? 'S256' : null,
      nonce: s.nonce ?? null,
      createdAt: now(),
      expiresAt: now() + CODE_LIFETIME_MS,
      redeemedAt: null,
    });
    const clientInfo = Buffer.from(JSON.stringify({ uid: signedIn.home.id, utid: signedIn.home.tenantId })).toString('base64url');
    // 303 after a POST (sign-in or consent); 302 when the session answered a GET.
    return redirectWith(reply, s, { code, client_info: clientInfo, state: s.st, session_state: randomToken(16) }, status);
  };

  const consentOrCode = async (
    reply: FastifyReply,
    s: AuthorizeState,
    signedIn: SignedInUser,
    client: Application,
    action: string,
    fromSession?: { silent: boolean },
  ) => {
    const question = await consentQuestion(services, signedIn, client, s.sc);
    if (!question) return issueCode(reply, s, signedIn, fromSession ? 302 : 303);
    if (fromSession?.silent) throw consentRequired(client.displayName);
    const state = seal(services.formKey, { ...s, t: signedIn.tenant.id, u: signedIn.user.id }, now() + STATE_TTL_MS);
    return askConsent(
      reply,
      {
        action: `${action}/consent`,
        state,
        appName: client.displayName,
        user: signedIn.home.userPrincipalName,
        question,
        canConsentForOrganization: await isGlobalAdministrator(services, signedIn.tenant.id, signedIn.user.id),
      },
      pagePolicy(s),
    );
  };

  const start = async (req: FastifyRequest, reply: FastifyReply) => {
    const { tenant: segment } = req.params as { tenant: string };
    const action = req.url.split('?')[0]!.replace(/\/$/, '');
    try {
      // Duplicated parameters are refused (as Entra does) before anything is trusted.
      const params = Params.fromSearch(searchParamsOf(req.url));
      const q = Object.fromEntries(params.entries().filter(([, v]) => v !== '')) as Record<string, string | undefined>;
      const clientId = (q.client_id ?? '').toLowerCase();
      if (!clientId) throw aad.missingParameter('client_id');
      const { tenant, client: registered } = await signInTarget(services, segment, clientId);
      const client = registered ?? (tenant ? null : await firstPartyClient(services, clientId));
      if (!client) throw aad.appNotFound(clientId, tenant?.defaultDomain ?? segment);
      const redirectUri = q.redirect_uri;
      if (!redirectUri) throw aad.missingParameter('redirect_uri');
      const kind: RedirectPlatform | null = matchRedirectUri(client, redirectUri, edge?.originOf(req));
      const requestedMode = q.response_mode ?? 'query';
      const mode = ['query', 'fragment', 'form_post'].includes(requestedMode) ? requestedMode : 'query';
      // Not registered, or registered but not a place a browser may be sent (javascript:, data:, …): a page, never a redirect.
      if (!kind || !browserMayGoTo(redirectUri, kind, mode)) throw aad.redirectMismatch(redirectUri, clientId);
      const s: AuthorizeState = {
        seg: segment,
        cid: clientId,
        ru: redirectUri,
        sc: q.scope ?? '',
        st: q.state,
        cc: q.code_challenge,
        nonce: q.nonce,
        mode,
        hint: q.login_hint,
      };
      try {
        if (q.response_type !== 'code') throw aad.responseTypeUnsupported(q.response_type ?? '');
        if (!s.sc) throw aad.missingParameter('scope');
        parseScope(s.sc);
        if (q.code_challenge_method && q.code_challenge_method !== 'S256') throw aad.pkceMethod();
        if (s.cc && !/^[A-Za-z0-9_-]{43}$/.test(s.cc)) throw aad.pkceChallengeSize();
        if (s.cc && !q.code_challenge_method) throw aad.pkceMethod();
        // PKCE is required for public clients and for spa redirect URIs (Entra: "required for SPAs using the code flow").
        if (!s.cc && (kind === 'public' || kind === 'spa')) throw aad.pkceRequired();
        // The browser's sign-in session answers without a page, unless prompt=login asks for the password.
        const session = q.prompt === 'login' ? null : await sessionUser(services, req, tenant, q.login_hint);
        if (!session && q.prompt === 'none') throw aad.loginRequired();
        const sessionClient = session ? await services.store.findApplicationByAppId(session.tenant.id, clientId) : null;
        if (session && sessionClient && q.prompt !== 'consent' && q.prompt !== 'select_account')
          return await consentOrCode(reply, s, session, sessionClient, action, { silent: q.prompt === 'none' });
        if (q.prompt === 'none') throw aad.loginRequired();
      } catch (err) {
        if (err instanceof AadError) return redirectError(reply, s, err, 302);
        throw err;
      }
      const state = seal(services.formKey, s, now() + STATE_TTL_MS);
      // Entra: a login_hint naming an account of the tenant goes straight to that account's password.
      const known = s.hint ? await knownAccount(services, tenant, s.hint) : undefined;
      return html(
        reply,
        signInPage({ action, state, appName: client.displayName, loginHint: known ?? s.hint, knownAccount: !!known }),
        200,
        pagePolicy(s),
      );
    } catch (err) {
      if (err instanceof AadError)
        return html(reply, messagePage("Sorry, but we're having trouble signing you in.", err.message, true), 400);
      throw err;
    }
  };

  const submit = async (req: FastifyRequest, reply: FastifyReply) => {
    const form = formBody(req);
    const action = req.url.split('?')[0]!.replace(/\/$/, '');
    const s = unseal<AuthorizeState>(services.formKey, form.state, now());
    if (!s)
      return html(
        reply,
        messagePage('Sign-in expired', 'This sign-in page has expired. Go back to the application and sign in again.', true),
        400,
      );
    try {
      const { tenant } = await signInTarget(services, s.seg, s.cid);
      const signedIn = await signInFromForm(services, req, reply, form, tenant, {
        action,
        state: form.state!,
        appName: s.cid,
        clientId: s.cid,
        policy: pagePolicy(s),
      });
      if (!signedIn) return reply;
      const client = await services.store.findApplicationByAppId(signedIn.tenant.id, s.cid);
      if (!client) throw aad.appNotFound(s.cid, signedIn.tenant.defaultDomain);
      await startSession(services, reply, s.seg, signedIn);
      return await consentOrCode(reply, s, signedIn, client, action);
    } catch (err) {
      if (err instanceof AadError) return redirectError(reply, s, err, 303);
      throw err;
    }
  };

  const consent = async (req: FastifyRequest, reply: FastifyReply) => {
    const form = formBody(req);
    const s = unseal<ConsentState>(services.formKey, form.state, now());
    if (!s)
      return html(
        reply,
        messagePage('Sign-in expired', 'This sign-in page has expired. Go back to the application and sign in again.', true),
        400,
      );
    try {
      if (form.decision !== 'accept') throw aad.consentDeclined();
      const tenant = await services.store.getTenant(s.t);
      const user = tenant ? await services.store.getUser(tenant.id, s.u) : null;
      const client = tenant ? await services.store.findApplicationByAppId(tenant.id, s.cid) : null;
      if (!tenant || !user || !client) throw aad.grantInvalid();
      const signedIn: SignedInUser = { tenant, user, home: await homeAccountOf(services, user) };
      const problem = await recordConsent(services, signedIn, client, s.sc, form.for_organization === '1');
      if (problem) return html(reply, messagePage('Need admin approval', problem, true), 403);
      return await issueCode(reply, s, signedIn);
    } catch (err) {
      if (err instanceof AadError) return redirectError(reply, s, err, 303);
      throw err;
    }
  };

  for (const prefix of ['/:tenant/oauth2/v2.0/authorize', '/:tenant/oauth2/authorize']) {
    app.get(prefix, start);
    app.post(prefix, submit);
    app.post(`${prefix}/consent`, consent);
  }
}

/** The UPN of the enabled account a login_hint names, in the request's tenant (or its domain's, for common). */
async function knownAccount(services: IdentityServices, tenant: { id: string } | null, hint: string): Promise<string | undefined> {
  // Only something shaped like a UPN reaches the store (no control characters, a plain domain).
  if (!/^[^\s@\u0000-\u001f\u007f]{1,113}@[A-Za-z0-9.-]{1,255}$/.test(hint)) return undefined;
  const at = hint.lastIndexOf('@');
  const home = tenant ?? (await services.store.findTenantByDomain(hint.slice(at + 1)));
  const user = home ? await services.store.findUserByUpn(home.id, hint) : null;
  return user && user.accountEnabled !== false ? user.userPrincipalName : undefined;
}

/** A first-party client as registered in any tenant (they are alike in every tenant). */
async function firstPartyClient(services: IdentityServices, clientId: string): Promise<Application | null> {
  const [tenant] = await services.store.listTenants();
  return tenant ? services.store.findApplicationByAppId(tenant.id, clientId) : null;
}
