import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { hiddenField, httpsFetch, postForm, type HttpResponse } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// Attacks on the authorization endpoint's sign-in session (SSO): the cookie's flags and scope, forged
// and other-tenant cookies, prompt=none without a session, and a session replayed after logout.
// OpenID Connect Core §3.1.2.1 (prompt), RFC 9700 §4 (browser-bound state), Entra's ESTSAUTH.

const A = '54545454-0000-4000-8000-00000000000a';
const B = '54545454-0000-4000-8000-00000000000b';
const APP_A = '54545454-0000-4000-8000-0000000000a1';
const APP_B = '54545454-0000-4000-8000-0000000000b1';
const ANN = { username: 'ann@ssoa.onmicrosoft.com', password: 'Ann-Passw0rd!' };
const BOB = { username: 'bob@ssob.onmicrosoft.com', password: 'Bob-Passw0rd!' };
const REDIRECT = 'http://localhost';

const app = (name: string, id: string) => `
      - displayName: ${name}
        appId: ${id}
        isFallbackPublicClient: true
        publicClient: { redirectUris: ['${REDIRECT}'] }
        graphPermissions: { delegated: [User.Read] }
        adminConsent: true`;
const seed = `
tenants:
  - id: ${A}
    domain: ssoa.onmicrosoft.com
    users:
      - { userPrincipalName: ${ANN.username}, password: '${ANN.password}' }
      - { userPrincipalName: other@ssoa.onmicrosoft.com, password: 'Other-Passw0rd!' }
    applications:${app('sso-a', APP_A)}
  - id: ${B}
    domain: ssob.onmicrosoft.com
    users:
      - { userPrincipalName: ${BOB.username}, password: '${BOB.password}' }
    applications:${app('sso-b', APP_B)}
`;

