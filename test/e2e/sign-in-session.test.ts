import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CHROMIUM_SKIP, launchChromium } from '../support/chromium.js';
import { postForm } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// The sign-in session (SSO) in the real Chromium (Debian's, through playwright-core): the first
// authorization asks for the password; the next one in the same browser does not; prompt=none answers
// with a code and no page; prompt=login asks again; after logout prompt=none answers login_required.

const TENANT = '55555555-0000-4000-8000-000000000001';
const APP = '55555555-0000-4000-8000-0000000000a1';
const DANA = { username: 'dana@ssoe2e.onmicrosoft.com', password: 'Dana-Passw0rd!' };
// The client's redirect URI: a loopback server of the test, answering in place of the client.
let REDIRECT = '';

const seed = () => `
tenants:
  - id: ${TENANT}
    domain: ssoe2e.onmicrosoft.com
    users:
      - { userPrincipalName: ${DANA.username}, password: '${DANA.password}', displayName: Dana }
    applications:
      - displayName: sso-spa-like
        appId: ${APP}
        isFallbackPublicClient: true
        publicClient: { redirectUris: ['${REDIRECT}'] }
        graphPermissions: { delegated: [User.Read] }
        adminConsent: true
`;

describe('sign-in session in Chromium', { timeout: 120_000, skip: CHROMIUM_SKIP }, () => {
  let k: TestKentra;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let client: Server;
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  // Kentra listens on 127.0.0.1; Chromium may try ::1 first for `localhost`.
  const origin = () => k.endpoints.authority.replace('//localhost:', '//127.0.0.1:');
  const authorize = (extra: Record<string, string> = {}) =>
    `${origin()}/${TENANT}/oauth2/v2.0/authorize?${new URLSearchParams({
      client_id: APP,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid User.Read',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'chromium',
      ...extra,
    })}`;
  /** Opens the URL and returns where the browser ends: the redirect URI's parameters, or null when Kentra shows a page. */
  const open = async (url: string): Promise<URLSearchParams | null> => {
    await page.goto(url);
    const now = new URL(page.url());
    return now.origin === new URL(REDIRECT).origin ? now.searchParams : null;
  };
  const redeem = async (code: string) =>
    postForm(
      `${k.endpoints.authority}/${TENANT}/oauth2/v2.0/token`,
      {
        grant_type: 'authorization_code',
        client_id: APP,
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
        scope: 'openid User.Read',
      },
      k.endpoints.caFile,
    );

  before(async () => {
    client = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('the client got the answer'));
    await new Promise<void>((r) => client.listen(0, '127.0.0.1', () => r()));
    REDIRECT = `http://127.0.0.1:${(client.address() as AddressInfo).port}/callback`;
    k = await startTestKentra({ seed: seed() });
    browser = await launchChromium(k.endpoints.authority);
    context = await browser.newContext();
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
    await k?.close();
    client?.close();
  });

  it('asks for the password once, then signs in from the session, with prompt=none too', async () => {
    assert.equal(await open(authorize({ prompt: 'none' })).then((p) => p?.get('error')), 'login_required', 'no session yet');

    assert.equal(await open(authorize()), null, 'the sign-in page');
    await page.fill('input[name="username"]', DANA.username);
    await page.fill('input[name="password"]', DANA.password);
    await Promise.all([
      page.waitForURL((u) => u.origin === new URL(REDIRECT).origin),
      page.click('button[type="submit"], input[type="submit"]'),
    ]);
    const first = new URL(page.url()).searchParams;
    assert.ok(first.get('code'), `a code after the password: ${page.url()}`);

    const cookies = await context.cookies(`${origin()}/${TENANT}/`);
    const sso = cookies.find((c) => c.name === 'kentra_sso');
    assert.ok(sso, 'the browser holds the session cookie');
    assert.equal(sso.httpOnly, true);
    assert.equal(sso.secure, true);
    assert.equal(sso.sameSite, 'None');
    assert.equal(sso.path, `/${TENANT}/`);

    const again = await open(authorize());
    assert.ok(again?.get('code'), 'the second authorization skips the password');
    const silent = await open(authorize({ prompt: 'none' }));
    assert.equal(silent?.get('error'), null);
    assert.equal(silent?.get('state'), 'chromium');
    const token = await redeem(silent!.get('code')!);
    assert.equal(token.status, 200, token.text);
    assert.equal(JSON.parse(Buffer.from(token.json().id_token.split('.')[1], 'base64url').toString()).preferred_username, DANA.username);
  });

  it('prompt=login asks for the password again; logout ends the session', async () => {
    assert.equal(await open(authorize({ prompt: 'login' })), null);
    assert.equal(await page.locator('input[name="password"]').count(), 1);

    await page.goto(`${origin()}/${TENANT}/oauth2/v2.0/logout`);
    assert.equal(
      (await context.cookies(`${origin()}/${TENANT}/`)).find((c) => c.name === 'kentra_sso'),
      undefined,
      'the cookie is gone',
    );
    assert.equal((await open(authorize({ prompt: 'none' })))?.get('error'), 'login_required');
    assert.equal(await open(authorize()), null, 'the password page again');
  });
});
