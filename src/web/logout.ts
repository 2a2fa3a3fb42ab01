import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AadError,
  browserMayGoTo,
  matchRedirectUri,
  ownSpaRedirectUris,
  Params,
  registeredSpaRedirectUris,
  type HttpEdge,
  type IdentityServices,
  type TokenVerifier,
} from '../identity/index.js';
import type { Application } from '../store/index.js';
import { formBody, html, signInTarget } from './flow.js';
import { messagePage, signedOutPage } from './pages.js';
import { endSession } from './session.js';

/** An id_token_hint may have expired (OpenID RP-Initiated Logout §2); it still proves who the client is. */
const HINT_LEEWAY_S = 30 * 24 * 3600;

// The end-session endpoint (`/{tenant}/oauth2[/v2.0]/logout`, GET and POST as Entra has it). It ends the
// browser's sign-in session (web/session.ts) for the tenant path, then decides where the browser goes next.
// OpenID RP-Initiated Logout §3 and RFC 9700 §4.11: only to a post_logout_redirect_uri registered, exactly,
// for the client that client_id or the id_token_hint's audience names; otherwise Kentra's signed-out page.

export function registerLogout(app: FastifyInstance, services: IdentityServices, verifier: TokenVerifier, edge?: HttpEdge): void {
  /** The application the request proves it comes from, or null. */
  const clientOf = async (segment: string, params: Params): Promise<Application | null> => {
    const clientId = params.get('client_id')?.toLowerCase();
    const hint = params.get('id_token_hint');
    let hinted: { clientId: string; tenantId: string } | null = null;
    if (hint) {
      try {
        const claims = await verifier.verifyAsync(hint, { leewaySeconds: HINT_LEEWAY_S });
        hinted = { clientId: String(claims.aud).toLowerCase(), tenantId: String(claims.tid) };
      } catch {
        return null;
      }
    }
    if (hinted && clientId && hinted.clientId !== clientId) return null;
    const id = hinted?.clientId ?? clientId;
    if (!id) return null;
    const { tenant, client } = await signInTarget(services, segment, id).catch(() => ({ tenant: null, client: null }));
    if (hinted && tenant && tenant.id !== hinted.tenantId) return null;
    if (client) return client;
    // A first-party client (the same in every tenant) on a tenant-less path: the hint's tenant has it.
    return hinted ? services.store.findApplicationByAppId(hinted.tenantId, id) : null;
  };

  const logout = async (req: FastifyRequest, reply: FastifyReply) => {
    const { tenant: segment } = req.params as { tenant: string };
    let params: Params;
    try {
      params =
        req.method === 'POST'
          ? Params.fromSearch(new URLSearchParams(formBody(req)))
          : Params.fromSearch(new URL(req.url, 'https://x').searchParams);
    } catch (err) {
      if (err instanceof AadError) return html(reply, messagePage('Sign-out request not valid', err.message, true), 400);
      throw err;
    }
    await endSession(services, req, reply, segment);
    const target = params.get('post_logout_redirect_uri');
    if (target) {
      const client = await clientOf(segment, params);
      const origin = edge?.originOf(req);
      // Exactly a registered URI of any platform (spa ones too, the portal's on Kentra's own origin).
      const registered = client
        ? [
            ...client.webRedirectUris,
            ...client.publicClientRedirectUris,
            ...registeredSpaRedirectUris(client),
            ...ownSpaRedirectUris(client.appId, origin),
          ]
        : [];
      const platform = client && registered.includes(target) ? matchRedirectUri(client, target, origin) : null;
      if (platform && browserMayGoTo(target, platform, 'query')) {
        const url = new URL(target);
        const state = params.get('state');
        if (state) url.searchParams.set('state', state);
        return reply
          .header('cache-control', 'no-store')
          .header('referrer-policy', 'no-referrer')
          .redirect(url.toString(), req.method === 'POST' ? 303 : 302);
      }
    }
    return html(reply, signedOutPage());
  };

  for (const prefix of ['/:tenant/oauth2/v2.0', '/:tenant/oauth2']) {
    app.get(`${prefix}/logout`, logout);
    app.post(`${prefix}/logout`, logout);
  }
}