describe('security: sign-in session (SSO) on /authorize', { timeout: 120_000 }, () => {
  let k: TestKentra;
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorizeUrl = (tenant: string, client: string, extra: Record<string, string> = {}) =>
    `${k.endpoints.authority}/${tenant}/oauth2/v2.0/authorize?${new URLSearchParams({
      client_id: client,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid User.Read',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'st-1',
      ...extra,
    })}`;
  const get = (url: string, cookie?: string) =>
    httpsFetch(url, { caFile: k.endpoints.caFile, headers: cookie ? { cookie: `kentra_sso=${cookie}` } : {} });
  const setCookie = (res: HttpResponse) => String(([] as string[]).concat(res.headers['set-cookie'] ?? [])[0] ?? '');
  const redirectParams = (res: HttpResponse) => {
    assert.equal(res.status, 302, res.text);
    const location = new URL(String(res.headers.location));
    assert.equal(`${location.origin}`, REDIRECT);
    return location.searchParams;
  };
  const signIn = async (tenant: string, client: string, user: { username: string; password: string }) => {
    const url = authorizeUrl(tenant, client);
    const page = await get(url);
    assert.equal(page.status, 200, page.text);
    const res = await postForm(
      url.split('?')[0]!,
      { state: hiddenField(page.text, 'state')!, username: user.username, password: user.password },
      k.endpoints.caFile,
    );
    assert.equal(res.status, 303, res.text);
    const header = setCookie(res);
    const value = /^kentra_sso=([A-Za-z0-9_-]+)/.exec(header)?.[1];
    assert.ok(value, `a session cookie was set: ${header}`);
    return { header, value };
  };
  const promptNoneRefused = async (res: HttpResponse) => {
    const p = redirectParams(res);
    assert.equal(p.get('error'), 'login_required');
    assert.equal(p.get('error_codes'), '50058');
    assert.equal(p.get('state'), 'st-1');
    assert.equal(p.get('code'), null);
  };

  before(async () => {
    k = await startTestKentra({ seed });
  });
  after(async () => k?.close());

  it('the cookie is Secure, HttpOnly, SameSite=None, scoped to the tenant path, and stored only as its hash', async () => {
    const { header, value } = await signIn(A, APP_A, ANN);
    assert.match(header, /;\s*Secure(;|$)/);
    assert.match(header, /;\s*HttpOnly(;|$)/);
    assert.match(header, /;\s*SameSite=None(;|$)/);
    assert.match(header, new RegExp(`;\\s*Path=/${A}/(;|$)`));
    assert.ok(value.length >= 43, 'at least 256 bits');
    const db = new Database(join(k.dataDir, 'kentra.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = JSON.stringify(db.prepare('SELECT * FROM sign_in_sessions').all());
      assert.ok(rows.includes(createHash('sha256').update(value).digest('hex')), 'the hash is the key');
      assert.ok(!rows.includes(value), 'the cookie value itself is not stored');
    } finally {
      db.close();
    }
  });

  it('prompt=none without a session answers login_required on the redirect URI, as Entra does', async () => {
    await promptNoneRefused(await get(authorizeUrl(A, APP_A, { prompt: 'none' })));
  });

  it('with the session, prompt=none gives a code that redeems for the signed-in user; prompt=login asks for the password', async () => {
    const { value } = await signIn(A, APP_A, ANN);
    const p = redirectParams(await get(authorizeUrl(A, APP_A, { prompt: 'none' }), value));
    assert.equal(p.get('state'), 'st-1');
    const code = p.get('code');
    assert.ok(code, 'a code without any page');
    const token = await postForm(
      `${k.endpoints.authority}/${A}/oauth2/v2.0/token`,
      {
        grant_type: 'authorization_code',
        client_id: APP_A,
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
        scope: 'openid User.Read',
      },
      k.endpoints.caFile,
    );
    assert.equal(token.status, 200, token.text);
    const idClaims = JSON.parse(Buffer.from(token.json().id_token.split('.')[1], 'base64url').toString());
    assert.equal(idClaims.preferred_username, ANN.username);
    const forced = await get(authorizeUrl(A, APP_A, { prompt: 'login' }), value);
    assert.equal(forced.status, 200);
    assert.match(forced.text, /name="password"/);
    // login_hint naming someone else is not this session.
    await promptNoneRefused(await get(authorizeUrl(A, APP_A, { prompt: 'none', login_hint: 'other@ssoa.onmicrosoft.com' }), value));
  });

  it('a forged or garbled cookie is no session', async () => {
    for (const forged of [randomBytes(32).toString('base64url'), 'x', "' OR 1=1 --", 'a'.repeat(4000)]) {
      await promptNoneRefused(await get(authorizeUrl(A, APP_A, { prompt: 'none' }), forged));
      const page = await get(authorizeUrl(A, APP_A), forged);
      assert.equal(page.status, 200);
      assert.match(page.text, /name="password"/);
    }
  });

  it("another tenant's session cookie does not sign in here", async () => {
    const { value } = await signIn(B, APP_B, BOB);
    await promptNoneRefused(await get(authorizeUrl(A, APP_A, { prompt: 'none' }), value));
    assert.equal(
      redirectParams(await get(authorizeUrl(B, APP_B, { prompt: 'none' }), value)).get('error'),
      null,
      'it works in its own tenant',
    );
  });

  it('logout ends the session: the cookie is cleared and the old value no longer signs in', async () => {
    const { value } = await signIn(A, APP_A, ANN);
    const out = await get(`${k.endpoints.authority}/${A}/oauth2/v2.0/logout`, value);
    assert.equal(out.status, 200);
    assert.match(setCookie(out), new RegExp(`^kentra_sso=;.*Path=/${A}/.*Max-Age=0`));
    await promptNoneRefused(await get(authorizeUrl(A, APP_A, { prompt: 'none' }), value));
    const page = await get(authorizeUrl(A, APP_A), value);
    assert.match(page.text, /name="password"/);
  });
});
