import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { httpsFetch, postForm, requestAsWritten, type HttpResponse } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { PORTAL_BUILT } from '../support/portal.js';
import { assertAadError, authorizationCode, getAuthorize, pkcePair, type OAuthTarget } from './support-oauth.js';

// The portal's attack surface (issue 18): the token endpoint's cross-origin rules as Entra has them
// (reference/current-clients.md §7, reference/security.md §2.2: spa codes only cross-origin, everything
// else never, AADSTS9002326/9002327, CORS preflights, 24 h spa refresh tokens, PKCE for spa codes), the
// first-party portal application's redirect URIs that nobody can point elsewhere, and the static file
// serving at / (no traversal, encoded paths or dotfiles; CSP without inline script; nosniff; framing by
// its own origin only; no route shadowed).

const TENANT = '70e7a1a0-0000-4000-8000-0000000000aa';
const PORTAL_APP = '4b3c6e2a-5d1f-4c8e-9a7b-2e6f0d9c1a35';
const WEB_APP = '70e7a1a0-0000-4000-8000-0000000000b1';
const SPA_APP = '70e7a1a0-0000-4000-8000-0000000000b2';
const WEB_SECRET = 'web-app-secret-value-0123456789';
const USER = { username: 'cora@portalsec.onmicrosoft.com', password: 'Cora-Passw0rd!' };
const EVIL = 'https://evil.example';
const SPA_REDIRECT = 'https://spa.example/callback';

const SEED = `
tenants:
  - id: ${TENANT}
    domain: portalsec.onmicrosoft.com
    users:
      - { userPrincipalName: ${USER.username}, password: '${USER.password}', displayName: Cora }
    applications:
      - displayName: a web app
        appId: ${WEB_APP}
        web: { redirectUris: ['https://web.example/signin-oidc'] }
        secrets: ['${WEB_SECRET}']
        graphPermissions: { delegated: [User.Read] }
        adminConsent: true
      - displayName: a third-party spa
        appId: ${SPA_APP}
        spa: { redirectUris: ['${SPA_REDIRECT}'] }
        graphPermissions: { delegated: [User.Read] }
        adminConsent: true
`;

const SKIP = existsSync(PORTAL_BUILT) ? false : 'the portal is not built (npm run build)';

