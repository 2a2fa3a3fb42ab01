import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { formAction, hiddenField, httpsFetch, postForm, type HttpResponse } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { getAuthorize, pkcePair, visibleText, type OAuthTarget } from './support-oauth.js';

// Kentra's own web pages (sign-in, consent, device login, form_post, signed-out, error) against RFC 9700
// §4.2 (referrer), §4.12 (303 after credential POST), §4.16 (framing), RFC 6749 §10.12/§10.13 (CSRF,
// clickjacking): the headers every interactive page sends, escaping of what the request controls, and
// forms that cannot be replayed across sign-ins. Driven over HTTPS against the real `kentra up`.

const TENANT = '55555555-5555-4555-8555-555555555555';
const APP = '55555555-0000-4000-8000-0000000000b1';
const NEEDS_CONSENT = '55555555-0000-4000-8000-0000000000b2';
const ALICE = { username: 'alice@pages.onmicrosoft.com', password: 'Alice-Passw0rd!' };
const REDIRECT = 'http://localhost:53200';

const SEED = `
tenants:
  - id: ${TENANT}
    domain: pages.onmicrosoft.com
    users:
      - { userPrincipalName: ${ALICE.username}, password: ${ALICE.password}, displayName: Alice }
    applications:
      - displayName: '<b id="evil">Evil</b> app'
        appId: ${APP}
        publicClient: { redirectUris: ['http://localhost'] }
        web: { redirectUris: ['https://pages.example/cb'] }
        identifierUris: ['api://pages']
        scopes: [{ value: access_as_user }, { value: csrf_probe }]
        secrets: [{ value: pages-secret-0123456789abcdef }]
      - displayName: needs-consent
        appId: ${NEEDS_CONSENT}
        publicClient: { redirectUris: ['http://localhost'] }
`;

const scope = 'api://pages/access_as_user openid';

/** Every interactive page: not framable, no referrer, not cached, no scripts beyond a pinned hash, forms only where they must go. */
function assertPageHeaders(res: HttpResponse, what: string): string {
  assert.match(String(res.headers['content-type']), /^text\/html/, what);
  const csp = String(res.headers['content-security-policy'] ?? '');
  assert.match(csp, /(^|;\s*)frame-ancestors 'none'(;|$)/, `${what}: ${csp}`);
  assert.doesNotMatch(csp, /form-action[^;]*\*/, `${what}: ${csp}`);
  assert.doesNotMatch(csp, /script-src[^;]*'unsafe-inline'/, `${what}: ${csp}`);
  assert.match(csp, /(^|;\s*)default-src 'none'/, `${what}: ${csp}`);
  assert.equal(res.headers['x-frame-options'], 'DENY', what);
  assert.equal(res.headers['referrer-policy'], 'no-referrer', what);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', what);
  // The one cookie a page may set is the sign-in session's (test/security/sign-in-session.test.ts).
  for (const cookie of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
    assert.match(
      cookie,
      /^kentra_sso=[A-Za-z0-9_-]*; Path=\/[^;]+\/; Secure; HttpOnly; SameSite=None(; Max-Age=\d+)?$/,
      `${what}: only the sign-in session cookie, Secure and HttpOnly`,
    );
  }
  return csp;
}

