import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AadError, aad, homeAccountOf, isGlobalAdministrator, parseScope, type IdentityServices, type SignedInUser,
} from '../identity/index.js';
import { randomToken, sha256Hex } from '../shared/crypto.js';
import { seal, unseal } from '../shared/sealed.js';
import type { Application } from '../store/index.js';
import { askConsent, consentQuestion, formBody, html, recordConsent, signInFromForm, signInTarget, STATE_TTL_MS } from './flow.js';
import { formPostPage, messagePage, signInPage } from './pages.js';

const CODE_LIFETIME_MS = 10 * 60 * 1000;

interface AuthorizeState {
  seg: string; cid: string; ru: string; sc: string; st?: string; cc?: string; nonce?: string; mode: string; hint?: string;
}
interface ConsentState extends AuthorizeState { t: string; u: string }

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Exact match, except that a registered loopback URI without a port accepts any port (RFC 8252). */
export function matchRedirectUri(app: Application, uri: string): 'public' | 'web' | null {
  const matches = (registered: string) => {
    if (registered === uri) return true;
    try {
      const r = new URL(registered);
      const u = new URL(uri);
      return r.protocol === 'http:' && u.protocol === 'http:' && LOOPBACK.has(r.hostname) && r.hostname === u.hostname
        && r.port === '' && r.pathname.replace(/\/$/, '') === u.pathname.replace(/\/$/, '') && r.search === u.search;
    } catch {
      return false;
    }
  };
  if (app.publicClientRedirectUris.some(matches)) return 'public';
  if (app.webRedirectUris.some(matches)) return 'web';
  return null;
}

function redirectWith(reply: FastifyReply, redirectUri: string, mode: string, fields: Record<string, string | undefined>): FastifyReply {
  const clean = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Record<string, string>;
  if (mode === 'form_post') return html(reply, formPostPage(redirectUri, clean));
  const url = new URL(redirectUri);
  if (mode === 'fragment') {
    url.hash = new URLSearchParams(clean).toString();
  } else {
    for (const [k, v] of Object.entries(clean)) url.searchParams.set(k, v);
  }
  return reply.header('cache-control', 'no-store').redirect(url.toString(), 302);
}

function redirectError(reply: FastifyReply, s: AuthorizeState, err: AadError): FastifyReply {
  return redirectWith(reply, s.ru, s.mode, { error: err.error, error_description: err.message, error_codes: String(err.code), state: s.st });
}