describe('portal: token endpoint CORS, the portal application, static files', { timeout: 90_000, skip: SKIP }, () => {
  let k: TestKentra;
  let t: OAuthTarget;
  let portalRedirect: string;
  const token = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    postForm(`${k.endpoints.authority}/${TENANT}/oauth2/v2.0/token`, fields, k.endpoints.caFile, headers);
  const get = (path: string, headers: Record<string, string> = {}) =>
    requestAsWritten(k.endpoints.authority, { method: 'GET', path, headers, ca: readFileSync(k.endpoints.caFile) });
  const preflight = (headers: Record<string, string>) =>
    httpsFetch(`${k.endpoints.authority}/${TENANT}/oauth2/v2.0/token`, { method: 'OPTIONS', headers, caFile: k.endpoints.caFile });
  /** A code for the portal app (spa redirect URI on Kentra's own origin), with PKCE. */
  const portalCode = async () => {
    const pkce = pkcePair();
    const code = await authorizationCode(
      t,
      {
        client_id: PORTAL_APP,
        redirect_uri: portalRedirect,
        scope: 'https://graph.microsoft.com/.default openid offline_access',
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
        state: 's',
      },
      USER,
    );
    return { code, verifier: pkce.verifier };
  };
  const redeemPortal = (c: { code: string; verifier: string }, headers: Record<string, string>) =>
    token(
      {
        grant_type: 'authorization_code',
        client_id: PORTAL_APP,
        code: c.code,
        redirect_uri: portalRedirect,
        code_verifier: c.verifier,
        scope: 'https://graph.microsoft.com/.default openid offline_access',
      },
      headers,
    );

  before(async () => {
    k = await startTestKentra({ seed: SEED });
    t = { authority: k.endpoints.authority, caFile: k.endpoints.caFile, tenant: TENANT };
    portalRedirect = `${k.endpoints.authority}/portal/redirect.html`;
  });
  after(async () => {
    await k?.close();
  });

  describe('token endpoint CORS (Entra: spa redirect URIs only)', () => {
    it('answers a preflight for POST with msal-browser headers, with the origin', async () => {
      const res = await preflight({
        origin: EVIL,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, x-anchormailbox, client-request-id',
      });
      assert.equal(res.status, 204, res.text);
      assert.equal(res.headers['access-control-allow-origin'], EVIL);
      assert.match(String(res.headers['access-control-allow-methods']), /POST/);
      assert.equal(res.headers['access-control-allow-credentials'], undefined, 'no cookies cross-origin');
    });

    it('refuses a preflight asking to send Authorization (client secret in a browser), another method, or from no origin', async () => {
      const cases: Record<string, string>[] = [
        { origin: EVIL, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
        { origin: EVIL, 'access-control-request-method': 'PUT' },
        { origin: 'null', 'access-control-request-method': 'POST' },
        { 'access-control-request-method': 'POST' },
      ];
      for (const headers of cases) {
        const res = await preflight(headers);
        assert.equal(res.status, 403, `${JSON.stringify(headers)}: ${res.text}`);
        assert.equal(res.headers['access-control-allow-origin'], undefined, JSON.stringify(headers));
        assert.match(res.text, /CORS preflight refused/);
      }
    });

    it('refuses a cross-origin client_credentials request for a web app (AADSTS9002326), with no token', async () => {
      const res = await token(
        { grant_type: 'client_credentials', client_id: WEB_APP, client_secret: WEB_SECRET, scope: 'https://graph.microsoft.com/.default' },
        { origin: EVIL },
      );
      assertAadError(res, 400, 'invalid_request', 9002326);
      assert.match(
        res.json().error_description,
        /Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type\. Request origin: 'https:\/\/evil\.example'/,
      );
      // Without an Origin (a server), the same request works: the rule is about browsers, not the client.
      const server = await token({
        grant_type: 'client_credentials',
        client_id: WEB_APP,
        client_secret: WEB_SECRET,
        scope: 'https://graph.microsoft.com/.default',
      });
      assert.equal(server.status, 200, server.text);
      assert.equal(server.headers['access-control-allow-origin'], undefined);
    });

    it('refuses a code issued to a web redirect URI redeemed cross-origin (AADSTS9002326)', async () => {
      const code = await authorizationCode(
        t,
        { client_id: WEB_APP, redirect_uri: 'https://web.example/signin-oidc', scope: 'openid User.Read', state: 's' },
        USER,
      );
      const res = await token(
        {
          grant_type: 'authorization_code',
          client_id: WEB_APP,
          client_secret: WEB_SECRET,
          code,
          redirect_uri: 'https://web.example/signin-oidc',
          scope: 'openid User.Read',
        },
        { origin: EVIL },
      );
      assertAadError(res, 400, 'invalid_request', 9002326);
      // The refusal is readable by the page (Entra's text reaches msal), the token never was issued.
      assert.equal(res.headers['access-control-allow-origin'], EVIL);
    });

    it('refuses a spa code redeemed without Origin (AADSTS9002327), then redeems one cross-origin with ACAO and a 24 h refresh token', async () => {
      const first = await portalCode();
      const noOrigin = await redeemPortal(first, {});
      assertAadError(noOrigin, 400, 'invalid_request', 9002327);
      assert.match(noOrigin.json().error_description, /may only be redeemed via cross-origin requests/);

      const second = await portalCode();
      const ok = await redeemPortal(second, { origin: k.endpoints.authority });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.headers['access-control-allow-origin'], k.endpoints.authority);
      assert.match(String(ok.headers.vary), /Origin/i);
      const body = ok.json();
      assert.ok(body.access_token && body.refresh_token && body.id_token);
      assert.ok(body.refresh_token_expires_in > 86_000 && body.refresh_token_expires_in <= 86_400, String(body.refresh_token_expires_in));

      // The spa refresh token: only cross-origin, and its successor keeps the original 24 h expiry.
      const refresh = (headers: Record<string, string>, rt: string) =>
        token(
          { grant_type: 'refresh_token', client_id: PORTAL_APP, refresh_token: rt, scope: 'https://management.azure.com/.default' },
          headers,
        );
      assertAadError(await refresh({}, body.refresh_token), 400, 'invalid_request', 9002327);
      const again = await refresh({ origin: k.endpoints.authority }, body.refresh_token);
      assert.equal(again.status, 200, again.text);
      assert.equal(again.headers['access-control-allow-origin'], k.endpoints.authority);
      assert.ok(again.json().refresh_token_expires_in <= body.refresh_token_expires_in, 'the expiry is not extended');
    });

    it('redeems a third-party app’s spa code cross-origin without a secret, and refuses it without Origin', async () => {
      const pkce = pkcePair();
      const query = {
        client_id: SPA_APP,
        redirect_uri: SPA_REDIRECT,
        scope: 'openid User.Read',
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
        state: 's',
      };
      const fields = (code: string) => ({
        grant_type: 'authorization_code',
        client_id: SPA_APP,
        code,
        redirect_uri: SPA_REDIRECT,
        code_verifier: pkce.verifier,
        scope: 'openid User.Read',
      });
      assertAadError(await token(fields(await authorizationCode(t, query, USER))), 400, 'invalid_request', 9002327);
      const ok = await token(fields(await authorizationCode(t, query, USER)), { origin: 'https://spa.example' });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.headers['access-control-allow-origin'], 'https://spa.example');
    });

    it('requires PKCE for a spa redirect URI (AADSTS9002325 sent back to the registered URI)', async () => {
      const res = await getAuthorize(t, { client_id: PORTAL_APP, redirect_uri: portalRedirect, scope: 'openid', state: 'nopkce' });
      assert.equal(res.status, 302, res.text);
      const back = new URL(String(res.headers.location));
      assert.equal(`${back.origin}${back.pathname}`, portalRedirect);
      assert.equal(back.searchParams.get('error'), 'invalid_request');
      assert.match(back.searchParams.get('error_description') ?? '', /AADSTS9002325/);
      assert.equal(back.searchParams.get('code'), null);
    });
  });

  describe('the portal application', () => {
    it('cannot send its codes anywhere but Kentra’s own origin: other hosts, schemes, ports and paths get the AADSTS50011 page, never a redirect', async () => {
      const port = new URL(k.endpoints.authority).port;
      const pkce = pkcePair();
      for (const uri of [
        `${EVIL}/portal/redirect.html`,
        `http://localhost:${port}/portal/redirect.html`,
        `https://localhost:${Number(port) + 1}/portal/redirect.html`,
        `https://localhost:${port}/portal/redirect.html/../../evil`,
        `https://localhost:${port}/portal/other.html`,
        `https://localhost:${port}/portal/redirect.html?x=1`,
        `https://localhost@evil.example:${port}/portal/redirect.html`,
      ]) {
        const res = await getAuthorize(t, {
          client_id: PORTAL_APP,
          redirect_uri: uri,
          scope: 'openid',
          code_challenge: pkce.challenge,
          code_challenge_method: 'S256',
        });
        assert.equal(res.status, 400, `${uri}: ${res.status}`);
        assert.equal(res.headers.location, undefined, uri);
        assert.match(res.text, /AADSTS50011/, uri);
      }
    });

    it('does not take its redirect URI from a forged Host header', async () => {
      const pkce = pkcePair();
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: PORTAL_APP,
        redirect_uri: `${EVIL}/portal/redirect.html`,
        scope: 'openid',
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
      });
      // TLS still names localhost; only the Host header lies (Kentra answers an unknown Host as localhost).
      const res = await requestAsWritten(k.endpoints.authority, {
        method: 'GET',
        path: `/${TENANT}/oauth2/v2.0/authorize?${query}`,
        headers: { host: 'evil.example' },
        agent: new Agent({ servername: 'localhost' }),
        ca: readFileSync(k.endpoints.caFile),
      });
      assert.equal(res.status, 400, res.text.slice(0, 300));
      assert.equal(res.headers.location, undefined);
      assert.match(res.text, /AADSTS50011/);
    });
  });

  describe('static files at / and /portal/', () => {
    const assertPortalHeaders = (res: HttpResponse, what: string) => {
      const csp = String(res.headers['content-security-policy']);
      const directive = (name: string) =>
        csp
          .split(';')
          .map((d) => d.trim())
          .find((d) => d.startsWith(`${name} `)) ?? '';
      assert.equal(directive('script-src'), "script-src 'self'", `${what}: ${csp}`);
      assert.equal(directive('connect-src'), "connect-src 'self'", `${what}: ${csp}`);
      assert.equal(directive('frame-ancestors'), "frame-ancestors 'self'", `${what}: ${csp}`);
      assert.equal(directive('object-src'), "object-src 'none'", `${what}: ${csp}`);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, what);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', what);
      assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', what);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', what);
    };

    it('serves index.html at / and /portal/ with the CSP, nosniff, no-cache and no inline script', async () => {
      for (const path of ['/', '/portal/', '/portal', '/portal/index.html']) {
        const res = await get(path);
        assert.equal(res.status, 200, `${path}: ${res.text.slice(0, 200)}`);
        assert.equal(res.headers['content-type'], 'text/html; charset=utf-8', path);
        assert.equal(res.headers['cache-control'], 'no-cache', path);
        assertPortalHeaders(res, path);
        assert.match(res.text, /<div id="app">/);
        // Every <script> has a src on Kentra's origin: nothing inline, nothing from a CDN.
        const scripts = [...res.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
        assert.ok(scripts.length > 0);
        for (const [, attrs, body] of scripts) {
          assert.match(attrs!, /src="\/portal\/assets\/[^"]+\.js"/, attrs);
          assert.equal(body!.trim(), '');
        }
        assert.doesNotMatch(res.text, /https?:\/\//, 'no absolute URL: nothing fetched from elsewhere');
      }
    });

    it('serves the redirect bridge with no-referrer and without COOP (msal v5 needs it), and hashed assets cached for a year', async () => {
      const bridge = await get('/portal/redirect.html');
      assert.equal(bridge.status, 200);
      assertPortalHeaders(bridge, 'redirect.html');
      assert.equal(bridge.headers['cross-origin-opener-policy'], undefined);
      const assets = readdirSync(join(PORTAL_BUILT, '..', 'assets'));
      const js = assets.find((f) => f.endsWith('.js'))!;
      const css = assets.find((f) => f.endsWith('.css'))!;
      const r1 = await get(`/portal/assets/${js}`);
      assert.equal(r1.status, 200);
      assert.equal(r1.headers['content-type'], 'text/javascript; charset=utf-8');
      assert.equal(r1.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(r1.headers['x-content-type-options'], 'nosniff');
      const r2 = await get(`/portal/assets/${css}`);
      assert.equal(r2.headers['content-type'], 'text/css; charset=utf-8');
    });

    it('refuses traversal, encoded separators, dotfiles and odd names: never a file outside dist/portal', async () => {
      const secrets = [readFileSync(join(PORTAL_BUILT, '../../../package.json'), 'utf8').slice(0, 40)];
      for (const path of [
        '/portal/../package.json',
        '/portal/..%2f..%2fpackage.json',
        '/portal/%2e%2e/%2e%2e/package.json',
        '/portal/assets/..%2f..%2f..%2fpackage.json',
        '/portal/assets/%2e%2e%5c%2e%2e%5cpackage.json',
        '/portal/..\\..\\package.json',
        '/..%2f..%2fpackage.json',
        '/portal/%2fetc%2fpasswd',
        '/portal//etc/passwd',
        '/portal/.env',
        '/portal/.vite/manifest.json',
        '/portal/assets/.hidden.js',
        '/portal/index.html%00.js',
        '/portal/nothing-here.js',
        '/portal/assets/',
        '/portal/%252e%252e/package.json',
      ]) {
        const res = await get(path);
        assert.ok([400, 404].includes(res.status) || (res.status === 200 && res.text.includes('<div id="app">')), `${path}: ${res.status}`);
        for (const s of secrets) assert.ok(!res.text.includes(s), `${path} leaked a file outside the portal`);
        assert.doesNotMatch(res.text, /root:x:0:0/, path);
      }
      // Client-side routes (no extension) fall back to the app, only under /portal/.
      const route = await get('/portal/users');
      assert.equal(route.status, 200);
      assert.match(route.text, /<div id="app">/);
    });

    it('shadows no protocol route: discovery, Graph, ARM, health and unknown paths answer as before', async () => {
      const discovery = await get(`/${TENANT}/v2.0/.well-known/openid-configuration`);
      assert.equal(discovery.status, 200);
      assert.equal(discovery.json().token_endpoint, `${k.endpoints.authority}/${TENANT}/oauth2/v2.0/token`);
      const graph = await get('/v1.0/users');
      assert.equal(graph.status, 401);
      assert.ok(graph.json().error.code);
      const arm = await get('/subscriptions?api-version=2022-12-01');
      assert.equal(arm.status, 401);
      assert.ok(arm.json().error.code);
      assert.equal((await get('/healthz')).text, 'ok');
      const unknown = await get('/no-such-page');
      assert.equal(unknown.status, 404);
      assert.doesNotMatch(unknown.text, /<div id="app">/);
      // The authorization endpoint keeps its own headers: no framing at all, no CORS.
      const authorize = await get(`/${TENANT}/oauth2/v2.0/authorize?client_id=${PORTAL_APP}`, { origin: EVIL });
      assert.equal(authorize.headers['access-control-allow-origin'], undefined);
    });
  });
});