describe(
  'Kentra web pages: framing, referrer, 303 after credential POST, escaping, CSRF (RFC 9700 §4.2/§4.12/§4.16, RFC 6749 §10.12/§10.13)',
  { timeout: 120_000 },
  () => {
    let k: TestKentra;
    let t: OAuthTarget;
    const authorizeQuery = (extra: Record<string, string> = {}) => ({
      client_id: APP,
      redirect_uri: REDIRECT,
      scope,
      state: 'st',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      ...extra,
    });

    before(async () => {
      k = await startTestKentra({ seed: SEED });
      t = { authority: k.endpoints.authority, caFile: k.endpoints.caFile, tenant: TENANT };
    });
    after(async () => k?.close());

    describe('RFC 9700 §4.16, §4.2: every interactive page forbids framing and referrers', () => {
      it("the sign-in page, whose forms may go only to Kentra and the client's redirect URI origin", async () => {
        const res = await getAuthorize(t, authorizeQuery());
        assert.equal(res.status, 200);
        const csp = assertPageHeaders(res, 'sign-in page');
        assert.match(csp, /(^|;\s*)form-action 'self' http:\/\/localhost:53200(;|$)/, csp);
        assert.match(csp, /(^|;\s*)script-src 'none'/, csp);
      });

      it('the sign-in page shown again after a wrong password', async () => {
        const page = await getAuthorize(t, authorizeQuery());
        const res = await postForm(
          `${t.authority}${formAction(page.text)}`,
          { state: hiddenField(page.text, 'state')!, username: ALICE.username, password: 'wrong' },
          t.caFile,
        );
        assert.equal(res.status, 400);
        assert.match(visibleText(res.text), /AADSTS50126/);
        const csp = assertPageHeaders(res, 'sign-in page after an error');
        assert.match(csp, /form-action 'self' http:\/\/localhost:53200/, csp);
      });

      it('the authorize error page', async () => {
        const res = await getAuthorize(t, authorizeQuery({ redirect_uri: 'https://evil.example/' }));
        assert.equal(res.status, 400);
        assertPageHeaders(res, 'authorize error page');
      });

      it('the consent page', async () => {
        const page = await getAuthorize(t, { ...authorizeQuery(), client_id: NEEDS_CONSENT, scope: 'api://pages/access_as_user' });
        const res = await postForm(
          `${t.authority}${formAction(page.text)}`,
          { state: hiddenField(page.text, 'state')!, ...ALICE },
          t.caFile,
        );
        assert.equal(res.status, 200);
        assert.match(res.text, /name="decision"/);
        assertPageHeaders(res, 'consent page');
      });

      it('the device login pages', async () => {
        assertPageHeaders(await httpsFetch(`${t.authority}/devicelogin`, { caFile: t.caFile }), 'device code entry');
        assertPageHeaders(
          await postForm(`${t.authority}/devicelogin`, { user_code: 'ZZZZZZZZZ' }, t.caFile),
          'device code entry, wrong code',
        );
        const dc = (await postForm(`${t.authority}/${TENANT}/oauth2/v2.0/devicecode`, { client_id: APP, scope }, t.caFile)).json();
        const signIn = await postForm(`${t.authority}/devicelogin`, { user_code: dc.user_code }, t.caFile);
        assert.equal(signIn.status, 200);
        const csp = assertPageHeaders(signIn, 'device sign-in');
        assert.match(csp, /(^|;\s*)form-action 'self'(;|$)/, csp);
      });

      it('the signed-out page and the error page', async () => {
        assertPageHeaders(await httpsFetch(`${t.authority}/${TENANT}/oauth2/v2.0/logout`, { caFile: t.caFile }), 'signed-out page');
        const err = await httpsFetch(`${t.authority}/error?code=50011`, { caFile: t.caFile });
        assert.match(String(err.headers['content-security-policy']), /frame-ancestors 'none'/);
        assert.equal(err.headers['x-frame-options'], 'DENY');
        assert.equal(err.headers['referrer-policy'], 'no-referrer');
      });

      it("the form_post page runs only its own pinned script and posts only to the client's origin", async () => {
        const page = await getAuthorize(t, {
          client_id: APP,
          redirect_uri: 'https://pages.example/cb',
          scope,
          response_mode: 'form_post',
          state: 'fp',
        });
        const res = await postForm(
          `${t.authority}${formAction(page.text)}`,
          { state: hiddenField(page.text, 'state')!, ...ALICE },
          t.caFile,
        );
        assert.equal(res.status, 200);
        const csp = assertPageHeaders(res, 'form_post page');
        assert.match(csp, /(^|;\s*)form-action https:\/\/pages\.example(;|$)/, csp);
        assert.match(csp, /(^|;\s*)script-src 'sha256-[A-Za-z0-9+/]+=*'(;|$)/, csp);
      });
    });

    describe('RFC 9700 §4.12: a credential POST is answered with 303, never 307', () => {
      it('answers the sign-in POST with 303 to the redirect URI', async () => {
        const page = await getAuthorize(t, authorizeQuery());
        const res = await postForm(
          `${t.authority}${formAction(page.text)}`,
          { state: hiddenField(page.text, 'state')!, ...ALICE },
          t.caFile,
        );
        assert.equal(res.status, 303, res.text.slice(0, 200));
        assert.match(String(res.headers.location), /^http:\/\/localhost:53200\/?\?code=/);
        assert.equal(res.headers['referrer-policy'], 'no-referrer');
      });

      it('answers the consent POST with 303, for an accept and for a decline', async () => {
        for (const decision of ['decline', 'accept']) {
          const page = await getAuthorize(t, { ...authorizeQuery(), client_id: NEEDS_CONSENT, scope: 'api://pages/access_as_user' });
          const consent = await postForm(
            `${t.authority}${formAction(page.text)}`,
            { state: hiddenField(page.text, 'state')!, ...ALICE },
            t.caFile,
          );
          assert.match(consent.text, /name="decision"/);
          const res = await postForm(
            `${t.authority}${formAction(consent.text)}`,
            { state: hiddenField(consent.text, 'state')!, decision },
            t.caFile,
          );
          assert.equal(res.status, 303, `${decision}: ${res.text.slice(0, 200)}`);
          const location = new URL(String(res.headers.location));
          assert.equal(location.searchParams.get(decision === 'accept' ? 'code' : 'error') !== null, true, String(location));
        }
      });
    });

    describe('Escaping: what the request or the directory controls is text, never markup', () => {
      it("escapes login_hint and the application's display name on the sign-in page", async () => {
        const res = await getAuthorize(t, authorizeQuery({ login_hint: '"><script>alert(1)</script>' }));
        assert.equal(res.status, 200);
        assert.doesNotMatch(res.text, /<script>alert\(1\)/);
        assert.doesNotMatch(res.text, /<b id="evil">/);
        assert.match(res.text, /&lt;b id=&quot;evil&quot;&gt;Evil&lt;\/b&gt; app/);
        assert.equal(hiddenField(res.text, 'state') !== undefined, true);
      });

      it('escapes state in the form_post page', async () => {
        const state = '"><img src=x onerror=alert(1)>';
        const page = await getAuthorize(t, {
          client_id: APP,
          redirect_uri: 'https://pages.example/cb',
          scope,
          response_mode: 'form_post',
          state,
        });
        const res = await postForm(
          `${t.authority}${formAction(page.text)}`,
          { state: hiddenField(page.text, 'state')!, ...ALICE },
          t.caFile,
        );
        assert.doesNotMatch(res.text, /<img/);
        assert.equal(hiddenField(res.text, 'state'), state);
      });
    });

    describe('RFC 6749 §10.12: forms cannot be forged or replayed into another sign-in', () => {
      it('refuses a consent POST without a state Kentra sealed, and grants nothing', async () => {
        for (const state of ['', 'forged', 'a.b.c']) {
          const res = await postForm(`${t.authority}/${TENANT}/oauth2/v2.0/authorize/consent`, { state, decision: 'accept' }, t.caFile);
          assert.equal(res.status, 400, state);
          assert.equal(res.headers.location, undefined);
          assertPageHeaders(res, 'expired page');
        }
        const page = await getAuthorize(t, { ...authorizeQuery(), client_id: NEEDS_CONSENT, scope: 'api://pages/csrf_probe openid' });
        const after = await postForm(
          `${t.authority}${formAction(page.text)}`,
          { state: hiddenField(page.text, 'state')!, ...ALICE },
          t.caFile,
        );
        assert.match(after.text, /name="decision"/, 'consent is still asked: nothing was granted by the forged posts');
      });

      it('refuses a sign-in POST without a sealed state, and a device sign-in without one', async () => {
        const res = await postForm(`${t.authority}/${TENANT}/oauth2/v2.0/authorize`, { state: 'forged', ...ALICE }, t.caFile);
        assert.equal(res.status, 400);
        assert.equal(res.headers.location, undefined);
        const dev = await postForm(`${t.authority}/devicelogin/signin`, { state: 'forged', ...ALICE }, t.caFile);
        assert.equal(dev.status, 400);
      });
    });
  },
);