/** The authorization endpoint: validates the request, shows sign-in and consent, redirects with a code. */
export function registerAuthorize(app: FastifyInstance, services: IdentityServices): void {
  const now = () => services.clock.now();

  const issueCode = async (reply: FastifyReply, s: AuthorizeState, signedIn: SignedInUser) => {
    const code = randomToken(48);
    await services.store.createAuthorizationCode({
      codeHash: sha256Hex(code), tenantId: signedIn.tenant.id, clientId: s.cid, userId: signedIn.user.id, redirectUri: s.ru,
      scope: s.sc, codeChallenge: s.cc ?? null, codeChallengeMethod: s.cc ? 'S256' : null, nonce: s.nonce ?? null,
      createdAt: now(), expiresAt: now() + CODE_LIFETIME_MS, redeemedAt: null,
    });
    const clientInfo = Buffer.from(JSON.stringify({ uid: signedIn.home.id, utid: signedIn.home.tenantId })).toString('base64url');
    return redirectWith(reply, s.ru, s.mode, { code, client_info: clientInfo, state: s.st, session_state: randomToken(16) });
  };

  const consentOrCode = async (reply: FastifyReply, s: AuthorizeState, signedIn: SignedInUser, client: Application, action: string) => {
    const question = await consentQuestion(services, signedIn, client, s.sc);
    if (!question) return issueCode(reply, s, signedIn);
    const state = seal(services.formKey, { ...s, t: signedIn.tenant.id, u: signedIn.user.id }, now() + STATE_TTL_MS);
    return askConsent(reply, {
      action: `${action}/consent`, state, appName: client.displayName, user: signedIn.home.userPrincipalName, question,
      canConsentForOrganization: await isGlobalAdministrator(services, signedIn.tenant.id, signedIn.user.id),
    });
  };

  const start = async (req: FastifyRequest, reply: FastifyReply) => {
    const { tenant: segment } = req.params as { tenant: string };
    const q = req.query as Record<string, string | undefined>;
    const action = req.url.split('?')[0]!.replace(/\/$/, '');
    try {
      const clientId = (q.client_id ?? '').toLowerCase();
      if (!clientId) throw aad.missingParameter('client_id');
      const { tenant, client: registered } = await signInTarget(services, segment, clientId);
      const client = registered ?? (tenant ? null : await firstPartyClient(services, clientId));
      if (!client) throw aad.appNotFound(clientId, tenant?.defaultDomain ?? segment);
      const redirectUri = q.redirect_uri;
      if (!redirectUri) throw aad.missingParameter('redirect_uri');
      const kind = matchRedirectUri(client, redirectUri);
      if (!kind) throw aad.redirectMismatch(redirectUri, clientId);
      const mode = q.response_mode ?? 'query';
      const s: AuthorizeState = {
        seg: segment, cid: clientId, ru: redirectUri, sc: q.scope ?? '', st: q.state, cc: q.code_challenge, nonce: q.nonce,
        mode: ['query', 'fragment', 'form_post'].includes(mode) ? mode : 'query', hint: q.login_hint,
      };
      try {
        if (q.response_type !== 'code') throw aad.responseTypeUnsupported(q.response_type ?? '');
        if (!s.sc) throw aad.missingParameter('scope');
        parseScope(s.sc);
        if (q.code_challenge_method && q.code_challenge_method !== 'S256') throw aad.pkceMethod();
        if (s.cc && !/^[A-Za-z0-9_-]{43}$/.test(s.cc)) throw aad.pkceChallengeSize();
        if (s.cc && !q.code_challenge_method) throw aad.pkceMethod();
        if (!s.cc && kind === 'public') throw aad.pkceRequired();
        if (q.prompt === 'none') throw aad.loginRequired();
      } catch (err) {
        if (err instanceof AadError) return redirectError(reply, s, err);
        throw err;
      }
      const state = seal(services.formKey, s, now() + STATE_TTL_MS);
      return html(reply, signInPage({ action, state, appName: client.displayName, loginHint: s.hint }));
    } catch (err) {
      if (err instanceof AadError) return html(reply, messagePage('Sorry, but we\'re having trouble signing you in.', err.message, true), 400);
      throw err;
    }
  };

  const submit = async (req: FastifyRequest, reply: FastifyReply) => {
    const form = formBody(req);
    const action = req.url.split('?')[0]!.replace(/\/$/, '');
    const s = unseal<AuthorizeState>(services.formKey, form.state, now());
    if (!s) return html(reply, messagePage('Sign-in expired', 'This sign-in page has expired. Go back to the application and sign in again.', true), 400);
    try {
      const { tenant } = await signInTarget(services, s.seg, s.cid);
      const signedIn = await signInFromForm(services, req, reply, form, tenant, { action, state: form.state!, appName: s.cid });
      if (!signedIn) return reply;
      const client = await services.store.findApplicationByAppId(signedIn.tenant.id, s.cid);
      if (!client) throw aad.appNotFound(s.cid, signedIn.tenant.defaultDomain);
      return await consentOrCode(reply, s, signedIn, client, action);
    } catch (err) {
      if (err instanceof AadError) return redirectError(reply, s, err);
      throw err;
    }
  };

  const consent = async (req: FastifyRequest, reply: FastifyReply) => {
    const form = formBody(req);
    const s = unseal<ConsentState>(services.formKey, form.state, now());
    if (!s) return html(reply, messagePage('Sign-in expired', 'This sign-in page has expired. Go back to the application and sign in again.', true), 400);
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
      if (err instanceof AadError) return redirectError(reply, s, err);
      throw err;
    }
  };

  for (const prefix of ['/:tenant/oauth2/v2.0/authorize', '/:tenant/oauth2/authorize']) {
    app.get(prefix, start);
    app.post(prefix, submit);
    app.post(`${prefix}/consent`, consent);
  }
}

/** A first-party client as registered in any tenant (they are alike in every tenant). */
async function firstPartyClient(services: IdentityServices, clientId: string): Promise<Application | null> {
  const [tenant] = await services.store.listTenants();
  return tenant ? services.store.findApplicationByAppId(tenant.id, clientId) : null;
}
